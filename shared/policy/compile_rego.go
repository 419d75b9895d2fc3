package policy

// Structured conditions → Rego v1. One module per scope; every policy i gets
//
//	matched contains i if { <tool check>; g_i_n }
//
// where g_i_n is the top group of its condition tree and each leaf condition j is a boolean rule
//
//	b_i_j := <test> if { <the attribute is there, has the right type, parses> }
//
// that is undefined when the condition cannot be evaluated (missing attribute,
// type mismatch, unparsable timestamp or IP, builtin error). A leaf is used as
// "b_i_j == true" by allow policies and as "not b_i_j == false" by restrictive
// ones, so an unknown leaf never lets an allow fire and never stops a
// restriction from firing (DESIGN.md, "Missing attributes"). Fallible builtins
// appear only where an error makes b_i_j undefined, never false: in the body or
// directly as the value, never inside a comprehension or an else branch.
//
// Every string that comes from a policy reaches the source through lit (OPA's
// own term formatting), never by concatenation.

import (
	"encoding/json"
	"fmt"
	"math"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/portcullis/portcullis/shared/model"
)

// regoPackage is the package of the generated module of each scope.
const regoPackage = "portcullis.compiled"

// matchedQuery is the query a scope's prepared query evaluates: the set of
// indexes of the structured policies that fire.
const matchedQuery = "data." + regoPackage + ".matched"

// prelude holds the helpers the generated rules call. None of them calls a
// builtin that can fail on the values it is given.
const prelude = `package ` + regoPackage + `

_between(x, lo, hi) := true if {
	x >= lo
	x <= hi
} else := false

_any_in(xs, s) := true if {
	some e in xs
	e in s
} else := false

_secs(c) := ((c[0] * 3600) + (c[1] * 60)) + c[2]

# Half-open [a, b); a > b wraps midnight.
_tod_in(s, a, b) := true if {
	a < b
	s >= a
	s < b
} else := true if {
	a > b
	s >= a
} else := true if {
	a > b
	s < b
} else := false

_wd := {"Monday": "mon", "Tuesday": "tue", "Wednesday": "wed", "Thursday": "thu", "Friday": "fri", "Saturday": "sat", "Sunday": "sun"}
`

// autoApprovedQuery is the set of indexes of the approval_required policies
// whose auto-approve conditions are definitely true. It is added to the
// scope's query only when some policy of the scope has auto-approve rules
// (otherwise the rule would not exist).
const autoApprovedQuery = "data." + regoPackage + ".auto_approved"

// generator writes the module of one scope.
type generator struct {
	b    strings.Builder
	auto bool // some policy emitted auto_approved rules
}

func newGenerator() *generator {
	g := &generator{}
	g.b.WriteString(prelude)
	return g
}

func (g *generator) source() string { return g.b.String() }

func (g *generator) printf(format string, args ...any) {
	fmt.Fprintf(&g.b, format, args...)
}

// policy emits the rules of the structured policy with index i.
func (g *generator) policy(i int, p Policy) error {
	restrictive := p.Effect != Allow
	next := 0
	top, err := g.group(i, p.Match, restrictive, &next)
	if err != nil {
		return err
	}
	g.rules("matched", i, p.Tools, top)
	if p.Effect != ApprovalRequired || p.Approval == nil || p.Approval.AutoApprove == nil {
		return nil
	}
	// Auto-approve loosens, so its leaves are used like an allow policy's:
	// the group holds only when it is definitely true (unknown → no).
	auto, err := g.group(i, p.Approval.AutoApprove, false, &next)
	if err != nil {
		return fmt.Errorf("auto_approve: %w", err)
	}
	g.rules("auto_approved", i, p.Tools, auto)
	g.auto = true
	return nil
}

// rules emits "set contains i" for each tool pattern, when rule holds.
// The tool checks let OPA's rule index skip the policies of other tools.
func (g *generator) rules(set string, i int, tools []string, rule string) {
	for _, pat := range tools {
		check := toolCheck(pat)
		if check == "" {
			g.printf("%s contains %d if %s\n", set, i, rule)
			continue
		}
		g.printf("%s contains %d if {\n\t%s\n\t%s\n}\n", set, i, check, rule)
	}
}

