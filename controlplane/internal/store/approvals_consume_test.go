package store_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/portcullis/portcullis/controlplane/internal/store"
	"github.com/portcullis/portcullis/shared/model"
)

func newCheck(tenant, user string) store.ApprovalCheck {
	return store.ApprovalCheck{
		TenantID: tenant, UserID: user, UserEmail: user + "@example.com", Tool: "orders.refund",
		ArgsHash:  "93ac9d4c534a896502b406810d69fda390b377c4414b9267909a1c5f0a53b933",
		Arguments: []byte(`{"amount":42}`), PolicyName: "refunds", PolicyScope: "tenant",
		ApproverRoles: []string{"finance"}, MinApprovals: 1, Expiry: time.Hour,
		WebhookURL: "https://hooks.example.com/approvals",
	}
}

func mustCheck(t *testing.T, s *store.Store, c store.ApprovalCheck, want store.CheckOutcome) store.Approval {
	t.Helper()
	got, a, err := s.CheckApproval(ctxFor(t), c)
	if err != nil {
		t.Fatalf("check: %v", err)
	}
	if got != want {
		t.Fatalf("check: %s, want %s (approval %s is %s)", got, want, a.ID, a.Status)
	}
	return a
}

func decide(t *testing.T, s *store.Store, tenant, id, verdict string) {
	t.Helper()
	platformTx(t, s, func(ctx context.Context, tx store.Tx) error {
		_, err := tx.DecideApproval(ctx, tenant, id, store.Decision{By: "approver-1", Verdict: verdict})
		return err
	})
}

func approvalStore(t *testing.T) *store.Store {
	s := newStore(t)
	platformTx(t, s, func(ctx context.Context, tx store.Tx) error {
		for _, id := range []string{"a", "b"} {
			if _, err := tx.CreateTenant(ctx, model.Tenant{ID: id, Name: id}); err != nil {
				return err
			}
		}
		return nil
	})
	return s
}

func TestCheckApprovalLifecycle(t *testing.T) {
	s := approvalStore(t)
	c := newCheck("a", "alice")
	first := mustCheck(t, s, c, store.CheckCreated)
	if again := mustCheck(t, s, c, store.CheckPending); again.ID != first.ID {
		t.Fatalf("pending approval not reused: %s then %s", first.ID, again.ID)
	}
	// Another user, tool, hash or tenant never sees this approval.
	for name, mutate := range map[string]func(*store.ApprovalCheck){
		"user":   func(c *store.ApprovalCheck) { c.UserID = "bob" },
		"tool":   func(c *store.ApprovalCheck) { c.Tool = "orders.delete" },
		"hash":   func(c *store.ApprovalCheck) { c.ArgsHash = "00" + c.ArgsHash[2:] },
		"tenant": func(c *store.ApprovalCheck) { c.TenantID = "b" },
	} {
		other := c
		mutate(&other)
		if a := mustCheck(t, s, other, store.CheckCreated); a.ID == first.ID {
			t.Errorf("other %s reused the approval", name)
		}
	}
	decide(t, s, "a", first.ID, "approve")
	consumed := mustCheck(t, s, c, store.CheckConsumed)
	if consumed.ID != first.ID || consumed.Status != "consumed" || consumed.ConsumedAt == nil {
		t.Fatalf("consumed %+v", consumed)
	}
	next := mustCheck(t, s, c, store.CheckCreated)
	if next.ID == first.ID {
		t.Fatal("a consumed approval was reported again")
	}
	// Denied: reported as denied (never consumed) until it expires.
	decide(t, s, "a", next.ID, "deny")
	for range 2 {
		if a := mustCheck(t, s, c, store.CheckDenied); a.ID != next.ID {
			t.Fatalf("denied approval %s, want %s", a.ID, next.ID)
		}
	}
}

func TestCheckApprovalExpiredNeverPasses(t *testing.T) {
	s := approvalStore(t)
	c := newCheck("a", "alice")
	a := mustCheck(t, s, c, store.CheckCreated)
	decide(t, s, "a", a.ID, "approve")
	expire(t, s, a.ID)
	if b := mustCheck(t, s, c, store.CheckCreated); b.ID == a.ID {
		t.Fatal("expired approval reused")
	}
	// An expired pending one is not reused either, and an expired denial no longer blocks.
	c2 := newCheck("a", "carol")
	p := mustCheck(t, s, c2, store.CheckCreated)
	expire(t, s, p.ID)
	d := mustCheck(t, s, c2, store.CheckCreated)
	decide(t, s, "a", d.ID, "deny")
	expire(t, s, d.ID)
	mustCheck(t, s, c2, store.CheckCreated)
}

// expire moves an approval's expiry into the past (no waiting in tests).
func expire(t *testing.T, s *store.Store, id string) {
	t.Helper()
	if err := store.ExpireApprovalForTest(ctxFor(t), s, id); err != nil {
		t.Fatal(err)
	}
}

// TestCheckApprovalConsumeRace: many concurrent checks of one approved
// approval; exactly one consumes it, the others all end up on one new
// pending approval (no duplicates).
func TestCheckApprovalConsumeRace(t *testing.T) {
	s := approvalStore(t)
	c := newCheck("a", "alice")
	a := mustCheck(t, s, c, store.CheckCreated)
	decide(t, s, "a", a.ID, "approve")
	const n = 16
	type result struct {
		outcome store.CheckOutcome
		id      string
		err     error
	}
	results := make([]result, n)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			<-start
			o, got, err := s.CheckApproval(context.Background(), c)
			results[i] = result{o, got.ID, err}
		})
	}
	close(start)
	wg.Wait()
	consumed, pendingIDs := 0, map[string]bool{}
	for _, r := range results {
		switch {
		case r.err != nil:
			t.Fatalf("check: %v", r.err)
		case r.outcome == store.CheckConsumed:
			consumed++
			if r.id != a.ID {
				t.Errorf("consumed %s, want %s", r.id, a.ID)
			}
		default:
			pendingIDs[r.id] = true
		}
	}
	if consumed != 1 {
		t.Fatalf("%d checks consumed the approval, want exactly 1", consumed)
	}
	if len(pendingIDs) != 1 || pendingIDs[a.ID] {
		t.Fatalf("losers saw approvals %v, want one new pending approval", pendingIDs)
	}
}

