package forward

import (
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/require"

	"github.com/portcullis/portcullis/shared/backendsig"
	"github.com/portcullis/portcullis/shared/model"
)

var (
	pathID   = model.Param{Name: "id", In: "path", Required: true}
	bodyOpt  = model.Param{Name: "body", In: "body"}
	bodyReq  = model.Param{Name: "body", In: "body", Required: true}
	queryQ   = model.Param{Name: "q", In: "query"}
	queryReq = model.Param{Name: "limit", In: "query", Required: true}
)

func TestParamLocations(t *testing.T) {
	b := newBackend(t, keysOf(keyA), nil)
	f := newForwarder(t, Config{})
	tests := []struct {
		name       string
		tool       model.Tool
		args       string
		wantURI    string
		wantBody   string
		wantHeader map[string]string
	}{
		{"path, query and body under a base path",
			tool(b.URL+"/api/", "POST", "/v1/items/{id}/notes", pathID, queryQ, model.Param{Name: "limit", In: "query"}, bodyReq),
			`{"id":"it-7","q":"a b&c=d","limit":10,"body":{ "text" : "hi", "n": 1e3 }}`,
			"/api/v1/items/it-7/notes?limit=10&q=a+b%26c%3Dd", `{"text":"hi","n":1e3}`,
			map[string]string{"Content-Type": "application/json"}},
		{"numbers and booleans as written, arrays repeat the key",
			tool(b.URL, "GET", "/v1/items", model.Param{Name: "n", In: "query"}, model.Param{Name: "flag", In: "query"}, model.Param{Name: "tag", In: "query"}),
			`{"n":12345678901234567890,"flag":false,"tag":["x","y z",3]}`,
			"/v1/items?flag=false&n=12345678901234567890&tag=x&tag=y+z&tag=3", "", nil},
		{"header params, arrays joined",
			tool(b.URL, "GET", "/v1/items", model.Param{Name: "X-Trace-Id", In: "header"}, model.Param{Name: "X-Tags", In: "header"}),
			`{"X-Trace-Id":"abc-123","X-Tags":["a","b"]}`,
			"/v1/items", "", map[string]string{"X-Trace-Id": "abc-123", "X-Tags": "a,b"}},
		{"null and absent optional params are left out",
			tool(b.URL, "DELETE", "/v1/items/{id}", pathID, queryQ, model.Param{Name: "X-Opt", In: "header"}, bodyOpt),
			`{"id":"42","q":null,"body":null}`,
			"/v1/items/42", "", nil},
		{"undeclared arguments are not forwarded",
			tool(b.URL, "GET", "/v1/items", queryQ),
			`{"q":"x","Portcullis-User-Id":"admin","X-Other":"1","extra":"y"}`,
			"/v1/items?q=x", "", nil},
		{"array path param, simple style",
			tool(b.URL, "GET", "/v1/items/{id}", pathID),
			`{"id":["a","b c"]}`,
			"/v1/items/a,b%20c", "", nil},
		{"no arguments at all",
			tool(b.URL, "GET", "/v1/items"), ``, "/v1/items", "", nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res := forward(t, f, call(tc.tool, tc.args))
			require.False(t, res.IsError, res.Text)
			require.Equal(t, 200, res.Status)
			got := b.last(t)
			require.Equal(t, tc.tool.Method, got.Method)
			require.Equal(t, tc.wantURI, got.RequestURI)
			require.Equal(t, tc.wantBody, got.Body)
			for k, v := range tc.wantHeader {
				require.Equal(t, v, got.Header.Get(k), k)
			}
			require.Equal(t, "user-1", got.Header.Get(backendsig.UserHeader), "the agent cannot set identity headers")
			require.Empty(t, got.Header.Get("X-Other"))
		})
	}
}

