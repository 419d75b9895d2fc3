package storetest

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/portcullis/portcullis/controlplane/internal/store"
	"github.com/portcullis/portcullis/shared/model"
)

// testTenantIsolation: a tenant actor for A gets ErrNotFound for every row of
// B (by B's tenant id or with B's row id under its own), cannot write global
// or platform rows, and never sees B in any list.
func testTenantIsolation(t *testing.T, r store.TxRunner) {
	seedTenants(t, r)
	a, b := TenantA.TenantID, TenantB.TenantID
	bRule := create(t, r, Platform, store.KindAccessRule, b, "b-rule")
	bMask := create(t, r, Platform, store.KindMaskingRule, b, "b-mask")
	bHook := create(t, r, Platform, store.KindHook, b, "b-hook")
	global := create(t, r, Platform, store.KindAccessRule, "", "global-rule")
	tool := create(t, r, Platform, store.KindTool, "", "orders.get")
	var bApproval store.Approval
	do(t, r, Platform, func(ctx context.Context, tx store.Tx) (err error) {
		bApproval, err = tx.CreateApproval(ctx, store.Approval{TenantID: b, UserID: "u", Tool: "t", ArgsHash: "h", ExpiresAt: time.Now().Add(time.Hour)})
		if err != nil {
			return err
		}
		_, err = tx.InsertAuditEvents(ctx, []store.AuditEvent{
			{ID: "a1", Time: time.Now(), TenantID: a, Event: spec(map[string]any{})},
			{ID: "b1", Time: time.Now(), TenantID: b, Event: spec(map[string]any{})},
			{ID: "g1", Time: time.Now(), Event: spec(map[string]any{})},
		})
		return err
	})

	for _, row := range []store.Record{bRule, bMask, bHook} {
		kind := map[string]store.Kind{"b-rule": store.KindAccessRule, "b-mask": store.KindMaskingRule, "b-hook": store.KindHook}[row.Name]
		for _, tenant := range []string{b, a} { // B's scope, and B's id smuggled under A's scope
			wantErr(t, r, TenantA, fmt.Sprintf("get %s in %s", row.Name, tenant), store.ErrNotFound, func(ctx context.Context, tx store.Tx) error {
				_, err := tx.GetResource(ctx, kind, tenant, row.ID)
				return err
			})
		}
		// Hooks are platform-written: a tenant is refused before the lookup.
		wantWrite := store.ErrNotFound
		if kind == store.KindHook {
			wantWrite = store.ErrForbidden
		}
		wantErr(t, r, TenantA, "update "+row.Name, wantWrite, func(ctx context.Context, tx store.Tx) error {
			_, err := tx.UpdateResource(ctx, kind, b, row.ID, "pwned", spec(map[string]any{}), 0)
			return err
		})
		wantErr(t, r, TenantA, "delete "+row.Name, wantWrite, func(ctx context.Context, tx store.Tx) error {
			return tx.DeleteResource(ctx, kind, b, row.ID, 0)
		})
	}
	do(t, r, TenantA, func(ctx context.Context, tx store.Tx) error {
		for _, kind := range store.ScopedKinds {
			list, _, err := tx.ListResources(ctx, kind, b, store.Page{})
			if err != nil {
				return err
			}
			if len(list) != 0 {
				return fmt.Errorf("tenant A listed B's %s: %+v", kind, list)
			}
		}
		tenants, _, err := tx.ListTenants(ctx, store.Page{})
		if err != nil {
			return err
		}
		if len(tenants) != 1 || tenants[0].ID != a {
			return fmt.Errorf("tenant A lists tenants %+v", tenants)
		}
		approvals, _, err := tx.ListApprovals(ctx, b, "", store.Page{})
		if err != nil {
			return err
		}
		if len(approvals) != 0 {
			return fmt.Errorf("tenant A listed B's approvals: %+v", approvals)
		}
		for _, c := range []struct {
			f    store.AuditFilter
			want string
		}{{store.AuditFilter{}, "[a1]"}, {store.AuditFilter{TenantID: a}, "[a1]"}, {store.AuditFilter{TenantID: b}, "[]"}} {
			events, _, err := tx.QueryAudit(ctx, c.f, store.Page{})
			if err != nil {
				return err
			}
			ids := []string{}
			for _, e := range events {
				ids = append(ids, e.ID)
			}
			if fmt.Sprint(ids) != c.want {
				return fmt.Errorf("tenant A queried audit %+v and got %v, want %s", c.f, ids, c.want)
			}
		}
		// Tools are platform-owned and readable by every admin.
		if _, err := tx.GetResource(ctx, store.KindTool, "", tool.ID); err != nil {
			return fmt.Errorf("tenant reads a tool: %w", err)
		}
		return nil
	})
	for _, tc := range []struct {
		what string
		want error
		fn   func(ctx context.Context, tx store.Tx) error
	}{
		{"get tenant B", store.ErrNotFound, func(ctx context.Context, tx store.Tx) error { _, err := tx.GetTenant(ctx, b); return err }},
		{"update tenant B", store.ErrForbidden, func(ctx context.Context, tx store.Tx) error {
			_, err := tx.UpdateTenant(ctx, model.Tenant{ID: b, Name: "x"}, 0)
			return err
		}},
		{"enable own delegation", store.ErrForbidden, func(ctx context.Context, tx store.Tx) error {
			_, err := tx.UpdateTenant(ctx, model.Tenant{ID: a, Name: "A", DelegationEnabled: true}, 0)
			return err
		}},
		{"delete tenant B", store.ErrForbidden, func(ctx context.Context, tx store.Tx) error { return tx.DeleteTenant(ctx, b, 0) }},
		{"create a tenant", store.ErrForbidden, func(ctx context.Context, tx store.Tx) error {
			_, err := tx.CreateTenant(ctx, model.Tenant{ID: "new", Name: "x"})
			return err
		}},
		{"create in B", store.ErrForbidden, func(ctx context.Context, tx store.Tx) error {
			_, err := tx.CreateResource(ctx, store.KindAccessRule, b, "evil", spec(map[string]any{}))
			return err
		}},
		{"create a global rule", store.ErrForbidden, func(ctx context.Context, tx store.Tx) error {
			_, err := tx.CreateResource(ctx, store.KindAccessRule, "", "evil", spec(map[string]any{}))
			return err
		}},
		{"update a global rule", store.ErrForbidden, func(ctx context.Context, tx store.Tx) error {
			_, err := tx.UpdateResource(ctx, store.KindAccessRule, "", global.ID, "evil", spec(map[string]any{}), 0)
			return err
		}},
		{"delete a global rule", store.ErrForbidden, func(ctx context.Context, tx store.Tx) error {
			return tx.DeleteResource(ctx, store.KindAccessRule, "", global.ID, 0)
		}},
		{"create a tool", store.ErrForbidden, func(ctx context.Context, tx store.Tx) error {
			_, err := tx.CreateResource(ctx, store.KindTool, "", "evil", spec(map[string]any{}))
			return err
		}},
		{"update a tool", store.ErrForbidden, func(ctx context.Context, tx store.Tx) error {
			_, err := tx.UpdateResource(ctx, store.KindTool, "", tool.ID, "evil", spec(map[string]any{}), 0)
			return err
		}},
		{"create its own hook", store.ErrForbidden, func(ctx context.Context, tx store.Tx) error {
			_, err := tx.CreateResource(ctx, store.KindHook, a, "h", spec(map[string]any{}))
			return err
		}},
		{"get B's approval", store.ErrNotFound, func(ctx context.Context, tx store.Tx) error {
			_, err := tx.GetApproval(ctx, b, bApproval.ID)
			return err
		}},
		{"get B's approval under A", store.ErrNotFound, func(ctx context.Context, tx store.Tx) error {
			_, err := tx.GetApproval(ctx, a, bApproval.ID)
			return err
		}},
		{"decide B's approval", store.ErrNotFound, func(ctx context.Context, tx store.Tx) error {
			_, err := tx.DecideApproval(ctx, b, bApproval.ID, store.Decision{Verdict: "approve"})
			return err
		}},
		{"list all tenants' approvals", store.ErrForbidden, func(ctx context.Context, tx store.Tx) error {
			_, _, err := tx.ListApprovals(ctx, "", "", store.Page{})
			return err
		}},
		{"create B's approval", store.ErrForbidden, func(ctx context.Context, tx store.Tx) error {
			_, err := tx.CreateApproval(ctx, store.Approval{TenantID: b, UserID: "u", Tool: "t", ArgsHash: "h", ExpiresAt: time.Now().Add(time.Hour)})
			return err
		}},
		{"insert audit events", store.ErrForbidden, func(ctx context.Context, tx store.Tx) error {
			_, err := tx.InsertAuditEvents(ctx, []store.AuditEvent{{ID: "x", Time: time.Now(), TenantID: a, Event: spec(map[string]any{})}})
			return err
		}},
		{"list backend keys", store.ErrForbidden, func(ctx context.Context, tx store.Tx) error { _, err := tx.ListBackendKeys(ctx); return err }},
		{"create a backend key", store.ErrForbidden, func(ctx context.Context, tx store.Tx) error { _, err := tx.CreateBackendKey(ctx); return err }},
		{"list gateways", store.ErrForbidden, func(ctx context.Context, tx store.Tx) error { _, err := tx.ListGateways(ctx); return err }},
		{"upsert a gateway", store.ErrForbidden, func(ctx context.Context, tx store.Tx) error {
			return tx.UpsertGateway(ctx, store.Gateway{ID: "g"})
		}},
	} {
		wantErr(t, r, TenantA, tc.what, tc.want, tc.fn)
	}
	// Nothing B owns changed.
	do(t, r, Platform, func(ctx context.Context, tx store.Tx) error {
		got, err := tx.GetResource(ctx, store.KindAccessRule, b, bRule.ID)
		if err != nil || got.Revision != 1 || got.Name != "b-rule" {
			return fmt.Errorf("B's rule after the attempts: %+v, %v", got, err)
		}
		ap, err := tx.GetApproval(ctx, b, bApproval.ID)
		if err != nil || len(ap.Decisions) != 0 {
			return fmt.Errorf("B's approval after the attempts: %+v, %v", ap, err)
		}
		tn, err := tx.GetTenant(ctx, a)
		if err != nil || tn.DelegationEnabled != true || tn.Revision != 1 {
			return fmt.Errorf("tenant A after the attempts: %+v, %v", tn, err)
		}
		return nil
	})
}

