package store_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/portcullis/portcullis/controlplane/internal/store"
	"github.com/portcullis/portcullis/controlplane/internal/store/storetest"
	"github.com/portcullis/portcullis/migrations"
	"github.com/portcullis/portcullis/shared/localenv/pgtest"
	"github.com/portcullis/portcullis/shared/model"
	"github.com/portcullis/portcullis/shared/seal"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

func ctxFor(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// newStore opens a store on a fresh, migrated database with a random master key.
func newStore(t *testing.T) *store.Store {
	t.Helper()
	ctx := ctxFor(t)
	dsn := pgtest.NewDatabase(t)
	if err := migrations.Up(ctx, dsn); err != nil {
		t.Fatalf("migrate: %v", err)
	}
	key := make([]byte, seal.KeySize)
	if _, err := rand.Read(key); err != nil {
		t.Fatal(err)
	}
	sealer, err := seal.New(key)
	if err != nil {
		t.Fatal(err)
	}
	s, err := store.Open(ctx, dsn, store.Options{MaxConns: 4, Sealer: sealer})
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	t.Cleanup(s.Close)
	return s
}

func TestContract(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.TxRunner { return newStore(t) })
}

func platformTx(t *testing.T, s *store.Store, fn func(ctx context.Context, tx store.Tx) error) {
	t.Helper()
	ctx := ctxFor(t)
	if err := s.Tx(ctx, storetest.Platform, func(tx store.Tx) error { return fn(ctx, tx) }); err != nil {
		t.Fatal(err)
	}
}

// TestRelayFlow walks the relay's view: pending scopes, a consistent
// snapshot, publish marks, errors, and a deleted tenant's tombstone snapshot.
func TestRelayFlow(t *testing.T) {
	s := newStore(t)
	ctx := ctxFor(t)
	var key store.BackendKeyRecord
	platformTx(t, s, func(ctx context.Context, tx store.Tx) (err error) {
		if _, err = tx.CreateTenant(ctx, model.Tenant{ID: "a", Name: "A", DelegationEnabled: true}); err != nil {
			return err
		}
		if _, err = tx.CreateResource(ctx, store.KindTool, "", "orders.get", []byte(`{"method":"GET"}`)); err != nil {
			return err
		}
		if _, err = tx.CreateResource(ctx, store.KindPolicy, "a", "p", []byte(`{}`)); err != nil {
			return err
		}
		if _, err = tx.CreateResource(ctx, store.KindPolicy, "", "g", []byte(`{}`)); err != nil {
			return err
		}
		key, err = tx.CreateBackendKey(ctx)
		return err
	})
	pending, err := s.PendingScopes(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(pending) != 2 || pending[0].Revision != 1 || pending[1].Revision != 1 || pending[0].EnqueuedAt.IsZero() {
		t.Fatalf("pending %+v", pending)
	}

	global, err := s.Snapshot(ctx, model.GlobalScope)
	if err != nil {
		t.Fatal(err)
	}
	if global.Revision != 1 || global.Tenant != nil || len(global.Resources[store.KindTool]) != 1 ||
		len(global.Resources[store.KindPolicy]) != 1 || global.Resources[store.KindPolicy][0].Name != "g" ||
		len(global.BackendKeys) != 1 || string(global.BackendKeys[0].Secret) != string(key.Secret) {
		t.Fatalf("global snapshot %+v", global)
	}
	for _, k := range append(store.PlatformKinds, store.ScopedKinds...) {
		if global.Resources[k] == nil {
			t.Errorf("global snapshot has no entry for %s", k)
		}
	}
	ten, err := s.Snapshot(ctx, model.TenantScope("a"))
	if err != nil {
		t.Fatal(err)
	}
	if ten.Revision != 1 || ten.Tenant == nil || ten.Tenant.ID != "a" || len(ten.Resources[store.KindPolicy]) != 1 ||
		ten.Resources[store.KindTool] != nil || ten.BackendKeys != nil {
		t.Fatalf("tenant snapshot %+v", ten)
	}

	if err := s.RecordPublishError(ctx, model.GlobalScope, errors.New("nats down")); err != nil {
		t.Fatal(err)
	}
	if err := s.MarkPublished(ctx, model.GlobalScope, 1, "sha256:x"); err != nil {
		t.Fatal(err)
	}
	pending, _ = s.PendingScopes(ctx)
	if len(pending) != 1 || pending[0].Scope != model.TenantScope("a") {
		t.Fatalf("pending after publishing global: %+v", pending)
	}

	// Deleting the tenant leaves a snapshot with a higher revision and no tenant.
	platformTx(t, s, func(ctx context.Context, tx store.Tx) error { return tx.DeleteTenant(ctx, "a", 0) })
	ten, err = s.Snapshot(ctx, model.TenantScope("a"))
	if err != nil {
		t.Fatal(err)
	}
	if ten.Revision != 2 || ten.Tenant != nil || len(ten.Resources[store.KindPolicy]) != 0 {
		t.Fatalf("snapshot of a deleted tenant %+v", ten)
	}
	if err := s.MarkPublished(ctx, model.TenantScope("a"), 2, "sha256:y"); err != nil {
		t.Fatal(err)
	}
	if pending, _ = s.PendingScopes(ctx); len(pending) != 0 {
		t.Fatalf("pending after publishing everything: %+v", pending)
	}
	// A never-written scope snapshots at revision 0; bad scopes are refused.
	if snap, err := s.Snapshot(ctx, model.TenantScope("never")); err != nil || snap.Revision != 0 || snap.Tenant != nil {
		t.Fatalf("unknown scope: %+v %v", snap, err)
	}
	for _, bad := range []model.Scope{"", "tenant/", "tenant/a b", "tenants/a", "global/x"} {
		if _, err := s.Snapshot(ctx, bad); !errors.Is(err, store.ErrInvalid) {
			t.Errorf("Snapshot(%q): %v, want ErrInvalid", bad, err)
		}
	}
}

// TestSnapshotIsConsistent: a snapshot taken while writers commit always has
// exactly as many rows as its revision says were written.
func TestSnapshotIsConsistent(t *testing.T) {
	s := newStore(t)
	ctx := ctxFor(t)
	const writes = 20
	done := make(chan error, 1)
	go func() {
		for i := range writes {
			err := s.Tx(ctx, storetest.Platform, func(tx store.Tx) error {
				_, err := tx.CreateResource(ctx, store.KindTool, "", "t"+string(rune('a'+i)), []byte(`{}`))
				return err
			})
			if err != nil {
				done <- err
				return
			}
		}
		done <- nil
	}()
	for finished := false; !finished; {
		select {
		case err := <-done:
			if err != nil {
				t.Fatal(err)
			}
			finished = true
		default:
		}
		snap, err := s.Snapshot(ctx, model.GlobalScope)
		if err != nil {
			t.Fatal(err)
		}
		if int64(len(snap.Resources[store.KindTool])) != snap.Revision {
			t.Fatalf("snapshot at revision %d holds %d tools", snap.Revision, len(snap.Resources[store.KindTool]))
		}
	}
}

func TestBundleSigningKey(t *testing.T) {
	s := newStore(t)
	ctx := ctxFor(t)
	// Two control planes asking at once get the same key.
	const callers = 4
	kids := make([]string, callers)
	privs := make([]ed25519.PrivateKey, callers)
	var wg sync.WaitGroup
	errs := make([]error, callers)
	for i := range callers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			kids[i], privs[i], errs[i] = s.BundleSigningKey(ctx)
		}()
	}
	wg.Wait()
	for i := range callers {
		if errs[i] != nil {
			t.Fatal(errs[i])
		}
		if kids[i] != kids[0] || !privs[i].Equal(privs[0]) {
			t.Fatalf("caller %d got key %s, caller 0 got %s", i, kids[i], kids[0])
		}
	}
	pubs, err := s.BundlePublicKeys(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(pubs) != 1 || pubs[0].KID != kids[0] || !pubs[0].Key.Equal(privs[0].Public()) {
		t.Fatalf("public keys %+v", pubs)
	}
	msg := []byte("bundle")
	if !ed25519.Verify(pubs[0].Key, msg, ed25519.Sign(privs[0], msg)) {
		t.Fatal("public key does not verify the private key's signature")
	}
}

