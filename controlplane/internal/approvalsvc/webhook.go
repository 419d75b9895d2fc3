package approvalsvc

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/portcullis/portcullis/controlplane/internal/store"
	"github.com/portcullis/portcullis/shared/backendsig"
	"github.com/portcullis/portcullis/shared/promreg"
)

// Webhook notifications.
//
// Postgres queues one delivery per approval creation and decision (a trigger
// on approvals, in the transaction that made the change). The Notifier polls
// the queue (and is woken when this process creates an approval), leases due
// deliveries, POSTs each one and records the outcome: 2xx is delivered;
// anything else is retried with exponential backoff (5 s doubling, at most 1
// h between attempts) until MaxAttempts, then marked failed. Delivery is at
// least once and not ordered: receivers drop duplicates by the payload's
// "id" (the delivery id) and read the approval's status from the payload
// rather than from the order of events. The signed request id is
// "<delivery id>:<attempt>", new for every attempt, so a receiver that
// rejects replayed request ids (backendsig.ReplayCache) still accepts a retry.
//
// Signing: each POST is signed with shared/backendsig using the platform's
// backend HMAC keys (every active key and every retiring key still in its
// overlap, so rotation works as for backends), tenant = the approval's tenant,
// user = "". A receiver verifies exactly as a backend does (backendsig.Verifier
// or the documented canonical string), so no new key type, distribution or
// rotation procedure is needed. The cost of that choice: a webhook receiver
// holds a key that also signs gateway-to-backend requests, so it must be
// trusted as much as a backend (run by the platform operator). A dedicated
// webhook key kind is the upgrade path if untrusted receivers are needed.
// Nothing is sent unsigned: without a backend key, deliveries wait and retry.
//
// Redirects are not followed (a redirect could point the control plane at an
// internal address the URL validation refused).

// WebhookStore is what the notifier needs from the store.
type WebhookStore interface {
	ClaimWebhookDeliveries(ctx context.Context, limit int, lease time.Duration) ([]store.WebhookDelivery, error)
	RecordWebhookAttempt(ctx context.Context, id, failure string, retryIn time.Duration, maxAttempts int) error
	BackendKeySecrets(ctx context.Context) ([]store.BackendKeyRecord, error)
	PruneWebhookDeliveries(ctx context.Context, olderThan time.Duration) (int64, error)
}

// Headers of a webhook POST besides the backendsig ones.
const (
	EventHeader = "Portcullis-Event"
	userAgent   = "Portcullis-Webhooks/1"
)

const (
	defaultPoll        = 2 * time.Second
	defaultMaxAttempts = 10
	defaultHTTPTimeout = 10 * time.Second
	batchSize          = 20
	firstRetry         = 5 * time.Second
	maxRetry           = time.Hour
	defaultRetention   = 30 * 24 * time.Hour
	pruneEvery         = time.Hour
)

// NotifierConfig configures a Notifier.
type NotifierConfig struct {
	Store WebhookStore
	// Client sends the POSTs; nil means a client with a 10 s timeout that
	// does not follow redirects, ignores proxy settings and, unless
	// AllowPrivateAddresses, refuses to connect to non-public addresses.
	Client *http.Client
	// AllowPrivateAddresses lets the default client reach loopback, private
	// and link-local addresses. Off in production: webhook URLs are written by
	// admins (tenant admins too, through delegated policies), and the control
	// plane must not become a way to send signed requests into its own network.
	AllowPrivateAddresses bool
	// Poll is the queue polling interval; 0 means 2 s.
	Poll time.Duration
	// MaxAttempts per delivery; 0 means 10.
	MaxAttempts int
	// Retention of settled (delivered or failed) deliveries, pruned hourly;
	// 0 means 30 days.
	Retention time.Duration
	Logger    *slog.Logger
	Metrics   prometheus.Registerer
	// Now is the signing clock; nil means time.Now.
	Now func() time.Time
}

// Notifier delivers queued webhook notifications.
type Notifier struct {
	cfg     NotifierConfig
	log     *slog.Logger
	wake    chan struct{}
	results *prometheus.CounterVec
}

// NewNotifier checks cfg and registers the metrics; it does no I/O.
func NewNotifier(cfg NotifierConfig) (*Notifier, error) {
	if cfg.Store == nil {
		return nil, errors.New("approvalsvc: notifier needs a Store")
	}
	if cfg.Client == nil {
		cfg.Client = webhookClient(cfg.AllowPrivateAddresses)
	}
	if cfg.Poll <= 0 {
		cfg.Poll = defaultPoll
	}
	if cfg.MaxAttempts <= 0 {
		cfg.MaxAttempts = defaultMaxAttempts
	}
	if cfg.Retention <= 0 {
		cfg.Retention = defaultRetention
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	n := &Notifier{
		cfg:  cfg,
		log:  cfg.Logger.With("component", "approval-webhooks"),
		wake: make(chan struct{}, 1),
		results: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "portcullis_approval_webhook_attempts_total",
			Help: "Approval webhook delivery attempts, by result (delivered, retry, failed).",
		}, []string{"result"}),
	}
	if err := promreg.RegisterAll(cfg.Metrics, n.results); err != nil {
		return nil, fmt.Errorf("approvalsvc: register metrics: %w", err)
	}
	return n, nil
}