func TestCheckApprovalInvalid(t *testing.T) {
	s := approvalStore(t)
	for name, mutate := range map[string]func(*store.ApprovalCheck){
		"bad tenant":     func(c *store.ApprovalCheck) { c.TenantID = "x y" },
		"no user":        func(c *store.ApprovalCheck) { c.UserID = "" },
		"no expiry":      func(c *store.ApprovalCheck) { c.Expiry = 0 },
		"bad json":       func(c *store.ApprovalCheck) { c.Arguments = []byte(`{`) },
		"bad scope":      func(c *store.ApprovalCheck) { c.PolicyScope = "x" },
		"unknown tenant": func(c *store.ApprovalCheck) { c.TenantID = "nope" },
	} {
		c := newCheck("a", "alice")
		mutate(&c)
		_, _, err := s.CheckApproval(ctxFor(t), c)
		if !errors.Is(err, store.ErrInvalid) && !errors.Is(err, store.ErrNotFound) && !errors.Is(err, store.ErrForbidden) {
			t.Errorf("%s: got %v, want a refusal", name, err)
		}
	}
}

// TestWebhookQueue: creation and decisions enqueue deliveries in the same
// transaction; claims lease them; attempts settle them.
func TestWebhookQueue(t *testing.T) {
	s := approvalStore(t)
	ctx := ctxFor(t)
	a := mustCheck(t, s, newCheck("a", "alice"), store.CheckCreated)
	noHook := newCheck("a", "bob")
	noHook.WebhookURL = ""
	quiet := mustCheck(t, s, noHook, store.CheckCreated)
	decide(t, s, "a", a.ID, "approve")
	decide(t, s, "a", quiet.ID, "deny")
	mustCheck(t, s, newCheck("a", "alice"), store.CheckConsumed) // consuming announces nothing

	ds, err := s.ListWebhookDeliveries(ctx, a.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(ds) != 2 || ds[0].Event != "approval.created" || ds[1].Event != "approval.approved" {
		t.Fatalf("deliveries %+v, want created then approved", ds)
	}
	if q, _ := s.ListWebhookDeliveries(ctx, quiet.ID); len(q) != 0 {
		t.Fatalf("approval without webhook enqueued %d deliveries", len(q))
	}
	claimed, err := s.ClaimWebhookDeliveries(ctx, 10, time.Minute)
	if err != nil || len(claimed) != 2 {
		t.Fatalf("claim: %d, %v", len(claimed), err)
	}
	if again, _ := s.ClaimWebhookDeliveries(ctx, 10, time.Minute); len(again) != 0 {
		t.Fatalf("leased deliveries claimed again: %d", len(again))
	}
	if err := s.RecordWebhookAttempt(ctx, claimed[0].ID, "", 0, 3); err != nil {
		t.Fatal(err)
	}
	for range 3 { // retried at once (retryIn 0) until the last attempt fails it
		if err := s.RecordWebhookAttempt(ctx, claimed[1].ID, "503", 0, 3); err != nil {
			t.Fatal(err)
		}
	}
	ds, _ = s.ListWebhookDeliveries(ctx, a.ID)
	byID := map[string]store.WebhookDelivery{ds[0].ID: ds[0], ds[1].ID: ds[1]}
	if d := byID[claimed[0].ID]; d.DeliveredAt == nil || d.Attempts != 1 {
		t.Errorf("delivered: %+v", d)
	}
	if d := byID[claimed[1].ID]; d.FailedAt == nil || d.Attempts != 3 || d.LastError != "503" {
		t.Errorf("failed: %+v", d)
	}
	if left, _ := s.ClaimWebhookDeliveries(ctx, 10, time.Minute); len(left) != 0 {
		t.Fatalf("settled deliveries claimed: %d", len(left))
	}
}

func TestPruneWebhookDeliveries(t *testing.T) {
	s := approvalStore(t)
	ctx := ctxFor(t)
	a := mustCheck(t, s, newCheck("a", "alice"), store.CheckCreated)
	decide(t, s, "a", a.ID, "approve")
	claimed, err := s.ClaimWebhookDeliveries(ctx, 10, time.Minute)
	if err != nil || len(claimed) != 2 {
		t.Fatalf("claim: %d, %v", len(claimed), err)
	}
	if err := s.RecordWebhookAttempt(ctx, claimed[0].ID, "", 0, 3); err != nil {
		t.Fatal(err)
	}
	// Nothing is old enough under a long retention.
	if n, err := s.PruneWebhookDeliveries(ctx, time.Hour); err != nil || n != 0 {
		t.Fatalf("pruned %d, %v", n, err)
	}
	// With no retention only the settled one goes; the pending one stays.
	if n, err := s.PruneWebhookDeliveries(ctx, 0); err != nil || n != 1 {
		t.Fatalf("pruned %d, %v, want 1", n, err)
	}
	left, _ := s.ListWebhookDeliveries(ctx, a.ID)
	if len(left) != 1 || left[0].ID != claimed[1].ID {
		t.Fatalf("left %+v", left)
	}
}
