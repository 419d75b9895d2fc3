// Command portcullis-controlplane runs the Portcullis control plane: the admin
// API, the bundle relay, audit ingestion and fleet heartbeats. It is
// configured only through the environment (see internal/config).
package main

import (
	"context"
	"log/slog"
	"os"

	"github.com/portcullis/portcullis/controlplane/internal/config"
	"github.com/portcullis/portcullis/controlplane/internal/server"
	"github.com/portcullis/portcullis/shared/serve"
)

func main() {
	os.Exit(serve.Main(serve.Command[config.Config]{
		FromEnv:  config.FromEnv,
		LogLevel: func(c config.Config) slog.Level { return c.LogLevel },
		New: func(ctx context.Context, cfg config.Config, logger *slog.Logger) (serve.Runner, error) {
			return server.New(ctx, cfg, logger)
		},
	}))
}
