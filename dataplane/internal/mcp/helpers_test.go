package mcp

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"

	"github.com/portcullis/portcullis/shared/authn"
)

// Test principals. The headers below stand in for the authentication layer, which in
// the gateway validates a JWT and calls ContextWithPrincipal.
const (
	testTenant  = "tenant-a"
	testSubject = "user-1"

	hdrTestTenant  = "X-Test-Tenant"
	hdrTestSubject = "X-Test-Subject"
)

var (
	testKey    = bytes.Repeat([]byte{0x42}, 32)
	testKeyOld = bytes.Repeat([]byte{0x17}, 32)
)

// withTestPrincipal plays the authentication layer: the principal comes from test
// headers, defaulting to testTenant/testSubject. A request with X-Test-Subject: "-"
// carries no principal at all.
func withTestPrincipal(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		subject := r.Header.Get(hdrTestSubject)
		if subject == "-" {
			next.ServeHTTP(w, r)
			return
		}
		tenant := r.Header.Get(hdrTestTenant)
		if tenant == "" {
			tenant = testTenant
		}
		if subject == "" {
			subject = testSubject
		}
		p := authn.Principal{TenantID: tenant, Subject: subject}
		next.ServeHTTP(w, r.WithContext(ContextWithPrincipal(r.Context(), p)))
	})
}

// fakeTools is a small tool catalogue exercising every way a layer can answer.
type fakeTools struct {
	extra []Tool // added to the catalogue, for paging tests
}

var fakeCatalogue = []Tool{
	{Name: "echo", Description: "Returns its arguments.", InputSchema: json.RawMessage(`{"type":"object","properties":{"msg":{"type":"string"}}}`)},
	{Name: "fails", Description: "Always reports a tool error."},
	{Name: "broken", Description: "Fails with an internal error."},
	{Name: "panics", Description: "Panics."},
	{Name: "stepup", Description: "Requires a stronger token."},
	{Name: "whoami", Description: "Reports the principal and session it sees."},
	{Name: "slow", Description: "Waits until its context ends."},
}

func (f fakeTools) List(ctx context.Context) ([]Tool, error) {
	return append(append([]Tool(nil), fakeCatalogue...), f.extra...), nil
}

func (f fakeTools) Call(ctx context.Context, name string, args json.RawMessage) (CallResult, error) {
	switch name {
	case "echo":
		return CallResult{Content: []Content{TextContent(string(args))}, StructuredContent: args}, nil
	case "fails":
		return CallResult{Content: []Content{TextContent("backend said 503")}, IsError: true}, nil
	case "broken":
		return CallResult{}, errors.New("dial tcp 10.0.0.7:5432: secret internal detail")
	case "panics":
		panic("tool exploded")
	case "stepup":
		return CallResult{}, &Error{
			Code: CodeInvalidRequest, Message: "Step-up authentication required",
			HTTPStatus: http.StatusUnauthorized,
			Header:     http.Header{"Www-Authenticate": {`Bearer error="insufficient_user_authentication", acr_values="mfa"`}},
		}
	case "badstatus":
		// A buggy layer: net/http would panic on this status if the transport used it.
		return CallResult{}, fmt.Errorf("wrapped: %w", &Error{Code: CodeInvalidParams, Message: "Bad status", HTTPStatus: 99})
	case "zerocode":
		return CallResult{}, &Error{Message: "no code"}
	case "whoami":
		p, _ := PrincipalFromContext(ctx)
		s, _ := SessionFromContext(ctx)
		r, _ := RequestFromContext(ctx)
		out, _ := json.Marshal(map[string]string{
			"tenant": p.TenantID, "subject": p.Subject, "session_tenant": s.Tenant,
			"client": s.ClientName, "version": s.ProtocolVersion, "method": r.Method,
		})
		return CallResult{StructuredContent: out}, nil
	case "slow":
		<-ctx.Done()
		return CallResult{}, ctx.Err()
	case "hidden":
		// Exists, but this caller may not see it: must look exactly like a missing tool.
		return CallResult{}, UnknownToolError(name)
	}
	return CallResult{}, UnknownToolError(name)
}

