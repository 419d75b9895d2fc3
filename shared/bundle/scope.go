package bundle

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/portcullis/portcullis/shared/model"
)

// tenantIDPattern is the agreed tenant id syntax (CONTRACTS.md). It is also
// what keeps a tenant id safe inside a NATS KV key.
var tenantIDPattern = regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9_-]{0,63}$`)

const (
	globalKey       = "global"
	tenantKeyPrefix = "tenant."
	tenantScopePfx  = "tenant/"
)

// ValidTenantID reports whether id is an acceptable tenant id.
func ValidTenantID(id string) bool { return tenantIDPattern.MatchString(id) }

// parseScope splits a scope into its tenant id (empty for global).
func parseScope(s model.Scope) (tenantID string, global bool, err error) {
	if s == model.GlobalScope {
		return "", true, nil
	}
	id, ok := strings.CutPrefix(string(s), tenantScopePfx)
	if !ok || !ValidTenantID(id) {
		return "", false, fmt.Errorf("%w: bad scope %q", ErrInvalid, s)
	}
	return id, false, nil
}

// ValidateScope returns an error wrapping ErrInvalid unless s is "global" or
// "tenant/<valid tenant id>".
func ValidateScope(s model.Scope) error {
	_, _, err := parseScope(s)
	return err
}

// KeyFor returns the KV key of a scope: "global" or "tenant.<id>". It returns
// "" for an invalid scope, which no KV bucket accepts as a key.
func KeyFor(s model.Scope) string {
	id, global, err := parseScope(s)
	switch {
	case err != nil:
		return ""
	case global:
		return globalKey
	default:
		return tenantKeyPrefix + id
	}
}

// ScopeFromKey is the inverse of KeyFor.
func ScopeFromKey(key string) (model.Scope, error) {
	if key == globalKey {
		return model.GlobalScope, nil
	}
	id, ok := strings.CutPrefix(key, tenantKeyPrefix)
	if !ok || !ValidTenantID(id) {
		return "", fmt.Errorf("%w: bad KV key %q", ErrInvalid, key)
	}
	return model.TenantScope(id), nil
}
