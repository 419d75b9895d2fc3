package backendsig

import (
	"encoding/hex"
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// Header names. The gateway sets all four on every forwarded request and
// removes any the agent sent.
const (
	SignatureHeader = "Portcullis-Signature"
	TenantHeader    = "Portcullis-Tenant-Id"
	UserHeader      = "Portcullis-User-Id"
	RequestIDHeader = "Portcullis-Request-Id"
)

// Limits on the signature header, so parsing a hostile header costs little.
const (
	maxHeaderLen  = 4096
	maxSignatures = 8
	macSize       = 32 // HMAC-SHA256
)

// idPattern bounds request ids and kids to characters that cannot break the
// header syntax (",", "=") or the canonical string ("\n").
var idPattern = regexp.MustCompile(`^[A-Za-z0-9._:-]{1,128}$`)

// Signature is one kid=…,v1=… pair.
type Signature struct {
	KID string
	V1  []byte // raw HMAC-SHA256, 32 bytes
}

// Header is a parsed Portcullis-Signature value.
type Header struct {
	Timestamp  int64 // unix seconds
	ID         string
	Signatures []Signature
}

// String formats h as the header value.
func (h Header) String() string {
	var b strings.Builder
	b.WriteString("t=" + strconv.FormatInt(h.Timestamp, 10) + ",id=" + h.ID)
	for _, s := range h.Signatures {
		b.WriteString(",kid=" + s.KID + ",v1=" + hex.EncodeToString(s.V1))
	}
	return b.String()
}

// ParseHeader parses "t=<unix>,id=<request id>,kid=<kid>,v1=<hex>[,kid=…,v1=…]".
// t and id must appear exactly once; each v1 must directly follow its kid.
// Parts with other names are ignored, so a later scheme (v2=…) can be sent
// alongside v1 without breaking verifiers that predate it.
func ParseHeader(s string) (Header, error) {
	var h Header
	if len(s) > maxHeaderLen {
		return h, fmt.Errorf("%w: header too long", ErrMalformed)
	}
	var haveT, haveID bool
	pendingKID := ""
	for _, part := range strings.Split(s, ",") {
		name, value, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok {
			return Header{}, fmt.Errorf("%w: part %q is not name=value", ErrMalformed, part)
		}
		var err error
		switch name {
		case "t":
			if haveT {
				return Header{}, fmt.Errorf("%w: repeated t", ErrMalformed)
			}
			haveT = true
			h.Timestamp, err = parseTimestamp(value)
		case "id":
			if haveID {
				return Header{}, fmt.Errorf("%w: repeated id", ErrMalformed)
			}
			haveID = true
			h.ID, err = parseID("id", value)
		case "kid":
			if pendingKID != "" {
				return Header{}, fmt.Errorf("%w: kid without v1", ErrMalformed)
			}
			pendingKID, err = parseID("kid", value)
		case "v1":
			if pendingKID == "" {
				return Header{}, fmt.Errorf("%w: v1 without kid", ErrMalformed)
			}
			var mac []byte
			mac, err = parseMAC(value)
			h.Signatures = append(h.Signatures, Signature{KID: pendingKID, V1: mac})
			pendingKID = ""
		}
		if err != nil {
			return Header{}, err
		}
	}
	switch {
	case !haveT:
		return Header{}, fmt.Errorf("%w: missing t", ErrMalformed)
	case !haveID:
		return Header{}, fmt.Errorf("%w: missing id", ErrMalformed)
	case pendingKID != "":
		return Header{}, fmt.Errorf("%w: kid without v1", ErrMalformed)
	case len(h.Signatures) == 0:
		return Header{}, fmt.Errorf("%w: no signature", ErrMalformed)
	case len(h.Signatures) > maxSignatures:
		return Header{}, fmt.Errorf("%w: too many signatures", ErrMalformed)
	}
	return h, nil
}

func parseTimestamp(v string) (int64, error) {
	// Digits only: no sign, no spaces, no leading "+", at most 12 digits.
	if len(v) == 0 || len(v) > 12 || strings.Trim(v, "0123456789") != "" {
		return 0, fmt.Errorf("%w: bad t", ErrMalformed)
	}
	t, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%w: bad t", ErrMalformed)
	}
	return t, nil
}

func parseID(name, v string) (string, error) {
	if !idPattern.MatchString(v) {
		return "", fmt.Errorf("%w: bad %s", ErrMalformed, name)
	}
	return v, nil
}

func parseMAC(v string) ([]byte, error) {
	if len(v) != 2*macSize {
		return nil, fmt.Errorf("%w: bad v1 length", ErrMalformed)
	}
	mac, err := hex.DecodeString(v)
	if err != nil {
		return nil, fmt.Errorf("%w: bad v1 hex", ErrMalformed)
	}
	return mac, nil
}
