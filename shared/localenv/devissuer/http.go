package devissuer

import (
	"encoding/json"
	"fmt"
	"mime"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/portcullis/portcullis/shared/strictjson"
)

const maxTokenRequestBytes = 64 << 10

// Handler serves:
//
//	GET  /.well-known/openid-configuration  discovery (issuer, jwks_uri, token_endpoint)
//	GET  /jwks.json                          public keys
//	POST /token                              mint a token (loopback clients only)
//
// /token accepts a form or a JSON object with: sub, tenant, roles, permissions, email,
// audience, acr, ttl. In a form, roles/permissions/audience may repeat or be comma-separated;
// ttl is a Go duration ("12h") or seconds. The answer is {"access_token","token_type","expires_in"}.
func (i *Issuer) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /.well-known/openid-configuration", i.serveDiscovery)
	mux.HandleFunc("GET /jwks.json", i.serveJWKS)
	mux.HandleFunc("POST /token", i.serveToken)
	return mux
}

func (i *Issuer) serveDiscovery(w http.ResponseWriter, _ *http.Request) {
	iss := i.URL()
	writeJSON(w, http.StatusOK, map[string]any{
		"issuer":                                iss,
		"jwks_uri":                              iss + "/jwks.json",
		"token_endpoint":                        iss + "/token",
		"id_token_signing_alg_values_supported": []string{"RS256"},
		"response_types_supported":              []string{"token"},
		"subject_types_supported":               []string{"public"},
		"grant_types_supported":                 []string{"client_credentials"},
		"claims_supported": []string{"sub", "iss", "aud", "exp", "iat", "nbf", "jti", "acr", "auth_time",
			ClaimTenantID, ClaimRoles, ClaimPermissions, ClaimEmail},
	})
}

func (i *Issuer) serveJWKS(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Cache-Control", "public, max-age=60")
	writeJSON(w, http.StatusOK, i.pubSet)
}

// tokenRequest is the JSON form of a /token request.
type tokenRequest struct {
	Sub         string   `json:"sub"`
	Tenant      string   `json:"tenant"`
	Roles       []string `json:"roles"`
	Permissions []string `json:"permissions"`
	Email       string   `json:"email"`
	Audience    []string `json:"audience"`
	ACR         string   `json:"acr"`
	TTL         string   `json:"ttl"`
}

func (i *Issuer) serveToken(w http.ResponseWriter, r *http.Request) {
	if !isLoopback(r.RemoteAddr) {
		writeError(w, http.StatusForbidden, "the dev issuer only mints tokens for loopback clients")
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxTokenRequestBytes)
	req, err := decodeTokenRequest(r)
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	ttl, err := parseTTL(req.TTL)
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	tok, err := i.Mint(Claims{Subject: req.Sub, Email: req.Email, TenantID: req.Tenant, Roles: req.Roles,
		Permissions: req.Permissions, Audience: req.Audience, ACR: req.ACR, TTL: ttl})
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	if ttl == 0 {
		ttl = DefaultTTL
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"access_token": tok, "token_type": "Bearer", "expires_in": int(ttl / time.Second),
	})
}

func decodeTokenRequest(r *http.Request) (tokenRequest, error) {
	var req tokenRequest
	ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if ct == "application/json" {
		if err := strictjson.DecodeReader(r.Body, &req, strictjson.Options{}); err != nil {
			return req, fmt.Errorf("invalid JSON body: %w", err)
		}
		return req, nil
	}
	if err := r.ParseForm(); err != nil {
		return req, fmt.Errorf("invalid form: %w", err)
	}
	f := r.PostForm
	req = tokenRequest{Sub: f.Get("sub"), Tenant: f.Get("tenant"), Email: f.Get("email"), ACR: f.Get("acr"),
		TTL: f.Get("ttl"), Roles: listValue(f["roles"]), Permissions: listValue(f["permissions"]),
		Audience: listValue(f["audience"])}
	return req, nil
}

// listValue accepts both repeated fields and comma-separated values.
func listValue(vals []string) []string {
	var out []string
	for _, v := range vals {
		for _, s := range strings.Split(v, ",") {
			if s = strings.TrimSpace(s); s != "" {
				out = append(out, s)
			}
		}
	}
	return out
}

func parseTTL(s string) (time.Duration, error) {
	if s == "" {
		return 0, nil
	}
	if n, err := strconv.Atoi(s); err == nil {
		return time.Duration(n) * time.Second, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("invalid ttl %q: use seconds or a duration like 12h", s)
	}
	return d, nil
}

func isLoopback(remoteAddr string) bool {
	host, _, err := net.SplitHostPort(remoteAddr)
	if err != nil {
		return false
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, status int, detail string) {
	w.Header().Set("Content-Type", "application/problem+json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]any{
		"type": "about:blank", "title": http.StatusText(status), "status": status, "detail": detail,
	})
}
