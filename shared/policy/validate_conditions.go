package policy

import (
	"encoding/json"
	"fmt"
	"math"
	"net/netip"
	"regexp"
	"strings"
	"time"

	// Time zones are compiled in so that validation and evaluation give the
	// same answer on every machine, including minimal images without
	// /usr/share/zoneinfo.
	_ "time/tzdata"

	"github.com/portcullis/portcullis/shared/model"
)

// Condition operators. The set is closed: the compiler to Rego handles
// exactly these, so validation refuses anything else.
const (
	OpEqual      = "equal"
	OpNotEqual   = "not_equal"
	OpInList     = "in_list"
	OpContains   = "contains"
	OpStartsWith = "starts_with"
	OpEndsWith   = "ends_with"
	OpMatches    = "matches"
	OpGT         = "gt"
	OpGTE        = "gte"
	OpLT         = "lt"
	OpLTE        = "lte"
	OpBetween    = "between"
	OpIs         = "is"
	OpBefore     = "before"
	OpAfter      = "after"
	OpCIDR       = "cidr"
)

// Group operators.
const (
	GroupAnd = "and"
	GroupOr  = "or"
)

// Attribute prefixes and names (see Condition).
const (
	AttrArgsPrefix   = "args."
	AttrClaimsPrefix = "user.claims."
	AttrRequestTime  = "request.time"
	AttrWeekday      = "request.weekday"
	AttrRequestIP    = "request.ip"
)

// Limits on condition values.
const (
	MaxListValues   = 1000
	MaxValueLen     = 4096 // one string value
	maxClaimNameLen = 128
)

// Weekdays are the values request.weekday compares with.
var Weekdays = []string{"mon", "tue", "wed", "thu", "fri", "sat", "sun"}

// attrKind is the type of an attribute's value, which decides the operators
// that make sense on it.
type attrKind int

const (
	kindJSON       attrKind = iota + 1 // args.<path>, user.claims.<name>: any JSON value
	kindString                         // user.id, user.email, request.country, ...
	kindStringList                     // user.roles, user.permissions
	kindIP                             // request.ip
	kindTime                           // request.time
	kindWeekday                        // request.weekday
)

var fixedAttributes = map[string]attrKind{
	"user.id":            kindString,
	"user.email":         kindString,
	"user.tenant":        kindString,
	"user.roles":         kindStringList,
	"user.permissions":   kindStringList,
	"request.ip":         kindIP,
	"request.country":    kindString,
	"request.user_agent": kindString,
	"request.platform":   kindString,
	"request.tool":       kindString,
	"request.time":       kindTime,
	"request.weekday":    kindWeekday,
}

// operatorsFor lists the operators each kind accepts. An operator missing
// here for a kind (cidr on user.email, gt on user.roles) is refused: the
// compiler would have to guess what it means.
var operatorsFor = map[attrKind][]string{
	kindJSON: {OpEqual, OpNotEqual, OpInList, OpContains, OpStartsWith, OpEndsWith, OpMatches,
		OpGT, OpGTE, OpLT, OpLTE, OpBetween, OpIs, OpBefore, OpAfter, OpCIDR},
	kindString:     {OpEqual, OpNotEqual, OpInList, OpContains, OpStartsWith, OpEndsWith, OpMatches},
	kindStringList: {OpContains, OpInList},
	kindIP:         {OpEqual, OpNotEqual, OpInList, OpCIDR},
	kindTime:       {OpBefore, OpAfter, OpBetween},
	kindWeekday:    {OpEqual, OpNotEqual, OpInList},
}

var allOperators = operatorsFor[kindJSON]

var (
	claimNameRe = regexp.MustCompile(`^[a-zA-Z0-9_.:/-]+$`)
	timeOfDayRe = regexp.MustCompile(`^([01][0-9]|2[0-3]):[0-5][0-9]$`)
)

// checkMatch validates the condition tree: an and/or group of 1–10
// conditions in total, with at most one level of nested groups. With raw Rego
// the tree must be absent: one policy has one way of matching.
func checkMatch(pr *model.Problems, g *Group, hasRego bool) {
	switch {
	case g == nil && !hasRego:
		pr.Add("match", "is required: 1–%d conditions", MaxConditions)
		return
	case g == nil:
		return
	case hasRego:
		pr.Add("match", "use either match or rego, not both")
		return
	}
	checkConditionTree(pr, "match", g)
}

