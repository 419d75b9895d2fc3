package mcp

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"runtime/debug"
	"time"

	"github.com/portcullis/portcullis/shared/authn"
)

// HTTP header names of the Streamable HTTP transport.
const (
	HeaderSessionID       = "Mcp-Session-Id"
	HeaderProtocolVersion = "Mcp-Protocol-Version"
)

// JSON-RPC methods this server implements.
const (
	methodInitialize  = "initialize"
	methodInitialized = "notifications/initialized"
	methodCancelled   = "notifications/cancelled"
	methodPing        = "ping"
	methodToolsList   = "tools/list"
	methodToolsCall   = "tools/call"
	// Labels for non-POST HTTP methods in metrics and logs.
	httpDelete = "DELETE"
	httpGet    = "GET"
)

// Handler serves MCP over Streamable HTTP at one endpoint. It is stateless: every
// request is judged on its own headers, body and context, so replicas are
// interchangeable. Safe for concurrent use.
type Handler struct {
	cfg      Config
	sessions *sessionCodec
	origins  *originPolicy
	metrics  *metrics
	log      *slog.Logger
}

// New builds a Handler from cfg.
func New(cfg Config) (*Handler, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	sessions, err := newSessionCodec(cfg.SessionKeys, cfg.SessionTTL)
	if err != nil {
		return nil, err
	}
	origins, err := newOriginPolicy(cfg.AllowedOrigins, !cfg.StrictOrigins)
	if err != nil {
		return nil, err
	}
	m, err := newMetrics(cfg.Registerer)
	if err != nil {
		return nil, fmt.Errorf("mcp: register metrics: %w", err)
	}
	return &Handler{cfg: cfg, sessions: sessions, origins: origins, metrics: m, log: cfg.Logger}, nil
}

// exchange carries one HTTP request through the handler and records how it ended,
// for the single log line and metric sample every request produces.
type exchange struct {
	w       http.ResponseWriter
	r       *http.Request
	start   time.Time
	method  string // JSON-RPC method, or the HTTP method for non-POST requests
	session Session
	outcome string
	status  int
	reason  string // why it was rejected or failed; logs only, never sent
}

// ServeHTTP implements http.Handler.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	x := &exchange{w: w, r: r, start: h.cfg.Now()}
	defer h.finish(x)
	if !h.origins.permits(r) {
		x.method = "other"
		h.reject(x, nil, http.StatusForbidden, CodeInvalidRequest, "Forbidden: origin not allowed", "origin "+truncate(r.Header.Get("Origin"), 128))
		return
	}
	setCORSHeaders(w, r)
	switch {
	case IsPreflight(r):
		x.method, x.outcome, x.status = "preflight", outcomeOK, http.StatusNoContent
		servePreflight(w)
	case r.Method == http.MethodPost:
		h.servePost(x)
	case r.Method == http.MethodDelete:
		x.method = httpDelete
		h.serveDelete(x)
	default:
		// No server-initiated stream: every response travels on its own POST, which
		// is what keeps replicas stateless. The spec allows 405 for GET, and the
		// official clients treat it as "no standalone stream".
		x.method = httpGet
		if r.Method != http.MethodGet {
			x.method = "other"
		}
		w.Header().Set("Allow", corsAllowMethods)
		h.rejectPlain(x, http.StatusMethodNotAllowed, "method not allowed", "HTTP "+truncate(r.Method, 16))
	}
}

// servePost handles one JSON-RPC message.
func (h *Handler) servePost(x *exchange) {
	principal, ok := h.principal(x.r.Context())
	if !ok {
		h.fail(x, nil, http.StatusInternalServerError, "no authenticated principal in request context")
		return
	}
	if !isJSONContentType(x.r.Header.Get("Content-Type")) {
		h.reject(x, nil, http.StatusUnsupportedMediaType, CodeInvalidRequest, "Unsupported Media Type: Content-Type must be application/json", "content type")
		return
	}
	body, status, err := h.readBody(x)
	if err != nil {
		h.reject(x, nil, status, CodeInvalidRequest, err.Error(), "body")
		return
	}
	msg, id, rpcErr := decodeMessage(body)
	if rpcErr != nil {
		h.reject(x, id, http.StatusBadRequest, rpcErr.Code, rpcErr.Message, "decode")
		return
	}
	x.method = msg.method
	if msg.kind == kindRequest && msg.method == methodInitialize {
		h.serveInitialize(x, msg, principal)
		return
	}
	session, ok := h.verifySession(x, principal, msg.id)
	if !ok {
		return
	}
	x.session = session
	if msg.kind != kindRequest {
		// Notifications (initialized, cancelled, ...) and responses need no answer; this
		// server keeps no per-session state for them to change.
		x.outcome, x.status = outcomeAccepted, http.StatusAccepted
		x.w.WriteHeader(http.StatusAccepted)
		return
	}
	format, ok := responseFormat(x.r.Header.Values("Accept"))
	if !ok {
		h.reject(x, msg.id, http.StatusNotAcceptable, CodeInvalidRequest, "Not Acceptable: accept application/json or text/event-stream", "accept")
		return
	}
	result, rpcErr := h.call(x, msg, session)
	h.respond(x, format, msg.id, result, rpcErr)
}

