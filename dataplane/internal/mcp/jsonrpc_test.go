package mcp

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestDecodeMessage(t *testing.T) {
	tests := []struct {
		name     string
		body     string
		wantCode int         // 0: decodes
		wantKind messageKind // when decoded
		wantID   string      // id returned (also alongside an error); "" means nil
		method   string
		params   string
	}{
		{name: "request", body: `{"jsonrpc":"2.0","id":1,"method":"ping"}`, wantKind: kindRequest, wantID: `1`, method: "ping"},
		{name: "string id", body: `{"jsonrpc":"2.0","id":"a-1","method":"ping"}`, wantKind: kindRequest, wantID: `"a-1"`, method: "ping"},
		{name: "negative fractional id kept verbatim", body: `{"jsonrpc":"2.0","id":-1.5e3,"method":"ping"}`, wantKind: kindRequest, wantID: `-1.5e3`, method: "ping"},
		{name: "params object", body: `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"x"}}`, wantKind: kindRequest, wantID: `1`, method: "tools/call", params: `{"name":"x"}`},
		{name: "params null means absent", body: `{"jsonrpc":"2.0","id":1,"method":"ping","params":null}`, wantKind: kindRequest, wantID: `1`, method: "ping"},
		{name: "params array passes framing (methods refuse it)", body: `{"jsonrpc":"2.0","id":1,"method":"ping","params":[1]}`, wantKind: kindRequest, wantID: `1`, method: "ping", params: `[1]`},
		{name: "leading whitespace", body: " \n\t{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"}\n", wantKind: kindRequest, wantID: `1`, method: "ping"},
		{name: "same names in sibling objects are fine", body: `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo","arguments":{"a":{"name":1},"b":[{"name":2},{"name":3}],"name":"v"}}}`, wantKind: kindRequest, wantID: `1`, method: "tools/call", params: `{"name":"echo","arguments":{"a":{"name":1},"b":[{"name":2},{"name":3}],"name":"v"}}`},
		{name: "unknown members ignored", body: `{"jsonrpc":"2.0","id":1,"method":"ping","extra":{"a":[1]}}`, wantKind: kindRequest, wantID: `1`, method: "ping"},
		{name: "notification", body: `{"jsonrpc":"2.0","method":"notifications/initialized"}`, wantKind: kindNotification, method: "notifications/initialized"},
		{name: "client response", body: `{"jsonrpc":"2.0","id":7,"result":{}}`, wantKind: kindResponse, wantID: `7`},
		{name: "client error response", body: `{"jsonrpc":"2.0","id":7,"error":{"code":-1,"message":"no"}}`, wantKind: kindResponse, wantID: `7`},

		{name: "empty body", body: ``, wantCode: CodeParseError},
		{name: "whitespace only", body: "  \n", wantCode: CodeParseError},
		{name: "garbage", body: `hello`, wantCode: CodeParseError},
		{name: "truncated", body: `{"jsonrpc":"2.0","id":1,"method":"pi`, wantCode: CodeParseError},
		{name: "trailing garbage", body: `{"jsonrpc":"2.0","id":1,"method":"ping"}x`, wantCode: CodeParseError},
		{name: "two objects", body: `{"jsonrpc":"2.0","id":1,"method":"ping"}{"jsonrpc":"2.0","id":2,"method":"ping"}`, wantCode: CodeParseError},
		{name: "invalid batch is a parse error", body: `[{"jsonrpc":"2.0","id":1,"method":"ping"}`, wantCode: CodeParseError},

		{name: "invalid UTF-8", body: "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"p\xffing\"}", wantCode: CodeParseError},
		{name: "duplicate top-level member", body: `{"jsonrpc":"2.0","id":1,"method":"ping","method":"tools/list"}`, wantCode: CodeInvalidRequest, wantID: `1`},
		{name: "duplicate tool name", body: `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo","arguments":{},"name":"fails"}}`, wantCode: CodeInvalidRequest, wantID: `1`},
		{name: "duplicate argument, escaped", body: `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo","arguments":{"amount":1,"\u0061mount":1000}}}`, wantCode: CodeInvalidRequest, wantID: `1`},
		{name: "duplicate deep in an array", body: `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo","arguments":{"a":[{"x":1},{"y":1,"y":2}]}}}`, wantCode: CodeInvalidRequest, wantID: `1`},
		{name: "batch", body: `[{"jsonrpc":"2.0","id":1,"method":"ping"},{"jsonrpc":"2.0","id":2,"method":"ping"}]`, wantCode: CodeInvalidRequest},
		{name: "empty batch", body: `[]`, wantCode: CodeInvalidRequest},
		{name: "number", body: `42`, wantCode: CodeInvalidRequest},
		{name: "string", body: `"ping"`, wantCode: CodeInvalidRequest},
		{name: "null", body: `null`, wantCode: CodeInvalidRequest},
		{name: "empty object", body: `{}`, wantCode: CodeInvalidRequest},
		{name: "no jsonrpc member", body: `{"id":1,"method":"ping"}`, wantCode: CodeInvalidRequest, wantID: `1`},
		{name: "jsonrpc 1.0", body: `{"jsonrpc":"1.0","id":1,"method":"ping"}`, wantCode: CodeInvalidRequest, wantID: `1`},
		{name: "jsonrpc as number", body: `{"jsonrpc":2.0,"id":1,"method":"ping"}`, wantCode: CodeInvalidRequest, wantID: `1`},
		{name: "null id", body: `{"jsonrpc":"2.0","id":null,"method":"ping"}`, wantCode: CodeInvalidRequest},
		{name: "object id", body: `{"jsonrpc":"2.0","id":{"a":1},"method":"ping"}`, wantCode: CodeInvalidRequest},
		{name: "array id", body: `{"jsonrpc":"2.0","id":[1],"method":"ping"}`, wantCode: CodeInvalidRequest},
		{name: "bool id", body: `{"jsonrpc":"2.0","id":true,"method":"ping"}`, wantCode: CodeInvalidRequest},
		{name: "method number", body: `{"jsonrpc":"2.0","id":1,"method":5}`, wantCode: CodeInvalidRequest, wantID: `1`},
		{name: "method empty", body: `{"jsonrpc":"2.0","id":1,"method":""}`, wantCode: CodeInvalidRequest, wantID: `1`},
		{name: "method null", body: `{"jsonrpc":"2.0","id":1,"method":null}`, wantCode: CodeInvalidRequest, wantID: `1`},
		{name: "params string", body: `{"jsonrpc":"2.0","id":1,"method":"ping","params":"x"}`, wantCode: CodeInvalidRequest, wantID: `1`},
		{name: "params number", body: `{"jsonrpc":"2.0","id":1,"method":"ping","params":3}`, wantCode: CodeInvalidRequest, wantID: `1`},
		{name: "request with result", body: `{"jsonrpc":"2.0","id":1,"method":"ping","result":{}}`, wantCode: CodeInvalidRequest, wantID: `1`},
		{name: "response without id", body: `{"jsonrpc":"2.0","result":{}}`, wantCode: CodeInvalidRequest},
		{name: "response with result and error", body: `{"jsonrpc":"2.0","id":1,"result":{},"error":{"code":1,"message":"x"}}`, wantCode: CodeInvalidRequest, wantID: `1`},
		{name: "neither method nor result", body: `{"jsonrpc":"2.0","id":1}`, wantCode: CodeInvalidRequest, wantID: `1`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			msg, id, err := decodeMessage([]byte(tt.body))
			if tt.wantID == "" {
				assert.Nil(t, id)
			} else {
				assert.Equal(t, tt.wantID, string(id))
			}
			if tt.wantCode != 0 {
				require.NotNil(t, err)
				assert.Equal(t, tt.wantCode, err.Code, err.Message)
				return
			}
			require.Nil(t, err)
			assert.Equal(t, tt.wantKind, msg.kind)
			assert.Equal(t, tt.method, msg.method)
			if tt.params == "" {
				assert.Nil(t, msg.params)
			} else {
				assert.JSONEq(t, tt.params, string(msg.params))
			}
		})
	}
}

