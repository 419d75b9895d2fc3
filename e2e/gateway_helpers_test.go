package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/jsonrpc"
	sdk "github.com/modelcontextprotocol/go-sdk/mcp"
	"github.com/stretchr/testify/require"

	"github.com/portcullis/portcullis/e2e/internal/stack"
)

// callTimeout bounds each MCP exchange (a hang guard).
const callTimeout = 30 * time.Second

// roundRobin is a client-side load balancer in an http.RoundTripper: every
// request goes to the next gateway replica in turn, so consecutive requests
// of one MCP session land on different replicas. It adds the bearer token
// and counts, per replica, the requests of a session it answered with 200.
type roundRobin struct {
	base  *http.Transport
	token string

	mu      sync.Mutex
	next    int
	targets []*stack.Gateway
	served  map[string]int // gateway id → 200s to requests carrying a session id
}

func newRoundRobin(t *testing.T, s *stack.Stack, token string, targets ...*stack.Gateway) *roundRobin {
	t.Helper()
	base := &http.Transport{TLSClientConfig: s.TLSConfig(), ForceAttemptHTTP2: true}
	t.Cleanup(base.CloseIdleConnections)
	return &roundRobin{base: base, token: token, targets: targets, served: map[string]int{}}
}

// route replaces the replicas requests go to.
func (rr *roundRobin) route(targets ...*stack.Gateway) {
	rr.mu.Lock()
	defer rr.mu.Unlock()
	rr.targets, rr.next = targets, 0
}

func (rr *roundRobin) servedBy() map[string]int {
	rr.mu.Lock()
	defer rr.mu.Unlock()
	out := make(map[string]int, len(rr.served))
	for k, v := range rr.served {
		out[k] = v
	}
	return out
}

func (rr *roundRobin) RoundTrip(req *http.Request) (*http.Response, error) {
	rr.mu.Lock()
	g := rr.targets[rr.next%len(rr.targets)]
	rr.next++
	rr.mu.Unlock()
	u, err := url.Parse(g.Direct)
	if err != nil {
		return nil, err
	}
	out := req.Clone(req.Context())
	out.URL.Scheme, out.URL.Host, out.Host = u.Scheme, u.Host, ""
	out.Header.Set("Authorization", "Bearer "+rr.token)
	resp, err := rr.base.RoundTrip(out)
	if err == nil && resp.StatusCode == http.StatusOK && req.Header.Get("Mcp-Session-Id") != "" {
		rr.mu.Lock()
		rr.served[g.ID]++
		rr.mu.Unlock()
	}
	return resp, err
}

// connectGoSDK opens an MCP session with the official Go SDK client
// through rr.
func connectGoSDK(t *testing.T, s *stack.Stack, rr *roundRobin) *sdk.ClientSession {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), callTimeout)
	defer cancel()
	client := sdk.NewClient(&sdk.Implementation{Name: "e2e-go-sdk", Version: "1.0"}, nil)
	cs, err := client.Connect(ctx, &sdk.StreamableClientTransport{
		Endpoint:   s.PublicURL + "/mcp",
		HTTPClient: &http.Client{Transport: rr, Timeout: callTimeout},
	}, nil)
	require.NoError(t, err)
	t.Cleanup(func() { _ = cs.Close() })
	return cs
}

// toolNames lists every tool the session sees (all pages).
func toolNames(t *testing.T, cs *sdk.ClientSession) []string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), callTimeout)
	defer cancel()
	var names []string
	for tool, err := range cs.Tools(ctx, nil) {
		require.NoError(t, err)
		names = append(names, tool.Name)
	}
	return names
}

// callTool calls a tool and returns its result, or the JSON-RPC error.
func callTool(t *testing.T, cs *sdk.ClientSession, name string, args map[string]any) (*sdk.CallToolResult, *jsonrpc.Error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), callTimeout)
	defer cancel()
	res, err := cs.CallTool(ctx, &sdk.CallToolParams{Name: name, Arguments: args})
	if err != nil {
		var rpcErr *jsonrpc.Error
		require.True(t, errors.As(err, &rpcErr), "%s: not a JSON-RPC error: %v", name, err)
		return nil, rpcErr
	}
	return res, nil
}

// mustCall calls a tool that must succeed and returns its structured
// content as JSON.
func mustCall(t *testing.T, cs *sdk.ClientSession, name string, args map[string]any) []byte {
	t.Helper()
	res, rpcErr := callTool(t, cs, name, args)
	require.Nil(t, rpcErr, "%s: %+v", name, rpcErr)
	require.False(t, res.IsError, "%s: %s", name, resultText(res))
	data, err := json.Marshal(res.StructuredContent)
	require.NoError(t, err)
	return data
}

func resultText(res *sdk.CallToolResult) string {
	var out string
	for _, c := range res.Content {
		if tc, ok := c.(*sdk.TextContent); ok {
			out += tc.Text
		}
	}
	return out
}

func contextWithTimeout(d time.Duration) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), d)
}
