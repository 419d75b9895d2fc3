package api

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/portcullis/portcullis/controlplane/internal/store"
	"github.com/portcullis/portcullis/shared/model"
)

// Code is a stable, public error code. Clients branch on it; its text never
// changes once published. Every error the API returns has exactly one code
// from the codes table below (errors as data, not strings in handlers).
type Code string

// Public error codes.
const (
	CodeInvalidJSON          Code = "invalid-json"
	CodeValidationFailed     Code = "validation-failed"
	CodeUnknownField         Code = "unknown-field"
	CodeBodyTooLarge         Code = "body-too-large"
	CodeUnsupportedMediaType Code = "unsupported-media-type"
	CodeInvalidParameter     Code = "invalid-parameter"
	CodeUnauthenticated      Code = "unauthenticated"
	CodeForbidden            Code = "forbidden"
	CodeNotFound             Code = "not-found"
	CodeMethodNotAllowed     Code = "method-not-allowed"
	CodeConflict             Code = "conflict"
	CodePreconditionFailed   Code = "precondition-failed"
	CodeIdempotencyKeyReuse  Code = "idempotency-key-reuse"
	CodeDelegationDisabled   Code = "delegation-disabled"
	CodeUnavailable          Code = "unavailable"
	CodeInternal             Code = "internal"
)

// codeInfo is the HTTP status and the RFC 9457 title of one code.
type codeInfo struct {
	Status int
	Title  string
}

// codes is the one table of error codes. api/openapi.yaml lists the same codes
// (a test keeps them in sync).
var codes = map[Code]codeInfo{
	CodeInvalidJSON:          {http.StatusBadRequest, "The request body is not valid JSON"},
	CodeValidationFailed:     {http.StatusUnprocessableEntity, "The request failed validation"},
	CodeUnknownField:         {http.StatusBadRequest, "The request body has an unknown field"},
	CodeBodyTooLarge:         {http.StatusRequestEntityTooLarge, "The request body is too large"},
	CodeUnsupportedMediaType: {http.StatusUnsupportedMediaType, "The request body must be application/json"},
	CodeInvalidParameter:     {http.StatusBadRequest, "A request parameter or header is invalid"},
	CodeUnauthenticated:      {http.StatusUnauthorized, "Authentication is required"},
	CodeForbidden:            {http.StatusForbidden, "The caller may not do this"},
	CodeNotFound:             {http.StatusNotFound, "The resource does not exist"},
	CodeMethodNotAllowed:     {http.StatusMethodNotAllowed, "The method is not allowed on this resource"},
	CodeConflict:             {http.StatusConflict, "The request conflicts with the current state"},
	CodePreconditionFailed:   {http.StatusPreconditionFailed, "The resource's revision does not match If-Match"},
	CodeIdempotencyKeyReuse:  {http.StatusUnprocessableEntity, "The Idempotency-Key was used with a different request"},
	CodeDelegationDisabled:   {http.StatusConflict, "Delegation is not enabled for this tenant"},
	CodeUnavailable:          {http.StatusServiceUnavailable, "The service is not ready"},
	CodeInternal:             {http.StatusInternalServerError, "Internal error"},
}

// problemTypeBase prefixes the code to form the RFC 9457 "type" URI.
const problemTypeBase = "urn:portcullis:problem:"

// problemContentType is the RFC 9457 media type.
const problemContentType = "application/problem+json"

// Problem is the RFC 9457 body of every error response.
type Problem struct {
	Type   string             `json:"type"`
	Title  string             `json:"title"`
	Status int                `json:"status"`
	Detail string             `json:"detail,omitempty"`
	Code   Code               `json:"code"`
	Errors []model.FieldError `json:"errors,omitempty"`
}

// Error is an error a handler returns to send a problem. Detail and Fields are
// public; cause is internal (logged, never sent).
type Error struct {
	Code   Code
	Detail string
	Fields []model.FieldError
	cause  error
}

