package mcp

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	sdk "github.com/modelcontextprotocol/go-sdk/mcp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// replica is one gateway instance on a real HTTP server, recording what it was asked.
type replica struct {
	srv *httptest.Server
	mu  sync.Mutex
	log []seen
}

type seen struct {
	httpMethod  string
	hadSession  bool
	status      int
	contentType string
}

func (r *replica) seen() []seen {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]seen(nil), r.log...)
}

// startReplica serves a handler built from mutate at /mcp.
func startReplica(t *testing.T, mutate func(*Config)) *replica {
	t.Helper()
	env := newTestEnv(t, func(c *Config) {
		c.Now = nil // real clock: the SDK client runs in real time
		c.PageSize = 2
		if mutate != nil {
			mutate(c)
		}
	})
	r := &replica{}
	mux := http.NewServeMux()
	mux.Handle("/mcp", http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		rec := &statusRecorder{ResponseWriter: w}
		env.http.ServeHTTP(rec, req)
		r.mu.Lock()
		r.log = append(r.log, seen{req.Method, req.Header.Get(HeaderSessionID) != "", rec.status, rec.Header().Get("Content-Type")})
		r.mu.Unlock()
	}))
	r.srv = httptest.NewServer(mux)
	t.Cleanup(r.srv.Close)
	return r
}

type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (s *statusRecorder) WriteHeader(code int) {
	s.status = code
	s.ResponseWriter.WriteHeader(code)
}

// Unwrap lets http.ResponseController reach the real connection (read deadlines).
func (s *statusRecorder) Unwrap() http.ResponseWriter { return s.ResponseWriter }

