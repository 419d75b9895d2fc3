package model

import (
	"errors"
	"strings"
	"testing"
)

// fields returns the field paths of a ValidationError, failing the test on
// any other kind of error.
func fields(t *testing.T, err error) []string {
	t.Helper()
	if err == nil {
		return nil
	}
	var ve ValidationError
	if !errors.As(err, &ve) {
		t.Fatalf("error %v (%T) is not a ValidationError", err, err)
	}
	out := make([]string, len(ve))
	for i, fe := range ve {
		out[i] = fe.Field
		if fe.Message == "" {
			t.Errorf("field %q has an empty message", fe.Field)
		}
	}
	return out
}

// expect checks that err is nil when want is empty, else that it names
// exactly the wanted fields (in any order, duplicates collapsed).
func expect(t *testing.T, err error, want ...string) {
	t.Helper()
	got := fields(t, err)
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

func TestValidationErrorShape(t *testing.T) {
	var p Problems
	if p.Err() != nil {
		t.Fatal("empty Problems must give a nil error")
	}
	p.Add("a", "bad %d", 1)
	p.Merge("list[2]", ValidationError{{Field: "name", Message: "x"}, {Field: "[0]", Message: "y"}, {Field: "", Message: "z"}})
	p.Merge("other", errors.New("plain"))
	got := fields(t, p.Err())
	want := []string{"a", "list[2].name", "list[2][0]", "list[2]", "other"}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("got %v want %v", got, want)
	}
	if msg := p.Err().Error(); !strings.Contains(msg, "a: bad 1") || !strings.Contains(msg, "other: plain") {
		t.Fatalf("message %q", msg)
	}
	if Prefix("tools[3]", nil) != nil {
		t.Fatal("Prefix(nil) must be nil")
	}
	expect(t, Prefix("tools[3]", Tool{}.Validate()), prefixed("tools[3]", fields(t, Tool{}.Validate()))...)
}

func prefixed(prefix string, fs []string) []string {
	out := make([]string, len(fs))
	for i, f := range fs {
		out[i] = prefix + "." + f
	}
	return out
}

func TestTenantValidate(t *testing.T) {
	cases := []struct {
		name string
		in   Tenant
		want []string
	}{
		{"valid", Tenant{ID: "acme-1", Name: "Acme"}, nil},
		{"valid max id", Tenant{ID: "a" + strings.Repeat("b", 63), Name: "x"}, nil},
		{"id too long", Tenant{ID: "a" + strings.Repeat("b", 64), Name: "x"}, []string{"id"}},
		{"id leading dash", Tenant{ID: "-acme", Name: "x"}, []string{"id"}},
		{"id with dot (NATS subject)", Tenant{ID: "a.b", Name: "x"}, []string{"id"}},
		{"id wildcard", Tenant{ID: "*", Name: "x"}, []string{"id"}},
		{"empty", Tenant{}, []string{"id", "name"}},
		{"name too long", Tenant{ID: "a", Name: strings.Repeat("é", 201)}, []string{"name"}},
		{"name control char", Tenant{ID: "a", Name: "a\x1b[31m"}, []string{"name"}},
		{"name bad utf8", Tenant{ID: "a", Name: "\xff"}, []string{"name"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) { expect(t, c.in.Validate(), c.want...) })
	}
}

