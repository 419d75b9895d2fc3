// Package demobackend is the demo SaaS backend that `make run` and the e2e
// tests put behind the gateways: a small customers/orders REST API whose
// OpenAPI document (served at /openapi.json, and OpenAPI()) is imported as
// the demo tools.
//
// It behaves like a backend that takes Portcullis seriously: every request
// except GET /openapi.json and GET /healthz must carry a valid
// Portcullis-Signature (package backendsig, with a replay cache), and all data
// is scoped by the verified Portcullis-Tenant-Id, so one tenant never sees
// another's customers or orders. An unsigned or badly signed request gets
// 401 with a JSON reason.
//
// Its data is in memory, seeded deterministically per tenant on first use,
// and deliberately full of personal data (emails, phone numbers, test card
// numbers) so that masking has something to show.
package demobackend

import (
	_ "embed"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/portcullis/portcullis/shared/backendsig"
)

// DefaultAddr is where `make run` serves the demo backend; the demo OpenAPI
// document's server URL points here.
const DefaultAddr = "127.0.0.1:9100"

// Limits that keep a demo process small whatever it is sent.
const (
	maxBody        = 64 << 10 // request bodies
	maxTenants     = 100      // tenants with seeded data
	maxOrders      = 1000     // orders per tenant
	replayCapacity = 100_000  // request ids remembered (≫ requests in two windows of a demo)
)

//go:embed openapi.json
var openAPI []byte

// OpenAPI returns the backend's OpenAPI 3 document (the one to import).
func OpenAPI() []byte { return append([]byte(nil), openAPI...) }

// Backend is the demo API. Safe for concurrent use.
type Backend struct {
	keys   atomic.Pointer[map[string][]byte]
	replay *backendsig.MemoryReplayCache
	log    *slog.Logger
	now    func() time.Time // the verifier's clock; tests move it

	mu      sync.Mutex
	tenants map[string]*tenantData
}

// New returns a backend that accepts requests signed with any of keys (secret
// by kid). A nil logger logs nothing.
func New(keys map[string][]byte, logger *slog.Logger) *Backend {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	b := &Backend{
		replay:  backendsig.NewMemoryReplayCache(replayCapacity, backendsig.DefaultWindow),
		log:     logger,
		now:     time.Now,
		tenants: map[string]*tenantData{},
	}
	b.SetKeys(keys)
	return b
}

// SetKeys replaces the accepted keys, e.g. to follow a rotation: give it old
// and new while both are in use, then the new one alone. The replay cache
// survives, so a request captured before the change cannot be replayed after
// it.
func (b *Backend) SetKeys(keys map[string][]byte) {
	cp := maps.Clone(keys)
	if cp == nil {
		cp = map[string][]byte{}
	}
	b.keys.Store(&cp)
}

// Handler returns the HTTP handler: the two public endpoints, and the API
// behind signature verification.
func (b *Backend) Handler() http.Handler {
	api := http.NewServeMux()
	api.HandleFunc("GET /v1/customers", b.listCustomers)
	api.HandleFunc("GET /v1/customers/{customer_id}", b.getCustomer)
	api.HandleFunc("PATCH /v1/customers/{customer_id}", b.updateCustomer)
	api.HandleFunc("GET /v1/orders", b.listOrders)
	api.HandleFunc("POST /v1/orders", b.createOrder)
	api.HandleFunc("GET /v1/orders/{order_id}", b.getOrder)
	api.HandleFunc("POST /v1/orders/{order_id}/refund", b.refundOrder)
	api.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, "not_found", "no such endpoint")
	})

	root := http.NewServeMux()
	root.HandleFunc("GET /openapi.json", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(openAPI)
	})
	root.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	root.Handle("/", b.verified(api))
	return b.logged(root)
}

// verified lets a request through only with a valid signature and puts the
// verified identity in its context.
func (b *Backend) verified(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		v := &backendsig.Verifier{Keys: *b.keys.Load(), Replay: b.replay, Now: b.now, MaxBody: maxBody}
		id, err := v.Verify(r)
		if err != nil {
			status := http.StatusUnauthorized
			if errors.Is(err, backendsig.ErrBodyTooLarge) {
				status = http.StatusRequestEntityTooLarge
			}
			b.log.Info("demo backend: request refused", slog.String("method", r.Method),
				slog.String("path", r.URL.Path), slog.String("reason", reason(err)))
			writeError(w, status, "unauthorized", reason(err))
			return
		}
		if id.Tenant == "" {
			writeError(w, http.StatusForbidden, "forbidden", "the request carries no tenant")
			return
		}
		next.ServeHTTP(w, r.WithContext(withIdentity(r.Context(), id)))
	})
}

// reason is the public text of a verification error: the sentinel's, never
// the detail a wrapped error may carry.
func reason(err error) string {
	for _, e := range []error{
		backendsig.ErrMissing, backendsig.ErrMalformed, backendsig.ErrTimestamp, backendsig.ErrUnknownKey,
		backendsig.ErrBadSignature, backendsig.ErrReplay, backendsig.ErrBodyTooLarge, backendsig.ErrIdentity,
	} {
		if errors.Is(err, e) {
			return e.Error()
		}
	}
	return "backendsig: invalid request"
}

// logged logs one line per request with the status it got.
func (b *Backend) logged(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
		start := time.Now()
		next.ServeHTTP(rec, r)
		b.log.Debug("demo backend request", slog.String("method", r.Method), slog.String("path", r.URL.Path),
			slog.String("tenant", r.Header.Get(backendsig.TenantHeader)), slog.Int("status", rec.status),
			slog.Duration("elapsed", time.Since(start)))
	})
}

type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (s *statusRecorder) WriteHeader(code int) {
	s.status = code
	s.ResponseWriter.WriteHeader(code)
}

// ParseKeys reads keys written as "kid=base64secret[,kid=base64secret]"
// (standard or URL-safe base64, padding optional), the form command lines
// and environment variables give them in.
func ParseKeys(s string) (map[string][]byte, error) {
	keys := map[string][]byte{}
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		kid, enc, ok := strings.Cut(part, "=")
		if !ok || kid == "" {
			return nil, fmt.Errorf("demobackend: key %q is not kid=base64secret", truncate(part, 16))
		}
		secret, err := decodeBase64(strings.TrimSpace(enc))
		if err != nil || len(secret) == 0 {
			return nil, fmt.Errorf("demobackend: secret of key %q is not base64", kid)
		}
		keys[strings.TrimSpace(kid)] = secret
	}
	if len(keys) == 0 {
		return nil, errors.New("demobackend: no keys")
	}
	return keys, nil
}

func decodeBase64(s string) ([]byte, error) {
	s = strings.TrimRight(s, "=")
	if strings.ContainsAny(s, "-_") {
		return base64.RawURLEncoding.DecodeString(s)
	}
	return base64.RawStdEncoding.DecodeString(s)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, status int, code, msg string) {
	writeJSON(w, status, apiError{Error: code, Message: msg})
}

// apiError is every error body (the Error schema of the document).
type apiError struct {
	Error   string `json:"error"`
	Message string `json:"message"`
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
