package bundlestore

import (
	"bytes"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/portcullis/portcullis/shared/bundle"
	"github.com/portcullis/portcullis/shared/model"
	"github.com/portcullis/portcullis/shared/seal"
)

func TestNewSnapshot(t *testing.T) {
	withGlobalContent := newTenant("t1", 1)
	withGlobalContent.Global = &bundle.Global{}
	wrongTenant := newTenant("t1", 1)
	wrongTenant.Tenant.Tenant.ID = "t2"
	deletedGlobal := newGlobal(1)
	deletedGlobal.Deleted = true
	cases := []struct {
		name    string
		bundles []*bundle.Bundle
		wantErr bool
	}{
		{"empty", nil, false},
		{"global and tenants", []*bundle.Bundle{newGlobal(1), newTenant("t1", 2), newTenant("t2", 3)}, false},
		{"tombstone", []*bundle.Bundle{tombstone("t1", 2)}, false},
		{"nil bundle", []*bundle.Bundle{nil}, true},
		{"bad scope", []*bundle.Bundle{{Scope: "tenant/", Revision: 1, Tenant: &bundle.Tenant{}}}, true},
		{"zero revision", []*bundle.Bundle{newGlobal(0)}, true},
		{"two bundles for one scope", []*bundle.Bundle{newTenant("t1", 1), newTenant("t1", 2)}, true},
		{"global without content", []*bundle.Bundle{{Scope: model.GlobalScope, Revision: 1}}, true},
		{"deleted global", []*bundle.Bundle{deletedGlobal}, true},
		{"tenant with global content", []*bundle.Bundle{withGlobalContent}, true},
		{"tenant content for another tenant", []*bundle.Bundle{wrongTenant}, true},
		{"tenant without content", []*bundle.Bundle{{Scope: model.TenantScope("t1"), Revision: 1}}, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s, err := NewSnapshot(tc.bundles...)
			if tc.wantErr {
				assert.ErrorIs(t, err, ErrSnapshot)
				return
			}
			require.NoError(t, err)
			assert.Len(t, s.Revisions(), len(tc.bundles))
		})
	}
}

// TestSnapshotCopyOnWrite: applying a bundle never changes a published
// snapshot, which readers may still hold.
func TestSnapshotCopyOnWrite(t *testing.T) {
	s0, err := NewSnapshot(newGlobal(1), newTenant("a", 1), newTenant("b", 1))
	require.NoError(t, err)
	s1 := s0.with(tombstone("a", 2), nil)
	s2 := s1.with(newGlobal(2), nil)
	s3 := s2.with(newTenant("c", 1), nil)

	assert.NotNil(t, s0.Tenant("a"), "s0 untouched by the tombstone")
	assert.Equal(t, []string{"a", "b"}, s0.TenantIDs())
	assert.Equal(t, int64(1), s0.Revision(model.TenantScope("a")))
	assert.Nil(t, s1.Tenant("a"))
	assert.Equal(t, []string{"b"}, s1.TenantIDs())
	assert.Equal(t, int64(2), s1.Revision(model.TenantScope("a")))
	assert.Equal(t, int64(1), s1.Global().Revision)
	assert.Equal(t, int64(2), s2.Global().Revision)
	assert.Equal(t, []string{"b"}, s2.TenantIDs())
	assert.Equal(t, []string{"b", "c"}, s3.TenantIDs())
	assert.Same(t, s2.global, s3.global, "a tenant change shares the global bundle (and its unsealed keys)")
}

func TestNilSnapshotIsEmpty(t *testing.T) {
	var s *Snapshot
	assert.Nil(t, s.Global())
	assert.Nil(t, s.Tenant("a"))
	assert.Empty(t, s.TenantIDs())
	assert.Zero(t, s.Revision(model.GlobalScope))
	assert.Empty(t, s.Revisions())
	_, err := s.BackendSigner(nil, time.Now())
	assert.ErrorIs(t, err, ErrNoGlobal)
}

func TestBackendSigner(t *testing.T) {
	sealer, err := seal.New(bytes.Repeat([]byte{0x53}, 32))
	require.NoError(t, err)
	otherSealer, err := seal.New(bytes.Repeat([]byte{0x54}, 32))
	require.NoError(t, err)
	now := time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC)
	past, future := now.Add(-time.Hour), now.Add(time.Hour)
	key := func(t *testing.T, kid, status string, notAfter *time.Time, secret string) bundle.SealedKey {
		sealed, err := sealer.Seal([]byte(secret), []byte(kid))
		require.NoError(t, err)
		return bundle.SealedKey{
			BackendKey: model.BackendKey{KID: kid, Status: status, NotAfter: notAfter, CreatedAt: past},
			Sealed:     sealed,
		}
	}
	movedKey := key(t, "k-moved", "active", nil, "secret-moved")
	movedKey.KID = "k-other" // sealed for another kid: the aad no longer matches

	cases := []struct {
		name    string
		keys    []bundle.SealedKey
		sealer  *seal.Sealer
		want    map[string]string // kid → secret
		wantErr error
	}{
		{"active and retiring", []bundle.SealedKey{
			key(t, "k1", "active", nil, "s1"), key(t, "k0", "retiring", &future, "s0"),
		}, sealer, map[string]string{"k1": "s1", "k0": "s0"}, nil},
		{"revoked and unknown status skipped", []bundle.SealedKey{
			key(t, "k1", "active", nil, "s1"), key(t, "k2", "revoked", nil, "s2"), key(t, "k3", "pending", nil, "s3"),
		}, sealer, map[string]string{"k1": "s1"}, nil},
		{"expired key skipped", []bundle.SealedKey{
			key(t, "k1", "active", nil, "s1"), key(t, "k0", "retiring", &past, "s0"),
		}, sealer, map[string]string{"k1": "s1"}, nil},
		{"key sealed for another kid skipped", []bundle.SealedKey{
			key(t, "k1", "active", nil, "s1"), movedKey,
		}, sealer, map[string]string{"k1": "s1"}, nil},
		{"wrong seal key", []bundle.SealedKey{key(t, "k1", "active", nil, "s1")}, otherSealer, nil, ErrNoBackendKeys},
		{"no keys", nil, sealer, nil, ErrNoBackendKeys},
		{"only revoked", []bundle.SealedKey{key(t, "k1", "revoked", nil, "s1")}, sealer, nil, ErrNoBackendKeys},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			snap, err := NewSnapshot(newGlobal(1, tc.keys...))
			require.NoError(t, err)
			signer, err := snap.BackendSigner(tc.sealer, now)
			if tc.wantErr != nil {
				assert.True(t, errors.Is(err, tc.wantErr), "err = %v", err)
				return
			}
			require.NoError(t, err)
			got := map[string]string{}
			for _, k := range signer.Keys {
				got[k.KID] = string(k.Secret)
			}
			assert.Equal(t, tc.want, got)
		})
	}
}

