package approvalsvc

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestPublicAddr(t *testing.T) {
	for addr, want := range map[string]bool{
		"8.8.8.8": true, "2606:4700::1111": true,
		"127.0.0.1": false, "::1": false, "10.1.2.3": false, "172.16.0.1": false, "192.168.1.1": false,
		"169.254.169.254": false, "fe80::1": false, "fc00::1": false, "0.0.0.0": false, "::": false,
		"100.64.0.1": false, "224.0.0.1": false, "::ffff:127.0.0.1": false, "::ffff:10.0.0.1": false,
	} {
		require.Equal(t, want, publicAddr(netip.MustParseAddr(addr)), addr)
	}
}

func TestWebhookClientRefusesInternalAddresses(t *testing.T) {
	hits := 0
	srv := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { hits++ }))
	defer srv.Close()
	req := func() *http.Request {
		r, err := http.NewRequestWithContext(context.Background(), http.MethodPost, srv.URL, nil)
		require.NoError(t, err)
		return r
	}
	_, err := webhookClient(false).Do(req())
	require.True(t, errors.Is(err, errNonPublicAddress), "got %v", err)
	require.Zero(t, hits, "nothing reached the loopback receiver")

	resp, err := webhookClient(true).Do(req())
	require.NoError(t, err)
	_ = resp.Body.Close()
	require.Equal(t, 1, hits)
}
