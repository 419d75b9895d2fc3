package model

import (
	"encoding/json"
	"strings"
	"testing"
)

// FuzzParseJSONPath: any string parses or fails cleanly, and a path that
// parses stays within the documented limits.
func FuzzParseJSONPath(f *testing.F) {
	for _, s := range []string{"$.a.b[*].c", "$[0]", "$.*", "$..a", "$[", "$[99999999999999999999]", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		segs, err := ParseJSONPath(s)
		if err != nil {
			return
		}
		if len(segs) == 0 || len(segs) > MaxJSONPathDepth || !strings.HasPrefix(s, "$") {
			t.Fatalf("%q parsed to %v", s, segs)
		}
	})
}

// FuzzToolValidate feeds arbitrary JSON tools (schemas included) to
// validation: it must answer without panicking or touching the network.
func FuzzToolValidate(f *testing.F) {
	for _, s := range []string{
		`{"name":"a","method":"GET","path":"/x/{id}","base_url":"https://h","params":[{"name":"id","in":"path","required":true}],"input_schema":{"type":"object"}}`,
		`{"input_schema":{"type":"object","properties":{"a":{"$ref":"#/$defs/b"}},"$defs":{"b":{"$ref":"#/$defs/a"},"a":{"$ref":"#/$defs/b"}}}}`,
		`{"input_schema":{"type":"object","$id":"https://other.example/x","properties":{"a":{"$ref":"y"}}}}`,
		`{"input_schema":{"type":"object","$dynamicRef":"#meta"}}`,
		`{"path":"/{a}{b}}{"}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var tl Tool
		if err := json.Unmarshal(data, &tl); err != nil {
			return
		}
		_ = tl.Validate()
	})
}

// FuzzHookCode: hook code from an admin is parsed, never run; parsing must
// answer for any input.
func FuzzHookCode(f *testing.F) {
	for _, s := range []string{
		"function onEvent(e) { return {verdict: 'allow'} }",
		"const onEvent = (e) => ({verdict: 'deny'});",
		"//# sourceMappingURL=/dev/zero",
		"(((((a)=>a)))",
		"`${`${`${1}`}`}`",
		"/(?<=a)b/u; function onEvent(){}",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, code string) {
		_ = Hook{Name: "h", Events: []string{EventCallTool}, Code: code, TimeoutMS: 1000, FailMode: FailOpen}.Validate()
	})
}
