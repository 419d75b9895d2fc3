package mcp

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestInitialize(t *testing.T) {
	tests := []struct {
		name        string
		params      string
		wantVersion string
		wantCode    int
	}{
		{name: "2025-11-25 echoed", params: `{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"c","version":"1"}}`, wantVersion: "2025-11-25"},
		{name: "2025-06-18 echoed", params: `{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"c","version":"1"}}`, wantVersion: "2025-06-18"},
		{name: "older version answered with latest", params: `{"protocolVersion":"2025-03-26","capabilities":{},"clientInfo":{"name":"c","version":"1"}}`, wantVersion: LatestProtocolVersion},
		{name: "future version answered with latest", params: `{"protocolVersion":"2099-01-01","capabilities":{},"clientInfo":{"name":"c","version":"1"}}`, wantVersion: LatestProtocolVersion},
		{name: "clientInfo may be absent", params: `{"protocolVersion":"2025-06-18"}`, wantVersion: "2025-06-18"},
		{name: "no params", params: ``, wantCode: CodeInvalidParams},
		{name: "params array", params: `["2025-06-18"]`, wantCode: CodeInvalidParams},
		{name: "protocolVersion missing", params: `{"capabilities":{}}`, wantCode: CodeInvalidParams},
		{name: "protocolVersion number", params: `{"protocolVersion":20250618}`, wantCode: CodeInvalidParams},
		{name: "clientInfo wrong type", params: `{"protocolVersion":"2025-06-18","clientInfo":"c"}`, wantCode: CodeInvalidParams},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := newTestEnv(t, nil)
			body := `{"jsonrpc":"2.0","id":"init","method":"initialize"}`
			if tt.params != "" {
				body = `{"jsonrpc":"2.0","id":"init","method":"initialize","params":` + tt.params + `}`
			}
			rec := env.post(body, nil)
			require.Equal(t, http.StatusOK, rec.Code)
			reply := decodeReply(t, rec)
			assert.JSONEq(t, `"init"`, string(reply.ID))
			if tt.wantCode != 0 {
				require.NotNil(t, reply.Error)
				assert.Equal(t, tt.wantCode, reply.Error.Code)
				assert.Empty(t, rec.Header().Get(HeaderSessionID), "no session for a failed initialize")
				return
			}
			require.Nil(t, reply.Error)
			var res struct {
				ProtocolVersion string         `json:"protocolVersion"`
				Capabilities    map[string]any `json:"capabilities"`
				ServerInfo      struct{ Name, Version string }
			}
			require.NoError(t, json.Unmarshal(reply.Result, &res))
			assert.Equal(t, tt.wantVersion, res.ProtocolVersion)
			assert.Contains(t, res.Capabilities, "tools")
			assert.Equal(t, "portcullis", res.ServerInfo.Name)

			session, err := env.handler.sessions.verify(rec.Header().Get(HeaderSessionID), testTenant, testSubject, env.now)
			require.NoError(t, err)
			assert.Equal(t, tt.wantVersion, session.ProtocolVersion, "the session records the negotiated version")
		})
	}
}

