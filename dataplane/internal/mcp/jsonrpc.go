package mcp

import (
	"bytes"
	"encoding/json"
	"fmt"
	"unicode/utf8"
)

// JSON-RPC 2.0 error codes (https://www.jsonrpc.org/specification#error_object).
const (
	CodeParseError     = -32700
	CodeInvalidRequest = -32600
	CodeMethodNotFound = -32601
	CodeInvalidParams  = -32602
	CodeInternalError  = -32603
)

// jsonrpcVersion is the only value of the "jsonrpc" member a message may carry.
const jsonrpcVersion = "2.0"

// messageKind says what a decoded message is; the transport treats each kind differently
// (requests get a response, notifications and responses get 202 Accepted).
type messageKind int

const (
	kindRequest messageKind = iota + 1
	kindNotification
	kindResponse
)

// message is one decoded, shape-checked JSON-RPC message from a client.
type message struct {
	kind   messageKind
	id     json.RawMessage // the request id exactly as sent (a JSON string or number); nil for notifications
	method string
	params json.RawMessage // nil when absent or null
}

// wireMessage is the envelope decoded before validation. Every member is raw so that a
// member of the wrong JSON type is an invalid request (-32600) rather than a parse error.
type wireMessage struct {
	JSONRPC json.RawMessage `json:"jsonrpc"`
	ID      json.RawMessage `json:"id"`
	Method  json.RawMessage `json:"method"`
	Params  json.RawMessage `json:"params"`
	Result  json.RawMessage `json:"result"`
	Error   json.RawMessage `json:"error"`
}

// decodeMessage parses one HTTP POST body. It never panics; a non-nil *Error is the
// JSON-RPC error to answer with, and the returned id (possibly nil) is the request id if
// one could be recovered, so the error can be correlated.
//
// Batches (JSON arrays) are rejected with a single invalid-request error: MCP
// 2025-06-18 removed JSON-RPC batching and later versions did not restore it.
func decodeMessage(body []byte) (message, json.RawMessage, *Error) {
	trimmed := bytes.TrimLeft(body, " \t\r\n")
	if len(trimmed) == 0 || !utf8.Valid(trimmed) || !json.Valid(trimmed) {
		return message{}, nil, newError(CodeParseError, "Parse error")
	}
	switch trimmed[0] {
	case '{':
	case '[':
		return message{}, nil, newError(CodeInvalidRequest, "Invalid Request: batches are not supported")
	default:
		return message{}, nil, newError(CodeInvalidRequest, "Invalid Request: expected a JSON object")
	}
	var w wireMessage
	if err := json.Unmarshal(trimmed, &w); err != nil {
		// json.Valid passed, so this cannot be a syntax error; be defensive anyway.
		return message{}, nil, newError(CodeParseError, "Parse error")
	}
	id, idErr := validID(w.ID)
	if idErr != nil {
		id = nil
	}
	msg, err := classify(w, id, idErr)
	if err != nil {
		return message{}, id, err
	}
	if hasDuplicateKeys(trimmed) {
		// Parsers disagree on which duplicate wins (Go: the last; many: the first). A
		// schema check that saw one value and a backend that sees another is a classic
		// bypass, so such messages are refused outright (as I-JSON, RFC 7493, requires).
		return message{}, id, newError(CodeInvalidRequest, "Invalid Request: duplicate member names in an object")
	}
	return msg, id, nil
}

// classify checks the envelope's members and decides the message kind.
func classify(w wireMessage, id json.RawMessage, idErr *Error) (message, *Error) {
	var version string
	if json.Unmarshal(w.JSONRPC, &version) != nil || version != jsonrpcVersion {
		return message{}, newError(CodeInvalidRequest, `Invalid Request: "jsonrpc" must be "2.0"`)
	}
	if idErr != nil {
		return message{}, idErr
	}
	hasResult, hasError := present(w.Result), present(w.Error)
	if w.Method == nil {
		// A response from the client (to a server request). This server never sends
		// requests to clients, but accepting and ignoring one is what the spec asks.
		if id == nil || hasResult == hasError {
			return message{}, newError(CodeInvalidRequest, "Invalid Request: missing method")
		}
		return message{kind: kindResponse, id: id}, nil
	}
	var method string
	if json.Unmarshal(w.Method, &method) != nil || method == "" {
		return message{}, newError(CodeInvalidRequest, `Invalid Request: "method" must be a non-empty string`)
	}
	if hasResult || hasError {
		return message{}, newError(CodeInvalidRequest, "Invalid Request: a request cannot carry a result or an error")
	}
	params := w.Params
	if !present(params) {
		params = nil
	} else if c := firstByte(params); c != '{' && c != '[' {
		return message{}, newError(CodeInvalidRequest, `Invalid Request: "params" must be an object`)
	}
	kind := kindRequest
	if id == nil {
		kind = kindNotification
	}
	return message{kind: kind, id: id, method: method, params: params}, nil
}

// validID returns the id if it is a JSON string or number. MCP forbids null ids, and
// JSON-RPC forbids structured ones. A nil id means the member was absent.
func validID(raw json.RawMessage) (json.RawMessage, *Error) {
	if raw == nil {
		return nil, nil
	}
	switch c := firstByte(raw); {
	case c == '"':
		return raw, nil
	case c == '-' || (c >= '0' && c <= '9'):
		return raw, nil
	default:
		return nil, newError(CodeInvalidRequest, `Invalid Request: "id" must be a string or a number`)
	}
}

