package forward

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/portcullis/portcullis/shared/backendsig"
	"github.com/portcullis/portcullis/shared/model"
)

// TestMain fails the package if a test leaves goroutines behind (pooled
// connections included: every forwarder is closed).
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

var (
	keyA = backendsig.Key{KID: "k-a", Secret: []byte("secret a, at least 32 bytes long!!")}
	keyB = backendsig.Key{KID: "k-b", Secret: []byte("secret b, at least 32 bytes long!!")}
)

// seen is one request as the test backend received it, after verification.
type seen struct {
	Method     string
	RequestURI string
	Header     http.Header
	Body       string
	Identity   backendsig.Identity
}

// backend is an httptest server that verifies every request with a real
// backendsig.Verifier (so every passing test also proves the signature),
// records it, and answers with respond.
type backend struct {
	*httptest.Server
	mu       sync.Mutex
	requests []seen
	rejected int
}

func newBackend(t *testing.T, keys map[string][]byte, respond http.HandlerFunc) *backend {
	t.Helper()
	b := &backend{}
	v := &backendsig.Verifier{Keys: keys, Replay: backendsig.NewMemoryReplayCache(1000, time.Minute)}
	b.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, err := v.Verify(r)
		if err != nil {
			b.mu.Lock()
			b.rejected++
			b.mu.Unlock()
			http.Error(w, err.Error(), http.StatusUnauthorized)
			return
		}
		body, _ := io.ReadAll(r.Body)
		b.mu.Lock()
		b.requests = append(b.requests, seen{r.Method, r.RequestURI, r.Header.Clone(), string(body), id})
		b.mu.Unlock()
		if respond == nil {
			w.Header().Set("Content-Type", "application/json")
			_, _ = io.WriteString(w, `{"ok":true}`)
			return
		}
		respond(w, r)
	}))
	t.Cleanup(b.Close)
	return b
}

func (b *backend) got() []seen {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]seen(nil), b.requests...)
}

func (b *backend) last(t *testing.T) seen {
	t.Helper()
	all := b.got()
	require.NotEmpty(t, all, "the backend received no verified request")
	return all[len(all)-1]
}

func keysOf(ks ...backendsig.Key) map[string][]byte {
	m := map[string][]byte{}
	for _, k := range ks {
		m[k.KID] = k.Secret
	}
	return m
}

func newForwarder(t *testing.T, cfg Config) *Forwarder {
	t.Helper()
	if cfg.Registerer == nil {
		cfg.Registerer = prometheus.NewRegistry()
	}
	f, err := New(cfg)
	require.NoError(t, err)
	t.Cleanup(f.Close)
	return f
}

// tool is a tool on the test backend, with the params the OpenAPI import
// would make.
func tool(baseURL, method, path string, params ...model.Param) model.Tool {
	return model.Tool{
		Name: "test.tool", BaseURL: baseURL, Method: method, Path: path, Params: params,
		InputSchema: map[string]any{"type": "object"}, Active: true,
	}
}

// requestSeq makes request ids unique: the test backends reject replays.
var requestSeq atomic.Int64

func call(tl model.Tool, args string) Call {
	return Call{
		Tool: tl, Args: json.RawMessage(args), Tenant: "acme", User: "user-1",
		RequestID: fmt.Sprintf("req-%d", requestSeq.Add(1)), Signer: backendsig.Signer{Keys: []backendsig.Key{keyA}},
	}
}

func forward(t *testing.T, f *Forwarder, c Call) Result {
	t.Helper()
	return f.Forward(context.Background(), c)
}
