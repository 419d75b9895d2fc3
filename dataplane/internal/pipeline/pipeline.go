package pipeline

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/portcullis/portcullis/dataplane/internal/bundlestore"
	"github.com/portcullis/portcullis/dataplane/internal/forward"
	"github.com/portcullis/portcullis/dataplane/internal/mcp"
	"github.com/portcullis/portcullis/dataplane/internal/netrules"
	"github.com/portcullis/portcullis/dataplane/internal/ratelimit"
	"github.com/portcullis/portcullis/shared/seal"
)

// Backend is the forwarding layer; *forward.Forwarder implements it.
type Backend interface {
	Forward(ctx context.Context, c forward.Call) forward.Result
}

// Config configures a Pipeline.
type Config struct {
	// Source is the gateway's configuration. Required.
	Source bundlestore.Source
	// Backend forwards granted, validated calls (a *forward.Forwarder). Required.
	Backend Backend
	// Sealer opens the backend keys inside the global bundle
	// (PORTCULLIS_BUNDLE_SEAL_KEY). Required.
	Sealer *seal.Sealer
	// GatewayID goes into every audit event (PORTCULLIS_GATEWAY_ID).
	GatewayID string

	// The later layers; nil means the pass-through implementation.
	Policies Policies
	Hooks    Hooks
	Masker   Masker
	// Audit receives one event per request; nil discards them.
	Audit Recorder

	// RateLimiter holds the rate-limit buckets; nil means a limiter of the
	// pipeline's own that does not split budgets between replicas (give one
	// built with ratelimit.Config.Replicas = Fleet.Replicas in production).
	RateLimiter *ratelimit.Limiter

	// MaxTenantViews bounds the tenant access views cached per global bundle;
	// 0 means access.DefaultMaxTenantViews.
	MaxTenantViews int
	Logger         *slog.Logger
	Registerer     prometheus.Registerer // nil: metrics are not exported
	Now            func() time.Time      // default time.Now
}

// Pipeline implements mcp.Tools. Safe for concurrent use; create one per
// process and Close it on shutdown.
type Pipeline struct {
	src       bundlestore.Source
	backend   Backend
	sealer    *seal.Sealer
	gatewayID string
	policies  Policies
	hooks     Hooks
	masker    Masker
	audit     Recorder
	catalogs  catalogs
	netrules  netrules.Cache     // compiled network rules per bundle
	limiter   *ratelimit.Limiter // rate-limit buckets
	log       *slog.Logger
	metrics   *metrics
	now       func() time.Time
	stopWarm  func()
}

var _ mcp.Tools = (*Pipeline)(nil)

// New checks cfg and returns a Pipeline. It builds the catalog of every new
// global bundle as soon as the Source applies it (OnChange), so no request
// pays for it.
func New(cfg Config) (*Pipeline, error) {
	if cfg.Source == nil || cfg.Backend == nil || cfg.Sealer == nil {
		return nil, errors.New("pipeline: Source, Backend and Sealer are required")
	}
	m, err := newMetrics(cfg.Registerer)
	if err != nil {
		return nil, err
	}
	p := &Pipeline{
		src: cfg.Source, backend: cfg.Backend, sealer: cfg.Sealer, gatewayID: cfg.GatewayID,
		policies: cfg.Policies, hooks: cfg.Hooks, masker: cfg.Masker, audit: cfg.Audit,
		catalogs: catalogs{maxTenantViews: cfg.MaxTenantViews},
		log:      cfg.Logger, metrics: m, now: cfg.Now,
	}
	if p.policies == nil {
		p.policies = AllowPolicies{}
	}
	if p.hooks == nil {
		p.hooks = NoHooks{}
	}
	if p.masker == nil {
		p.masker = NoMasking{}
	}
	if p.audit == nil {
		p.audit = DiscardAudit{}
	}
	if p.limiter = cfg.RateLimiter; p.limiter == nil {
		p.limiter = ratelimit.New(ratelimit.Config{Now: cfg.Now})
	}
	if p.log == nil {
		p.log = slog.New(slog.DiscardHandler)
	}
	if p.now == nil {
		p.now = time.Now
	}
	p.stopWarm = p.src.OnChange(func(s *bundlestore.Snapshot) { p.catalogs.get(s.Global()) })
	p.catalogs.get(p.src.Current().Global())
	return p, nil
}

// Close stops following bundle changes. In-flight requests finish normally.
func (p *Pipeline) Close() { p.stopWarm() }

// List implements mcp.Tools: the tools the caller's roles and permissions
// grant in the caller's tenant, with their schemas.
func (p *Pipeline) List(ctx context.Context) ([]mcp.Tool, error) {
	r, done := p.begin(ctx, methodList)
	defer done()

	if err := p.checkNetwork(r); err != nil { // IP allow/block lists
		return nil, err
	}
	visible := r.View.Visible(&r.Principal) // layer 3: access control
	p.listDecision(r)
	tools := r.cat.listing(visible)
	tools, err := p.listHooks(ctx, r, tools) // layer 5: hooks (seam)
	if err != nil {
		return nil, p.refuse(r, "hook", err)
	}
	return tools, nil
}

// Call implements mcp.Tools: one tool call through every layer, in order.
func (p *Pipeline) Call(ctx context.Context, name string, args json.RawMessage) (mcp.CallResult, error) {
	r, done := p.begin(ctx, methodCall)
	defer done()
	r.Name, r.Args = name, args

	if err := p.checkNetwork(r); err != nil { // IP allow/block lists
		return mcp.CallResult{}, err
	}
	if err := p.checkAccess(r); err != nil { // layer 3: access control
		return mcp.CallResult{}, err
	}
	if err := p.checkRateLimit(r); err != nil { // rate limits
		return mcp.CallResult{}, err
	}
	if err := p.policies.Check(ctx, r); err != nil { // layer 4: policies (seam)
		return mcp.CallResult{}, p.refuse(r, "policy", err)
	}
	if err := p.checkMaskable(r); err != nil { // a policy's masking must be possible before the backend runs
		return mcp.CallResult{}, p.refuse(r, "policy", err)
	}
	if err := p.hooks.OnCall(ctx, r); err != nil { // layer 5: hooks (seam)
		return mcp.CallResult{}, p.refuse(r, "hook", err)
	}
	if err := p.validate(r); err != nil { // input schema
		return mcp.CallResult{}, err
	}
	if err := p.confirm(ctx, r); err != nil { // approvals the policies require (last: they consume)
		return mcp.CallResult{}, p.refuse(r, "policy", err)
	}
	res := p.forward(ctx, r)               // signed forwarding
	res, err := p.masker.Mask(ctx, r, res) // layer 6: masking (seam)
	if err != nil {
		return mcp.CallResult{}, p.fail(r, "masking_failed", err)
	}
	return res, nil // layer 7: done() records the audit event
}
