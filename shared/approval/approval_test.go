package approval

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/portcullis/portcullis/shared/policy"
)

func validRequest(t *testing.T) Request {
	t.Helper()
	r, err := NewRequest("acme", "user-1", "u@example.com", "orders.refund", json.RawMessage(`{"id":7}`),
		"refunds", "tenant", Config{ApproverRoles: []string{"finance"}, MinApprovals: 1, ExpirySec: 600})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestValidate(t *testing.T) {
	if err := validRequest(t).Validate(); err != nil {
		t.Fatalf("valid request rejected: %v", err)
	}
	cases := map[string]func(*Request){
		"bad op":             func(r *Request) { r.Op = "consume" },
		"bad tenant":         func(r *Request) { r.Tenant = "../x" },
		"empty tenant":       func(r *Request) { r.Tenant = "" },
		"empty user":         func(r *Request) { r.UserID = "" },
		"long user":          func(r *Request) { r.UserID = strings.Repeat("u", MaxFieldLen+1) },
		"control in user":    func(r *Request) { r.UserID = "a\nb" },
		"bad tool":           func(r *Request) { r.Tool = "a b" },
		"uppercase hash":     func(r *Request) { r.ArgsHash = strings.ToUpper(r.ArgsHash) },
		"short hash":         func(r *Request) { r.ArgsHash = "abc" },
		"hash mismatch":      func(r *Request) { r.Args = json.RawMessage(`{"id":8}`) },
		"args not json":      func(r *Request) { r.Args = json.RawMessage(`{"id":`) },
		"args too big":       func(r *Request) { r.Args = json.RawMessage(`"` + strings.Repeat("x", MaxArgsBytes) + `"`) },
		"bad scope":          func(r *Request) { r.PolicyScope = "tenant/acme" },
		"too many approvals": func(r *Request) { r.Approval.MinApprovals = MaxMinApprovals + 1 },
		"negative expiry":    func(r *Request) { r.Approval.ExpirySec = -1 },
		"webhook scheme":     func(r *Request) { r.Approval.WebhookURL = "file:///etc/passwd" },
		"webhook plain http": func(r *Request) { r.Approval.WebhookURL = "http://169.254.169.254/latest" },
		"too many approvers": func(r *Request) { r.Approval.ApproverEmails = make([]string, MaxApprovers+1) },
		"empty approver":     func(r *Request) { r.Approval.ApproverRoles = []string{""} },
	}
	for name, mutate := range cases {
		r := validRequest(t)
		mutate(&r)
		if err := r.Validate(); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func TestNewRequestOmitsLargeArgs(t *testing.T) {
	big := json.RawMessage(`"` + strings.Repeat("x", MaxArgsBytes) + `"`)
	r, err := NewRequest("acme", "u", "", "t", big, "p", "global", Config{})
	if err != nil {
		t.Fatal(err)
	}
	if r.Args != nil {
		t.Error("arguments above MaxArgsBytes must not be sent")
	}
	if err := r.Validate(); err != nil {
		t.Errorf("request without args rejected: %v", err)
	}
}

func TestExpiryClamp(t *testing.T) {
	for sec, want := range map[int]time.Duration{
		0: time.Hour, 1: 5 * time.Minute, 600: 10 * time.Minute, 10_000_000: 7 * 24 * time.Hour,
	} {
		if got := (Config{ExpirySec: sec}).Expiry(); got != want {
			t.Errorf("ExpirySec %d: %v, want %v", sec, got, want)
		}
	}
}

func TestConfigFrom(t *testing.T) {
	if got := ConfigFrom(nil); got.Approvals() != 1 || got.Expiry() != time.Hour {
		t.Errorf("nil policy approval: %+v", got)
	}
	got := ConfigFrom(&policy.Approval{ApproverEmails: []string{"cfo@acme.test"}, MinApprovals: 2, ExpirySec: 900, WebhookURL: "https://h.example/x"})
	if got.Approvals() != 2 || got.Expiry() != 15*time.Minute || got.WebhookURL != "https://h.example/x" || got.ApproverEmails[0] != "cfo@acme.test" {
		t.Errorf("converted: %+v", got)
	}
}
