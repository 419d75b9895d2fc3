package mcp

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Session is what a verified Mcp-Session-Id says. It is entirely carried by the token:
// no replica stores sessions, so any replica holding one of the session keys can
// accept any session.
type Session struct {
	ID              string // random, unique per initialize
	Tenant          string // the principal the session is bound to
	Subject         string
	ProtocolVersion string // negotiated in initialize
	ClientName      string // clientInfo from initialize, truncated, for audit
	ClientVersion   string
	IssuedAt        time.Time
	ExpiresAt       time.Time
}

const (
	// sessionTokenVersion is the payload format; bump it to change the layout.
	sessionTokenVersion = 1
	// sessionMACContext separates these MACs from any other use of the same key.
	sessionMACContext = "portcullis/mcp-session/v1\x00"
	// maxSessionTokenLen rejects absurd headers before any decoding or MAC work.
	maxSessionTokenLen = 8 << 10
	// maxClientInfoLen bounds client-supplied strings copied into tokens.
	maxClientInfoLen = 64
	// sessionIDBytes of randomness make session ids unguessable and unique.
	sessionIDBytes = 16
	// issuedAtSkew tolerates replicas whose clocks run slightly behind the issuer's.
	issuedAtSkew = time.Minute
)

// MinSessionKeyLen is the minimum length of a session key: HMAC-SHA256 keys shorter
// than the hash output weaken it.
const MinSessionKeyLen = 32

// strictB64 refuses non-canonical encodings, so exactly one string verifies for each
// issued token (no malleable variants that a deny-list or a log correlation would miss).
var strictB64 = base64.RawURLEncoding.Strict()

var (
	errSessionInvalid   = errors.New("session token invalid")
	errSessionExpired   = errors.New("session token expired")
	errSessionPrincipal = errors.New("session token bound to another principal")
)

// sessionPayload is the signed part of a token; short member names keep the header small.
type sessionPayload struct {
	V   int    `json:"v"`
	SID string `json:"sid"`
	Ten string `json:"ten"`
	Sub string `json:"sub"`
	PV  string `json:"pv"`
	CN  string `json:"cn,omitempty"`
	CV  string `json:"cv,omitempty"`
	IAT int64  `json:"iat"`
	EXP int64  `json:"exp"`
}

// sessionCodec issues and verifies session tokens: base64url(payload) "." base64url(mac),
// mac = HMAC-SHA256(key, context || base64url(payload)). It signs with keys[0] and
// accepts any of keys, which is how keys rotate without dropping live sessions.
type sessionCodec struct {
	keys [][]byte
	ttl  time.Duration
}

func newSessionCodec(keys [][]byte, ttl time.Duration) (*sessionCodec, error) {
	if len(keys) == 0 {
		return nil, errors.New("mcp: at least one session key is required")
	}
	copied := make([][]byte, len(keys))
	for i, k := range keys {
		if len(k) < MinSessionKeyLen {
			return nil, fmt.Errorf("mcp: session key %d is %d bytes, need at least %d", i, len(k), MinSessionKeyLen)
		}
		copied[i] = append([]byte(nil), k...)
	}
	if ttl <= 0 {
		return nil, errors.New("mcp: session TTL must be positive")
	}
	return &sessionCodec{keys: copied, ttl: ttl}, nil
}

// issue creates a new session for tenant/subject at now.
func (c *sessionCodec) issue(tenant, subject, protocolVersion, clientName, clientVersion string, now time.Time) (string, Session, error) {
	var rnd [sessionIDBytes]byte
	if _, err := rand.Read(rnd[:]); err != nil {
		return "", Session{}, fmt.Errorf("mcp: session id: %w", err)
	}
	p := sessionPayload{
		V:   sessionTokenVersion,
		SID: base64.RawURLEncoding.EncodeToString(rnd[:]),
		Ten: tenant,
		Sub: subject,
		PV:  protocolVersion,
		CN:  truncate(clientName, maxClientInfoLen),
		CV:  truncate(clientVersion, maxClientInfoLen),
		IAT: now.Unix(),
		EXP: now.Add(c.ttl).Unix(),
	}
	raw, err := json.Marshal(p)
	if err != nil {
		return "", Session{}, fmt.Errorf("mcp: encode session: %w", err)
	}
	body := base64.RawURLEncoding.EncodeToString(raw)
	token := body + "." + base64.RawURLEncoding.EncodeToString(c.mac(c.keys[0], body))
	if len(token) > maxSessionTokenLen {
		return "", Session{}, errors.New("mcp: session token too long (subject or tenant oversized)")
	}
	return token, p.session(), nil
}