// testActorRequired: a transaction needs an actor; a tenant without
// delegation cannot write tenant policies.
func testActorRequired(t *testing.T, r store.TxRunner) {
	seedTenants(t, r)
	for _, actor := range []store.Actor{{}, {Subject: "someone"}, {TenantID: "bad tenant"}} {
		called := false
		err := try(t, r, actor, func(ctx context.Context, tx store.Tx) error { called = true; return nil })
		if !errors.Is(err, store.ErrForbidden) || called {
			t.Errorf("actor %+v: err %v, fn called %v; want ErrForbidden before fn", actor, err, called)
		}
	}
	wantErr(t, r, TenantB, "tenant policy without delegation", store.ErrForbidden, func(ctx context.Context, tx store.Tx) error {
		_, err := tx.CreateResource(ctx, store.KindPolicy, TenantB.TenantID, "p", spec(map[string]any{}))
		return err
	})
	create(t, r, TenantA, store.KindPolicy, TenantA.TenantID, "p") // delegation on
}

func testApprovals(t *testing.T, r store.TxRunner) {
	seedTenants(t, r)
	a := TenantA.TenantID
	newApproval := func(min int, expires time.Time) store.Approval {
		var ap store.Approval
		do(t, r, Platform, func(ctx context.Context, tx store.Tx) (err error) {
			ap, err = tx.CreateApproval(ctx, store.Approval{TenantID: a, UserID: "alice", Tool: "orders.refund", ArgsHash: "sha256:abc",
				Arguments: spec(map[string]any{"amount": 10}), PolicyName: "big-refunds", MinApprovals: min, ExpiresAt: expires})
			return err
		})
		return ap
	}
	decide := func(ap store.Approval, by, verdict string) (store.Approval, error) {
		var out store.Approval
		err := try(t, r, TenantA, func(ctx context.Context, tx store.Tx) (err error) {
			out, err = tx.DecideApproval(ctx, a, ap.ID, store.Decision{By: by, Verdict: verdict, Comment: "ok"})
			return err
		})
		return out, err
	}
	later := time.Now().Add(time.Hour)

	two := newApproval(2, later)
	if two.Status != "pending" || two.MinApprovals != 2 || len(two.Decisions) != 0 || two.ID == "" {
		t.Fatalf("created %+v", two)
	}
	steps := []struct {
		by, verdict string
		wantStatus  string
		wantErr     error
	}{
		{"bob", "approve", "pending", nil},
		{"bob", "approve", "", store.ErrConflict}, // same approver twice
		{"bob", "deny", "", store.ErrConflict},
		{"carol", "maybe", "", store.ErrInvalid},
		{"carol", "approve", "approved", nil},
		{"dave", "approve", "", store.ErrConflict}, // no longer pending
		{"dave", "deny", "", store.ErrConflict},
	}
	for i, s := range steps {
		got, err := decide(two, s.by, s.verdict)
		if !errors.Is(err, s.wantErr) || (s.wantErr == nil && got.Status != s.wantStatus) {
			t.Fatalf("step %d (%s %s): status %q err %v, want %q %v", i, s.by, s.verdict, got.Status, err, s.wantStatus, s.wantErr)
		}
	}
	got, err := decide(newApproval(1, later), "bob", "approve")
	if err != nil || got.Status != "approved" || got.DecidedAt == nil || len(got.Decisions) != 1 || got.Decisions[0].By != "bob" {
		t.Fatalf("single approval: %+v %v", got, err)
	}
	denied := newApproval(2, later)
	if got, err := decide(denied, "bob", "deny"); err != nil || got.Status != "denied" {
		t.Fatalf("deny: %+v %v", got, err)
	}
	if _, err := decide(denied, "carol", "approve"); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("approve after deny: %v, want ErrConflict (a deny is final)", err)
	}
	expired := newApproval(1, time.Now().Add(-time.Minute))
	if expired.Status != "expired" {
		t.Fatalf("approval past its expiry reads as %q", expired.Status)
	}
	if _, err := decide(expired, "bob", "approve"); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("approve after expiry: %v, want ErrConflict", err)
	}
	// The approver defaults to the actor's subject.
	def := newApproval(1, later)
	do(t, r, TenantA, func(ctx context.Context, tx store.Tx) error {
		got, err := tx.DecideApproval(ctx, a, def.ID, store.Decision{Verdict: "approve"})
		if err != nil || got.Decisions[0].By != TenantA.Subject {
			return fmt.Errorf("decision by default: %+v %v", got, err)
		}
		return nil
	})
	do(t, r, TenantA, func(ctx context.Context, tx store.Tx) error {
		for status, want := range map[string]int{"": 5, "approved": 3, "denied": 1, "expired": 1, "pending": 0} {
			list, _, err := tx.ListApprovals(ctx, a, status, store.Page{})
			if err != nil {
				return err
			}
			if len(list) != want {
				return fmt.Errorf("status %q: %d approvals, want %d", status, len(list), want)
			}
		}
		page1, cursor, err := tx.ListApprovals(ctx, a, "", store.Page{Limit: 3})
		if err != nil || len(page1) != 3 || cursor == "" {
			return fmt.Errorf("page 1: %d, %q, %v", len(page1), cursor, err)
		}
		page2, cursor, err := tx.ListApprovals(ctx, a, "", store.Page{Limit: 3, Cursor: cursor})
		if err != nil || len(page2) != 2 || cursor != "" {
			return fmt.Errorf("page 2: %d, %q, %v", len(page2), cursor, err)
		}
		if !page1[0].CreatedAt.After(page2[1].CreatedAt) && page1[0].CreatedAt.Equal(page2[1].CreatedAt) && page1[0].ID < page2[1].ID {
			return fmt.Errorf("approvals not newest first")
		}
		return nil
	})
	wantErr(t, r, Platform, "approval without expiry", store.ErrInvalid, func(ctx context.Context, tx store.Tx) error {
		_, err := tx.CreateApproval(ctx, store.Approval{TenantID: a, UserID: "u", Tool: "t", ArgsHash: "h"})
		return err
	})
	wantErr(t, r, Platform, "missing approval", store.ErrNotFound, func(ctx context.Context, tx store.Tx) error {
		_, err := tx.GetApproval(ctx, a, "00000000-0000-4000-8000-000000000000")
		return err
	})
}

