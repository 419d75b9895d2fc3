// Package storetest is the contract of store.Tx: one suite that every
// implementation must pass (as OpenFGA's storage tests are for its backends).
// Run it from the implementation's tests with a runner on a fresh, migrated
// database per call of newRunner.
//
// Tests that observe scope revisions and the outbox need the runner to also
// implement Inspector (the Postgres store does); they are skipped otherwise.
package storetest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/portcullis/portcullis/controlplane/internal/store"
	"github.com/portcullis/portcullis/shared/model"
)

// Inspector reads the outbox state the relay sees.
type Inspector interface {
	PendingScopes(ctx context.Context) ([]store.ScopeRevision, error)
	Snapshot(ctx context.Context, scope model.Scope) (store.Snapshot, error)
}

// Actors used throughout the suite.
var (
	Platform = store.Actor{Subject: "platform-admin", Platform: true}
	TenantA  = store.Actor{Subject: "admin-a", TenantID: "tenant-a"}
	TenantB  = store.Actor{Subject: "admin-b", TenantID: "tenant-b"}
)

// Run runs the whole suite.
func Run(t *testing.T, newRunner func(t *testing.T) store.TxRunner) {
	tests := []struct {
		name string
		fn   func(t *testing.T, r store.TxRunner)
	}{
		{"Tenants", testTenants},
		{"ResourceCRUD", testResourceCRUD},
		{"ResourceNamesAndScopes", testResourceNames},
		{"Pagination", testPagination},
		{"RollbackLeavesNothing", testRollback},
		{"WritesBumpTheirScope", testScopeBumps},
		{"ConcurrentWriters", testConcurrentWriters},
		{"TenantIsolation", testTenantIsolation},
		{"ActorRequired", testActorRequired},
		{"Approvals", testApprovals},
		{"Audit", testAudit},
		{"BackendKeys", testBackendKeys},
		{"Idempotency", testIdempotency},
		{"Gateways", testGateways},
		{"Domains", testDomains},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.fn(t, newRunner(t))
		})
	}
}

func ctxFor(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// do runs fn in one transaction as actor and fails the test on error.
func do(t *testing.T, r store.TxRunner, actor store.Actor, fn func(ctx context.Context, tx store.Tx) error) {
	t.Helper()
	if err := try(t, r, actor, fn); err != nil {
		t.Fatalf("transaction as %s: %v", describe(actor), err)
	}
}

func try(t *testing.T, r store.TxRunner, actor store.Actor, fn func(ctx context.Context, tx store.Tx) error) error {
	t.Helper()
	ctx := ctxFor(t)
	return r.Tx(ctx, actor, func(tx store.Tx) error { return fn(ctx, tx) })
}

func describe(a store.Actor) string {
	if a.Platform {
		return "platform"
	}
	return "tenant " + a.TenantID
}

// wantErr runs fn in its own transaction and checks it fails with want.
func wantErr(t *testing.T, r store.TxRunner, actor store.Actor, what string, want error, fn func(ctx context.Context, tx store.Tx) error) {
	t.Helper()
	err := try(t, r, actor, fn)
	if !errors.Is(err, want) {
		t.Errorf("%s as %s: got %v, want %v", what, describe(actor), err, want)
	}
}

func spec(v any) json.RawMessage {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err) // only called with literal maps
	}
	return b
}

// seedTenants creates tenant-a (delegation on) and tenant-b (off).
func seedTenants(t *testing.T, r store.TxRunner) {
	t.Helper()
	do(t, r, Platform, func(ctx context.Context, tx store.Tx) error {
		for _, tn := range []model.Tenant{
			{ID: TenantA.TenantID, Name: "A", DelegationEnabled: true},
			{ID: TenantB.TenantID, Name: "B"},
		} {
			if _, err := tx.CreateTenant(ctx, tn); err != nil {
				return err
			}
		}
		return nil
	})
}

func create(t *testing.T, r store.TxRunner, actor store.Actor, kind store.Kind, tenant, name string) store.Record {
	t.Helper()
	var rec store.Record
	do(t, r, actor, func(ctx context.Context, tx store.Tx) (err error) {
		rec, err = tx.CreateResource(ctx, kind, tenant, name, spec(map[string]any{"name": name}))
		return err
	})
	return rec
}