// TestBackendSignerUnsealsOncePerBundle: requests share the keys unsealed for
// the global bundle; a tenant change keeps them; a new global bundle does not.
func TestBackendSignerUnsealsOncePerBundle(t *testing.T) {
	sealer, err := seal.New(bytes.Repeat([]byte{0x53}, 32))
	require.NoError(t, err)
	sealed, err := sealer.Seal([]byte("s1"), []byte("k1"))
	require.NoError(t, err)
	k := bundle.SealedKey{BackendKey: model.BackendKey{KID: "k1", Status: "active"}, Sealed: sealed}
	snap, err := NewSnapshot(newGlobal(1, k))
	require.NoError(t, err)
	now := time.Now()

	a, err := snap.BackendSigner(sealer, now)
	require.NoError(t, err)
	b, err := snap.BackendSigner(sealer, now)
	require.NoError(t, err)
	assert.Same(t, &a.Keys[0], &b.Keys[0], "second call reuses the unsealed keys")

	c, err := snap.with(newTenant("x", 1), nil).BackendSigner(sealer, now)
	require.NoError(t, err)
	assert.Same(t, &a.Keys[0], &c.Keys[0], "a tenant change keeps them")

	d, err := snap.with(newGlobal(2, k), nil).BackendSigner(sealer, now)
	require.NoError(t, err)
	assert.NotSame(t, &a.Keys[0], &d.Keys[0], "a new global bundle unseals its own")
}

func TestStatic(t *testing.T) {
	s := NewStatic(nil)
	assert.True(t, s.Ready())
	assert.NotNil(t, s.Current(), "never nil")
	assert.Nil(t, s.Current().Global())

	var seen []*Snapshot
	remove := s.OnChange(func(snap *Snapshot) { seen = append(seen, snap) })
	next, err := NewSnapshot(newGlobal(7))
	require.NoError(t, err)
	s.Set(next)
	assert.Same(t, next, s.Current())
	require.Len(t, seen, 1)
	assert.Same(t, next, seen[0])

	remove()
	s.Set(nil)
	assert.Len(t, seen, 1, "removed listener not called")
	assert.Nil(t, s.Current().Global())
}

// TestStagingCopiesOnlyPublished: bundles staged before a publish (the first
// sync, the snapshot file) change the unpublished snapshot in place, so N
// tenants load in O(N); once published, a snapshot is never changed again.
func TestStagingCopiesOnlyPublished(t *testing.T) {
	e := newEnv(t)
	cfg, _ := testConfig(e.gatewayConn(t), keySet(t, newSigner(t)))
	s, err := New(cfg)
	require.NoError(t, err)
	empty := s.Current()

	s.mu.Lock()
	defer s.mu.Unlock()
	require.True(t, s.acceptLocked(newGlobal(1), nil, sourceNATS))
	staged := s.staged
	assert.NotSame(t, empty, staged, "the published (empty) snapshot is copied, not changed")
	for i := range 1000 {
		require.True(t, s.acceptLocked(newTenant(fmt.Sprintf("t%d", i), 1), nil, sourceNATS))
	}
	require.True(t, s.acceptLocked(tombstone("t0", 2), nil, sourceNATS))
	assert.Same(t, staged, s.staged, "an unpublished snapshot is changed in place")
	assert.Nil(t, empty.Global())
	assert.Empty(t, empty.TenantIDs())

	s.publishLocked()
	published := s.Current()
	require.True(t, s.acceptLocked(newTenant("late", 1), nil, sourceNATS))
	require.True(t, s.acceptLocked(newGlobal(2), nil, sourceNATS))
	assert.NotSame(t, published, s.staged)
	assert.Nil(t, published.Tenant("late"), "a published snapshot is never changed")
	assert.Equal(t, int64(1), published.Global().Revision)
	assert.Len(t, published.TenantIDs(), 999)
	assert.NotNil(t, s.staged.Tenant("late"))
	assert.Len(t, s.staged.TenantIDs(), 1000)
}