// TestJSONRPCOverHTTP covers every way a POST can end: HTTP status, whether there is a
// body, and the JSON-RPC error code.
func TestJSONRPCOverHTTP(t *testing.T) {
	const v = "2025-11-25"
	tests := []struct {
		name       string
		body       string
		hdr        map[string]string // on top of a valid session's headers
		noSession  bool
		wantStatus int
		wantCode   int    // JSON-RPC error code; 0 for a result or no body
		wantID     string // expected id in the reply ("null" when unknown)
		wantMsg    string // substring of the error message
	}{
		{name: "ping", body: `{"jsonrpc":"2.0","id":1,"method":"ping"}`, wantStatus: 200, wantID: `1`},
		{name: "method not found", body: `{"jsonrpc":"2.0","id":2,"method":"resources/list"}`, wantStatus: 200, wantCode: CodeMethodNotFound, wantID: `2`},
		{name: "method not found keeps string id", body: `{"jsonrpc":"2.0","id":"q","method":"nope"}`, wantStatus: 200, wantCode: CodeMethodNotFound, wantID: `"q"`},
		{name: "parse error", body: `{"jsonrpc":"2.0",`, wantStatus: 400, wantCode: CodeParseError, wantID: `null`},
		{name: "batch rejected", body: `[{"jsonrpc":"2.0","id":1,"method":"ping"}]`, wantStatus: 400, wantCode: CodeInvalidRequest, wantID: `null`},
		{name: "invalid request keeps a valid id", body: `{"jsonrpc":"1.0","id":4,"method":"ping"}`, wantStatus: 400, wantCode: CodeInvalidRequest, wantID: `4`},
		{name: "null id", body: `{"jsonrpc":"2.0","id":null,"method":"ping"}`, wantStatus: 400, wantCode: CodeInvalidRequest, wantID: `null`},
		{name: "initialized notification", body: `{"jsonrpc":"2.0","method":"notifications/initialized"}`, wantStatus: 202},
		{name: "unknown notification ignored", body: `{"jsonrpc":"2.0","method":"notifications/whatever"}`, wantStatus: 202},
		{name: "client response accepted", body: `{"jsonrpc":"2.0","id":9,"result":{}}`, wantStatus: 202},
		{name: "tools/list params array", body: `{"jsonrpc":"2.0","id":1,"method":"tools/list","params":[]}`, wantStatus: 200, wantCode: CodeInvalidParams, wantID: `1`},
		{name: "tools/list cursor number", body: `{"jsonrpc":"2.0","id":1,"method":"tools/list","params":{"cursor":3}}`, wantStatus: 200, wantCode: CodeInvalidParams, wantID: `1`},
		{name: "tools/list bad cursor", body: `{"jsonrpc":"2.0","id":1,"method":"tools/list","params":{"cursor":"!!"}}`, wantStatus: 200, wantCode: CodeInvalidParams, wantID: `1`, wantMsg: "cursor"},
		{name: "tools/call no params", body: `{"jsonrpc":"2.0","id":1,"method":"tools/call"}`, wantStatus: 200, wantCode: CodeInvalidParams, wantID: `1`},
		{name: "tools/call name missing", body: `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{}}`, wantStatus: 200, wantCode: CodeInvalidParams, wantID: `1`},
		{name: "tools/call name number", body: `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":1}}`, wantStatus: 200, wantCode: CodeInvalidParams, wantID: `1`},
		{name: "tools/call arguments array", body: `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo","arguments":[1]}}`, wantStatus: 200, wantCode: CodeInvalidParams, wantID: `1`},
		{name: "tools/call arguments string", body: `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo","arguments":"{}"}}`, wantStatus: 200, wantCode: CodeInvalidParams, wantID: `1`},
		{name: "unknown tool", body: `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"nope"}}`, wantStatus: 200, wantCode: CodeInvalidParams, wantID: `1`, wantMsg: "Unknown tool: nope"},
		{name: "impossible tool name", body: `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"../../etc"}}`, wantStatus: 200, wantCode: CodeInvalidParams, wantID: `1`, wantMsg: "Unknown tool"},
		{name: "echo", body: `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo","arguments":{"msg":"hi"}}}`, wantStatus: 200, wantID: `1`},
		{name: "echo without arguments", body: `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo"}}`, wantStatus: 200, wantID: `1`},
		{name: "tool error is a result", body: `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"fails"}}`, wantStatus: 200, wantID: `1`},
		{name: "internal error hides detail", body: `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"broken"}}`, wantStatus: 200, wantCode: CodeInternalError, wantID: `1`, wantMsg: "Internal error"},
		{name: "panic contained", body: `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"panics"}}`, wantStatus: 200, wantCode: CodeInternalError, wantID: `1`},
		{name: "timeout", body: `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"slow"}}`, wantStatus: 200, wantCode: CodeInternalError, wantID: `1`, wantMsg: "timed out"},
		{name: "wrapped layer error with a bogus HTTP status", body: `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"badstatus"}}`, wantStatus: 200, wantCode: CodeInvalidParams, wantID: `1`, wantMsg: "Bad status"},
		{name: "layer error without a code", body: `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"zerocode"}}`, wantStatus: 200, wantCode: CodeInternalError, wantID: `1`, wantMsg: "Internal error"},
		{name: "HTTP-level refusal from a layer", body: `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"stepup"}}`, wantStatus: 401, wantCode: CodeInvalidRequest, wantID: `1`},

		{name: "missing session", noSession: true, body: `{"jsonrpc":"2.0","id":1,"method":"ping"}`, wantStatus: 400, wantCode: CodeInvalidRequest, wantID: `1`, wantMsg: "Mcp-Session-Id"},
		{name: "missing session on notification", noSession: true, body: `{"jsonrpc":"2.0","method":"notifications/initialized"}`, wantStatus: 400, wantCode: CodeInvalidRequest, wantID: `null`},
		{name: "missing session on unknown method", noSession: true, body: `{"jsonrpc":"2.0","id":1,"method":"server/discover"}`, wantStatus: 400, wantCode: CodeInvalidRequest, wantID: `1`},
		{name: "initialize as notification needs a session", noSession: true, body: `{"jsonrpc":"2.0","method":"initialize","params":{"protocolVersion":"2025-06-18"}}`, wantStatus: 400, wantCode: CodeInvalidRequest, wantID: `null`},
		{name: "wrong content type", hdr: map[string]string{"Content-Type": "text/plain"}, body: `{"jsonrpc":"2.0","id":1,"method":"ping"}`, wantStatus: 415, wantCode: CodeInvalidRequest, wantID: `null`},
		{name: "content type with charset", hdr: map[string]string{"Content-Type": "application/json; charset=utf-8"}, body: `{"jsonrpc":"2.0","id":1,"method":"ping"}`, wantStatus: 200, wantID: `1`},
		{name: "nothing acceptable", hdr: map[string]string{"Accept": "text/html"}, body: `{"jsonrpc":"2.0","id":1,"method":"ping"}`, wantStatus: 406, wantCode: CodeInvalidRequest, wantID: `1`},
		{name: "notification ignores Accept", hdr: map[string]string{"Accept": "text/html"}, body: `{"jsonrpc":"2.0","method":"notifications/initialized"}`, wantStatus: 202},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := newTestEnv(t, nil)
			token := env.initialize(v, nil)
			hdr := sessionHeaders(token, v)
			if tt.noSession {
				hdr = map[string]string{}
			}
			for k, val := range tt.hdr {
				hdr[k] = val
			}
			rec := env.post(tt.body, hdr)
			require.Equal(t, tt.wantStatus, rec.Code, rec.Body.String())
			if rec.Code == http.StatusAccepted {
				assert.Empty(t, rec.Body.String(), "202 has no body")
				return
			}
			reply := decodeReply(t, rec)
			assert.JSONEq(t, tt.wantID, string(reply.ID))
			if tt.wantCode == 0 {
				require.Nil(t, reply.Error, "unexpected error %+v", reply.Error)
				return
			}
			require.NotNil(t, reply.Error, "result: %s", reply.Result)
			assert.Equal(t, tt.wantCode, reply.Error.Code)
			assert.Contains(t, reply.Error.Message, tt.wantMsg)
			assert.NotContains(t, rec.Body.String(), "secret internal detail")
			assert.NotContains(t, rec.Body.String(), "exploded")
		})
	}
}

