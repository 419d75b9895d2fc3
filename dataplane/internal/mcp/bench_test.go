package mcp

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// BenchmarkToolsCall measures the transport's own cost per tools/call (decode, session
// verify, dispatch, encode), with a Tools that does nothing.
func BenchmarkToolsCall(b *testing.B) {
	h, err := New(Config{Tools: fakeTools{}, SessionKeys: [][]byte{testKey}})
	if err != nil {
		b.Fatal(err)
	}
	handler := withTestPrincipal(h)
	token, _, err := h.sessions.issue(testTenant, testSubject, LatestProtocolVersion, "bench", "1", time.Now())
	if err != nil {
		b.Fatal(err)
	}
	body := `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo","arguments":{"msg":"hello","n":[1,2,3]}}}`
	b.ReportAllocs()
	for b.Loop() {
		req := httptest.NewRequest(http.MethodPost, "/mcp", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Accept", "application/json, text/event-stream")
		req.Header.Set(HeaderSessionID, token)
		req.Header.Set(HeaderProtocolVersion, LatestProtocolVersion)
		rec := httptest.NewRecorder()
		handler.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK {
			b.Fatal(rec.Code)
		}
	}
}

// BenchmarkDecodeLarge: decoding (with the duplicate-key scan) of a 1 MiB message.
func BenchmarkDecodeLarge(b *testing.B) {
	var sb strings.Builder
	sb.WriteString(`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo","arguments":{`)
	for i := 0; sb.Len() < 1<<20; i++ {
		fmt.Fprintf(&sb, `"k%d":{"v":"%s","n":%d},`, i, strings.Repeat("x", 20), i)
	}
	sb.WriteString(`"end":true}}}`)
	body := []byte(sb.String())
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := decodeMessage(body); err != nil {
			b.Fatal(err)
		}
	}
}
