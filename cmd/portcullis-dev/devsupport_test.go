package main

import (
	"context"
	"encoding/base64"
	"errors"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestKeysAreGeneratedOnceAndReused(t *testing.T) {
	t.Setenv(envMasterKey, "")
	t.Setenv(envBundleSealKey, "")
	path := filepath.Join(t.TempDir(), "keys.env")
	first, err := loadOrCreateKeys(path)
	require.NoError(t, err)
	for _, k := range []string{first.masterKey, first.bundleSealKey} {
		b, err := base64.StdEncoding.DecodeString(k)
		require.NoError(t, err)
		require.Len(t, b, 32)
	}
	require.NotEqual(t, first.masterKey, first.bundleSealKey)
	st, err := os.Stat(path)
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o600), st.Mode().Perm(), "keys file must be private")

	second, err := loadOrCreateKeys(path)
	require.NoError(t, err)
	require.Equal(t, first, second)
}

func TestKeysRejectBadValues(t *testing.T) {
	cases := map[string]string{
		"not base64": envMasterKey + "=%%%\n",
		"too short":  envMasterKey + "=" + base64.StdEncoding.EncodeToString([]byte("short")) + "\n",
		"malformed":  "just a line\n",
	}
	for name, content := range cases {
		t.Run(name, func(t *testing.T) {
			t.Setenv(envMasterKey, "")
			t.Setenv(envBundleSealKey, "")
			path := filepath.Join(t.TempDir(), "keys.env")
			require.NoError(t, os.WriteFile(path, []byte(content), 0o600))
			_, err := loadOrCreateKeys(path)
			require.Error(t, err)
			require.NotContains(t, err.Error(), "%%%", "errors must not echo key material")
		})
	}
}

func TestEnvironmentKeysWin(t *testing.T) {
	k := base64.StdEncoding.EncodeToString(make([]byte, 32))
	t.Setenv(envMasterKey, k)
	t.Setenv(envBundleSealKey, "")
	keys, err := loadOrCreateKeys(filepath.Join(t.TempDir(), "keys.env"))
	require.NoError(t, err)
	require.Equal(t, k, keys.masterKey)
	require.NotEqual(t, k, keys.bundleSealKey)
}

func TestPrefixWriterPrefixesWholeLines(t *testing.T) {
	var sb strings.Builder
	p := &prefixWriter{prefix: "[cp] ", w: &sb}
	_, _ = p.Write([]byte("one\ntw"))
	_, _ = p.Write([]byte("o\nthree"))
	p.flush()
	require.Equal(t, "[cp] one\n[cp] two\n[cp] three\n", sb.String())
}

func TestRedactDSN(t *testing.T) {
	require.Equal(t, "postgres://u:xxxxx@h/db", redactDSN("postgres://u:secret@h/db"))
	require.Equal(t, "postgres://portcullis@127.0.0.1:5/portcullis?sslmode=disable",
		redactDSN("postgres://portcullis@127.0.0.1:5/portcullis?sslmode=disable"))
}

func TestControlPlaneEnvOverridesInheritedValues(t *testing.T) {
	t.Setenv("DATABASE_URL", "postgres://elsewhere/db")
	t.Setenv("NATS_URL", "")
	cfg := config{adminListen: "127.0.0.1:8080", natsDir: "/x/nats", logLevel: "info"}
	t.Setenv("PORTCULLIS_INSECURE_HTTP", "true")
	env, err := controlPlaneEnv(cfg, "postgres://here/db", "http://127.0.0.1:9000", devKeys{masterKey: "m", bundleSealKey: "b"},
		certPair{cert: "/ca/cp.pem", key: "/ca/cp-key.pem"})
	require.NoError(t, err)
	require.Contains(t, env, "PORTCULLIS_TLS_CERT_FILE=/ca/cp.pem")
	require.Contains(t, env, "PORTCULLIS_TLS_KEY_FILE=/ca/cp-key.pem")
	require.Contains(t, env, "DATABASE_URL=postgres://here/db")
	require.Contains(t, env, "PORTCULLIS_PUBLIC_URL=https://127.0.0.1:8080", "approval check URLs are absolute")
	require.NotContains(t, env, "DATABASE_URL=postgres://elsewhere/db")
	require.Contains(t, env, `PORTCULLIS_ISSUERS=[{"audiences":["portcullis-admin"],"issuer":"http://127.0.0.1:9000"}]`)
	for _, kv := range env {
		require.False(t, strings.HasPrefix(kv, "NATS_URL="), "empty NATS_URL must be left out so the control plane embeds NATS")
		require.False(t, strings.HasPrefix(kv, "PORTCULLIS_INSECURE_HTTP="), "an inherited plain-HTTP switch would contradict TLS")
	}
}

func TestStopStackStopsInReverseOrder(t *testing.T) {
	var order []string
	var s stopStack
	for _, name := range []string{"postgres", "issuer", "control plane"} {
		s.push(name, func(context.Context) error {
			order = append(order, name)
			if name == "issuer" {
				return errors.New("boom") // a failing stop must not prevent the next ones
			}
			return nil
		})
	}
	s.stopAll(slog.New(slog.NewTextHandler(io.Discard, nil)))
	require.Equal(t, []string{"control plane", "issuer", "postgres"}, order)
	s.stopAll(slog.New(slog.NewTextHandler(io.Discard, nil))) // idempotent
	require.Len(t, order, 3)
}

func TestNotifyExitNeverBlocks(t *testing.T) {
	var s stopStack
	for range 20 {
		s.notifyExit("x", errors.New("gone"))
	}
	require.Error(t, <-s.childExited())
}

func TestGoBuildReportsWhatFailed(t *testing.T) {
	root, err := repoRoot()
	require.NoError(t, err)
	err = goBuild(context.Background(), root, "./does/not/exist", filepath.Join(t.TempDir(), "x"))
	require.Error(t, err)
	require.Contains(t, err.Error(), "cannot build ./does/not/exist")
}

func TestPortFree(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer l.Close()
	require.False(t, portFree(l.Addr().String()))
}