// TestTraversal: no argument changes the path shape or the destination. A
// refused call never reaches the backend.
func TestTraversal(t *testing.T) {
	b := newBackend(t, keysOf(keyA), nil)
	f := newForwarder(t, Config{})
	tl := tool(b.URL+"/api", "GET", "/v1/orders/{id}/items", pathID, queryQ, model.Param{Name: "X-Note", In: "header"})
	tests := []struct {
		name    string
		args    string
		wantURI string // "" → refused as bad arguments
	}{
		{"dot dot slash", `{"id":"../admin"}`, ""},
		{"dot dot", `{"id":".."}`, ""},
		{"dot", `{"id":"."}`, ""},
		{"empty", `{"id":""}`, ""},
		{"slash", `{"id":"a/b"}`, ""},
		{"backslash", `{"id":"..\\admin"}`, ""},
		{"absolute URL in path", `{"id":"http://evil.example/x"}`, ""},
		{"protocol-relative", `{"id":"//evil.example"}`, ""},
		{"dot dot in array", `{"id":["ok",".."]}`, ""},
		{"NUL", `{"id":"a\u0000b"}`, ""},
		{"CRLF", `{"id":"a\r\nHost: evil"}`, ""},
		{"missing", `{}`, ""},
		{"null", `{"id":null}`, ""},
		{"object", `{"id":{"a":1}}`, ""},
		{"nested array", `{"id":[["a"]]}`, ""},
		{"too long", `{"id":"` + strings.Repeat("a", maxPathValue+1) + `"}`, ""},
		{"encoded slash stays literal", `{"id":"%2f"}`, "/api/v1/orders/%252f/items"},
		{"encoded traversal stays literal", `{"id":"%2e%2e%2fadmin"}`, "/api/v1/orders/%252e%252e%252fadmin/items"},
		{"double encoded", `{"id":"%252f"}`, "/api/v1/orders/%25252f/items"},
		{"dots inside a value are fine", `{"id":"v1..2"}`, "/api/v1/orders/v1..2/items"},
		{"query, fragment and space escaped", `{"id":"a b?c#d"}`, "/api/v1/orders/a%20b%3Fc%23d/items"},
		{"unicode", `{"id":"ünï"}`, "/api/v1/orders/%C3%BCn%C3%AF/items"},
		{"absolute URL in query is just a value", `{"id":"1","q":"http://evil.example/?a=b"}`, "/api/v1/orders/1/items?q=http%3A%2F%2Fevil.example%2F%3Fa%3Db"},
		{"header injection", `{"id":"1","X-Note":"a\r\nPortcullis-User-Id: admin"}`, ""},
		{"duplicate key", `{"id":"1","id":"../x"}`, ""},
		{"not an object", `["id"]`, ""},
		{"trailing data", `{"id":"1"} {"id":"2"}`, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := len(b.got())
			res := forward(t, f, call(tl, tc.args))
			if tc.wantURI == "" {
				require.True(t, res.IsError)
				require.Zero(t, res.Status)
				require.Contains(t, res.Text, "arguments cannot be sent")
				require.Len(t, b.got(), before, "a refused call must not reach the backend")
				return
			}
			require.False(t, res.IsError, res.Text)
			require.Equal(t, tc.wantURI, b.last(t).RequestURI)
		})
	}
}

// TestDestinationFixed: even a hostile tool path or base URL (a bad bundle)
// cannot make arguments pick the host.
func TestMisconfiguredTool(t *testing.T) {
	b := newBackend(t, keysOf(keyA), nil)
	f := newForwarder(t, Config{})
	tests := []struct {
		name string
		tool model.Tool
		src  *model.ToolSource
	}{
		{"ftp base", tool("ftp://example.test", "GET", "/x"), nil},
		{"relative base", tool("/relative", "GET", "/x"), nil},
		{"user info", tool("http://u:p@127.0.0.1:1", "GET", "/x"), nil},
		{"query in base", tool(b.URL+"?a=b", "GET", "/x"), nil},
		{"path without slash", tool(b.URL, "GET", "x"), nil},
		{"query in path", tool(b.URL, "GET", "/x?admin=1"), nil},
		{"undeclared template", tool(b.URL, "GET", "/x/{id}"), nil},
		{"unbalanced template", tool(b.URL, "GET", "/x/{id", pathID), nil},
		{"method HEAD", tool(b.URL, "HEAD", "/x"), nil},
		{"param sets Authorization", tool(b.URL, "GET", "/x", model.Param{Name: "Authorization", In: "header"}), nil},
		{"param sets Host", tool(b.URL, "GET", "/x", model.Param{Name: "host", In: "header"}), nil},
		{"param sets identity", tool(b.URL, "GET", "/x", model.Param{Name: "Portcullis-Tenant-Id", In: "header"}), nil},
		{"param sets Cookie", tool(b.URL, "GET", "/x", model.Param{Name: "Cookie", In: "header"}), nil},
		{"param sets Transfer-Encoding", tool(b.URL, "GET", "/x", model.Param{Name: "Transfer-Encoding", In: "header"}), nil},
		{"bad header name", tool(b.URL, "GET", "/x", model.Param{Name: "X Bad", In: "header"}), nil},
		{"source sets signature", tool(b.URL, "GET", "/x"), &model.ToolSource{Headers: map[string]string{"Portcullis-Signature": "t=1"}}},
		{"source sets Content-Length", tool(b.URL, "GET", "/x"), &model.ToolSource{Headers: map[string]string{"Content-Length": "0"}}},
		{"source header CRLF", tool(b.URL, "GET", "/x"), &model.ToolSource{Headers: map[string]string{"X-Key": "a\r\nX: y"}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := call(tc.tool, `{"Authorization":"Bearer x","host":"evil","Portcullis-Tenant-Id":"globex","Cookie":"a=b","X Bad":"1","Transfer-Encoding":"chunked"}`)
			c.Source = tc.src
			res := forward(t, f, c)
			require.True(t, res.IsError)
			require.Equal(t, "The tool is misconfigured; the call was not sent.", res.Text)
			require.Empty(t, b.got())
		})
	}
}