func (e *Error) Error() string {
	msg := string(e.Code)
	if e.Detail != "" {
		msg += ": " + e.Detail
	}
	if e.cause != nil {
		msg += ": " + e.cause.Error()
	}
	return msg
}

func (e *Error) Unwrap() error { return e.cause }

// problemf returns an *Error with code and a formatted public detail.
func problemf(code Code, format string, args ...any) *Error {
	return &Error{Code: code, Detail: fmt.Sprintf(format, args...)}
}

// fieldProblem returns an *Error naming one offending field.
func fieldProblem(code Code, field, format string, args ...any) *Error {
	msg := fmt.Sprintf(format, args...)
	return &Error{Code: code, Detail: msg, Fields: []model.FieldError{{Field: field, Message: msg}}}
}

// validationProblem turns a model.ValidationError (from a Validate method) into
// a 422 listing every field error; any other error is internal.
func validationProblem(err error) error {
	if err == nil {
		return nil
	}
	var ve model.ValidationError
	if errors.As(err, &ve) {
		return invalidResource(ve)
	}
	return &Error{Code: CodeInternal, cause: err}
}

// invalidResource is the 422 listing every field error of ve.
func invalidResource(ve model.ValidationError) *Error {
	return &Error{Code: CodeValidationFailed, Detail: "the resource is invalid", Fields: []model.FieldError(ve)}
}

// toProblem maps any error a handler, middleware or the store returned to the
// problem sent to the client, and says whether it is worth logging as a server
// fault.
func toProblem(err error) (Problem, bool) {
	var ae *Error
	var he *echo.HTTPError
	var ve model.ValidationError
	serverFault := false
	switch {
	case errors.As(err, &ae):
		serverFault = codes[ae.Code].Status >= 500
	case errors.As(err, &ve):
		ae = invalidResource(ve)
	case errors.Is(err, store.ErrNotFound):
		ae = &Error{Code: CodeNotFound}
	case errors.Is(err, store.ErrConflict):
		ae = &Error{Code: CodeConflict, Detail: "a resource with the same name or id already exists, or its state does not allow this"}
	case errors.Is(err, store.ErrPrecondition):
		ae = &Error{Code: CodePreconditionFailed}
	case errors.Is(err, store.ErrForbidden):
		ae = &Error{Code: CodeForbidden}
	case errors.Is(err, store.ErrInvalid): // the store's backstop; handlers validate first
		ae = &Error{Code: CodeInvalidParameter, Detail: "a parameter (such as the cursor) or field is invalid"}
	case errors.As(err, &he):
		ae = fromHTTPError(he)
		serverFault = he.Code >= 500
	default:
		ae = &Error{Code: CodeInternal}
		serverFault = true
	}
	info, ok := codes[ae.Code]
	if !ok { // a code missing from the table is a bug; never send an unknown code
		ae, info, serverFault = &Error{Code: CodeInternal}, codes[CodeInternal], true
	}
	return Problem{
		Type:   problemTypeBase + string(ae.Code),
		Title:  info.Title,
		Status: info.Status,
		Detail: ae.Detail,
		Code:   ae.Code,
		Errors: ae.Fields,
	}, serverFault
}

// fromHTTPError maps echo's own errors (unknown route, wrong method) to codes.
func fromHTTPError(he *echo.HTTPError) *Error {
	switch he.Code {
	case http.StatusNotFound:
		return &Error{Code: CodeNotFound}
	case http.StatusMethodNotAllowed:
		return &Error{Code: CodeMethodNotAllowed}
	case http.StatusRequestEntityTooLarge:
		return &Error{Code: CodeBodyTooLarge}
	case http.StatusUnauthorized:
		return &Error{Code: CodeUnauthenticated}
	case http.StatusForbidden:
		return &Error{Code: CodeForbidden}
	case http.StatusUnsupportedMediaType:
		return &Error{Code: CodeUnsupportedMediaType}
	case http.StatusBadRequest:
		return &Error{Code: CodeInvalidParameter}
	case http.StatusServiceUnavailable:
		return &Error{Code: CodeUnavailable}
	default:
		return &Error{Code: CodeInternal}
	}
}