// group emits the rules of g and returns the name of a rule that holds when
// the group does. Sub-groups get their own rule; "and" is one body, "or" one
// body per member.
func (g *generator) group(pi int, grp *Group, restrictive bool, next *int) (string, error) {
	var members []string
	for _, c := range grp.Conditions {
		name := fmt.Sprintf("b_%d_%d", pi, *next)
		*next++
		if err := g.leaf(name, c); err != nil {
			return "", err
		}
		members = append(members, useLeaf(name, restrictive))
	}
	for _, sub := range grp.Groups {
		name, err := g.group(pi, &sub, restrictive, next)
		if err != nil {
			return "", err
		}
		members = append(members, name)
	}
	name := fmt.Sprintf("g_%d_%d", pi, *next)
	*next++
	if grp.Op == GroupOr {
		for _, m := range members {
			g.printf("%s if {\n\t%s\n}\n", name, m)
		}
		return name, nil
	}
	g.printf("%s if {\n\t%s\n}\n", name, strings.Join(members, "\n\t"))
	return name, nil
}

// useLeaf is how a group refers to a leaf: a restriction fires unless the
// condition is known to be false; an allow only when it is known to be true.
func useLeaf(name string, restrictive bool) string {
	if restrictive {
		return "not " + name + " == false"
	}
	return name + " == true"
}

// toolCheck returns the Rego expression that a tool name matches pattern the
// way model.MatchTool does, or "" for "*" (every tool). Exact names compare
// with == so OPA's rule index can skip the policies of other tools. For other
// patterns, glob.match with "/" as the only delimiter gives path.Match's
// semantics: tool names cannot contain "/", so "*" spans dots.
func toolCheck(pattern string) string {
	switch {
	case pattern == "*":
		return ""
	case !strings.Contains(pattern, "*"):
		return "input.tool == " + lit(pattern)
	default:
		return "glob.match(" + lit(pattern) + `, ["/"], input.tool)`
	}
}

// def is one definition of a leaf rule: name := value if { body }.
type def struct {
	body  []string
	value string
}

func (g *generator) leaf(name string, c Condition) error {
	defs, err := leafDefs(c)
	if err != nil {
		return err
	}
	for _, d := range defs {
		g.printf("%s := %s if {\n\t%s\n}\n", name, d.value, strings.Join(d.body, "\n\t"))
	}
	return nil
}

// leafDefs translates one validated condition.
func leafDefs(c Condition) ([]def, error) {
	if err := checkUTF8(c.Value); err != nil {
		return nil, err
	}
	kind, problem := attributeKind(c.Attribute)
	if problem != "" {
		return nil, fmt.Errorf("attribute %q: %s", truncate(c.Attribute), problem)
	}
	x, err := attrRef(c.Attribute)
	if err != nil {
		return nil, err
	}
	switch kind {
	case kindJSON:
		return jsonDefs(x, c)
	case kindString:
		return stringDefs(x, normaliser(c.Attribute), c)
	case kindStringList:
		return listDefs(x, c)
	case kindIP:
		return ipDefs(x, c)
	case kindTime:
		return timeDefs(x, c)
	case kindWeekday:
		return weekdayDefs(c)
	}
	return nil, fmt.Errorf("attribute %q: unsupported", truncate(c.Attribute))
}

// attrRef is the Rego reference of an attribute. Path members and claim
// names are quoted string keys, so any character validation allows is safe.
func attrRef(attr string) (string, error) {
	switch {
	case strings.HasPrefix(attr, AttrArgsPrefix):
		segs, err := model.ParseJSONPath("$." + strings.TrimPrefix(attr, AttrArgsPrefix))
		if err != nil {
			return "", err
		}
		ref := "input.args"
		for _, s := range segs {
			switch s.Kind {
			case model.SegmentMember:
				ref += "[" + lit(s.Name) + "]"
			case model.SegmentIndex:
				ref += "[" + strconv.Itoa(s.Index) + "]"
			default:
				return "", fmt.Errorf("attribute %q: wildcards are not supported", truncate(attr))
			}
		}
		return ref, nil
	case strings.HasPrefix(attr, AttrClaimsPrefix):
		return "input.user.claims[" + lit(strings.TrimPrefix(attr, AttrClaimsPrefix)) + "]", nil
	case attr == "request.tool":
		return "input.tool", nil
	case attr == AttrRequestTime:
		return "input.request.time_ns", nil
	}
	return "input." + attr, nil // the fixed attributes are their own document paths
}

