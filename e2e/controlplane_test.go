package e2e

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/portcullis/portcullis/e2e/internal/stack"
	"github.com/portcullis/portcullis/shared/bundle"
	"github.com/portcullis/portcullis/shared/localenv/pgtest"
	"github.com/portcullis/portcullis/shared/seal"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// waitFor is a hang guard on each wait for a bundle, not a performance
// assertion: the relay publishes within milliseconds of a commit.
const waitFor = 90 * time.Second

// petstore is the OpenAPI document imported as tools (one per operation).
const petstore = `openapi: 3.0.3
info: {title: Pets, version: "1"}
servers: [{url: "https://pets.example.test/v1"}]
paths:
  /pets:
    get:
      operationId: listPets
      parameters:
        - {name: limit, in: query, schema: {type: integer, maximum: 100}}
      responses:
        "200": {description: ok}
    post:
      operationId: createPet
      requestBody:
        required: true
        content:
          application/json:
            schema: {type: object, properties: {name: {type: string}}}
      responses:
        "201": {description: created}
  /pets/{petId}:
    delete:
      operationId: deletePet
      parameters:
        - {name: petId, in: path, required: true, schema: {type: string}}
      responses:
        "204": {description: deleted}
`

func policy(name, effect string, tools ...string) map[string]any {
	return map[string]any{
		"name": name, "tools": tools, "effect": effect, "priority": 10, "enabled": true,
		"match": map[string]any{"op": "and", "conditions": []any{
			map[string]any{"attribute": "user.email", "operator": "ends_with", "value": "@contractor.test"},
		}},
	}
}

// watcher follows the bundles of the KV bucket the way a gateway would:
// every bundle read must verify against the keys the API publishes, and
// revisions per scope must only grow.
type watcher struct {
	t    *testing.T
	js   jetstream.JetStream
	keys bundle.KeySet
	seen map[string]int64 // KV key → highest revision observed
}

// await waits until the bundle under key has a revision above the last one
// observed and satisfies ok, and returns it.
func (w *watcher) await(key string, what string, ok func(*bundle.Bundle) bool) *bundle.Bundle {
	w.t.Helper()
	deadline := time.Now().Add(waitFor)
	var last error
	for time.Now().Before(deadline) {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		b, err := stack.ReadBundle(ctx, w.js, w.keys, key)
		cancel()
		switch {
		case err == nil:
			require.GreaterOrEqual(w.t, b.Revision, w.seen[key], "%s: revision went backwards", key)
			if b.Revision > w.seen[key] {
				w.seen[key] = b.Revision
			}
			if ok(b) {
				return b
			}
			last = fmt.Errorf("revision %d does not show %s yet", b.Revision, what)
		case errors.Is(err, stack.ErrNoBundle):
			last = err
		default:
			w.t.Fatalf("%s: invalid bundle in the bucket: %v", key, err)
		}
		time.Sleep(25 * time.Millisecond)
	}
	w.t.Fatalf("%s: timed out waiting for %s: %v", key, what, last)
	return nil
}