// hasDuplicateKeys reports whether any object in data repeats a member name. Names are
// compared after unescaping, so "a" and "\u0061" collide.
//
// data must already be valid JSON (json.Valid): this is a single pass over the bytes
// that trusts the syntax. It exists because encoding/json's token API, the obvious way
// to do this, runs at ~15 MB/s, which would make a 4 MiB body cost a quarter second.
func hasDuplicateKeys(data []byte) bool {
	var stack []objectKeys // one entry per open object or array
	valueDone := func() {
		if n := len(stack); n > 0 && stack[n-1].object {
			stack[n-1].expectKey = true
		}
	}
	for i := 0; i < len(data); {
		switch c := data[i]; c {
		case '{':
			stack = append(stack, objectKeys{object: true, expectKey: true})
			i++
		case '[':
			stack = append(stack, objectKeys{})
			i++
		case '}', ']':
			if len(stack) == 0 {
				return false // not valid JSON; the caller has already refused it
			}
			stack = stack[:len(stack)-1]
			valueDone()
			i++
		case '"':
			end, escaped := scanString(data, i)
			if top := len(stack) - 1; top >= 0 && stack[top].object && stack[top].expectKey {
				key := data[i+1 : end-1]
				if escaped {
					var s string
					if json.Unmarshal(data[i:end], &s) != nil {
						return false
					}
					key = []byte(s)
				}
				if !stack[top].add(key) {
					return true
				}
				stack[top].expectKey = false
			} else {
				valueDone()
			}
			i = end
		case ',', ':', ' ', '\t', '\r', '\n':
			i++
		default: // number, true, false, null
			for i < len(data) && !isJSONDelimiter(data[i]) {
				i++
			}
			valueDone()
		}
	}
	return false
}

// objectKeys tracks the member names seen in one open object. Small objects, the common
// case, are checked by a linear scan of a slice; large ones switch to a map.
type objectKeys struct {
	object    bool
	expectKey bool
	small     [][]byte
	large     map[string]struct{}
}

const smallObjectKeys = 16

// add records key and reports false if it was already there.
func (o *objectKeys) add(key []byte) bool {
	if o.large != nil {
		if _, dup := o.large[string(key)]; dup {
			return false
		}
		o.large[string(key)] = struct{}{}
		return true
	}
	for _, k := range o.small {
		if bytes.Equal(k, key) {
			return false
		}
	}
	if len(o.small) < smallObjectKeys {
		o.small = append(o.small, key)
		return true
	}
	o.large = make(map[string]struct{}, 2*smallObjectKeys)
	for _, k := range o.small {
		o.large[string(k)] = struct{}{}
	}
	o.small = nil
	o.large[string(key)] = struct{}{}
	return true
}

// scanString returns the index just past the string starting at data[i] (a quote) and
// whether it contains escapes.
func scanString(data []byte, i int) (end int, escaped bool) {
	for j := i + 1; j < len(data); j++ {
		switch data[j] {
		case '\\':
			escaped = true
			j++
		case '"':
			return j + 1, escaped
		}
	}
	return len(data), escaped
}

func isJSONDelimiter(c byte) bool {
	switch c {
	case ',', ']', '}', ' ', '\t', '\r', '\n':
		return true
	}
	return false
}

// present reports whether a raw member was sent with a non-null value.
func present(raw json.RawMessage) bool {
	return raw != nil && !bytes.Equal(bytes.TrimSpace(raw), []byte("null"))
}

func firstByte(raw json.RawMessage) byte {
	trimmed := bytes.TrimLeft(raw, " \t\r\n")
	if len(trimmed) == 0 {
		return 0
	}
	return trimmed[0]
}

// response is a JSON-RPC response as written on the wire. ID is never omitted: it is
// null when the request id could not be determined, as JSON-RPC requires.
type response struct {
	JSONRPC string          `json:"jsonrpc"`
	ID      json.RawMessage `json:"id"`
	Result  any             `json:"result,omitempty"`
	Error   *wireError      `json:"error,omitempty"`
}

type wireError struct {
	Code    int    `json:"code"`
	Message string `json:"message"`
	Data    any    `json:"data,omitempty"`
}

// encodeResponse marshals a result or an error response for id. Marshalling a result
// produced by a Tools implementation can fail (for instance, invalid raw JSON); that
// becomes an internal error rather than a broken body.
func encodeResponse(id json.RawMessage, result any, rpcErr *Error) ([]byte, error) {
	r := response{JSONRPC: jsonrpcVersion, ID: id}
	if r.ID == nil {
		r.ID = json.RawMessage("null")
	}
	if rpcErr != nil {
		r.Error = &wireError{Code: rpcErr.Code, Message: rpcErr.Message, Data: rpcErr.Data}
	} else {
		r.Result = result
		if r.Result == nil {
			r.Result = struct{}{}
		}
	}
	b, err := json.Marshal(r)
	if err != nil {
		return nil, fmt.Errorf("encode JSON-RPC response: %w", err)
	}
	return b, nil
}
