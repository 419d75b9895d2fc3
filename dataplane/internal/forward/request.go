package forward

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/portcullis/portcullis/shared/model"
)

// Limits on what arguments may put into a request. The MCP layer already
// bounds the whole message; these keep single values sane for backends.
const (
	maxHeaderValue = 8 << 10
	maxPathValue   = 1 << 10
	maxArrayItems  = 100
)

// argError is a call whose arguments cannot be mapped onto the tool's request.
// Its message is shown to the agent, so it names the parameter and never a
// value.
type argError struct{ msg string }

func (e *argError) Error() string { return e.msg }

func argErrorf(format string, args ...any) error {
	return &argError{msg: fmt.Sprintf(format, args...)}
}

// configError is a tool or source that cannot be forwarded (a bad base URL,
// a reserved header). Bundles are validated by the control plane, so this is
// defence in depth; the agent only learns that the tool is misconfigured.
type configError struct{ msg string }

func (e *configError) Error() string { return e.msg }

func configErrorf(format string, args ...any) error {
	return &configError{msg: fmt.Sprintf(format, args...)}
}

// outbound is the mapped request, before signing.
type outbound struct {
	method string
	url    *url.URL
	header http.Header
	body   []byte
}

// allowedMethods are the methods a tool may have (model.Tool.Validate).
var allowedMethods = map[string]bool{"GET": true, "POST": true, "PUT": true, "PATCH": true, "DELETE": true}

// build maps a call onto the backend request. It never does I/O.
func build(t model.Tool, src *model.ToolSource, args json.RawMessage) (*outbound, error) {
	if !allowedMethods[t.Method] {
		return nil, configErrorf("method %q is not forwardable", t.Method)
	}
	base, err := baseURL(t.BaseURL)
	if err != nil {
		return nil, err
	}
	values, err := decodeArgs(args)
	if err != nil {
		return nil, err
	}
	out := &outbound{method: t.Method, header: http.Header{}}
	if out.url, err = targetURL(base, t.Path, t.Params, values); err != nil {
		return nil, err
	}
	if err := setParamHeaders(out.header, t.Params, values); err != nil {
		return nil, err
	}
	if out.body, err = body(t.Params, values); err != nil {
		return nil, err
	}
	if out.body != nil {
		out.header.Set("Content-Type", "application/json")
	}
	if src != nil {
		if err := setSourceHeaders(out.header, src.Headers); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// baseURL parses and checks the tool's base URL: absolute http(s) with a host,
// no credentials, query or fragment (model.Tool.Validate says the same).
func baseURL(raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	switch {
	case err != nil:
		return nil, configErrorf("base_url does not parse")
	case u.Scheme != "http" && u.Scheme != "https":
		return nil, configErrorf("base_url scheme %q is not http(s)", u.Scheme)
	case u.Host == "" || u.Hostname() == "" || u.User != nil || u.Opaque != "":
		return nil, configErrorf("base_url needs a host and no user info")
	case u.RawQuery != "" || u.ForceQuery || u.Fragment != "":
		return nil, configErrorf("base_url must not have a query or fragment")
	}
	return u, nil
}

// decodeArgs reads the top-level argument object. A repeated key is refused:
// the schema validator and this mapper must not be able to disagree about
// which of two values is "the" argument.
func decodeArgs(raw json.RawMessage) (map[string]json.RawMessage, error) {
	values := map[string]json.RawMessage{}
	trimmed := bytes.TrimSpace(raw)
	if len(trimmed) == 0 || bytes.Equal(trimmed, []byte("null")) {
		return values, nil
	}
	dec := json.NewDecoder(bytes.NewReader(trimmed))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return nil, argErrorf("arguments must be a JSON object")
	}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, argErrorf("arguments are not valid JSON")
		}
		key, _ := tok.(string) // object keys are always strings
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return nil, argErrorf("arguments are not valid JSON")
		}
		if _, dup := values[key]; dup {
			return nil, argErrorf("argument %q appears twice", truncate(key))
		}
		values[key] = v
	}
	if _, err := dec.Token(); err != nil {
		return nil, argErrorf("arguments are not valid JSON")
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, argErrorf("arguments must be a single JSON object")
	}
	return values, nil
}

// present returns an argument unless it is absent or null.
func present(values map[string]json.RawMessage, name string) (json.RawMessage, bool) {
	v, ok := values[name]
	if !ok || string(bytes.TrimSpace(v)) == "null" {
		return nil, false
	}
	return v, true
}

