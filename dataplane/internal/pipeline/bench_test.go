package pipeline

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/portcullis/portcullis/dataplane/internal/bundlestore"
	"github.com/portcullis/portcullis/dataplane/internal/forward"
	"github.com/portcullis/portcullis/shared/authn"
	"github.com/portcullis/portcullis/shared/bundle"
	"github.com/portcullis/portcullis/shared/model"
	"github.com/portcullis/portcullis/shared/seal"
)

// nullBackend answers without a network, so the benchmarks measure the
// pipeline's own overhead: snapshot, access decision, schema validation,
// signer lookup and audit event.
type nullBackend struct{}

func (nullBackend) Forward(context.Context, forward.Call) forward.Result {
	return forward.Result{Text: `{"ok":true}`, Structured: map[string]any{"ok": true}, Status: 200}
}

// benchPipeline is a catalogue of 500 tools, 50 global rules and 10,000
// tenants, a third of them with narrowing rules.
// Building a 10,001-bundle snapshot through NewSnapshot is quadratic (each
// bundle copies the maps), so the benchmarks share one.
var benchSnapshot = sync.OnceValues(func() (*bundlestore.Snapshot, error) {
	s, err := seal.New(sealKey)
	if err != nil {
		return nil, err
	}
	sealed, err := s.Seal(backendKey.Secret, []byte(backendKey.KID))
	if err != nil {
		return nil, err
	}
	g := &bundle.Bundle{Scope: model.GlobalScope, Revision: 1, Global: &bundle.Global{
		Tools: testTools("http://127.0.0.1:1"), AccessRules: defaultRules(),
		BackendKeys: []bundle.SealedKey{{BackendKey: model.BackendKey{KID: backendKey.KID, Status: "active"}, Sealed: sealed}},
	}}
	for i := range 500 {
		g.Global.Tools = append(g.Global.Tools, entry(fmt.Sprintf("x%d", i), model.Tool{
			Name: fmt.Sprintf("svc%02d.op%03d", i%50, i), BaseURL: "http://127.0.0.1:1", Method: "GET", Path: "/x",
			InputSchema: map[string]any{"type": "object", "properties": map[string]any{"q": map[string]any{"type": "string"}}}, Active: true,
		}))
	}
	for i := range 50 {
		g.Global.AccessRules = append(g.Global.AccessRules, accessRule(fmt.Sprintf("svc%02d", i),
			[]string{fmt.Sprintf("svc%02d.*", i)}, []string{fmt.Sprintf("role%d", i%10), "viewer"}, []string{fmt.Sprintf("perm%d", i)}))
	}
	bundles := []*bundle.Bundle{g}
	for i := range 10_000 {
		id := fmt.Sprintf("tenant%05d", i)
		var rules []bundle.Entry[model.AccessRule]
		if i%3 == 0 {
			rules = append(rules, accessRule("narrow", []string{"svc0*"}, []string{"role1"}, nil))
		}
		bundles = append(bundles, tenantBundle(id, 1, rules...))
	}
	return bundlestore.NewSnapshot(bundles...)
})

func benchPipeline(b *testing.B) *Pipeline {
	b.Helper()
	snap, err := benchSnapshot()
	require.NoError(b, err)
	p, err := New(Config{Source: bundlestore.NewStatic(snap), Backend: nullBackend{}, Sealer: newSealer(b)})
	require.NoError(b, err)
	b.Cleanup(p.Close)
	b.ResetTimer()
	return p
}

func benchPrincipal(i int) authn.Principal {
	return authn.Principal{TenantID: fmt.Sprintf("tenant%05d", i%10_000), Subject: "user",
		Roles: []string{"role1", "viewer"}, Permissions: []string{"perm3", "perm7"}}
}

func BenchmarkList(b *testing.B) {
	p := benchPipeline(b)
	ctxs := make([]context.Context, 1024)
	for i := range ctxs {
		ctxs[i] = as(benchPrincipal(i * 7))
	}
	b.ReportAllocs()
	b.ResetTimer()
	i := 0
	for b.Loop() {
		tools, err := p.List(ctxs[i%len(ctxs)])
		if err != nil || len(tools) == 0 {
			b.Fatal(err, len(tools))
		}
		i++
	}
}

func BenchmarkCall(b *testing.B) {
	p := benchPipeline(b)
	ctxs := make([]context.Context, 1024)
	for i := range ctxs {
		ctxs[i] = as(benchPrincipal(i*7 + 1)) // tenants not narrowing svc01
	}
	args := json.RawMessage(`{"q":"hello"}`)
	b.ReportAllocs()
	b.ResetTimer()
	i := 0
	for b.Loop() {
		res, err := p.Call(ctxs[i%len(ctxs)], "svc10.op010", args)
		if err != nil || res.IsError {
			b.Fatal(err, res)
		}
		i++
	}
}

func BenchmarkCallParallel(b *testing.B) {
	p := benchPipeline(b)
	args := json.RawMessage(`{"q":"hello"}`)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		ctx := as(benchPrincipal(1))
		for pb.Next() {
			if _, err := p.Call(ctx, "svc10.op010", args); err != nil {
				b.Fatal(err)
			}
		}
	})
}
