// Package seal encrypts secrets with AES-256-GCM so they can rest in Postgres
// (master key) or travel inside bundles (bundle seal key) without exposing
// them to anyone who can read the row or the NATS bucket.
//
// Sealed format (version 1):
//
//	0x01 || nonce (12 random bytes) || ciphertext || GCM tag (16 bytes)
//
// The caller's additional data (aad) is authenticated but not stored: it binds
// a sealed value to where it belongs (a key id, a row id), so a ciphertext
// copied to another place fails to open.
package seal

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
)

// KeySize is the only accepted key length: AES-256.
const KeySize = 32

// version1 marks the format above; a new format gets a new byte so old sealed
// values stay readable after a change.
const version1 byte = 0x01

const (
	nonceSize = 12
	tagSize   = 16
	overhead  = 1 + nonceSize + tagSize
)

// Errors returned by Open. ErrOpen deliberately does not say whether the key,
// the aad or the ciphertext was wrong: the caller cannot act on the difference
// and an attacker could.
var (
	ErrKeySize     = errors.New("seal: key must be 32 bytes")
	ErrOpen        = errors.New("seal: message authentication failed")
	ErrShort       = errors.New("seal: sealed value too short")
	ErrBadVersion  = errors.New("seal: unknown sealed format version")
	ErrKeyEncoding = errors.New("seal: key is not valid base64")
)

// Sealer seals and opens values with one key. It is safe for concurrent use.
type Sealer struct {
	aead cipher.AEAD
}

// New returns a Sealer for a 32-byte key.
func New(key []byte) (*Sealer, error) {
	if len(key) != KeySize {
		return nil, ErrKeySize
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("seal: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("seal: %w", err)
	}
	return &Sealer{aead: aead}, nil
}

// ParseKey decodes a base64 key (standard or URL alphabet, padded or not), as
// given in PORTCULLIS_MASTER_KEY and PORTCULLIS_BUNDLE_SEAL_KEY, and checks
// its length.
func ParseKey(b64 string) ([]byte, error) {
	s := strings.TrimSpace(b64)
	encodings := []*base64.Encoding{
		base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding,
	}
	for _, enc := range encodings {
		key, err := enc.DecodeString(s)
		if err != nil {
			continue
		}
		if len(key) != KeySize {
			return nil, ErrKeySize
		}
		return key, nil
	}
	return nil, ErrKeyEncoding
}

// Seal encrypts plaintext bound to aad. Each call uses a fresh random nonce;
// with 96-bit random nonces one key stays safe for about 2^32 seals, far more
// than the secrets a platform will ever hold.
func (s *Sealer) Seal(plaintext, aad []byte) ([]byte, error) {
	out := make([]byte, 1+nonceSize, overhead+len(plaintext))
	out[0] = version1
	if _, err := rand.Read(out[1:]); err != nil {
		return nil, fmt.Errorf("seal: nonce: %w", err)
	}
	return s.aead.Seal(out, out[1:1+nonceSize], plaintext, aad), nil
}

// Open decrypts a value produced by Seal with the same key and aad.
func (s *Sealer) Open(sealed, aad []byte) ([]byte, error) {
	if len(sealed) < overhead {
		return nil, ErrShort
	}
	if sealed[0] != version1 {
		return nil, ErrBadVersion
	}
	nonce := sealed[1 : 1+nonceSize]
	pt, err := s.aead.Open(nil, nonce, sealed[1+nonceSize:], aad)
	if err != nil {
		return nil, ErrOpen
	}
	return pt, nil
}
