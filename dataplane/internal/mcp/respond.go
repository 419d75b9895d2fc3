package mcp

import (
	"encoding/json"
	"net/http"
)

// respond writes a JSON-RPC response in the negotiated format. An *Error that asks for
// an HTTP status is always written as plain JSON with that status: a client handles
// such refusals (a 401 step-up, say) before it looks for a stream.
func (h *Handler) respond(x *exchange, format string, id json.RawMessage, result any, rpcErr *Error) {
	body, err := encodeResponse(id, result, rpcErr)
	if err != nil {
		x.reason = err.Error()
		rpcErr = newError(CodeInternalError, "Internal error")
		// Encoding an error with no data cannot fail.
		body, _ = encodeResponse(id, nil, &Error{Code: rpcErr.Code, Message: rpcErr.Message})
		x.outcome = outcomeInternalError
	}
	if x.outcome == "" {
		switch {
		case rpcErr != nil:
			x.outcome = outcomeRPCError
		default:
			x.outcome = outcomeOK
		}
	}
	// Only error statuses are honoured: anything else from a layer is a bug, and
	// net/http panics on codes outside 100-999.
	if rpcErr != nil && rpcErr.HTTPStatus >= 400 && rpcErr.HTTPStatus <= 599 {
		for k, vs := range rpcErr.Header {
			for _, v := range vs {
				x.w.Header().Add(k, v)
			}
		}
		writeJSON(x, rpcErr.HTTPStatus, body)
		return
	}
	if format == mediaSSE {
		writeSSE(x, body)
		return
	}
	writeJSON(x, http.StatusOK, body)
}

// reject refuses a request at the HTTP level with a JSON-RPC error body (id null unless
// known), as the transport spec allows; reason goes to the log only.
func (h *Handler) reject(x *exchange, id json.RawMessage, status, code int, message, reason string) {
	x.outcome, x.reason = outcomeRejected, reason
	body, _ := encodeResponse(id, nil, newError(code, message))
	writeJSON(x, status, body)
}

// rejectPlain refuses a request with a short text body, for responses whose clients
// must not mistake them for a JSON-RPC answer (see verifySession).
func (h *Handler) rejectPlain(x *exchange, status int, message, reason string) {
	x.outcome, x.reason, x.status = outcomeRejected, reason, status
	x.w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	x.w.Header().Set("X-Content-Type-Options", "nosniff")
	x.w.WriteHeader(status)
	_, _ = x.w.Write([]byte(message + "\n"))
}

// fail reports our own failure (misconfiguration, a bug) without detail.
func (h *Handler) fail(x *exchange, id json.RawMessage, status int, reason string) {
	x.outcome, x.reason = outcomeInternalError, reason
	body, _ := encodeResponse(id, nil, newError(CodeInternalError, "Internal error"))
	writeJSON(x, status, body)
}

func writeJSON(x *exchange, status int, body []byte) {
	x.status = status
	h := x.w.Header()
	h.Set("Content-Type", mediaJSON)
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	x.w.WriteHeader(status)
	// A write error means the client went away; there is no one left to tell.
	_, _ = x.w.Write(body)
}

// writeSSE sends the response as a one-event stream and ends it. The event has no id:
// a stream is never resumed (there is nothing to replay on another replica), and
// without an id the official clients do not try to reconnect once they have the
// response. encodeResponse never emits a raw newline, so one data line suffices.
func writeSSE(x *exchange, body []byte) {
	x.status = http.StatusOK
	h := x.w.Header()
	h.Set("Content-Type", mediaSSE)
	h.Set("Cache-Control", "no-cache, no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Accel-Buffering", "no") // ask buffering proxies (nginx) to pass events through
	x.w.WriteHeader(http.StatusOK)
	buf := make([]byte, 0, len(body)+24)
	buf = append(buf, "event: message\ndata: "...)
	buf = append(buf, body...)
	buf = append(buf, "\n\n"...)
	_, _ = x.w.Write(buf)
	if f, ok := x.w.(http.Flusher); ok {
		f.Flush()
	}
}