// normaliser returns how the document normalises a string attribute, so
// constants compared with it are normalised the same way (see Document).
func normaliser(attr string) func(string) string {
	switch attr {
	case "request.country":
		return strings.ToUpper
	case "user.email":
		return strings.ToLower
	}
	return func(s string) string { return s }
}

// jsonDefs: arguments and claims hold any JSON value, so every definition is
// guarded by the JSON type the operator needs; another type is unknown.
func jsonDefs(x string, c Condition) ([]def, error) {
	guard := func(typ string) []string { return []string{typ + "(" + x + ")"} }
	switch c.Operator {
	case OpEqual, OpNotEqual:
		typ, k, err := scalar(c.Value)
		if err != nil {
			return nil, err
		}
		cmp := map[string]string{OpEqual: "==", OpNotEqual: "!="}[c.Operator]
		return []def{{guard(typ), x + " " + cmp + " " + k}}, nil
	case OpInList:
		return jsonInList(x, c.Value)
	case OpContains:
		k, err := stringValue(c.Value)
		if err != nil {
			return nil, err
		}
		return []def{
			{guard("is_string"), "contains(" + x + ", " + k + ")"},
			{guard("is_array"), k + " in " + x},
		}, nil
	case OpStartsWith, OpEndsWith, OpMatches:
		k, err := stringValue(c.Value)
		if err != nil {
			return nil, err
		}
		return []def{{guard("is_string"), stringTest(c.Operator, x, k)}}, nil
	case OpGT, OpGTE, OpLT, OpLTE:
		f, ok := asNumber(c.Value)
		if !ok {
			return nil, fmt.Errorf("%s needs a number", c.Operator)
		}
		return []def{{guard("is_number"), x + " " + comparator(c.Operator) + " " + num(f)}}, nil
	case OpBetween:
		return jsonBetween(x, c.Value)
	case OpIs:
		b, ok := c.Value.(bool)
		if !ok {
			return nil, fmt.Errorf("is needs a boolean")
		}
		return []def{{guard("is_boolean"), x + " == " + strconv.FormatBool(b)}}, nil
	case OpBefore, OpAfter:
		ns, err := instantNanos(c.Value)
		if err != nil {
			return nil, err
		}
		body := append(guard("is_string"), "t := time.parse_rfc3339_ns("+x+")")
		return []def{{body, instantTest(c.Operator, "t", ns)}}, nil
	case OpCIDR:
		cidrs, err := cidrList(c.Value)
		if err != nil {
			return nil, err
		}
		return []def{{guard("is_string"), cidrTest(cidrs, x)}}, nil
	}
	return nil, fmt.Errorf("operator %q does not apply to %s", truncate(c.Operator), c.Attribute)
}

// jsonInList: one definition per JSON type in the list, each testing against
// the values of that type, so a value of a type the list does not hold is
// unknown rather than "not in the list".
func jsonInList(x string, v any) ([]def, error) {
	list, ok := asList(v)
	if !ok || len(list) == 0 {
		return nil, fmt.Errorf("in_list needs a non-empty array")
	}
	byType := map[string][]string{}
	var order []string
	for _, e := range list {
		typ, k, err := scalar(e)
		if err != nil {
			return nil, err
		}
		if _, seen := byType[typ]; !seen {
			order = append(order, typ)
		}
		byType[typ] = append(byType[typ], k)
	}
	defs := make([]def, 0, len(order))
	for _, typ := range order {
		defs = append(defs, def{[]string{typ + "(" + x + ")"}, x + " in {" + strings.Join(byType[typ], ", ") + "}"})
	}
	return defs, nil
}

