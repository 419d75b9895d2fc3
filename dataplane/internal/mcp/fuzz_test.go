package mcp

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

var fuzzSeeds = []string{
	`{"jsonrpc":"2.0","id":1,"method":"ping"}`,
	`{"jsonrpc":"2.0","id":"x","method":"tools/list","params":{"cursor":"bjE6ZWNobw"}}`,
	`{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"echo","arguments":{"a":[1,2,{"b":null}]}}}`,
	`{"jsonrpc":"2.0","id":3,"method":"initialize","params":{"protocolVersion":"2025-11-25","clientInfo":{"name":"n","version":"v"}}}`,
	`{"jsonrpc":"2.0","method":"notifications/initialized"}`,
	`{"jsonrpc":"2.0","id":1,"result":{}}`,
	`[{"jsonrpc":"2.0","id":1,"method":"ping"}]`,
	`{"jsonrpc":"2.0","id":1e999,"method":"ping"}`,
	`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"\u0000\ud800"}}`,
	"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"p\xffing\"}",
	`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo","arguments":{"a":"x"},"name":"fails"}}`,
	``, `null`, `{`, `"`, `[]`, `{}`, `{"id":{}}`,
}

// FuzzDecodeMessage: the decoder never panics, and what it accepts is well-formed.
func FuzzDecodeMessage(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		msg, id, rpcErr := decodeMessage(body)
		if id != nil && !json.Valid(id) {
			t.Fatalf("returned id %q is not JSON", id)
		}
		if rpcErr != nil {
			if rpcErr.Code != CodeParseError && rpcErr.Code != CodeInvalidRequest {
				t.Fatalf("decoder produced code %d", rpcErr.Code)
			}
			return
		}
		switch msg.kind {
		case kindRequest:
			if msg.method == "" || msg.id == nil {
				t.Fatalf("request without method or id: %+v", msg)
			}
		case kindNotification:
			if msg.method == "" || msg.id != nil {
				t.Fatalf("bad notification: %+v", msg)
			}
		case kindResponse:
			if msg.id == nil {
				t.Fatalf("response without id")
			}
		default:
			t.Fatalf("no kind: %+v", msg)
		}
		if msg.params != nil && !json.Valid(msg.params) {
			t.Fatalf("params not JSON")
		}
		// Whatever was decoded can be answered with a well-formed response.
		b, err := encodeResponse(msg.id, nil, newError(CodeMethodNotFound, "Method not found"))
		if err != nil || !json.Valid(b) || bytes.ContainsAny(b, "\r\n") {
			t.Fatalf("cannot answer %q: %v %q", body, err, b)
		}
	})
}

// FuzzSessionVerify: arbitrary tokens never panic and are never accepted.
func FuzzSessionVerify(f *testing.F) {
	c, err := newSessionCodec([][]byte{testKey}, time.Hour)
	if err != nil {
		f.Fatal(err)
	}
	// Deterministic, so that the fuzzing worker processes agree on it.
	good := forge(testKey, sessionPayload{V: 1, SID: "fuzz", Ten: "t", Sub: "s", PV: LatestProtocolVersion, IAT: t0.Unix(), EXP: t0.Add(time.Hour).Unix()})
	if _, err := c.verify(good, "t", "s", t0); err != nil {
		f.Fatal(err)
	}
	f.Add(good)
	f.Add(good + "x")
	f.Add(strings.Replace(good, ".", "..", 1))
	f.Add("")
	f.Add(".")
	f.Fuzz(func(t *testing.T, token string) {
		_, err := c.verify(token, "t", "s", t0)
		if err == nil && token != good {
			t.Fatalf("accepted a token that was never issued: %q", token)
		}
	})
}