func testTenants(t *testing.T, r store.TxRunner) {
	var created store.TenantRecord
	do(t, r, Platform, func(ctx context.Context, tx store.Tx) (err error) {
		created, err = tx.CreateTenant(ctx, model.Tenant{ID: "acme", Name: "Acme"})
		return err
	})
	if created.Revision != 1 || created.Name != "Acme" || created.DelegationEnabled || created.CreatedAt.IsZero() {
		t.Fatalf("created tenant %+v", created)
	}
	wantErr(t, r, Platform, "duplicate tenant", store.ErrConflict, func(ctx context.Context, tx store.Tx) error {
		_, err := tx.CreateTenant(ctx, model.Tenant{ID: "acme", Name: "again"})
		return err
	})
	for _, bad := range []string{"", "-x", "a b", "a/b", string(make([]byte, 65))} {
		wantErr(t, r, Platform, fmt.Sprintf("tenant id %q", bad), store.ErrInvalid, func(ctx context.Context, tx store.Tx) error {
			_, err := tx.CreateTenant(ctx, model.Tenant{ID: bad, Name: "x"})
			return err
		})
	}
	wantErr(t, r, Platform, "stale update", store.ErrPrecondition, func(ctx context.Context, tx store.Tx) error {
		_, err := tx.UpdateTenant(ctx, model.Tenant{ID: "acme", Name: "x"}, 7)
		return err
	})
	wantErr(t, r, Platform, "update of a missing tenant", store.ErrNotFound, func(ctx context.Context, tx store.Tx) error {
		_, err := tx.UpdateTenant(ctx, model.Tenant{ID: "nope", Name: "x"}, 1)
		return err
	})
	var updated store.TenantRecord
	do(t, r, Platform, func(ctx context.Context, tx store.Tx) (err error) {
		updated, err = tx.UpdateTenant(ctx, model.Tenant{ID: "acme", Name: "Acme Inc", DelegationEnabled: true}, 1)
		return err
	})
	if updated.Revision != 2 || updated.Name != "Acme Inc" || !updated.DelegationEnabled {
		t.Fatalf("updated tenant %+v", updated)
	}
	do(t, r, Platform, func(ctx context.Context, tx store.Tx) error {
		got, err := tx.GetTenant(ctx, "acme")
		if err != nil {
			return err
		}
		if got.Revision != 2 || got.Name != "Acme Inc" {
			return fmt.Errorf("get after update: %+v", got)
		}
		list, next, err := tx.ListTenants(ctx, store.Page{})
		if err != nil {
			return err
		}
		if len(list) != 1 || list[0].ID != "acme" || next != "" {
			return fmt.Errorf("list: %+v next %q", list, next)
		}
		return nil
	})
	wantErr(t, r, Platform, "stale delete", store.ErrPrecondition, func(ctx context.Context, tx store.Tx) error {
		return tx.DeleteTenant(ctx, "acme", 1)
	})
	do(t, r, Platform, func(ctx context.Context, tx store.Tx) error { return tx.DeleteTenant(ctx, "acme", 2) })
	wantErr(t, r, Platform, "get after delete", store.ErrNotFound, func(ctx context.Context, tx store.Tx) error {
		_, err := tx.GetTenant(ctx, "acme")
		return err
	})
	wantErr(t, r, Platform, "second delete", store.ErrNotFound, func(ctx context.Context, tx store.Tx) error {
		return tx.DeleteTenant(ctx, "acme", 0)
	})
}

// scopes lists every (kind, tenant) pair a resource can live in.
func scopes() []struct {
	kind   store.Kind
	tenant string
} {
	out := []struct {
		kind   store.Kind
		tenant string
	}{{store.KindTool, ""}, {store.KindToolSource, ""}}
	for _, k := range []store.Kind{store.KindAccessRule, store.KindPolicy, store.KindHook, store.KindMaskingRule} {
		out = append(out, struct {
			kind   store.Kind
			tenant string
		}{k, ""}, struct {
			kind   store.Kind
			tenant string
		}{k, TenantA.TenantID})
	}
	return out
}