// readBody reads at most MaxBodyBytes within BodyReadTimeout; a larger body is a 413,
// a slower one a 408. The deadline uses the wall clock, not Config.Now: it is I/O.
func (h *Handler) readBody(x *exchange) ([]byte, int, error) {
	rc := http.NewResponseController(x.w)
	// ErrNotSupported (a ResponseWriter that cannot set deadlines) leaves the server's
	// own ReadTimeout in charge, which is all we can do.
	deadlineSet := rc.SetReadDeadline(time.Now().Add(h.cfg.BodyReadTimeout)) == nil
	body, err := io.ReadAll(http.MaxBytesReader(x.w, x.r.Body, h.cfg.MaxBodyBytes))
	if err == nil {
		if deadlineSet {
			// Lift it for the next request on this connection. After a failed read it
			// stays: net/http would otherwise wait for the rest of the body before
			// answering, which a slow client never sends.
			_ = rc.SetReadDeadline(time.Time{})
		}
		return body, 0, nil
	}
	x.w.Header().Set("Connection", "close")
	var tooLarge *http.MaxBytesError
	if errors.As(err, &tooLarge) {
		return nil, http.StatusRequestEntityTooLarge, fmt.Errorf("Request Entity Too Large: the body exceeds %d bytes", h.cfg.MaxBodyBytes)
	}
	var netErr interface{ Timeout() bool }
	if errors.As(err, &netErr) && netErr.Timeout() {
		return nil, http.StatusRequestTimeout, errors.New("Request Timeout: the body was not received in time")
	}
	return nil, http.StatusBadRequest, errors.New("Bad Request: the body could not be read")
}

// principal returns the caller's identity. Without one the request is refused, unless
// anonymous access was configured: a transport that silently served unauthenticated
// callers because the auth layer was left out would be an open gateway.
func (h *Handler) principal(ctx context.Context) (authn.Principal, bool) {
	p, ok := PrincipalFromContext(ctx)
	if ok && p.Subject != "" {
		return p, true
	}
	if h.cfg.AllowAnonymous {
		return authn.Principal{}, true
	}
	return authn.Principal{}, false
}

// verifySession enforces Mcp-Session-Id and MCP-Protocol-Version on every request
// after initialize. It writes the rejection itself and reports false.
func (h *Handler) verifySession(x *exchange, p authn.Principal, id json.RawMessage) (Session, bool) {
	tokens := x.r.Header.Values(HeaderSessionID)
	if len(tokens) != 1 || tokens[0] == "" {
		h.reject(x, id, http.StatusBadRequest, CodeInvalidRequest, "Bad Request: exactly one Mcp-Session-Id header is required", "missing session")
		return Session{}, false
	}
	session, err := h.sessions.verify(tokens[0], p.TenantID, p.Subject, h.cfg.Now())
	if err != nil {
		// 404 tells the client to initialize again. The body is deliberately not a
		// JSON-RPC message: the Go SDK client only recognises a lost session (and stops
		// using it) when the 404 body is not a JSON-RPC error.
		h.rejectPlain(x, http.StatusNotFound, "session not found", err.Error())
		return Session{}, false
	}
	versions := x.r.Header.Values(HeaderProtocolVersion)
	switch {
	case len(versions) == 0:
		// The spec has the server assume 2025-03-26 only when it has no other way to
		// know the version; the signed session records the negotiated one.
	case len(versions) > 1 || !isSupportedVersion(versions[0]):
		h.reject(x, id, http.StatusBadRequest, CodeInvalidRequest, "Bad Request: unsupported MCP-Protocol-Version", "protocol version header")
		return Session{}, false
	case versions[0] != session.ProtocolVersion:
		h.reject(x, id, http.StatusBadRequest, CodeInvalidRequest, "Bad Request: MCP-Protocol-Version does not match the session's negotiated version", "protocol version mismatch")
		return Session{}, false
	}
	return session, true
}

