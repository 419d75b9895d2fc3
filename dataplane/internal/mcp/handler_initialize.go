package mcp

import (
	"encoding/json"
	"net/http"

	"github.com/portcullis/portcullis/shared/authn"
)

type initializeParams struct {
	ProtocolVersion string `json:"protocolVersion"`
	ClientInfo      struct {
		Name    string `json:"name"`
		Version string `json:"version"`
	} `json:"clientInfo"`
}

type initializeResult struct {
	ProtocolVersion string             `json:"protocolVersion"`
	Capabilities    serverCapabilities `json:"capabilities"`
	ServerInfo      implementation     `json:"serverInfo"`
	Instructions    string             `json:"instructions,omitempty"`
}

type serverCapabilities struct {
	Tools toolsCapability `json:"tools"`
}

// toolsCapability: listChanged stays false because a stateless server has no stream
// on which to announce changes; clients re-list when they reconnect.
type toolsCapability struct {
	ListChanged bool `json:"listChanged"`
}

type implementation struct {
	Name    string `json:"name"`
	Version string `json:"version"`
}

// serveInitialize negotiates the protocol version and issues the session token bound to
// the caller. An Mcp-Session-Id sent along is ignored: initialize always starts afresh.
func (h *Handler) serveInitialize(x *exchange, msg message, p authn.Principal) {
	format, ok := responseFormat(x.r.Header.Values("Accept"))
	if !ok {
		h.reject(x, msg.id, http.StatusNotAcceptable, CodeInvalidRequest, "Not Acceptable: accept application/json or text/event-stream", "accept")
		return
	}
	var params initializeParams
	if firstByte(msg.params) != '{' || json.Unmarshal(msg.params, &params) != nil || params.ProtocolVersion == "" {
		h.respond(x, format, msg.id, nil, InvalidParamsError(`Invalid params: initialize needs a "protocolVersion" string and a "clientInfo" object`, nil))
		return
	}
	version := negotiateVersion(params.ProtocolVersion)
	token, session, err := h.sessions.issue(p.TenantID, p.Subject, version, params.ClientInfo.Name, params.ClientInfo.Version, h.cfg.Now())
	if err != nil {
		h.fail(x, msg.id, http.StatusInternalServerError, err.Error())
		return
	}
	x.session = session
	x.w.Header().Set(HeaderSessionID, token)
	h.respond(x, format, msg.id, initializeResult{
		ProtocolVersion: version,
		Capabilities:    serverCapabilities{Tools: toolsCapability{}},
		ServerInfo:      implementation{Name: h.cfg.ServerName, Version: h.cfg.ServerVersion},
		Instructions:    h.cfg.Instructions,
	}, nil)
}
