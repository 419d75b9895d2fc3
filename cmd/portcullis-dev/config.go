package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"

	"github.com/portcullis/portcullis/shared/localenv/demobackend"
)

// config is where everything lives and listens. Paths are absolute, under the repository root,
// so that the dev system behaves the same from any working directory inside the checkout.
type config struct {
	root          string // repository root (holds go.work)
	dataDir       string // ./.data
	pgDir         string // ./.data/pg
	pgPort        int
	databaseURL   string // DATABASE_URL; empty → local cluster
	natsURL       string // NATS_URL; empty → embedded in the control plane
	natsDir       string // ./.data/nats
	natsListen    string // the embedded NATS server's address (when natsURL is empty)
	issuerAddr    string
	issuerKeyFile string // ./.data/issuer-key.pem
	keysFile      string // ./.data/keys.env
	binDir        string // ./.data/bin
	adminListen   string
	logLevel      string

	caDir          string   // ./.data/ca: the dev CA and the server certificates it issued
	backendAddr    string   // the demo backend (in-process)
	backendKeyFile string   // ./.data/backend-key.env: the backend signing key (kid=secret)
	bundleKeysFile string   // ./.data/bundle-keys.json: the bundle-signing public keys
	gatewayListens []string // one gateway per address
	gatewayPublic  string   // the gateways' shared PORTCULLIS_PUBLIC_URL
}

const (
	defaultPGPort      = 55432
	defaultIssuerAddr  = "127.0.0.1:9000"
	defaultAdminListen = "127.0.0.1:8080"
	// Both gateways share one public URL: a token's audience is the resource URL
	// (PUBLIC_URL + "/mcp") and the gateway matches its default host by hostname
	// only, so one token works on either port, as behind a load balancer.
	defaultGatewayPublic = "https://localhost:8443"
	// demoDomain is a custom domain of tenant acme; the gateways hold a
	// certificate for it (*.localhost resolves to loopback).
	demoDomain = "mcp.acme.localhost"
)

var defaultGatewayListens = []string{"127.0.0.1:8443", "127.0.0.1:8444"}

func loadConfig() (config, error) {
	root, err := repoRoot()
	if err != nil {
		return config{}, err
	}
	data := filepath.Join(root, ".data")
	c := config{
		root:          root,
		dataDir:       data,
		pgDir:         filepath.Join(data, "pg"),
		pgPort:        defaultPGPort,
		databaseURL:   os.Getenv("DATABASE_URL"),
		natsURL:       os.Getenv("NATS_URL"),
		natsDir:       filepath.Join(data, "nats"),
		natsListen:    envOr("PORTCULLIS_NATS_LISTEN", "127.0.0.1:4222"),
		issuerAddr:    defaultIssuerAddr,
		issuerKeyFile: filepath.Join(data, "issuer-key.pem"),
		keysFile:      filepath.Join(data, "keys.env"),
		binDir:        filepath.Join(data, "bin"),
		adminListen:   envOr("PORTCULLIS_LISTEN", defaultAdminListen),
		logLevel:      envOr("PORTCULLIS_LOG_LEVEL", "info"),

		caDir:          filepath.Join(data, "ca"),
		backendAddr:    demobackend.DefaultAddr,
		backendKeyFile: filepath.Join(data, "backend-key.env"),
		bundleKeysFile: filepath.Join(data, "bundle-keys.json"),
		gatewayListens: defaultGatewayListens,
		gatewayPublic:  defaultGatewayPublic,
	}
	if p := os.Getenv("PORTCULLIS_DEV_PG_PORT"); p != "" {
		if c.pgPort, err = strconv.Atoi(p); err != nil || c.pgPort < 0 || c.pgPort > 65535 {
			return config{}, fmt.Errorf("PORTCULLIS_DEV_PG_PORT=%q is not a port", p)
		}
	}
	if err := os.MkdirAll(data, 0o755); err != nil {
		return config{}, err
	}
	return c, nil
}

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

// repoRoot walks up from the working directory to the directory holding go.work.
func repoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.work")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("run me from inside the Portcullis checkout (no go.work found above the working directory)")
		}
		dir = parent
	}
}

// gatewayNATSURL is where gateways get bundles: NATS_URL, or the control plane's embedded server.
func (c config) gatewayNATSURL() string {
	if c.natsURL != "" {
		return c.natsURL
	}
	return "nats://" + c.natsListen
}
