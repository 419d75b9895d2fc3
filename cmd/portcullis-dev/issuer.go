package main

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/portcullis/portcullis/shared/localenv/devissuer"
)

const tokenTTL = 12 * time.Hour

// startIssuer starts the dev OIDC issuer with a key persisted under ./.data, so tokens printed by
// an earlier run keep working after a restart (until they expire).
func startIssuer(cfg config, logger *slog.Logger, stack *stopStack) (*devissuer.Issuer, error) {
	if !portFree(cfg.issuerAddr) {
		return nil, fmt.Errorf("%s (dev OIDC issuer) is already in use (is another `make run` running?)", cfg.issuerAddr)
	}
	iss, err := devissuer.New("http://"+cfg.issuerAddr, devissuer.WithKeyFile(cfg.issuerKeyFile), devissuer.WithLogger(logger))
	if err != nil {
		return nil, err
	}
	if _, err := iss.Start(cfg.issuerAddr); err != nil {
		return nil, err
	}
	stack.push("dev OIDC issuer", func(context.Context) error { return iss.Close() })
	return iss, nil
}

// demoTokens are printed for the user to paste into curl.
type demoTokens struct {
	platformAdmin string
	acmeAdmin     string
}

func mintTokens(iss *devissuer.Issuer) (demoTokens, error) {
	platform, err := iss.Mint(devissuer.Claims{
		Subject: "platform-admin", Email: "admin@portcullis.example",
		Roles: []string{"platform-admin"}, Audience: []string{adminAudience}, TTL: tokenTTL,
	})
	if err != nil {
		return demoTokens{}, err
	}
	acme, err := iss.Mint(devissuer.Claims{
		Subject: "alice", Email: "alice@acme.example", TenantID: "acme",
		Roles: []string{"tenant-admin"}, Audience: []string{adminAudience}, TTL: tokenTTL,
	})
	if err != nil {
		return demoTokens{}, err
	}
	return demoTokens{platformAdmin: platform, acmeAdmin: acme}, nil
}
