package storetest

import (
	"context"
	"fmt"
	"slices"
	"testing"

	"github.com/portcullis/portcullis/controlplane/internal/store"
	"github.com/portcullis/portcullis/shared/model"
)

// createDomain creates a domain as the platform.
func createDomain(t *testing.T, r store.TxRunner, d model.Domain) store.DomainRecord {
	t.Helper()
	var rec store.DomainRecord
	do(t, r, Platform, func(ctx context.Context, tx store.Tx) (err error) {
		rec, err = tx.CreateDomain(ctx, d)
		return err
	})
	return rec
}

// hostnames lists the domains actor sees with ListDomains(tenantID), all pages.
func hostnames(t *testing.T, r store.TxRunner, actor store.Actor, tenantID string) []string {
	t.Helper()
	var out []string
	do(t, r, actor, func(ctx context.Context, tx store.Tx) error {
		p := store.Page{Limit: 1} // one per page, so paging is exercised too
		for range 100 {
			recs, next, err := tx.ListDomains(ctx, tenantID, p)
			if err != nil {
				return err
			}
			for _, d := range recs {
				out = append(out, d.Hostname)
			}
			if next == "" {
				return nil
			}
			p.Cursor = next
		}
		return fmt.Errorf("paging did not end")
	})
	slices.Sort(out)
	return out
}

