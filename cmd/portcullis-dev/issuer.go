package main

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/portcullis/portcullis/shared/localenv/devissuer"
)

const (
	tokenTTL = 12 * time.Hour
	// stepUpACR is the authentication level the seeded step_up policy requires.
	stepUpACR = "mfa"
)

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

// demoTokens are printed for the user to paste into curl and MCP clients.
type demoTokens struct {
	platformAdmin string // admin API
	acmeAdmin     string // admin API, tenant acme (dana: approves alice's calls)
	agents        []agentToken
	// domainToken is alice's token for the demo custom domain (its own resource URL).
	domainToken string
	// aliceMFA is alice's gateway token after a step-up (acr "mfa"): what the seeded
	// step_up policy on orders.refund asks for.
	aliceMFA string
}

// agentToken is a demo user's token for the gateways (audience: the resource URL).
type agentToken struct {
	env, who string // shell variable, description
	token    string
}

// demoAgent is one demo user of the gateways; access rules grant tools by role.
type demoAgent struct {
	env, subject, email, tenant, role string
}

var demoAgents = []demoAgent{
	{"ALICE", "alice", "alice@acme.example", "acme", "admin"},
	{"BOB", "bob", "bob@acme.example", "acme", "viewer"},
	{"CAROL", "carol", "carol@globex.example", "globex", "admin"},
}

// mintTokens mints the admin API tokens and one gateway token per demo user for resource (the
// gateways' resource URL), plus alice's for domainResource (the custom domain's).
func mintTokens(iss *devissuer.Issuer, resource, domainResource string) (demoTokens, error) {
	mint := func(c devissuer.Claims) (string, error) {
		c.TTL = tokenTTL
		return iss.Mint(c)
	}
	var t demoTokens
	var err error
	if t.platformAdmin, err = mint(devissuer.Claims{
		Subject: "platform-admin", Email: "admin@portcullis.example",
		Roles: []string{"platform-admin"}, Audience: []string{adminAudience},
	}); err != nil {
		return demoTokens{}, err
	}
	// The acme admin is not alice: the requester of a call may not decide its
	// own approval, so the demo's approver is another person of the tenant.
	if t.acmeAdmin, err = mint(devissuer.Claims{
		Subject: "dana", Email: "dana@acme.example", TenantID: "acme",
		Roles: []string{"tenant-admin"}, Audience: []string{adminAudience},
	}); err != nil {
		return demoTokens{}, err
	}
	for _, a := range demoAgents {
		tok, err := mint(a.claims(resource))
		if err != nil {
			return demoTokens{}, err
		}
		t.agents = append(t.agents, agentToken{env: a.env, who: fmt.Sprintf("%s (tenant %s, role %s)", a.email, a.tenant, a.role), token: tok})
	}
	if t.domainToken, err = mint(demoAgents[0].claims(domainResource)); err != nil {
		return demoTokens{}, err
	}
	stepped := demoAgents[0].claims(resource)
	stepped.ACR = stepUpACR
	if t.aliceMFA, err = mint(stepped); err != nil {
		return demoTokens{}, err
	}
	return t, nil
}

func (a demoAgent) claims(resource string) devissuer.Claims {
	return devissuer.Claims{
		Subject: a.subject, Email: a.email, TenantID: a.tenant,
		Roles: []string{a.role}, Audience: []string{resource},
	}
}