func TestToolResults(t *testing.T) {
	const v = "2025-06-18"
	env := newTestEnv(t, nil)
	token := env.initialize(v, nil)
	call := func(name, args string) CallResult {
		t.Helper()
		rec := env.post(`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"`+name+`","arguments":`+args+`}}`, sessionHeaders(token, v))
		reply := decodeReply(t, rec)
		require.Nil(t, reply.Error)
		var res CallResult
		require.NoError(t, json.Unmarshal(reply.Result, &res))
		return res
	}

	echo := call("echo", `{"msg":"hi"}`)
	assert.False(t, echo.IsError)
	assert.JSONEq(t, `{"msg":"hi"}`, string(echo.StructuredContent))
	require.Len(t, echo.Content, 1)
	assert.Equal(t, "text", echo.Content[0].Type)

	fails := call("fails", `{}`)
	assert.True(t, fails.IsError)
	assert.Equal(t, "backend said 503", fails.Content[0].Text)

	// Structured content alone gains a text copy; the layers see principal and session.
	who := call("whoami", `{}`)
	require.Len(t, who.Content, 1)
	assert.JSONEq(t, string(who.StructuredContent), who.Content[0].Text)
	assert.JSONEq(t, `{"tenant":"tenant-a","subject":"user-1","session_tenant":"tenant-a","client":"test-client","version":"2025-06-18","method":"tools/call"}`, string(who.StructuredContent))
}

