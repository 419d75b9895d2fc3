package policy

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/portcullis/portcullis/shared/model"
)

func expect(t *testing.T, err error, want ...string) {
	t.Helper()
	var got []string
	if err != nil {
		var ve model.ValidationError
		if !errors.As(err, &ve) {
			t.Fatalf("error %v (%T) is not a model.ValidationError", err, err)
		}
		for _, fe := range ve {
			got = append(got, fe.Field)
			if fe.Message == "" {
				t.Errorf("empty message on %q", fe.Field)
			}
		}
	}
	if len(want) == 0 {
		if err != nil {
			t.Fatalf("want valid, got %v", err)
		}
		return
	}
	set := map[string]bool{}
	for _, f := range got {
		set[f] = true
	}
	for _, w := range want {
		if !set[w] {
			t.Errorf("want a problem on %q, got %v", w, err)
		}
		delete(set, w)
	}
	for f := range set {
		t.Errorf("unexpected problem on %q: %v", f, err)
	}
}

func cond(attr, op string, v any) Condition {
	return Condition{Attribute: attr, Operator: op, Value: v}
}

func withConditions(cs ...Condition) Policy {
	return Policy{Name: "p", Tools: []string{"orders.*"}, Effect: Deny, Priority: 10,
		Match: &Group{Op: GroupAnd, Conditions: cs}}
}

const (
	fv = "match.conditions[0].value"
	fo = "match.conditions[0].operator"
	fa = "match.conditions[0].attribute"
	ft = "match.conditions[0].time_zone"
)