func jsonBetween(x string, v any) ([]def, error) {
	list, ok := asList(v)
	if !ok || len(list) != 2 {
		return nil, fmt.Errorf("between needs [min, max]")
	}
	lo, ok1 := asNumber(list[0])
	hi, ok2 := asNumber(list[1])
	if ok1 && ok2 {
		return []def{{[]string{"is_number(" + x + ")"}, "_between(" + x + ", " + num(lo) + ", " + num(hi) + ")"}}, nil
	}
	a, errA := instantNanos(list[0])
	b, errB := instantNanos(list[1])
	if errA != nil || errB != nil {
		return nil, fmt.Errorf("between needs two numbers or two RFC 3339 timestamps")
	}
	body := []string{"is_string(" + x + ")", "t := time.parse_rfc3339_ns(" + x + ")"}
	return []def{{body, "_between(t, " + strconv.FormatInt(a, 10) + ", " + strconv.FormatInt(b, 10) + ")"}}, nil
}

// stringDefs: user.id, user.email, user.tenant, request.country,
// request.user_agent, request.platform, request.tool.
func stringDefs(x string, norm func(string) string, c Condition) ([]def, error) {
	guard := []string{"is_string(" + x + ")"}
	str := func(v any) (string, error) {
		s, ok := v.(string)
		if !ok {
			return "", fmt.Errorf("%s needs a string", c.Operator)
		}
		if c.Operator == OpMatches {
			return lit(s), nil // a pattern is not a value: leave it as written
		}
		return lit(norm(s)), nil
	}
	switch c.Operator {
	case OpEqual, OpNotEqual:
		k, err := str(c.Value)
		if err != nil {
			return nil, err
		}
		cmp := map[string]string{OpEqual: "==", OpNotEqual: "!="}[c.Operator]
		return []def{{guard, x + " " + cmp + " " + k}}, nil
	case OpInList:
		set, err := literalSet(c.Value, str)
		if err != nil {
			return nil, err
		}
		return []def{{guard, x + " in " + set}}, nil
	case OpContains, OpStartsWith, OpEndsWith, OpMatches:
		k, err := str(c.Value)
		if err != nil {
			return nil, err
		}
		return []def{{guard, stringTest(c.Operator, x, k)}}, nil
	}
	return nil, fmt.Errorf("operator %q does not apply to %s", truncate(c.Operator), c.Attribute)
}

// listDefs: user.roles and user.permissions. contains = holds this one;
// in_list = holds at least one of these.
func listDefs(x string, c Condition) ([]def, error) {
	guard := []string{"is_array(" + x + ")"}
	switch c.Operator {
	case OpContains:
		k, err := stringValue(c.Value)
		if err != nil {
			return nil, err
		}
		return []def{{guard, k + " in " + x}}, nil
	case OpInList:
		set, err := literalSet(c.Value, stringValue)
		if err != nil {
			return nil, err
		}
		return []def{{guard, "_any_in(" + x + ", " + set + ")"}}, nil
	}
	return nil, fmt.Errorf("operator %q does not apply to %s", truncate(c.Operator), c.Attribute)
}

// ipDefs: request.ip, canonical in the document; constants are made
// canonical the same way.
func ipDefs(x string, c Condition) ([]def, error) {
	guard := []string{"is_string(" + x + ")"}
	ip := func(v any) (string, error) {
		s, _ := v.(string)
		canon := canonicalIP(s)
		if canon == "" {
			return "", fmt.Errorf("%q is not an IP address", truncate(s))
		}
		return lit(canon), nil
	}
	switch c.Operator {
	case OpEqual, OpNotEqual:
		k, err := ip(c.Value)
		if err != nil {
			return nil, err
		}
		cmp := map[string]string{OpEqual: "==", OpNotEqual: "!="}[c.Operator]
		return []def{{guard, x + " " + cmp + " " + k}}, nil
	case OpInList:
		set, err := literalSet(c.Value, ip)
		if err != nil {
			return nil, err
		}
		return []def{{guard, x + " in " + set}}, nil
	case OpCIDR:
		cidrs, err := cidrList(c.Value)
		if err != nil {
			return nil, err
		}
		return []def{{guard, cidrTest(cidrs, x)}}, nil
	}
	return nil, fmt.Errorf("operator %q does not apply to %s", truncate(c.Operator), c.Attribute)
}