func TestSourceHeaders(t *testing.T) {
	b := newBackend(t, keysOf(keyA), nil)
	f := newForwarder(t, Config{})
	tl := tool(b.URL, "GET", "/x", model.Param{Name: "X-Api-Key", In: "header"}, model.Param{Name: "X-Trace", In: "header"})
	c := call(tl, `{"X-Api-Key":"agent's guess","X-Trace":"t1"}`)
	c.Source = &model.ToolSource{Headers: map[string]string{"Authorization": "Bearer platform-key", "X-Api-Key": "platform"}}
	res := forward(t, f, c)
	require.False(t, res.IsError, res.Text)
	got := b.last(t)
	require.Equal(t, "Bearer platform-key", got.Header.Get("Authorization"), "a source may give the backend a credential")
	require.Equal(t, "platform", got.Header.Get("X-Api-Key"), "source headers win over arguments")
	require.Equal(t, "t1", got.Header.Get("X-Trace"))
	require.Equal(t, userAgent, got.Header.Get("User-Agent"))
	require.Equal(t, "application/json", got.Header.Get("Accept"))
}

func TestIdentityHeaders(t *testing.T) {
	b := newBackend(t, keysOf(keyA), nil)
	f := newForwarder(t, Config{})
	c := call(tool(b.URL, "POST", "/x", bodyOpt), `{"body":{"a":1}}`)
	c.Tenant, c.User, c.RequestID = "globex", "auth0|user-9", "req-identity-1"
	res := forward(t, f, c)
	require.False(t, res.IsError, res.Text)
	got := b.last(t)
	require.Equal(t, backendsig.Identity{Tenant: "globex", User: "auth0|user-9", RequestID: "req-identity-1"}, got.Identity)
	require.Equal(t, "globex", got.Header.Get(backendsig.TenantHeader))
	require.Equal(t, "auth0|user-9", got.Header.Get(backendsig.UserHeader))
	require.Equal(t, "req-identity-1", got.Header.Get(backendsig.RequestIDHeader))
	require.True(t, strings.HasPrefix(got.Header.Get(backendsig.SignatureHeader), "t="))
}

func TestKeyRotation(t *testing.T) {
	both := backendsig.Signer{Keys: []backendsig.Key{keyA, keyB}}
	tests := []struct {
		name     string
		backend  map[string][]byte
		signer   backendsig.Signer
		accepted bool
	}{
		{"backend knows old key", keysOf(keyA), both, true},
		{"backend knows new key", keysOf(keyB), both, true},
		{"backend knows both", keysOf(keyA, keyB), both, true},
		{"gateway dropped the backend's key", keysOf(keyA), backendsig.Signer{Keys: []backendsig.Key{keyB}}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b := newBackend(t, tc.backend, nil)
			f := newForwarder(t, Config{})
			c := call(tool(b.URL, "GET", "/x"), `{}`)
			c.Signer = tc.signer
			res := forward(t, f, c)
			require.Equal(t, !tc.accepted, res.IsError, res.Text)
			if tc.accepted {
				h, err := backendsig.ParseHeader(b.last(t).Header.Get(backendsig.SignatureHeader))
				require.NoError(t, err)
				require.Len(t, h.Signatures, 2)
				return
			}
			require.Equal(t, http.StatusUnauthorized, res.Status)
		})
	}
}

