// Package api is the control plane's REST admin API (/v1, JSON, echo). It
// authenticates admins with bearer JWTs, authorises every route by role and
// tenant, validates input strictly, and runs every write in one store
// transaction (with its Idempotency-Key record), so a request either changes
// everything it should or nothing. api/openapi.yaml is its contract; the tests
// validate every request and response against it.
package api

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/portcullis/portcullis/controlplane/internal/store"
	"github.com/portcullis/portcullis/shared/authn"
	"github.com/portcullis/portcullis/shared/promreg"
)

// Authenticator validates a raw bearer token (authn.Validator implements it).
type Authenticator interface {
	Validate(ctx context.Context, raw string) (authn.Principal, error)
}

// AdminRoles are the role names (from the token's roles claim) that grant
// admin access.
type AdminRoles struct {
	Platform string // may do everything
	Tenant   string // may manage its own tenant's delegated resources
}

// Config tunes the API. Zero fields take the defaults of DefaultConfig.
type Config struct {
	AdminRoles      AdminRoles
	BodyLimit       int64         // bytes; most write endpoints
	ImportBodyLimit int64         // bytes; OpenAPI imports (POST /v1/tool-sources)
	RequestTimeout  time.Duration // per request, including its transaction
	ReadyTimeout    time.Duration // for Deps.Ready on /readyz
}

// DefaultConfig returns the defaults.
func DefaultConfig() Config {
	return Config{
		AdminRoles:      AdminRoles{Platform: "platform-admin", Tenant: "tenant-admin"},
		BodyLimit:       1 << 20,
		ImportBodyLimit: 5 << 20,
		RequestTimeout:  30 * time.Second,
		ReadyTimeout:    3 * time.Second,
	}
}

// withDefaults fills zero fields from DefaultConfig.
func (c Config) withDefaults() Config {
	d := DefaultConfig()
	if c.AdminRoles.Platform == "" {
		c.AdminRoles.Platform = d.AdminRoles.Platform
	}
	if c.AdminRoles.Tenant == "" {
		c.AdminRoles.Tenant = d.AdminRoles.Tenant
	}
	if c.BodyLimit <= 0 {
		c.BodyLimit = d.BodyLimit
	}
	if c.ImportBodyLimit <= 0 {
		c.ImportBodyLimit = d.ImportBodyLimit
	}
	if c.RequestTimeout <= 0 {
		c.RequestTimeout = d.RequestTimeout
	}
	if c.ReadyTimeout <= 0 {
		c.ReadyTimeout = d.ReadyTimeout
	}
	return c
}

// Deps are the API's collaborators. Store and Auth are required.
type Deps struct {
	Store      store.TxRunner
	Auth       Authenticator
	Logger     *slog.Logger                          // nil: slog.Default()
	Metrics    prometheus.Registerer                 // nil: a private registry; /metrics serves it if it is also a Gatherer
	Ready      func(context.Context) error           // nil: always ready
	BundleKeys func(context.Context) ([]byte, error) // public bundle-signing JWKS; nil: 503
}

// server holds what every handler needs; it has no mutable state.
type server struct {
	cfg      Config
	store    store.TxRunner
	auth     Authenticator
	log      *slog.Logger
	metrics  *httpMetrics
	gatherer prometheus.Gatherer
	ready    func(context.Context) error
	bundle   func(context.Context) ([]byte, error)
}

// New builds the admin API's HTTP handler.
func New(cfg Config, deps Deps) *echo.Echo {
	s := &server{
		cfg:    cfg.withDefaults(),
		store:  deps.Store,
		auth:   deps.Auth,
		log:    deps.Logger,
		ready:  deps.Ready,
		bundle: deps.BundleKeys,
	}
	if s.log == nil {
		s.log = slog.Default()
	}
	reg := deps.Metrics
	if reg == nil {
		reg = prometheus.NewRegistry()
	}
	s.gatherer, _ = reg.(prometheus.Gatherer)
	if s.gatherer == nil {
		s.gatherer = prometheus.Gatherers{}
	}
	s.metrics = newHTTPMetrics(reg)

	e := echo.New()
	e.HideBanner = true
	e.HidePort = true
	e.HTTPErrorHandler = s.handleError
	e.Use(s.observe, s.recoverPanics, s.withTimeout)
	for _, r := range s.routes() {
		e.Add(r.method, r.path, r.handler, s.guard(r)...)
	}
	return e
}

// access is who may call a route.
type access int

const (
	// unset is the zero value: a route (or scopedKind.listAccess) that names
	// no access level is authenticated and then refused, never public.
	unset        access = iota
	public              // no token
	platformOnly        // platform-admin
	anyAdmin            // platform-admin or any tenant-admin; the handler narrows to the caller's tenant
	tenantAdmin         // platform-admin, or tenant-admin of exactly the :tenant in the path
)

// route is one entry of the route table: the single place that says which
// handler serves a path and who may call it.
type route struct {
	method, path string
	access       access
	handler      echo.HandlerFunc
	bodyLimit    int64 // 0: Config.BodyLimit
}