// TestUnknownToolIndistinguishable: a tool that exists but is hidden from the caller
// must produce byte-for-byte the same answer as one that does not exist.
func TestUnknownToolIndistinguishable(t *testing.T) {
	const v = "2025-11-25"
	env := newTestEnv(t, nil)
	token := env.initialize(v, nil)
	hidden := env.post(`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"hidden"}}`, sessionHeaders(token, v))
	env.handler.cfg.Tools = ToolsFunc{} // a catalogue without it at all
	absent := env.post(`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"hidden"}}`, sessionHeaders(token, v))
	assert.Equal(t, hidden.Code, absent.Code)
	assert.Equal(t, hidden.Body.String(), absent.Body.String())
	assert.Contains(t, absent.Body.String(), `"Unknown tool: hidden"`)
}

func TestStepUpCarriesHeaders(t *testing.T) {
	const v = "2025-11-25"
	env := newTestEnv(t, nil)
	token := env.initialize(v, nil)
	rec := env.post(`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"stepup"}}`, sessionHeaders(token, v))
	assert.Equal(t, http.StatusUnauthorized, rec.Code)
	assert.Contains(t, rec.Header().Get("WWW-Authenticate"), "insufficient_user_authentication")
}

func TestResponseFormat(t *testing.T) {
	const v = "2025-11-25"
	tests := []struct {
		accept string // "" sends no Accept header
		want   string // media type, or "406"
	}{
		{accept: "application/json, text/event-stream", want: mediaJSON}, // what the official clients send
		{accept: "text/event-stream, application/json", want: mediaJSON},
		{accept: "application/json", want: mediaJSON},
		{accept: "text/event-stream", want: mediaSSE},
		{accept: "text/event-stream, application/json;q=0.5", want: mediaSSE},
		{accept: "application/json;q=0.1, text/event-stream;q=0.9", want: mediaSSE},
		{accept: "text/*", want: mediaSSE},
		{accept: "*/*", want: mediaJSON},
		{accept: "", want: mediaJSON},
		{accept: "application/json;q=0, text/event-stream", want: mediaSSE},
		{accept: "text/html", want: "406"},
		{accept: "application/json;q=0", want: "406"},
		{accept: "*/*;q=0", want: "406"},
		{accept: "application/json;q=abc", want: "406"},
	}
	for _, tt := range tests {
		t.Run(tt.accept, func(t *testing.T) {
			env := newTestEnv(t, nil)
			token := env.initialize(v, nil)
			hdr := sessionHeaders(token, v)
			hdr["Accept"] = tt.accept
			rec := env.post(`{"jsonrpc":"2.0","id":5,"method":"tools/call","params":{"name":"echo","arguments":{"text":"line1\nline2"}}}`, hdr)
			if tt.want == "406" {
				assert.Equal(t, http.StatusNotAcceptable, rec.Code)
				return
			}
			require.Equal(t, http.StatusOK, rec.Code)
			assert.Equal(t, tt.want, rec.Header().Get("Content-Type"))
			reply := decodeReply(t, rec)
			require.Nil(t, reply.Error)
			assert.Contains(t, string(reply.Result), `line1\nline2`)
		})
	}
}