func testAudit(t *testing.T, r store.TxRunner) {
	seedTenants(t, r)
	base := time.Date(2026, 11, 20, 12, 0, 0, 0, time.UTC)
	events := []store.AuditEvent{
		{ID: "e1", Time: base, TenantID: TenantA.TenantID, Event: spec(map[string]any{"user_id": "alice", "tool": "orders.get", "decision": "allow"})},
		{ID: "e2", Time: base.Add(time.Minute), TenantID: TenantA.TenantID, UserID: "bob", Tool: "orders.refund", Decision: "deny", Event: spec(map[string]any{})},
		{ID: "e3", Time: base.Add(2 * time.Minute), TenantID: TenantB.TenantID, Event: spec(map[string]any{"user_id": "carol", "tool": "orders.get", "decision": "allow"})},
		{ID: "e4", Time: base.Add(3 * time.Minute), Event: spec(map[string]any{"tool": "orders.get", "decision": "deny"})},
		{ID: "e5", Time: base.Add(4 * time.Minute), TenantID: TenantA.TenantID, Event: spec(map[string]any{"user_id": "alice", "tool": "orders.get", "decision": "allow"})},
		{ID: "e6", Time: time.Now().AddDate(5, 0, 0), Event: spec(map[string]any{})}, // far future: default partition
	}
	insert := func(evs []store.AuditEvent) int {
		var n int
		do(t, r, Platform, func(ctx context.Context, tx store.Tx) (err error) {
			n, err = tx.InsertAuditEvents(ctx, evs)
			return err
		})
		return n
	}
	if n := insert(events); n != len(events) {
		t.Fatalf("inserted %d, want %d", n, len(events))
	}
	if n := insert(append(events[:2:2], events[1])); n != 0 { // redelivery, also duplicated within a batch
		t.Fatalf("re-inserted %d, want 0", n)
	}
	wantErr(t, r, Platform, "event without id", store.ErrInvalid, func(ctx context.Context, tx store.Tx) error {
		_, err := tx.InsertAuditEvents(ctx, []store.AuditEvent{{Time: base, Event: spec(map[string]any{})}})
		return err
	})
	cases := []struct {
		actor  store.Actor
		filter store.AuditFilter
		want   []string // newest first
	}{
		{Platform, store.AuditFilter{}, []string{"e6", "e5", "e4", "e3", "e2", "e1"}},
		{Platform, store.AuditFilter{TenantID: TenantA.TenantID}, []string{"e5", "e2", "e1"}},
		{Platform, store.AuditFilter{UserID: "alice"}, []string{"e5", "e1"}},
		{Platform, store.AuditFilter{Tool: "orders.get", Decision: "allow"}, []string{"e5", "e3", "e1"}},
		{Platform, store.AuditFilter{Decision: "deny"}, []string{"e4", "e2"}},
		{Platform, store.AuditFilter{From: base.Add(time.Minute), To: base.Add(3 * time.Minute)}, []string{"e3", "e2"}},
		{TenantA, store.AuditFilter{}, []string{"e5", "e2", "e1"}},
		{TenantA, store.AuditFilter{Tool: "orders.get"}, []string{"e5", "e1"}},
		{TenantB, store.AuditFilter{TenantID: TenantA.TenantID}, nil},
	}
	for _, c := range cases {
		for _, limit := range []int{0, 2} {
			var got []string
			cursor := ""
			for page := 0; ; page++ {
				var evs []store.AuditEvent
				do(t, r, c.actor, func(ctx context.Context, tx store.Tx) (err error) {
					evs, cursor, err = tx.QueryAudit(ctx, c.filter, store.Page{Limit: limit, Cursor: cursor})
					return err
				})
				for _, e := range evs {
					got = append(got, e.ID)
				}
				if cursor == "" || page > 10 {
					break
				}
			}
			if fmt.Sprint(got) != fmt.Sprint(c.want) {
				t.Errorf("as %s, filter %+v, limit %d: %v, want %v", describe(c.actor), c.filter, limit, got, c.want)
			}
		}
	}
}