func TestNoKeys(t *testing.T) {
	b := newBackend(t, keysOf(keyA), nil)
	f := newForwarder(t, Config{})
	c := call(tool(b.URL, "GET", "/x"), `{}`)
	c.Signer = backendsig.Signer{}
	res := forward(t, f, c)
	require.True(t, res.IsError)
	require.Contains(t, res.Text, "could not be signed")
	require.Empty(t, b.got())
	require.Zero(t, b.rejected, "an unsigned request is never sent")
}

func TestResults(t *testing.T) {
	big := strings.Repeat("x", 64)
	tests := []struct {
		name        string
		respond     http.HandlerFunc
		want        Result
		textHas     string
		textHasNot  []string
		structured  bool
		checkStruct func(t *testing.T, m map[string]any)
	}{
		{name: "JSON object", respond: reply(200, "application/json", `{"id":"o1","amount":12345678901234567890,"nested":{"a":[1,2]}}`),
			want: Result{Status: 200}, structured: true, checkStruct: func(t *testing.T, m map[string]any) {
				require.Equal(t, "o1", m["id"])
				require.Equal(t, json.Number("12345678901234567890"), m["amount"], "large numbers kept exactly")
			}},
		{name: "JSON array wrapped", respond: reply(200, "application/json; charset=utf-8", `[{"id":1},{"id":2}]`),
			want: Result{Status: 200}, structured: true, checkStruct: func(t *testing.T, m map[string]any) {
				require.Len(t, m["items"], 2)
			}},
		{name: "JSON without content type", respond: reply(201, "", `{"created":true}`), want: Result{Status: 201}, structured: true},
		{name: "problem+json", respond: reply(200, "application/problem+json", `{"a":1}`), want: Result{Status: 200}, structured: true},
		{name: "JSON scalar is text only", respond: reply(200, "application/json", `"just a string"`), want: Result{Status: 200}, textHas: "just a string"},
		{name: "invalid JSON is text only", respond: reply(200, "application/json", `{"a":`), want: Result{Status: 200}, textHas: `{"a":`},
		{name: "two JSON values is text only", respond: reply(200, "application/json", `{"a":1}{"b":2}`), want: Result{Status: 200}},
		{name: "plain text", respond: reply(200, "text/plain", "hello {not json}"), want: Result{Status: 200}, textHas: "hello {not json}"},
		{name: "JSON-looking text/html stays text", respond: reply(200, "text/html", `{"a":1}`), want: Result{Status: 200}},
		{name: "binary", respond: reply(200, "application/octet-stream", "\xff\xfe\x00\x01"), want: Result{Status: 200}, textHas: "4 bytes of binary content"},
		{name: "no content", respond: reply(204, "", ""), want: Result{Status: 204}, textHas: "no content"},
		{name: "404 with reason", respond: reply(404, "application/json", `{"error":"order not found"}`),
			want: Result{Status: 404, IsError: true}, textHas: `HTTP 404 Not Found. Backend said: {"error":"order not found"}`},
		{name: "422 excerpt bounded", respond: reply(422, "text/plain", strings.Repeat("é", 2000)),
			want: Result{Status: 422, IsError: true}, textHas: "…"},
		{name: "500 hides the body", respond: reply(500, "text/plain", "panic: at 10.1.2.3:5432 db.internal "+big),
			want: Result{Status: 500, IsError: true}, textHas: "HTTP 500", textHasNot: []string{"10.1.2.3", "db.internal", "panic"}},
		{name: "503", respond: reply(503, "", ""), want: Result{Status: 503, IsError: true}},
		{name: "redirect not followed", respond: func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, "http://169.254.169.254/latest/meta-data", http.StatusFound)
		}, want: Result{Status: 302, IsError: true}, textHas: "redirect", textHasNot: []string{"169.254"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b := newBackend(t, keysOf(keyA), tc.respond)
			f := newForwarder(t, Config{})
			res := forward(t, f, call(tool(b.URL, "GET", "/x"), `{}`))
			require.Equal(t, tc.want.Status, res.Status)
			require.Equal(t, tc.want.IsError, res.IsError, res.Text)
			require.Equal(t, tc.structured, res.Structured != nil, "structured: %v", res.Structured)
			require.NotEmpty(t, res.Text)
			require.Contains(t, res.Text, tc.textHas)
			for _, s := range tc.textHasNot {
				require.NotContains(t, res.Text, s)
			}
			if tc.checkStruct != nil {
				tc.checkStruct(t, res.Structured)
			}
			require.Len(t, b.got(), 1, "exactly one request, redirects included")
		})
	}
}