// timeDefs: request.time against instants (RFC 3339) or times of day in the
// condition's zone. before is strictly earlier, after is at or later, so
// before T and after T split the timeline; between instants is inclusive,
// between times of day is [start, end) and wraps midnight when start > end.
func timeDefs(x string, c Condition) ([]def, error) {
	guard := []string{"is_number(" + x + ")"}
	clock := append(slices.Clone(guard), "c := time.clock(["+x+", "+lit(c.TimeZone)+"])")
	switch c.Operator {
	case OpBefore, OpAfter:
		if s, ok := c.Value.(string); ok && timeOfDayRe.MatchString(s) {
			secs := todSeconds(s)
			if c.Operator == OpBefore {
				return []def{{clock, "_secs(c) < " + strconv.Itoa(secs)}}, nil
			}
			return []def{{clock, "_secs(c) >= " + strconv.Itoa(secs)}}, nil
		}
		ns, err := instantNanos(c.Value)
		if err != nil {
			return nil, err
		}
		return []def{{guard, instantTest(c.Operator, x, ns)}}, nil
	case OpBetween:
		list, ok := asList(c.Value)
		if !ok || len(list) != 2 {
			return nil, fmt.Errorf("between needs [start, end]")
		}
		a, aOK := list[0].(string)
		b, bOK := list[1].(string)
		if aOK && bOK && timeOfDayRe.MatchString(a) && timeOfDayRe.MatchString(b) {
			return []def{{clock, fmt.Sprintf("_tod_in(_secs(c), %d, %d)", todSeconds(a), todSeconds(b))}}, nil
		}
		lo, errA := instantNanos(list[0])
		hi, errB := instantNanos(list[1])
		if errA != nil || errB != nil {
			return nil, fmt.Errorf("between needs two timestamps or two times of day")
		}
		return []def{{guard, fmt.Sprintf("_between(%s, %d, %d)", x, lo, hi)}}, nil
	}
	return nil, fmt.Errorf("operator %q does not apply to %s", truncate(c.Operator), c.Attribute)
}

// weekdayDefs: request.weekday in the condition's zone (UTC without one).
func weekdayDefs(c Condition) ([]def, error) {
	zone := c.TimeZone
	if zone == "" {
		zone = "UTC"
	}
	body := []string{
		"is_number(input.request.time_ns)",
		"w := _wd[time.weekday([input.request.time_ns, " + lit(zone) + "])]",
	}
	day := func(v any) (string, error) {
		s, ok := v.(string)
		if !ok || !slices.Contains(Weekdays, s) {
			return "", fmt.Errorf("weekday must be one of %s", strings.Join(Weekdays, ", "))
		}
		return lit(s), nil
	}
	switch c.Operator {
	case OpEqual, OpNotEqual:
		k, err := day(c.Value)
		if err != nil {
			return nil, err
		}
		cmp := map[string]string{OpEqual: "==", OpNotEqual: "!="}[c.Operator]
		return []def{{body, "w " + cmp + " " + k}}, nil
	case OpInList:
		set, err := literalSet(c.Value, day)
		if err != nil {
			return nil, err
		}
		return []def{{body, "w in " + set}}, nil
	}
	return nil, fmt.Errorf("operator %q does not apply to %s", truncate(c.Operator), c.Attribute)
}

func stringTest(op, x, k string) string {
	switch op {
	case OpContains:
		return "contains(" + x + ", " + k + ")"
	case OpStartsWith:
		return "startswith(" + x + ", " + k + ")"
	case OpEndsWith:
		return "endswith(" + x + ", " + k + ")"
	default: // OpMatches; RE2 like validation's regexp.Compile
		return "regex.match(" + k + ", " + x + ")"
	}
}

func comparator(op string) string {
	return map[string]string{OpGT: ">", OpGTE: ">=", OpLT: "<", OpLTE: "<="}[op]
}

func instantTest(op, x string, ns int64) string {
	if op == OpBefore {
		return x + " < " + strconv.FormatInt(ns, 10)
	}
	return x + " >= " + strconv.FormatInt(ns, 10)
}

// cidrTest: the address (or network) is inside at least one prefix.
// net.cidr_contains_matches fails on a value that is neither, which leaves
// the leaf undefined (unknown), not false.
func cidrTest(cidrs []string, x string) string {
	quoted := make([]string, len(cidrs))
	for i, c := range cidrs {
		quoted[i] = lit(c)
	}
	return "count(net.cidr_contains_matches([" + strings.Join(quoted, ", ") + "], " + x + ")) > 0"
}