func testBackendKeys(t *testing.T, r store.TxRunner) {
	var first, second store.BackendKeyRecord
	do(t, r, Platform, func(ctx context.Context, tx store.Tx) (err error) {
		first, err = tx.CreateBackendKey(ctx)
		return err
	})
	if len(first.Secret) != 32 || first.Status != "active" || len(first.KID) < 10 || first.KID[:3] != "bk_" {
		t.Fatalf("created key %+v (secret %d bytes)", first.BackendKey, len(first.Secret))
	}
	do(t, r, Platform, func(ctx context.Context, tx store.Tx) (err error) {
		second, err = tx.RotateBackendKey(ctx, first.KID, time.Hour)
		return err
	})
	if second.KID == first.KID || len(second.Secret) != 32 || string(second.Secret) == string(first.Secret) || second.Status != "active" {
		t.Fatalf("rotated key %+v", second.BackendKey)
	}
	wantErr(t, r, Platform, "rotate a retiring key", store.ErrConflict, func(ctx context.Context, tx store.Tx) error {
		_, err := tx.RotateBackendKey(ctx, first.KID, time.Hour)
		return err
	})
	wantErr(t, r, Platform, "rotate a missing key", store.ErrNotFound, func(ctx context.Context, tx store.Tx) error {
		_, err := tx.RotateBackendKey(ctx, "bk_missing", time.Hour)
		return err
	})
	wantErr(t, r, Platform, "revoke a missing key", store.ErrNotFound, func(ctx context.Context, tx store.Tx) error {
		return tx.RevokeBackendKey(ctx, "bk_missing")
	})
	list := func() map[string]store.BackendKeyRecord {
		out := map[string]store.BackendKeyRecord{}
		do(t, r, Platform, func(ctx context.Context, tx store.Tx) error {
			keys, err := tx.ListBackendKeys(ctx)
			for _, k := range keys {
				if k.Secret != nil {
					return fmt.Errorf("ListBackendKeys returned the secret of %s", k.KID)
				}
				out[k.KID] = k
			}
			return err
		})
		return out
	}
	keys := list()
	old := keys[first.KID]
	if len(keys) != 2 || old.Status != "retiring" || old.NotAfter == nil ||
		old.NotAfter.Before(time.Now().Add(50*time.Minute)) || old.NotAfter.After(time.Now().Add(70*time.Minute)) {
		t.Fatalf("keys after rotation: %+v", keys)
	}
	do(t, r, Platform, func(ctx context.Context, tx store.Tx) error { return tx.RevokeBackendKey(ctx, first.KID) })
	do(t, r, Platform, func(ctx context.Context, tx store.Tx) error { return tx.RevokeBackendKey(ctx, first.KID) }) // idempotent
	if k := list()[first.KID]; k.Status != "revoked" {
		t.Fatalf("revoked key reads %+v", k)
	}
	wantErr(t, r, Platform, "rotate a revoked key", store.ErrConflict, func(ctx context.Context, tx store.Tx) error {
		_, err := tx.RotateBackendKey(ctx, first.KID, time.Hour)
		return err
	})
	wantErr(t, r, Platform, "negative overlap", store.ErrInvalid, func(ctx context.Context, tx store.Tx) error {
		_, err := tx.RotateBackendKey(ctx, second.KID, -time.Second)
		return err
	})
	// The relay gets the active key only: the revoked one is never exported again.
	if in, ok := r.(Inspector); ok {
		snap, err := in.Snapshot(ctxFor(t), model.GlobalScope)
		if err != nil {
			t.Fatal(err)
		}
		if len(snap.BackendKeys) != 1 || snap.BackendKeys[0].KID != second.KID || string(snap.BackendKeys[0].Secret) != string(second.Secret) {
			t.Fatalf("global snapshot keys: %+v", snap.BackendKeys)
		}
	}
}

