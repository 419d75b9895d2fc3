package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"regexp"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/portcullis/portcullis/controlplane/internal/store"
	"github.com/portcullis/portcullis/shared/strictjson"
)

// bodyLimitKey is the echo context key of the route's body limit.
const bodyLimitKey = "portcullis.bodyLimit"

// withBodyLimit records a route's body limit and rejects a declared
// Content-Length above it before reading anything.
func withBodyLimit(limit int64) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			if c.Request().ContentLength > limit {
				return problemf(CodeBodyTooLarge, "the body may be at most %d bytes", limit)
			}
			c.Set(bodyLimitKey, limit)
			return next(c)
		}
	}
}

// readBody reads the whole request body, at most the route's limit, and
// checks that a non-empty body is JSON. An empty body reads as nil.
func readBody(c echo.Context) ([]byte, error) {
	limit, _ := c.Get(bodyLimitKey).(int64)
	if limit <= 0 {
		limit = DefaultConfig().BodyLimit
	}
	req := c.Request()
	data, err := io.ReadAll(io.LimitReader(req.Body, limit+1))
	if err != nil {
		return nil, problemf(CodeInvalidJSON, "the body could not be read")
	}
	if int64(len(data)) > limit {
		return nil, problemf(CodeBodyTooLarge, "the body may be at most %d bytes", limit)
	}
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, nil
	}
	mt, _, err := mime.ParseMediaType(req.Header.Get(echo.HeaderContentType))
	if err != nil || (mt != echo.MIMEApplicationJSON && !strings.HasSuffix(mt, "+json")) {
		return nil, problemf(CodeUnsupportedMediaType, "send the body as application/json")
	}
	return data, nil
}

// decodeStrict decodes exactly one JSON value into v, refusing unknown fields
// and trailing data, and names the field of a type error. An empty body is an
// error: callers with optional bodies check for nil first.
func decodeStrict(data []byte, v any) error {
	if len(data) == 0 {
		return problemf(CodeInvalidJSON, "a JSON body is required")
	}
	if err := strictjson.Decode(data, v); err != nil {
		if errors.Is(err, strictjson.ErrTrailingData) {
			return problemf(CodeInvalidJSON, "the body must hold a single JSON value")
		}
		return decodeProblem(err)
	}
	return nil
}

// unknownFieldPattern parses encoding/json's only description of an unknown
// field (it has no typed error for it).
var unknownFieldPattern = regexp.MustCompile(`^json: unknown field "(.*)"$`)

// decodeProblem maps a json decoding error to a problem naming the field.
func decodeProblem(err error) error {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syn):
		return problemf(CodeInvalidJSON, "malformed JSON at byte %d", syn.Offset)
	case errors.As(err, &typ):
		field := typ.Field
		if field == "" {
			return problemf(CodeInvalidJSON, "the body must be a JSON object")
		}
		return fieldProblem(CodeValidationFailed, field, "must be %s, not %s", jsonTypeName(typ.Type.String()), typ.Value)
	case errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF):
		return problemf(CodeInvalidJSON, "the JSON body ends too early")
	}
	if m := unknownFieldPattern.FindStringSubmatch(err.Error()); m != nil {
		return fieldProblem(CodeUnknownField, m[1], "unknown field")
	}
	return problemf(CodeInvalidJSON, "the body is not valid JSON for this resource")
}

// jsonTypeName describes a Go type in JSON terms for error messages.
func jsonTypeName(goType string) string {
	switch {
	case strings.HasPrefix(goType, "[]"):
		return "an array"
	case strings.HasPrefix(goType, "map["), strings.HasPrefix(goType, "struct"), strings.Contains(goType, "."):
		return "an object"
	case goType == "string":
		return "a string"
	case goType == "bool":
		return "a boolean"
	case strings.HasPrefix(goType, "int"), strings.HasPrefix(goType, "uint"), strings.HasPrefix(goType, "float"):
		return "a number"
	default:
		return goType
	}
}

// writeJSON writes v as JSON with contentType.
func writeJSON(c echo.Context, status int, contentType string, v any) error {
	data, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("encoding response: %w", err)
	}
	return c.Blob(status, contentType, data)
}

// setETag sets the strong ETag of a resource revision.
func setETag(c echo.Context, revision int64) {
	if revision > 0 {
		c.Response().Header().Set("ETag", `"`+strconv.FormatInt(revision, 10)+`"`)
	}
}

// ifMatch parses If-Match into the revision the store compares against; 0
// means unconditional (no header, or "*"). A value that can never match a
// revision fails the precondition, as RFC 9110 says an unmatched If-Match must.
func ifMatch(c echo.Context) (int64, error) {
	h := strings.TrimSpace(c.Request().Header.Get("If-Match"))
	if h == "" || h == "*" {
		return 0, nil
	}
	if len(h) >= 2 && h[0] == '"' && h[len(h)-1] == '"' {
		if n, err := strconv.ParseInt(h[1:len(h)-1], 10, 64); err == nil && n > 0 {
			return n, nil
		}
	}
	return 0, problemf(CodePreconditionFailed, "If-Match must be the ETag of the current revision")
}

// page parses ?cursor=&limit=.
func page(c echo.Context) (store.Page, error) {
	p := store.Page{Cursor: c.QueryParam("cursor"), Limit: 50}
	if len(p.Cursor) > 512 {
		return p, fieldProblem(CodeInvalidParameter, "cursor", "the cursor is invalid")
	}
	if s := c.QueryParam("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > 500 {
			return p, fieldProblem(CodeInvalidParameter, "limit", "limit must be an integer from 1 to 500")
		}
		p.Limit = n
	}
	return p, nil
}

// list is the envelope of every list response.
type list[T any] struct {
	Items      []T    `json:"items"`
	NextCursor string `json:"next_cursor,omitempty"`
}

// newList builds a list envelope; items is never null in JSON.
func newList[T any](items []T, next string) list[T] {
	if items == nil {
		items = []T{}
	}
	return list[T]{Items: items, NextCursor: next}
}

// uuidPattern is the shape of resource ids. Checking it up front turns a
// malformed id into a plain 404 instead of a database type error.
var uuidPattern = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)

// idParam returns the :name path parameter if it is a UUID, else a 404.
func idParam(c echo.Context, name string) (string, error) {
	id := c.Param(name)
	if !uuidPattern.MatchString(id) {
		return "", problemf(CodeNotFound, "no such resource")
	}
	return strings.ToLower(id), nil
}

// writeTarget returns the :id of a conditional write (update or delete) and
// its If-Match revision (see ifMatch).
func writeTarget(c echo.Context) (id string, rev int64, err error) {
	if id, err = idParam(c, "id"); err != nil {
		return "", 0, err
	}
	if rev, err = ifMatch(c); err != nil {
		return "", 0, err
	}
	return id, rev, nil
}

// ok writes a 200 JSON response.
func ok(c echo.Context, v any) error {
	return writeJSON(c, http.StatusOK, echo.MIMEApplicationJSON, v)
}

// quote quotes a user-supplied value in a message.
func quote(s string) string { return strconv.Quote(s) }

// fieldIndex names element i of a list field ("tools[2]").
func fieldIndex(field string, i int) string { return fmt.Sprintf("%s[%d]", field, i) }
