package main

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"strconv"

	"github.com/portcullis/portcullis/shared/localenv/pgcluster"
)

// Database and role of the dev system. The control plane connects as this non-superuser role so
// that row-level security applies to it, as in production.
const (
	devDatabase = "portcullis"
	devRole     = "portcullis"
)

// startPostgres returns DATABASE_URL if set; otherwise it starts (initialising on first use) the
// persistent cluster under ./.data/pg and makes sure the portcullis database exists.
func startPostgres(ctx context.Context, cfg config, logger *slog.Logger, stack *stopStack) (string, error) {
	if cfg.databaseURL != "" {
		logger.Info("using DATABASE_URL; not starting a local Postgres")
		return cfg.databaseURL, nil
	}
	port := cfg.pgPort
	if port != 0 && !portFree(net.JoinHostPort("127.0.0.1", strconv.Itoa(port))) {
		logger.Warn("Postgres port busy; using a free one", "port", port)
		port = 0
	}
	c, err := pgcluster.Start(ctx, pgcluster.Options{Dir: cfg.pgDir, Port: port, Logger: logger})
	if err != nil {
		return "", fmt.Errorf("postgres: %w", err)
	}
	stack.push("postgres", c.Stop)
	go func() {
		<-c.Done()
		stack.notifyExit("postgres", fmt.Errorf("see %s/server.log", cfg.pgDir))
	}()
	dsn, err := c.EnsureDatabase(ctx, devDatabase, devRole)
	if err != nil {
		return "", fmt.Errorf("postgres: %w", err)
	}
	return dsn, nil
}