// testDomains: CRUD, hostname uniqueness, the tenant foreign key, who may
// read and write, and the scope every write bumps (always global: gateways
// route every domain), including the cascade when a tenant is deleted.
func testDomains(t *testing.T, r store.TxRunner) {
	seedTenants(t, r)
	a, b := TenantA.TenantID, TenantB.TenantID
	global, tenA, tenB := model.GlobalScope, model.TenantScope(a), model.TenantScope(b)
	all := []model.Scope{global, tenA, tenB}
	// bumps runs fn as actor and checks that exactly the scopes in want got
	// one new revision and one outbox row each.
	bumps := func(what string, actor store.Actor, want []model.Scope, fn func(ctx context.Context, tx store.Tx) error) {
		t.Helper()
		before := map[model.Scope][2]int64{}
		for _, s := range all {
			rev, pend := outbox(t, r, s)
			before[s] = [2]int64{rev, pend}
		}
		do(t, r, actor, fn)
		for _, s := range all {
			rev, pend := outbox(t, r, s)
			wantRev, wantPend := before[s][0], before[s][1]
			if slices.Contains(want, s) {
				wantRev, wantPend = wantRev+1, wantPend+1
			}
			if rev != wantRev || pend != wantPend {
				t.Errorf("%s: scope %s revision %d pending %d, want %d %d", what, s, rev, pend, wantRev, wantPend)
			}
		}
	}

	var platformDomain, aDomain, bDomain store.DomainRecord
	bumps("create platform domain", Platform, []model.Scope{global}, func(ctx context.Context, tx store.Tx) (err error) {
		platformDomain, err = tx.CreateDomain(ctx, model.Domain{Hostname: "mcp.platform.test"})
		return err
	})
	bumps("create tenant domain", Platform, []model.Scope{global}, func(ctx context.Context, tx store.Tx) (err error) {
		aDomain, err = tx.CreateDomain(ctx, model.Domain{Hostname: "mcp.a.test", TenantID: a, AuthorizationServer: "https://login.a.test"})
		return err
	})
	bDomain = createDomain(t, r, model.Domain{Hostname: "mcp.b.test", TenantID: b})
	if aDomain.Revision != 1 || aDomain.TenantID != a || aDomain.AuthorizationServer != "https://login.a.test" || aDomain.CreatedAt.IsZero() {
		t.Fatalf("created domain %+v", aDomain)
	}
	if platformDomain.TenantID != "" {
		t.Fatalf("platform domain has tenant %q", platformDomain.TenantID)
	}

	wantErr(t, r, Platform, "duplicate hostname in another tenant", store.ErrConflict, func(ctx context.Context, tx store.Tx) error {
		_, err := tx.CreateDomain(ctx, model.Domain{Hostname: "mcp.a.test", TenantID: b})
		return err
	})
	wantErr(t, r, Platform, "domain of a missing tenant", store.ErrInvalid, func(ctx context.Context, tx store.Tx) error {
		_, err := tx.CreateDomain(ctx, model.Domain{Hostname: "mcp.ghost.test", TenantID: "ghost"})
		return err
	})
	wantErr(t, r, Platform, "hostname with a port (backstop)", store.ErrInvalid, func(ctx context.Context, tx store.Tx) error {
		_, err := tx.CreateDomain(ctx, model.Domain{Hostname: "mcp.example.test:443"})
		return err
	})

	// Reads: the platform sees all; a tenant only its own, whatever it asks.
	if got := hostnames(t, r, Platform, ""); !slices.Equal(got, []string{"mcp.a.test", "mcp.b.test", "mcp.platform.test"}) {
		t.Errorf("platform lists %v", got)
	}
	if got := hostnames(t, r, Platform, b); !slices.Equal(got, []string{"mcp.b.test"}) {
		t.Errorf("platform lists tenant b's as %v", got)
	}
	if got := hostnames(t, r, TenantA, ""); !slices.Equal(got, []string{"mcp.a.test"}) {
		t.Errorf("tenant a lists %v", got)
	}
	if got := hostnames(t, r, TenantA, b); len(got) != 0 {
		t.Errorf("tenant a lists tenant b's domains: %v", got)
	}
	do(t, r, TenantA, func(ctx context.Context, tx store.Tx) error {
		got, err := tx.GetDomain(ctx, aDomain.ID)
		if err != nil || got.Hostname != "mcp.a.test" {
			return fmt.Errorf("tenant a gets its domain: %+v, %v", got, err)
		}
		return nil
	})
	for _, other := range []store.DomainRecord{bDomain, platformDomain} {
		wantErr(t, r, TenantA, "get "+other.Hostname, store.ErrNotFound, func(ctx context.Context, tx store.Tx) error {
			_, err := tx.GetDomain(ctx, other.ID)
			return err
		})
	}
	wantErr(t, r, Platform, "get with a malformed id", store.ErrNotFound, func(ctx context.Context, tx store.Tx) error {
		_, err := tx.GetDomain(ctx, "not-a-uuid")
		return err
	})

	// Writes: never a tenant's, not even on its own domain.
	for _, id := range []string{aDomain.ID, bDomain.ID} {
		wantErr(t, r, TenantA, "tenant updates a domain", store.ErrForbidden, func(ctx context.Context, tx store.Tx) error {
			_, err := tx.UpdateDomain(ctx, id, model.Domain{Hostname: "evil.a.test", TenantID: a}, 0)
			return err
		})
		wantErr(t, r, TenantA, "tenant deletes a domain", store.ErrForbidden, func(ctx context.Context, tx store.Tx) error {
			return tx.DeleteDomain(ctx, id, 0)
		})
	}
	wantErr(t, r, TenantA, "tenant creates a domain", store.ErrForbidden, func(ctx context.Context, tx store.Tx) error {
		_, err := tx.CreateDomain(ctx, model.Domain{Hostname: "evil.a.test", TenantID: a})
		return err
	})

	// Updates: If-Match, renames, uniqueness, and the global bump.
	wantErr(t, r, Platform, "stale update", store.ErrPrecondition, func(ctx context.Context, tx store.Tx) error {
		_, err := tx.UpdateDomain(ctx, aDomain.ID, model.Domain{Hostname: "mcp2.a.test", TenantID: a}, 9)
		return err
	})
	wantErr(t, r, Platform, "rename onto another hostname", store.ErrConflict, func(ctx context.Context, tx store.Tx) error {
		_, err := tx.UpdateDomain(ctx, aDomain.ID, model.Domain{Hostname: "mcp.b.test", TenantID: a}, 0)
		return err
	})
	wantErr(t, r, Platform, "update of a missing domain", store.ErrNotFound, func(ctx context.Context, tx store.Tx) error {
		_, err := tx.UpdateDomain(ctx, "00000000-0000-0000-0000-000000000001", model.Domain{Hostname: "x.a.test"}, 0)
		return err
	})
	var updated store.DomainRecord
	bumps("update domain", Platform, []model.Scope{global}, func(ctx context.Context, tx store.Tx) (err error) {
		updated, err = tx.UpdateDomain(ctx, aDomain.ID, model.Domain{Hostname: "mcp2.a.test", TenantID: a}, 1)
		return err
	})
	if updated.Revision != 2 || updated.Hostname != "mcp2.a.test" || updated.AuthorizationServer != "" || updated.ID != aDomain.ID {
		t.Fatalf("updated domain %+v", updated)
	}

	// Deleting a tenant deletes its domains and republishes the global scope
	// (plus the tenant's tombstone); deleting one without domains does not.
	bumps("delete tenant with a domain", Platform, []model.Scope{global, tenB}, func(ctx context.Context, tx store.Tx) error {
		return tx.DeleteTenant(ctx, b, 0)
	})
	if got := hostnames(t, r, Platform, ""); !slices.Equal(got, []string{"mcp.platform.test", "mcp2.a.test"}) {
		t.Errorf("after deleting tenant b, the platform lists %v", got)
	}
	do(t, r, Platform, func(ctx context.Context, tx store.Tx) error {
		_, err := tx.CreateTenant(ctx, model.Tenant{ID: "c", Name: "C"})
		return err
	})
	bumps("delete tenant without domains", Platform, []model.Scope{"tenant/c"}, func(ctx context.Context, tx store.Tx) error {
		return tx.DeleteTenant(ctx, "c", 0)
	})

	if in, ok := r.(Inspector); ok {
		snap, err := in.Snapshot(ctxFor(t), global)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, d := range snap.Domains {
			got = append(got, d.Hostname)
		}
		if !slices.Equal(got, []string{"mcp.platform.test", "mcp2.a.test"}) {
			t.Errorf("global snapshot domains %v, want them all, by hostname", got)
		}
		tenantSnap, err := in.Snapshot(ctxFor(t), tenA)
		if err != nil {
			t.Fatal(err)
		}
		if len(tenantSnap.Domains) != 0 {
			t.Errorf("tenant snapshot carries domains: %+v", tenantSnap.Domains)
		}
	}

	wantErr(t, r, Platform, "stale delete", store.ErrPrecondition, func(ctx context.Context, tx store.Tx) error {
		return tx.DeleteDomain(ctx, aDomain.ID, 1)
	})
	bumps("delete domain", Platform, []model.Scope{global}, func(ctx context.Context, tx store.Tx) error {
		return tx.DeleteDomain(ctx, aDomain.ID, 2)
	})
	wantErr(t, r, Platform, "second delete", store.ErrNotFound, func(ctx context.Context, tx store.Tx) error {
		return tx.DeleteDomain(ctx, aDomain.ID, 0)
	})
	wantErr(t, r, Platform, "bad cursor", store.ErrInvalid, func(ctx context.Context, tx store.Tx) error {
		_, _, err := tx.ListDomains(ctx, "", store.Page{Cursor: "not base64!"})
		return err
	})
}
