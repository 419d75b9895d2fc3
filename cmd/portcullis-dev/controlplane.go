package main

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"
)

const (
	controlPlanePkg  = "./controlplane/cmd/portcullis-controlplane"
	readyTimeout     = 3 * time.Minute // first run: migrations, JetStream store creation
	adminAudience    = "portcullis-admin"
	readyPollPeriod  = 250 * time.Millisecond
	readyProbeTimout = 2 * time.Second
)

type controlPlane struct {
	adminURL string
	client   *http.Client // trusts the dev CA
}

// startControlPlane builds the control plane, runs it as a child process and waits for /readyz.
func startControlPlane(ctx context.Context, cfg config, dsn, issuerURL string, keys devKeys, certs *devTLS,
	logger *slog.Logger, stack *stopStack) (*controlPlane, error) {
	if !portFree(cfg.adminListen) {
		return nil, fmt.Errorf("%s is already in use (is another `make run` running?); set PORTCULLIS_LISTEN to use another address", cfg.adminListen)
	}
	if cfg.natsURL == "" && !portFree(cfg.natsListen) {
		return nil, fmt.Errorf("%s (embedded NATS) is already in use; set PORTCULLIS_NATS_LISTEN to another address or NATS_URL to an existing server", cfg.natsListen)
	}
	bin := filepath.Join(cfg.binDir, "portcullis-controlplane")
	logger.Info("building the control plane", "pkg", controlPlanePkg)
	if err := goBuild(ctx, cfg.root, controlPlanePkg, bin); err != nil {
		return nil, fmt.Errorf("%w\n\nThe control plane (%s) must build for `make run` to work.", err, controlPlanePkg)
	}
	env, err := controlPlaneEnv(cfg, dsn, issuerURL, keys, certs.controlPlane)
	if err != nil {
		return nil, err
	}
	c, err := startChild("controlplane", bin, nil, env, cfg.root)
	if err != nil {
		return nil, err
	}
	stack.push("control plane", c.stop)
	adminURL := "https://" + cfg.adminListen
	client := certs.client(seedTimeout)
	if err := waitReady(ctx, client, adminURL+"/readyz", c); err != nil {
		return nil, fmt.Errorf("control plane: %w", err)
	}
	go func() {
		<-c.done
		stack.notifyExit("control plane", c.err)
	}()
	logger.Info("control plane ready", "url", adminURL)
	return &controlPlane{adminURL: adminURL, client: client}, nil
}

// controlPlaneEnv is our environment with the control plane's settings (CONTRACTS.md) on top.
func controlPlaneEnv(cfg config, dsn, issuerURL string, keys devKeys, cert certPair) ([]string, error) {
	issuers, err := json.Marshal([]map[string]any{{"issuer": issuerURL, "audiences": []string{adminAudience}}})
	if err != nil {
		return nil, err
	}
	return childEnv(map[string]string{
		"PORTCULLIS_LISTEN": cfg.adminListen,
		// TLS as in production, with a certificate of the dev CA. An inherited
		// PORTCULLIS_INSECURE_HTTP would contradict it: blank it out.
		"PORTCULLIS_TLS_CERT_FILE": cert.cert,
		"PORTCULLIS_TLS_KEY_FILE":  cert.key,
		"PORTCULLIS_INSECURE_HTTP": "",
		// Approval answers point agents at the admin API by absolute URL.
		"PORTCULLIS_PUBLIC_URL": "https://" + cfg.adminListen,
		// Local demos point approval webhooks at local receivers.
		"PORTCULLIS_WEBHOOK_ALLOW_PRIVATE": "true",
		"DATABASE_URL":                     dsn,
		"NATS_URL":                         cfg.natsURL,
		"PORTCULLIS_NATS_DIR":              cfg.natsDir,
		"PORTCULLIS_ISSUERS":               string(issuers),
		envMasterKey:                       keys.masterKey,
		envBundleSealKey:                   keys.bundleSealKey,
		"PORTCULLIS_LOG_LEVEL":             cfg.logLevel,
	}), nil
}

// childEnv is our environment with set on top; an empty value in set removes the variable.
func childEnv(set map[string]string) []string {
	var env []string
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		if _, overridden := set[name]; !overridden {
			env = append(env, kv)
		}
	}
	for k, v := range set {
		if v != "" {
			env = append(env, k+"="+v)
		}
	}
	return env
}

// waitReady polls url until it answers 200, the child exits, or the time is up.
func waitReady(ctx context.Context, client *http.Client, url string, c *child) error {
	ctx, cancel := context.WithTimeout(ctx, readyTimeout)
	defer cancel()
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return err
		}
		probeCtx, cancelProbe := context.WithTimeout(ctx, readyProbeTimout)
		resp, err := client.Do(req.WithContext(probeCtx))
		if err == nil {
			_ = resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				cancelProbe()
				return nil
			}
		}
		cancelProbe()
		select {
		case <-c.done:
			return fmt.Errorf("%w (%v); its log is above", errChildExited, c.err)
		case <-ctx.Done():
			return fmt.Errorf("not ready at %s: %w", url, ctx.Err())
		case <-time.After(readyPollPeriod):
		}
	}
}