// TestOperators has positive and negative cases for every operator, including
// type mismatches and operators that make no sense for an attribute.
func TestOperators(t *testing.T) {
	tz := func(c Condition, zone string) Condition { c.TimeZone = zone; return c }
	cases := []struct {
		name string
		c    Condition
		want []string
	}{
		// equal / not_equal
		{"equal string", cond("args.status", OpEqual, "open"), nil},
		{"equal number", cond("args.count", OpEqual, 3.0), nil},
		{"equal bool", cond("args.flag", OpEqual, true), nil},
		{"equal json.Number", cond("args.count", OpEqual, json.Number("3")), nil},
		{"equal null", cond("args.status", OpEqual, nil), []string{fv}},
		{"equal array", cond("args.status", OpEqual, []any{"a"}), []string{fv}},
		{"equal object", cond("args.status", OpEqual, map[string]any{}), []string{fv}},
		{"equal email", cond("user.email", OpEqual, "a@b.example"), nil},
		{"equal email number", cond("user.email", OpEqual, 3.0), []string{fv}},
		{"not_equal tenant", cond("user.tenant", OpNotEqual, "acme"), nil},
		{"not_equal tenant bool", cond("user.tenant", OpNotEqual, false), []string{fv}},
		{"equal ip", cond("request.ip", OpEqual, "192.0.2.7"), nil},
		{"equal ip v6", cond("request.ip", OpEqual, "2001:db8::7"), nil},
		{"equal ip bad", cond("request.ip", OpEqual, "192.0.2"), []string{fv}},
		{"equal weekday", cond("request.weekday", OpEqual, "mon"), nil},
		{"equal weekday bad", cond("request.weekday", OpEqual, "Monday"), []string{fv}},
		{"equal roles", cond("user.roles", OpEqual, "admin"), []string{fo}},
		{"equal string too long", cond("args.s", OpEqual, strings.Repeat("x", MaxValueLen+1)), []string{fv}},
		// in_list
		{"in_list strings", cond("request.country", OpInList, []any{"FR", "DE"}), nil},
		{"in_list go strings", cond("request.country", OpInList, []string{"FR"}), nil},
		{"in_list mixed scalars on args", cond("args.x", OpInList, []any{"a", 1.0, true}), nil},
		{"in_list number on string attr", cond("request.country", OpInList, []any{"FR", 1.0}), []string{fv}},
		{"in_list empty", cond("args.x", OpInList, []any{}), []string{fv}},
		{"in_list not array", cond("args.x", OpInList, "FR"), []string{fv}},
		{"in_list nested array", cond("args.x", OpInList, []any{[]any{"a"}}), []string{fv}},
		{"in_list null", cond("args.x", OpInList, []any{nil}), []string{fv}},
		{"in_list 1000", cond("args.x", OpInList, make([]int, 1000)), nil},
		{"in_list 1001", cond("args.x", OpInList, make([]int, 1001)), []string{fv}},
		{"in_list roles", cond("user.roles", OpInList, []any{"admin", "ops"}), nil},
		{"in_list weekdays", cond("request.weekday", OpInList, []any{"sat", "sun"}), nil},
		{"in_list weekday bad", cond("request.weekday", OpInList, []any{"sat", "sunday"}), []string{fv}},
		{"in_list ips", cond("request.ip", OpInList, []any{"10.0.0.1", "::1"}), nil},
		{"in_list ip bad", cond("request.ip", OpInList, []any{"10.0.0.0/8"}), []string{fv}},
		// contains / starts_with / ends_with
		{"contains", cond("args.note", OpContains, "refund"), nil},
		{"contains roles", cond("user.roles", OpContains, "admin"), nil},
		{"contains number", cond("args.note", OpContains, 1.0), []string{fv}},
		{"contains empty", cond("args.note", OpContains, ""), []string{fv}},
		{"starts_with", cond("request.user_agent", OpStartsWith, "Claude"), nil},
		{"starts_with bool", cond("request.user_agent", OpStartsWith, true), []string{fv}},
		{"ends_with", cond("user.email", OpEndsWith, "@example.com"), nil},
		{"ends_with list", cond("user.email", OpEndsWith, []any{"@a"}), []string{fv}},
		{"starts_with on roles", cond("user.roles", OpStartsWith, "adm"), []string{fo}},
		{"contains on ip", cond("request.ip", OpContains, "10."), []string{fo}},
		// matches
		{"matches", cond("args.sku", OpMatches, `^[A-Z]{3}-\d+$`), nil},
		{"matches bad", cond("args.sku", OpMatches, `^[A-Z`), []string{fv}},
		{"matches backref", cond("args.sku", OpMatches, `(a)\1`), []string{fv}},
		{"matches too long", cond("args.sku", OpMatches, strings.Repeat("a", 1001)), []string{fv}},
		{"matches number", cond("args.sku", OpMatches, 1.0), []string{fv}},
		{"matches empty", cond("args.sku", OpMatches, ""), []string{fv}},
		{"matches on time", cond("request.time", OpMatches, "x"), []string{fo}},
		// gt / gte / lt / lte
		{"gt", cond("args.amount", OpGT, 1000.0), nil},
		{"gte int", cond("args.amount", OpGTE, 0), nil},
		{"lt negative", cond("args.amount", OpLT, -5.5), nil},
		{"lte claim", cond("user.claims.level", OpLTE, 3.0), nil},
		{"gt string", cond("args.amount", OpGT, "1000"), []string{fv}},
		{"gte bool", cond("args.amount", OpGTE, true), []string{fv}},
		{"lt null", cond("args.amount", OpLT, nil), []string{fv}},
		{"lte array", cond("args.amount", OpLTE, []any{1.0}), []string{fv}},
		{"gt on email", cond("user.email", OpGT, 1.0), []string{fo}},
		{"gt on roles", cond("user.roles", OpGT, 1.0), []string{fo}},
		// between
		{"between numbers", cond("args.amount", OpBetween, []any{10.0, 20.0}), nil},
		{"between equal numbers", cond("args.amount", OpBetween, []any{10.0, 10.0}), nil},
		{"between reversed", cond("args.amount", OpBetween, []any{20.0, 10.0}), []string{fv}},
		{"between one", cond("args.amount", OpBetween, []any{10.0}), []string{fv}},
		{"between three", cond("args.amount", OpBetween, []any{1.0, 2.0, 3.0}), []string{fv}},
		{"between mixed", cond("args.amount", OpBetween, []any{1.0, "2"}), []string{fv}},
		{"between scalar", cond("args.amount", OpBetween, 1.0), []string{fv}},
		{"between timestamps on args", cond("args.date", OpBetween, []any{"2026-01-01T00:00:00Z", "2026-02-01T00:00:00+01:00"}), nil},
		{"between timestamps reversed", cond("args.date", OpBetween, []any{"2026-02-01T00:00:00Z", "2026-01-01T00:00:00Z"}), []string{fv}},
		{"between times on args", cond("args.date", OpBetween, []any{"09:00", "17:00"}), []string{fv}},
		{"between times of day", tz(cond("request.time", OpBetween, []any{"09:00", "17:30"}), "Europe/Paris"), nil},
		{"between night wraps", tz(cond("request.time", OpBetween, []any{"22:00", "06:00"}), "America/New_York"), nil},
		{"between same time", tz(cond("request.time", OpBetween, []any{"09:00", "09:00"}), "UTC"), []string{fv}},
		{"between times no zone", cond("request.time", OpBetween, []any{"09:00", "17:00"}), []string{ft}},
		{"between bad time", tz(cond("request.time", OpBetween, []any{"9:00", "17:00"}), "UTC"), []string{fv}},
		{"between 24:00", tz(cond("request.time", OpBetween, []any{"09:00", "24:00"}), "UTC"), []string{fv}},
		{"between time and timestamp", tz(cond("request.time", OpBetween, []any{"09:00", "2026-01-01T00:00:00Z"}), "UTC"), []string{fv}},
		{"between timestamps on request.time", cond("request.time", OpBetween, []any{"2026-01-01T00:00:00Z", "2026-01-02T00:00:00Z"}), nil},
		{"between numbers on request.time", cond("request.time", OpBetween, []any{1.0, 2.0}), []string{fv}},
		{"between on country", cond("request.country", OpBetween, []any{"A", "B"}), []string{fo}},
		// is
		{"is true", cond("args.dry_run", OpIs, true), nil},
		{"is false claim", cond("user.claims.email_verified", OpIs, false), nil},
		{"is string", cond("args.dry_run", OpIs, "true"), []string{fv}},
		{"is number", cond("args.dry_run", OpIs, 1.0), []string{fv}},
		{"is on email", cond("user.email", OpIs, true), []string{fo}},
		// before / after
		{"before timestamp", cond("request.time", OpBefore, "2027-01-01T00:00:00Z"), nil},
		{"after timestamp args", cond("args.due", OpAfter, "2026-06-01T12:00:00.5+02:00"), nil},
		{"after time of day", tz(cond("request.time", OpAfter, "18:00"), "Asia/Tokyo"), nil},
		{"before time of day no zone", cond("request.time", OpBefore, "08:00"), []string{ft}},
		{"before date only", cond("args.due", OpBefore, "2026-06-01"), []string{fv}},
		{"before time of day on args", cond("args.due", OpBefore, "08:00"), []string{fv}},
		{"after number", cond("request.time", OpAfter, 1.0), []string{fv}},
		{"after garbage", cond("request.time", OpAfter, "tomorrow"), []string{fv}},
		{"before on weekday", cond("request.weekday", OpBefore, "fri"), []string{fo}},
		{"after on email", cond("user.email", OpAfter, "2026-06-01T12:00:00Z"), []string{fo}},
		// cidr
		{"cidr", cond("request.ip", OpCIDR, "10.0.0.0/8"), nil},
		{"cidr list", cond("request.ip", OpCIDR, []any{"10.0.0.0/8", "2001:db8::/32"}), nil},
		{"cidr single host", cond("request.ip", OpCIDR, "192.0.2.7/32"), nil},
		{"cidr on args", cond("args.ip", OpCIDR, "192.168.0.0/16"), nil},
		{"cidr host bits", cond("request.ip", OpCIDR, "10.1.2.3/8"), []string{fv}},
		{"cidr no prefix", cond("request.ip", OpCIDR, "10.0.0.1"), []string{fv}},
		{"cidr bad", cond("request.ip", OpCIDR, "10.0.0.0/33"), []string{fv}},
		{"cidr empty list", cond("request.ip", OpCIDR, []any{}), []string{fv}},
		{"cidr list bad element", cond("request.ip", OpCIDR, []any{"10.0.0.0/8", 5.0}), []string{fv}},
		{"cidr number", cond("request.ip", OpCIDR, 10.0), []string{fv}},
		{"cidr on email", cond("user.email", OpCIDR, "10.0.0.0/8"), []string{fo}},
		{"cidr on time", cond("request.time", OpCIDR, "10.0.0.0/8"), []string{fo}},
		// operators and attributes themselves
		{"unknown operator", cond("args.x", "eq", "a"), []string{fo}},
		{"empty operator", cond("args.x", "", "a"), []string{fo}},
		{"operator case", cond("args.x", "EQUAL", "a"), []string{fo}},
		{"unknown attribute", cond("user.name", OpEqual, "a"), []string{fa}},
		{"empty attribute", cond("", OpEqual, "a"), []string{fa}},
		{"bare args", cond("args.", OpEqual, "a"), []string{fa}},
		{"args no dot", cond("args", OpEqual, "a"), []string{fa}},
		{"args nested path", cond("args.order.lines[0].sku", OpEqual, "a"), nil},
		{"args wildcard", cond("args.lines[*].sku", OpEqual, "a"), []string{fa}},
		{"args member wildcard", cond("args.lines.*", OpEqual, "a"), []string{fa}},
		{"args bad path", cond("args.a..b", OpEqual, "a"), []string{fa}},
		{"args injection", cond(`args.a"]; allow := true #`, OpEqual, "a"), []string{fa}},
		{"claim", cond("user.claims.https://example.com/plan", OpEqual, "pro"), nil},
		{"claim empty", cond("user.claims.", OpEqual, "pro"), []string{fa}},
		{"claim bad chars", cond(`user.claims.a"b`, OpEqual, "pro"), []string{fa}},
		{"unknown attr and op", cond("user.name", "eq", "a"), []string{fa, fo}},
		// time zones
		{"weekday zone", tz(cond("request.weekday", OpInList, []any{"mon"}), "Europe/Berlin"), nil},
		{"weekday no zone", cond("request.weekday", OpInList, []any{"mon"}), nil},
		{"unknown zone", tz(cond("request.time", OpAfter, "18:00"), "Mars/Olympus"), []string{ft}},
		{"local zone", tz(cond("request.time", OpAfter, "18:00"), "Local"), []string{ft}},
		{"path zone", tz(cond("request.time", OpAfter, "18:00"), "../../../etc/passwd"), []string{ft}},
		{"zone on args", tz(cond("args.x", OpEqual, "a"), "UTC"), []string{ft}},
		{"zone with timestamp", tz(cond("request.time", OpAfter, "2026-01-01T00:00:00Z"), "UTC"), []string{ft}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) { expect(t, withConditions(c.c).Validate(Global), c.want...) })
	}
}

