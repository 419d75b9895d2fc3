package policy

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/open-policy-agent/opa/v1/rego"
)

// outcome is what a condition evaluates to for one input, as seen through
// the compiled Rego: true, false, or unknown (missing attribute, type
// mismatch, unparsable value). Unknown fires a restrictive policy and never
// fires an allow policy.
type outcome int

const (
	isFalse outcome = iota
	isTrue
	isUnknown
)

func (o outcome) String() string { return [...]string{"false", "true", "unknown"}[o] }

// now is a Friday: 16:32:20 UTC = 17:32 in Paris, 11:32 in New York, and
// 01:32 on Saturday in Tokyo.
var now = time.Date(2026, 12, 4, 16, 32, 20, 0, time.UTC)

func baseInput() Input {
	return Input{Tool: "t", Request: RequestAttrs{Time: now}}
}

func withArgs(args map[string]any) Input { in := baseInput(); in.Args = args; return in }

func withUser(u UserAttrs) Input { in := baseInput(); in.User = u; return in }

func withRequest(r RequestAttrs) Input { in := baseInput(); in.Request = r; return in }

func tzc(c Condition, zone string) Condition { c.TimeZone = zone; return c }

// policyWith builds an enabled policy on tool "t" with effect e and its
// required settings.
func policyWith(name string, e Effect, prio int, g *Group) Policy {
	p := Policy{Name: name, Tools: []string{"t"}, Effect: e, Priority: prio, Enabled: true, Match: g}
	switch e {
	case StepUp:
		p.StepUp = &StepUpRule{ACRValues: []string{"mfa"}, MaxAgeSec: 300}
	case ApprovalRequired:
		p.Approval = &Approval{ApproverRoles: []string{"approver"}, MinApprovals: 1, ExpirySec: 300}
	case Mask:
		p.Masking = []string{"mask-" + name}
	}
	return p
}

// observe compiles g into a deny policy and an allow policy and returns the
// outcome the real Rego gives for in.
func observe(t *testing.T, g *Group, in Input) outcome {
	t.Helper()
	fired := func(e Effect) bool {
		c, err := Compile(PolicySet{Global: []Ref{{ID: "1", Policy: policyWith("p", e, 1, g)}}})
		if err != nil {
			t.Fatalf("compile: %v", err)
		}
		d, err := c.Evaluate(context.Background(), in)
		if err != nil {
			t.Fatalf("evaluate: %v", err)
		}
		return len(d.Matched) == 1
	}
	deny, allow := fired(Deny), fired(Allow)
	switch {
	case deny && allow:
		return isTrue
	case !deny && !allow:
		return isFalse
	case deny && !allow:
		return isUnknown
	}
	t.Fatalf("an allow policy fired where the same deny policy did not")
	return isFalse
}

func and(cs ...Condition) *Group { return &Group{Op: GroupAnd, Conditions: cs} }

