package mcp

import (
	"context"
	"encoding/json"
)

// Tools is how the layers behind the transport plug in. The transport calls it only
// for a request that arrived on a valid session of the principal in ctx; ctx also
// carries the session (SessionFromContext) and the JSON-RPC request (RequestFromContext)
// and is cancelled when the client goes away or the request timeout passes.
//
// Implementations return *Error (possibly wrapped) for protocol-level refusals, such as
// UnknownToolError for a tool the caller may not call; every other error is reported
// to the client as an opaque internal error.
type Tools interface {
	// List returns every tool the caller may see. The transport sorts them by name and
	// pages them, so implementations need not know about cursors.
	List(ctx context.Context) ([]Tool, error)
	// Call runs one tool. args is the "arguments" object exactly as the client sent it
	// ({} when absent); it has not been validated against the input schema.
	Call(ctx context.Context, name string, args json.RawMessage) (CallResult, error)
}

// Tool is one entry of tools/list.
type Tool struct {
	Name        string          `json:"name"`
	Title       string          `json:"title,omitempty"`
	Description string          `json:"description,omitempty"`
	InputSchema json.RawMessage `json:"inputSchema"` // a JSON Schema object; {"type":"object"} when empty
	// OutputSchema, when set, describes StructuredContent of the tool's results.
	OutputSchema json.RawMessage `json:"outputSchema,omitempty"`
	Annotations  json.RawMessage `json:"annotations,omitempty"`
}

// CallResult is the outcome of a tool that ran. IsError marks a tool-level failure
// (backend error, refused by a hook, ...): the model sees it and can react, unlike a
// protocol error.
type CallResult struct {
	Content           []Content       `json:"content"`
	StructuredContent json.RawMessage `json:"structuredContent,omitempty"`
	IsError           bool            `json:"isError,omitempty"`
}

// Content is one content block of a tool result. Only text is produced today; the
// other members exist so images or audio can be added without changing the type.
type Content struct {
	Type     string `json:"type"`
	Text     string `json:"text,omitempty"`
	Data     string `json:"data,omitempty"`     // base64, for type image/audio
	MimeType string `json:"mimeType,omitempty"` // for type image/audio
}

// TextContent is a text content block.
func TextContent(text string) Content {
	return Content{Type: "text", Text: text}
}

// ToolsFunc adapts two functions to Tools; convenient for tests and small compositions.
type ToolsFunc struct {
	ListFunc func(ctx context.Context) ([]Tool, error)
	CallFunc func(ctx context.Context, name string, args json.RawMessage) (CallResult, error)
}

// List implements Tools. A nil ListFunc lists nothing.
func (f ToolsFunc) List(ctx context.Context) ([]Tool, error) {
	if f.ListFunc == nil {
		return nil, nil
	}
	return f.ListFunc(ctx)
}

// Call implements Tools. A nil CallFunc knows no tool.
func (f ToolsFunc) Call(ctx context.Context, name string, args json.RawMessage) (CallResult, error) {
	if f.CallFunc == nil {
		return CallResult{}, UnknownToolError(name)
	}
	return f.CallFunc(ctx, name, args)
}
