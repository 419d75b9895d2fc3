// Command portcullis-gateway runs one Portcullis gateway: the MCP endpoint
// agents connect to, in front of the SaaS backends. It is configured only
// through the environment (see internal/config).
package main

import (
	"context"
	"log/slog"
	"os"

	"github.com/portcullis/portcullis/dataplane/internal/config"
	"github.com/portcullis/portcullis/dataplane/internal/server"
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