func TestListenOutbox(t *testing.T) {
	s := newStore(t)
	ctx, cancel := context.WithCancel(ctxFor(t))
	defer cancel()
	got := make(chan model.Scope, 10)
	listening := make(chan error, 1)
	go func() { listening <- s.ListenOutbox(ctx, func(sc model.Scope) { got <- sc }) }()
	// LISTEN may not be active yet when the first write commits; keep writing
	// until a notification arrives (NOTIFY is a hint, not a queue).
	for i := 0; ; i++ {
		platformTx(t, s, func(ctx context.Context, tx store.Tx) error {
			_, err := tx.CreateResource(ctx, store.KindTool, "", "t"+string(rune('a'+i%26))+string(rune('a'+i/26)), []byte(`{}`))
			return err
		})
		select {
		case sc := <-got:
			if sc != model.GlobalScope {
				t.Fatalf("notified %q", sc)
			}
			cancel()
			if err := <-listening; !errors.Is(err, context.Canceled) {
				t.Fatalf("ListenOutbox returned %v after cancel", err)
			}
			return
		case err := <-listening:
			t.Fatalf("ListenOutbox ended: %v", err)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func TestHousekeeping(t *testing.T) {
	s := newStore(t)
	ctx := ctxFor(t)
	if n, err := s.EnsureAuditPartitions(ctx, 3); err != nil || n != 0 {
		t.Fatalf("partitions right after the migration: %d, %v (want 0 new)", n, err)
	}
	if _, err := s.PruneIdempotencyKeys(ctx); err != nil {
		t.Fatal(err)
	}
	if err := s.Ping(ctx); err != nil {
		t.Fatal(err)
	}
}

func TestKeysNeedTheMasterKey(t *testing.T) {
	ctx := ctxFor(t)
	dsn := pgtest.NewDatabase(t)
	if err := migrations.Up(ctx, dsn); err != nil {
		t.Fatal(err)
	}
	s, err := store.Open(ctx, dsn, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	err = s.Tx(ctx, storetest.Platform, func(tx store.Tx) error { _, err := tx.CreateBackendKey(ctx); return err })
	if !errors.Is(err, store.ErrNoSealer) {
		t.Fatalf("CreateBackendKey without a master key: %v", err)
	}
	if _, _, err := s.BundleSigningKey(ctx); !errors.Is(err, store.ErrNoSealer) {
		t.Fatalf("BundleSigningKey without a master key: %v", err)
	}
}

func TestOpenBadDSN(t *testing.T) {
	ctx := ctxFor(t)
	if _, err := store.Open(ctx, "postgres://nobody@127.0.0.1:1/none?connect_timeout=2", store.Options{}); err == nil {
		t.Fatal("Open succeeded against a closed port")
	}
	if _, err := store.Open(ctx, "::", store.Options{}); err == nil {
		t.Fatal("Open accepted a malformed URL")
	}
}
