package mcp

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/portcullis/portcullis/shared/localenv/tsclient"
)

type tsReport struct {
	OK              bool     `json:"ok"`
	Error           string   `json:"error"`
	SessionID       string   `json:"sessionId"`
	ProtocolVersion string   `json:"protocolVersion"`
	ServerName      string   `json:"serverName"`
	Tools           []string `json:"tools"`
	Pages           int      `json:"pages"`
	Echo            struct {
		Structured json.RawMessage `json:"structured"`
		Text       string          `json:"text"`
		IsError    bool            `json:"isError"`
	} `json:"echo"`
	Fails struct {
		IsError bool   `json:"isError"`
		Text    string `json:"text"`
	} `json:"fails"`
	Whoami json.RawMessage `json:"whoami"`
	Hidden struct {
		Code    *int   `json:"code"`
		Message string `json:"message"`
	} `json:"hidden"`
	Requests []struct {
		Method      string `json:"method"`
		Host        string `json:"host"`
		Status      int    `json:"status"`
		ContentType string `json:"contentType"`
	} `json:"requests"`
}

// TestTypeScriptSDKClient runs the official TypeScript SDK client against two replicas
// sharing the session key, alternating between them on every request.
func TestTypeScriptSDKClient(t *testing.T) {
	tsclient.Ready(t)
	tests := []struct {
		name        string
		accept      string
		version     string
		wantVersion string
		wantType    string
	}{
		{name: "client defaults", wantVersion: "2025-11-25", wantType: mediaJSON},
		{name: "older client", version: "2025-06-18", wantVersion: "2025-06-18", wantType: mediaJSON},
		{name: "SSE only", accept: "text/event-stream", wantVersion: "2025-11-25", wantType: mediaSSE},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, b := startReplica(t, nil), startReplica(t, nil)
			stdout := tsclient.Run(t, "testdata/tsclient.mjs", map[string]any{
				"endpoints":  []string{a.srv.URL + "/mcp", b.srv.URL + "/mcp"},
				"clientName": "ts-sdk-test",
				"accept":     tt.accept,
				"version":    tt.version,
			})

			var rep tsReport
			require.NoError(t, json.Unmarshal(stdout, &rep), "output: %s", stdout)
			require.True(t, rep.OK, "client failed: %s\nrequests: %+v", rep.Error, rep.Requests)
			assert.Equal(t, "present", rep.SessionID)
			assert.Equal(t, tt.wantVersion, rep.ProtocolVersion)
			assert.Equal(t, "portcullis", rep.ServerName)
			assert.Len(t, rep.Tools, len(fakeCatalogue))
			assert.IsIncreasing(t, rep.Tools)
			assert.Greater(t, rep.Pages, 1, "paged (page size 2)")
			assert.JSONEq(t, `{"msg":"héllo"}`, string(rep.Echo.Structured))
			assert.JSONEq(t, `{"msg":"héllo"}`, rep.Echo.Text)
			assert.False(t, rep.Echo.IsError)
			assert.True(t, rep.Fails.IsError)
			assert.JSONEq(t, `{"tenant":"tenant-a","subject":"user-1","session_tenant":"tenant-a","client":"ts-sdk-test","version":"`+tt.wantVersion+`","method":"tools/call"}`, string(rep.Whoami))
			require.NotNil(t, rep.Hidden.Code, "calling a hidden tool must fail: %+v", rep.Hidden)
			assert.Equal(t, CodeInvalidParams, *rep.Hidden.Code)
			assert.Contains(t, rep.Hidden.Message, "Unknown tool: hidden")

			hosts := map[string]bool{}
			sawDelete := false
			for _, r := range rep.Requests {
				assert.Less(t, r.Status, 500, "%+v", r)
				if r.Method == "POST" && r.Status == 200 {
					hosts[r.Host] = true
					assert.Contains(t, r.ContentType, tt.wantType)
				}
				if r.Method == "DELETE" && r.Status == 204 {
					sawDelete = true
				}
			}
			assert.Len(t, hosts, 2, "both replicas served the session")
			assert.True(t, sawDelete, "terminateSession sends DELETE, answered 204")
		})
	}
}