// verify checks a token's MAC against every key, then its expiry and its binding to
// the calling principal. The three failures are distinct for logs but must all look
// the same to the client (404: start a new session).
func (c *sessionCodec) verify(token, tenant, subject string, now time.Time) (Session, error) {
	if len(token) == 0 || len(token) > maxSessionTokenLen {
		return Session{}, errSessionInvalid
	}
	body, sig, ok := strings.Cut(token, ".")
	if !ok || strings.Contains(sig, ".") {
		return Session{}, errSessionInvalid
	}
	mac, err := strictB64.DecodeString(sig)
	if err != nil || len(mac) != sha256.Size {
		return Session{}, errSessionInvalid
	}
	if !c.anyKeyMatches(body, mac) {
		return Session{}, errSessionInvalid
	}
	raw, err := strictB64.DecodeString(body)
	if err != nil {
		return Session{}, errSessionInvalid
	}
	var p sessionPayload
	if err := json.Unmarshal(raw, &p); err != nil || p.V != sessionTokenVersion || p.SID == "" {
		return Session{}, errSessionInvalid
	}
	if !isSupportedVersion(p.PV) {
		return Session{}, errSessionInvalid
	}
	if now.Unix() >= p.EXP || time.Unix(p.IAT, 0).After(now.Add(issuedAtSkew)) {
		return Session{}, errSessionExpired
	}
	// Compare both halves before deciding, so the time taken does not say which differed.
	tenantOK := hmac.Equal([]byte(p.Ten), []byte(tenant))
	subjectOK := hmac.Equal([]byte(p.Sub), []byte(subject))
	if !tenantOK || !subjectOK {
		return Session{}, errSessionPrincipal
	}
	return p.session(), nil
}

// anyKeyMatches tries every key without stopping early, so timing does not reveal
// which key (old or new) a token was signed with.
func (c *sessionCodec) anyKeyMatches(body string, mac []byte) bool {
	matched := false
	for _, k := range c.keys {
		if hmac.Equal(c.mac(k, body), mac) {
			matched = true
		}
	}
	return matched
}

func (c *sessionCodec) mac(key []byte, body string) []byte {
	h := hmac.New(sha256.New, key)
	h.Write([]byte(sessionMACContext))
	h.Write([]byte(body))
	return h.Sum(nil)
}

func (p sessionPayload) session() Session {
	return Session{
		ID:              p.SID,
		Tenant:          p.Ten,
		Subject:         p.Sub,
		ProtocolVersion: p.PV,
		ClientName:      p.CN,
		ClientVersion:   p.CV,
		IssuedAt:        time.Unix(p.IAT, 0).UTC(),
		ExpiresAt:       time.Unix(p.EXP, 0).UTC(),
	}
}

// ParseSessionKeys reads session keys from configuration text: comma-separated base64
// (standard or URL alphabet, padding optional), signing key first. Each must decode to
// at least MinSessionKeyLen bytes. Generate one with `openssl rand -base64 32`.
func ParseSessionKeys(s string) ([][]byte, error) {
	var keys [][]byte
	for i, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		key, err := decodeKey(part)
		if err != nil {
			return nil, fmt.Errorf("mcp: session key %d is not base64", i)
		}
		if len(key) < MinSessionKeyLen {
			return nil, fmt.Errorf("mcp: session key %d is %d bytes, need at least %d", i, len(key), MinSessionKeyLen)
		}
		keys = append(keys, key)
	}
	if len(keys) == 0 {
		return nil, errors.New("mcp: no session keys given")
	}
	return keys, nil
}

func decodeKey(s string) ([]byte, error) {
	s = strings.TrimRight(s, "=")
	if strings.ContainsAny(s, "-_") {
		return base64.RawURLEncoding.DecodeString(s)
	}
	return base64.RawStdEncoding.DecodeString(s)
}