func testResourceCRUD(t *testing.T, r store.TxRunner) {
	seedTenants(t, r)
	for _, sc := range scopes() {
		t.Run(fmt.Sprintf("%s/%q", sc.kind, sc.tenant), func(t *testing.T) {
			kind, tenant := sc.kind, sc.tenant
			rec := create(t, r, Platform, kind, tenant, "first")
			if rec.ID == "" || rec.Revision != 1 || rec.TenantID != tenant || rec.Name != "first" {
				t.Fatalf("created %+v", rec)
			}
			do(t, r, Platform, func(ctx context.Context, tx store.Tx) error {
				got, err := tx.GetResource(ctx, kind, tenant, rec.ID)
				if err != nil {
					return err
				}
				var s map[string]any
				if err := json.Unmarshal(got.Spec, &s); err != nil || s["name"] != "first" {
					return fmt.Errorf("spec round trip: %s", got.Spec)
				}
				list, _, err := tx.ListResources(ctx, kind, tenant, store.Page{})
				if err != nil {
					return err
				}
				if len(list) != 1 || list[0].ID != rec.ID {
					return fmt.Errorf("list: %+v", list)
				}
				return nil
			})
			wantErr(t, r, Platform, "stale update", store.ErrPrecondition, func(ctx context.Context, tx store.Tx) error {
				_, err := tx.UpdateResource(ctx, kind, tenant, rec.ID, "x", spec(map[string]any{}), 5)
				return err
			})
			wantErr(t, r, Platform, "update of a missing row", store.ErrNotFound, func(ctx context.Context, tx store.Tx) error {
				_, err := tx.UpdateResource(ctx, kind, tenant, "00000000-0000-4000-8000-000000000000", "x", spec(map[string]any{}), 1)
				return err
			})
			wantErr(t, r, Platform, "get with a malformed id", store.ErrNotFound, func(ctx context.Context, tx store.Tx) error {
				_, err := tx.GetResource(ctx, kind, tenant, "'; DROP TABLE tools; --")
				return err
			})
			wantErr(t, r, Platform, "spec not JSON", store.ErrInvalid, func(ctx context.Context, tx store.Tx) error {
				_, err := tx.CreateResource(ctx, kind, tenant, "bad", json.RawMessage(`{`))
				return err
			})
			wantErr(t, r, Platform, "spec not an object", store.ErrInvalid, func(ctx context.Context, tx store.Tx) error {
				_, err := tx.CreateResource(ctx, kind, tenant, "bad", json.RawMessage(`[1]`))
				return err
			})
			var up store.Record
			do(t, r, Platform, func(ctx context.Context, tx store.Tx) (err error) {
				up, err = tx.UpdateResource(ctx, kind, tenant, rec.ID, "renamed", spec(map[string]any{"v": 2}), 1)
				return err
			})
			if up.Revision != 2 || up.Name != "renamed" || !up.CreatedAt.Equal(rec.CreatedAt) {
				t.Fatalf("updated %+v", up)
			}
			do(t, r, Platform, func(ctx context.Context, tx store.Tx) (err error) {
				up, err = tx.UpdateResource(ctx, kind, tenant, rec.ID, "renamed", spec(map[string]any{"v": 3}), 0)
				return err
			})
			if up.Revision != 3 {
				t.Fatalf("unconditional update: revision %d, want 3", up.Revision)
			}
			wantErr(t, r, Platform, "stale delete", store.ErrPrecondition, func(ctx context.Context, tx store.Tx) error {
				return tx.DeleteResource(ctx, kind, tenant, rec.ID, 2)
			})
			do(t, r, Platform, func(ctx context.Context, tx store.Tx) error {
				return tx.DeleteResource(ctx, kind, tenant, rec.ID, 3)
			})
			wantErr(t, r, Platform, "get after delete", store.ErrNotFound, func(ctx context.Context, tx store.Tx) error {
				_, err := tx.GetResource(ctx, kind, tenant, rec.ID)
				return err
			})
			wantErr(t, r, Platform, "delete after delete", store.ErrNotFound, func(ctx context.Context, tx store.Tx) error {
				return tx.DeleteResource(ctx, kind, tenant, rec.ID, 0)
			})
		})
	}
	wantErr(t, r, Platform, "tools per tenant", store.ErrInvalid, func(ctx context.Context, tx store.Tx) error {
		_, err := tx.CreateResource(ctx, store.KindTool, TenantA.TenantID, "t", spec(map[string]any{}))
		return err
	})
	wantErr(t, r, Platform, "unknown kind", store.ErrInvalid, func(ctx context.Context, tx store.Tx) error {
		_, err := tx.CreateResource(ctx, store.Kind("tenants; --"), "", "t", spec(map[string]any{}))
		return err
	})
	wantErr(t, r, Platform, "tool name outside the pattern", store.ErrInvalid, func(ctx context.Context, tx store.Tx) error {
		_, err := tx.CreateResource(ctx, store.KindTool, "", "bad name!", spec(map[string]any{}))
		return err
	})
	wantErr(t, r, Platform, "rule for a missing tenant", store.ErrNotFound, func(ctx context.Context, tx store.Tx) error {
		_, err := tx.CreateResource(ctx, store.KindAccessRule, "ghost", "r", spec(map[string]any{}))
		return err
	})
}

