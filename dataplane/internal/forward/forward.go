package forward

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/portcullis/portcullis/shared/backendsig"
	"github.com/portcullis/portcullis/shared/model"
)

// Defaults for Config.
const (
	DefaultMaxResponseBytes    = 5 << 20
	DefaultMaxConnsPerHost     = 64
	DefaultMaxIdleConnsPerHost = 16
	DefaultDialTimeout         = 2 * time.Second
	DefaultIdleConnTimeout     = 90 * time.Second
	userAgent                  = "Portcullis-Gateway/1"
)

// Config tunes a Forwarder. The zero value is usable.
type Config struct {
	// MaxResponseBytes bounds a backend response body; larger is an error
	// result. Default DefaultMaxResponseBytes (5 MiB).
	MaxResponseBytes int64
	// MaxConnsPerHost bounds connections to one backend host; calls beyond it
	// wait for a connection within their own timeout.
	MaxConnsPerHost     int
	MaxIdleConnsPerHost int
	DialTimeout         time.Duration
	// TLSClientConfig verifies backends; nil means the system roots. Tests
	// and private CAs set RootCAs here.
	TLSClientConfig *tls.Config
	Logger          *slog.Logger
	// Registerer receives the metrics; nil means none are exported.
	Registerer prometheus.Registerer
	// Now is the signing clock; default time.Now.
	Now func() time.Time
}

// Forwarder sends tool calls to backends over one shared, bounded connection
// pool. Safe for concurrent use; create one per process.
type Forwarder struct {
	client    *http.Client
	transport *http.Transport
	maxBody   int64
	log       *slog.Logger
	metrics   *metrics
	now       func() time.Time
}

// Call is one tool call to forward.
type Call struct {
	Tool model.Tool
	// Source, when known, gives the fixed headers sent to the backend and the
	// timeout of a tool that names none.
	Source *model.ToolSource
	// Args is the "arguments" object, already validated against the tool's
	// input schema.
	Args      json.RawMessage
	Tenant    string
	User      string
	RequestID string // also the signature id; [A-Za-z0-9._:-]{1,128}
	// Signer holds the backend keys of the current bundle (two while one is
	// being rotated).
	Signer backendsig.Signer
}