func TestToolSourceValidate(t *testing.T) {
	ok := ToolSource{Name: "billing", BaseURL: "https://api.example.com/v1", TimeoutMS: 0,
		Headers: map[string]string{"X-Api-Key": "k", "Authorization": "Bearer svc"}}
	mut := func(f func(*ToolSource)) ToolSource { s := ok; s.Headers = map[string]string{}; f(&s); return s }
	cases := []struct {
		name string
		in   ToolSource
		want []string
	}{
		{"valid", ok, nil},
		{"timeout min", mut(func(s *ToolSource) { s.TimeoutMS = 500 }), nil},
		{"timeout max", mut(func(s *ToolSource) { s.TimeoutMS = 5000 }), nil},
		{"timeout low", mut(func(s *ToolSource) { s.TimeoutMS = 499 }), []string{"timeout_ms"}},
		{"timeout high", mut(func(s *ToolSource) { s.TimeoutMS = 5001 }), []string{"timeout_ms"}},
		{"timeout negative", mut(func(s *ToolSource) { s.TimeoutMS = -1 }), []string{"timeout_ms"}},
		{"no name", mut(func(s *ToolSource) { s.Name = "" }), []string{"name"}},
		{"name spaces", mut(func(s *ToolSource) { s.Name = " x" }), []string{"name"}},
		{"relative url", mut(func(s *ToolSource) { s.BaseURL = "/v1" }), []string{"base_url"}},
		{"ftp url", mut(func(s *ToolSource) { s.BaseURL = "ftp://h/x" }), []string{"base_url"}},
		{"file url", mut(func(s *ToolSource) { s.BaseURL = "file:///etc/passwd" }), []string{"base_url"}},
		{"userinfo", mut(func(s *ToolSource) { s.BaseURL = "https://u:p@h/" }), []string{"base_url"}},
		{"fragment", mut(func(s *ToolSource) { s.BaseURL = "https://h/#x" }), []string{"base_url"}},
		{"query", mut(func(s *ToolSource) { s.BaseURL = "https://h/?a=1" }), []string{"base_url"}},
		{"no url", mut(func(s *ToolSource) { s.BaseURL = "" }), []string{"base_url"}},
		{"host header", mut(func(s *ToolSource) { s.Headers["host"] = "evil" }), []string{"headers.host"}},
		{"content-length", mut(func(s *ToolSource) { s.Headers["Content-Length"] = "1" }), []string{"headers.Content-Length"}},
		{"portcullis header", mut(func(s *ToolSource) { s.Headers["Portcullis-Signature"] = "t=1" }), []string{"headers.Portcullis-Signature"}},
		{"x-portcullis header", mut(func(s *ToolSource) { s.Headers["X-Portcullis-User"] = "admin" }), []string{"headers.X-Portcullis-User"}},
		{"hop by hop", mut(func(s *ToolSource) { s.Headers["Transfer-Encoding"] = "chunked" }), []string{"headers.Transfer-Encoding"}},
		{"forwarded for", mut(func(s *ToolSource) { s.Headers["X-Forwarded-For"] = "1.2.3.4" }), []string{"headers.X-Forwarded-For"}},
		{"bad header name", mut(func(s *ToolSource) { s.Headers["Bad Header"] = "v" }), []string{"headers.Bad Header"}},
		{"header injection", mut(func(s *ToolSource) { s.Headers["X-A"] = "v\r\nHost: evil" }), []string{"headers.X-A"}},
		{"header value too long", mut(func(s *ToolSource) { s.Headers["X-A"] = strings.Repeat("v", 4097) }), []string{"headers.X-A"}},
		{"too many headers", mut(func(s *ToolSource) {
			for i := range 51 {
				s.Headers["X-H"+strings.Repeat("a", i)] = "v"
			}
		}), []string{"headers"}},
		{"everything wrong", ToolSource{TimeoutMS: 1, Headers: map[string]string{"Host": "x"}}, []string{"name", "base_url", "timeout_ms", "headers.Host"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) { expect(t, c.in.Validate(), c.want...) })
	}
}

func validTool() Tool {
	return Tool{
		Name: "orders.get", Description: "Get an order", BaseURL: "https://api.example.com",
		Method: "GET", Path: "/orders/{id}/lines/{line}",
		Params: []Param{{Name: "id", In: "path", Required: true}, {Name: "line", In: "path", Required: true},
			{Name: "verbose", In: "query"}, {Name: "X-Trace", In: "header"}},
		InputSchema: map[string]any{
			"type": "object",
			"properties": map[string]any{
				"id":   map[string]any{"type": "string", "pattern": "^[0-9]+$"},
				"line": map[string]any{"$ref": "#/$defs/line"},
			},
			"required": []any{"id"},
			"$defs":    map[string]any{"line": map[string]any{"type": "integer", "minimum": 1}},
		},
		TimeoutMS: 1000,
	}
}

