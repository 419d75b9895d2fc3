// Command portcullis-gateway runs one Portcullis gateway: the MCP endpoint
// agents connect to, in front of the SaaS backends. It is configured only
// through the environment (see internal/config).
package main

import (
	"context"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/portcullis/portcullis/dataplane/internal/config"
	"github.com/portcullis/portcullis/dataplane/internal/server"
)

func main() { os.Exit(run()) }

func run() int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	level := new(slog.LevelVar)
	logger := slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
	cfg, err := config.FromEnv(os.Getenv)
	if err == nil {
		err = cfg.Verify()
	}
	if err != nil {
		logger.Error("invalid configuration", "err", err)
		return 2
	}
	level.Set(cfg.LogLevel)
	srv, err := server.New(ctx, cfg, logger)
	if err != nil {
		logger.Error("cannot start", "err", err)
		return 1
	}
	if err := srv.Run(ctx); err != nil {
		logger.Error("stopped with error", "err", err)
		return 1
	}
	return 0
}
