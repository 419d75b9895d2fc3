package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

const gatewayPkg = "./dataplane/cmd/portcullis-gateway"

// inspectorOrigins are the browser origins of MCP Inspector's UI, allowed to call /mcp directly.
var inspectorOrigins = []string{"http://localhost:6274", "http://127.0.0.1:6274"}

// gatewayInput is what every gateway replica is configured with.
type gatewayInput struct {
	issuerURL string
	keys      devKeys
	certs     *devTLS
}

// startGateways builds the gateway, saves the bundle-signing public keys where the gateways read
// them, runs one replica per configured address, and waits until each is ready (first full sync
// of the bundles done).
func startGateways(ctx context.Context, cfg config, cp *controlPlane, in gatewayInput,
	logger *slog.Logger, stack *stopStack) ([]string, error) {
	for _, addr := range cfg.gatewayListens {
		if !portFree(addr) {
			return nil, fmt.Errorf("%s (gateway) is already in use (is another `make run` running?)", addr)
		}
	}
	bin := filepath.Join(cfg.binDir, "portcullis-gateway")
	logger.Info("building the gateway", "pkg", gatewayPkg)
	if err := goBuild(ctx, cfg.root, gatewayPkg, bin); err != nil {
		return nil, fmt.Errorf("%w\n\nThe gateway (%s) must build for `make run` to work.", err, gatewayPkg)
	}
	if err := saveBundleKeys(ctx, cp, cfg.bundleKeysFile); err != nil {
		return nil, err
	}
	client := in.certs.client(readyProbeTimout)
	var urls []string
	for i, addr := range cfg.gatewayListens {
		id := fmt.Sprintf("gw-%d", i+1)
		env, err := gatewayEnv(cfg, i+1, addr, in)
		if err != nil {
			return nil, err
		}
		c, err := startChild(id, bin, nil, env, cfg.root)
		if err != nil {
			return nil, err
		}
		stack.push("gateway "+id, c.stop)
		direct := "https://" + addr
		if err := waitReady(ctx, client, direct+"/readyz", c); err != nil {
			return nil, fmt.Errorf("gateway %s: %w", id, err)
		}
		go func() {
			<-c.done
			stack.notifyExit("gateway "+id, c.err)
		}()
		logger.Info("gateway ready", "id", id, "listen", addr)
		urls = append(urls, direct)
	}
	return urls, nil
}

// gatewayEnv is replica n's environment (CONTRACTS.md "Gateway"): everything shared but its
// listen address, id and snapshot file. Secrets only the control plane holds are removed.
func gatewayEnv(cfg config, n int, listen string, in gatewayInput) ([]string, error) {
	issuers, err := json.Marshal([]map[string]any{{"issuer": in.issuerURL}})
	if err != nil {
		return nil, err
	}
	dir := filepath.Join(cfg.dataDir, "gw-"+strconv.Itoa(n))
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	certs, keys := files(in.certs.gateway...)
	return childEnv(map[string]string{
		"PORTCULLIS_LISTEN":           listen,
		"PORTCULLIS_PUBLIC_URL":       cfg.gatewayPublic,
		"PORTCULLIS_TLS_CERT_FILE":    certs,
		"PORTCULLIS_TLS_KEY_FILE":     keys,
		"PORTCULLIS_INSECURE_HTTP":    "",
		"NATS_URL":                    cfg.gatewayNATSURL(),
		"PORTCULLIS_BUNDLE_KEYS_FILE": cfg.bundleKeysFile,
		envBundleSealKey:              in.keys.bundleSealKey,
		"PORTCULLIS_SNAPSHOT_FILE":    filepath.Join(dir, "snapshot.json"),
		"PORTCULLIS_GATEWAY_ID":       "gw-" + strconv.Itoa(n),
		envSessionKeys:                in.keys.sessionKeys,
		"PORTCULLIS_ISSUERS":          string(issuers),
		"PORTCULLIS_ALLOWED_ORIGINS":  strings.Join(inspectorOrigins, ","),
		"PORTCULLIS_LOG_LEVEL":        cfg.logLevel,
		envMasterKey:                  "",
		"DATABASE_URL":                "",
	}), nil
}

// saveBundleKeys writes GET /v1/bundle-signing-keys (public: no token) to file, as an operator
// configures gateways out of band.
func saveBundleKeys(ctx context.Context, cp *controlPlane, file string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, cp.adminURL+"/v1/bundle-signing-keys", nil)
	if err != nil {
		return err
	}
	resp, err := cp.client.Do(req)
	if err != nil {
		return fmt.Errorf("bundle-signing keys: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return fmt.Errorf("bundle-signing keys: %w", err)
	}
	if resp.StatusCode != http.StatusOK || !json.Valid(body) {
		return fmt.Errorf("bundle-signing keys: GET /v1/bundle-signing-keys → HTTP %d\n%s", resp.StatusCode, indent(body))
	}
	if err := os.WriteFile(file, body, 0o644); err != nil {
		return fmt.Errorf("write %s: %w", file, err)
	}
	return nil
}