// TestInitializeOverSSE: the session header travels on an SSE response too.
func TestInitializeOverSSE(t *testing.T) {
	env := newTestEnv(t, nil)
	rec := env.post(`{"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"2025-11-25"}}`, map[string]string{"Accept": "text/event-stream"})
	require.Equal(t, http.StatusOK, rec.Code)
	assert.Equal(t, mediaSSE, rec.Header().Get("Content-Type"))
	assert.NotEmpty(t, rec.Header().Get(HeaderSessionID))
	reply := decodeReply(t, rec)
	assert.Nil(t, reply.Error)
}

func TestProtocolVersionHeader(t *testing.T) {
	tests := []struct {
		name       string
		session    string   // version negotiated
		header     []string // MCP-Protocol-Version values sent
		wantStatus int
	}{
		{name: "matches", session: "2025-11-25", header: []string{"2025-11-25"}, wantStatus: 200},
		{name: "matches older", session: "2025-06-18", header: []string{"2025-06-18"}, wantStatus: 200},
		{name: "absent: the session says which", session: "2025-06-18", wantStatus: 200},
		{name: "supported but not the session's", session: "2025-06-18", header: []string{"2025-11-25"}, wantStatus: 400},
		{name: "unsupported", session: "2025-11-25", header: []string{"2025-03-26"}, wantStatus: 400},
		{name: "garbage", session: "2025-11-25", header: []string{"latest"}, wantStatus: 400},
		{name: "repeated", session: "2025-11-25", header: []string{"2025-11-25", "2025-11-25"}, wantStatus: 400},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := newTestEnv(t, nil)
			token := env.initialize(tt.session, nil)
			req := httptest.NewRequest(http.MethodPost, "/mcp", strings.NewReader(`{"jsonrpc":"2.0","id":1,"method":"ping"}`))
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set(HeaderSessionID, token)
			for _, h := range tt.header {
				req.Header.Add(HeaderProtocolVersion, h)
			}
			rec := httptest.NewRecorder()
			env.http.ServeHTTP(rec, req)
			assert.Equal(t, tt.wantStatus, rec.Code, rec.Body.String())
			if tt.wantStatus == 400 {
				reply := decodeReply(t, rec)
				require.NotNil(t, reply.Error)
				assert.Contains(t, reply.Error.Message, "MCP-Protocol-Version")
			}
		})
	}
}

func TestSessionEnforcement(t *testing.T) {
	const v = "2025-11-25"
	tests := []struct {
		name       string
		token      func(env *testEnv, good string) string
		hdr        map[string]string
		advance    time.Duration
		wantStatus int
	}{
		{name: "valid", token: func(_ *testEnv, good string) string { return good }, wantStatus: 200},
		{name: "garbage", token: func(*testEnv, string) string { return "not-a-token" }, wantStatus: 404},
		{name: "tampered", token: func(_ *testEnv, good string) string { return flipChar(good, 5) }, wantStatus: 404},
		{name: "expired", token: func(_ *testEnv, good string) string { return good }, advance: DefaultSessionTTL, wantStatus: 404},
		{name: "just before expiry", token: func(_ *testEnv, good string) string { return good }, advance: DefaultSessionTTL - time.Second, wantStatus: 200},
		{name: "other subject", token: func(_ *testEnv, good string) string { return good }, hdr: map[string]string{hdrTestSubject: "user-2"}, wantStatus: 404},
		{name: "other tenant, same subject", token: func(_ *testEnv, good string) string { return good }, hdr: map[string]string{hdrTestTenant: "tenant-b"}, wantStatus: 404},
		{name: "no principal fails closed", token: func(_ *testEnv, good string) string { return good }, hdr: map[string]string{hdrTestSubject: "-"}, wantStatus: 500},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := newTestEnv(t, nil)
			good := env.initialize(v, nil)
			env.now = env.now.Add(tt.advance)
			hdr := sessionHeaders(tt.token(env, good), v)
			for k, val := range tt.hdr {
				hdr[k] = val
			}
			rec := env.post(`{"jsonrpc":"2.0","id":1,"method":"tools/list"}`, hdr)
			require.Equal(t, tt.wantStatus, rec.Code, rec.Body.String())
			switch tt.wantStatus {
			case 404:
				// Not JSON-RPC, so clients treat it as a lost session and re-initialise.
				assert.Equal(t, "text/plain; charset=utf-8", rec.Header().Get("Content-Type"))
				assert.Equal(t, "session not found\n", rec.Body.String(), "all invalid sessions look alike")
			case 500:
				reply := decodeReply(t, rec)
				assert.Equal(t, CodeInternalError, reply.Error.Code)
			}
		})
	}
}

