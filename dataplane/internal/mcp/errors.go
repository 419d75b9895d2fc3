package mcp

import (
	"fmt"
	"net/http"
	"unicode/utf8"
)

// Error is a protocol-level error: it becomes a JSON-RPC error response instead of a
// result. Layers behind Tools return it (possibly wrapped) to refuse a request; any
// other error they return is reported to the client as a bare internal error and its
// text only reaches the logs, so internal detail never leaks to agents.
//
// A tool that ran and failed is not a protocol error: it is a CallResult with IsError
// set, which the model can read and act on.
type Error struct {
	Code    int
	Message string
	Data    any // optional; marshalled as the JSON-RPC error's "data"

	// HTTPStatus, when a 4xx or 5xx, makes the transport answer with that status (and
	// Header) instead of 200, carrying the JSON-RPC error as the body. It exists for
	// refusals the client must handle at the HTTP level, such as an RFC 9470 step-up
	// (401 with WWW-Authenticate: Bearer error="insufficient_user_authentication").
	HTTPStatus int
	Header     http.Header
}

func (e *Error) Error() string {
	return fmt.Sprintf("mcp: JSON-RPC error %d: %s", e.Code, e.Message)
}

func newError(code int, message string) *Error {
	return &Error{Code: code, Message: message}
}

// maxEchoedName bounds how much of a client-supplied tool name is echoed back in an
// error, so a megabyte-long name does not produce a megabyte-long error.
const maxEchoedName = 128

// UnknownToolError is the one error for a tool the caller cannot call, whether it does
// not exist or the caller may not see it. Every layer must use it for both cases so
// that the response (code and text) leaks nothing about which one it was.
func UnknownToolError(name string) *Error {
	return newError(CodeInvalidParams, "Unknown tool: "+truncate(name, maxEchoedName))
}

// InvalidParamsError refuses a request whose parameters are wrong, for example tool
// arguments that fail the tool's input schema.
func InvalidParamsError(message string, data any) *Error {
	return &Error{Code: CodeInvalidParams, Message: message, Data: data}
}

// truncate cuts s to at most n bytes without splitting a UTF-8 sequence.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}
