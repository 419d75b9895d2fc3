// Package controlplane is the control plane's public entry point for code
// outside this module (the e2e tests, `make run` tooling): the packages under
// internal/ cannot be imported from other modules, so this file re-exports the
// few names needed to configure, start and stop a control plane in-process.
// cmd/portcullis-controlplane uses the same server.New and Run.
package controlplane

import (
	"context"
	"log/slog"

	"github.com/portcullis/portcullis/controlplane/internal/config"
	"github.com/portcullis/portcullis/controlplane/internal/server"
)

// Config is the control plane configuration (see internal/config).
type Config = config.Config

// Server is one control-plane process (see internal/server).
type Server = server.Server

// DefaultConfig returns the defaults of every setting.
func DefaultConfig() Config { return config.DefaultConfig() }

// FromEnv reads the configuration from PORTCULLIS_* (and DATABASE_URL,
// NATS_URL) variables.
func FromEnv(getenv func(string) string) (Config, error) { return config.FromEnv(getenv) }

// New builds a control plane; see server.New.
func New(ctx context.Context, cfg Config, logger *slog.Logger) (*Server, error) {
	return server.New(ctx, cfg, logger)
}
