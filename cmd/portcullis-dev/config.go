package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
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
	issuerAddr    string
	issuerKeyFile string // ./.data/issuer-key.pem
	keysFile      string // ./.data/keys.env
	binDir        string // ./.data/bin
	adminListen   string
	logLevel      string
}

const (
	defaultPGPort      = 55432
	defaultIssuerAddr  = "127.0.0.1:9000"
	defaultAdminListen = "127.0.0.1:8080"
)

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
		issuerAddr:    defaultIssuerAddr,
		issuerKeyFile: filepath.Join(data, "issuer-key.pem"),
		keysFile:      filepath.Join(data, "keys.env"),
		binDir:        filepath.Join(data, "bin"),
		adminListen:   envOr("PORTCULLIS_LISTEN", defaultAdminListen),
		logLevel:      envOr("PORTCULLIS_LOG_LEVEL", "info"),
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