// routes is the route table.
func (s *server) routes() []route {
	rs := []route{
		{http.MethodGet, "/healthz", public, s.healthz, 0},
		{http.MethodGet, "/readyz", public, s.readyz, 0},
		{http.MethodGet, "/metrics", public, s.metricsHandler(), 0},
		{http.MethodGet, "/v1/bundle-signing-keys", public, s.bundleSigningKeys, 0},

		{http.MethodGet, "/v1/tenants", anyAdmin, s.listTenants, 0},
		{http.MethodPost, "/v1/tenants", platformOnly, s.createTenant, 0},
		{http.MethodGet, "/v1/tenants/:tenant", tenantAdmin, s.getTenant, 0},
		{http.MethodPut, "/v1/tenants/:tenant", platformOnly, s.updateTenant, 0},
		{http.MethodDelete, "/v1/tenants/:tenant", platformOnly, s.deleteTenant, 0},

		{http.MethodGet, "/v1/tool-sources", platformOnly, s.listToolSources, 0},
		{http.MethodPost, "/v1/tool-sources", platformOnly, s.importToolSource, s.cfg.ImportBodyLimit},
		{http.MethodGet, "/v1/tool-sources/:id", platformOnly, s.getToolSource, 0},
		{http.MethodDelete, "/v1/tool-sources/:id", platformOnly, s.deleteToolSource, 0},

		{http.MethodGet, "/v1/signing-keys", platformOnly, s.listSigningKeys, 0},
		{http.MethodPost, "/v1/signing-keys", platformOnly, s.createSigningKey, 0},
		{http.MethodGet, "/v1/signing-keys/:kid", platformOnly, s.getSigningKey, 0},
		{http.MethodPost, "/v1/signing-keys/:kid/rotate", platformOnly, s.rotateSigningKey, 0},
		{http.MethodPost, "/v1/signing-keys/:kid/revoke", platformOnly, s.revokeSigningKey, 0},

		{http.MethodGet, "/v1/approvals", platformOnly, s.listAllApprovals, 0},
		{http.MethodGet, "/v1/tenants/:tenant/approvals", tenantAdmin, s.listApprovals, 0},
		{http.MethodGet, "/v1/tenants/:tenant/approvals/:id", tenantAdmin, s.getApproval, 0},
		{http.MethodPost, "/v1/tenants/:tenant/approvals/:id/approve", tenantAdmin, s.decideApproval("approve"), 0},
		{http.MethodPost, "/v1/tenants/:tenant/approvals/:id/deny", tenantAdmin, s.decideApproval("deny"), 0},

		{http.MethodGet, "/v1/audit-events", platformOnly, s.queryAllAudit, 0},
		{http.MethodGet, "/v1/tenants/:tenant/audit-events", tenantAdmin, s.queryTenantAudit, 0},

		{http.MethodGet, "/v1/fleet", platformOnly, s.fleet, 0},
	}
	rs = append(rs, s.domainRoutes()...)
	for _, k := range scopedKinds(s) {
		rs = append(rs, k.routes()...)
	}
	return rs
}

// guard returns the middleware of one route: authentication and
// authorisation unless the route is public, then the body limit (so an
// anonymous caller learns nothing but 401).
func (s *server) guard(r route) []echo.MiddlewareFunc {
	limit := r.bodyLimit
	if limit <= 0 {
		limit = s.cfg.BodyLimit
	}
	var mw []echo.MiddlewareFunc
	if r.access != public {
		mw = append(mw, s.authenticate, s.authorize(r.access))
	}
	return append(mw, withBodyLimit(limit))
}

// handleError is echo's error handler: every error becomes problem+json.
func (s *server) handleError(err error, c echo.Context) {
	p, fault := toProblem(err)
	req := c.Request()
	if fault {
		s.log.ErrorContext(req.Context(), "admin api request failed", "request_id", c.Response().Header().Get(echo.HeaderXRequestID),
			"method", req.Method, "route", c.Path(), "error", err)
	} else {
		s.log.DebugContext(req.Context(), "admin api request rejected", "request_id", c.Response().Header().Get(echo.HeaderXRequestID),
			"method", req.Method, "route", c.Path(), "code", p.Code, "error", err)
	}
	if c.Response().Committed {
		return
	}
	if p.Status == http.StatusUnauthorized {
		challenge := `Bearer realm="portcullis-admin"`
		if req.Header.Get(echo.HeaderAuthorization) != "" {
			challenge += `, error="invalid_token"`
		}
		c.Response().Header().Set(echo.HeaderWWWAuthenticate, challenge)
	}
	if err := writeJSON(c, p.Status, problemContentType, p); err != nil {
		s.log.ErrorContext(req.Context(), "writing problem", "error", err)
	}
}