// checkConditionTree validates a condition tree reported under field (a
// policy's match, an approval's auto_approve): 1–10 conditions in total, at
// most one level of nested groups, every condition valid.
func checkConditionTree(pr *model.Problems, field string, g *Group) {
	total := len(g.Conditions)
	for _, sub := range g.Groups {
		total += len(sub.Conditions)
	}
	if total < 1 || total > MaxConditions || len(g.Groups) > MaxConditions {
		pr.Add(field, "must hold 1–%d conditions in total (has %d)", MaxConditions, total)
		if total > MaxConditions || len(g.Groups) > MaxConditions {
			return // don't list problems in a tree that must shrink anyway
		}
	}
	checkGroup(pr, field, g, true)
}

func checkGroup(pr *model.Problems, field string, g *Group, top bool) {
	if g.Op != GroupAnd && g.Op != GroupOr {
		pr.Add(field+".op", "must be and or or")
	}
	if len(g.Conditions) == 0 && len(g.Groups) == 0 {
		pr.Add(field, "an empty group is not allowed")
	}
	for i := range g.Conditions {
		checkCondition(pr, fmt.Sprintf("%s.conditions[%d]", field, i), g.Conditions[i])
	}
	if !top && len(g.Groups) > 0 {
		pr.Add(field+".groups", "groups may be nested one level only")
		return
	}
	for i := range g.Groups {
		checkGroup(pr, fmt.Sprintf("%s.groups[%d]", field, i), &g.Groups[i], false)
	}
}

func checkCondition(pr *model.Problems, field string, c Condition) {
	kind, attrProblem := attributeKind(c.Attribute)
	if attrProblem != "" {
		pr.Add(field+".attribute", "%s", attrProblem)
	}
	opKnown := contains(allOperators, c.Operator)
	if !opKnown {
		pr.Add(field+".operator", "unknown operator %q (one of %s)", truncate(c.Operator), strings.Join(allOperators, ", "))
	}
	checkTimeZone(pr, field+".time_zone", kind, c)
	if attrProblem != "" || !opKnown {
		return
	}
	if !contains(operatorsFor[kind], c.Operator) {
		pr.Add(field+".operator", "%s does not apply to %s (use one of %s)",
			c.Operator, c.Attribute, strings.Join(operatorsFor[kind], ", "))
		return
	}
	if msg := valueProblem(kind, c.Operator, c.Value); msg != "" {
		pr.Add(field+".value", "%s", msg)
	}
}

// attributeKind classifies an attribute name, or says what is wrong with it.
func attributeKind(attr string) (attrKind, string) {
	if k, ok := fixedAttributes[attr]; ok {
		return k, ""
	}
	switch {
	case strings.HasPrefix(attr, AttrArgsPrefix):
		if msg := argsPathProblem(strings.TrimPrefix(attr, AttrArgsPrefix)); msg != "" {
			return 0, msg
		}
		return kindJSON, ""
	case strings.HasPrefix(attr, AttrClaimsPrefix):
		name := strings.TrimPrefix(attr, AttrClaimsPrefix)
		if len(name) > maxClaimNameLen || !claimNameRe.MatchString(name) {
			return 0, fmt.Sprintf("claim name must be 1–%d of a-z A-Z 0-9 _ . : / -", maxClaimNameLen)
		}
		return kindJSON, ""
	case attr == "":
		return 0, "is required"
	default:
		return 0, fmt.Sprintf("unknown attribute %q: use args.<path>, user.claims.<name>, "+
			"user.id, user.email, user.tenant, user.roles, user.permissions, request.ip, request.country, "+
			"request.user_agent, request.platform, request.tool, request.time or request.weekday", truncate(attr))
	}
}

// argsPathProblem checks the path after "args.": members and [n] indexes in
// the JSON path syntax of package model ("customer.email", "items[0].sku").
// Wildcards are refused: "any element matches" and "every element matches"
// are different policies, and a condition must say which.
func argsPathProblem(p string) string {
	if p == "" {
		return "args. must be followed by a path (e.g. args.customer.email)"
	}
	segs, err := model.ParseJSONPath("$." + p)
	if err != nil {
		return "invalid argument path: " + err.Error()
	}
	if model.HasWildcard(segs) {
		return "argument paths may not contain wildcards (* or [*])"
	}
	return ""
}