// TestEveryOperatorCovered makes sure the table above keeps up with the
// operator list: each operator needs a passing and a failing case.
func TestEveryOperatorCovered(t *testing.T) {
	if len(allOperators) != 16 {
		t.Fatalf("operator list changed (%d): update the tests and the compiler", len(allOperators))
	}
}

func validPolicy() Policy {
	return Policy{
		Name: "large refunds", Tools: []string{"refunds.create"}, Effect: ApprovalRequired, Priority: 100, Enabled: true,
		Match: &Group{Op: GroupAnd,
			Conditions: []Condition{cond("args.amount", OpGT, 1000.0)},
			Groups: []Group{{Op: GroupOr, Conditions: []Condition{
				cond("user.roles", OpContains, "intern"),
				cond("request.country", OpInList, []any{"KP", "IR"}),
			}}},
		},
		Approval: &Approval{ApproverRoles: []string{"finance"}, ApproverEmails: []string{"cfo@example.com"},
			MinApprovals: 2, ExpirySec: 3600, WebhookURL: "https://hooks.example.com/approvals"},
	}
}

func TestPolicyValidate(t *testing.T) {
	mut := func(f func(*Policy)) Policy {
		p := validPolicy()
		a := *p.Approval
		p.Approval = &a
		f(&p)
		return p
	}
	tenCond := make([]Condition, 10)
	for i := range tenCond {
		tenCond[i] = cond("args.a", OpEqual, "x")
	}
	stepUp := func(p *Policy) {
		p.Effect = StepUp
		p.Approval = nil
		p.StepUp = &StepUpRule{ACRValues: []string{"urn:mfa"}}
	}
	cases := []struct {
		name  string
		scope ScopeKind
		in    Policy
		want  []string
	}{
		{"valid", Global, validPolicy(), nil},
		{"valid tenant", Tenant, validPolicy(), nil},
		{"no name", Global, mut(func(p *Policy) { p.Name = "" }), []string{"name"}},
		{"long description", Global, mut(func(p *Policy) { p.Description = strings.Repeat("d", 2001) }), []string{"description"}},
		{"no tools", Global, mut(func(p *Policy) { p.Tools = nil }), []string{"tools"}},
		{"all tools", Global, mut(func(p *Policy) { p.Tools = []string{"*"} }), nil},
		{"bad tool pattern", Global, mut(func(p *Policy) { p.Tools = []string{"a b"} }), []string{"tools[0]"}},
		{"too many tools", Global, mut(func(p *Policy) { p.Tools = make([]string, 101) }), []string{"tools"}},
		{"priority 0", Global, mut(func(p *Policy) { p.Priority = 0 }), nil},
		{"priority 10000", Global, mut(func(p *Policy) { p.Priority = 10000 }), nil},
		{"priority negative", Global, mut(func(p *Policy) { p.Priority = -1 }), []string{"priority"}},
		{"priority high", Global, mut(func(p *Policy) { p.Priority = 10001 }), []string{"priority"}},
		{"unknown effect", Global, mut(func(p *Policy) { p.Effect = "block"; p.Approval = nil }), []string{"effect"}},
		{"empty effect", Global, mut(func(p *Policy) { p.Effect = ""; p.Approval = nil }), []string{"effect"}},
		{"unknown scope", ScopeKind(7), validPolicy(), []string{""}},
		// match tree
		{"no match", Global, mut(func(p *Policy) { p.Match = nil }), []string{"match"}},
		{"bad op", Global, mut(func(p *Policy) { p.Match.Op = "xor" }), []string{"match.op"}},
		{"bad nested op", Global, mut(func(p *Policy) { p.Match.Groups[0].Op = "AND" }), []string{"match.groups[0].op"}},
		{"empty group", Global, mut(func(p *Policy) { p.Match = &Group{Op: GroupAnd} }), []string{"match"}},
		{"empty nested group", Global, mut(func(p *Policy) { p.Match.Groups = append(p.Match.Groups, Group{Op: GroupOr}) }), []string{"match.groups[1]"}},
		{"two levels", Global, mut(func(p *Policy) {
			p.Match.Groups[0].Groups = []Group{{Op: GroupAnd, Conditions: []Condition{cond("args.a", OpEqual, "x")}}}
		}), []string{"match.groups[0].groups"}},
		{"ten conditions", Global, mut(func(p *Policy) { p.Match = &Group{Op: GroupOr, Conditions: tenCond} }), nil},
		{"eleven conditions", Global, mut(func(p *Policy) {
			p.Match = &Group{Op: GroupOr, Conditions: tenCond, Groups: []Group{{Op: GroupAnd, Conditions: tenCond[:1]}}}
		}), []string{"match"}},
		{"nested condition error path", Global, mut(func(p *Policy) { p.Match.Groups[0].Conditions[1].Value = 3.0 }),
			[]string{"match.groups[0].conditions[1].value"}},
		// effects and their settings
		{"step_up acr", Global, mut(stepUp), nil},
		{"step_up max_age", Global, mut(func(p *Policy) { stepUp(p); p.StepUp = &StepUpRule{MaxAgeSec: 300} }), nil},
		{"step_up max_age 86400", Global, mut(func(p *Policy) { stepUp(p); p.StepUp.MaxAgeSec = 86400 }), nil},
		{"step_up max_age too high", Global, mut(func(p *Policy) { stepUp(p); p.StepUp.MaxAgeSec = 86401 }), []string{"step_up.max_age"}},
		{"step_up max_age negative", Global, mut(func(p *Policy) { stepUp(p); p.StepUp.MaxAgeSec = -1 }), []string{"step_up.max_age"}},
		{"step_up missing", Global, mut(func(p *Policy) { stepUp(p); p.StepUp = nil }), []string{"step_up"}},
		{"step_up empty", Global, mut(func(p *Policy) { stepUp(p); p.StepUp = &StepUpRule{} }), []string{"step_up"}},
		{"step_up acr injection", Global, mut(func(p *Policy) { stepUp(p); p.StepUp.ACRValues = []string{`mfa", error="x`} }), []string{"step_up.acr_values[0]"}},
		{"step_up acr space", Global, mut(func(p *Policy) { stepUp(p); p.StepUp.ACRValues = []string{"a b"} }), []string{"step_up.acr_values[0]"}},
		{"step_up on deny", Global, mut(func(p *Policy) {
			p.Effect = Deny
			p.Approval = nil
			p.StepUp = &StepUpRule{MaxAgeSec: 1}
		}), []string{"step_up"}},
		{"approval missing", Global, mut(func(p *Policy) { p.Approval = nil }), []string{"approval"}},
		{"approval on deny", Global, mut(func(p *Policy) { p.Effect = Deny }), []string{"approval"}},
		{"approval min 0", Global, mut(func(p *Policy) { p.Approval.MinApprovals = 0 }), []string{"approval.min_approvals"}},
		{"approval min 11", Global, mut(func(p *Policy) { p.Approval.MinApprovals = 11 }), []string{"approval.min_approvals"}},
		{"approval expiry 299", Global, mut(func(p *Policy) { p.Approval.ExpirySec = 299 }), []string{"approval.expiry_sec"}},
		{"approval expiry 300", Global, mut(func(p *Policy) { p.Approval.ExpirySec = 300 }), nil},
		{"approval expiry 7d", Global, mut(func(p *Policy) { p.Approval.ExpirySec = 604800 }), nil},
		{"approval expiry 7d+1", Global, mut(func(p *Policy) { p.Approval.ExpirySec = 604801 }), []string{"approval.expiry_sec"}},
		{"approval no approvers", Global, mut(func(p *Policy) { p.Approval.ApproverRoles = nil; p.Approval.ApproverEmails = nil }), []string{"approval.approver_roles"}},
		{"approval bad email", Global, mut(func(p *Policy) { p.Approval.ApproverEmails = []string{"CFO <cfo@example.com>"} }), []string{"approval.approver_emails[0]"}},
		{"approval duplicate email", Global, mut(func(p *Policy) {
			p.Approval.ApproverEmails = []string{"a@example.com", "A@example.com"}
		}), []string{"approval.approver_emails[1]"}},
		{"approval unsatisfiable", Global, mut(func(p *Policy) {
			p.Approval.ApproverRoles = nil
			p.Approval.ApproverEmails = []string{"a@example.com"}
		}), []string{"approval.min_approvals"}},
		{"approval empty role", Global, mut(func(p *Policy) { p.Approval.ApproverRoles = []string{""} }), []string{"approval.approver_roles[0]"}},
		{"approval http webhook", Global, mut(func(p *Policy) { p.Approval.WebhookURL = "http://hooks.example.com/" }), []string{"approval.webhook_url"}},
		{"approval loopback webhook", Global, mut(func(p *Policy) { p.Approval.WebhookURL = "http://127.0.0.1:9999/" }), nil},
		{"approval bad webhook", Global, mut(func(p *Policy) { p.Approval.WebhookURL = "hooks" }), []string{"approval.webhook_url"}},
		{"mask", Global, mut(func(p *Policy) { p.Effect = Mask; p.Approval = nil; p.Masking = []string{"pii", "cards"} }), nil},
		{"mask no names", Global, mut(func(p *Policy) { p.Effect = Mask; p.Approval = nil }), []string{"masking"}},
		{"mask duplicate", Global, mut(func(p *Policy) { p.Effect = Mask; p.Approval = nil; p.Masking = []string{"pii", "pii"} }), []string{"masking[1]"}},
		{"mask bad name", Global, mut(func(p *Policy) { p.Effect = Mask; p.Approval = nil; p.Masking = []string{""} }), []string{"masking[0]"}},
		{"masking on deny", Global, mut(func(p *Policy) { p.Effect = Deny; p.Approval = nil; p.Masking = []string{"pii"} }), []string{"masking"}},
		// tenant delegation: only restrictions
		{"tenant allow", Tenant, mut(func(p *Policy) { p.Effect = Allow; p.Approval = nil }), []string{"effect"}},
		{"global allow", Global, mut(func(p *Policy) { p.Effect = Allow; p.Approval = nil }), nil},
		{"tenant deny", Tenant, mut(func(p *Policy) { p.Effect = Deny; p.Approval = nil }), nil},
		{"tenant step_up", Tenant, mut(stepUp), nil},
		{"tenant mask", Tenant, mut(func(p *Policy) { p.Effect = Mask; p.Approval = nil; p.Masking = []string{"pii"} }), nil},
		{"tenant rego", Tenant, mut(func(p *Policy) { p.Match = nil; p.Rego = goodRego }), []string{"rego"}},
		// rego
		{"rego", Global, mut(func(p *Policy) { p.Match = nil; p.Rego = goodRego }), nil},
		{"rego and match", Global, mut(func(p *Policy) { p.Rego = goodRego }), []string{"match"}},
		{"rego bad", Global, mut(func(p *Policy) { p.Match = nil; p.Rego = "package portcullis.custom\ndecision := " }), []string{"rego"}},
		{"everything wrong", Tenant, Policy{Priority: -1, Effect: Allow, Rego: "x", StepUp: &StepUpRule{}},
			[]string{"name", "tools", "priority", "effect", "rego", "step_up"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) { expect(t, c.in.Validate(c.scope), c.want...) })
	}
}

