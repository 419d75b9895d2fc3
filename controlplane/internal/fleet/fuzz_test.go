package fleet

import (
	"testing"
	"unicode/utf8"

	"github.com/portcullis/portcullis/shared/bundle"
	"github.com/portcullis/portcullis/shared/model"
)

// FuzzParse: no input panics Parse, and whatever it accepts is within the
// bounds the gateways table and GET /v1/fleet rely on.
func FuzzParse(f *testing.F) {
	f.Add([]byte(`{"id":"gw-1","hostname":"h","version":"1","started_at":"2026-12-04T11:00:00Z","revisions":{"global":1}}`))
	f.Add([]byte(`{"id":"gw-1","started_at":"2026-12-04T11:00:00Z","revisions":{"tenant/acme":3,"tenant/a":-1}}`))
	f.Add([]byte(`{"id":"","revisions":null}`))
	f.Add([]byte(`[]`))
	f.Fuzz(func(t *testing.T, data []byte) {
		g, err := Parse(data, now)
		if err != nil {
			return
		}
		if !gatewayIDPattern.MatchString(g.ID) || len(g.Hostname) > maxHostname || len(g.Version) > maxVersion ||
			!utf8.ValidString(g.Hostname) || !utf8.ValidString(g.Version) || !g.LastSeen.Equal(now) {
			t.Fatalf("accepted an out-of-bounds heartbeat: %+v", g)
		}
		for scope, rev := range g.Revisions {
			if bundle.ValidateScope(model.Scope(scope)) != nil || rev < 0 {
				t.Fatalf("accepted revisions %v", g.Revisions)
			}
		}
	})
}