// scalar returns the Rego type test and the literal of a string, number or
// boolean constant.
func scalar(v any) (typ, literal string, err error) {
	if s, ok := v.(string); ok {
		return "is_string", lit(s), nil
	}
	if b, ok := v.(bool); ok {
		return "is_boolean", strconv.FormatBool(b), nil
	}
	if f, ok := asNumber(v); ok {
		return "is_number", num(f), nil
	}
	return "", "", fmt.Errorf("needs a string, number or boolean, got %T", v)
}

func stringValue(v any) (string, error) {
	s, ok := v.(string)
	if !ok {
		return "", fmt.Errorf("needs a string, got %T", v)
	}
	return lit(s), nil
}

// literalSet renders a list of constants as a Rego set.
func literalSet(v any, conv func(any) (string, error)) (string, error) {
	list, ok := asList(v)
	if !ok || len(list) == 0 {
		return "", fmt.Errorf("in_list needs a non-empty array")
	}
	out := make([]string, len(list))
	for i, e := range list {
		k, err := conv(e)
		if err != nil {
			return "", err
		}
		out[i] = k
	}
	return "{" + strings.Join(out, ", ") + "}", nil
}

func cidrList(v any) ([]string, error) {
	if s, ok := v.(string); ok {
		v = []any{s}
	}
	list, ok := asList(v)
	if !ok || len(list) == 0 {
		return nil, fmt.Errorf("cidr needs a CIDR or a non-empty array of them")
	}
	out := make([]string, len(list))
	for i, e := range list {
		s, _ := e.(string)
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return nil, fmt.Errorf("%q is not a CIDR", truncate(s))
		}
		out[i] = p.Masked().String()
	}
	return out, nil
}

// instantNanos parses an RFC 3339 constant to Unix nanoseconds, clamped to
// the int64 range (validation accepts years 0000–9999; the request time can
// only be within 1678–2262, so clamping keeps every comparison's answer).
func instantNanos(v any) (int64, error) {
	s, ok := v.(string)
	if !ok {
		return 0, fmt.Errorf("needs an RFC 3339 timestamp")
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return 0, fmt.Errorf("needs an RFC 3339 timestamp: %v", err)
	}
	switch {
	case t.Before(time.Unix(0, minNanos)):
		return minNanos, nil
	case t.After(time.Unix(0, maxNanos)):
		return maxNanos, nil
	}
	return t.UnixNano(), nil
}

// todSeconds turns a validated "HH:MM" into seconds after midnight.
func todSeconds(s string) int {
	h, _ := strconv.Atoi(s[:2])
	m, _ := strconv.Atoi(s[3:])
	return h*3600 + m*60
}

// num renders a finite number as a Rego literal.
func num(f float64) string {
	if math.Trunc(f) == f && math.Abs(f) < 1e15 {
		return strconv.FormatInt(int64(f), 10)
	}
	return strconv.FormatFloat(f, 'g', -1, 64)
}

// lit renders a string as a Rego string literal. Rego string literals are
// JSON strings (OPA's parser decodes them with encoding/json), so JSON
// encoding is the exact inverse; strconv.Quote is not (\x, \a, \v).
// Constants are checked to be valid UTF-8 before they get here (checkUTF8),
// since JSON encoding would replace invalid bytes.
func lit(s string) string {
	var b strings.Builder
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(s) // encoding a string cannot fail
	return strings.TrimSuffix(b.String(), "\n")
}

// checkUTF8 refuses constants that are not valid UTF-8: they could never be
// written in the generated module exactly as given.
func checkUTF8(v any) error {
	switch x := v.(type) {
	case string:
		if !utf8.ValidString(x) {
			return fmt.Errorf("value is not valid UTF-8")
		}
	case []string:
		for _, s := range x {
			if err := checkUTF8(s); err != nil {
				return err
			}
		}
	case []any:
		for _, e := range x {
			if err := checkUTF8(e); err != nil {
				return err
			}
		}
	}
	return nil
}