func TestToolValidate(t *testing.T) {
	mut := func(f func(*Tool)) Tool { tl := validTool(); f(&tl); return tl }
	cases := []struct {
		name string
		in   Tool
		want []string
	}{
		{"valid", validTool(), nil},
		{"valid 2020-12 declared", mut(func(tl *Tool) { tl.InputSchema["$schema"] = "https://json-schema.org/draft/2020-12/schema" }), nil},
		{"valid output schema", mut(func(tl *Tool) { tl.OutputSchema = map[string]any{"type": "object"} }), nil},
		{"name 64", mut(func(tl *Tool) { tl.Name = strings.Repeat("a", 64) }), nil},
		{"name 65", mut(func(tl *Tool) { tl.Name = strings.Repeat("a", 65) }), []string{"name"}},
		{"name space", mut(func(tl *Tool) { tl.Name = "get order" }), []string{"name"}},
		{"name slash", mut(func(tl *Tool) { tl.Name = "a/b" }), []string{"name"}},
		{"name empty", mut(func(tl *Tool) { tl.Name = "" }), []string{"name"}},
		{"description 2000", mut(func(tl *Tool) { tl.Description = strings.Repeat("é", 2000) }), nil},
		{"description 2001", mut(func(tl *Tool) { tl.Description = strings.Repeat("é", 2001) }), []string{"description"}},
		{"method lower", mut(func(tl *Tool) { tl.Method = "get" }), []string{"method"}},
		{"method TRACE", mut(func(tl *Tool) { tl.Method = "TRACE" }), []string{"method"}},
		{"path relative", mut(func(tl *Tool) { tl.Path = "orders" }), []string{"path"}},
		{"path query", mut(func(tl *Tool) { tl.Path = "/orders?x=1" }), []string{"path"}},
		{"path undeclared template", mut(func(tl *Tool) { tl.Path = "/orders/{id}/lines/{line}/{x}" }), []string{"path"}},
		{"path template declared in query", mut(func(tl *Tool) { tl.Path = "/orders/{id}/lines/{line}/{verbose}" }), []string{"path"}},
		{"path unbalanced", mut(func(tl *Tool) { tl.Path = "/orders/{id/lines/{line}" }), []string{"path"}},
		{"path unbalanced close", mut(func(tl *Tool) { tl.Path = "/orders/id}/{id}/{line}" }), []string{"path"}},
		{"path empty template", mut(func(tl *Tool) { tl.Path = "/orders/{}/{id}/{line}" }), []string{"path"}},
		{"path param unused", mut(func(tl *Tool) { tl.Path = "/orders/{id}" }), []string{"params[1].name"}},
		{"path param not required", mut(func(tl *Tool) { tl.Params[0].Required = false }), []string{"params[0].required"}},
		{"param bad in", mut(func(tl *Tool) { tl.Params[2].In = "cookie" }), []string{"params[2].in"}},
		{"param duplicate", mut(func(tl *Tool) {
			tl.Params[2] = Param{Name: "verbose", In: "query"}
			tl.Params = append(tl.Params, tl.Params[2])
		}), []string{"params[4].name"}},
		{"param reserved header", mut(func(tl *Tool) { tl.Params[3].Name = "Host" }), []string{"params[3].name"}},
		{"param signature header", mut(func(tl *Tool) { tl.Params[3].Name = "portcullis-signature" }), []string{"params[3].name"}},
		{"no base url", mut(func(tl *Tool) { tl.BaseURL = "" }), []string{"base_url"}},
		{"base url javascript", mut(func(tl *Tool) { tl.BaseURL = "javascript:alert(1)" }), []string{"base_url"}},
		{"timeout 0 default", mut(func(tl *Tool) { tl.TimeoutMS = 0 }), nil},
		{"timeout 100", mut(func(tl *Tool) { tl.TimeoutMS = 100 }), []string{"timeout_ms"}},
		{"no input schema", mut(func(tl *Tool) { tl.InputSchema = nil }), []string{"input_schema"}},
		{"schema not object", mut(func(tl *Tool) { tl.InputSchema["type"] = "string" }), []string{"input_schema"}},
		{"schema no type", mut(func(tl *Tool) { delete(tl.InputSchema, "type") }), []string{"input_schema"}},
		{"schema bad keyword type", mut(func(tl *Tool) { tl.InputSchema["required"] = "id" }), []string{"input_schema"}},
		{"schema bad pattern", mut(func(tl *Tool) {
			tl.InputSchema["properties"] = map[string]any{"id": map[string]any{"pattern": "(?<=x)"}}
		}), []string{"input_schema"}},
		{"schema remote ref", mut(func(tl *Tool) {
			tl.InputSchema["properties"] = map[string]any{"id": map[string]any{"$ref": "https://example.com/s.json"}}
		}), []string{"input_schema"}},
		{"schema file ref", mut(func(tl *Tool) {
			tl.InputSchema["properties"] = map[string]any{"id": map[string]any{"$ref": "file:///etc/passwd"}}
		}), []string{"input_schema"}},
		{"schema relative ref", mut(func(tl *Tool) {
			tl.InputSchema["properties"] = map[string]any{"id": map[string]any{"$ref": "other.json"}}
		}), []string{"input_schema"}},
		{"schema dangling local ref", mut(func(tl *Tool) {
			tl.InputSchema["properties"] = map[string]any{"id": map[string]any{"$ref": "#/$defs/nope"}}
		}), []string{"input_schema"}},
		{"schema draft-07", mut(func(tl *Tool) { tl.InputSchema["$schema"] = "http://json-schema.org/draft-07/schema#" }), []string{"input_schema"}},
		{"schema remote metaschema", mut(func(tl *Tool) { tl.InputSchema["$schema"] = "https://evil.example/meta" }), []string{"input_schema"}},
		{"output schema not object", mut(func(tl *Tool) { tl.OutputSchema = map[string]any{"type": "array"} }), []string{"output_schema"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) { expect(t, c.in.Validate(), c.want...) })
	}
}