// FuzzHandler sends arbitrary bodies and Accept headers through the whole handler on a
// valid session: no panic, a sane status, and a body that parses as what it claims.
func FuzzHandler(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add(s, "application/json, text/event-stream")
		f.Add(s, "text/event-stream")
	}
	f.Add(`{"jsonrpc":"2.0","id":1,"method":"ping"}`, "text/event-stream;q=2, */*;q=-1, ,;;")
	h, err := New(Config{Tools: fakeTools{}, SessionKeys: [][]byte{testKey}, RequestTimeout: 50 * time.Millisecond})
	if err != nil {
		f.Fatal(err)
	}
	handler := withTestPrincipal(h)
	token, _, err := h.sessions.issue(testTenant, testSubject, LatestProtocolVersion, "fuzz", "1", time.Now())
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, body, accept string) {
		if strings.Contains(body, `"slow"`) {
			return // waits for its timeout; proves nothing new, only slows the fuzzer
		}
		req := httptest.NewRequest(http.MethodPost, "/mcp", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Accept", accept)
		req.Header.Set(HeaderSessionID, token)
		rec := httptest.NewRecorder()
		handler.ServeHTTP(rec, req)
		switch rec.Code {
		case http.StatusOK, http.StatusAccepted, http.StatusBadRequest, http.StatusNotAcceptable, http.StatusUnauthorized:
		default:
			t.Fatalf("status %d for %q: %s", rec.Code, body, rec.Body.String())
		}
		out := rec.Body.Bytes()
		switch ct := rec.Header().Get("Content-Type"); {
		case rec.Code == http.StatusAccepted:
			if len(out) != 0 {
				t.Fatalf("202 with a body")
			}
		case ct == mediaSSE:
			data, ok := bytes.CutPrefix(out, []byte("event: message\ndata: "))
			if !ok || !bytes.HasSuffix(data, []byte("\n\n")) || !json.Valid(bytes.TrimSuffix(data, []byte("\n\n"))) {
				t.Fatalf("bad SSE body %q", out)
			}
		case ct == mediaJSON:
			if !json.Valid(out) {
				t.Fatalf("bad JSON body %q", out)
			}
		default:
			t.Fatalf("unexpected content type %q", ct)
		}
	})
}

// duplicateKeysReference is the slow, obviously correct version of hasDuplicateKeys,
// built on encoding/json's tokenizer; the fuzzer checks that both always agree.
func duplicateKeysReference(data []byte) bool {
	type frame struct {
		keys      map[string]bool
		object    bool
		expectKey bool
	}
	var stack []*frame
	valueDone := func() {
		if n := len(stack); n > 0 && stack[n-1].object {
			stack[n-1].expectKey = true
		}
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	for {
		tok, err := dec.Token()
		if err != nil {
			return false
		}
		if d, ok := tok.(json.Delim); ok {
			switch d {
			case '{':
				stack = append(stack, &frame{keys: map[string]bool{}, object: true, expectKey: true})
			case '[':
				stack = append(stack, &frame{})
			default:
				stack = stack[:len(stack)-1]
				valueDone()
			}
			continue
		}
		if top := len(stack) - 1; top >= 0 && stack[top].object && stack[top].expectKey {
			key := tok.(string)
			if stack[top].keys[key] {
				return true
			}
			stack[top].keys[key], stack[top].expectKey = true, false
			continue
		}
		valueDone()
	}
}

func FuzzDuplicateKeys(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add([]byte(s))
	}
	for _, s := range []string{
		`{"a":1,"a":2}`, `{"a":1,"\u0061":2}`, `{"a":{"a":1},"b":{"a":2}}`, `[{"a":1},{"a":1}]`,
		`{"a\"b":1,"a\"b":2}`, `{"":1,"":2}`, `{"k":"\"}\"","k2":["{","}"]}`,
		`{"a":1,"b":2,"c":3,"d":4,"e":5,"f":6,"g":7,"h":8,"i":9,"j":10,"k":11,"l":12,"m":13,"n":14,"o":15,"p":16,"q":17,"a":18}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if !utf8.Valid(data) || !json.Valid(data) {
			return // refused before the duplicate check runs
		}
		if got, want := hasDuplicateKeys(data), duplicateKeysReference(data); got != want {
			t.Fatalf("hasDuplicateKeys(%q) = %v, reference says %v", data, got, want)
		}
	})
}