func TestInitializeWithoutPrincipal(t *testing.T) {
	env := newTestEnv(t, nil)
	rec := env.post(`{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25"}}`, map[string]string{hdrTestSubject: "-"})
	assert.Equal(t, http.StatusInternalServerError, rec.Code)
	assert.Empty(t, rec.Header().Get(HeaderSessionID))

	anon := newTestEnv(t, func(c *Config) { c.AllowAnonymous = true })
	rec = anon.post(`{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25"}}`, map[string]string{hdrTestSubject: "-"})
	require.Equal(t, http.StatusOK, rec.Code)
	token := rec.Header().Get(HeaderSessionID)
	// An anonymous session is bound to "nobody": an authenticated caller cannot use it.
	rec = anon.post(`{"jsonrpc":"2.0","id":1,"method":"ping"}`, sessionHeaders(token, "2025-11-25"))
	assert.Equal(t, http.StatusNotFound, rec.Code)
	rec = anon.post(`{"jsonrpc":"2.0","id":1,"method":"ping"}`, map[string]string{HeaderSessionID: token, hdrTestSubject: "-"})
	assert.Equal(t, http.StatusOK, rec.Code)
}

func TestHTTPMethods(t *testing.T) {
	const v = "2025-11-25"
	tests := []struct {
		name       string
		method     string
		session    string // "good", "bad", ""
		wantStatus int
	}{
		{name: "GET has no standalone stream", method: http.MethodGet, session: "good", wantStatus: 405},
		{name: "PUT", method: http.MethodPut, session: "good", wantStatus: 405},
		{name: "DELETE ends the session", method: http.MethodDelete, session: "good", wantStatus: 204},
		{name: "DELETE without session", method: http.MethodDelete, wantStatus: 400},
		{name: "DELETE with a forged session", method: http.MethodDelete, session: "bad", wantStatus: 404},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := newTestEnv(t, nil)
			token := env.initialize(v, nil)
			req := httptest.NewRequest(tt.method, "/mcp", nil)
			switch tt.session {
			case "good":
				req.Header.Set(HeaderSessionID, token)
			case "bad":
				req.Header.Set(HeaderSessionID, flipChar(token, 3))
			}
			req.Header.Set(HeaderProtocolVersion, v)
			rec := httptest.NewRecorder()
			env.http.ServeHTTP(rec, req)
			assert.Equal(t, tt.wantStatus, rec.Code)
			if tt.wantStatus == 405 {
				assert.Equal(t, "POST, DELETE", rec.Header().Get("Allow"))
			}
			if tt.wantStatus == 204 {
				assert.Empty(t, rec.Body.String())
			}
		})
	}
}

func TestBodyLimit(t *testing.T) {
	const v = "2025-11-25"
	env := newTestEnv(t, func(c *Config) { c.MaxBodyBytes = 1024 })
	token := env.initialize(v, nil)
	pad := strings.Repeat("a", 1024)
	rec := env.post(`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo","arguments":{"p":"`+pad+`"}}}`, sessionHeaders(token, v))
	assert.Equal(t, http.StatusRequestEntityTooLarge, rec.Code)
	reply := decodeReply(t, rec)
	assert.Equal(t, CodeInvalidRequest, reply.Error.Code)

	small := env.post(`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo","arguments":{"p":"ok"}}}`, sessionHeaders(token, v))
	assert.Equal(t, http.StatusOK, small.Code)
}

