// Package dataplane is the gateway's public entry point for code outside
// this module (the e2e tests, `make run` tooling): the packages under
// internal/ cannot be imported from other modules, so this file re-exports
// the few names needed to configure, start and stop a gateway in-process.
// cmd/portcullis-gateway uses the same server.New and Run.
package dataplane

import (
	"context"
	"log/slog"

	"github.com/portcullis/portcullis/dataplane/internal/config"
	"github.com/portcullis/portcullis/dataplane/internal/mcp"
	"github.com/portcullis/portcullis/dataplane/internal/server"
)

// Config is the gateway configuration (see internal/config).
type Config = config.Config

// IssuerConfig is one trusted token issuer (a PORTCULLIS_ISSUERS entry).
type IssuerConfig = config.IssuerConfig

// Server is one gateway process (see internal/server).
type Server = server.Server

// DefaultConfig returns the defaults of every setting.
func DefaultConfig() Config { return config.DefaultConfig() }

// FromEnv reads the configuration from PORTCULLIS_* (and NATS_URL) variables.
func FromEnv(getenv func(string) string) (Config, error) { return config.FromEnv(getenv) }

// ParseSessionKeys reads PORTCULLIS_SESSION_KEYS-style text (comma-separated
// base64 keys).
func ParseSessionKeys(s string) ([][]byte, error) { return mcp.ParseSessionKeys(s) }

// New builds a gateway; see server.New.
func New(ctx context.Context, cfg Config, logger *slog.Logger) (*Server, error) {
	return server.New(ctx, cfg, logger)
}