func reply(status int, contentType, body string) http.HandlerFunc {
	return func(w http.ResponseWriter, _ *http.Request) {
		if contentType != "" {
			w.Header().Set("Content-Type", contentType)
		} else {
			w.Header()["Content-Type"] = nil // no sniffing: really none
		}
		w.WriteHeader(status)
		_, _ = io.WriteString(w, body)
	}
}

func TestRedirectTargetNeverContacted(t *testing.T) {
	var hits atomic.Int32
	target := newBackend(t, keysOf(keyA), func(w http.ResponseWriter, _ *http.Request) { hits.Add(1) })
	b := newBackend(t, keysOf(keyA), func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, target.URL+"/steal", http.StatusTemporaryRedirect)
	})
	f := newForwarder(t, Config{})
	res := forward(t, f, call(tool(b.URL, "POST", "/x", bodyOpt), `{"body":{"a":1}}`))
	require.True(t, res.IsError)
	require.Equal(t, 307, res.Status)
	require.Zero(t, hits.Load())
	require.Zero(t, target.rejected)
}

func TestOversizeBody(t *testing.T) {
	tests := []struct {
		name    string
		size    int
		gzip    bool
		isError bool
	}{
		{"at the limit", 1000, false, false},
		{"one byte over", 1001, false, true},
		{"far over", 1 << 20, false, true},
		{"gzip under the limit", 1000, true, false},
		{"gzip bomb stops at the decoded limit", 1 << 20, true, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			respond := reply(200, "text/plain", strings.Repeat("a", tc.size))
			if tc.gzip {
				respond = gzipReply(strings.Repeat("a", tc.size))
			}
			b := newBackend(t, keysOf(keyA), respond)
			f := newForwarder(t, Config{MaxResponseBytes: 1000})
			res := forward(t, f, call(tool(b.URL, "GET", "/x"), `{}`))
			require.Equal(t, tc.isError, res.IsError)
			require.Equal(t, 200, res.Status)
			if tc.isError {
				require.Equal(t, "The backend response is larger than 1000 bytes; it was dropped.", res.Text)
			} else {
				require.Len(t, res.Text, tc.size)
			}
		})
	}
}

func gzipReply(body string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if !strings.Contains(r.Header.Get("Accept-Encoding"), "gzip") {
			w.WriteHeader(http.StatusNotAcceptable)
			return
		}
		w.Header().Set("Content-Type", "text/plain")
		w.Header().Set("Content-Encoding", "gzip")
		zw := gzip.NewWriter(w)
		_, _ = io.WriteString(zw, body)
		_ = zw.Close()
	}
}

func TestTimeout(t *testing.T) {
	release := make(chan struct{})
	b := newBackend(t, keysOf(keyA), func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-release:
		}
	})
	defer close(release)
	f := newForwarder(t, Config{})
	tl := tool(b.URL, "GET", "/slow")
	tl.TimeoutMS = 500
	res := forward(t, f, call(tl, `{}`))
	require.True(t, res.IsError)
	require.Zero(t, res.Status)
	require.Equal(t, "The backend did not answer within 500 ms.", res.Text)
}

func TestTimeoutFor(t *testing.T) {
	tests := []struct {
		tool, source int
		noSource     bool
		want         int64
	}{
		{0, 0, true, 5000},
		{0, 3000, false, 3000},
		{1000, 3000, false, 1000},
		{100, 0, false, 500},
		{60000, 0, false, 5000},
		{0, 0, false, 5000},
	}
	for _, tc := range tests {
		var src *model.ToolSource
		if !tc.noSource {
			src = &model.ToolSource{TimeoutMS: tc.source}
		}
		got := timeoutFor(model.Tool{TimeoutMS: tc.tool}, src)
		require.Equal(t, tc.want, got.Milliseconds(), "%+v", tc)
	}
}