// Wake makes Run look at the queue now (non-blocking).
func (n *Notifier) Wake() {
	select {
	case n.wake <- struct{}{}:
	default:
	}
}

// Run delivers until ctx is cancelled and returns nil. It also prunes
// settled deliveries older than Retention, hourly.
func (n *Notifier) Run(ctx context.Context) error {
	t := time.NewTicker(n.cfg.Poll)
	defer t.Stop()
	var pruned time.Time
	for {
		if time.Since(pruned) >= pruneEvery {
			pruned = time.Now()
			n.prune(ctx)
		}
		for {
			sent, err := n.DeliverDue(ctx)
			if err != nil && ctx.Err() == nil {
				n.log.Warn("webhook queue", "err", err)
			}
			if err != nil || sent < batchSize {
				break // a full batch means more may be due: go again at once
			}
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		case <-n.wake:
		}
	}
}

func (n *Notifier) prune(ctx context.Context) {
	ctx, cancel := context.WithTimeout(ctx, dbTimeout)
	defer cancel()
	if gone, err := n.cfg.Store.PruneWebhookDeliveries(ctx, n.cfg.Retention); err != nil {
		if ctx.Err() == nil {
			n.log.Warn("webhook queue not pruned", "err", err)
		}
	} else if gone > 0 {
		n.log.Info("webhook queue pruned", "deliveries", gone)
	}
}

// DeliverDue sends one batch of due deliveries and returns how many it tried.
func (n *Notifier) DeliverDue(ctx context.Context) (int, error) {
	dctx, cancel := context.WithTimeout(ctx, dbTimeout)
	// The lease covers the whole batch's HTTP time, so another replica does
	// not send the same rows meanwhile.
	due, err := n.cfg.Store.ClaimWebhookDeliveries(dctx, batchSize, batchSize*defaultHTTPTimeout+time.Minute)
	cancel()
	if err != nil || len(due) == 0 {
		return 0, err
	}
	kctx, cancel := context.WithTimeout(ctx, dbTimeout)
	keys, keyErr := n.cfg.Store.BackendKeySecrets(kctx)
	cancel()
	signer := backendsig.Signer{}
	for _, k := range keys {
		signer.Keys = append(signer.Keys, backendsig.Key{KID: k.KID, Secret: k.Secret})
	}
	for _, d := range due {
		var failure error
		switch {
		case keyErr != nil:
			failure = fmt.Errorf("signing keys: %w", keyErr)
		case len(signer.Keys) == 0:
			failure = errors.New("no backend signing key exists yet: not sending unsigned")
		default:
			failure = n.send(ctx, signer, d)
		}
		n.record(context.WithoutCancel(ctx), d, failure)
	}
	return len(due), nil
}

func (n *Notifier) send(ctx context.Context, signer backendsig.Signer, d store.WebhookDelivery) error {
	ctx, cancel := context.WithTimeout(ctx, defaultHTTPTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, d.URL, bytes.NewReader(d.Payload))
	if err != nil {
		return fmt.Errorf("request: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", userAgent)
	req.Header.Set(EventHeader, d.Event)
	requestID := d.ID + ":" + strconv.Itoa(d.Attempts+1)
	if err := signer.Sign(req, d.Payload, d.TenantID, "", requestID, n.cfg.Now()); err != nil {
		return fmt.Errorf("sign: %w", err)
	}
	resp, err := n.cfg.Client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10)) // lets the connection be reused
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return fmt.Errorf("receiver answered %s", resp.Status)
	}
	return nil
}

func (n *Notifier) record(ctx context.Context, d store.WebhookDelivery, failure error) {
	msg, result := "", "delivered"
	retry := backoff(d.Attempts)
	if failure != nil {
		msg, result = failure.Error(), "retry"
		if d.Attempts+1 >= n.cfg.MaxAttempts {
			result = "failed"
		}
	}
	n.results.WithLabelValues(result).Inc()
	switch result {
	case "retry":
		n.log.Info("webhook not delivered, will retry", "delivery", d.ID, "event", d.Event, "attempt", d.Attempts+1, "in", retry, "err", failure)
	case "failed":
		n.log.Warn("webhook delivery abandoned", "delivery", d.ID, "event", d.Event, "attempts", d.Attempts+1, "err", failure)
	}
	ctx, cancel := context.WithTimeout(ctx, dbTimeout)
	defer cancel()
	if err := n.cfg.Store.RecordWebhookAttempt(ctx, d.ID, msg, retry, n.cfg.MaxAttempts); err != nil {
		// The lease ends and the delivery is retried: at least once holds.
		n.log.Warn("webhook outcome not recorded", "delivery", d.ID, "err", err)
	}
}

// backoff is the wait after the (attempts+1)-th failure: 5 s doubling, at most 1 h.
func backoff(attempts int) time.Duration {
	d := firstRetry
	for range attempts {
		d *= 2
		if d >= maxRetry {
			return maxRetry
		}
	}
	return d
}
