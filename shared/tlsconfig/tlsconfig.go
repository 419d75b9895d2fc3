// Package tlsconfig builds the server-side TLS configuration both planes use:
// TLS 1.2 or newer (Go negotiates 1.3 whenever the client can), forward-secret
// AEAD cipher suites only for 1.2, several certificates chosen by SNI, and
// certificates that can be reloaded from disk without a restart (so a renewed
// certificate, e.g. from cert-manager, is picked up in place).
//
// It reads certificate files, an exception to shared/'s no-I/O rule like
// shared/authn and shared/serve: both planes must serve TLS identically, and the
// code is small.
package tlsconfig

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync/atomic"
	"time"
)

// Pair is one certificate chain (PEM, leaf first) and its private key.
type Pair struct {
	CertFile string
	KeyFile  string
}

// Pairs zips comma-separated-list values of PORTCULLIS_TLS_CERT_FILE and
// PORTCULLIS_TLS_KEY_FILE: the lists must have the same length.
func Pairs(certFiles, keyFiles []string) ([]Pair, error) {
	if len(certFiles) != len(keyFiles) {
		return nil, fmt.Errorf("tlsconfig: %d certificate files but %d key files", len(certFiles), len(keyFiles))
	}
	out := make([]Pair, 0, len(certFiles))
	for i := range certFiles {
		c, k := strings.TrimSpace(certFiles[i]), strings.TrimSpace(keyFiles[i])
		if c == "" || k == "" {
			return nil, fmt.Errorf("tlsconfig: certificate/key pair %d has an empty file name", i)
		}
		out = append(out, Pair{CertFile: c, KeyFile: k})
	}
	return out, nil
}

// cipherSuites are the TLS 1.2 suites offered: ECDHE (forward secrecy) with an
// AEAD. TLS 1.3 suites are not configurable in Go and are all modern.
var cipherSuites = []uint16{
	tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
	tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
	tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
	tls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
	tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
	tls.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
}

// Certificates holds the loaded certificates and picks one per handshake.
// Reads are lock-free; Reload swaps the whole set atomically.
type Certificates struct {
	pairs []Pair
	set   atomic.Pointer[certSet]
	log   *slog.Logger
}

// certSet is one immutable loaded generation of the certificates.
type certSet struct {
	certs []*tls.Certificate // in configuration order; certs[0] is the default
	exact map[string]*tls.Certificate
	wild  map[string]*tls.Certificate // "*.example.com" stored under "example.com"
	stamp []fileStamp                 // what was read, to notice changes
}

type fileStamp struct {
	mod  time.Time
	size int64
}

// Load reads every pair. It fails when any file is missing or unreadable, a
// key does not match its certificate, or no pair is given.
func Load(pairs []Pair, logger *slog.Logger) (*Certificates, error) {
	if len(pairs) == 0 {
		return nil, errors.New("tlsconfig: no certificate given")
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	c := &Certificates{pairs: append([]Pair(nil), pairs...), log: logger}
	set, err := load(c.pairs)
	if err != nil {
		return nil, err
	}
	c.set.Store(set)
	return c, nil
}

func load(pairs []Pair) (*certSet, error) {
	set := &certSet{exact: map[string]*tls.Certificate{}, wild: map[string]*tls.Certificate{}}
	for _, p := range pairs {
		stamp, err := stampOf(p)
		if err != nil {
			return nil, err
		}
		cert, err := tls.LoadX509KeyPair(p.CertFile, p.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("tlsconfig: %s: %w", p.CertFile, err)
		}
		if cert.Leaf == nil {
			if cert.Leaf, err = x509.ParseCertificate(cert.Certificate[0]); err != nil {
				return nil, fmt.Errorf("tlsconfig: %s: %w", p.CertFile, err)
			}
		}
		set.add(&cert)
		set.stamp = append(set.stamp, stamp...)
	}
	return set, nil
}

// add indexes cert by its DNS SANs. The first certificate naming a host
// wins, so the configuration order settles overlaps.
func (s *certSet) add(cert *tls.Certificate) {
	s.certs = append(s.certs, cert)
	for _, name := range cert.Leaf.DNSNames {
		name = strings.ToLower(strings.TrimSuffix(name, "."))
		idx, key := s.exact, name
		if base, ok := strings.CutPrefix(name, "*."); ok {
			idx, key = s.wild, base
		}
		if _, taken := idx[key]; !taken {
			idx[key] = cert
		}
	}
}

func stampOf(p Pair) ([]fileStamp, error) {
	var out []fileStamp
	for _, f := range []string{p.CertFile, p.KeyFile} {
		st, err := os.Stat(f)
		if err != nil {
			return nil, fmt.Errorf("tlsconfig: %w", err)
		}
		out = append(out, fileStamp{mod: st.ModTime(), size: st.Size()})
	}
	return out, nil
}

// GetCertificate implements tls.Config.GetCertificate: the certificate whose
// SANs name the ClientHello's server name exactly, else one whose wildcard
// covers it (one label, as RFC 6125 says), else the first configured. A
// client that sends no SNI (an IP address URL) gets the first.
func (c *Certificates) GetCertificate(hello *tls.ClientHelloInfo) (*tls.Certificate, error) {
	return c.set.Load().pick(hello.ServerName), nil
}

func (s *certSet) pick(serverName string) *tls.Certificate {
	name := strings.ToLower(strings.TrimSuffix(serverName, "."))
	if name != "" {
		if cert, ok := s.exact[name]; ok {
			return cert
		}
		if _, base, ok := strings.Cut(name, "."); ok {
			if cert, ok := s.wild[base]; ok {
				return cert
			}
		}
	}
	return s.certs[0]
}

// Reload reads the files again and swaps the new set in. On any error the
// certificates in use stay in use (a half-written renewal must not take the
// server down) and the error is returned.
func (c *Certificates) Reload() error {
	set, err := load(c.pairs)
	if err != nil {
		return err
	}
	c.set.Store(set)
	return nil
}

// changed reports whether any file's size or modification time differs from
// the loaded generation.
func (c *Certificates) changed() bool {
	cur := c.set.Load().stamp
	var now []fileStamp
	for _, p := range c.pairs {
		s, err := stampOf(p)
		if err != nil {
			return true // let Reload report it
		}
		now = append(now, s...)
	}
	if len(now) != len(cur) {
		return true
	}
	for i := range now {
		if !now[i].mod.Equal(cur[i].mod) || now[i].size != cur[i].size {
			return true
		}
	}
	return false
}

// Watch checks the files every interval and reloads them when one changed,
// until ctx ends. Polling (rather than SIGHUP or inotify) works the same on
// every platform and with Kubernetes' symlink-swapped secret volumes.
func (c *Certificates) Watch(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if !c.changed() {
			continue
		}
		if err := c.Reload(); err != nil {
			c.log.Warn("TLS certificates changed but cannot be loaded; keeping the previous ones", "err", err)
			continue
		}
		c.log.Info("TLS certificates reloaded")
	}
}

// ServerConfig returns the server TLS configuration serving c. nextProtos
// are the ALPN protocols (nil: HTTP/2 and HTTP/1.1, what net/http serves).
func ServerConfig(c *Certificates, nextProtos ...string) *tls.Config {
	if len(nextProtos) == 0 {
		nextProtos = []string{"h2", "http/1.1"}
	}
	return &tls.Config{
		MinVersion:     tls.VersionTLS12,
		CipherSuites:   cipherSuites,
		GetCertificate: c.GetCertificate,
		NextProtos:     nextProtos,
	}
}