// recoverPanics turns a handler panic into a 500 problem; the process lives on.
func (s *server) recoverPanics(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) (err error) {
		defer func() {
			if r := recover(); r != nil {
				if r == http.ErrAbortHandler {
					panic(r)
				}
				s.log.ErrorContext(c.Request().Context(), "admin api handler panicked",
					"method", c.Request().Method, "route", c.Path(), "panic", r)
				err = &Error{Code: CodeInternal}
			}
		}()
		return next(c)
	}
}

// withTimeout bounds every request, including its transaction.
func (s *server) withTimeout(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		ctx, cancel := context.WithTimeout(c.Request().Context(), s.cfg.RequestTimeout)
		defer cancel()
		c.SetRequest(c.Request().WithContext(ctx))
		return next(c)
	}
}

// httpMetrics are the request counter and latency histogram.
type httpMetrics struct {
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
}

func newHTTPMetrics(reg prometheus.Registerer) *httpMetrics {
	labels := []string{"method", "route", "status"}
	m := &httpMetrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "portcullis_admin_http_requests_total",
			Help: "Admin API requests by method, route template and status.",
		}, labels),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "portcullis_admin_http_request_duration_seconds",
			Help:    "Admin API request latency by method, route template and status.",
			Buckets: prometheus.DefBuckets,
		}, labels),
	}
	// A second server on the same registry (as in tests) shares the
	// collectors; any other registration error leaves them unregistered, as
	// metrics never stop the API.
	m.requests, _ = promreg.Register(reg, m.requests)
	m.duration, _ = promreg.Register(reg, m.duration)
	return m
}

// observe gives every request an id, and records its metrics (per route
// template, never the raw path, whose ids would explode the label space) and
// one log line saying who did what: admin actions must be attributable.
func (s *server) observe(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		start := time.Now()
		id := requestID(c.Request().Header.Get(echo.HeaderXRequestID))
		c.Response().Header().Set(echo.HeaderXRequestID, id)
		err := next(c)
		if err != nil {
			c.Error(err) // write the problem now so its status is counted
		}
		routePath := c.Path()
		if routePath == "" {
			routePath = "unmatched"
		}
		method := c.Request().Method
		if !knownMethods[method] { // clients choose the method: keep the label space bounded
			method = "OTHER"
		}
		status := c.Response().Status
		elapsed := time.Since(start)
		code := strconv.Itoa(status)
		s.metrics.requests.WithLabelValues(method, routePath, code).Inc()
		s.metrics.duration.WithLabelValues(method, routePath, code).Observe(elapsed.Seconds())

		level := slog.LevelInfo
		if probeRoutes[routePath] {
			level = slog.LevelDebug
		}
		cl := callerOf(c)
		s.log.Log(c.Request().Context(), level, "admin api request", "request_id", id, "method", method,
			"route", routePath, "status", status, "duration", elapsed,
			"subject", cl.principal.Subject, "issuer", cl.principal.Issuer, "tenant", cl.tenantID, "platform", cl.platform)
		return nil
	}
}

// probeRoutes are polled by infrastructure; their requests log at debug.
var probeRoutes = map[string]bool{"/healthz": true, "/readyz": true, "/metrics": true}

// requestID keeps a caller's well-formed X-Request-Id (so a proxy's id
// threads through) and makes one up otherwise.
func requestID(h string) string {
	if len(h) > 0 && len(h) <= 64 && visibleASCII(h) {
		return h
	}
	b := make([]byte, 12)
	_, _ = rand.Read(b) // crypto/rand.Read never fails (Go 1.24+)
	return hex.EncodeToString(b)
}

// knownMethods are the methods recorded by name in metrics.
var knownMethods = map[string]bool{
	http.MethodGet: true, http.MethodHead: true, http.MethodPost: true, http.MethodPut: true,
	http.MethodPatch: true, http.MethodDelete: true, http.MethodOptions: true,
}

func (s *server) healthz(c echo.Context) error {
	return writeJSON(c, http.StatusOK, echo.MIMEApplicationJSON, map[string]string{"status": "ok"})
}

func (s *server) readyz(c echo.Context) error {
	if s.ready != nil {
		ctx, cancel := context.WithTimeout(c.Request().Context(), s.cfg.ReadyTimeout)
		defer cancel()
		if err := s.ready(ctx); err != nil {
			return &Error{Code: CodeUnavailable, cause: err}
		}
	}
	return writeJSON(c, http.StatusOK, echo.MIMEApplicationJSON, map[string]string{"status": "ready"})
}

func (s *server) metricsHandler() echo.HandlerFunc {
	return echo.WrapHandler(promhttp.HandlerFor(s.gatherer, promhttp.HandlerOpts{}))
}

// bundleSigningKeys serves the public keys gateways verify bundles with. They
// are public by nature, so the route needs no token.
func (s *server) bundleSigningKeys(c echo.Context) error {
	if s.bundle == nil {
		return problemf(CodeUnavailable, "bundle signing keys are not configured")
	}
	jwks, err := s.bundle(c.Request().Context())
	if err != nil {
		return &Error{Code: CodeUnavailable, cause: err}
	}
	return c.Blob(http.StatusOK, "application/jwk-set+json", jwks)
}
