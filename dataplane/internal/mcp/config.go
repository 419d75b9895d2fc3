package mcp

import (
	"errors"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Defaults for the zero values of Config.
const (
	DefaultSessionTTL      = 24 * time.Hour
	DefaultPageSize        = 50
	MaxPageSize            = 1000
	DefaultMaxBodyBytes    = 4 << 20
	DefaultRequestTimeout  = 2 * time.Minute
	DefaultBodyReadTimeout = 30 * time.Second
)

// Config configures a Handler. Zero values take the defaults above.
type Config struct {
	// Tools serves tools/list and tools/call. Required.
	Tools Tools

	// SessionKeys sign and verify Mcp-Session-Id tokens: the first signs, all verify.
	// Every replica of a fleet must hold the same keys. To rotate: add the new key
	// last, deploy, move it first, deploy, and drop the old key after SessionTTL.
	// Each key must be at least MinSessionKeyLen bytes of randomness. Required.
	SessionKeys [][]byte
	// SessionTTL is how long a session stays valid after initialize. A client whose
	// session expired gets 404 and, per the spec, starts a new one.
	SessionTTL time.Duration

	// ServerName and ServerVersion are reported as serverInfo in initialize.
	ServerName    string
	ServerVersion string
	// Instructions, if set, is returned in initialize for the model's benefit.
	Instructions string

	// PageSize is the number of tools per tools/list page (1..MaxPageSize).
	PageSize int
	// MaxBodyBytes bounds a POST body; larger bodies get 413.
	MaxBodyBytes int64
	// RequestTimeout bounds the time Tools may take for one request.
	RequestTimeout time.Duration
	// BodyReadTimeout bounds the time to receive a POST body (slow-body attacks), in
	// case the http.Server in front has no ReadTimeout of its own.
	BodyReadTimeout time.Duration

	// AllowedOrigins are the browser origins ("https://app.example.com") allowed to
	// call the endpoint. Requests without an Origin header are unaffected.
	AllowedOrigins []string
	// StrictOrigins refuses an Origin equal to the request's own Host unless it is
	// listed too. By default a same-host origin is allowed; the Host itself must then
	// be validated by whatever routes requests by Host (the gateway's domain table),
	// since a DNS-rebinding page sends a matching Host.
	StrictOrigins bool

	// AllowAnonymous lets requests without a principal in their context through, bound
	// to the empty principal. Only for tests and local development: the default fails
	// closed, so a missing authentication layer is a 500, not an open gateway.
	AllowAnonymous bool

	// Logger receives structured logs; nil discards them.
	Logger *slog.Logger
	// Registerer receives the transport's metrics; nil leaves them unregistered.
	Registerer prometheus.Registerer
	// Now is the clock, for tests; nil means time.Now.
	Now func() time.Time
}

// withDefaults fills zero values and checks the rest.
func (c Config) withDefaults() (Config, error) {
	if c.Tools == nil {
		return c, errors.New("mcp: Config.Tools is required")
	}
	if c.SessionTTL == 0 {
		c.SessionTTL = DefaultSessionTTL
	}
	if c.ServerName == "" {
		c.ServerName = "portcullis"
	}
	if c.ServerVersion == "" {
		c.ServerVersion = "dev"
	}
	if c.PageSize == 0 {
		c.PageSize = DefaultPageSize
	}
	if c.PageSize < 1 || c.PageSize > MaxPageSize {
		return c, errors.New("mcp: Config.PageSize must be between 1 and MaxPageSize")
	}
	if c.MaxBodyBytes == 0 {
		c.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if c.MaxBodyBytes < 0 {
		return c, errors.New("mcp: Config.MaxBodyBytes must be positive")
	}
	if c.RequestTimeout == 0 {
		c.RequestTimeout = DefaultRequestTimeout
	}
	if c.RequestTimeout < 0 {
		return c, errors.New("mcp: Config.RequestTimeout must be positive")
	}
	if c.BodyReadTimeout == 0 {
		c.BodyReadTimeout = DefaultBodyReadTimeout
	}
	if c.BodyReadTimeout < 0 {
		return c, errors.New("mcp: Config.BodyReadTimeout must be positive")
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	return c, nil
}