func testResourceNames(t *testing.T, r store.TxRunner) {
	seedTenants(t, r)
	create(t, r, Platform, store.KindPolicy, "", "p")
	create(t, r, Platform, store.KindPolicy, TenantA.TenantID, "p") // same name, other scope
	create(t, r, Platform, store.KindPolicy, TenantB.TenantID, "p")
	create(t, r, Platform, store.KindMaskingRule, "", "p") // same name, other kind
	for _, tenant := range []string{"", TenantA.TenantID} {
		wantErr(t, r, Platform, fmt.Sprintf("duplicate name in scope %q", tenant), store.ErrConflict,
			func(ctx context.Context, tx store.Tx) error {
				_, err := tx.CreateResource(ctx, store.KindPolicy, tenant, "p", spec(map[string]any{}))
				return err
			})
	}
	other := create(t, r, Platform, store.KindPolicy, TenantA.TenantID, "q")
	wantErr(t, r, Platform, "rename onto an existing name", store.ErrConflict, func(ctx context.Context, tx store.Tx) error {
		_, err := tx.UpdateResource(ctx, store.KindPolicy, TenantA.TenantID, other.ID, "p", spec(map[string]any{}), 0)
		return err
	})
	create(t, r, Platform, store.KindTool, "", "orders.list")
	wantErr(t, r, Platform, "duplicate tool name", store.ErrConflict, func(ctx context.Context, tx store.Tx) error {
		_, err := tx.CreateResource(ctx, store.KindTool, "", "orders.list", spec(map[string]any{}))
		return err
	})
	// A resource is only found in its own scope.
	wantErr(t, r, Platform, "tenant row looked up as global", store.ErrNotFound, func(ctx context.Context, tx store.Tx) error {
		_, err := tx.GetResource(ctx, store.KindPolicy, "", other.ID)
		return err
	})
	wantErr(t, r, Platform, "tenant a row looked up in tenant b", store.ErrNotFound, func(ctx context.Context, tx store.Tx) error {
		_, err := tx.UpdateResource(ctx, store.KindPolicy, TenantB.TenantID, other.ID, "z", spec(map[string]any{}), 0)
		return err
	})
	// Deleting the tenant deletes its resources.
	do(t, r, Platform, func(ctx context.Context, tx store.Tx) error { return tx.DeleteTenant(ctx, TenantA.TenantID, 0) })
	wantErr(t, r, Platform, "resource of a deleted tenant", store.ErrNotFound, func(ctx context.Context, tx store.Tx) error {
		_, err := tx.GetResource(ctx, store.KindPolicy, TenantA.TenantID, other.ID)
		return err
	})
}

