package audit

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
)

func TestSubject(t *testing.T) {
	cases := map[string]string{
		"":                      "portcullis.audit._global",
		"acme":                  "portcullis.audit.acme",
		"Acme_1-x":              "portcullis.audit.Acme_1-x",
		"a.b":                   "portcullis.audit._invalid", // would address another subject
		"*":                     "portcullis.audit._invalid",
		">":                     "portcullis.audit._invalid",
		"a b":                   "portcullis.audit._invalid",
		"_global":               "portcullis.audit._invalid", // reserved token cannot be claimed
		strings.Repeat("a", 65): "portcullis.audit._invalid",
	}
	for tenant, want := range cases {
		if got := Subject(tenant); got != want {
			t.Errorf("Subject(%q) = %q, want %q", tenant, got, want)
		}
		if !strings.HasPrefix(Subject(tenant), SubjectPrefix) {
			t.Errorf("Subject(%q) outside the stream's subjects", tenant)
		}
	}
	if got := (Event{Tenant: "acme"}).Subject(); got != "portcullis.audit.acme" {
		t.Errorf("Event.Subject = %q", got)
	}
}

func TestNewID(t *testing.T) {
	a, err := NewID()
	if err != nil {
		t.Fatal(err)
	}
	b, _ := NewID()
	u, err := uuid.Parse(a)
	if err != nil || u.Version() != 7 {
		t.Fatalf("NewID %q is not a UUIDv7 (%v)", a, err)
	}
	if a == b {
		t.Fatal("two NewID calls returned the same id")
	}
}

func TestValidate(t *testing.T) {
	now := time.Date(2026, 12, 4, 15, 0, 0, 0, time.UTC)
	cases := []struct {
		name string
		ev   Event
		ok   bool
	}{
		{"minimal", Event{ID: "x", Time: now}, true},
		{"full", Event{ID: "x", Time: now, Tenant: "acme", Decision: DecisionStepUp}, true},
		{"no id", Event{Time: now}, false},
		{"long id", Event{ID: strings.Repeat("x", 65), Time: now}, false},
		{"no time", Event{ID: "x"}, false},
		{"bad tenant", Event{ID: "x", Time: now, Tenant: "a.b"}, false},
		{"bad decision", Event{ID: "x", Time: now, Decision: "maybe"}, false},
	}
	for _, c := range cases {
		if err := c.ev.Validate(); (err == nil) != c.ok {
			t.Errorf("%s: ok=%v, err=%v", c.name, c.ok, err)
		}
	}
}

// TestJSONShape pins the wire names: the control plane stores what gateways
// of another version send, so a renamed field is a breaking change.
func TestJSONShape(t *testing.T) {
	ev := Event{
		ID: "0193", Time: time.Date(2026, 12, 4, 15, 0, 0, 0, time.UTC), GatewayID: "gw-1",
		Tenant: "acme", UserID: "u1", Email: "u@acme.example", ClientIP: "192.0.2.1",
		ClientName: "claude-ai", ClientVersion: "1.0", Platform: "claude", SessionID: "s1",
		Method: "tools/call", Tool: "orders.get", HTTPMethod: "GET", HTTPPath: "/orders/1",
		ApprovalID: "ap1", RequestID: "r1", UserAgent: "ua", Country: "FR",
		Decision: DecisionDeny, DecidedBy: &DecidedBy{Kind: "policy", Name: "no refunds", Scope: "global"},
		Access: AccessGranted, Masking: map[string]int{"email": 2},
		Hooks:         []HookResult{{Name: "h", Verdict: "allow", DurationMS: 3}},
		BackendStatus: 403, DurationMS: 12, Error: "denied",
	}
	raw, err := json.Marshal(ev)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"id", "time", "gateway_id", "tenant", "user_id", "email", "client_ip", "client_name",
		"client_version", "platform", "session_id", "method", "tool", "http_method", "http_path", "approval_id",
		"request_id", "user_agent", "country", "decision", "decided_by", "access", "masking", "hooks",
		"backend_status", "duration_ms", "error"} {
		if _, ok := m[k]; !ok {
			t.Errorf("JSON lacks %q: %s", k, raw)
		}
		delete(m, k)
	}
	for k := range m {
		t.Errorf("unexpected JSON field %q", k)
	}
	var back Event
	if err := json.Unmarshal(raw, &back); err != nil || back.DecidedBy.Name != "no refunds" || back.Masking["email"] != 2 {
		t.Fatalf("round trip: %+v %v", back, err)
	}
}