// TestOperatorsEvaluate runs every operator through the compiled Rego with
// positive and negative cases, type mismatches and missing attributes.
func TestOperatorsEvaluate(t *testing.T) {
	args := withArgs
	type tc struct {
		name string
		c    Condition
		in   Input
		want outcome
	}
	cases := []tc{
		// equal / not_equal on arguments: the constant's JSON type decides.
		{"equal string", cond("args.status", OpEqual, "open"), args(map[string]any{"status": "open"}), isTrue},
		{"equal string other", cond("args.status", OpEqual, "open"), args(map[string]any{"status": "closed"}), isFalse},
		{"equal string missing", cond("args.status", OpEqual, "open"), args(nil), isUnknown},
		{"equal string got number", cond("args.status", OpEqual, "open"), args(map[string]any{"status": 1.0}), isUnknown},
		{"equal string got null", cond("args.status", OpEqual, "open"), args(map[string]any{"status": nil}), isUnknown},
		{"equal number", cond("args.count", OpEqual, 3.0), args(map[string]any{"count": json.Number("3.0")}), isTrue},
		{"equal number int", cond("args.count", OpEqual, 3), args(map[string]any{"count": 3}), isTrue},
		{"equal number other", cond("args.count", OpEqual, 3.0), args(map[string]any{"count": 4.0}), isFalse},
		{"equal number got string", cond("args.count", OpEqual, 3.0), args(map[string]any{"count": "3"}), isUnknown},
		{"equal bool", cond("args.flag", OpEqual, true), args(map[string]any{"flag": true}), isTrue},
		{"equal bool other", cond("args.flag", OpEqual, true), args(map[string]any{"flag": false}), isFalse},
		{"equal nested path", cond("args.order.lines[1].sku", OpEqual, "B"), args(map[string]any{"order": map[string]any{"lines": []any{map[string]any{"sku": "A"}, map[string]any{"sku": "B"}}}}), isTrue},
		{"equal nested path short array", cond("args.order.lines[1].sku", OpEqual, "B"), args(map[string]any{"order": map[string]any{"lines": []any{map[string]any{"sku": "A"}}}}), isUnknown},
		{"equal nested path not an object", cond("args.order.lines[1].sku", OpEqual, "B"), args(map[string]any{"order": "x"}), isUnknown},
		{"equal member with dash and dollar", cond("args.a-b.$c", OpEqual, "x"), args(map[string]any{"a-b": map[string]any{"$c": "x"}}), isTrue},
		{"equal string with quotes", cond("args.s", OpEqual, `a"b\c`+"\n"), args(map[string]any{"s": `a"b\c` + "\n"}), isTrue},
		{"equal unicode", cond("args.s", OpEqual, "été ✓"), args(map[string]any{"s": "été ✓"}), isTrue},
		{"equal claim", cond("user.claims.https://example.com/plan", OpEqual, "pro"), withUser(UserAttrs{Claims: map[string]any{"https://example.com/plan": "pro"}}), isTrue},
		{"equal claim missing", cond("user.claims.plan", OpEqual, "pro"), withUser(UserAttrs{Claims: map[string]any{"other": "pro"}}), isUnknown},
		{"equal email normalised", cond("user.email", OpEqual, "Ann@Example.com"), withUser(UserAttrs{Email: "ANN@example.COM"}), isTrue},
		{"equal email other", cond("user.email", OpEqual, "ann@example.com"), withUser(UserAttrs{Email: "bob@example.com"}), isFalse},
		{"equal email missing", cond("user.email", OpEqual, "ann@example.com"), withUser(UserAttrs{}), isUnknown},
		{"equal tool", cond("request.tool", OpEqual, "t"), baseInput(), isTrue},
		{"equal country normalised", cond("request.country", OpEqual, "us"), withRequest(RequestAttrs{Country: "US", Time: now}), isTrue},
		{"not_equal tenant same", cond("user.tenant", OpNotEqual, "acme"), withUser(UserAttrs{Tenant: "acme"}), isFalse},
		{"not_equal tenant other", cond("user.tenant", OpNotEqual, "acme"), withUser(UserAttrs{Tenant: "globex"}), isTrue},
		{"not_equal tenant missing", cond("user.tenant", OpNotEqual, "acme"), withUser(UserAttrs{}), isUnknown},
		{"not_equal country missing", cond("request.country", OpNotEqual, "US"), baseInput(), isUnknown},
		{"not_equal args type mismatch", cond("args.n", OpNotEqual, 1.0), args(map[string]any{"n": "1"}), isUnknown},
		{"equal ip", cond("request.ip", OpEqual, "192.0.2.7"), withRequest(RequestAttrs{IP: "192.0.2.7", Time: now}), isTrue},
		{"equal ip mapped", cond("request.ip", OpEqual, "192.0.2.7"), withRequest(RequestAttrs{IP: "::ffff:192.0.2.7", Time: now}), isTrue},
		{"equal ip v6 spelling", cond("request.ip", OpEqual, "2001:db8::7"), withRequest(RequestAttrs{IP: "2001:DB8:0:0::7", Time: now}), isTrue},
		{"equal ip other", cond("request.ip", OpEqual, "192.0.2.7"), withRequest(RequestAttrs{IP: "192.0.2.8", Time: now}), isFalse},
		{"equal ip garbage", cond("request.ip", OpEqual, "192.0.2.7"), withRequest(RequestAttrs{IP: "192.0.2.7.evil", Time: now}), isUnknown},
		{"not_equal ip missing", cond("request.ip", OpNotEqual, "192.0.2.7"), baseInput(), isUnknown},
		{"equal weekday utc", cond("request.weekday", OpEqual, "fri"), baseInput(), isTrue},
		{"equal weekday utc other", cond("request.weekday", OpEqual, "sat"), baseInput(), isFalse},
		{"equal weekday tokyo", tzc(cond("request.weekday", OpEqual, "sat"), "Asia/Tokyo"), baseInput(), isTrue},
		{"not_equal weekday no time", cond("request.weekday", OpNotEqual, "sun"), withRequest(RequestAttrs{}), isUnknown},

		// in_list
		{"in_list country", cond("request.country", OpInList, []any{"FR", "DE"}), withRequest(RequestAttrs{Country: "fr", Time: now}), isTrue},
		{"in_list country other", cond("request.country", OpInList, []string{"FR", "DE"}), withRequest(RequestAttrs{Country: "US", Time: now}), isFalse},
		{"in_list country missing", cond("request.country", OpInList, []any{"FR"}), baseInput(), isUnknown},
		{"in_list mixed string", cond("args.x", OpInList, []any{"a", 1.0, true}), args(map[string]any{"x": "a"}), isTrue},
		{"in_list mixed number", cond("args.x", OpInList, []any{"a", 1.0, true}), args(map[string]any{"x": 1}), isTrue},
		{"in_list mixed bool", cond("args.x", OpInList, []any{"a", 1.0, true}), args(map[string]any{"x": true}), isTrue},
		{"in_list mixed other string", cond("args.x", OpInList, []any{"a", 1.0, true}), args(map[string]any{"x": "b"}), isFalse},
		{"in_list mixed other bool", cond("args.x", OpInList, []any{"a", 1.0, true}), args(map[string]any{"x": false}), isFalse},
		{"in_list mixed array value", cond("args.x", OpInList, []any{"a", 1.0, true}), args(map[string]any{"x": []any{"a"}}), isUnknown},
		{"in_list strings got number", cond("args.x", OpInList, []any{"1", "2"}), args(map[string]any{"x": 1.0}), isUnknown},
		{"in_list ints", cond("args.x", OpInList, []int{1, 2}), args(map[string]any{"x": 2.0}), isTrue},
		{"in_list roles any", cond("user.roles", OpInList, []any{"admin", "ops"}), withUser(UserAttrs{Roles: []string{"viewer", "ops"}}), isTrue},
		{"in_list roles none", cond("user.roles", OpInList, []any{"admin", "ops"}), withUser(UserAttrs{Roles: []string{"viewer"}}), isFalse},
		{"in_list roles empty", cond("user.roles", OpInList, []any{"admin"}), withUser(UserAttrs{Roles: []string{}}), isFalse},
		{"in_list roles missing", cond("user.roles", OpInList, []any{"admin"}), withUser(UserAttrs{}), isUnknown},
		{"in_list permissions", cond("user.permissions", OpInList, []any{"orders:write"}), withUser(UserAttrs{Permissions: []string{"orders:write"}}), isTrue},
		{"in_list weekdays", cond("request.weekday", OpInList, []any{"sat", "sun"}), baseInput(), isFalse},
		{"in_list weekdays tokyo", tzc(cond("request.weekday", OpInList, []any{"sat", "sun"}), "Asia/Tokyo"), baseInput(), isTrue},
		{"in_list ips", cond("request.ip", OpInList, []any{"10.0.0.1", "::1"}), withRequest(RequestAttrs{IP: "0:0::1", Time: now}), isTrue},
		{"in_list ips other", cond("request.ip", OpInList, []any{"10.0.0.1", "::1"}), withRequest(RequestAttrs{IP: "10.0.0.2", Time: now}), isFalse},

		// contains
		{"contains substring", cond("args.note", OpContains, "refund"), args(map[string]any{"note": "full refund please"}), isTrue},
		{"contains substring no", cond("args.note", OpContains, "refund"), args(map[string]any{"note": "thanks"}), isFalse},
		{"contains array", cond("args.tags", OpContains, "urgent"), args(map[string]any{"tags": []any{"x", "urgent"}}), isTrue},
		{"contains array no", cond("args.tags", OpContains, "urgent"), args(map[string]any{"tags": []any{"x", 1.0}}), isFalse},
		{"contains number", cond("args.note", OpContains, "1"), args(map[string]any{"note": 1.0}), isUnknown},
		{"contains object", cond("args.note", OpContains, "a"), args(map[string]any{"note": map[string]any{"a": "a"}}), isUnknown},
		{"contains missing", cond("args.note", OpContains, "refund"), args(nil), isUnknown},
		{"contains roles", cond("user.roles", OpContains, "admin"), withUser(UserAttrs{Roles: []string{"admin"}}), isTrue},
		{"contains roles no", cond("user.roles", OpContains, "admin"), withUser(UserAttrs{Roles: []string{"administrator"}}), isFalse},
		{"contains roles missing", cond("user.roles", OpContains, "admin"), withUser(UserAttrs{}), isUnknown},
		{"contains user agent", cond("request.user_agent", OpContains, "Claude"), withRequest(RequestAttrs{UserAgent: "x Claude y", Time: now}), isTrue},

		// starts_with / ends_with
		{"starts_with", cond("request.user_agent", OpStartsWith, "Claude"), withRequest(RequestAttrs{UserAgent: "Claude-User/1.0", Time: now}), isTrue},
		{"starts_with no", cond("request.user_agent", OpStartsWith, "Claude"), withRequest(RequestAttrs{UserAgent: "curl/8", Time: now}), isFalse},
		{"starts_with missing", cond("request.user_agent", OpStartsWith, "Claude"), baseInput(), isUnknown},
		{"starts_with number arg", cond("args.path", OpStartsWith, "/admin"), args(map[string]any{"path": 5.0}), isUnknown},
		{"ends_with email", cond("user.email", OpEndsWith, "@Example.com"), withUser(UserAttrs{Email: "x@example.com"}), isTrue},
		{"ends_with email no", cond("user.email", OpEndsWith, "@example.com"), withUser(UserAttrs{Email: "x@example.com.evil"}), isFalse},
		{"ends_with email missing", cond("user.email", OpEndsWith, "@example.com"), withUser(UserAttrs{}), isUnknown},
		{"ends_with array arg", cond("args.file", OpEndsWith, ".exe"), withArgs(map[string]any{"file": []any{"a.exe"}}), isUnknown},
		{"ends_with platform", cond("request.platform", OpEndsWith, "gpt"), withRequest(RequestAttrs{Platform: "chatgpt", Time: now}), isTrue},

		// matches (RE2)
		{"matches", cond("args.sku", OpMatches, `^[A-Z]{3}-\d+$`), args(map[string]any{"sku": "ABC-12"}), isTrue},
		{"matches no", cond("args.sku", OpMatches, `^[A-Z]{3}-\d+$`), args(map[string]any{"sku": "abc-12"}), isFalse},
		{"matches flags", cond("args.sku", OpMatches, `(?i)^abc`), args(map[string]any{"sku": "ABC-12"}), isTrue},
		{"matches number", cond("args.sku", OpMatches, `^\d+$`), args(map[string]any{"sku": 12.0}), isUnknown},
		{"matches missing", cond("args.sku", OpMatches, `.*`), args(nil), isUnknown},
		{"matches tenant", cond("user.tenant", OpMatches, `^test-`), withUser(UserAttrs{Tenant: "test-1"}), isTrue},
		{"matches email not normalised pattern", cond("user.email", OpMatches, `@EXAMPLE\.com$`), withUser(UserAttrs{Email: "a@EXAMPLE.com"}), isFalse},

		// gt / gte / lt / lte
		{"gt", cond("args.amount", OpGT, 1000.0), args(map[string]any{"amount": 1001.0}), isTrue},
		{"gt equal", cond("args.amount", OpGT, 1000.0), args(map[string]any{"amount": 1000.0}), isFalse},
		{"gt string number", cond("args.amount", OpGT, 1000.0), args(map[string]any{"amount": "5000"}), isUnknown},
		{"gt bool", cond("args.amount", OpGT, 1000.0), args(map[string]any{"amount": true}), isUnknown},
		{"gt missing", cond("args.amount", OpGT, 1000.0), args(nil), isUnknown},
		{"gt huge", cond("args.amount", OpGT, 1000.0), args(map[string]any{"amount": 1e300}), isTrue},
		{"gt json.Number", cond("args.amount", OpGT, json.Number("10.5")), args(map[string]any{"amount": json.Number("10.6")}), isTrue},
		{"gte", cond("args.amount", OpGTE, 1000), args(map[string]any{"amount": 1000.0}), isTrue},
		{"gte below", cond("args.amount", OpGTE, 1000), args(map[string]any{"amount": 999.5}), isFalse},
		{"gte missing", cond("args.amount", OpGTE, 1000), args(map[string]any{"other": 1000.0}), isUnknown},
		{"lt object", cond("args.amount", OpLT, 1000), args(map[string]any{"amount": map[string]any{}}), isUnknown},
		{"lt negative", cond("args.amount", OpLT, -5.5), args(map[string]any{"amount": -6.0}), isTrue},
		{"lt equal", cond("args.amount", OpLT, -5.5), args(map[string]any{"amount": -5.5}), isFalse},
		{"lte claim", cond("user.claims.level", OpLTE, 3.0), withUser(UserAttrs{Claims: map[string]any{"level": 3.0}}), isTrue},
		{"lte claim above", cond("user.claims.level", OpLTE, 3.0), withUser(UserAttrs{Claims: map[string]any{"level": 4.0}}), isFalse},
		{"lte claim string", cond("user.claims.level", OpLTE, 3.0), withUser(UserAttrs{Claims: map[string]any{"level": "1"}}), isUnknown},

		// between
		{"between low edge", cond("args.amount", OpBetween, []any{10.0, 20.0}), args(map[string]any{"amount": 10.0}), isTrue},
		{"between high edge", cond("args.amount", OpBetween, []any{10.0, 20.0}), args(map[string]any{"amount": 20.0}), isTrue},
		{"between above", cond("args.amount", OpBetween, []any{10.0, 20.0}), args(map[string]any{"amount": 20.5}), isFalse},
		{"between string", cond("args.amount", OpBetween, []any{10.0, 20.0}), args(map[string]any{"amount": "15"}), isUnknown},
		{"between timestamps", cond("args.date", OpBetween, []any{"2026-01-01T00:00:00Z", "2026-02-01T00:00:00+01:00"}), args(map[string]any{"date": "2026-01-15T10:00:00+05:00"}), isTrue},
		{"between timestamps edge offset", cond("args.date", OpBetween, []any{"2026-01-01T00:00:00Z", "2026-02-01T00:00:00+01:00"}), args(map[string]any{"date": "2026-01-31T23:00:00Z"}), isTrue},
		{"between timestamps after", cond("args.date", OpBetween, []any{"2026-01-01T00:00:00Z", "2026-02-01T00:00:00+01:00"}), args(map[string]any{"date": "2026-01-31T23:00:01Z"}), isFalse},
		{"between timestamps garbage", cond("args.date", OpBetween, []any{"2026-01-01T00:00:00Z", "2026-02-01T00:00:00Z"}), args(map[string]any{"date": "yesterday"}), isUnknown},
		{"between timestamps bad month", cond("args.date", OpBetween, []any{"2026-01-01T00:00:00Z", "2026-02-01T00:00:00Z"}), args(map[string]any{"date": "2026-13-01T00:00:00Z"}), isUnknown},
		{"between timestamps out of range", cond("args.date", OpBetween, []any{"2026-01-01T00:00:00Z", "9999-02-01T00:00:00Z"}), args(map[string]any{"date": "9000-01-01T00:00:00Z"}), isUnknown},
		{"between timestamps number", cond("args.date", OpBetween, []any{"2026-01-01T00:00:00Z", "2026-02-01T00:00:00Z"}), args(map[string]any{"date": 5.0}), isUnknown},
		{"between office hours paris", tzc(cond("request.time", OpBetween, []any{"09:00", "17:30"}), "Europe/Paris"), baseInput(), isFalse},
		{"between evening paris", tzc(cond("request.time", OpBetween, []any{"17:00", "18:00"}), "Europe/Paris"), baseInput(), isTrue},
		{"between end excluded", tzc(cond("request.time", OpBetween, []any{"09:00", "17:32"}), "Europe/Paris"), baseInput(), isFalse},
		{"between start included", tzc(cond("request.time", OpBetween, []any{"16:32", "17:00"}), "UTC"), baseInput(), isTrue},
		{"between night tokyo wraps", tzc(cond("request.time", OpBetween, []any{"22:00", "06:00"}), "Asia/Tokyo"), baseInput(), isTrue},
		{"between night new york", tzc(cond("request.time", OpBetween, []any{"22:00", "06:00"}), "America/New_York"), baseInput(), isFalse},
		{"between time unknown", tzc(cond("request.time", OpBetween, []any{"22:00", "06:00"}), "UTC"), withRequest(RequestAttrs{}), isUnknown},
		{"between instants", cond("request.time", OpBetween, []any{"2026-12-01T00:00:00Z", "2026-12-31T00:00:00Z"}), baseInput(), isTrue},
		{"between instants later", cond("request.time", OpBetween, []any{"2027-01-01T00:00:00Z", "2027-12-31T00:00:00Z"}), baseInput(), isFalse},

		// is
		{"is true", cond("args.dry_run", OpIs, true), args(map[string]any{"dry_run": true}), isTrue},
		{"is true got false", cond("args.dry_run", OpIs, true), args(map[string]any{"dry_run": false}), isFalse},
		{"is true got string", cond("args.dry_run", OpIs, true), args(map[string]any{"dry_run": "true"}), isUnknown},
		{"is true missing", cond("args.dry_run", OpIs, true), args(nil), isUnknown},
		{"is false claim", cond("user.claims.email_verified", OpIs, false), withUser(UserAttrs{Claims: map[string]any{"email_verified": false}}), isTrue},

		// before / after
		{"before instant", cond("request.time", OpBefore, "2027-01-01T00:00:00Z"), baseInput(), isTrue},
		{"after instant", cond("request.time", OpAfter, "2027-01-01T00:00:00Z"), baseInput(), isFalse},
		{"before exact instant", cond("request.time", OpBefore, "2026-12-04T17:32:20+01:00"), baseInput(), isFalse},
		{"after exact instant", cond("request.time", OpAfter, "2026-12-04T17:32:20+01:00"), baseInput(), isTrue},
		{"after far future", cond("request.time", OpAfter, "9999-12-31T23:59:59Z"), baseInput(), isFalse},
		{"before instant unknown time", cond("request.time", OpBefore, "2027-01-01T00:00:00Z"), withRequest(RequestAttrs{}), isUnknown},
		{"after time of day paris", tzc(cond("request.time", OpAfter, "17:00"), "Europe/Paris"), baseInput(), isTrue},
		{"before time of day paris", tzc(cond("request.time", OpBefore, "17:00"), "Europe/Paris"), baseInput(), isFalse},
		{"after time of day tokyo", tzc(cond("request.time", OpAfter, "18:00"), "Asia/Tokyo"), baseInput(), isFalse},
		{"before time of day tokyo", tzc(cond("request.time", OpBefore, "08:00"), "Asia/Tokyo"), baseInput(), isTrue},
		{"after args date", cond("args.due", OpAfter, "2026-06-01T12:00:00.5+02:00"), args(map[string]any{"due": "2026-07-01T00:00:00Z"}), isTrue},
		{"after args date earlier", cond("args.due", OpAfter, "2026-06-01T12:00:00.5+02:00"), args(map[string]any{"due": "2026-01-01T00:00:00Z"}), isFalse},
		{"after args date garbage", cond("args.due", OpAfter, "2026-06-01T12:00:00Z"), args(map[string]any{"due": "soon"}), isUnknown},
		{"before args date number", cond("args.due", OpBefore, "2026-06-01T12:00:00Z"), args(map[string]any{"due": 5.0}), isUnknown},

		// cidr
		{"cidr", cond("request.ip", OpCIDR, "10.0.0.0/8"), withRequest(RequestAttrs{IP: "10.1.2.3", Time: now}), isTrue},
		{"cidr mapped", cond("request.ip", OpCIDR, "10.0.0.0/8"), withRequest(RequestAttrs{IP: "::ffff:10.1.2.3", Time: now}), isTrue},
		{"cidr outside", cond("request.ip", OpCIDR, "10.0.0.0/8"), withRequest(RequestAttrs{IP: "11.0.0.1", Time: now}), isFalse},
		{"cidr missing", cond("request.ip", OpCIDR, "10.0.0.0/8"), baseInput(), isUnknown},
		{"cidr garbage ip", cond("request.ip", OpCIDR, "10.0.0.0/8"), withRequest(RequestAttrs{IP: "10.1.2.3:443", Time: now}), isUnknown},
		{"cidr list v6", cond("request.ip", OpCIDR, []any{"10.0.0.0/8", "2001:db8::/32"}), withRequest(RequestAttrs{IP: "2001:db8::1", Time: now}), isTrue},
		{"cidr list outside", cond("request.ip", OpCIDR, []any{"10.0.0.0/8", "2001:db8::/32"}), withRequest(RequestAttrs{IP: "2001:db9::1", Time: now}), isFalse},
		{"cidr args", cond("args.ip", OpCIDR, "192.168.0.0/16"), args(map[string]any{"ip": "192.168.1.1"}), isTrue},
		{"cidr args outside", cond("args.ip", OpCIDR, "192.168.0.0/16"), args(map[string]any{"ip": "10.0.0.1"}), isFalse},
		{"cidr args garbage", cond("args.ip", OpCIDR, "192.168.0.0/16"), args(map[string]any{"ip": "nonsense"}), isUnknown},
		{"cidr args number", cond("args.ip", OpCIDR, "192.168.0.0/16"), args(map[string]any{"ip": 5.0}), isUnknown},
		{"cidr args missing", cond("args.ip", OpCIDR, "192.168.0.0/16"), args(nil), isUnknown},
	}
	seen := map[string]map[outcome]bool{}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			g := and(c.c)
			if err := policyWith("p", Deny, 1, g).Validate(Global); err != nil {
				t.Fatalf("test condition does not validate: %v", err)
			}
			if got := observe(t, g, c.in); got != c.want {
				t.Errorf("got %s, want %s", got, c.want)
			}
		})
		if seen[c.c.Operator] == nil {
			seen[c.c.Operator] = map[outcome]bool{}
		}
		seen[c.c.Operator][c.want] = true
	}
	for _, op := range allOperators {
		if !seen[op][isTrue] || !seen[op][isFalse] || !seen[op][isUnknown] {
			t.Errorf("operator %s needs a positive, a negative and a missing or mismatched case", op)
		}
	}
}