func (s *statusRecorder) Flush() {
	if f, ok := s.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// balancer is a load balancer in a RoundTripper: it sends each request to the next
// replica in turn, and can rewrite headers on the way (to play a different principal,
// or a client that only accepts SSE).
type balancer struct {
	next     atomic.Int64
	mu       sync.Mutex
	targets  []*url.URL
	headers  map[string]string
	delegate *http.Transport
}

func newBalancer(t *testing.T, replicas ...*replica) *balancer {
	b := &balancer{delegate: http.DefaultTransport.(*http.Transport).Clone()}
	b.route(t, replicas...)
	t.Cleanup(b.delegate.CloseIdleConnections)
	return b
}

func (b *balancer) route(t *testing.T, replicas ...*replica) {
	var targets []*url.URL
	for _, r := range replicas {
		u, err := url.Parse(r.srv.URL)
		require.NoError(t, err)
		targets = append(targets, u)
	}
	b.mu.Lock()
	b.targets = targets
	b.mu.Unlock()
}

func (b *balancer) setHeader(k, v string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.headers == nil {
		b.headers = map[string]string{}
	}
	b.headers[k] = v
}

func (b *balancer) RoundTrip(req *http.Request) (*http.Response, error) {
	b.mu.Lock()
	target := b.targets[int(b.next.Add(1)-1)%len(b.targets)]
	headers := make(map[string]string, len(b.headers))
	for k, v := range b.headers {
		headers[k] = v
	}
	b.mu.Unlock()
	out := req.Clone(req.Context())
	out.URL.Scheme, out.URL.Host, out.Host = target.Scheme, target.Host, ""
	for k, v := range headers {
		out.Header.Set(k, v)
	}
	return b.delegate.RoundTrip(out)
}

func connectSDK(t *testing.T, b *balancer, opts *sdk.ClientSessionOptions) *sdk.ClientSession {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	client := sdk.NewClient(&sdk.Implementation{Name: "go-sdk-test", Version: "1.0"}, nil)
	transport := &sdk.StreamableClientTransport{
		Endpoint:   "http://gateway.invalid/mcp", // the balancer picks the real address
		HTTPClient: &http.Client{Transport: b, Timeout: 30 * time.Second},
	}
	cs, err := client.Connect(ctx, transport, opts)
	require.NoError(t, err)
	return cs
}

// TestGoSDKClient drives two replicas that share only the session key with the official
// Go SDK client through a round-robin balancer, so every consecutive request of the
// session lands on the other replica.
func TestGoSDKClient(t *testing.T) {
	tests := []struct {
		name        string
		version     string // requested; "" lets the client choose
		wantVersion string
		accept      string // forced Accept header; "" keeps the client's
		wantType    string
	}{
		{name: "client defaults", wantVersion: "2025-11-25", wantType: mediaJSON},
		{name: "2025-06-18", version: "2025-06-18", wantVersion: "2025-06-18", wantType: mediaJSON},
		{name: "SSE responses", accept: "text/event-stream", wantVersion: "2025-11-25", wantType: mediaSSE},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			a, b := startReplica(t, nil), startReplica(t, nil)
			lb := newBalancer(t, a, b)
			if tt.accept != "" {
				lb.setHeader("Accept", tt.accept)
			}
			var opts *sdk.ClientSessionOptions
			if tt.version != "" {
				opts = &sdk.ClientSessionOptions{ProtocolVersion: tt.version}
			}
			cs := connectSDK(t, lb, opts)
			assert.Equal(t, tt.wantVersion, cs.InitializeResult().ProtocolVersion)
			assert.Equal(t, "portcullis", cs.InitializeResult().ServerInfo.Name)

			require.NoError(t, cs.Ping(ctx, nil))

			var names []string
			for tool, err := range cs.Tools(ctx, nil) { // pages of 2, alternating replicas
				require.NoError(t, err)
				names = append(names, tool.Name)
			}
			assert.Len(t, names, len(fakeCatalogue))
			assert.IsIncreasing(t, names)

			res, err := cs.CallTool(ctx, &sdk.CallToolParams{Name: "echo", Arguments: map[string]any{"msg": "héllo"}})
			require.NoError(t, err)
			assert.False(t, res.IsError)
			structured, err := json.Marshal(res.StructuredContent)
			require.NoError(t, err)
			assert.JSONEq(t, `{"msg":"héllo"}`, string(structured))
			require.Len(t, res.Content, 1)
			assert.JSONEq(t, `{"msg":"héllo"}`, res.Content[0].(*sdk.TextContent).Text)

			res, err = cs.CallTool(ctx, &sdk.CallToolParams{Name: "fails"})
			require.NoError(t, err)
			assert.True(t, res.IsError)

			res, err = cs.CallTool(ctx, &sdk.CallToolParams{Name: "whoami"})
			require.NoError(t, err)
			who, _ := json.Marshal(res.StructuredContent)
			assert.JSONEq(t, `{"tenant":"tenant-a","subject":"user-1","session_tenant":"tenant-a","client":"go-sdk-test","version":"`+tt.wantVersion+`","method":"tools/call"}`, string(who))

			_, err = cs.CallTool(ctx, &sdk.CallToolParams{Name: "hidden"})
			require.Error(t, err)
			assert.Contains(t, err.Error(), "Unknown tool: hidden")

			require.NoError(t, cs.Ping(ctx, nil), "a protocol error does not break the session")
			require.NoError(t, cs.Close())

			for _, r := range []*replica{a, b} {
				var sessionPosts int
				for _, s := range r.seen() {
					if s.httpMethod == http.MethodPost && s.hadSession && s.status == http.StatusOK {
						sessionPosts++
						assert.Equal(t, tt.wantType, s.contentType)
					}
				}
				assert.Positive(t, sessionPosts, "each replica served requests of the session")
			}
			all := append(a.seen(), b.seen()...)
			t.Logf("replica A saw %+v; replica B saw %+v", a.seen(), b.seen())
			assert.Contains(t, all, seen{http.MethodDelete, true, http.StatusNoContent, ""}, "Close sends DELETE, answered 204")
			for _, s := range all {
				assert.Less(t, s.status, 500, "no server errors: %+v", s)
			}
		})
	}
}

// TestGoSDKClientLosesSession: a replica that cannot verify the session (other key), or
// a different principal presenting it, answers 404, which the client reports as a lost
// session (so an application knows to reconnect).
func TestGoSDKClientLosesSession(t *testing.T) {
	tests := []struct {
		name         string
		breakSession func(t *testing.T, lb *balancer, stranger *replica)
	}{
		{name: "replica with another key", breakSession: func(t *testing.T, lb *balancer, stranger *replica) { lb.route(t, stranger) }},
		{name: "another subject", breakSession: func(t *testing.T, lb *balancer, _ *replica) { lb.setHeader(hdrTestSubject, "user-2") }},
		{name: "another tenant", breakSession: func(t *testing.T, lb *balancer, _ *replica) { lb.setHeader(hdrTestTenant, "tenant-b") }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			a := startReplica(t, nil)
			stranger := startReplica(t, func(c *Config) { c.SessionKeys = [][]byte{testKeyOld} })
			lb := newBalancer(t, a)
			cs := connectSDK(t, lb, nil)
			require.NoError(t, cs.Ping(ctx, nil))

			tt.breakSession(t, lb, stranger)
			_, err := cs.CallTool(ctx, &sdk.CallToolParams{Name: "echo"})
			require.Error(t, err)
			assert.True(t, errors.Is(err, sdk.ErrSessionMissing), "got %v", err)
			_ = cs.Close()
		})
	}
}
