package policyeval

import (
	"fmt"
	"log/slog"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/portcullis/portcullis/dataplane/internal/bundlestore"
	"github.com/portcullis/portcullis/shared/policy"
)

// TestCacheBoundsAndReuse: tenant layers are bounded, compiled once per
// bundle, dropped when the tenant's policies go; the global layer is
// compiled once per global bundle and survives a swap back and forth.
func TestCacheBoundsAndReuse(t *testing.T) {
	c := newCache(2, slog.New(slog.DiscardHandler))
	deny := pol("d", policy.Deny, 1, "orders.create")
	for i := range 3 {
		id := fmt.Sprintf("t%d", i)
		b := tenantBundle(id, 1, true, deny)
		l1, err := c.tenantLayer(id, b)
		require.NoError(t, err)
		require.NotNil(t, l1)
		l2, _ := c.tenantLayer(id, b)
		assert.Same(t, l1, l2, "compiled once per bundle")
		assert.LessOrEqual(t, len(c.tenants), 2)
	}
	// Delegation off or no policies: no layer, no entry.
	l, err := c.tenantLayer("t2", tenantBundle("t2", 2, false, deny))
	require.NoError(t, err)
	assert.Nil(t, l)
	assert.NotContains(t, c.tenants, "t2")

	g1 := globalBundle(t, 1, "http://x", deny)
	g2 := globalBundle(t, 2, "http://x", deny)
	a, _ := c.globalLayer(g1)
	b, _ := c.globalLayer(g2)
	a2, _ := c.globalLayer(g1)
	b2, _ := c.globalLayer(g2)
	assert.Same(t, a, a2, "the previous global layer is kept during a swap")
	assert.Same(t, b, b2)
	assert.NotSame(t, a, b)
}

func TestFollowCompilesOnChange(t *testing.T) {
	l := New(Config{})
	g1 := globalBundle(t, 1, "http://x", pol("d", policy.Deny, 1, "orders.create"))
	snap, err := bundlestore.NewSnapshot(g1)
	require.NoError(t, err)
	src := bundlestore.NewStatic(snap)
	stop := l.Follow(src)
	defer stop()
	require.NotNil(t, l.cache.global.Load())
	assert.Same(t, g1, l.cache.global.Load().cur.src)
	g2 := globalBundle(t, 2, "http://x", pol("d", policy.Deny, 1, "orders.create"))
	snap2, err := bundlestore.NewSnapshot(g2)
	require.NoError(t, err)
	src.Set(snap2)
	assert.Same(t, g2, l.cache.global.Load().cur.src, "compiled when applied, before any request")
}