// checkTimeZone: time_zone applies to times of day and weekdays only, must be
// an IANA name that loads, and is required for a time of day (a "09:00" with
// no zone means different instants on different gateways' clocks).
func checkTimeZone(pr *model.Problems, field string, kind attrKind, c Condition) {
	if c.TimeZone == "" {
		if kind == kindTime && valueHasTimeOfDay(c.Value) {
			pr.Add(field, "is required with a time of day (an IANA name such as Europe/Paris)")
		}
		return
	}
	switch {
	case kind != kindTime && kind != kindWeekday:
		pr.Add(field, "only applies to request.time and request.weekday")
		return
	case kind == kindTime && !valueHasTimeOfDay(c.Value):
		pr.Add(field, "only applies to times of day (RFC 3339 timestamps carry their own offset)")
		return
	}
	if c.TimeZone == "Local" || len(c.TimeZone) > 64 {
		pr.Add(field, "must be an IANA time zone name such as Europe/Paris")
		return
	}
	if _, err := time.LoadLocation(c.TimeZone); err != nil {
		pr.Add(field, "unknown time zone %q", truncate(c.TimeZone))
	}
}

func valueHasTimeOfDay(v any) bool {
	if s, ok := v.(string); ok {
		return timeOfDayRe.MatchString(s)
	}
	list, ok := asList(v)
	if !ok {
		return false
	}
	for _, e := range list {
		if s, ok := e.(string); ok && timeOfDayRe.MatchString(s) {
			return true
		}
	}
	return false
}

// valueProblem checks the value's type and content for op on an attribute
// of kind; the pair has already been found compatible.
func valueProblem(kind attrKind, op string, v any) string {
	switch op {
	case OpEqual, OpNotEqual:
		return scalarProblem(kind, v)
	case OpInList:
		return listProblem(kind, v)
	case OpContains, OpStartsWith, OpEndsWith:
		if s, ok := v.(string); !ok || s == "" {
			return op + " needs a non-empty string"
		}
		return stringLenProblem(v.(string))
	case OpMatches:
		s, ok := v.(string)
		if !ok || s == "" {
			return "matches needs a non-empty regular expression (string)"
		}
		return model.RegexpProblem(s)
	case OpGT, OpGTE, OpLT, OpLTE:
		if _, ok := asNumber(v); !ok {
			return op + " needs a number"
		}
	case OpBetween:
		return betweenProblem(kind, v)
	case OpIs:
		if _, ok := v.(bool); !ok {
			return "is needs true or false"
		}
	case OpBefore, OpAfter:
		return instantProblem(kind, op, v)
	case OpCIDR:
		return cidrProblem(v)
	}
	return ""
}

// scalarProblem checks one value compared for equality with an attribute.
// null is refused: "equal null" would turn a missing attribute into a match.
func scalarProblem(kind attrKind, v any) string {
	switch kind {
	case kindJSON:
		if s, ok := v.(string); ok {
			return stringLenProblem(s)
		}
		if _, ok := asNumber(v); ok {
			return ""
		}
		if _, ok := v.(bool); ok {
			return ""
		}
		return "needs a string, number or boolean"
	case kindIP:
		if s, ok := v.(string); ok {
			if _, err := netip.ParseAddr(s); err == nil {
				return ""
			}
		}
		return "needs an IP address (e.g. 192.0.2.7 or 2001:db8::7)"
	case kindWeekday:
		if s, ok := v.(string); ok && contains(Weekdays, s) {
			return ""
		}
		return "needs a weekday: " + strings.Join(Weekdays, ", ")
	default: // string and string-list attributes compare with strings
		s, ok := v.(string)
		if !ok {
			return "needs a string"
		}
		return stringLenProblem(s)
	}
}

func listProblem(kind attrKind, v any) string {
	list, ok := asList(v)
	if !ok || len(list) == 0 || len(list) > MaxListValues {
		return fmt.Sprintf("in_list needs an array of 1–%d values", MaxListValues)
	}
	for i, e := range list {
		if msg := scalarProblem(kind, e); msg != "" {
			return fmt.Sprintf("element %d: %s", i, msg)
		}
	}
	return ""
}