func TestToolRemoteRefMessage(t *testing.T) {
	tl := validTool()
	tl.InputSchema["properties"] = map[string]any{"id": map[string]any{"$ref": "http://169.254.169.254/latest"}}
	err := tl.Validate()
	if err == nil || !strings.Contains(err.Error(), "remote and file references are not allowed") {
		t.Fatalf("want the no-remote message, got %v", err)
	}
}

func TestAccessRuleValidate(t *testing.T) {
	ok := AccessRule{Name: "support reads", Tools: []string{"orders.*", "customers.get", "*"}, Roles: []string{"support"}}
	mut := func(f func(*AccessRule)) AccessRule {
		r := ok
		r.Tools = append([]string(nil), ok.Tools...)
		f(&r)
		return r
	}
	many := make([]string, 101)
	for i := range many {
		many[i] = "t"
	}
	cases := []struct {
		name string
		in   AccessRule
		want []string
	}{
		{"valid", ok, nil},
		{"permissions only", mut(func(r *AccessRule) { r.Roles = nil; r.Permissions = []string{"orders:read"} }), nil},
		{"no grants", mut(func(r *AccessRule) { r.Roles = nil }), []string{"roles"}},
		{"empty role", mut(func(r *AccessRule) { r.Roles = []string{" "} }), []string{"roles[0]"}},
		{"long permission", mut(func(r *AccessRule) { r.Permissions = []string{strings.Repeat("p", 201)} }), []string{"permissions[0]"}},
		{"no tools", mut(func(r *AccessRule) { r.Tools = nil }), []string{"tools"}},
		{"too many tools", mut(func(r *AccessRule) { r.Tools = many }), []string{"tools"}},
		{"bad pattern bracket", mut(func(r *AccessRule) { r.Tools[0] = "orders.[" }), []string{"tools[0]"}},
		{"bad pattern question", mut(func(r *AccessRule) { r.Tools[1] = "orders.?" }), []string{"tools[1]"}},
		{"bad pattern space", mut(func(r *AccessRule) { r.Tools[1] = "a b" }), []string{"tools[1]"}},
		{"empty pattern", mut(func(r *AccessRule) { r.Tools[1] = "" }), []string{"tools[1]"}},
		{"no name", mut(func(r *AccessRule) { r.Name = "" }), []string{"name"}},
		{"name 101", mut(func(r *AccessRule) { r.Name = strings.Repeat("n", 101) }), []string{"name"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) { expect(t, c.in.Validate(), c.want...) })
	}
}