func TestCancelled(t *testing.T) {
	b := newBackend(t, keysOf(keyA), nil)
	f := newForwarder(t, Config{})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	res := f.Forward(ctx, call(tool(b.URL, "GET", "/x"), `{}`))
	require.True(t, res.IsError)
	require.Equal(t, "The call was cancelled before the backend answered.", res.Text)
}

func TestUnreachable(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close()) // nothing listens there any more
	f := newForwarder(t, Config{})
	res := forward(t, f, call(tool("http://"+addr, "GET", "/x"), `{}`))
	require.True(t, res.IsError)
	require.Equal(t, "The backend could not be reached.", res.Text)
	require.NotContains(t, res.Text, addr)
}

func TestMetrics(t *testing.T) {
	b := newBackend(t, keysOf(keyA), func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/fail" {
			w.WriteHeader(502)
		}
	})
	reg := prometheus.NewRegistry()
	f := newForwarder(t, Config{Registerer: reg})
	_ = newForwarder(t, Config{Registerer: reg}) // a second forwarder shares the collectors
	ok := tool(b.URL, "GET", "/ok")
	fail := tool(b.URL, "GET", "/fail")
	fail.Name = "test.fail"
	for i := 0; i < 3; i++ {
		forward(t, f, call(ok, `{}`))
	}
	forward(t, f, call(fail, `{}`))
	forward(t, f, call(tool(b.URL, "GET", "/x/{id}", pathID), `{"id":".."}`))
	require.Equal(t, 3.0, testutil.ToFloat64(f.metrics.calls.WithLabelValues("test.tool", "200")))
	require.Equal(t, 1.0, testutil.ToFloat64(f.metrics.calls.WithLabelValues("test.fail", "502")))
	require.Equal(t, 1.0, testutil.ToFloat64(f.metrics.calls.WithLabelValues("test.tool", outcomeBadArguments)))
	n, err := testutil.GatherAndCount(reg, "portcullis_backend_call_duration_seconds")
	require.NoError(t, err)
	require.Equal(t, 2, n, "one histogram per tool")
	families, err := reg.Gather()
	require.NoError(t, err)
	var timed uint64
	for _, fam := range families {
		for _, m := range fam.GetMetric() {
			if fam.GetName() == "portcullis_backend_call_duration_seconds" && m.GetLabel()[0].GetValue() == "test.tool" {
				timed = m.GetHistogram().GetSampleCount()
			}
		}
	}
	require.Equal(t, uint64(3), timed, "a call refused before sending is counted but not timed")
}

// TestConcurrentPool: many calls through a pool of one connection per host
// all complete (they queue for the connection instead of failing).
func TestConcurrentPool(t *testing.T) {
	b := newBackend(t, keysOf(keyA), nil)
	f := newForwarder(t, Config{MaxConnsPerHost: 1, MaxIdleConnsPerHost: 1})
	const n = 20
	results := make(chan Result, n)
	for i := 0; i < n; i++ {
		go func() { results <- f.Forward(context.Background(), call(tool(b.URL, "GET", "/x"), `{}`)) }()
	}
	for i := 0; i < n; i++ {
		res := <-results
		require.False(t, res.IsError, res.Text)
	}
	require.Len(t, b.got(), n)
}

func ExampleForwarder_Forward() {
	f, _ := New(Config{})
	defer f.Close()
	res := f.Forward(context.Background(), Call{
		Tool: model.Tool{Name: "orders.get", BaseURL: "https://api.example.test", Method: "GET",
			Path: "/v1/orders/{order_id}", Params: []model.Param{{Name: "order_id", In: "path", Required: true}}},
		Args:   json.RawMessage(`{"order_id":"../../admin"}`),
		Tenant: "acme", User: "u1", RequestID: "req-1",
		Signer: backendsig.Signer{Keys: []backendsig.Key{{KID: "k1", Secret: []byte("secret")}}},
	})
	fmt.Println(res.IsError, res.Text)
	// Output: true The arguments cannot be sent to the backend: path parameter "order_id" must not contain "/" or "\".
}
