package main

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net/http"
	"time"

	"github.com/portcullis/portcullis/shared/localenv/devca"
)

// devTLS is the dev CA and the server certificates make run serves with.
type devTLS struct {
	ca *devca.CA
	// controlPlane is the admin API's certificate (127.0.0.1, localhost).
	controlPlane certPair
	// gateway lists the gateways' certificates, the default host's first and
	// then the demo custom domain's (SNI picks by hostname).
	gateway []certPair
}

type certPair struct{ cert, key string }

// ensureTLS loads the CA under ./.data/ca, creating it on first use (so a client that trusts it
// keeps trusting it), and issues fresh server certificates on every run: they are cheap, and a
// fresh one never expires under a long-lived checkout.
func ensureTLS(cfg config) (*devTLS, error) {
	ca, err := devca.EnsureCA(cfg.caDir)
	if err != nil {
		return nil, err
	}
	t := &devTLS{ca: ca}
	loopback := []string{"localhost", "127.0.0.1", "::1"}
	for _, c := range []struct {
		name  string
		hosts []string
		dst   func(certPair)
	}{
		{"controlplane", loopback, func(p certPair) { t.controlPlane = p }},
		{"gateway", loopback, func(p certPair) { t.gateway = append(t.gateway, p) }},
		{"gateway-" + demoDomain, []string{demoDomain}, func(p certPair) { t.gateway = append(t.gateway, p) }},
	} {
		cert, key, err := ca.Issue(c.hosts, cfg.caDir, c.name)
		if err != nil {
			return nil, fmt.Errorf("certificate %s: %w", c.name, err)
		}
		c.dst(certPair{cert, key})
	}
	return t, nil
}

// files returns the comma-separated cert and key lists of PORTCULLIS_TLS_CERT_FILE/_KEY_FILE.
func files(pairs ...certPair) (certs, keys string) {
	for i, p := range pairs {
		if i > 0 {
			certs, keys = certs+",", keys+","
		}
		certs, keys = certs+p.cert, keys+p.key
	}
	return certs, keys
}

// client is an HTTP client that trusts the dev CA alone.
func (t *devTLS) client(timeout time.Duration) *http.Client {
	return newCAClient(t.ca.CertPool(), timeout)
}

func newCAClient(pool *x509.CertPool, timeout time.Duration) *http.Client {
	tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}, ForceAttemptHTTP2: true}
	return &http.Client{Transport: tr, Timeout: timeout}
}
