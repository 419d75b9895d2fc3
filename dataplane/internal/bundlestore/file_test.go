package bundlestore

import (
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/portcullis/portcullis/shared/model"
)

// TestSnapshotFileRoundTrip: what is written is read back, verified, with
// tombstones, and the file is private.
func TestSnapshotFileRoundTrip(t *testing.T) {
	sg := newSigner(t)
	path := filepath.Join(t.TempDir(), "bundles.json")
	snap := (&Snapshot{}).
		with(newGlobal(3), sg.sign(t, newGlobal(3))).
		with(newTenant("a", 2), sg.sign(t, newTenant("a", 2))).
		with(tombstone("b", 5), sg.sign(t, tombstone("b", 5))).
		with(newTenant("c", 1), nil) // no signed form: not written
	require.NoError(t, writeSnapshotFile(path, snap, time.Now()))
	require.NoError(t, writeSnapshotFile(path, snap, time.Now()), "replacing an existing file")

	fi, err := os.Stat(path)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o600), fi.Mode().Perm())
	entries, err := os.ReadDir(filepath.Dir(path))
	require.NoError(t, err)
	assert.Len(t, entries, 1, "no temporary file left behind")

	got, err := readSnapshotFile(path, keySet(t, sg))
	require.NoError(t, err)
	revs := map[model.Scope]int64{}
	for _, e := range got {
		revs[e.b.Scope] = e.b.Revision
	}
	assert.Equal(t, map[model.Scope]int64{model.GlobalScope: 3, "tenant/a": 2, "tenant/b": 5}, revs)
}

// TestSnapshotFileTampering: every way of altering the file that signatures
// can detect refuses the whole file.
func TestSnapshotFileTampering(t *testing.T) {
	sg, other := newSigner(t), newSigner(t)
	keys := keySet(t, sg)
	good := map[string]string{
		"global":   string(sg.sign(t, newGlobal(3))),
		"tenant.a": string(sg.sign(t, newTenant("a", 2))),
	}
	with := func(key, value string) map[string]string {
		m := map[string]string{}
		for k, v := range good {
			m[k] = v
		}
		m[key] = value
		return m
	}
	doc := func(format string, bundles map[string]string) string {
		b, err := json.Marshal(snapshotFile{Format: format, WrittenAt: time.Now(), Bundles: bundles})
		require.NoError(t, err)
		return string(b)
	}
	cases := []struct {
		name    string
		content string
		mode    os.FileMode
	}{
		{"payload changed", doc(snapshotFormat, with("tenant.a", string(tamper(t, []byte(good["tenant.a"]))))), 0o600},
		{"bundle signed by another key", doc(snapshotFormat, with("global", string(other.sign(t, newGlobal(9))))), 0o600},
		{"tenant bundle moved to another tenant's key", doc(snapshotFormat, with("tenant.b", good["tenant.a"])), 0o600},
		{"global bundle under a tenant key", doc(snapshotFormat, with("tenant.a", good["global"])), 0o600},
		{"bad key", doc(snapshotFormat, with("../etc", good["global"])), 0o600},
		{"unknown format", doc("portcullis-bundle-snapshot/v0", good), 0o600},
		{"unknown field", `{"format":"` + snapshotFormat + `","bundles":{},"extra":1}`, 0o600},
		{"trailing data", doc(snapshotFormat, good) + `{}`, 0o600},
		{"truncated", doc(snapshotFormat, good)[:40], 0o600},
		{"not JSON", "\x00\x01", 0o600},
		{"writable by others", doc(snapshotFormat, good), 0o666},
		{"writable by group", doc(snapshotFormat, good), 0o620},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "bundles.json")
			require.NoError(t, os.WriteFile(path, []byte(tc.content), 0o600))
			require.NoError(t, os.Chmod(path, tc.mode))
			_, err := readSnapshotFile(path, keys)
			assert.ErrorIs(t, err, ErrSnapshotFile)
		})
	}
	t.Run("the untampered file loads", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "bundles.json")
		require.NoError(t, os.WriteFile(path, []byte(doc(snapshotFormat, good)), 0o600))
		got, err := readSnapshotFile(path, keys)
		require.NoError(t, err)
		assert.Len(t, got, 2)
	})
	t.Run("missing file is not tampering", func(t *testing.T) {
		_, err := readSnapshotFile(filepath.Join(t.TempDir(), "none.json"), keys)
		assert.True(t, errors.Is(err, fs.ErrNotExist))
		assert.False(t, errors.Is(err, ErrSnapshotFile))
	})
}

// FuzzSnapshotFile: no input makes the loader panic or accept an unsigned
// bundle.
func FuzzSnapshotFile(f *testing.F) {
	sg := newSigner(f)
	keys := keySet(f, sg)
	valid, err := json.Marshal(snapshotFile{Format: snapshotFormat, Bundles: map[string]string{
		"global": string(sg.sign(f, newGlobal(1))),
	}})
	require.NoError(f, err)
	f.Add(valid)
	f.Add([]byte(`{"format":"` + snapshotFormat + `","bundles":{"global":"a.b.c"}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		got, err := parseSnapshotFile(data, keys)
		if err != nil {
			return
		}
		for _, e := range got {
			require.NotNil(t, e.b)
		}
	})
}