// TestControlPlaneBundles is issue 2's "Must show": configuration written
// through the REST API with admin JWTs becomes signed bundles in JetStream KV
// with increasing revisions; with NATS down, writes still succeed, and their
// bundles are published once NATS is back.
func TestControlPlaneBundles(t *testing.T) {
	s := stack.Start(t, stack.Options{})
	admin := s.PlatformAdminToken(t)
	acmeAdmin := s.TenantAdminToken(t, "acme")
	_, js := s.NATSConn(t)
	w := &watcher{t: t, js: js, keys: s.BundleKeys(t), seen: map[string]int64{}}

	// A tenant.
	r := s.Do(t, http.MethodPost, "/v1/tenants", admin, map[string]any{"id": "acme", "name": "Acme Corp", "delegation_enabled": true})
	require.Equal(t, http.StatusCreated, r.Status, "%s", r.Body)
	t1 := w.await("tenant.acme", "the tenant", func(b *bundle.Bundle) bool {
		return b.Tenant != nil && b.Tenant.Tenant.ID == "acme" && b.Tenant.Tenant.DelegationEnabled
	})

	// Tools, imported from an OpenAPI document.
	r = s.Do(t, http.MethodPost, "/v1/tool-sources", admin, map[string]any{"name": "pets", "document": petstore})
	require.Equal(t, http.StatusCreated, r.Status, "%s", r.Body)
	g1 := w.await("global", "the imported tools", func(b *bundle.Bundle) bool {
		var names []string
		for _, tool := range b.Global.Tools {
			names = append(names, tool.Spec.Name)
		}
		slices.Sort(names)
		return slices.Equal(names, []string{"createPet", "deletePet", "listPets"})
	})
	for _, tool := range g1.Global.Tools {
		assert.Equal(t, "https://pets.example.test/v1", tool.Spec.BaseURL)
	}

	// A global access rule and a global policy.
	r = s.Do(t, http.MethodPost, "/v1/access-rules", admin, map[string]any{
		"name": "support-reads", "tools": []string{"listPets"}, "roles": []string{"support"}, "enabled": true,
	})
	require.Equal(t, http.StatusCreated, r.Status, "%s", r.Body)
	g2 := w.await("global", "the access rule", func(b *bundle.Bundle) bool { return len(b.Global.AccessRules) == 1 })
	require.Greater(t, g2.Revision, g1.Revision)

	r = s.Do(t, http.MethodPost, "/v1/policies", admin, policy("contractors-no-deletes", "deny", "deletePet"))
	require.Equal(t, http.StatusCreated, r.Status, "%s", r.Body)
	g3 := w.await("global", "the global policy", func(b *bundle.Bundle) bool { return len(b.Global.Policies) == 1 })
	require.Greater(t, g3.Revision, g2.Revision)
	assert.Equal(t, "contractors-no-deletes", g3.Global.Policies[0].Spec.Name)

	// A tenant policy and a tenant access rule, written by the tenant's own admin.
	r = s.Do(t, http.MethodPost, "/v1/tenants/acme/policies", acmeAdmin, policy("acme-contractors-no-create", "deny", "createPet"))
	require.Equal(t, http.StatusCreated, r.Status, "%s", r.Body)
	t2 := w.await("tenant.acme", "the tenant policy", func(b *bundle.Bundle) bool { return len(b.Tenant.Policies) == 1 })
	require.Greater(t, t2.Revision, t1.Revision)
	r = s.Do(t, http.MethodPost, "/v1/tenants/acme/access-rules", acmeAdmin, map[string]any{
		"name": "acme-support", "tools": []string{"listPets"}, "roles": []string{"support"}, "enabled": true,
	})
	require.Equal(t, http.StatusCreated, r.Status, "%s", r.Body)
	t3 := w.await("tenant.acme", "the tenant access rule", func(b *bundle.Bundle) bool { return len(b.Tenant.AccessRules) == 1 })
	require.Greater(t, t3.Revision, t2.Revision)
	require.Equal(t, scopeRevision(t, s, "tenant/acme"), t3.Revision)

	// NATS outage: writes keep succeeding, the API stays ready.
	s.NATS.Shutdown()
	r = s.Do(t, http.MethodPost, "/v1/policies", admin, policy("outage-global", "deny", "createPet"))
	require.Equal(t, http.StatusCreated, r.Status, "%s", r.Body)
	r = s.Do(t, http.MethodPost, "/v1/tenants/acme/policies", acmeAdmin, policy("outage-tenant", "deny", "deletePet"))
	require.Equal(t, http.StatusCreated, r.Status, "%s", r.Body)
	r = s.Do(t, http.MethodPost, "/v1/tenants", admin, map[string]any{"id": "globex", "name": "Globex", "delegation_enabled": false})
	require.Equal(t, http.StatusCreated, r.Status, "%s", r.Body)
	r = s.Do(t, http.MethodGet, "/readyz", "", nil)
	assert.Equal(t, http.StatusOK, r.Status, "readiness must not depend on NATS: %s", r.Body)
	require.Greater(t, unpublished(t, s), int64(0), "the outbox holds the writes made during the outage")

	// NATS back: the outbox drains and the latest revisions are published.
	require.NoError(t, s.NATS.Restart())
	g4 := w.await("global", "the policy written during the outage", func(b *bundle.Bundle) bool {
		return len(b.Global.Policies) == 2 && b.Revision == scopeRevision(t, s, "global")
	})
	require.Greater(t, g4.Revision, g3.Revision)
	t4 := w.await("tenant.acme", "the tenant policy written during the outage", func(b *bundle.Bundle) bool {
		return len(b.Tenant.Policies) == 2 && b.Revision == scopeRevision(t, s, "tenant/acme")
	})
	require.Greater(t, t4.Revision, t3.Revision)
	gx := w.await("tenant.globex", "the tenant created during the outage", func(b *bundle.Bundle) bool {
		return b.Tenant != nil && b.Tenant.Tenant.ID == "globex"
	})
	assert.Equal(t, scopeRevision(t, s, "tenant/globex"), gx.Revision)
	require.Eventually(t, func() bool { return unpublished(t, s) == 0 }, waitFor, 50*time.Millisecond)

	// Backend signing keys reach gateways sealed under the bundle seal key.
	r = s.Do(t, http.MethodPost, "/v1/signing-keys", admin, map[string]any{})
	require.Equal(t, http.StatusCreated, r.Status, "%s", r.Body)
	var created struct {
		KID    string `json:"kid"`
		Secret string `json:"secret"`
	}
	r.Decode(t, &created)
	require.NotEmpty(t, created.KID)
	g5 := w.await("global", "the backend key", func(b *bundle.Bundle) bool { return len(b.Global.BackendKeys) == 1 })
	sealer, err := seal.New(s.BundleSealKey)
	require.NoError(t, err)
	secret, err := sealer.Open(g5.Global.BackendKeys[0].Sealed, []byte(created.KID))
	require.NoError(t, err)
	assert.NotEmpty(t, secret)
}

// scopeRevision is the last revision Postgres handed out for scope.
func scopeRevision(t *testing.T, s *stack.Stack, scope string) int64 {
	t.Helper()
	return queryInt(t, s, `SELECT revision FROM scope_revisions WHERE scope = $1`, scope)
}

func unpublished(t *testing.T, s *stack.Stack) int64 {
	t.Helper()
	return queryInt(t, s, `SELECT count(*) FROM outbox WHERE published_at IS NULL`)
}

func queryInt(t *testing.T, s *stack.Stack, sql string, args ...any) int64 {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, s.DatabaseURL)
	require.NoError(t, err)
	defer conn.Close(ctx)
	// Read as the platform: the tables have row-level security.
	_, err = conn.Exec(ctx, `SELECT set_config('portcullis.platform', 'on', false)`)
	require.NoError(t, err)
	var n int64
	require.NoError(t, conn.QueryRow(ctx, sql, args...).Scan(&n))
	return n
}