// testEnv is one handler behind the test principal middleware, plus a clock tests can move.
type testEnv struct {
	t       *testing.T
	handler *Handler
	http    http.Handler
	now     time.Time
	reg     *prometheus.Registry
}

func newTestEnv(t *testing.T, mutate func(*Config)) *testEnv {
	t.Helper()
	env := &testEnv{t: t, now: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC), reg: prometheus.NewRegistry()}
	cfg := Config{
		Tools:          fakeTools{},
		SessionKeys:    [][]byte{testKey},
		AllowedOrigins: []string{"https://app.example.com"},
		Registerer:     env.reg,
		Now:            func() time.Time { return env.now },
		RequestTimeout: time.Second,
	}
	if mutate != nil {
		mutate(&cfg)
	}
	h, err := New(cfg)
	require.NoError(t, err)
	env.handler = h
	env.http = withTestPrincipal(h)
	return env
}

// post sends one message with the headers a well-behaved client sends, overridden by hdr
// (an empty value deletes the header).
func (env *testEnv) post(body string, hdr map[string]string) *httptest.ResponseRecorder {
	env.t.Helper()
	req := httptest.NewRequest(http.MethodPost, "http://gw.example.com/mcp", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	for k, v := range hdr {
		if v == "" {
			req.Header.Del(k)
		} else {
			req.Header.Set(k, v)
		}
	}
	rec := httptest.NewRecorder()
	env.http.ServeHTTP(rec, req)
	return rec
}

// initialize starts a session and returns its token.
func (env *testEnv) initialize(version string, hdr map[string]string) string {
	env.t.Helper()
	rec := env.post(fmt.Sprintf(`{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":%q,"capabilities":{},"clientInfo":{"name":"test-client","version":"9.9"}}}`, version), hdr)
	require.Equal(env.t, http.StatusOK, rec.Code, rec.Body.String())
	token := rec.Header().Get(HeaderSessionID)
	require.NotEmpty(env.t, token)
	return token
}

// sessionHeaders are the headers of a request within session token.
func sessionHeaders(token, version string) map[string]string {
	return map[string]string{HeaderSessionID: token, HeaderProtocolVersion: version}
}

// rpcReply is a decoded JSON-RPC response.
type rpcReply struct {
	JSONRPC string          `json:"jsonrpc"`
	ID      json.RawMessage `json:"id"`
	Result  json.RawMessage `json:"result"`
	Error   *struct {
		Code    int             `json:"code"`
		Message string          `json:"message"`
		Data    json.RawMessage `json:"data"`
	} `json:"error"`
}

// decodeReply reads a JSON or single-event SSE body.
func decodeReply(t *testing.T, rec *httptest.ResponseRecorder) rpcReply {
	t.Helper()
	body := rec.Body.Bytes()
	if strings.HasPrefix(rec.Header().Get("Content-Type"), mediaSSE) {
		body = sseData(t, body)
	} else {
		require.Equal(t, mediaJSON, rec.Header().Get("Content-Type"), "body: %s", body)
	}
	var r rpcReply
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	require.NoError(t, dec.Decode(&r), "body: %s", body)
	_, err := dec.Token()
	require.ErrorIs(t, err, io.EOF, "trailing data in body: %s", body)
	require.Equal(t, "2.0", r.JSONRPC)
	require.NotNil(t, r.ID, "id must always be present (null when unknown)")
	require.True(t, (r.Error == nil) != (r.Result == nil), "exactly one of result and error: %s", body)
	return r
}

// sseData extracts the data of the single "message" event a stream must hold.
func sseData(t *testing.T, body []byte) []byte {
	t.Helper()
	text := string(body)
	require.True(t, strings.HasSuffix(text, "\n\n"), "event not terminated: %q", text)
	lines := strings.Split(strings.TrimSuffix(text, "\n\n"), "\n")
	require.Equal(t, []string{"event: message"}, lines[:1], "stream: %q", text)
	require.Len(t, lines, 2, "exactly one event with one data line: %q", text)
	data, ok := strings.CutPrefix(lines[1], "data: ")
	require.True(t, ok, "stream: %q", text)
	return []byte(data)
}