func TestMatchTool(t *testing.T) {
	cases := []struct {
		pattern, name string
		want          bool
	}{
		{"orders.get", "orders.get", true},
		{"orders.get", "orders.gets", false},
		{"orders.*", "orders.get", true},
		{"orders.*", "orders.a.b", true},
		{"orders.*", "orders", false},
		{"orders.*", "ordersx.get", false},
		{"*", "anything", true},
		{"*_admin", "users_admin", true},
		{"*_admin", "users_admins", false},
		{"a*c", "abbbc", true},
		{"orders.?et", "orders.get", false}, // '?' is not pattern syntax here
		{"[a-z]*", "orders", false},         // nor are classes
		{"", "", false},
		{"orders\\.get", "orders.get", false},
	}
	for _, c := range cases {
		if got := MatchTool(c.pattern, c.name); got != c.want {
			t.Errorf("MatchTool(%q, %q) = %v, want %v", c.pattern, c.name, got, c.want)
		}
	}
}

func TestHookValidate(t *testing.T) {
	ok := Hook{Name: "audit", Events: []string{"CALL_TOOL", "LIST_TOOLS"}, Code: "function onEvent(e) { return {verdict: 'allow'} }",
		TimeoutMS: 5000, FailMode: "closed"}
	mut := func(f func(*Hook)) Hook { h := ok; h.Events = append([]string(nil), ok.Events...); f(&h); return h }
	cases := []struct {
		name string
		in   Hook
		want []string
	}{
		{"valid", ok, nil},
		{"one event", mut(func(h *Hook) { h.Events = []string{"LIST_TOOLS"} }), nil},
		{"tools", mut(func(h *Hook) { h.Tools = []string{"orders.*"} }), nil},
		{"bad tool pattern", mut(func(h *Hook) { h.Tools = []string{"orders/*"} }), []string{"tools[0]"}},
		{"no events", mut(func(h *Hook) { h.Events = nil }), []string{"events"}},
		{"unknown event", mut(func(h *Hook) { h.Events[1] = "call_tool" }), []string{"events[1]"}},
		{"duplicate event", mut(func(h *Hook) { h.Events[1] = "CALL_TOOL" }), []string{"events[1]"}},
		{"too many events", mut(func(h *Hook) { h.Events = append(h.Events, "CALL_TOOL") }), []string{"events"}},
		{"no code", mut(func(h *Hook) { h.Code = "  \n" }), []string{"code"}},
		{"code 100KB", mut(func(h *Hook) { h.Code = h.Code + "\n//" + strings.Repeat("x", 100<<10-len(h.Code)-3) }), nil},
		{"arrow onEvent", mut(func(h *Hook) { h.Code = "const onEvent = (e) => ({verdict: 'deny'});" }), nil},
		{"var function onEvent", mut(func(h *Hook) { h.Code = "var onEvent = function (e) { return {verdict: 'allow'} };" }), nil},
		{"async onEvent", mut(func(h *Hook) { h.Code = "async function onEvent(e) { return {verdict: 'allow'} }" }), nil},
		{"syntax error", mut(func(h *Hook) { h.Code = "function onEvent(e) { return {verdict: 'allow' }" }), []string{"code"}},
		{"no onEvent", mut(func(h *Hook) { h.Code = "function handle(e) { return {} }" }), []string{"code"}},
		{"onEvent not a function", mut(func(h *Hook) { h.Code = "var onEvent = 42;" }), []string{"code"}},
		{"nested onEvent only", mut(func(h *Hook) { h.Code = "function outer() { function onEvent(e) {} }" }), []string{"code"}},
		{"source map file", mut(func(h *Hook) { h.Code += "\n//# sourceMappingURL=/dev/zero" }), []string{"code"}},
		{"source map legacy", mut(func(h *Hook) { h.Code += "\n//@ sourceMappingURL=/etc/passwd" }), []string{"code"}},
		{"deep nesting (parser backtracking)", mut(func(h *Hook) { h.Code = strings.Repeat("(", 100<<10) }), []string{"code"}},
		{"nesting 64", mut(func(h *Hook) {
			h.Code += "\nvar x = " + strings.Repeat("[", 63) + strings.Repeat("]", 63) + ";"
		}), nil},
		{"nesting 65", mut(func(h *Hook) {
			h.Code += "\nvar x = " + strings.Repeat("[", 65) + strings.Repeat("]", 65) + ";"
		}), []string{"code"}},
		{"code too big", mut(func(h *Hook) { h.Code = strings.Repeat("x", 100<<10+1) }), []string{"code"}},
		{"timeout 100", mut(func(h *Hook) { h.TimeoutMS = 100 }), nil},
		{"timeout 10000", mut(func(h *Hook) { h.TimeoutMS = 10000 }), nil},
		{"timeout 99", mut(func(h *Hook) { h.TimeoutMS = 99 }), []string{"timeout_ms"}},
		{"timeout 10001", mut(func(h *Hook) { h.TimeoutMS = 10001 }), []string{"timeout_ms"}},
		{"timeout 0", mut(func(h *Hook) { h.TimeoutMS = 0 }), []string{"timeout_ms"}},
		{"fail open", mut(func(h *Hook) { h.FailMode = "open" }), nil},
		{"fail mode upper", mut(func(h *Hook) { h.FailMode = "OPEN" }), []string{"fail_mode"}},
		{"fail mode empty", mut(func(h *Hook) { h.FailMode = "" }), []string{"fail_mode"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) { expect(t, c.in.Validate(), c.want...) })
	}
}

