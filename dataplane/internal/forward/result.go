package forward

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"
	"unicode/utf8"
)

// Result is a tool call's outcome as the MCP layer needs it: Text becomes a
// text content block, Structured the structuredContent, IsError the isError
// flag. Status is the backend's HTTP status, 0 when no response came (for the
// audit event).
type Result struct {
	Text       string
	Structured map[string]any
	IsError    bool
	Status     int
}

// maxErrorExcerpt bounds how much of a 4xx body an error result quotes.
const maxErrorExcerpt = 1 << 10

// interpret turns a complete backend response into a Result.
func interpret(status int, header http.Header, body []byte) Result {
	switch {
	case status >= 200 && status < 300:
		return success(status, header, body)
	case status >= 300 && status < 400:
		// The Location is not quoted: it may name an internal host.
		return failure(status, fmt.Sprintf("The backend answered with a redirect (HTTP %d), which the gateway does not follow.", status))
	case status >= 400 && status < 500:
		msg := fmt.Sprintf("The backend rejected the call: HTTP %d %s.", status, http.StatusText(status))
		if ex := excerpt(body); ex != "" {
			msg += " Backend said: " + ex
		}
		return failure(status, msg)
	default:
		return failure(status, fmt.Sprintf("The backend failed to handle the call (HTTP %d).", status))
	}
}

func failure(status int, text string) Result {
	return Result{Text: text, IsError: true, Status: status}
}

// success decodes a 2xx body: a JSON object is the structured content, a JSON
// array is wrapped as {"items": [...]}, anything else is text.
func success(status int, header http.Header, body []byte) Result {
	r := Result{Status: status}
	if len(bytes.TrimSpace(body)) == 0 {
		r.Text = fmt.Sprintf("The backend returned HTTP %d with no content.", status)
		return r
	}
	if !utf8.Valid(body) {
		r.Text = fmt.Sprintf("The backend returned %d bytes of binary content (%s), which the gateway does not relay.", len(body), mediaType(header))
		return r
	}
	r.Text = string(body)
	if looksJSON(header, body) {
		r.Structured = structured(body)
	}
	return r
}

// looksJSON trusts a JSON media type and sniffs only when none was sent.
func looksJSON(header http.Header, body []byte) bool {
	mt := mediaType(header)
	switch {
	case mt == "application/json" || strings.HasSuffix(mt, "+json"):
		return true
	case mt == "":
		first := bytes.TrimSpace(body)[0]
		return first == '{' || first == '['
	}
	return false
}

func mediaType(header http.Header) string {
	mt, _, err := mime.ParseMediaType(header.Get("Content-Type"))
	if err != nil {
		return ""
	}
	return strings.ToLower(mt)
}

// structured decodes exactly one JSON object or array. Numbers stay
// json.Number so large ids survive; a body that is not exactly one JSON value
// stays text only.
func structured(body []byte) map[string]any {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil
	}
	switch x := v.(type) {
	case map[string]any:
		return x
	case []any:
		return map[string]any{"items": x}
	default:
		return nil
	}
}

// excerpt is the start of an error body as one line of valid UTF-8.
func excerpt(body []byte) string {
	s := strings.ToValidUTF8(string(bytes.TrimSpace(body)), "\uFFFD")
	s = strings.Map(func(r rune) rune {
		if isControl(r) {
			return ' '
		}
		return r
	}, s)
	if len(s) > maxErrorExcerpt {
		cut := maxErrorExcerpt
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		s = s[:cut] + "…"
	}
	return s
}