func TestTenantAllowMessage(t *testing.T) {
	p := validPolicy()
	p.Effect, p.Approval = Allow, nil
	err := p.Validate(Tenant)
	if err == nil || !strings.Contains(err.Error(), "tenant policies can only add restrictions") {
		t.Fatalf("got %v", err)
	}
}

// TestPolicyFromJSON validates policies the way the API receives them:
// decoded from JSON, so numbers are float64 and lists are []any.
func TestPolicyFromJSON(t *testing.T) {
	cases := []struct {
		doc  string
		want []string
	}{
		{`{"name":"n","tools":["*"],"effect":"deny","priority":1,"match":{"op":"or","conditions":[
			{"attribute":"args.amount","operator":"between","value":[1,2]},
			{"attribute":"request.ip","operator":"cidr","value":["10.0.0.0/8"]},
			{"attribute":"request.time","operator":"between","value":["22:00","06:00"],"time_zone":"Europe/Paris"},
			{"attribute":"request.weekday","operator":"in_list","value":["sat","sun"]}]}}`, nil},
		{`{"name":"n","tools":["*"],"effect":"deny","match":{"op":"and","conditions":[
			{"attribute":"args.amount","operator":"gt","value":"12"}]}}`, []string{fv}},
	}
	for i, c := range cases {
		var p Policy
		if err := json.Unmarshal([]byte(c.doc), &p); err != nil {
			t.Fatalf("case %d: %v", i, err)
		}
		expect(t, p.Validate(Global), c.want...)
	}
}
