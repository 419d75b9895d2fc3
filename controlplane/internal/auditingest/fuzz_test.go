package auditingest

import (
	"encoding/json"
	"testing"

	"github.com/portcullis/portcullis/shared/audit"
)

// FuzzDecode: no message panics decode, and an accepted event has a valid id,
// a time, a tenant matching its subject, and a body that is the canonical
// re-encoding of a valid audit.Event.
func FuzzDecode(f *testing.F) {
	f.Add("portcullis.audit.acme", []byte(`{"id":"e1","time":"2026-12-04T12:00:00Z","tenant":"acme","method":"tools/call","decision":"allow","duration_ms":1}`))
	f.Add("portcullis.audit._global", []byte(`{"id":"e2","time":"2026-12-04T12:00:00Z","decision":"deny","duration_ms":1}`))
	f.Add("portcullis.audit.acme", []byte(`{"id":"e3","time":"2026-12-04T12:00:00Z","tenant":"other","decision":"allow"}`))
	f.Add("portcullis.audit.a.b", []byte(`{}`))
	f.Fuzz(func(t *testing.T, subject string, data []byte) {
		ev, err := decode(subject, data)
		if err != nil {
			return
		}
		if !eventIDPattern.MatchString(ev.ID) || ev.Time.IsZero() {
			t.Fatalf("accepted id %q time %v", ev.ID, ev.Time)
		}
		if audit.Subject(ev.TenantID) != subject {
			t.Fatalf("tenant %q accepted from subject %q", ev.TenantID, subject)
		}
		var back audit.Event
		if err := json.Unmarshal(ev.Event, &back); err != nil || back.Validate() != nil || back.ID != ev.ID {
			t.Fatalf("stored body does not round-trip: %s", ev.Event)
		}
	})
}