func TestMaskingRuleValidate(t *testing.T) {
	ok := MaskingRule{Name: "pii", Detectors: []string{"email", "credit_card"}, Action: "redact"}
	mut := func(f func(*MaskingRule)) MaskingRule {
		m := ok
		m.Detectors = append([]string(nil), ok.Detectors...)
		f(&m)
		return m
	}
	cases := []struct {
		name string
		in   MaskingRule
		want []string
	}{
		{"valid", ok, nil},
		{"all detectors", mut(func(m *MaskingRule) { m.Detectors = KnownDetectors }), nil},
		{"pattern only", mut(func(m *MaskingRule) { m.Detectors = nil; m.Pattern = `\bACME-[0-9]{6}\b`; m.Action = "hash" }), nil},
		{"paths only", mut(func(m *MaskingRule) {
			m.Detectors = nil
			m.JSONPaths = []string{"$.a.b[*].c", "$.x[0]", "$.*"}
			m.Action = "partial"
		}), nil},
		{"nothing to mask", mut(func(m *MaskingRule) { m.Detectors = nil }), []string{"detectors"}},
		{"unknown detector", mut(func(m *MaskingRule) { m.Detectors[1] = "ssn" }), []string{"detectors[1]"}},
		{"duplicate detector", mut(func(m *MaskingRule) { m.Detectors[1] = "email" }), []string{"detectors[1]"}},
		{"too many detectors", mut(func(m *MaskingRule) { m.Detectors = append(append([]string{}, KnownDetectors...), "email") }), []string{"detectors"}},
		{"bad regex", mut(func(m *MaskingRule) { m.Pattern = "(a" }), []string{"pattern"}},
		{"perl lookahead", mut(func(m *MaskingRule) { m.Pattern = "a(?=b)" }), []string{"pattern"}},
		{"regex too long", mut(func(m *MaskingRule) { m.Pattern = strings.Repeat("a", 1001) }), []string{"pattern"}},
		{"bad path", mut(func(m *MaskingRule) { m.JSONPaths = []string{"$.a", "a.b"} }), []string{"json_paths[1]"}},
		{"root path", mut(func(m *MaskingRule) { m.JSONPaths = []string{"$"} }), []string{"json_paths[0]"}},
		{"bad action", mut(func(m *MaskingRule) { m.Action = "drop" }), []string{"action"}},
		{"bad tools", mut(func(m *MaskingRule) { m.Tools = []string{"x y"} }), []string{"tools[0]"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) { expect(t, c.in.Validate(), c.want...) })
	}
}

