package authn

import (
	"bytes"
	"context"
	"crypto/rsa"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jwk"
	"github.com/lestrrat-go/jwx/v2/jws"
)

// maxTokenSize bounds the token Validate parses.
const maxTokenSize = 16 << 10

// minRSABits refuses RSA keys too short to trust.
const minRSABits = 2048

// Validator validates bearer JWTs against the configured issuers. It is safe
// for concurrent use.
type Validator struct {
	cfg     Config
	issuers map[string]*issuer
}

type issuer struct {
	cfg  IssuerConfig
	algs []jwa.SignatureAlgorithm
	keys *keySource
}

// New checks cfg and returns a Validator. It does not contact the issuers:
// keys are fetched on first use, so a control plane or gateway starts even
// when an issuer is briefly down. ctx is not retained.
func New(_ context.Context, cfg Config) (*Validator, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	v := &Validator{cfg: cfg, issuers: make(map[string]*issuer, len(cfg.Issuers))}
	for _, ic := range cfg.Issuers {
		is := &issuer{cfg: ic, keys: newKeySource(ic, cfg)}
		for _, a := range ic.Algorithms {
			is.algs = append(is.algs, jwa.SignatureAlgorithm(a))
		}
		v.issuers[ic.Issuer] = is
	}
	return v, nil
}

// Validate checks raw (the token without "Bearer ") and returns its principal.
// Every error matches ErrInvalidToken.
//
// Order: the unverified iss only selects which issuer's keys to use; then the
// header's alg must be on that issuer's allow-list and the key named by kid
// must be of the type that alg needs (no RSA key used as an HMAC secret, no
// EC key for an RSA alg); then the signature; then iss, aud, exp, nbf, iat.
func (v *Validator) Validate(ctx context.Context, raw string) (Principal, error) {
	return v.validate(ctx, raw, nil)
}

// ValidateAudience is Validate with the audience chosen per request instead
// of the issuer's configured Audiences: the token's aud must contain
// audience exactly. The gateway uses it because its audience is the resource
// URL of the host a request arrived on (RFC 8707), and custom domains make
// that set change at run time. Every other check is Validate's.
func (v *Validator) ValidateAudience(ctx context.Context, raw, audience string) (Principal, error) {
	if audience == "" {
		// Fail closed: an empty expected audience must never match anything.
		return Principal{}, invalid("no audience to check against")
	}
	return v.validate(ctx, raw, []string{audience})
}

// validate checks raw; audiences overrides the issuer's Audiences when non-nil.
func (v *Validator) validate(ctx context.Context, raw string, audiences []string) (Principal, error) {
	hdr, payload, err := splitToken(raw)
	if err != nil {
		return Principal{}, err
	}
	claims, err := decodeClaims(payload)
	if err != nil {
		return Principal{}, err
	}
	iss, _ := claims["iss"].(string)
	is, ok := v.issuers[iss]
	if !ok {
		return Principal{}, invalid(fmt.Sprintf("unknown issuer %q", iss))
	}
	alg := hdr.Algorithm()
	if !slices.Contains(is.algs, alg) {
		return Principal{}, invalid(fmt.Sprintf("alg %q not allowed", alg))
	}
	kid := hdr.KeyID()
	if kid == "" {
		return Principal{}, invalid("missing kid")
	}
	now := v.cfg.Now()
	key, err := is.keys.lookup(ctx, kid, now)
	if err != nil {
		return Principal{}, err
	}
	if err := keyMatchesAlg(key, alg); err != nil {
		return Principal{}, err
	}
	if _, err := jws.Verify([]byte(raw), jws.WithKey(alg, key), jws.WithCompact()); err != nil {
		return Principal{}, invalid("bad signature")
	}
	if audiences == nil {
		audiences = is.cfg.Audiences
	}
	if err := v.checkClaims(is.cfg, audiences, claims, now); err != nil {
		return Principal{}, err
	}
	return principal(is.cfg, claims)
}

// splitToken parses a compact JWS without verifying it and rejects headers
// we never accept.
func splitToken(raw string) (jws.Headers, []byte, error) {
	raw = strings.TrimSpace(raw)
	switch {
	case raw == "":
		return nil, nil, invalid("missing token")
	case len(raw) > maxTokenSize:
		return nil, nil, invalid("token too large")
	case strings.Count(raw, ".") != 2:
		return nil, nil, invalid("not a compact JWS")
	}
	msg, err := jws.Parse([]byte(raw), jws.WithCompact())
	if err != nil {
		return nil, nil, invalid("malformed token")
	}
	sigs := msg.Signatures()
	if len(sigs) != 1 {
		return nil, nil, invalid("malformed token")
	}
	hdr := sigs[0].ProtectedHeaders()
	if len(hdr.Critical()) > 0 {
		return nil, nil, invalid("crit header not supported")
	}
	if b64, ok := hdr.Get("b64"); ok && b64 != true {
		return nil, nil, invalid("unencoded payload not supported")
	}
	return hdr, msg.Payload(), nil
}

func decodeClaims(payload []byte) (map[string]any, error) {
	dec := json.NewDecoder(bytes.NewReader(payload))
	var claims map[string]any
	if err := dec.Decode(&claims); err != nil || claims == nil {
		return nil, invalid("claims are not a JSON object")
	}
	if dec.More() {
		return nil, invalid("trailing data after claims")
	}
	return claims, nil
}

// keyMatchesAlg prevents key confusion: the key's type (and curve, size,
// declared alg and use) must fit the token's alg.
func keyMatchesAlg(key jwk.Key, alg jwa.SignatureAlgorithm) error {
	if use := key.KeyUsage(); use != "" && use != "sig" {
		return invalid(fmt.Sprintf("key use %q", use))
	}
	if ka := key.Algorithm().String(); ka != "" && ka != alg.String() {
		return invalid(fmt.Sprintf("key is for %q, token says %q", ka, alg))
	}
	switch alg {
	case jwa.RS256, jwa.RS384, jwa.RS512, jwa.PS256, jwa.PS384, jwa.PS512:
		k, ok := key.(jwk.RSAPublicKey)
		if !ok {
			return invalid(fmt.Sprintf("alg %q needs an RSA public key", alg))
		}
		var pub rsa.PublicKey
		if err := k.Raw(&pub); err != nil || pub.N == nil || pub.N.BitLen() < minRSABits {
			return invalid("RSA key too short")
		}
	case jwa.ES256, jwa.ES384, jwa.ES512:
		want := map[jwa.SignatureAlgorithm]jwa.EllipticCurveAlgorithm{
			jwa.ES256: jwa.P256, jwa.ES384: jwa.P384, jwa.ES512: jwa.P521,
		}[alg]
		k, ok := key.(jwk.ECDSAPublicKey)
		if !ok || k.Crv() != want {
			return invalid(fmt.Sprintf("alg %q needs an EC %s public key", alg, want))
		}
	case jwa.EdDSA:
		k, ok := key.(jwk.OKPPublicKey)
		if !ok || k.Crv() != jwa.Ed25519 {
			return invalid("alg EdDSA needs an Ed25519 public key")
		}
	default:
		return invalid(fmt.Sprintf("alg %q not supported", alg))
	}
	return nil
}