func testPagination(t *testing.T, r store.TxRunner) {
	seedTenants(t, r)
	const n = 7
	want := map[string]bool{}
	// Some rows share a created_at (one transaction), so the id tie-break matters.
	do(t, r, Platform, func(ctx context.Context, tx store.Tx) error {
		for i := range 4 {
			rec, err := tx.CreateResource(ctx, store.KindAccessRule, TenantA.TenantID, fmt.Sprintf("r%d", i), spec(map[string]any{}))
			if err != nil {
				return err
			}
			want[rec.ID] = true
		}
		return nil
	})
	for i := 4; i < n; i++ {
		want[create(t, r, TenantA, store.KindAccessRule, TenantA.TenantID, fmt.Sprintf("r%d", i)).ID] = true
	}
	create(t, r, Platform, store.KindAccessRule, "", "global-not-listed")
	create(t, r, Platform, store.KindAccessRule, TenantB.TenantID, "other-tenant-not-listed")

	for _, actor := range []store.Actor{Platform, TenantA} {
		seen := map[string]bool{}
		cursor, pages := "", 0
		for {
			var page []store.Record
			do(t, r, actor, func(ctx context.Context, tx store.Tx) (err error) {
				page, cursor, err = tx.ListResources(ctx, store.KindAccessRule, TenantA.TenantID, store.Page{Cursor: cursor, Limit: 3})
				return err
			})
			pages++
			for _, rec := range page {
				if seen[rec.ID] || !want[rec.ID] {
					t.Fatalf("as %s: page %d returned %s (seen %v, wanted %v)", describe(actor), pages, rec.Name, seen[rec.ID], want[rec.ID])
				}
				seen[rec.ID] = true
			}
			if cursor == "" {
				break
			}
			if pages > n {
				t.Fatal("pagination does not end")
			}
		}
		if len(seen) != n || pages != 3 {
			t.Fatalf("as %s: %d rows in %d pages, want %d rows in 3 pages", describe(actor), len(seen), pages, n)
		}
	}
	for _, bad := range []store.Page{{Cursor: "not base64!"}, {Cursor: "MTIz"}, {Limit: -1}, {Limit: 501}} {
		wantErr(t, r, Platform, fmt.Sprintf("page %+v", bad), store.ErrInvalid, func(ctx context.Context, tx store.Tx) error {
			_, _, err := tx.ListResources(ctx, store.KindAccessRule, TenantA.TenantID, bad)
			return err
		})
	}
}