// New returns a Forwarder. It fails only when its metrics cannot be
// registered.
func New(cfg Config) (*Forwarder, error) {
	m, err := newMetrics(cfg.Registerer)
	if err != nil {
		return nil, err
	}
	f := &Forwarder{
		transport: newTransport(cfg),
		maxBody:   orDefault(cfg.MaxResponseBytes, DefaultMaxResponseBytes),
		log:       cfg.Logger,
		metrics:   m,
		now:       cfg.Now,
	}
	if f.log == nil {
		f.log = slog.New(slog.DiscardHandler)
	}
	if f.now == nil {
		f.now = time.Now
	}
	f.client = &http.Client{
		Transport: f.transport,
		// A redirect comes back as the response itself (an error result):
		// following it would send the signed request, or the gateway, to a
		// host the tool does not name.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	return f, nil
}

func newTransport(cfg Config) *http.Transport {
	dialer := &net.Dialer{Timeout: orDefault(cfg.DialTimeout, DefaultDialTimeout), KeepAlive: 30 * time.Second}
	tlsCfg := cfg.TLSClientConfig.Clone()
	if tlsCfg == nil {
		tlsCfg = &tls.Config{}
	}
	if tlsCfg.MinVersion < tls.VersionTLS12 {
		tlsCfg.MinVersion = tls.VersionTLS12
	}
	return &http.Transport{
		Proxy:                  nil, // never HTTP_PROXY: forwarded calls go straight to the backend
		DialContext:            dialer.DialContext,
		TLSClientConfig:        tlsCfg,
		TLSHandshakeTimeout:    DefaultDialTimeout,
		ForceAttemptHTTP2:      true,
		MaxConnsPerHost:        orDefault(cfg.MaxConnsPerHost, DefaultMaxConnsPerHost),
		MaxIdleConnsPerHost:    orDefault(cfg.MaxIdleConnsPerHost, DefaultMaxIdleConnsPerHost),
		MaxIdleConns:           4 * orDefault(cfg.MaxIdleConnsPerHost, DefaultMaxIdleConnsPerHost),
		IdleConnTimeout:        DefaultIdleConnTimeout,
		ExpectContinueTimeout:  time.Second,
		MaxResponseHeaderBytes: 64 << 10,
	}
}

func orDefault[T int | int64 | time.Duration](v, def T) T {
	if v > 0 {
		return v
	}
	return def
}

// Close releases idle connections. In-flight calls finish normally.
func (f *Forwarder) Close() {
	f.transport.CloseIdleConnections()
}

// Forward sends the call and returns its result. It never returns a protocol
// error: every failure, including a cancelled ctx, is an isError Result.
func (f *Forwarder) Forward(ctx context.Context, c Call) Result {
	start := time.Now()
	res, outcome, err := f.forward(ctx, c)
	elapsed := time.Since(start)
	f.metrics.observe(c.Tool.Name, outcome, elapsed)
	attrs := []slog.Attr{
		slog.String("tool", c.Tool.Name), slog.String("tenant", c.Tenant),
		slog.String("request_id", c.RequestID), slog.String("outcome", outcome),
		slog.Int("status", res.Status), slog.Duration("elapsed", elapsed),
	}
	if err != nil {
		attrs = append(attrs, slog.String("error", err.Error()))
	}
	f.log.LogAttrs(ctx, logLevel(outcome, res.Status), "backend call", attrs...)
	return res
}

// logLevel keeps the agent's own mistakes (bad arguments, 4xx) and a caller
// going away out of the warnings; the rest is an operator's business.
func logLevel(outcome string, status int) slog.Level {
	switch {
	case outcome == outcomeBadArguments || outcome == outcomeCancelled || (status >= 400 && status < 500):
		return slog.LevelInfo
	case status >= 200 && status < 300:
		return slog.LevelDebug
	default:
		return slog.LevelWarn
	}
}

// forward does the work of Forward and says how it ended: the outcome label
// for metrics and, for failures, the internal error for the log.
func (f *Forwarder) forward(ctx context.Context, c Call) (Result, string, error) {
	out, err := build(c.Tool, c.Source, c.Args)
	if err != nil {
		var ae *argError
		if errors.As(err, &ae) {
			return failure(0, "The arguments cannot be sent to the backend: "+ae.msg+"."), outcomeBadArguments, err
		}
		return failure(0, "The tool is misconfigured; the call was not sent."), outcomeMisconfigured, err
	}
	timeout := timeoutFor(c.Tool, c.Source)
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := f.request(ctx, out, c)
	if err != nil {
		return failure(0, "The call could not be signed; it was not sent."), outcomeSignError, err
	}
	resp, err := f.client.Do(req)
	if err != nil {
		res, outcome := transportFailure(ctx, timeout)
		return res, outcome, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, f.maxBody+1))
	if err != nil {
		res, outcome := transportFailure(ctx, timeout)
		return res, outcome, fmt.Errorf("read body: %w", err)
	}
	if int64(len(body)) > f.maxBody {
		return failure(resp.StatusCode, fmt.Sprintf("The backend response is larger than %d bytes; it was dropped.", f.maxBody)),
			outcomeTooLarge, fmt.Errorf("response over %d bytes", f.maxBody)
	}
	res := interpret(resp.StatusCode, resp.Header, body)
	if res.IsError {
		return res, statusOutcome(resp.StatusCode), fmt.Errorf("backend status %d", resp.StatusCode)
	}
	return res, statusOutcome(resp.StatusCode), nil
}

// request builds and signs the HTTP request. The signature covers exactly
// the bytes and request target net/http will send: both come from out.
func (f *Forwarder) request(ctx context.Context, out *outbound, c Call) (*http.Request, error) {
	var body io.Reader = http.NoBody
	if out.body != nil {
		body = bytes.NewReader(out.body)
	}
	req, err := http.NewRequestWithContext(ctx, out.method, out.url.String(), body)
	if err != nil {
		return nil, err
	}
	req.URL = out.url // exactly the URL checked by build, not a re-parse of it
	req.Header = out.header
	req.Header.Set("User-Agent", userAgent)
	if req.Header.Get("Accept") == "" {
		req.Header.Set("Accept", "application/json")
	}
	if err := c.Signer.Sign(req, out.body, c.Tenant, c.User, c.RequestID, f.now()); err != nil {
		return nil, err
	}
	return req, nil
}

// timeoutFor is the tool's timeout, else its source's, else the default,
// clamped to the range model validation allows.
func timeoutFor(t model.Tool, src *model.ToolSource) time.Duration {
	ms := t.TimeoutMS
	if ms == 0 && src != nil {
		ms = src.TimeoutMS
	}
	if ms == 0 {
		ms = model.DefaultTimeoutMS
	}
	ms = max(model.MinBackendTimeout, min(ms, model.MaxBackendTimeout))
	return time.Duration(ms) * time.Millisecond
}

// transportFailure classifies a failed exchange without quoting the Go
// error, which names addresses and ports.
func transportFailure(ctx context.Context, timeout time.Duration) (Result, string) {
	switch {
	case errors.Is(ctx.Err(), context.DeadlineExceeded):
		return failure(0, fmt.Sprintf("The backend did not answer within %d ms.", timeout.Milliseconds())), outcomeTimeout
	case ctx.Err() != nil:
		return failure(0, "The call was cancelled before the backend answered."), outcomeCancelled
	default:
		return failure(0, "The backend could not be reached."), outcomeUnreachable
	}
}
