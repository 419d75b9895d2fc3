package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/portcullis/portcullis/e2e/internal/stack"
	"github.com/portcullis/portcullis/shared/backendsig"
)

// TestBackendSignature: a request the gateway really signed, captured on
// its way into the demo backend, is refused when replayed with a changed
// body, path, tenant or user header, or an old timestamp, and when
// replayed as is. A request freshly signed with the same key is accepted,
// so each refusal is due to the change alone.
func TestBackendSignature(t *testing.T) {
	s := stack.Start(t, stack.Options{Gateways: 2})
	cs := connectGoSDK(t, s, newRoundRobin(t, s, s.UserToken(t, stack.TenantAcme, stack.RoleAdmin), s.Gateways...))
	var customers customerList
	require.NoError(t, json.Unmarshal(mustCall(t, cs, "customers.list", nil), &customers))
	mustCall(t, cs, "orders.create", map[string]any{"body": map[string]any{
		"customer_id": customers.Items[0].ID, "amount": 42, "currency": "USD",
	}})
	var captured *stack.Captured
	for _, c := range s.Backend.Received() {
		if c.Method == http.MethodPost && c.Target == "/v1/orders" && c.Status == http.StatusCreated {
			captured = &c
		}
	}
	require.NotNil(t, captured, "the gateway's signed request reached the backend: %+v", s.Backend.Received())
	sig := captured.Header.Get(backendsig.SignatureHeader)
	require.NotEmpty(t, sig)
	assert.Equal(t, stack.TenantAcme, captured.Header.Get(backendsig.TenantHeader))
	assert.Contains(t, sig, "kid="+s.Backend.KID)
	t.Logf("captured: %s %s %s: %s", captured.Method, captured.Target, backendsig.SignatureHeader, sig)

	old := time.Now().Add(-backendsig.DefaultWindow - time.Minute)
	tsRe := regexp.MustCompile(`t=\d+`)
	variants := []struct {
		name   string
		mutate func(r *replay)
		want   error // the backend's reason; nil: accepted
	}{
		{"replayed as is", func(*replay) {}, backendsig.ErrReplay},
		{"changed body", func(r *replay) { r.body = bytes.Replace(r.body, []byte("42"), []byte("4200"), 1) }, backendsig.ErrBadSignature},
		{"body appended", func(r *replay) { r.body = append(r.body, ' ') }, backendsig.ErrBadSignature},
		{"changed path", func(r *replay) { r.target = "/v1/orders/" + "ord_x/refund" }, backendsig.ErrBadSignature},
		{"query added", func(r *replay) { r.target += "?status=paid" }, backendsig.ErrBadSignature},
		{"changed tenant header", func(r *replay) { r.header.Set(backendsig.TenantHeader, stack.TenantGlobex) }, backendsig.ErrBadSignature},
		{"changed user header", func(r *replay) { r.header.Set(backendsig.UserHeader, "someone-else") }, backendsig.ErrBadSignature},
		{"old timestamp", func(r *replay) {
			r.header.Set(backendsig.SignatureHeader, tsRe.ReplaceAllString(sig, fmt.Sprintf("t=%d", old.Unix())))
		}, backendsig.ErrTimestamp},
		{"old timestamp, validly signed", func(r *replay) { r.resign(t, s, old, "e2e-old") }, backendsig.ErrTimestamp},
		{"future timestamp, validly signed", func(r *replay) {
			r.resign(t, s, time.Now().Add(backendsig.DefaultWindow+time.Minute), "e2e-future")
		}, backendsig.ErrTimestamp},
		{"signature removed", func(r *replay) { r.header.Del(backendsig.SignatureHeader) }, backendsig.ErrMissing},
		// Control: the same request signed now with the platform's key.
		{"freshly signed", func(r *replay) { r.resign(t, s, time.Now(), "e2e-fresh") }, nil},
	}
	for _, v := range variants {
		t.Run(v.name, func(t *testing.T) {
			r := &replay{method: captured.Method, target: captured.Target, header: captured.Header.Clone(), body: bytes.Clone(captured.Body)}
			v.mutate(r)
			if v.name != "replayed as is" {
				same := r.target == captured.Target && bytes.Equal(r.body, captured.Body) &&
					r.header.Get(backendsig.SignatureHeader) == sig &&
					r.header.Get(backendsig.TenantHeader) == captured.Header.Get(backendsig.TenantHeader) &&
					r.header.Get(backendsig.UserHeader) == captured.Header.Get(backendsig.UserHeader)
				require.False(t, same, "the variant must differ from the captured request")
			}
			status, reason := r.send(t, s.Backend.URL)
			if v.want == nil {
				assert.Equal(t, http.StatusCreated, status, reason)
				return
			}
			assert.Equal(t, http.StatusUnauthorized, status)
			assert.Equal(t, v.want.Error(), reason)
		})
	}
}

// replay is a request to send to the backend directly.
type replay struct {
	method, target string
	header         http.Header
	body           []byte
}

// resign signs the request anew with the platform's backend key at time at
// (what only a holder of the key can do).
func (r *replay) resign(t *testing.T, s *stack.Stack, at time.Time, id string) {
	t.Helper()
	req, err := http.NewRequest(r.method, "http://backend"+r.target, nil)
	require.NoError(t, err)
	signer := backendsig.Signer{Keys: []backendsig.Key{{KID: s.Backend.KID, Secret: s.Backend.Secret}}}
	require.NoError(t, signer.Sign(req, r.body, r.header.Get(backendsig.TenantHeader), r.header.Get(backendsig.UserHeader), id, at))
	for _, h := range []string{backendsig.SignatureHeader, backendsig.TenantHeader, backendsig.UserHeader, backendsig.RequestIDHeader} {
		r.header.Set(h, req.Header.Get(h))
	}
}

// send returns the status and the backend's reason (its error message).
func (r *replay) send(t *testing.T, base string) (int, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), callTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, r.method, base+r.target, bytes.NewReader(r.body))
	require.NoError(t, err)
	for k, vs := range r.header {
		if strings.EqualFold(k, "Content-Length") {
			continue
		}
		req.Header[k] = vs
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	require.NoError(t, err)
	var e struct {
		Message string `json:"message"`
	}
	_ = json.Unmarshal(data, &e)
	if e.Message == "" {
		return resp.StatusCode, string(data)
	}
	return resp.StatusCode, e.Message
}
