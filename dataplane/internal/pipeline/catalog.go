package pipeline

import (
	"encoding/json"
	"sync"
	"sync/atomic"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/portcullis/portcullis/dataplane/internal/access"
	"github.com/portcullis/portcullis/dataplane/internal/mcp"
	"github.com/portcullis/portcullis/shared/bundle"
)

// catalog is everything derived from one global bundle: the access index, the
// tools/list entry of every active tool and its compiled input schema. It is
// immutable apart from the schemas, which compile on first use (most tools of
// a large catalogue are never called between two global revisions).
type catalog struct {
	global  *bundle.Bundle
	access  *access.Index
	listed  []mcp.Tool    // by access position
	schemas []*lazySchema // by access position
}

// lazySchema compiles one tool's input schema once; after that, reading it is
// an atomic load (sync.Once).
type lazySchema struct {
	once   sync.Once
	raw    map[string]any
	schema *jsonschema.Schema
	err    error
}

func (l *lazySchema) get() (*jsonschema.Schema, error) {
	l.once.Do(func() { l.schema, l.err = compileInputSchema(l.raw) })
	return l.schema, l.err
}

// objectSchema is the input schema of a tool that declares none.
var objectSchema = json.RawMessage(`{"type":"object"}`)

func newCatalog(global *bundle.Bundle, maxTenantViews int) *catalog {
	ix := access.NewIndex(global, maxTenantViews)
	tools := ix.Tools()
	c := &catalog{global: global, access: ix, listed: make([]mcp.Tool, len(tools)), schemas: make([]*lazySchema, len(tools))}
	for i, t := range tools {
		c.listed[i] = mcp.Tool{
			Name: t.Name, Title: t.Title, Description: t.Description,
			InputSchema: schemaJSON(t.InputSchema, objectSchema), OutputSchema: schemaJSON(t.OutputSchema, nil),
		}
		c.schemas[i] = &lazySchema{raw: t.InputSchema}
	}
	return c
}

// schemaJSON encodes a schema for tools/list; a missing one (or one that
// cannot be encoded, which a decoded bundle cannot produce) is def.
func schemaJSON(s map[string]any, def json.RawMessage) json.RawMessage {
	if len(s) == 0 {
		return def
	}
	raw, err := json.Marshal(s)
	if err != nil {
		return def
	}
	return raw
}

// catalogs memoises the catalog of the current global bundle and of the one
// before it. Reads are one atomic load and a pointer compare; only a miss (a
// new global bundle) takes the mutex, so concurrent first requests build it
// once. Keeping the previous one means a request still holding the old
// snapshot during a swap does not evict the new catalog.
type catalogs struct {
	maxTenantViews int
	cur            atomic.Pointer[[2]*catalog]
	mu             sync.Mutex
}

func (cs *catalogs) get(global *bundle.Bundle) *catalog {
	if c := cs.find(global); c != nil {
		return c
	}
	cs.mu.Lock()
	defer cs.mu.Unlock()
	if c := cs.find(global); c != nil {
		return c
	}
	c := newCatalog(global, cs.maxTenantViews)
	var next [2]*catalog
	next[0] = c
	if prev := cs.cur.Load(); prev != nil {
		next[1] = newer(prev[0], prev[1])
	}
	cs.cur.Store(&next)
	return c
}

func (cs *catalogs) find(global *bundle.Bundle) *catalog {
	entries := cs.cur.Load()
	if entries == nil {
		return nil
	}
	for _, c := range entries {
		if c != nil && c.global == global {
			return c
		}
	}
	return nil
}

// newer returns the catalog of the higher global revision (a nil global
// bundle counts as revision 0).
func newer(a, b *catalog) *catalog {
	switch {
	case a == nil:
		return b
	case b == nil:
		return a
	case revision(b.global) > revision(a.global):
		return b
	}
	return a
}

func revision(b *bundle.Bundle) int64 {
	if b == nil {
		return 0
	}
	return b.Revision
}