// targetURL joins base and the expanded path template and adds the query.
func targetURL(base *url.URL, tmpl string, params []model.Param, values map[string]json.RawMessage) (*url.URL, error) {
	if !strings.HasPrefix(tmpl, "/") || strings.ContainsAny(tmpl, "?#") {
		return nil, configErrorf("path must start with / and have no query or fragment")
	}
	basePath := strings.TrimSuffix(base.EscapedPath(), "/")
	expanded, err := expandPath(tmpl, params, values)
	if err != nil {
		return nil, err
	}
	rawPath := basePath + expanded
	path, err := url.PathUnescape(rawPath)
	if err != nil {
		return nil, configErrorf("path is not a valid escaped path")
	}
	u := &url.URL{Scheme: base.Scheme, Host: base.Host, Path: path, RawPath: rawPath}
	if u.RawQuery, err = query(params, values); err != nil {
		return nil, err
	}
	if err := checkShape(u, base, basePath+tmpl); err != nil {
		return nil, err
	}
	return u, nil
}

// expandPath substitutes every {name} of tmpl with its escaped argument.
func expandPath(tmpl string, params []model.Param, values map[string]json.RawMessage) (string, error) {
	declared := map[string]bool{}
	for _, p := range params {
		if p.In == "path" {
			declared[p.Name] = true
		}
	}
	var b strings.Builder
	rest := tmpl
	for {
		open := strings.IndexByte(rest, '{')
		if open < 0 {
			b.WriteString(rest)
			return b.String(), nil
		}
		end := strings.IndexByte(rest[open:], '}')
		if end < 0 {
			return "", configErrorf("path template has an unbalanced '{'")
		}
		name := rest[open+1 : open+end]
		if !declared[name] {
			return "", configErrorf("path template {%s} has no path parameter", truncate(name))
		}
		seg, err := pathValue(name, values)
		if err != nil {
			return "", err
		}
		b.WriteString(rest[:open])
		b.WriteString(seg)
		rest = rest[open+end+1:]
	}
}

// pathValue is the escaped path segment (or part of one) for one parameter.
func pathValue(name string, values map[string]json.RawMessage) (string, error) {
	raw, ok := present(values, name)
	if !ok {
		return "", argErrorf("path parameter %q is required", truncate(name))
	}
	items, err := scalars(raw, name, "path")
	if err != nil {
		return "", err
	}
	escaped := make([]string, len(items))
	for i, s := range items {
		if err := checkPathValue(name, s); err != nil {
			return "", err
		}
		escaped[i] = url.PathEscape(s)
	}
	seg := strings.Join(escaped, ",")
	if seg == "" {
		return "", argErrorf("path parameter %q must not be empty", truncate(name))
	}
	return seg, nil
}

// checkPathValue refuses values that could change which resource the path
// names once some server or proxy along the way decodes or normalises it.
func checkPathValue(name, s string) error {
	switch {
	case s == "" || s == "." || s == "..":
		return argErrorf("path parameter %q must not be empty, \".\" or \"..\"", truncate(name))
	case strings.ContainsAny(s, "/\\"):
		return argErrorf("path parameter %q must not contain \"/\" or \"\\\"", truncate(name))
	case strings.ContainsFunc(s, isControl):
		return argErrorf("path parameter %q must not contain control characters", truncate(name))
	case len(s) > maxPathValue:
		return argErrorf("path parameter %q is longer than %d bytes", truncate(name), maxPathValue)
	}
	return nil
}

// checkShape is the last word on path safety: same scheme and host as the
// base, the base path as prefix, as many segments as the template, and no
// dot segment the template did not have.
func checkShape(u, base *url.URL, tmplPath string) error {
	final := u.EscapedPath()
	want := strings.Split(tmplPath, "/")
	got := strings.Split(final, "/")
	switch {
	case u.Scheme != base.Scheme || u.Host != base.Host:
		return configErrorf("destination differs from base_url")
	case !strings.HasPrefix(final, strings.TrimSuffix(base.EscapedPath(), "/")):
		return argErrorf("arguments change the request path")
	case len(got) != len(want):
		return argErrorf("arguments change the shape of the request path")
	}
	for i := range got {
		if (got[i] == "." || got[i] == "..") && got[i] != want[i] {
			return argErrorf("arguments change the shape of the request path")
		}
	}
	return nil
}

// query encodes the query parameters; an array repeats the key.
func query(params []model.Param, values map[string]json.RawMessage) (string, error) {
	q := url.Values{}
	for _, p := range params {
		if p.In != "query" {
			continue
		}
		raw, ok := present(values, p.Name)
		if !ok {
			if p.Required {
				return "", argErrorf("query parameter %q is required", truncate(p.Name))
			}
			continue
		}
		items, err := scalars(raw, p.Name, "query")
		if err != nil {
			return "", err
		}
		for _, s := range items {
			q.Add(p.Name, s)
		}
	}
	return q.Encode(), nil
}

// setParamHeaders sets the header parameters.
func setParamHeaders(h http.Header, params []model.Param, values map[string]json.RawMessage) error {
	for _, p := range params {
		if p.In != "header" {
			continue
		}
		if reason := paramHeaderProblem(p.Name); reason != "" {
			return configErrorf("header parameter %q: %s", truncate(p.Name), reason)
		}
		raw, ok := present(values, p.Name)
		if !ok {
			if p.Required {
				return argErrorf("header parameter %q is required", truncate(p.Name))
			}
			continue
		}
		items, err := scalars(raw, p.Name, "header")
		if err != nil {
			return err
		}
		v := strings.Join(items, ",")
		if !model.ValidHeaderValue(v) || len(v) > maxHeaderValue {
			return argErrorf("header parameter %q has control characters or is longer than %d bytes", truncate(p.Name), maxHeaderValue)
		}
		h.Set(p.Name, v)
	}
	return nil
}

