package store

import (
	"context"
	"crypto/rand"
	"testing"
	"time"

	"github.com/portcullis/portcullis/migrations"
	"github.com/portcullis/portcullis/shared/localenv/pgtest"
	"github.com/portcullis/portcullis/shared/model"
	"github.com/portcullis/portcullis/shared/seal"
)

// TestConsumeWaitsForConcurrentConsumer holds one check's transaction open
// right after it consumed an approval, starts a second identical check,
// waits (by asking Postgres, not by sleeping) until the second one blocks,
// then commits the first: the second must not consume the same approval.
// A consume that read the approval without locking it, or updated it without
// re-checking its status, would consume it twice here.
func TestConsumeWaitsForConcurrentConsumer(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	dsn := pgtest.NewDatabase(t)
	if err := migrations.Up(ctx, dsn); err != nil {
		t.Fatal(err)
	}
	key := make([]byte, seal.KeySize)
	_, _ = rand.Read(key)
	sealer, _ := seal.New(key)
	s, err := Open(ctx, dsn, Options{MaxConns: 4, Sealer: sealer})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	c := ApprovalCheck{TenantID: "a", UserID: "alice", Tool: "t", PolicyScope: "tenant", Expiry: time.Hour,
		ArgsHash: "93ac9d4c534a896502b406810d69fda390b377c4414b9267909a1c5f0a53b933"}
	var id string
	if err := s.Tx(ctx, system, func(tx Tx) error {
		_, err := tx.CreateTenant(ctx, model.Tenant{ID: "a", Name: "A"})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if _, a, err := s.CheckApproval(ctx, c); err != nil {
		t.Fatal(err)
	} else {
		id = a.ID
	}
	if err := s.Tx(ctx, system, func(tx Tx) error {
		_, err := tx.DecideApproval(ctx, "a", id, Decision{By: "bob", Verdict: "approve"})
		return err
	}); err != nil {
		t.Fatal(err)
	}

	first, err := s.pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer first.Rollback(ctx) //nolint:errcheck // no-op after Commit
	if _, err := first.Exec(ctx, `SELECT set_config('portcullis.tenant_id', 'a', true)`); err != nil {
		t.Fatal(err)
	}
	outcome, _, err := (&pgTx{tx: first, actor: approvalsActor("a")}).checkApproval(ctx, c)
	if err != nil || outcome != CheckConsumed {
		t.Fatalf("first check: %s, %v", outcome, err)
	}

	type result struct {
		outcome CheckOutcome
		id      string
		err     error
	}
	second := make(chan result, 1)
	go func() {
		o, a, err := s.CheckApproval(ctx, c)
		second <- result{o, a.ID, err}
	}()
	// Wait until the second check waits on a lock held by the first.
	for {
		var waiting int
		if err := s.pool.QueryRow(ctx, `SELECT count(*) FROM pg_stat_activity
			WHERE datname = current_database() AND wait_event_type = 'Lock'`).Scan(&waiting); err != nil {
			t.Fatal(err)
		}
		if waiting > 0 {
			break
		}
		select {
		case r := <-second:
			t.Fatalf("the second check finished while the first held its transaction: %+v", r)
		case <-ctx.Done():
			t.Fatal("the second check never blocked")
		case <-time.After(10 * time.Millisecond):
		}
	}
	if err := first.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	r := <-second
	if r.err != nil {
		t.Fatal(r.err)
	}
	if r.outcome == CheckConsumed || r.id == id {
		t.Fatalf("second check: %s %s: the approval was consumed twice", r.outcome, r.id)
	}
}
