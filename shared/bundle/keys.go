package bundle

import (
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
)

// KeySet is the set of bundle-signing public keys a gateway trusts, by kid.
// Gateways build it with ParseJWKS from the JWKS the control plane serves at
// GET /v1/bundle-signing-keys (configured out of band). Several keys overlap
// during a signing-key rotation.
type KeySet map[string]ed25519.PublicKey

// PublicKey is one public signing key and its kid.
type PublicKey struct {
	KID string
	Key ed25519.PublicKey
}

// jwkEd25519 is the JWK of an Ed25519 public key (RFC 8037).
type jwkEd25519 struct {
	Kty string `json:"kty"`
	Crv string `json:"crv"`
	X   string `json:"x"`
	D   string `json:"d,omitempty"` // present only by mistake; refused
	Kid string `json:"kid"`
	Alg string `json:"alg,omitempty"`
	Use string `json:"use,omitempty"`
}

type jwks struct {
	Keys []jwkEd25519 `json:"keys"`
}

// KeyID returns the RFC 7638 JWK thumbprint (SHA-256, base64url) of pub: a
// stable kid derived from the key itself, so no registry of names is needed.
func KeyID(pub ed25519.PublicKey) string {
	// Members in lexicographic order, no whitespace, as RFC 7638 requires.
	canon := `{"crv":"Ed25519","kty":"OKP","x":"` + base64.RawURLEncoding.EncodeToString(pub) + `"}`
	sum := sha256.Sum256([]byte(canon))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// PublicJWKS returns the JWKS JSON document listing keys, as the control plane
// serves it.
func PublicJWKS(keys ...PublicKey) ([]byte, error) {
	doc := jwks{Keys: make([]jwkEd25519, 0, len(keys))}
	seen := make(map[string]bool, len(keys))
	for _, k := range keys {
		if len(k.Key) != ed25519.PublicKeySize || k.KID == "" {
			return nil, fmt.Errorf("bundle: bad public key %q", k.KID)
		}
		if seen[k.KID] {
			return nil, fmt.Errorf("bundle: duplicate kid %q", k.KID)
		}
		seen[k.KID] = true
		doc.Keys = append(doc.Keys, jwkEd25519{
			Kty: "OKP", Crv: "Ed25519", X: base64.RawURLEncoding.EncodeToString(k.Key),
			Kid: k.KID, Alg: "EdDSA", Use: "sig",
		})
	}
	return json.Marshal(doc)
}

// ParseJWKS reads a JWKS of Ed25519 public keys. It refuses the whole document
// when any key is not an Ed25519 public signing key, has no kid, repeats a kid,
// or carries private material: a gateway's trust configuration is either
// exactly right or not loaded.
func ParseJWKS(data []byte) (KeySet, error) {
	var doc jwks
	if err := json.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("bundle: jwks: %w", err)
	}
	if len(doc.Keys) == 0 {
		return nil, errors.New("bundle: jwks has no keys")
	}
	set := make(KeySet, len(doc.Keys))
	for i, k := range doc.Keys {
		pub, err := parseJWK(k)
		if err != nil {
			return nil, fmt.Errorf("bundle: jwks key %d: %w", i, err)
		}
		if _, dup := set[k.Kid]; dup {
			return nil, fmt.Errorf("bundle: jwks key %d: duplicate kid %q", i, k.Kid)
		}
		set[k.Kid] = pub
	}
	return set, nil
}

func parseJWK(k jwkEd25519) (ed25519.PublicKey, error) {
	switch {
	case k.Kty != "OKP" || k.Crv != "Ed25519":
		return nil, fmt.Errorf("kty %q crv %q, want OKP Ed25519", k.Kty, k.Crv)
	case k.D != "":
		return nil, errors.New("private key material in a public key set")
	case k.Kid == "":
		return nil, errors.New("missing kid")
	case k.Alg != "" && k.Alg != "EdDSA":
		return nil, fmt.Errorf("alg %q, want EdDSA", k.Alg)
	case k.Use != "" && k.Use != "sig":
		return nil, fmt.Errorf("use %q, want sig", k.Use)
	}
	x, err := base64.RawURLEncoding.DecodeString(k.X)
	if err != nil || len(x) != ed25519.PublicKeySize {
		return nil, errors.New("x is not a base64url Ed25519 public key")
	}
	return ed25519.PublicKey(x), nil
}
