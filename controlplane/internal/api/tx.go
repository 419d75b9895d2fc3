package api

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/portcullis/portcullis/controlplane/internal/store"
)

// reply is a write's response, computed inside its transaction so that it can
// be stored with the Idempotency-Key record in that same transaction.
type reply struct {
	status   int
	body     any // nil: no body (204)
	location string
}

// inTx runs fn in one transaction as the caller.
func (s *server) inTx(c echo.Context, fn func(tx store.Tx) error) error {
	return s.store.Tx(c.Request().Context(), callerOf(c).actor(), fn)
}

// lister reads one page of a collection in the caller's transaction.
type lister[T any] func(ctx context.Context, tx store.Tx, p store.Page) ([]T, string, error)

// listPage answers a list request: the page its query parameters ask for,
// read in one transaction as the caller.
func listPage[T any](s *server, c echo.Context, list lister[T]) error {
	p, err := page(c)
	if err != nil {
		return err
	}
	var items []T
	var next string
	err = s.inTx(c, func(tx store.Tx) (err error) {
		items, next, err = list(c.Request().Context(), tx, p)
		return err
	})
	if err != nil {
		return err
	}
	return ok(c, newList(items, next))
}

// listResources lists the records of kind in tenantID's scope ("" = global)
// as their API representations.
func listResources(kind store.Kind, tenantID string) lister[json.RawMessage] {
	return func(ctx context.Context, tx store.Tx, p store.Page) ([]json.RawMessage, string, error) {
		recs, next, err := tx.ListResources(ctx, kind, tenantID, p)
		if err != nil {
			return nil, "", err
		}
		items, err := representations(recs)
		return items, next, err
	}
}

// errIdempotencyRace means a concurrent request with the same key committed
// first; the write is rolled back and retried once, which then replays.
var errIdempotencyRace = errors.New("api: concurrent request with the same Idempotency-Key")

// write runs fn in one transaction as the caller and sends its reply. On a
// POST with an Idempotency-Key, the reply is saved in the same transaction as
// the write, so a retry after a lost response replays it and never writes
// twice; the same key with a different request is refused.
func (s *server) write(c echo.Context, body []byte, fn func(tx store.Tx) (reply, error)) error {
	key, err := idempotencyKey(c)
	if err != nil {
		return err
	}
	cl := callerOf(c)
	ctx := c.Request().Context()
	hash := requestHash(c.Request(), body)
	var out store.IdempotentResponse
	replayed := false
	run := func() error {
		return s.store.Tx(ctx, cl.actor(), func(tx store.Tx) error {
			if key != "" {
				prev, err := tx.LookupIdempotency(ctx, cl.idempotencyPrincipal(), key)
				if err != nil {
					return err
				}
				if prev != nil {
					if prev.RequestHash != hash {
						return problemf(CodeIdempotencyKeyReuse, "this Idempotency-Key was used for a different request")
					}
					out, replayed = *prev, true
					return nil
				}
			}
			r, err := fn(tx)
			if err != nil {
				return err
			}
			out = store.IdempotentResponse{RequestHash: hash, Status: r.status, Location: r.location}
			if r.body != nil {
				if out.Body, err = json.Marshal(r.body); err != nil {
					return err
				}
			}
			if key == "" {
				return nil
			}
			if err := tx.SaveIdempotency(ctx, cl.idempotencyPrincipal(), key, out); err != nil {
				if errors.Is(err, store.ErrConflict) {
					return errIdempotencyRace
				}
				return err
			}
			return nil
		})
	}
	err = run()
	// A concurrent request with the same key may have committed between our
	// lookup and our write (our write then clashes with its rows, or our
	// record with its record): run once more, which replays its response.
	if key != "" && (errors.Is(err, errIdempotencyRace) || errors.Is(err, store.ErrConflict)) {
		err = run()
	}
	if err != nil {
		return err
	}
	if replayed {
		c.Response().Header().Set("Idempotent-Replayed", "true")
	}
	return send(c, out)
}

// writeSecret runs a write whose response holds a secret. Such a response is
// never stored (it would keep the secret outside the sealed key table), so
// Idempotency-Key is refused rather than silently ignored.
func (s *server) writeSecret(c echo.Context, fn func(tx store.Tx) (reply, error)) error {
	if c.Request().Header.Get("Idempotency-Key") != "" {
		return fieldProblem(CodeInvalidParameter, "Idempotency-Key",
			"Idempotency-Key is not supported here: the response holds a secret that is shown only once")
	}
	var out store.IdempotentResponse
	err := s.inTx(c, func(tx store.Tx) error {
		r, err := fn(tx)
		if err != nil {
			return err
		}
		out = store.IdempotentResponse{Status: r.status, Location: r.location}
		if r.body != nil {
			out.Body, err = json.Marshal(r.body)
		}
		return err
	})
	if err != nil {
		return err
	}
	c.Response().Header().Set("Cache-Control", "no-store")
	return send(c, out)
}

// send writes a (possibly replayed) reply with its Location and ETag.
func send(c echo.Context, r store.IdempotentResponse) error {
	if r.Location != "" {
		c.Response().Header().Set(echo.HeaderLocation, r.Location)
	}
	if r.Body == nil {
		return c.NoContent(r.Status)
	}
	var meta struct {
		Revision int64 `json:"revision"`
	}
	if json.Unmarshal(r.Body, &meta) == nil {
		setETag(c, meta.Revision)
	}
	return c.Blob(r.Status, echo.MIMEApplicationJSON, r.Body)
}

// idempotencyKey returns the Idempotency-Key of a POST ("" if none). Keys on
// other methods are ignored: PUT and DELETE are idempotent already.
func idempotencyKey(c echo.Context) (string, error) {
	if c.Request().Method != http.MethodPost {
		return "", nil
	}
	key := c.Request().Header.Get("Idempotency-Key")
	if key == "" {
		return "", nil
	}
	if len(key) > 255 {
		return "", fieldProblem(CodeInvalidParameter, "Idempotency-Key", "must be at most 255 characters")
	}
	if !visibleASCII(key) {
		return "", fieldProblem(CodeInvalidParameter, "Idempotency-Key", "must be printable ASCII without spaces")
	}
	return key, nil
}

// visibleASCII reports whether s is printable ASCII without spaces
// (0x21–0x7e): safe to echo in headers and log lines.
func visibleASCII(s string) bool {
	return !strings.ContainsFunc(s, func(r rune) bool { return r < 0x21 || r > 0x7e })
}

// requestHash identifies a request for Idempotency-Key reuse detection.
func requestHash(r *http.Request, body []byte) string {
	h := sha256.New()
	h.Write([]byte(r.Method + " " + r.URL.Path + "\n" + strconv.Itoa(len(body)) + "\n"))
	h.Write(body)
	return hex.EncodeToString(h.Sum(nil))
}
