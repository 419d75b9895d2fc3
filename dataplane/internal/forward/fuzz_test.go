package forward

import (
	"encoding/json"
	"net/url"
	"strings"
	"testing"

	"github.com/portcullis/portcullis/shared/model"
)

// FuzzBuild: no argument object makes the mapper panic, send the request to
// another scheme or host, leave the base path, change the number of path
// segments or introduce a dot segment.
func FuzzBuild(f *testing.F) {
	for _, s := range []string{
		`{"id":"1","q":"x","h":"v","body":{}}`, `{"id":"../a"}`, `{"id":"%2e%2e"}`, `{"id":["a","b"]}`,
		`{"id":"//evil"}`, `{"id":"a\\b"}`, `{"id":"\u002e\u002e"}`, `{"id":"http://x@y"}`, `{"id":1e400}`,
		`{"q":["a",{"b":1}]}`, `{"h":"a\r\nb"}`, `[]`, `null`, `{"id":"x","id":"y"}`,
	} {
		f.Add(s)
	}
	base := "https://api.example.test/base"
	tl := tool(base, "POST", "/v1/{id}/x", pathID, queryQ, model.Param{Name: "h", In: "header"}, bodyOpt)
	f.Fuzz(func(t *testing.T, args string) {
		out, err := build(tl, nil, json.RawMessage(args))
		if err != nil {
			return
		}
		u, perr := url.Parse(out.url.String())
		if perr != nil {
			t.Fatalf("built URL does not parse: %v", perr)
		}
		if u.Scheme != "https" || u.Host != "api.example.test" || u.User != nil {
			t.Fatalf("destination changed: %s", out.url)
		}
		p := out.url.EscapedPath()
		segs := strings.Split(p, "/")
		if !strings.HasPrefix(p, "/base/v1/") || !strings.HasSuffix(p, "/x") || len(segs) != 5 {
			t.Fatalf("path shape changed: %s", p)
		}
		if seg, _ := url.PathUnescape(segs[3]); seg == "" || seg == "." || seg == ".." || strings.ContainsAny(seg, "/\\") {
			t.Fatalf("dangerous segment %q", segs[3])
		}
		for name, vs := range out.header {
			for _, v := range vs {
				if strings.ContainsAny(v, "\r\n") || strings.ContainsAny(name, "\r\n: ") {
					t.Fatalf("header injection: %q: %q", name, v)
				}
			}
		}
		if out.body != nil && !json.Valid(out.body) {
			t.Fatalf("body is not JSON: %q", out.body)
		}
	})
}