func TestMetrics(t *testing.T) {
	const v = "2025-11-25"
	env := newTestEnv(t, nil)
	token := env.initialize(v, nil)
	env.post(`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"fails"}}`, sessionHeaders(token, v))
	env.post(`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"nope"}}`, sessionHeaders(token, v))
	env.post(`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"broken"}}`, sessionHeaders(token, v))
	env.post(`{"jsonrpc":"2.0","id":1,"method":"made/up/`+strings.Repeat("x", 50)+`"}`, sessionHeaders(token, v))
	env.post(`{"jsonrpc":"2.0","id":1,"method":"ping"}`, nil) // no session

	m := env.handler.metrics.requests
	assert.Equal(t, 1.0, testutil.ToFloat64(m.WithLabelValues("initialize", outcomeOK)))
	assert.Equal(t, 1.0, testutil.ToFloat64(m.WithLabelValues("tools/call", outcomeToolError)))
	assert.Equal(t, 1.0, testutil.ToFloat64(m.WithLabelValues("tools/call", outcomeRPCError)))
	assert.Equal(t, 1.0, testutil.ToFloat64(m.WithLabelValues("tools/call", outcomeInternalError)))
	assert.Equal(t, 1.0, testutil.ToFloat64(m.WithLabelValues("other", outcomeRPCError)), "client-chosen method names do not become labels")
	assert.Equal(t, 1.0, testutil.ToFloat64(m.WithLabelValues("ping", outcomeRejected)))

	// Two handlers sharing a registry (two replicas in one process) must both work.
	_, err := New(Config{Tools: fakeTools{}, SessionKeys: [][]byte{testKey}, Registerer: env.reg})
	require.NoError(t, err)
}

func TestConfigValidation(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
	}{
		{name: "no tools", cfg: Config{SessionKeys: [][]byte{testKey}}},
		{name: "no keys", cfg: Config{Tools: fakeTools{}}},
		{name: "short key", cfg: Config{Tools: fakeTools{}, SessionKeys: [][]byte{[]byte("short")}}},
		{name: "short second key", cfg: Config{Tools: fakeTools{}, SessionKeys: [][]byte{testKey, make([]byte, 31)}}},
		{name: "page size too big", cfg: Config{Tools: fakeTools{}, SessionKeys: [][]byte{testKey}, PageSize: MaxPageSize + 1}},
		{name: "negative TTL", cfg: Config{Tools: fakeTools{}, SessionKeys: [][]byte{testKey}, SessionTTL: -time.Second}},
		{name: "bad origin", cfg: Config{Tools: fakeTools{}, SessionKeys: [][]byte{testKey}, AllowedOrigins: []string{"app.example.com"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := New(tt.cfg)
			assert.Error(t, err)
		})
	}
}

// flipChar changes one character of s, keeping it within the base64url alphabet.
func flipChar(s string, i int) string {
	b := []byte(s)
	if b[i] == 'A' {
		b[i] = 'B'
	} else {
		b[i] = 'A'
	}
	return string(b)
}

// TestSlowBody: a client that sends headers and then trickles (here: stops sending) its
// body is cut off by BodyReadTimeout even though the http.Server has no ReadTimeout.
func TestSlowBody(t *testing.T) {
	const v = "2025-11-25"
	env := newTestEnv(t, func(c *Config) { c.BodyReadTimeout = 100 * time.Millisecond })
	token := env.initialize(v, nil)
	srv := httptest.NewServer(env.http)
	defer srv.Close()

	conn, err := net.Dial("tcp", srv.Listener.Addr().String())
	require.NoError(t, err)
	defer conn.Close()
	_, err = fmt.Fprintf(conn, "POST /mcp HTTP/1.1\r\nHost: gw\r\nContent-Type: application/json\r\nAccept: application/json\r\n"+
		"Mcp-Session-Id: %s\r\nContent-Length: 1000\r\n\r\n{\"jsonrpc\":", token)
	require.NoError(t, err)
	require.NoError(t, conn.SetReadDeadline(time.Now().Add(30*time.Second))) // a hung test, not a timing assertion
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	require.NoError(t, err)
	defer resp.Body.Close()
	assert.Equal(t, http.StatusRequestTimeout, resp.StatusCode)
}
