package bundle

import (
	"bytes"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jws"

	"github.com/portcullis/portcullis/shared/model"
	"github.com/portcullis/portcullis/shared/strictjson"
)

// JWSType is the "typ" header of a signed bundle. Checking it keeps any other
// EdDSA-signed JWS made with the same key from being taken for a bundle.
const JWSType = "portcullis-bundle+jws"

// MaxSize bounds the signed bundle a gateway will parse. Bundles are far
// smaller (NATS refuses values over its max payload anyway); the bound only
// stops a hostile value from costing unbounded parse work.
const MaxSize = 32 << 20

// Sign fills b.ContentHash and returns b as a compact JWS signed with key
// (alg EdDSA, the given kid and typ JWSType in the protected header). It
// refuses a bundle that Verify would refuse.
func Sign(b *Bundle, key ed25519.PrivateKey, kid string) ([]byte, error) {
	if len(key) != ed25519.PrivateKeySize {
		return nil, errors.New("bundle: signing key is not an Ed25519 private key")
	}
	if kid == "" {
		return nil, errors.New("bundle: empty kid")
	}
	if err := check(b); err != nil {
		return nil, err
	}
	hash, err := ComputeContentHash(b)
	if err != nil {
		return nil, err
	}
	b.ContentHash = hash
	payload, err := json.Marshal(b)
	if err != nil {
		return nil, fmt.Errorf("bundle: encode: %w", err)
	}
	hdr := jws.NewHeaders()
	for k, v := range map[string]any{jws.KeyIDKey: kid, jws.TypeKey: JWSType} {
		if err := hdr.Set(k, v); err != nil {
			return nil, fmt.Errorf("bundle: header %s: %w", k, err)
		}
	}
	signed, err := jws.Sign(payload, jws.WithKey(jwa.EdDSA, key, jws.WithProtectedHeaders(hdr)))
	if err != nil {
		return nil, fmt.Errorf("bundle: sign: %w", err)
	}
	return signed, nil
}

// Verify checks a signed bundle read from the KV key of wantScope and returns
// it. Every failure wraps ErrInvalid. In order, it requires:
//
//   - a compact JWS of at most MaxSize bytes with exactly one signature;
//   - protected header alg "EdDSA" (none, HS*, RS*, ES* are refused whatever
//     keys are known), typ JWSType, a kid present in keys, no "crit" and no
//     unencoded payload ("b64": false);
//   - a valid Ed25519 signature by that kid's key;
//   - a payload that decodes into Bundle with no unknown fields (a gateway
//     never applies configuration it only partly understands);
//   - content_hash equal to the hash recomputed from the content;
//   - scope equal to wantScope, so a bundle signed for tenant A and written
//     under tenant B's key is refused;
//   - a positive revision and content matching the scope (see check).
func Verify(raw []byte, keys KeySet, wantScope model.Scope) (*Bundle, error) {
	pub, err := checkHeader(raw, keys)
	if err != nil {
		return nil, err
	}
	payload, err := jws.Verify(raw, jws.WithKey(jwa.EdDSA, pub), jws.WithCompact())
	if err != nil {
		return nil, fmt.Errorf("%w: signature: %v", ErrInvalid, err)
	}
	b, err := decode(payload)
	if err != nil {
		return nil, err
	}
	hash, err := ComputeContentHash(b)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	if hash != b.ContentHash {
		return nil, fmt.Errorf("%w: content hash mismatch", ErrInvalid)
	}
	if b.Scope != wantScope {
		return nil, fmt.Errorf("%w: bundle for scope %q read from scope %q", ErrInvalid, b.Scope, wantScope)
	}
	if err := check(b); err != nil {
		return nil, err
	}
	return b, nil
}

// checkHeader parses the JWS without trusting it and returns the key its kid
// names, once the header passes the rules listed on Verify.
func checkHeader(raw []byte, keys KeySet) (ed25519.PublicKey, error) {
	if len(raw) > MaxSize {
		return nil, fmt.Errorf("%w: %d bytes exceeds %d", ErrInvalid, len(raw), MaxSize)
	}
	if bytes.Count(raw, []byte{'.'}) != 2 {
		return nil, fmt.Errorf("%w: not a compact JWS", ErrInvalid)
	}
	msg, err := jws.Parse(raw, jws.WithCompact())
	if err != nil {
		return nil, fmt.Errorf("%w: parse: %v", ErrInvalid, err)
	}
	sigs := msg.Signatures()
	if len(sigs) != 1 {
		return nil, fmt.Errorf("%w: %d signatures", ErrInvalid, len(sigs))
	}
	h := sigs[0].ProtectedHeaders()
	if h.Algorithm() != jwa.EdDSA {
		return nil, fmt.Errorf("%w: alg %q not accepted", ErrInvalid, h.Algorithm())
	}
	if h.Type() != JWSType {
		return nil, fmt.Errorf("%w: typ %q", ErrInvalid, h.Type())
	}
	if len(h.Critical()) > 0 {
		return nil, fmt.Errorf("%w: crit header not supported", ErrInvalid)
	}
	if b64, ok := h.Get("b64"); ok && b64 != true {
		return nil, fmt.Errorf("%w: unencoded payload not supported", ErrInvalid)
	}
	pub, ok := keys[h.KeyID()]
	if !ok || h.KeyID() == "" {
		return nil, fmt.Errorf("%w: unknown kid %q", ErrInvalid, h.KeyID())
	}
	if len(pub) != ed25519.PublicKeySize {
		return nil, fmt.Errorf("%w: key %q is not an Ed25519 public key", ErrInvalid, h.KeyID())
	}
	return pub, nil
}

// decode reads the payload strictly: numbers stay verbatim (json.Number) so
// that re-encoding reproduces the signer's canonical JSON, unknown fields and
// trailing data are refused.
func decode(payload []byte) (*Bundle, error) {
	var b Bundle
	if err := strictjson.DecodeReader(bytes.NewReader(payload), &b, strictjson.Options{UseNumber: true}); err != nil {
		return nil, fmt.Errorf("%w: payload: %v", ErrInvalid, err)
	}
	return &b, nil
}
