// Package approvalsvc serves human approvals to gateways and announces
// approval changes to webhooks.
//
// Service answers the check requests of shared/approval on NATS
// request/reply (subject approval.Subject, queue group approval.QueueGroup, so
// exactly one control-plane replica answers each request). Every check is one
// Postgres transaction (store.CheckApproval): Postgres, not NATS, makes
// consumption exactly-once, so replicas need no coordination.
//
// Trust: the control plane believes the tenant, user, tool, policy and
// approval settings a gateway sends, because the gateway authenticated the
// user and evaluated the policy. The NATS account is the trust boundary (in
// production only gateways and control planes may publish on
// portcullis.approvals.>). Within that, every request is validated and
// bounded, the arguments shown to approvers must hash to the bound hash, and
// the transaction runs as the request's tenant (row-level security), so a
// forged request can at worst create approvals in the tenant it names.
//
// Notifier delivers the webhook notifications queued by Postgres (see
// migrations/000006_approval_webhooks.up.sql) on creation and decision.
package approvalsvc

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/portcullis/portcullis/controlplane/internal/store"
	"github.com/portcullis/portcullis/shared/approval"
	"github.com/portcullis/portcullis/shared/promreg"
	"github.com/portcullis/portcullis/shared/strictjson"
)

const (
	// maxRequestSize bounds a request: the arguments (approval.MaxArgsBytes)
	// plus the other fields, which are small.
	maxRequestSize   = approval.MaxArgsBytes + 32<<10
	dbTimeout        = 5 * time.Second
	defaultWorkers   = 8
	pendingMessages  = 1024
	internalErrorMsg = "the control plane could not process the approval; try again"
)

// Store is what the service needs from the control plane's store.
type Store interface {
	CheckApproval(ctx context.Context, c store.ApprovalCheck) (store.CheckOutcome, store.Approval, error)
}

// Config configures a Service.
type Config struct {
	NC    *nats.Conn
	Store Store
	// PublicURL is the admin API's base URL (e.g. https://admin.example.com);
	// responses' check_url is PublicURL + the approval's API path. Empty: the
	// path alone.
	PublicURL string
	// Workers handle requests concurrently; 0 means 8.
	Workers int
	// Wake, when set, is called after an approval is created, so the
	// notifier sends its webhook at once instead of at its next poll.
	Wake    func()
	Logger  *slog.Logger
	Metrics prometheus.Registerer
}

// Service answers approval checks.
type Service struct {
	cfg     Config
	log     *slog.Logger
	answers *prometheus.CounterVec
}

// New checks cfg and registers the metrics; it does no I/O.
func New(cfg Config) (*Service, error) {
	if cfg.NC == nil || cfg.Store == nil {
		return nil, errors.New("approvalsvc: NC and Store are required")
	}
	if cfg.PublicURL != "" {
		if u, err := url.Parse(cfg.PublicURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, errors.New("approvalsvc: PublicURL must be an absolute http(s) URL")
		}
	}
	if cfg.Workers <= 0 {
		cfg.Workers = defaultWorkers
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	s := &Service{
		cfg: cfg,
		log: cfg.Logger.With("component", "approvals"),
		answers: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "portcullis_approval_checks_total",
			Help: "Approval checks answered, by status (approved_consumed, pending, denied, error).",
		}, []string{"status"}),
	}
	if err := promreg.RegisterAll(cfg.Metrics, s.answers); err != nil {
		return nil, fmt.Errorf("approvalsvc: register metrics: %w", err)
	}
	return s, nil
}

// Run answers requests until ctx is cancelled, then unsubscribes, finishes
// the requests in hand and returns nil. The subscription survives NATS
// reconnects (nats.go resubscribes).
func (s *Service) Run(ctx context.Context) error {
	ch := make(chan *nats.Msg, pendingMessages)
	sub, err := s.cfg.NC.ChanQueueSubscribe(approval.Subject, approval.QueueGroup, ch)
	if err != nil {
		return fmt.Errorf("approvalsvc: subscribe: %w", err)
	}
	defer func() { _ = sub.Unsubscribe() }()
	var wg sync.WaitGroup
	defer wg.Wait()
	for range s.cfg.Workers {
		wg.Go(func() {
			for {
				select {
				case <-ctx.Done():
					return
				case m := <-ch:
					// A request in hand is finished (bounded by dbTimeout) even
					// when shutdown starts: the gateway is waiting for it.
					s.serve(context.WithoutCancel(ctx), m)
				}
			}
		})
	}
	<-ctx.Done()
	return nil
}

