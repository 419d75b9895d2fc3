package pipeline

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/portcullis/portcullis/shared/authn"
)

func TestPlatform(t *testing.T) {
	for _, c := range []struct{ client, ua, want string }{
		{"claude-ai", "", "claude"},
		{"", "Mozilla/5.0 ChatGPT-User/1.0", "chatgpt"},
		{"Cursor", "node", "cursor"},
		{"my-agent", "curl/8", ""},
		{"Visual Studio Code", "", "vscode"},
		{"", "", ""},
		{"claude-ai", "ChatGPT-User", "claude"}, // the client name wins over the user agent
	} {
		assert.Equal(t, c.want, Platform(c.client, c.ua), "%q %q", c.client, c.ua)
	}
}

// TestAuditEventPlatform: the audit event names the AI platform the call
// comes from (the user agent here: no MCP session), and none when unknown.
func TestAuditEventPlatform(t *testing.T) {
	e := newEnv(t)
	p := authn.Principal{TenantID: "acme", Subject: "alice", Roles: []string{"viewer"}}
	for _, c := range []struct{ ua, want string }{
		{"Claude-User/1.0 (+https://www.anthropic.com)", "claude"},
		{"Mozilla/5.0 ChatGPT-User/1.0", "chatgpt"},
		{"curl/8.5", ""},
	} {
		ctx := ContextWithRequestInfo(as(p), RequestInfo{ClientIP: "192.0.2.1", UserAgent: c.ua})
		_, err := e.p.Call(ctx, "orders.list", json.RawMessage(`{}`))
		require.NoError(t, err)
		ev := e.audit.last(t)
		assert.Equal(t, c.want, ev.Platform, c.ua)
		assert.Equal(t, c.ua, ev.UserAgent)
	}
}