func TestEncodeResponse(t *testing.T) {
	tests := []struct {
		name   string
		id     json.RawMessage
		result any
		err    *Error
		want   string
	}{
		{name: "result", id: json.RawMessage(`3`), result: map[string]int{"a": 1}, want: `{"jsonrpc":"2.0","id":3,"result":{"a":1}}`},
		{name: "empty result is an object", id: json.RawMessage(`"x"`), want: `{"jsonrpc":"2.0","id":"x","result":{}}`},
		{name: "error with unknown id", err: newError(CodeParseError, "Parse error"), want: `{"jsonrpc":"2.0","id":null,"error":{"code":-32700,"message":"Parse error"}}`},
		{name: "error data", id: json.RawMessage(`1`), err: InvalidParamsError("bad", map[string]string{"path": "/a"}), want: `{"jsonrpc":"2.0","id":1,"error":{"code":-32602,"message":"bad","data":{"path":"/a"}}}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := encodeResponse(tt.id, tt.result, tt.err)
			require.NoError(t, err)
			assert.JSONEq(t, tt.want, string(b))
			assert.NotContains(t, string(b), "\n", "SSE framing relies on single-line JSON")
		})
	}

	_, err := encodeResponse(json.RawMessage(`1`), CallResult{StructuredContent: json.RawMessage(`{not json`)}, nil)
	assert.Error(t, err, "invalid raw JSON from a layer must fail encoding, not produce a broken body")
}