func (s *Service) serve(ctx context.Context, m *nats.Msg) {
	if m.Reply == "" {
		return // a publish, not a request: there is nobody to answer
	}
	resp := s.Handle(ctx, m.Data)
	s.answers.WithLabelValues(string(resp.Status)).Inc()
	data, err := json.Marshal(resp)
	if err != nil { // cannot happen for this type; answer something parseable anyway
		data = []byte(`{"status":"error","message":"internal error"}`)
	}
	if err := m.Respond(data); err != nil {
		s.log.Warn("approval answer not sent", "err", err)
	}
}

// Handle decodes, validates and runs one check request and returns the
// response to send. It never panics on bad input.
func (s *Service) Handle(ctx context.Context, data []byte) approval.Response {
	req, err := decode(data)
	if err != nil {
		return approval.Response{Status: approval.StatusError, Message: "invalid approval request: " + err.Error()}
	}
	ctx, cancel := context.WithTimeout(ctx, dbTimeout)
	defer cancel()
	outcome, a, err := s.cfg.Store.CheckApproval(ctx, store.ApprovalCheck{
		TenantID: req.Tenant, UserID: req.UserID, UserEmail: req.UserEmail, Tool: req.Tool, ArgsHash: req.ArgsHash,
		Arguments: req.Args, PolicyName: req.PolicyName, PolicyScope: req.PolicyScope,
		ApproverRoles: req.Approval.ApproverRoles, ApproverEmails: req.Approval.ApproverEmails,
		MinApprovals: req.Approval.Approvals(), Expiry: req.Approval.Expiry(), WebhookURL: req.Approval.WebhookURL,
	})
	switch {
	case errors.Is(err, store.ErrNotFound), errors.Is(err, store.ErrForbidden):
		return approval.Response{Status: approval.StatusError, Message: "unknown tenant " + req.Tenant}
	case errors.Is(err, store.ErrInvalid):
		return approval.Response{Status: approval.StatusError, Message: "invalid approval request"}
	case err != nil:
		s.log.Error("approval check failed", "tenant", req.Tenant, "tool", req.Tool, "err", err)
		return approval.Response{Status: approval.StatusError, Message: internalErrorMsg}
	}
	if outcome == store.CheckCreated {
		s.log.Info("approval requested", "tenant", a.TenantID, "approval", a.ID, "tool", a.Tool, "user", a.UserID, "policy", a.PolicyName)
		if s.cfg.Wake != nil {
			s.cfg.Wake()
		}
	}
	if outcome == store.CheckConsumed {
		s.log.Info("approval consumed", "tenant", a.TenantID, "approval", a.ID, "tool", a.Tool, "user", a.UserID)
	}
	return s.response(outcome, a)
}

func decode(data []byte) (approval.Request, error) {
	if len(data) > maxRequestSize {
		return approval.Request{}, fmt.Errorf("request of %d bytes exceeds %d", len(data), maxRequestSize)
	}
	var req approval.Request
	if err := strictjson.Decode(data, &req); err != nil {
		return approval.Request{}, fmt.Errorf("does not decode: %w", err)
	}
	if err := req.Validate(); err != nil {
		return approval.Request{}, err
	}
	return req, nil
}

func (s *Service) response(outcome store.CheckOutcome, a store.Approval) approval.Response {
	exp := a.ExpiresAt.UTC()
	r := approval.Response{ApprovalID: a.ID, ExpiresAt: &exp, CheckURL: s.checkURL(a)}
	switch outcome {
	case store.CheckConsumed:
		r.Status = approval.StatusApprovedConsumed
		r.Message = fmt.Sprintf("approval %s was granted and is now used by this call", a.ID)
	case store.CheckDenied:
		r.Status = approval.StatusDenied
		r.Message = fmt.Sprintf("approval %s for this call was denied", a.ID)
	default:
		r.Status = approval.StatusPending
		r.Message = fmt.Sprintf("this call needs approval (policy %q): approval %s is pending until %s; retry the same call once it is approved",
			a.PolicyName, a.ID, exp.Format(time.RFC3339))
	}
	return r
}

func (s *Service) checkURL(a store.Approval) string {
	return s.cfg.PublicURL + "/v1/tenants/" + url.PathEscape(a.TenantID) + "/approvals/" + a.ID
}
