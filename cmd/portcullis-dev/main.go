// Command portcullis-dev is what `make run` runs: it brings up the local Portcullis system
// from source on one machine (Postgres under ./.data, the dev OIDC issuer, a dev CA, the control
// plane over TLS with embedded NATS, the demo SaaS backend and two gateways over TLS), seeds a
// demo platform through the admin API, prints how to call it and connect MCP clients, and on
// Ctrl-C stops everything in reverse order.
//
// Environment (all optional): DATABASE_URL (use this Postgres instead of ./.data/pg), NATS_URL
// (external NATS instead of the embedded one), PORTCULLIS_LISTEN (admin API, default
// 127.0.0.1:8080), PORTCULLIS_NATS_LISTEN (embedded NATS, default 127.0.0.1:4222),
// PORTCULLIS_DEV_PG_PORT (local cluster port, default 55432), PORTCULLIS_LOG_LEVEL.
package main

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/url"
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
// stopped in reverse order whatever happens next: gateways, demo backend, control plane, issuer,
// Postgres.
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
	certs, err := ensureTLS(cfg)
	if err != nil {
		return err
	}
	cp, err := startControlPlane(ctx, cfg, dsn, iss.URL(), keys, certs, logger, stack)
	if err != nil {
		return err
	}
	resource := cfg.gatewayPublic + "/mcp"
	domainResource, err := domainURL(cfg.gatewayPublic, demoDomain)
	if err != nil {
		return err
	}
	tokens, err := mintTokens(iss, resource, domainResource+"/mcp")
	if err != nil {
		return err
	}
	dp, err := startDataPlane(ctx, cfg, cp, gatewayInput{issuerURL: iss.URL(), keys: keys, certs: certs}, tokens, logger, stack)
	if err != nil {
		return err
	}
	printBanner(os.Stdout, bannerInfo{
		adminURL: cp.adminURL, issuerURL: iss.URL(), dsn: redactDSN(dsn), caFile: certs.ca.CertFile,
		mcpURL: resource, domainMCPURL: domainResource + "/mcp", gateways: dp.replicas, backendURL: dp.backendURL,
		tokens: tokens, ids: dp.ids,
	})
	return nil
}

// dataPlane is what startDataPlane started.
type dataPlane struct {
	backendURL string
	replicas   []string // each gateway's MCP URL
	ids        demoIDs  // what the banner's policy commands act on
}

// startDataPlane gives the demo backend its signing key and starts it, seeds the demo platform
// (its tool source points at the backend), starts the gateways, and checks them as the demo users.
func startDataPlane(ctx context.Context, cfg config, cp *controlPlane, in gatewayInput, tokens demoTokens,
	logger *slog.Logger, stack *stopStack) (dataPlane, error) {
	key, reused, err := ensureBackendKey(ctx, cp.client, cp.adminURL, tokens.platformAdmin, cfg.backendKeyFile)
	if err != nil {
		return dataPlane{}, err
	}
	logger.Info("backend signing key", "kid", key.kid, "reused", reused, "file", cfg.backendKeyFile)
	backendURL, err := startBackend(cfg.backendAddr, key, logger, stack)
	if err != nil {
		return dataPlane{}, err
	}
	seed(ctx, cp.client, cp.adminURL, tokens.platformAdmin, backendURL, os.Stdout)
	gateways, err := startGateways(ctx, cfg, cp, in, logger, stack)
	if err != nil {
		return dataPlane{}, err
	}
	dp := dataPlane{backendURL: backendURL}
	for _, g := range gateways {
		u, err := replicaURL(cfg.gatewayPublic+"/mcp", g)
		if err != nil {
			return dataPlane{}, err
		}
		dp.replicas = append(dp.replicas, u)
	}
	client := in.certs.client(seedTimeout)
	smokeCheck(ctx, client, dp.replicas, tokens, os.Stdout)
	dp.ids = unknownDemoIDs
	if ids, err := lookupDemoIDs(ctx, client, dp.replicas[0], tokens.agents[0].token); err != nil {
		fmt.Fprintf(os.Stdout, "  ✗ looking up a demo order for the policy commands: %v\n", err)
	} else {
		dp.ids = ids
	}
	return dp, nil
}

// domainURL is publicURL with its hostname replaced by host (same scheme and port): the custom
// domain's base URL on the same gateways.
func domainURL(publicURL, host string) (string, error) {
	u, err := url.Parse(publicURL)
	if err != nil || u.Host == "" {
		return "", fmt.Errorf("gateway public URL %q is not scheme://host[:port]", publicURL)
	}
	if p := u.Port(); p != "" {
		host = net.JoinHostPort(host, p)
	}
	return u.Scheme + "://" + host, nil
}