// betweenProblem: [min, max] of numbers (min ≤ max), of RFC 3339 timestamps
// (start ≤ end), or, for request.time, of times of day. A time-of-day range
// may wrap midnight ("22:00"–"06:00" is the night) but may not be empty.
func betweenProblem(kind attrKind, v any) string {
	list, ok := asList(v)
	if !ok || len(list) != 2 {
		return "between needs [min, max]"
	}
	if kind == kindJSON {
		lo, ok1 := asNumber(list[0])
		hi, ok2 := asNumber(list[1])
		if ok1 && ok2 {
			if lo > hi {
				return "between needs min ≤ max"
			}
			return ""
		}
	}
	a, aOK := list[0].(string)
	b, bOK := list[1].(string)
	if !aOK || !bOK {
		return betweenShape(kind)
	}
	if kind == kindTime && timeOfDayRe.MatchString(a) && timeOfDayRe.MatchString(b) {
		if a == b {
			return "between needs two different times of day"
		}
		return ""
	}
	ta, errA := time.Parse(time.RFC3339, a)
	tb, errB := time.Parse(time.RFC3339, b)
	if errA != nil || errB != nil {
		return betweenShape(kind)
	}
	if ta.After(tb) {
		return "between needs start ≤ end"
	}
	return ""
}

func betweenShape(kind attrKind) string {
	if kind == kindTime {
		return `between needs two RFC 3339 timestamps or two times of day ("HH:MM")`
	}
	return "between needs two numbers or two RFC 3339 timestamps"
}

func instantProblem(kind attrKind, op string, v any) string {
	s, ok := v.(string)
	if ok {
		if _, err := time.Parse(time.RFC3339, s); err == nil {
			return ""
		}
		if kind == kindTime && timeOfDayRe.MatchString(s) {
			return ""
		}
	}
	if kind == kindTime {
		return op + ` needs an RFC 3339 timestamp or a time of day ("HH:MM")`
	}
	return op + " needs an RFC 3339 timestamp (e.g. 2026-01-31T00:00:00Z)"
}

// cidrProblem wants a prefix or a list of them, in canonical form: "10.1.2.3/8"
// is refused because it reads as one host while meaning 16M addresses.
func cidrProblem(v any) string {
	if s, ok := v.(string); ok {
		return prefixProblem(s)
	}
	list, ok := asList(v)
	if !ok || len(list) == 0 || len(list) > MaxListValues {
		return fmt.Sprintf("cidr needs a CIDR string or an array of 1–%d", MaxListValues)
	}
	for i, e := range list {
		s, ok := e.(string)
		if !ok {
			return fmt.Sprintf("element %d: needs a CIDR string", i)
		}
		if msg := prefixProblem(s); msg != "" {
			return fmt.Sprintf("element %d: %s", i, msg)
		}
	}
	return ""
}

func prefixProblem(s string) string {
	p, err := netip.ParsePrefix(s)
	if err != nil {
		return fmt.Sprintf("%q is not a CIDR (e.g. 10.0.0.0/8, 2001:db8::/32)", truncate(s))
	}
	if p.Masked() != p {
		return fmt.Sprintf("%q has host bits set; did you mean %s?", truncate(s), p.Masked())
	}
	return ""
}

func stringLenProblem(s string) string {
	if len(s) > MaxValueLen {
		return fmt.Sprintf("string longer than %d bytes", MaxValueLen)
	}
	return ""
}

// asList accepts the array shapes a value arrives in: []any from JSON, typed
// slices from Go callers.
func asList(v any) ([]any, bool) {
	switch l := v.(type) {
	case []any:
		return l, true
	case []string:
		out := make([]any, len(l))
		for i, s := range l {
			out[i] = s
		}
		return out, true
	case []float64:
		out := make([]any, len(l))
		for i, f := range l {
			out[i] = f
		}
		return out, true
	case []int:
		out := make([]any, len(l))
		for i, n := range l {
			out[i] = n
		}
		return out, true
	}
	return nil, false
}

// asNumber accepts finite numbers of the types JSON decoding (float64,
// json.Number) or Go callers (int kinds) produce.
func asNumber(v any) (float64, bool) {
	var f float64
	switch n := v.(type) {
	case float64:
		f = n
	case float32:
		f = float64(n)
	case int:
		f = float64(n)
	case int64:
		f = float64(n)
	case int32:
		f = float64(n)
	case json.Number:
		x, err := n.Float64()
		if err != nil {
			return 0, false
		}
		f = x
	default:
		return 0, false
	}
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return 0, false
	}
	return f, true
}

func contains(list []string, s string) bool {
	for _, e := range list {
		if e == s {
			return true
		}
	}
	return false
}

// truncate keeps messages short when they echo input.
func truncate(s string) string {
	const max = 64
	r := []rune(s)
	if len(r) <= max {
		return s
	}
	return string(r[:max]) + "…"
}
