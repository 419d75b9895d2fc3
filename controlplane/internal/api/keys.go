package api

import (
	"context"
	"encoding/base64"
	"net/http"
	"regexp"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/portcullis/portcullis/controlplane/internal/store"
	"github.com/portcullis/portcullis/shared/model"
)

// Rotation overlap bounds: long enough for every gateway to pick up the new
// key, short enough that a leaked old key dies within a week.
const (
	minOverlap     = 60 * time.Second
	maxOverlap     = 7 * 24 * time.Hour
	defaultOverlap = 24 * time.Hour
)

// signingKey is a backend HMAC key as the API shows it. Secret (base64) is
// present only in the response that creates it.
type signingKey struct {
	model.BackendKey
	Secret string `json:"secret,omitempty"`
}

// rotateRequest is the (optional) body of a rotation.
type rotateRequest struct {
	OverlapSeconds *int `json:"overlap_seconds"`
}

// kidPattern bounds key ids taken from the path before they reach the store.
var kidPattern = regexp.MustCompile(`^[a-zA-Z0-9_.-]{1,128}$`)

func kidParam(c echo.Context) (string, error) {
	kid := c.Param("kid")
	if !kidPattern.MatchString(kid) {
		return "", problemf(CodeNotFound, "no such signing key")
	}
	return kid, nil
}

func withSecret(k store.BackendKeyRecord) signingKey {
	return signingKey{BackendKey: k.BackendKey, Secret: base64.StdEncoding.EncodeToString(k.Secret)}
}

func (s *server) listSigningKeys(c echo.Context) error {
	var keys []model.BackendKey
	err := s.inTx(c, func(tx store.Tx) error {
		recs, err := tx.ListBackendKeys(c.Request().Context())
		for _, r := range recs {
			keys = append(keys, r.BackendKey)
		}
		return err
	})
	if err != nil {
		return err
	}
	return ok(c, newList(keys, ""))
}

func (s *server) getSigningKey(c echo.Context) error {
	kid, err := kidParam(c)
	if err != nil {
		return err
	}
	var key model.BackendKey
	err = s.inTx(c, func(tx store.Tx) (err error) {
		key, err = findKey(c, tx, kid)
		return err
	})
	if err != nil {
		return err
	}
	return ok(c, key)
}

// findKey returns the metadata of one key.
func findKey(c echo.Context, tx store.Tx, kid string) (model.BackendKey, error) {
	recs, err := tx.ListBackendKeys(c.Request().Context())
	if err != nil {
		return model.BackendKey{}, err
	}
	for _, r := range recs {
		if r.KID == kid {
			return r.BackendKey, nil
		}
	}
	return model.BackendKey{}, problemf(CodeNotFound, "no such signing key")
}

func (s *server) createSigningKey(c echo.Context) error {
	if _, err := readEmptyBody(c); err != nil {
		return err
	}
	return s.writeNewKey(c, func(ctx context.Context, tx store.Tx) (store.BackendKeyRecord, error) {
		return tx.CreateBackendKey(ctx)
	})
}

// readEmptyBody reads a body that may only be absent or an empty object.
func readEmptyBody(c echo.Context) ([]byte, error) {
	body, err := readBody(c)
	if err != nil {
		return nil, err
	}
	if body != nil {
		if err := decodeStrict(body, &struct{}{}); err != nil {
			return nil, err
		}
	}
	return body, nil
}

// writeNewKey creates a key with create and answers 201 with it and its
// secret, which is shown this once.
func (s *server) writeNewKey(c echo.Context, create func(ctx context.Context, tx store.Tx) (store.BackendKeyRecord, error)) error {
	return s.writeSecret(c, func(tx store.Tx) (reply, error) {
		k, err := create(c.Request().Context(), tx)
		if err != nil {
			return reply{}, err
		}
		return reply{status: http.StatusCreated, body: withSecret(k), location: "/v1/signing-keys/" + k.KID}, nil
	})
}

func (s *server) rotateSigningKey(c echo.Context) error {
	kid, err := kidParam(c)
	if err != nil {
		return err
	}
	body, err := readBody(c)
	if err != nil {
		return err
	}
	overlap := defaultOverlap
	if body != nil {
		var req rotateRequest
		if err := decodeStrict(body, &req); err != nil {
			return err
		}
		if req.OverlapSeconds != nil {
			overlap = time.Duration(*req.OverlapSeconds) * time.Second
			if overlap < minOverlap || overlap > maxOverlap {
				return fieldProblem(CodeValidationFailed, "overlap_seconds", "must be from %d to %d", int(minOverlap.Seconds()), int(maxOverlap.Seconds()))
			}
		}
	}
	return s.writeNewKey(c, func(ctx context.Context, tx store.Tx) (store.BackendKeyRecord, error) {
		return tx.RotateBackendKey(ctx, kid, overlap)
	})
}

func (s *server) revokeSigningKey(c echo.Context) error {
	kid, err := kidParam(c)
	if err != nil {
		return err
	}
	body, err := readEmptyBody(c)
	if err != nil {
		return err
	}
	return s.write(c, body, func(tx store.Tx) (reply, error) {
		if err := tx.RevokeBackendKey(c.Request().Context(), kid); err != nil {
			return reply{}, err
		}
		k, err := findKey(c, tx, kid)
		if err != nil {
			return reply{}, err
		}
		return reply{status: http.StatusOK, body: k}, nil
	})
}
