package bundlestore

import (
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/portcullis/portcullis/shared/model"
)

// TestConcurrentReadersDuringSwaps: readers on the hot path see consistent,
// never-regressing snapshots while bundles are applied (run with -race).
func TestConcurrentReadersDuringSwaps(t *testing.T) {
	e := newEnv(t)
	sg := newSigner(t)
	e.put(t, "global", sg.sign(t, newGlobal(1)))
	e.put(t, "tenant.tenant-a", sg.sign(t, newTenant("tenant-a", 1)))
	cfg, _ := testConfig(e.gatewayConn(t), keySet(t, sg))
	s := start(t, cfg)
	waitReady(t, s)

	const updates = 30
	stop := make(chan struct{})
	var wg sync.WaitGroup
	errs := make(chan string, 16)
	for range 4 {
		wg.Go(func() {
			var lastGlobal, lastTenant int64
			for {
				select {
				case <-stop:
					return
				default:
				}
				snap := s.Current()
				g, tn := snap.Global(), snap.Tenant("tenant-a")
				switch {
				case g == nil || tn == nil:
					errs <- "a ready store served an incomplete snapshot"
					return
				case g.Revision != snap.Revision(model.GlobalScope):
					errs <- "snapshot inconsistent with itself"
					return
				case g.Revision < lastGlobal || snap.Revision(scopeA) < lastTenant:
					errs <- "revision went backwards"
					return
				}
				lastGlobal, lastTenant = g.Revision, snap.Revision(scopeA)
				_ = snap.Revisions()
				_ = snap.TenantIDs()
			}
		})
	}
	for rev := int64(2); rev <= updates; rev++ {
		e.put(t, "global", sg.sign(t, newGlobal(rev)))
		e.put(t, "tenant.tenant-a", sg.sign(t, newTenant("tenant-a", rev)))
	}
	waitFor(t, s, "all updates", func(snap *Snapshot) bool {
		return snap.Revision(model.GlobalScope) == updates && snap.Revision(scopeA) == updates
	})
	close(stop)
	wg.Wait()
	close(errs)
	for msg := range errs {
		require.Fail(t, msg)
	}
	assert.Equal(t, "tenant-a-r30", s.Current().Tenant("tenant-a").Tenant.Tenant.Name)
}