// TestGroupsWithUnknowns checks the and/or logic with unknown leaves: an
// unknown leaf never stops a restriction when the others allow it to fire,
// and never makes an allow fire.
func TestGroupsWithUnknowns(t *testing.T) {
	// in: amount 5000, no country.
	in := withArgs(map[string]any{"amount": 5000.0})
	big := cond("args.amount", OpGT, 1000.0)     // true
	small := cond("args.amount", OpLT, 10.0)     // false
	kp := cond("request.country", OpEqual, "KP") // unknown
	or := func(cs ...Condition) Group { return Group{Op: GroupOr, Conditions: cs} }
	cases := []struct {
		name string
		g    *Group
		want outcome
	}{
		{"true and unknown", and(big, kp), isUnknown},
		{"false and unknown", and(small, kp), isFalse},
		{"true or unknown", &Group{Op: GroupOr, Conditions: []Condition{big, kp}}, isTrue},
		{"false or unknown", &Group{Op: GroupOr, Conditions: []Condition{small, kp}}, isUnknown},
		{"false or false", &Group{Op: GroupOr, Conditions: []Condition{small, small}}, isFalse},
		{"(false and unknown) or true", &Group{Op: GroupOr, Conditions: []Condition{big}, Groups: []Group{{Op: GroupAnd, Conditions: []Condition{small, kp}}}}, isTrue},
		{"(false or unknown) and true", &Group{Op: GroupAnd, Conditions: []Condition{big}, Groups: []Group{or(small, kp)}}, isUnknown},
		{"(false or unknown) and false", &Group{Op: GroupAnd, Conditions: []Condition{small}, Groups: []Group{or(small, kp)}}, isFalse},
		{"(true or unknown) and (true)", &Group{Op: GroupAnd, Groups: []Group{or(big, kp), or(big)}}, isTrue},
		{"deny when country not_equal US, no country", and(cond("request.country", OpNotEqual, "US")), isUnknown},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := observe(t, c.g, in); got != c.want {
				t.Errorf("got %s, want %s", got, c.want)
			}
		})
	}
}

