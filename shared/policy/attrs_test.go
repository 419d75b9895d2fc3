package policy

import (
	"encoding/json"
	"testing"
	"time"
)

// TestDocument pins the input document raw Rego sees (the contract in
// validate_rego.go) and its normalisation.
func TestDocument(t *testing.T) {
	in := Input{
		Tool: "orders.create",
		Args: map[string]any{"amount": 5.0},
		User: UserAttrs{ID: "u1", Email: "Ann@Example.COM", Tenant: "acme", Roles: []string{"admin"},
			Permissions: []string{}, Claims: map[string]any{"plan": "pro"}},
		Request: RequestAttrs{IP: "::ffff:192.0.2.7", Country: "fr", UserAgent: "Claude-User", Platform: "claude",
			Time: time.Date(2026, 12, 4, 17, 32, 20, 123e6, time.FixedZone("CET", 3600))},
	}
	want := `{"args":{"amount":5},"request":{"country":"FR","ip":"192.0.2.7","platform":"claude",` +
		`"time":"2026-12-04T16:32:20.123Z","time_ns":1796401940123000000,"user_agent":"Claude-User","weekday":"fri"},` +
		`"tool":"orders.create","user":{"claims":{"plan":"pro"},"email":"ann@example.com","id":"u1","permissions":[],` +
		`"roles":["admin"],"tenant":"acme"}}`
	got, err := json.Marshal(in.Document())
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != want {
		t.Fatalf("got  %s\nwant %s", got, want)
	}
	// Unknown attributes are absent, not empty.
	empty, _ := json.Marshal(Input{Tool: "t", Request: RequestAttrs{IP: "not an ip"}}.Document())
	if string(empty) != `{"args":{},"request":{},"tool":"t","user":{"claims":{}}}` {
		t.Fatalf("empty input: %s", empty)
	}
	// A time outside the int64 nanosecond range is unknown, not wrapped.
	far, _ := json.Marshal(Input{Request: RequestAttrs{Time: time.Date(3000, 1, 1, 0, 0, 0, 0, time.UTC)}}.Document())
	if string(far) != `{"args":{},"request":{},"tool":"","user":{"claims":{}}}` {
		t.Fatalf("far future: %s", far)
	}
}

func TestWeekdayInDocument(t *testing.T) {
	for day, want := range map[int]string{1: "sun", 2: "mon", 7: "sat"} { // Nov 2026: the 1st is a Sunday
		in := Input{Request: RequestAttrs{Time: time.Date(2026, 11, day, 23, 59, 0, 0, time.UTC)}}
		if got := in.Document()["request"].(map[string]any)["weekday"]; got != want {
			t.Errorf("Nov %d: got %v want %s", day, got, want)
		}
	}
}
