// Command portcullis-dev is what `make run` runs: it brings up the local Portcullis system
// from source on one machine (Postgres under ./.data, the dev OIDC issuer, the control plane
// with embedded NATS), seeds a demo platform through the admin API, prints how to call it,
// and on Ctrl-C stops everything in reverse order.
//
// Environment (all optional): DATABASE_URL (use this Postgres instead of ./.data/pg), NATS_URL
// (external NATS instead of the embedded one), PORTCULLIS_LISTEN (admin API, default
// 127.0.0.1:8080), PORTCULLIS_DEV_PG_PORT (local cluster port, default 55432),
// PORTCULLIS_LOG_LEVEL.
package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
)

func main() { os.Exit(run()) }

func run() int {
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	cfg, err := loadConfig()
	if err != nil {
		fmt.Fprintln(os.Stderr, "portcullis-dev:", err)
		return 2
	}
	var stack stopStack
	defer stack.stopAll(logger)

	if err := bringUp(ctx, cfg, logger, &stack); err != nil {
		if ctx.Err() != nil {
			logger.Info("interrupted during start-up; stopping")
			return 130
		}
		fmt.Fprintln(os.Stderr, "\nportcullis-dev:", err)
		return 1
	}
	logger.Info("running; press Ctrl-C to stop")
	select {
	case <-ctx.Done():
		logger.Info("stopping")
		return 0
	case err := <-stack.childExited():
		logger.Error("a component exited; stopping everything", "err", err)
		return 1
	}
}

// bringUp starts every component, in dependency order, pushing each onto stack so that it is
// stopped in reverse order whatever happens next.
func bringUp(ctx context.Context, cfg config, logger *slog.Logger, stack *stopStack) error {
	dsn, err := startPostgres(ctx, cfg, logger, stack)
	if err != nil {
		return err
	}
	iss, err := startIssuer(cfg, logger, stack)
	if err != nil {
		return err
	}
	keys, err := loadOrCreateKeys(cfg.keysFile)
	if err != nil {
		return err
	}
	cp, err := startControlPlane(ctx, cfg, dsn, iss.URL(), keys, logger, stack)
	if err != nil {
		return err
	}
	tokens, err := mintTokens(iss)
	if err != nil {
		return err
	}
	seed(ctx, cp.adminURL, tokens.platformAdmin, os.Stdout)
	printBanner(os.Stdout, cp.adminURL, iss.URL(), dsn, tokens)
	return nil
}