// TestToolPatternsMatchLikeModel: the generated tool checks (== and
// glob.match) and the Go-side filter agree with model.MatchTool, the
// function access control uses.
func TestToolPatternsMatchLikeModel(t *testing.T) {
	patterns := []string{"*", "orders.*", "*.create", "orders.*.get", "*_admin*", "orders.create", "a*b", "**", "orders.", ".*"}
	tools := []string{"orders.create", "orders.a.b", "orders.", "orders", "x.create", "create", "user_admin_x", "ab", "axxb", "a.b", "orders.x.get", "orders.get", ".x", "x"}
	for _, pat := range patterns {
		p := Policy{Name: "p", Tools: []string{pat}, Effect: Deny, Enabled: true, Match: and(cond("args.x", OpEqual, "y"))}
		c, err := Compile(PolicySet{Global: []Ref{{ID: "1", Policy: p}}})
		if err != nil {
			t.Fatalf("%s: %v", pat, err)
		}
		for _, tool := range tools {
			want := matchesAny([]string{pat}, tool)
			if got := c.global.tools.match(tool); got != want {
				t.Errorf("filter: pattern %q tool %q: got %v want %v", pat, tool, got, want)
			}
			// Bypass the Go filter to test the Rego on its own.
			ms, err := c.global.evalStructured(context.Background(), Input{Tool: tool, Args: map[string]any{"x": "y"}})
			if err != nil {
				t.Fatal(err)
			}
			if got := len(ms) == 1; got != want {
				t.Errorf("rego: pattern %q tool %q: got %v want %v", pat, tool, got, want)
			}
		}
	}
}

