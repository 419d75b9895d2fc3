package model

// Validation of the configuration resources, run by the control plane at write
// time (and usable by the gateway on a bundle). Each Validate method returns
// nil or a ValidationError listing every problem it found. Validation is pure:
// no network, no file access (JSON Schemas compile with a loader that refuses
// both), so a hostile input can only make it fail.

import (
	"fmt"
	"net/mail"
	"net/netip"
	"net/url"
	"path"
	"regexp"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Limits shared by the validators. They are part of the admin API contract.
const (
	MaxNameLen        = 100  // resource names (rules, policies, hooks, sources)
	MaxTenantNameLen  = 200  // tenant display names
	MaxDescriptionLen = 2000 // tool and policy descriptions, in characters
	MaxToolPatterns   = 100  // tool names or patterns in one rule/policy
	MaxHookCodeBytes  = 100 << 10
	MaxPatternLen     = 1000  // custom RE2 patterns
	MaxJSONPaths      = 50    // json_paths in one masking rule
	MaxJSONPathLen    = 256   // one JSON path
	MaxJSONPathDepth  = 32    // segments in one JSON path
	MaxHeaders        = 50    // fixed headers on a tool source
	MaxHeaderValueLen = 4096  // one fixed header value
	MaxGrantLen       = 200   // one role or permission name
	MaxParams         = 256   // params of one tool
	DefaultTimeoutMS  = 5000  // backend timeout when a tool or source says 0
	MinBackendTimeout = 500   // ms
	MaxBackendTimeout = 5000  // ms
	MinHookTimeout    = 100   // ms
	MaxHookTimeout    = 10000 // ms
)

// Hook events.
const (
	EventListTools = "LIST_TOOLS"
	EventCallTool  = "CALL_TOOL"
)

// Hook fail modes: what the gateway does when a hook errors or times out.
const (
	FailOpen   = "open"
	FailClosed = "closed"
)

// Masking actions.
const (
	ActionRedact  = "redact"
	ActionPartial = "partial"
	ActionHash    = "hash"
)

// KnownDetectors are the built-in masking detector names a MaskingRule may
// list. The masking layer implements one detector per name; adding a name
// here without an implementation there is a bug its tests must catch.
var KnownDetectors = []string{
	"email", "phone", "credit_card", "iban", "us_ssn",
	"ip_address", "api_key", "jwt",
}

var (
	tenantIDRe = regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9_-]{0,63}$`)
	toolNameRe = regexp.MustCompile(`^[a-zA-Z0-9_.-]{1,64}$`)
	// Patterns are tool names plus '*' (any run of characters, dots included).
	// '?', '[' and '\' are not allowed: they are not tool name characters, so
	// path.Match would treat them as syntax an admin did not mean.
	toolPatternRe = regexp.MustCompile(`^[a-zA-Z0-9_.*-]{1,64}$`)
	pathParamRe   = regexp.MustCompile(`^[a-zA-Z0-9_.-]{1,64}$`)
)

// ValidTenantID reports whether id is a tenant ID (see CONTRACTS.md). Tenant
// IDs end up in NATS subjects and KV keys, so this also keeps '.', '*', '>'
// and spaces out of them.
func ValidTenantID(id string) bool { return tenantIDRe.MatchString(id) }

// ValidToolName reports whether name is a valid tool name.
func ValidToolName(name string) bool { return toolNameRe.MatchString(name) }

// MatchTool reports whether the tool name matches pattern: an exact name, or
// a glob where '*' stands for any run of characters ("orders.*", "*_admin",
// "*"). Both planes use it, so a rule means the same thing in each. A
// malformed pattern matches nothing.
func MatchTool(pattern, name string) bool {
	if !toolPatternRe.MatchString(pattern) {
		return false
	}
	ok, err := path.Match(pattern, name)
	return err == nil && ok
}

// Validate checks a tenant.
func (t Tenant) Validate() error {
	var p Problems
	if !ValidTenantID(t.ID) {
		p.Add("id", "must match ^[a-zA-Z0-9][a-zA-Z0-9_-]{0,63}$")
	}
	CheckText(&p, "name", t.Name, 1, MaxTenantNameLen)
	return p.Err()
}

// Validate checks a tool source.
func (s ToolSource) Validate() error {
	var p Problems
	CheckName(&p, "name", s.Name)
	checkBackendURL(&p, "base_url", s.BaseURL)
	checkTimeout(&p, "timeout_ms", s.TimeoutMS)
	if len(s.Headers) > MaxHeaders {
		p.Add("headers", "at most %d headers", MaxHeaders)
		return p.Err()
	}
	for _, name := range sortedKeys(s.Headers) {
		field := "headers." + name
		if msg := headerNameProblem(name); msg != "" {
			p.Add(field, "%s", msg)
		}
		v := s.Headers[name]
		if len(v) > MaxHeaderValueLen {
			p.Add(field, "value longer than %d bytes", MaxHeaderValueLen)
		}
		if !ValidHeaderValue(v) {
			p.Add(field, "value contains control characters")
		}
	}
	return p.Err()
}

// Validate checks a tool.
func (t Tool) Validate() error {
	var p Problems
	if !ValidToolName(t.Name) {
		p.Add("name", "must match ^[a-zA-Z0-9_.-]{1,64}$")
	}
	CheckText(&p, "title", t.Title, 0, 200)
	CheckText(&p, "description", t.Description, 0, MaxDescriptionLen)
	switch t.Method {
	case "GET", "POST", "PUT", "PATCH", "DELETE":
	default:
		p.Add("method", "must be one of GET, POST, PUT, PATCH, DELETE")
	}
	checkBackendURL(&p, "base_url", t.BaseURL)
	checkTimeout(&p, "timeout_ms", t.TimeoutMS)
	checkParams(&p, t.Params)
	checkToolPath(&p, t.Path, t.Params)
	if t.InputSchema == nil {
		p.Add("input_schema", "is required")
	} else if err := compileObjectSchema(t.InputSchema); err != nil {
		p.Add("input_schema", "%s", err.Error())
	}
	if t.OutputSchema != nil {
		if err := compileObjectSchema(t.OutputSchema); err != nil {
			p.Add("output_schema", "%s", err.Error())
		}
	}
	return p.Err()
}

// Validate checks an access rule.
func (r AccessRule) Validate() error {
	var p Problems
	CheckName(&p, "name", r.Name)
	CheckToolPatterns(&p, "tools", r.Tools, 1)
	if len(r.Roles) == 0 && len(r.Permissions) == 0 {
		p.Add("roles", "at least one role or permission is required")
	}
	CheckGrants(&p, "roles", r.Roles)
	CheckGrants(&p, "permissions", r.Permissions)
	return p.Err()
}

// Validate checks a hook. The code is parsed (syntax, a top-level onEvent)
// but never run here: the gateway's sandbox reports runtime errors, which the
// hook's fail mode then handles.
func (h Hook) Validate() error {
	var p Problems
	CheckName(&p, "name", h.Name)
	if len(h.Events) == 0 || len(h.Events) > 2 {
		p.Add("events", "one or both of LIST_TOOLS, CALL_TOOL")
	}
	seen := map[string]bool{}
	for i, e := range h.Events[:min(len(h.Events), 2)] {
		field := fmt.Sprintf("events[%d]", i)
		switch {
		case e != EventListTools && e != EventCallTool:
			p.Add(field, "must be LIST_TOOLS or CALL_TOOL")
		case seen[e]:
			p.Add(field, "duplicate event %s", e)
		}
		seen[e] = true
	}
	CheckToolPatterns(&p, "tools", h.Tools, 0)
	switch {
	case strings.TrimSpace(h.Code) == "":
		p.Add("code", "is required")
	case len(h.Code) > MaxHookCodeBytes:
		p.Add("code", "larger than %d bytes", MaxHookCodeBytes)
	case !utf8.ValidString(h.Code):
		p.Add("code", "is not valid UTF-8")
	default:
		if msg := hookCodeProblem(h.Code); msg != "" {
			p.Add("code", "%s", msg)
		}
	}
	if h.TimeoutMS < MinHookTimeout || h.TimeoutMS > MaxHookTimeout {
		p.Add("timeout_ms", "must be between %d and %d", MinHookTimeout, MaxHookTimeout)
	}
	if h.FailMode != FailOpen && h.FailMode != FailClosed {
		p.Add("fail_mode", "must be open or closed")
	}
	return p.Err()
}

// Validate checks a masking rule.
func (m MaskingRule) Validate() error {
	var p Problems
	CheckName(&p, "name", m.Name)
	CheckToolPatterns(&p, "tools", m.Tools, 0)
	if len(m.Detectors) == 0 && m.Pattern == "" && len(m.JSONPaths) == 0 {
		p.Add("detectors", "at least one of detectors, pattern or json_paths is required")
	}
	if len(m.Detectors) > len(KnownDetectors) {
		p.Add("detectors", "at most %d detectors", len(KnownDetectors))
	}
	seen := map[string]bool{}
	for i, d := range m.Detectors[:min(len(m.Detectors), len(KnownDetectors))] {
		field := fmt.Sprintf("detectors[%d]", i)
		switch {
		case !slices.Contains(KnownDetectors, d):
			p.Add(field, "unknown detector %q (known: %s)", truncate(d), strings.Join(KnownDetectors, ", "))
		case seen[d]:
			p.Add(field, "duplicate detector %q", d)
		}
		seen[d] = true
	}
	if m.Pattern != "" {
		if msg := RegexpProblem(m.Pattern); msg != "" {
			p.Add("pattern", "%s", msg)
		}
	}
	if len(m.JSONPaths) > MaxJSONPaths {
		p.Add("json_paths", "at most %d paths", MaxJSONPaths)
	}
	for i, jp := range m.JSONPaths[:min(len(m.JSONPaths), MaxJSONPaths)] {
		if _, err := ParseJSONPath(jp); err != nil {
			p.Add(fmt.Sprintf("json_paths[%d]", i), "%s", err.Error())
		}
	}
	switch m.Action {
	case ActionRedact, ActionPartial, ActionHash:
	default:
		p.Add("action", "must be redact, partial or hash")
	}
	return p.Err()
}

// CheckName records a problem when name is not a valid resource name: 1–100
// characters of valid UTF-8, no control characters, no leading or trailing
// space. Names show up in audit events and in error messages agents read.
func CheckName(p *Problems, field, name string) {
	if name == "" {
		p.Add(field, "is required")
		return
	}
	CheckText(p, field, name, 1, MaxNameLen)
	if strings.TrimSpace(name) != name {
		p.Add(field, "must not start or end with spaces")
	}
}

// CheckToolPatterns records problems with a list of tool names or patterns:
// at least minCount and at most MaxToolPatterns entries, each a tool name
// that may contain '*'.
func CheckToolPatterns(p *Problems, field string, patterns []string, minCount int) {
	if len(patterns) < minCount {
		p.Add(field, "at least %d tool name or pattern is required", minCount)
	}
	if len(patterns) > MaxToolPatterns {
		p.Add(field, "at most %d tool names or patterns", MaxToolPatterns)
		return
	}
	for i, pat := range patterns {
		if !toolPatternRe.MatchString(pat) {
			p.Add(fmt.Sprintf("%s[%d]", field, i), "must be a tool name or a pattern with '*' (1–64 of a-z A-Z 0-9 _ . - *)")
			continue
		}
		if _, err := path.Match(pat, ""); err != nil {
			p.Add(fmt.Sprintf("%s[%d]", field, i), "invalid pattern: %v", err)
		}
	}
}

// RegexpProblem returns "" when pattern is an RE2 expression of at most
// MaxPatternLen bytes, else what is wrong with it.
func RegexpProblem(pattern string) string {
	if len(pattern) > MaxPatternLen {
		return fmt.Sprintf("longer than %d characters", MaxPatternLen)
	}
	if _, err := regexp.Compile(pattern); err != nil {
		return "invalid regular expression (RE2 syntax): " + err.Error()
	}
	return ""
}

// ValidEmail reports whether s is a bare e-mail address ("a@b.example", not
// "A <a@b.example>").
func ValidEmail(s string) bool {
	if len(s) > 254 {
		return false
	}
	a, err := mail.ParseAddress(s)
	return err == nil && a.Address == s && a.Name == ""
}

// CheckWebhookURL records a problem unless raw is an https URL, or an http URL
// to a loopback address (development). Webhooks carry approval details, so
// they never travel in clear over a network.
func CheckWebhookURL(p *Problems, field, raw string) {
	checkHTTPSURL(p, field, raw)
}

// checkHTTPSURL parses raw as an absolute URL and records a problem unless it
// is https, or http to a loopback address (development). It returns the URL
// for further checks, or false when raw did not parse.
func checkHTTPSURL(p *Problems, field, raw string) (*url.URL, bool) {
	u, ok := parseAbsoluteURL(p, field, raw)
	if !ok {
		return nil, false
	}
	switch {
	case u.Scheme == "https":
	case u.Scheme == "http" && isLoopbackHost(u.Hostname()):
	default:
		p.Add(field, "must be an https URL (http only to a loopback address)")
	}
	return u, true
}

// CheckText records a problem unless s is valid UTF-8 of minLen–maxLen
// characters without control characters other than newline and tab.
func CheckText(p *Problems, field, s string, minLen, maxLen int) {
	n := utf8.RuneCountInString(s)
	switch {
	case !utf8.ValidString(s):
		p.Add(field, "is not valid UTF-8")
	case n < minLen && minLen == 1:
		p.Add(field, "is required")
	case n < minLen:
		p.Add(field, "shorter than %d characters", minLen)
	case n > maxLen:
		p.Add(field, "longer than %d characters", maxLen)
	case strings.ContainsFunc(s, isControlNotSpace):
		p.Add(field, "contains control characters")
	}
}

// isControlNotSpace lets descriptions hold newlines and tabs but nothing that
// could rewrite a terminal or a log line.
func isControlNotSpace(r rune) bool {
	return unicode.IsControl(r) && r != '\n' && r != '\t' && r != '\r'
}

// CheckGrants records problems with a list of role or permission names: at
// most MaxToolPatterns entries, each 1–200 printable characters.
func CheckGrants(p *Problems, field string, grants []string) {
	if len(grants) > MaxToolPatterns {
		p.Add(field, "at most %d entries", MaxToolPatterns)
		return
	}
	for i, g := range grants {
		f := fmt.Sprintf("%s[%d]", field, i)
		switch {
		case strings.TrimSpace(g) == "":
			p.Add(f, "must not be empty")
		case len(g) > MaxGrantLen:
			p.Add(f, "longer than %d characters", MaxGrantLen)
		case !utf8.ValidString(g) || strings.ContainsFunc(g, unicode.IsControl):
			p.Add(f, "contains invalid characters")
		}
	}
}

func checkTimeout(p *Problems, field string, ms int) {
	if ms != 0 && (ms < MinBackendTimeout || ms > MaxBackendTimeout) {
		p.Add(field, "must be 0 (default %d) or between %d and %d", DefaultTimeoutMS, MinBackendTimeout, MaxBackendTimeout)
	}
}

// checkBackendURL requires an absolute http(s) URL with a host. User info is
// refused: credentials in a URL leak into logs and bundles (use a source
// header instead), and a fragment or query would be silently dropped or
// mangled when the tool's path is appended.
func checkBackendURL(p *Problems, field, raw string) {
	u, ok := parseAbsoluteURL(p, field, raw)
	if !ok {
		return
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		p.Add(field, "must be an http or https URL")
	}
	if u.RawQuery != "" || u.ForceQuery {
		p.Add(field, "must not have a query")
	}
}

func parseAbsoluteURL(p *Problems, field, raw string) (*url.URL, bool) {
	if raw == "" {
		p.Add(field, "is required")
		return nil, false
	}
	if len(raw) > 2048 {
		p.Add(field, "longer than 2048 characters")
		return nil, false
	}
	u, err := url.Parse(raw)
	switch {
	case err != nil:
		p.Add(field, "is not a valid URL")
		return nil, false
	case !u.IsAbs() || u.Host == "" || u.Hostname() == "":
		p.Add(field, "must be an absolute URL with a host")
		return nil, false
	case u.User != nil:
		p.Add(field, "must not contain user info (credentials)")
		return nil, false
	case u.Fragment != "" || strings.Contains(raw, "#"):
		p.Add(field, "must not have a fragment")
		return nil, false
	}
	return u, true
}

func isLoopbackHost(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	a, err := netip.ParseAddr(host)
	return err == nil && a.IsLoopback()
}

// reservedHeaders are headers a source or a tool parameter may not set: the
// transport owns some (Host, Content-Length, hop-by-hop), the gateway owns the
// rest (its signature and identity headers, the forwarding chain), and letting
// configuration or an agent set them would break framing or forge identity.
var reservedHeaders = []string{
	"host", "content-length", "transfer-encoding", "connection", "keep-alive",
	"proxy-connection", "proxy-authorization", "proxy-authenticate", "te",
	"trailer", "upgrade", "forwarded", "x-forwarded-for", "x-forwarded-host",
	"x-forwarded-proto", "x-real-ip",
}

func headerNameProblem(name string) string {
	if !ValidHeaderName(name) {
		return "is not a valid header name"
	}
	lower := strings.ToLower(name)
	if slices.Contains(reservedHeaders, lower) ||
		strings.HasPrefix(lower, "portcullis-") || strings.HasPrefix(lower, "x-portcullis-") {
		return fmt.Sprintf("header %s is reserved (set by the gateway or the transport)", name)
	}
	return ""
}

// ValidHeaderName reports whether s is an RFC 9110 token (a header field
// name) of at most 256 bytes. The gateway applies the same rule to the header
// names it forwards, so configuration and the request path agree.
func ValidHeaderName(s string) bool {
	if s == "" || len(s) > 256 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0:
		default:
			return false
		}
	}
	return true
}

// ValidHeaderValue refuses CR, LF, NUL and other controls (header injection);
// horizontal tab is allowed, as RFC 9110 allows it. The gateway checks the
// header values it forwards with it too.
func ValidHeaderValue(v string) bool {
	for i := 0; i < len(v); i++ {
		c := v[i]
		if (c < 0x20 && c != '\t') || c == 0x7f {
			return false
		}
	}
	return true
}

var paramLocations = []string{"path", "query", "header", "body"}

func checkParams(p *Problems, params []Param) {
	if len(params) > MaxParams {
		p.Add("params", "at most %d parameters", MaxParams)
		return
	}
	seen := map[string]bool{}
	for i, prm := range params {
		field := fmt.Sprintf("params[%d]", i)
		if prm.Name == "" || len(prm.Name) > 128 || !utf8.ValidString(prm.Name) ||
			strings.ContainsFunc(prm.Name, unicode.IsControl) {
			p.Add(field+".name", "must be 1–128 printable characters")
		}
		if !slices.Contains(paramLocations, prm.In) {
			p.Add(field+".in", "must be path, query, header or body")
			continue
		}
		key := prm.In + "\x00" + prm.Name
		if seen[key] {
			p.Add(field+".name", "duplicate %s parameter %q", prm.In, truncate(prm.Name))
		}
		seen[key] = true
		switch prm.In {
		case "header":
			if msg := headerNameProblem(prm.Name); msg != "" {
				p.Add(field+".name", "%s", msg)
			}
		case "path":
			if !pathParamRe.MatchString(prm.Name) {
				p.Add(field+".name", "path parameter names must match ^[a-zA-Z0-9_.-]{1,64}$")
			}
			if !prm.Required {
				p.Add(field+".required", "path parameters must be required")
			}
		}
	}
}

// checkToolPath requires a path starting with "/", without query or fragment,
// whose {templates} are exactly the declared path parameters.
func checkToolPath(p *Problems, toolPath string, params []Param) {
	if !strings.HasPrefix(toolPath, "/") {
		p.Add("path", "must start with /")
		return
	}
	if len(toolPath) > 2048 {
		p.Add("path", "longer than 2048 characters")
		return
	}
	if strings.ContainsAny(toolPath, "?# \t\r\n") {
		p.Add("path", "must not contain a query, a fragment or whitespace")
		return
	}
	templates, err := pathTemplates(toolPath)
	if err != nil {
		p.Add("path", "%s", err.Error())
		return
	}
	declared := map[string]bool{}
	for _, prm := range params {
		if prm.In == "path" {
			declared[prm.Name] = true
		}
	}
	used := map[string]bool{}
	for _, name := range templates {
		if !declared[name] {
			p.Add("path", "template {%s} has no params entry with in=path", name)
		}
		if used[name] {
			p.Add("path", "template {%s} appears twice", name)
		}
		used[name] = true
	}
	for i, prm := range params {
		if prm.In == "path" && !used[prm.Name] {
			p.Add(fmt.Sprintf("params[%d].name", i), "path parameter %q does not appear in path", truncate(prm.Name))
		}
	}
}

// pathTemplates returns the names in "{...}" of a path, in order.
func pathTemplates(s string) ([]string, error) {
	var names []string
	for {
		open := strings.IndexAny(s, "{}")
		if open < 0 {
			return names, nil
		}
		if s[open] == '}' {
			return nil, fmt.Errorf("unbalanced '}'")
		}
		end := strings.IndexAny(s[open+1:], "{}")
		if end < 0 || s[open+1+end] != '}' {
			return nil, fmt.Errorf("unbalanced '{'")
		}
		name := s[open+1 : open+1+end]
		if !pathParamRe.MatchString(name) {
			return nil, fmt.Errorf("template {%s} must match ^[a-zA-Z0-9_.-]{1,64}$", truncate(name))
		}
		names = append(names, name)
		s = s[open+1+end+1:]
	}
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// truncate keeps error messages short when they echo user input.
func truncate(s string) string { return truncateBytes(s, 64) }

// truncateBytes cuts s to at most max bytes on a rune boundary.
func truncateBytes(s string, max int) string {
	if len(s) <= max {
		return s
	}
	for i := max; i > 0; i-- {
		if utf8.RuneStart(s[i]) {
			return s[:i] + "…"
		}
	}
	return "…"
}