func testIdempotency(t *testing.T, r store.TxRunner) {
	seedTenants(t, r)
	resp := store.IdempotentResponse{RequestHash: "h1", Status: 201, Body: []byte(`{"id":"x"}`), Location: "/v1/tools/x"}
	lookup := func(actor store.Actor, principal string) *store.IdempotentResponse {
		var got *store.IdempotentResponse
		do(t, r, actor, func(ctx context.Context, tx store.Tx) (err error) {
			got, err = tx.LookupIdempotency(ctx, principal, "key-1")
			return err
		})
		return got
	}
	if got := lookup(TenantA, "admin-a"); got != nil {
		t.Fatalf("unseen key: %+v", got)
	}
	do(t, r, TenantA, func(ctx context.Context, tx store.Tx) error { return tx.SaveIdempotency(ctx, "admin-a", "key-1", resp) })
	got := lookup(TenantA, "admin-a")
	if got == nil || got.RequestHash != "h1" || got.Status != 201 || string(got.Body) != string(resp.Body) || got.Location != resp.Location {
		t.Fatalf("stored response: %+v", got)
	}
	wantErr(t, r, TenantA, "second save of a key", store.ErrConflict, func(ctx context.Context, tx store.Tx) error {
		return tx.SaveIdempotency(ctx, "admin-a", "key-1", resp)
	})
	if got := lookup(TenantB, "admin-a"); got != nil {
		t.Fatalf("tenant B read tenant A's stored response: %+v", got)
	}
	if got := lookup(Platform, "admin-b"); got != nil {
		t.Fatalf("another principal's key: %+v", got)
	}
}

func testGateways(t *testing.T, r store.TxRunner) {
	now := time.Now().UTC().Truncate(time.Microsecond)
	gws := []store.Gateway{
		{ID: "gw-2", Hostname: "h2", Version: "1.0", StartedAt: now, LastSeen: now, Revisions: map[string]int64{"global": 3}},
		{ID: "gw-1", Hostname: "h1", Version: "1.0", StartedAt: now, LastSeen: now},
		{ID: "gw-2", Hostname: "h2", Version: "1.1", StartedAt: now, LastSeen: now.Add(time.Second), Revisions: map[string]int64{"global": 4, "tenant/a": 1}},
	}
	for _, g := range gws {
		do(t, r, Platform, func(ctx context.Context, tx store.Tx) error { return tx.UpsertGateway(ctx, g) })
	}
	do(t, r, Platform, func(ctx context.Context, tx store.Tx) error {
		list, err := tx.ListGateways(ctx)
		if err != nil {
			return err
		}
		if len(list) != 2 || list[0].ID != "gw-1" || list[1].Version != "1.1" || list[1].Revisions["global"] != 4 ||
			!list[1].LastSeen.Equal(now.Add(time.Second)) {
			return fmt.Errorf("gateways: %+v", list)
		}
		return nil
	})
}