// setSourceHeaders applies the source's fixed headers, overriding parameters.
func setSourceHeaders(h http.Header, fixed map[string]string) error {
	for name, v := range fixed {
		if reason := sourceHeaderProblem(name); reason != "" {
			return configErrorf("source header %q: %s", truncate(name), reason)
		}
		if !model.ValidHeaderValue(v) {
			return configErrorf("source header %q has control characters", truncate(name))
		}
		h.Set(name, v)
	}
	return nil
}

// body is the JSON request body, compacted, or nil when there is none.
func body(params []model.Param, values map[string]json.RawMessage) ([]byte, error) {
	for _, p := range params {
		if p.In != "body" {
			continue
		}
		raw, ok := present(values, p.Name)
		if !ok {
			if p.Required {
				return nil, argErrorf("the request body (argument %q) is required", truncate(p.Name))
			}
			return nil, nil
		}
		var buf bytes.Buffer
		if err := json.Compact(&buf, raw); err != nil {
			return nil, argErrorf("argument %q is not valid JSON", truncate(p.Name))
		}
		return buf.Bytes(), nil
	}
	return nil, nil
}

// scalars turns a parameter value into strings: one for a scalar, one per item
// for an array of scalars. Objects have no agreed serialisation outside a
// body, so they are refused rather than guessed.
func scalars(raw json.RawMessage, name, in string) ([]string, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) > 0 && raw[0] == '[' {
		var items []json.RawMessage
		if err := json.Unmarshal(raw, &items); err != nil {
			return nil, argErrorf("%s parameter %q is not valid JSON", in, truncate(name))
		}
		if len(items) > maxArrayItems {
			return nil, argErrorf("%s parameter %q has more than %d items", in, truncate(name), maxArrayItems)
		}
		out := make([]string, 0, len(items))
		for _, it := range items {
			s, err := scalar(bytes.TrimSpace(it), name, in)
			if err != nil {
				return nil, err
			}
			out = append(out, s)
		}
		return out, nil
	}
	s, err := scalar(raw, name, in)
	if err != nil {
		return nil, err
	}
	return []string{s}, nil
}

// scalar formats one JSON scalar as OpenAPI does: strings unquoted, numbers
// exactly as written, booleans as true/false.
func scalar(raw json.RawMessage, name, in string) (string, error) {
	if len(raw) == 0 {
		return "", argErrorf("%s parameter %q is empty", in, truncate(name))
	}
	switch c := raw[0]; {
	case c == '"':
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return "", argErrorf("%s parameter %q is not a valid string", in, truncate(name))
		}
		return s, nil
	case c == 't' || c == 'f' || c == '-' || (c >= '0' && c <= '9'):
		if !json.Valid(raw) {
			return "", argErrorf("%s parameter %q is not valid JSON", in, truncate(name))
		}
		return string(raw), nil
	default: // objects, nested arrays, null inside an array
		return "", argErrorf("%s parameter %q must be a string, number, boolean or an array of them", in, truncate(name))
	}
}

// Header names by who may set them. Lower case.
var (
	// transportHeaders belong to net/http or to the hop, and gatewayHeaders
	// to the gateway: nobody configures them.
	transportHeaders = []string{
		"host", "content-length", "transfer-encoding", "connection", "keep-alive",
		"proxy-connection", "proxy-authenticate", "te", "trailer", "upgrade",
	}
	gatewayHeaders = []string{
		"forwarded", "x-forwarded-for", "x-forwarded-host", "x-forwarded-proto", "x-real-ip",
		"content-type", "proxy-authorization",
	}
	// agentDenied are refused to agents on top: credentials and content
	// negotiation stay with the platform.
	agentDenied = []string{"authorization", "cookie", "accept"}
)

func sourceHeaderProblem(name string) string {
	if !model.ValidHeaderName(name) {
		return "not a valid header name"
	}
	lower := strings.ToLower(name)
	if slices.Contains(transportHeaders, lower) || slices.Contains(gatewayHeaders, lower) ||
		strings.HasPrefix(lower, "portcullis-") || strings.HasPrefix(lower, "x-portcullis-") {
		return "reserved"
	}
	return ""
}

func paramHeaderProblem(name string) string {
	if reason := sourceHeaderProblem(name); reason != "" {
		return reason
	}
	if slices.Contains(agentDenied, strings.ToLower(name)) {
		return "reserved"
	}
	return ""
}

func isControl(r rune) bool { return r < 0x20 || r == 0x7f }

// truncate keeps names in messages short; names come from configuration or
// from agent-chosen argument keys.
func truncate(s string) string {
	const n = 64
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
