package bundlestore

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/portcullis/portcullis/shared/bundle"
	"github.com/portcullis/portcullis/shared/strictjson"
)

// The snapshot file holds the signed bundles a gateway last applied, so it
// can start serving when NATS is unreachable at boot:
//
//	{"format":"portcullis-bundle-snapshot/v1","written_at":"…",
//	 "bundles":{"global":"<compact JWS>","tenant.acme":"<compact JWS>",…}}
//
// Keys are KV keys. Nothing in it is trusted: every bundle is verified again
// on load, against the scope of its key, exactly as if read from NATS.
const snapshotFormat = "portcullis-bundle-snapshot/v1"

// maxSnapshotFile bounds what a load reads: a corrupt or hostile file must
// not cost unbounded memory.
const maxSnapshotFile = 256 << 20

// ErrSnapshotFile wraps every reason a snapshot file is refused.
var ErrSnapshotFile = errors.New("bundlestore: snapshot file refused")

type snapshotFile struct {
	Format    string            `json:"format"`
	WrittenAt time.Time         `json:"written_at"`
	Bundles   map[string]string `json:"bundles"`
}

// verifiedBundle is one bundle of a snapshot file that passed bundle.Verify.
type verifiedBundle struct {
	b   *bundle.Bundle
	raw []byte
}

// writeSnapshotFile replaces path atomically with the raw bundles of s: a
// temporary file in the same directory, written, synced, renamed over path,
// then the directory synced, so a crash leaves the old file or the new one,
// never half of one. The file is 0600: it holds no secret in clear (backend
// keys stay sealed) but nobody else has reason to read or write it.
func writeSnapshotFile(path string, s *Snapshot, now time.Time) error {
	data, err := json.Marshal(snapshotFile{Format: snapshotFormat, WrittenAt: now.UTC(), Bundles: s.rawBundles()})
	if err != nil {
		return fmt.Errorf("bundlestore: encode snapshot file: %w", err)
	}
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".*.tmp")
	if err != nil {
		return fmt.Errorf("bundlestore: snapshot file: %w", err)
	}
	defer func() { _ = os.Remove(tmp.Name()) }() // a no-op once renamed
	if err := writeAndSync(tmp, data); err != nil {
		return err
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("bundlestore: snapshot file: %w", err)
	}
	return syncDir(dir)
}

func writeAndSync(f *os.File, data []byte) error {
	err := f.Chmod(0o600)
	if err == nil {
		_, err = f.Write(data)
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("bundlestore: snapshot file: %w", err)
	}
	return nil
}

// syncDir makes the rename durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("bundlestore: snapshot dir: %w", err)
	}
	defer func() { _ = d.Close() }()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("bundlestore: snapshot dir sync: %w", err)
	}
	return nil
}

// readSnapshotFile loads and verifies a snapshot file. One bad bundle refuses
// the whole file: a file that was tampered with in one place may have been in
// others the signatures cannot show (see DESIGN.md), and a partial
// configuration is not what the gateway last served. A file writable by group
// or others is refused for the same reason.
func readSnapshotFile(path string, keys bundle.KeySet) ([]verifiedBundle, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err // os.ErrNotExist is reported as such, not as tampering
	}
	defer func() { _ = f.Close() }()
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrSnapshotFile, err)
	}
	if !fi.Mode().IsRegular() || fi.Mode().Perm()&0o022 != 0 {
		return nil, fmt.Errorf("%w: %s is not a regular file writable only by its owner (mode %v)", ErrSnapshotFile, path, fi.Mode())
	}
	data, err := io.ReadAll(io.LimitReader(f, maxSnapshotFile+1))
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrSnapshotFile, err)
	}
	if len(data) > maxSnapshotFile {
		return nil, fmt.Errorf("%w: larger than %d bytes", ErrSnapshotFile, maxSnapshotFile)
	}
	return parseSnapshotFile(data, keys)
}

func parseSnapshotFile(data []byte, keys bundle.KeySet) ([]verifiedBundle, error) {
	var doc snapshotFile
	if err := strictjson.Decode(data, &doc); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrSnapshotFile, err)
	}
	if doc.Format != snapshotFormat {
		return nil, fmt.Errorf("%w: format %q", ErrSnapshotFile, doc.Format)
	}
	out := make([]verifiedBundle, 0, len(doc.Bundles))
	for key, raw := range doc.Bundles {
		scope, err := bundle.ScopeFromKey(key)
		if err != nil {
			return nil, fmt.Errorf("%w: %v", ErrSnapshotFile, err)
		}
		b, err := bundle.Verify([]byte(raw), keys, scope)
		if err != nil {
			return nil, fmt.Errorf("%w: %s: %v", ErrSnapshotFile, key, err)
		}
		out = append(out, verifiedBundle{b: b, raw: []byte(raw)})
	}
	return out, nil
}