// serveDelete ends a session. Sessions live only in their tokens, so there is nothing
// to delete; answering 204 for a valid session of the caller keeps clients happy
// without turning DELETE into an oracle for other principals' tokens.
func (h *Handler) serveDelete(x *exchange) {
	principal, ok := h.principal(x.r.Context())
	if !ok {
		h.fail(x, nil, http.StatusInternalServerError, "no authenticated principal in request context")
		return
	}
	session, ok := h.verifySession(x, principal, nil)
	if !ok {
		return
	}
	x.session = session
	x.outcome, x.status = outcomeOK, http.StatusNoContent
	x.w.WriteHeader(http.StatusNoContent)
}

// call runs a request's method with the session and request in its context, a
// deadline, and a recover so that a panicking layer costs one request, not the process.
func (h *Handler) call(x *exchange, msg message, session Session) (result any, rpcErr *Error) {
	ctx, cancel := context.WithTimeout(x.r.Context(), h.cfg.RequestTimeout)
	defer cancel()
	ctx = context.WithValue(ctx, sessionKey{}, session)
	ctx = context.WithValue(ctx, requestKey{}, Request{Method: msg.method, ID: msg.id})
	defer func() {
		if v := recover(); v != nil {
			h.log.Error("mcp: panic while serving request", "method", truncate(msg.method, 64), "panic", fmt.Sprint(v), "stack", string(debug.Stack()))
			result, rpcErr = nil, newError(CodeInternalError, "Internal error")
			x.outcome, x.reason = outcomeInternalError, "panic"
		}
	}()
	return h.dispatch(ctx, x, msg)
}

// dispatch routes a request to its method.
func (h *Handler) dispatch(ctx context.Context, x *exchange, msg message) (any, *Error) {
	switch msg.method {
	case methodPing:
		return struct{}{}, nil
	case methodToolsList:
		return h.listTools(ctx, x, msg.params)
	case methodToolsCall:
		return h.callTool(ctx, x, msg.params)
	default:
		return nil, newError(CodeMethodNotFound, "Method not found")
	}
}

// toRPCError maps an error from Tools: *Error passes through, anything else is an
// opaque internal error whose detail only goes to the log.
func (h *Handler) toRPCError(ctx context.Context, x *exchange, err error) *Error {
	var rpcErr *Error
	if errors.As(err, &rpcErr) && rpcErr.Code != 0 {
		return rpcErr
	}
	x.outcome, x.reason = outcomeInternalError, err.Error()
	if ctx.Err() != nil && errors.Is(err, ctx.Err()) {
		return newError(CodeInternalError, "Request timed out or was cancelled")
	}
	return newError(CodeInternalError, "Internal error")
}

// finish writes the request's log line and metrics.
func (h *Handler) finish(x *exchange) {
	if x.outcome == "" {
		// Nothing recorded an outcome: the handler itself is broken. Count it so it shows.
		x.outcome = outcomeInternalError
	}
	elapsed := h.cfg.Now().Sub(x.start)
	h.metrics.observe(x.method, x.outcome, elapsed)
	level := slog.LevelDebug
	switch x.outcome {
	case outcomeInternalError:
		level = slog.LevelError
	case outcomeRejected:
		level = slog.LevelInfo
	}
	if !h.log.Enabled(x.r.Context(), level) {
		return
	}
	attrs := []slog.Attr{
		slog.String("method", truncate(x.method, 64)), // client-chosen: bounded
		slog.String("outcome", x.outcome),
		slog.Int("status", x.status),
		slog.Duration("duration", elapsed),
	}
	if x.session.ID != "" {
		attrs = append(attrs, slog.String("session", x.session.ID), slog.String("tenant", x.session.Tenant))
	}
	if x.reason != "" {
		attrs = append(attrs, slog.String("reason", x.reason))
	}
	h.log.LogAttrs(x.r.Context(), level, "mcp request", attrs...)
}