func TestParseJSONPath(t *testing.T) {
	good := map[string][]PathSegment{
		"$.a":            {{Kind: SegmentMember, Name: "a"}},
		"$.a.b[*].c":     {{Kind: SegmentMember, Name: "a"}, {Kind: SegmentMember, Name: "b"}, {Kind: SegmentAnyIndex}, {Kind: SegmentMember, Name: "c"}},
		"$[0]":           {{Kind: SegmentIndex, Index: 0}},
		"$.items[12].*":  {{Kind: SegmentMember, Name: "items"}, {Kind: SegmentIndex, Index: 12}, {Kind: SegmentAnyMember}},
		"$.user-id.$ref": {{Kind: SegmentMember, Name: "user-id"}, {Kind: SegmentMember, Name: "$ref"}},
		"$.a_1[*][3]":    {{Kind: SegmentMember, Name: "a_1"}, {Kind: SegmentAnyIndex}, {Kind: SegmentIndex, Index: 3}},
	}
	for in, want := range good {
		got, err := ParseJSONPath(in)
		if err != nil {
			t.Errorf("%q: %v", in, err)
			continue
		}
		if len(got) != len(want) {
			t.Errorf("%q: got %v want %v", in, got, want)
			continue
		}
		for i := range got {
			if got[i] != want[i] {
				t.Errorf("%q segment %d: got %+v want %+v", in, i, got[i], want[i])
			}
		}
	}
	bad := []string{"", "$", "a.b", "$.", "$..a", "$.a.", "$[", "$[]", "$[-1]", "$[-0]", "$[+1]", "$[01]", "$[1.5]",
		"$['a']", "$.a b", "$[?(@.x)]", "$.a[*", "$" + strings.Repeat(".a", 33), "$." + strings.Repeat("a", 300),
		"$[99999999999999999999]"}
	for _, in := range bad {
		if _, err := ParseJSONPath(in); err == nil {
			t.Errorf("%q: want an error", in)
		}
	}
}

func TestValidEmailAndWebhook(t *testing.T) {
	for _, e := range []string{"a@b.example", "first.last+tag@sub.example.com"} {
		if !ValidEmail(e) {
			t.Errorf("%q should be valid", e)
		}
	}
	for _, e := range []string{"", "a", "A <a@b.example>", "a@", "@b", "a@b.example\n", strings.Repeat("a", 250) + "@b.example"} {
		if ValidEmail(e) {
			t.Errorf("%q should be invalid", e)
		}
	}
	hooks := map[string]bool{
		"https://hooks.example.com/x": true,
		"http://127.0.0.1:9000/x":     true,
		"http://[::1]/x":              true,
		"http://localhost:8080/x":     true,
		"http://hooks.example.com/x":  false,
		"http://10.0.0.1/x":           false,
		"ftp://h/x":                   false,
		"https://u:p@h/x":             false,
		"/relative":                   false,
	}
	for u, want := range hooks {
		var p Problems
		CheckWebhookURL(&p, "w", u)
		if got := p.Err() == nil; got != want {
			t.Errorf("CheckWebhookURL(%q) ok=%v want %v (%v)", u, got, want, p.Err())
		}
	}
}
