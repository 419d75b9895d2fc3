package approvalsvc_test

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/nats-io/nats.go"

	"github.com/portcullis/portcullis/controlplane/internal/approvalsvc"
	"github.com/portcullis/portcullis/controlplane/internal/store"
	"github.com/portcullis/portcullis/migrations"
	"github.com/portcullis/portcullis/shared/approval"
	"github.com/portcullis/portcullis/shared/backendsig"
	"github.com/portcullis/portcullis/shared/localenv/natstest"
	"github.com/portcullis/portcullis/shared/localenv/pgtest"
	"github.com/portcullis/portcullis/shared/model"
	"github.com/portcullis/portcullis/shared/seal"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

var platform = store.Actor{Subject: "test:platform", Platform: true}

type env struct {
	store *store.Store
	dsn   string
	nc    *nats.Conn
}

func ctxFor(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// start runs a migrated store with tenant "acme", an embedded NATS server and
// the service (publicURL as its PublicURL).
func start(t *testing.T, publicURL string) env {
	t.Helper()
	ctx := ctxFor(t)
	dsn := pgtest.NewDatabase(t)
	if err := migrations.Up(ctx, dsn); err != nil {
		t.Fatal(err)
	}
	key := make([]byte, seal.KeySize)
	_, _ = rand.Read(key)
	sealer, err := seal.New(key)
	if err != nil {
		t.Fatal(err)
	}
	st, err := store.Open(ctx, dsn, store.Options{MaxConns: 8, Sealer: sealer})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(st.Close)
	if err := st.Tx(ctx, platform, func(tx store.Tx) error {
		_, err := tx.CreateTenant(ctx, model.Tenant{ID: "acme", Name: "Acme"})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	ns := natstest.New(t)
	nc, err := nats.Connect(ns.URL())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	svc, err := approvalsvc.New(approvalsvc.Config{NC: nc, Store: st, PublicURL: publicURL})
	if err != nil {
		t.Fatal(err)
	}
	runCtx, stop := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- svc.Run(runCtx) }()
	t.Cleanup(func() {
		stop()
		if err := <-done; err != nil {
			t.Errorf("run: %v", err)
		}
	})
	// The subscription is live once a request gets an answer.
	for {
		if _, err := request(ctx, nc, []byte(`{}`)); err == nil {
			break
		} else if ctx.Err() != nil {
			t.Fatalf("service never answered: %v", err)
		}
		time.Sleep(10 * time.Millisecond)
	}
	return env{store: st, dsn: dsn, nc: nc}
}

func request(ctx context.Context, nc *nats.Conn, data []byte) (approval.Response, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	msg, err := nc.RequestWithContext(ctx, approval.Subject, data)
	if err != nil {
		return approval.Response{}, err
	}
	var r approval.Response
	err = json.Unmarshal(msg.Data, &r)
	return r, err
}

func newRequest(t *testing.T, user, args string) approval.Request {
	t.Helper()
	r, err := approval.NewRequest("acme", user, user+"@example.com", "orders.refund", json.RawMessage(args),
		"refunds", "tenant", approval.Config{ApproverRoles: []string{"finance"}, ExpirySec: 600})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func (e env) check(t *testing.T, r approval.Request, want approval.Status) approval.Response {
	t.Helper()
	data, _ := json.Marshal(r)
	resp, err := request(ctxFor(t), e.nc, data)
	if err != nil {
		t.Fatal(err)
	}
	if resp.Status != want {
		t.Fatalf("status %s (%s), want %s", resp.Status, resp.Message, want)
	}
	return resp
}

func (e env) decide(t *testing.T, id, by, verdict string) {
	t.Helper()
	ctx := ctxFor(t)
	if err := e.store.Tx(ctx, platform, func(tx store.Tx) error {
		_, err := tx.DecideApproval(ctx, "acme", id, store.Decision{By: by, Verdict: verdict})
		return err
	}); err != nil {
		t.Fatal(err)
	}
}

// expire moves an approval's expiry into the past with plain SQL.
func (e env) expire(t *testing.T, id string) {
	t.Helper()
	ctx := ctxFor(t)
	conn, err := pgx.Connect(ctx, e.dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	tx, err := conn.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx) //nolint:errcheck // after Commit it is a no-op
	if _, err := tx.Exec(ctx, `SELECT set_config('portcullis.platform', 'on', true)`); err != nil {
		t.Fatal(err)
	}
	if tag, err := tx.Exec(ctx, `UPDATE approvals SET expires_at = now() - interval '1 second' WHERE id = $1`, id); err != nil || tag.RowsAffected() != 1 {
		t.Fatalf("expire: %v, %d rows", err, tag.RowsAffected())
	}
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
}

func TestFlow(t *testing.T) {
	e := start(t, "https://admin.example.com")
	r := newRequest(t, "alice", `{"order":"o-1","amount":42}`)
	first := e.check(t, r, approval.StatusPending)
	if first.ApprovalID == "" || first.ExpiresAt == nil ||
		first.CheckURL != "https://admin.example.com/v1/tenants/acme/approvals/"+first.ApprovalID {
		t.Fatalf("pending answer %+v", first)
	}
	if until := time.Until(*first.ExpiresAt); until < 9*time.Minute || until > 11*time.Minute {
		t.Errorf("expiry %v from now, want the configured 10 minutes", until)
	}
	// Retrying before a decision reuses the approval, whatever the key order.
	same := newRequest(t, "alice", `{ "amount":42, "order":"o-1" }`)
	if again := e.check(t, same, approval.StatusPending); again.ApprovalID != first.ApprovalID {
		t.Fatalf("duplicate pending approval %s (first %s)", again.ApprovalID, first.ApprovalID)
	}
	// The arguments are stored for approvers.
	var stored store.Approval
	ctx := ctxFor(t)
	_ = e.store.Tx(ctx, platform, func(tx store.Tx) (err error) {
		stored, err = tx.GetApproval(ctx, "acme", first.ApprovalID)
		return err
	})
	if !strings.Contains(string(stored.Arguments), `"o-1"`) || stored.ArgsHash != r.ArgsHash || stored.UserID != "alice" {
		t.Fatalf("stored approval %+v", stored)
	}

	e.decide(t, first.ApprovalID, "bob", "approve")
	// A different call (other arguments, other user) does not use it.
	e.check(t, newRequest(t, "alice", `{"order":"o-2","amount":42}`), approval.StatusPending)
	if other := e.check(t, newRequest(t, "mallory", `{"order":"o-1","amount":42}`), approval.StatusPending); other.ApprovalID == first.ApprovalID {
		t.Fatal("another user got alice's approval")
	}
	used := e.check(t, r, approval.StatusApprovedConsumed)
	if used.ApprovalID != first.ApprovalID {
		t.Fatalf("consumed %s, want %s", used.ApprovalID, first.ApprovalID)
	}
	next := e.check(t, r, approval.StatusPending)
	if next.ApprovalID == first.ApprovalID {
		t.Fatal("the second identical call reused the consumed approval")
	}
}

func TestDeniedNeverPasses(t *testing.T) {
	e := start(t, "")
	r := newRequest(t, "alice", `{"x":1}`)
	p := e.check(t, r, approval.StatusPending)
	if p.CheckURL != "/v1/tenants/acme/approvals/"+p.ApprovalID {
		t.Errorf("check url %q without a public URL", p.CheckURL)
	}
	e.decide(t, p.ApprovalID, "bob", "deny")
	for range 3 {
		if d := e.check(t, r, approval.StatusDenied); d.ApprovalID != p.ApprovalID {
			t.Fatalf("denied answer for %s, want %s", d.ApprovalID, p.ApprovalID)
		}
	}
	// Once the denial expires the user may ask again: a new pending approval.
	e.expire(t, p.ApprovalID)
	if n := e.check(t, r, approval.StatusPending); n.ApprovalID == p.ApprovalID {
		t.Fatal("expired denial reused")
	}
}

func TestExpiredNeverPasses(t *testing.T) {
	e := start(t, "")
	r := newRequest(t, "alice", `{"x":1}`)
	p := e.check(t, r, approval.StatusPending)
	e.decide(t, p.ApprovalID, "bob", "approve")
	e.expire(t, p.ApprovalID)
	if n := e.check(t, r, approval.StatusPending); n.ApprovalID == p.ApprovalID {
		t.Fatal("expired approval passed or was reused")
	}
}

// TestConcurrentConsume races checks of one approved approval from several
// NATS connections; exactly one gets approved_consumed.
func TestConcurrentConsume(t *testing.T) {
	e := start(t, "")
	r := newRequest(t, "alice", `{"x":1}`)
	p := e.check(t, r, approval.StatusPending)
	e.decide(t, p.ApprovalID, "bob", "approve")
	data, _ := json.Marshal(r)
	const n = 12
	statuses := make([]approval.Status, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	gate := make(chan struct{})
	for i := range n {
		nc, err := nats.Connect(e.nc.ConnectedUrl())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(nc.Close)
		wg.Go(func() {
			<-gate
			resp, err := request(context.Background(), nc, data)
			statuses[i], errs[i] = resp.Status, err
		})
	}
	close(gate)
	wg.Wait()
	won := 0
	for i, s := range statuses {
		if errs[i] != nil {
			t.Fatal(errs[i])
		}
		switch s {
		case approval.StatusApprovedConsumed:
			won++
		case approval.StatusPending:
		default:
			t.Errorf("status %s", s)
		}
	}
	if won != 1 {
		t.Fatalf("%d callers consumed the approval, want exactly 1", won)
	}
}

func TestInvalidRequests(t *testing.T) {
	e := start(t, "")
	valid := newRequest(t, "alice", `{"x":1}`)
	enc := func(mutate func(*approval.Request)) []byte {
		r := valid
		mutate(&r)
		b, _ := json.Marshal(r)
		return b
	}
	big := `{"s":"` + strings.Repeat("x", approval.MaxArgsBytes+64<<10) + `"}`
	cases := map[string][]byte{
		"not json":       []byte(`{"op":`),
		"empty":          []byte(``),
		"unknown field":  []byte(strings.Replace(string(enc(func(*approval.Request) {})), `{`, `{"admin":true,`, 1)),
		"trailing data":  append(enc(func(*approval.Request) {}), []byte(` {}`)...),
		"trailing brace": append(enc(func(*approval.Request) {}), []byte(`]`)...),
		"oversized":      []byte(big),
		"bad op":         enc(func(r *approval.Request) { r.Op = "approve" }),
		"bad tenant":     enc(func(r *approval.Request) { r.Tenant = "acme'; --" }),
		"bad hash":       enc(func(r *approval.Request) { r.ArgsHash = strings.Repeat("g", 64) }),
		"hash mismatch":  enc(func(r *approval.Request) { r.Args = json.RawMessage(`{"x":2}`) }),
		"no user":        enc(func(r *approval.Request) { r.UserID = "" }),
		"unknown tenant": enc(func(r *approval.Request) { r.Tenant = "ghost" }),
		"private http":   enc(func(r *approval.Request) { r.Approval.WebhookURL = "http://10.0.0.1/hook" }),
	}
	for name, data := range cases {
		resp, err := request(ctxFor(t), e.nc, data)
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if resp.Status != approval.StatusError || resp.ApprovalID != "" {
			t.Errorf("%s: answered %+v, want an error", name, resp)
		}
	}
	// None of them created an approval.
	ctx := ctxFor(t)
	var all []store.Approval
	_ = e.store.Tx(ctx, platform, func(tx store.Tx) (err error) {
		all, _, err = tx.ListApprovals(ctx, "", "", store.Page{})
		return err
	})
	if len(all) != 0 {
		t.Fatalf("invalid requests created %d approvals", len(all))
	}
}

// TestWebhooks: creation and decision are POSTed, signed with the platform's
// backend key; a failing receiver is retried later.
func TestWebhooks(t *testing.T) {
	e := start(t, "")
	ctx := ctxFor(t)
	var key store.BackendKeyRecord
	if err := e.store.Tx(ctx, platform, func(tx store.Tx) (err error) {
		key, err = tx.CreateBackendKey(ctx)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	verifier := &backendsig.Verifier{Keys: map[string][]byte{key.KID: key.Secret}}
	type got struct {
		event, tenant, id string
		payload           map[string]any
	}
	var mu sync.Mutex
	var received []got
	fail := true
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ident, err := verifier.Verify(r)
		if err != nil {
			t.Errorf("webhook signature: %v", err)
			http.Error(w, "bad signature", http.StatusUnauthorized)
			return
		}
		body, _ := io.ReadAll(r.Body)
		var p map[string]any
		if err := json.Unmarshal(body, &p); err != nil {
			t.Errorf("webhook body: %v", err)
		}
		mu.Lock()
		defer mu.Unlock()
		if fail && r.Header.Get(approvalsvc.EventHeader) == "approval.approved" {
			fail = false
			http.Error(w, "try later", http.StatusServiceUnavailable)
			return
		}
		received = append(received, got{r.Header.Get(approvalsvc.EventHeader), ident.Tenant, ident.RequestID, p})
	}))
	t.Cleanup(srv.Close)

	r := newRequest(t, "alice", `{"x":1}`)
	r.Approval.WebhookURL = srv.URL + "/hooks/approvals"
	p := e.check(t, r, approval.StatusPending)
	e.decide(t, p.ApprovalID, "bob", "approve")

	n, err := approvalsvc.NewNotifier(approvalsvc.NotifierConfig{Store: e.store, AllowPrivateAddresses: true}) // the receiver is on loopback
	if err != nil {
		t.Fatal(err)
	}
	if sent, err := n.DeliverDue(ctx); err != nil || sent != 2 {
		t.Fatalf("deliver: %d, %v", sent, err)
	}
	mu.Lock()
	if len(received) != 1 || received[0].event != "approval.created" || received[0].tenant != "acme" {
		t.Fatalf("received %+v, want the creation", received)
	}
	a := received[0].payload["approval"].(map[string]any)
	if a["id"] != p.ApprovalID || a["user_id"] != "alice" || a["status"] != "pending" || received[0].id != received[0].payload["id"].(string)+":1" {
		t.Errorf("payload %+v", received[0].payload)
	}
	mu.Unlock()
	ds, err := e.store.ListWebhookDeliveries(ctx, p.ApprovalID)
	if err != nil || len(ds) != 2 {
		t.Fatalf("deliveries %+v, %v", ds, err)
	}
	if ds[1].Event != "approval.approved" || ds[1].DeliveredAt != nil || ds[1].Attempts != 1 || !strings.Contains(ds[1].LastError, "503") {
		t.Fatalf("failed delivery recorded as %+v", ds[1])
	}
	// Not due yet (backoff): nothing is sent again now.
	if sent, err := n.DeliverDue(ctx); err != nil || sent != 0 {
		t.Fatalf("retried before its backoff: %d, %v", sent, err)
	}
}

func TestNoAnswerToPublish(t *testing.T) {
	e := start(t, "")
	// A publish without a reply subject must not crash or create anything.
	data, _ := json.Marshal(newRequest(t, "alice", `{}`))
	if err := e.nc.Publish(approval.Subject, data); err != nil {
		t.Fatal(err)
	}
	if err := e.nc.Flush(); err != nil {
		t.Fatal(err)
	}
	if _, err := request(ctxFor(t), e.nc, []byte(`{}`)); err != nil {
		t.Fatal(err)
	}
}