// outbox returns the scope revision and the unpublished outbox rows of scope.
func outbox(t *testing.T, r store.TxRunner, scope model.Scope) (revision, pending int64) {
	t.Helper()
	in, ok := r.(Inspector)
	if !ok {
		t.Skip("runner does not implement storetest.Inspector")
	}
	ctx := ctxFor(t)
	snap, err := in.Snapshot(ctx, scope)
	if err != nil {
		t.Fatalf("snapshot %s: %v", scope, err)
	}
	ps, err := in.PendingScopes(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range ps {
		if p.Scope == scope {
			if p.Revision != snap.Revision {
				t.Fatalf("%s: pending max revision %d, scope revision %d", scope, p.Revision, snap.Revision)
			}
			pending = p.Pending
		}
	}
	return snap.Revision, pending
}

func testRollback(t *testing.T, r store.TxRunner) {
	seedTenants(t, r)
	scopesSeen := []model.Scope{model.GlobalScope, model.TenantScope(TenantA.TenantID)}
	before := map[model.Scope][2]int64{}
	for _, s := range scopesSeen {
		rev, pend := outbox(t, r, s)
		before[s] = [2]int64{rev, pend}
	}
	boom := errors.New("boom")
	err := try(t, r, Platform, func(ctx context.Context, tx store.Tx) error {
		if _, err := tx.CreateResource(ctx, store.KindTool, "", "rolled.back", spec(map[string]any{})); err != nil {
			return err
		}
		if _, err := tx.CreateResource(ctx, store.KindPolicy, TenantA.TenantID, "rolled-back", spec(map[string]any{})); err != nil {
			return err
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("Tx returned %v, want fn's error", err)
	}
	// A failing statement mid-transaction also rolls back the earlier ones.
	err = try(t, r, Platform, func(ctx context.Context, tx store.Tx) error {
		if _, err := tx.CreateResource(ctx, store.KindTool, "", "rolled.back", spec(map[string]any{})); err != nil {
			return err
		}
		_, err := tx.CreateResource(ctx, store.KindTool, "", "rolled.back", spec(map[string]any{}))
		return err
	})
	if !errors.Is(err, store.ErrConflict) {
		t.Fatalf("duplicate in one transaction: %v", err)
	}
	do(t, r, Platform, func(ctx context.Context, tx store.Tx) error {
		for _, k := range []struct {
			kind   store.Kind
			tenant string
		}{{store.KindTool, ""}, {store.KindPolicy, TenantA.TenantID}} {
			list, _, err := tx.ListResources(ctx, k.kind, k.tenant, store.Page{})
			if err != nil {
				return err
			}
			if len(list) != 0 {
				return fmt.Errorf("%s survived the rollback: %+v", k.kind, list)
			}
		}
		return nil
	})
	for _, s := range scopesSeen {
		rev, pend := outbox(t, r, s)
		if b := before[s]; rev != b[0] || pend != b[1] {
			t.Errorf("%s after rollback: revision %d pending %d, want %d %d", s, rev, pend, b[0], b[1])
		}
	}
}

func testScopeBumps(t *testing.T, r store.TxRunner) {
	seedTenants(t, r)
	global, tenA, tenB := model.GlobalScope, model.TenantScope(TenantA.TenantID), model.TenantScope(TenantB.TenantID)
	var rule, tool store.Record
	var key store.BackendKeyRecord
	writes := []struct {
		name  string
		actor store.Actor
		scope model.Scope // "" = no scope changes
		fn    func(ctx context.Context, tx store.Tx) error
	}{
		{"create tenant", Platform, "tenant/c", func(ctx context.Context, tx store.Tx) error {
			_, err := tx.CreateTenant(ctx, model.Tenant{ID: "c", Name: "C"})
			return err
		}},
		{"update tenant", Platform, tenB, func(ctx context.Context, tx store.Tx) error {
			_, err := tx.UpdateTenant(ctx, model.Tenant{ID: TenantB.TenantID, Name: "B2"}, 0)
			return err
		}},
		{"delete tenant", Platform, "tenant/c", func(ctx context.Context, tx store.Tx) error { return tx.DeleteTenant(ctx, "c", 0) }},
		{"create tool", Platform, global, func(ctx context.Context, tx store.Tx) (err error) {
			tool, err = tx.CreateResource(ctx, store.KindTool, "", "t1", spec(map[string]any{}))
			return err
		}},
		{"update tool", Platform, global, func(ctx context.Context, tx store.Tx) error {
			_, err := tx.UpdateResource(ctx, store.KindTool, "", tool.ID, "t1", spec(map[string]any{"x": 1}), 0)
			return err
		}},
		{"delete tool", Platform, global, func(ctx context.Context, tx store.Tx) error {
			return tx.DeleteResource(ctx, store.KindTool, "", tool.ID, 0)
		}},
		{"create tool source", Platform, global, func(ctx context.Context, tx store.Tx) error {
			_, err := tx.CreateResource(ctx, store.KindToolSource, "", "s1", spec(map[string]any{}))
			return err
		}},
		{"create global hook", Platform, global, func(ctx context.Context, tx store.Tx) error {
			_, err := tx.CreateResource(ctx, store.KindHook, "", "h1", spec(map[string]any{}))
			return err
		}},
		{"tenant creates its rule", TenantA, tenA, func(ctx context.Context, tx store.Tx) (err error) {
			rule, err = tx.CreateResource(ctx, store.KindAccessRule, TenantA.TenantID, "r1", spec(map[string]any{}))
			return err
		}},
		{"tenant updates its rule", TenantA, tenA, func(ctx context.Context, tx store.Tx) error {
			_, err := tx.UpdateResource(ctx, store.KindAccessRule, TenantA.TenantID, rule.ID, "r1", spec(map[string]any{"y": 1}), 1)
			return err
		}},
		{"tenant deletes its rule", TenantA, tenA, func(ctx context.Context, tx store.Tx) error {
			return tx.DeleteResource(ctx, store.KindAccessRule, TenantA.TenantID, rule.ID, 2)
		}},
		{"platform writes a tenant policy", Platform, tenB, func(ctx context.Context, tx store.Tx) error {
			_, err := tx.CreateResource(ctx, store.KindPolicy, TenantB.TenantID, "p1", spec(map[string]any{}))
			return err
		}},
		{"create backend key", Platform, global, func(ctx context.Context, tx store.Tx) (err error) {
			key, err = tx.CreateBackendKey(ctx)
			return err
		}},
		{"rotate backend key", Platform, global, func(ctx context.Context, tx store.Tx) error {
			_, err := tx.RotateBackendKey(ctx, key.KID, time.Hour)
			return err
		}},
		{"revoke backend key", Platform, global, func(ctx context.Context, tx store.Tx) error { return tx.RevokeBackendKey(ctx, key.KID) }},
		{"approvals touch no scope", Platform, "", func(ctx context.Context, tx store.Tx) error {
			_, err := tx.CreateApproval(ctx, store.Approval{TenantID: TenantA.TenantID, UserID: "u", Tool: "t", ArgsHash: "h", ExpiresAt: time.Now().Add(time.Hour)})
			return err
		}},
		{"audit touches no scope", Platform, "", func(ctx context.Context, tx store.Tx) error {
			_, err := tx.InsertAuditEvents(ctx, []store.AuditEvent{{ID: "e", Time: time.Now(), Event: spec(map[string]any{})}})
			return err
		}},
		{"reads touch no scope", TenantA, "", func(ctx context.Context, tx store.Tx) error {
			_, _, err := tx.ListResources(ctx, store.KindAccessRule, TenantA.TenantID, store.Page{})
			return err
		}},
	}
	all := []model.Scope{global, tenA, tenB, "tenant/c"}
	for _, w := range writes {
		before := map[model.Scope][2]int64{}
		for _, s := range all {
			rev, pend := outbox(t, r, s)
			before[s] = [2]int64{rev, pend}
		}
		do(t, r, w.actor, w.fn)
		for _, s := range all {
			rev, pend := outbox(t, r, s)
			b := before[s]
			wantRev, wantPend := b[0], b[1]
			if s == w.scope {
				wantRev, wantPend = b[0]+1, b[1]+1
			}
			if rev != wantRev || pend != wantPend {
				t.Errorf("%s: scope %s revision %d pending %d, want %d %d", w.name, s, rev, pend, wantRev, wantPend)
			}
		}
	}
	// Several writes in one transaction bump their scope once.
	_, before := outbox(t, r, global)
	revBefore, _ := outbox(t, r, global)
	do(t, r, Platform, func(ctx context.Context, tx store.Tx) error {
		for i := range 3 {
			if _, err := tx.CreateResource(ctx, store.KindTool, "", fmt.Sprintf("bulk%d", i), spec(map[string]any{})); err != nil {
				return err
			}
		}
		return nil
	})
	rev, pend := outbox(t, r, global)
	if rev != revBefore+1 || pend != before+1 {
		t.Errorf("three writes in one transaction: revision %d pending %d, want %d %d", rev, pend, revBefore+1, before+1)
	}
}

func testConcurrentWriters(t *testing.T, r store.TxRunner) {
	seedTenants(t, r)
	scope := model.TenantScope(TenantA.TenantID)
	revBefore, pendBefore := outbox(t, r, scope)
	const writers = 8
	errs := make(chan error, writers)
	for i := range writers {
		go func() {
			errs <- try(t, r, TenantA, func(ctx context.Context, tx store.Tx) error {
				_, err := tx.CreateResource(ctx, store.KindMaskingRule, TenantA.TenantID, fmt.Sprintf("m%d", i), spec(map[string]any{}))
				return err
			})
		}()
	}
	for range writers {
		if err := <-errs; err != nil {
			t.Fatalf("concurrent writer: %v", err)
		}
	}
	// Every writer got its own revision: none was lost to a race.
	rev, pend := outbox(t, r, scope)
	if rev != revBefore+writers || pend != pendBefore+writers {
		t.Fatalf("after %d concurrent writers: revision %d pending %d, want %d %d", writers, rev, pend, revBefore+writers, pendBefore+writers)
	}
}
