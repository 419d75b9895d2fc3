package pipeline

import "strings"

// platforms maps a marker found in the MCP client name or the user agent
// (lower case) to the AI platform policies and the audit trail name.
// Order matters: the first marker found wins.
var platforms = []struct{ marker, name string }{
	{"claude", "claude"},
	{"anthropic", "claude"},
	{"chatgpt", "chatgpt"},
	{"openai", "chatgpt"},
	{"cursor", "cursor"},
	{"windsurf", "windsurf"},
	{"copilot", "copilot"},
	{"visual studio code", "vscode"},
	{"vscode", "vscode"},
	{"gemini", "gemini"},
}

// Platform names the AI platform a call comes from, from the MCP client's
// name (clientInfo.name) first, then the user agent; "" when unknown (a
// policy condition on request.platform is then unknown, never "allowed").
// begin calls it once per request: the audit event and the policy layer
// (policyeval's input, through Request.Platform) read that one result, so
// they never disagree.
func Platform(clientName, userAgent string) string {
	for _, s := range []string{clientName, userAgent} {
		s = strings.ToLower(s)
		for _, p := range platforms {
			if strings.Contains(s, p.marker) {
				return p.name
			}
		}
	}
	return ""
}