// evalStructured evaluates the structured policies of a layer without the
// Go-side tool filter (tests only).
func (l *Layer) evalStructured(ctx context.Context, in Input) ([]Match, error) {
	v, err := in.value()
	if err != nil {
		return nil, err
	}
	rs, err := l.query.Eval(ctx, rego.EvalParsedInput(v))
	if err != nil {
		return nil, err
	}
	return l.collect(rs)
}

// TestCompileRefuses: Compile validates every policy it compiles, so a bad
// bundle fails to load (the gateway keeps its last good one) rather than
// losing a restriction silently.
func TestCompileRefuses(t *testing.T) {
	bad := policyWith("bad", Deny, 1, and(cond("args.x", OpMatches, "(")))
	_, err := Compile(PolicySet{Global: []Ref{{ID: "g1", Policy: bad}}})
	if err == nil || !strings.Contains(err.Error(), `"bad"`) || !strings.Contains(err.Error(), "g1") {
		t.Fatalf("want an error naming the policy, got %v", err)
	}
	disabled := bad
	disabled.Enabled = false
	if _, err := Compile(PolicySet{Global: []Ref{{ID: "g1", Policy: disabled}}}); err != nil {
		t.Fatalf("a disabled policy is skipped, got %v", err)
	}
	// A tenant policy that validation refuses for other reasons than the
	// ignored ones (allow, raw Rego) fails the tenant layer.
	_, err = Compile(PolicySet{Tenant: []Ref{{ID: "t1", Policy: bad}}, DelegationEnabled: true})
	if err == nil {
		t.Fatal("want an error for an invalid tenant policy")
	}
	// Without delegation the tenant's policies are not even compiled.
	if _, err := Compile(PolicySet{Tenant: []Ref{{ID: "t1", Policy: bad}}}); err != nil {
		t.Fatalf("delegation off: %v", err)
	}
	invalidUTF8 := policyWith("utf8", Deny, 1, and(cond("args.x", OpEqual, "a\xffb")))
	if _, err := Compile(PolicySet{Global: []Ref{{ID: "g2", Policy: invalidUTF8}}}); err == nil {
		t.Fatal("want an error for a constant that is not UTF-8")
	}
}

// TestInjectionStaysData: strings from policies end up as Rego string
// literals, never as code.
func TestInjectionStaysData(t *testing.T) {
	evil := "\"\nmatched contains 0 if true\n#"
	g := and(cond("args.x", OpEqual, evil))
	if got := observe(t, g, withArgs(map[string]any{"x": "other"})); got != isFalse {
		t.Fatalf("got %s", got)
	}
	if got := observe(t, g, withArgs(map[string]any{"x": evil})); got != isTrue {
		t.Fatalf("got %s", got)
	}
}

// TestGeneratedCapabilities: every builtin the generated code may call
// exists in this OPA version (an upgrade that renames one fails here, not on
// a gateway), and nothing else is available to it.
func TestGeneratedCapabilities(t *testing.T) {
	caps := generatedCapabilities()
	if len(caps.Builtins) != len(generatedBuiltins) {
		var names []string
		for _, b := range caps.Builtins {
			names = append(names, b.Name)
		}
		t.Fatalf("have %v, want %v", names, generatedBuiltins)
	}
	for _, b := range caps.Builtins {
		if slices.Contains(UnsafeBuiltins, b.Name) {
			t.Errorf("unsafe builtin %s available to generated code", b.Name)
		}
	}
}
