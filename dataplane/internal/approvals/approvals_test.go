package approvals

import (
	"context"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/portcullis/portcullis/shared/approval"
	"github.com/portcullis/portcullis/shared/localenv/natstest"
)

func connect(t *testing.T, url string) *nats.Conn {
	t.Helper()
	nc, err := nats.Connect(url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	return nc
}

func request(t *testing.T) approval.Request {
	t.Helper()
	r, err := approval.NewRequest("acme", "alice", "", "orders.refund", json.RawMessage(`{"id":1}`), "p", "global", approval.Config{})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// responder answers every request on approval.Subject with answer (raw
// bytes), standing in for the control plane (whose real service is tested in
// controlplane/internal/approvalsvc and e2e/approvals_test.go). It checks
// that what arrives is a valid request.
func responder(t *testing.T, nc *nats.Conn, answer string) {
	t.Helper()
	sub, err := nc.QueueSubscribe(approval.Subject, approval.QueueGroup, func(m *nats.Msg) {
		var r approval.Request
		if err := json.Unmarshal(m.Data, &r); err != nil || r.Validate() != nil {
			t.Errorf("responder got an invalid request: %s", m.Data)
		}
		_ = m.Respond([]byte(answer))
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sub.Unsubscribe() })
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
}

func TestCheckAnswers(t *testing.T) {
	ns := natstest.New(t)
	cases := []struct {
		name, answer string
		want         approval.Status
		wantErr      error
	}{
		{"consumed", `{"status":"approved_consumed","approval_id":"a1"}`, approval.StatusApprovedConsumed, nil},
		{"pending", `{"status":"pending","approval_id":"a1","check_url":"/v1/x","message":"wait"}`, approval.StatusPending, nil},
		{"denied", `{"status":"denied","approval_id":"a1"}`, approval.StatusDenied, nil},
		{"error", `{"status":"error","message":"unknown tenant"}`, approval.StatusError, ErrRejected},
		{"unknown status", `{"status":"approved","approval_id":"a1"}`, "", ErrRejected},
		{"consumed without id", `{"status":"approved_consumed"}`, "", ErrRejected},
		{"garbage", `not json`, "", ErrRejected},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			responder(t, connect(t, ns.URL()), c.answer)
			cl := &Client{NC: connect(t, ns.URL()), Timeout: 5 * time.Second}
			resp, err := cl.Check(context.Background(), request(t))
			if !errors.Is(err, c.wantErr) || (c.wantErr == nil && err != nil) {
				t.Fatalf("err %v, want %v", err, c.wantErr)
			}
			if resp.Status != c.want {
				t.Fatalf("status %q, want %q", resp.Status, c.want)
			}
		})
	}
}

func TestCheckFailsClosed(t *testing.T) {
	ns := natstest.New(t)
	// Nobody subscribed: no responders.
	cl := &Client{NC: connect(t, ns.URL())}
	if _, err := cl.Check(context.Background(), request(t)); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("no control plane: %v, want ErrUnavailable", err)
	}
	// A control plane that never answers: the timeout.
	silent := connect(t, ns.URL())
	if _, err := silent.QueueSubscribe(approval.Subject, approval.QueueGroup, func(*nats.Msg) {}); err != nil {
		t.Fatal(err)
	}
	_ = silent.Flush()
	slow := &Client{NC: connect(t, ns.URL()), Timeout: 100 * time.Millisecond}
	if _, err := slow.Check(context.Background(), request(t)); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("silent control plane: %v, want ErrUnavailable", err)
	}
	// NATS down.
	down := connect(t, ns.URL())
	down.Close()
	if _, err := (&Client{NC: down}).Check(context.Background(), request(t)); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("closed connection: %v, want ErrUnavailable", err)
	}
	if _, err := (&Client{}).Check(context.Background(), request(t)); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("no connection: %v, want ErrUnavailable", err)
	}
	// An invalid request is never sent.
	bad := request(t)
	bad.ArgsHash = "x"
	if _, err := cl.Check(context.Background(), bad); err == nil || errors.Is(err, ErrUnavailable) {
		t.Fatalf("invalid request: %v", err)
	}
}
