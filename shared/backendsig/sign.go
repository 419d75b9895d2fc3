package backendsig

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Key is one HMAC key: its id and secret.
type Key struct {
	KID    string
	Secret []byte
}

// Signer signs forwarded requests with every key it holds, so that during a
// rotation backends that know only the old key or only the new key both accept.
type Signer struct {
	Keys []Key
}

// Sign sets the signature and identity headers on req for the given body
// (which must be exactly the bytes req will send; Sign does not touch
// req.Body). tenant and user may be empty but not contain control characters.
func (s Signer) Sign(req *http.Request, body []byte, tenant, user, requestID string, now time.Time) error {
	if len(s.Keys) == 0 {
		return errors.New("backendsig: no signing keys")
	}
	if len(s.Keys) > maxSignatures {
		return fmt.Errorf("backendsig: at most %d keys", maxSignatures)
	}
	if !idPattern.MatchString(requestID) {
		return fmt.Errorf("backendsig: request id %q not allowed", requestID)
	}
	if hasControl(tenant) || hasControl(user) {
		return errors.New("backendsig: control character in tenant or user")
	}
	method := req.Method
	if method == "" {
		method = http.MethodGet // what net/http sends for an empty Method
	}
	h := Header{Timestamp: now.Unix(), ID: requestID}
	canon := Canonical(h.Timestamp, requestID, method, req.URL.RequestURI(), body, tenant, user)
	for _, k := range s.Keys {
		if !idPattern.MatchString(k.KID) || len(k.Secret) == 0 {
			return fmt.Errorf("backendsig: bad key %q", k.KID)
		}
		h.Signatures = append(h.Signatures, Signature{KID: k.KID, V1: mac(k.Secret, canon)})
	}
	req.Header.Set(SignatureHeader, h.String())
	req.Header.Set(TenantHeader, tenant)
	req.Header.Set(UserHeader, user)
	req.Header.Set(RequestIDHeader, requestID)
	return nil
}

// Canonical returns the string that v1 signs:
//
//	t \n id \n METHOD \n request-target \n sha256hex(body) \n tenant \n user
//
// METHOD is the request method as sent (case kept). request-target is the
// path and query exactly as in the HTTP request line (percent-encoding
// untouched, "?query" only when the request line has one).
func Canonical(t int64, id, method, target string, body []byte, tenant, user string) []byte {
	sum := sha256.Sum256(body)
	return []byte(strings.Join([]string{
		strconv.FormatInt(t, 10), id, method, target,
		hex.EncodeToString(sum[:]), tenant, user,
	}, "\n"))
}

func mac(secret, canon []byte) []byte {
	m := hmac.New(sha256.New, secret)
	m.Write(canon)
	return m.Sum(nil)
}

func hasControl(s string) bool {
	return strings.ContainsFunc(s, func(r rune) bool { return r < 0x20 || r == 0x7f })
}
