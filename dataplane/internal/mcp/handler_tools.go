package mcp

import (
	"bytes"
	"cmp"
	"context"
	"encoding/base64"
	"encoding/json"
	"regexp"
	"slices"
	"sort"
	"strings"
)

// toolNamePattern is the agreed tool-name syntax (CONTRACTS.md). A name outside it
// cannot exist, so it is refused before any layer runs, with the usual unknown-tool error.
var toolNamePattern = regexp.MustCompile(`^[a-zA-Z0-9_.-]{1,64}$`)

type listToolsParams struct {
	Cursor *string `json:"cursor"`
}

type listToolsResult struct {
	Tools      []Tool `json:"tools"`
	NextCursor string `json:"nextCursor,omitempty"`
}

// emptyObjectSchema stands in for a missing input schema: the spec requires an object
// schema, and clients (the Go SDK among them) reject a tool without one.
var emptyObjectSchema = json.RawMessage(`{"type":"object"}`)

// listTools returns one page of the caller's tools, sorted by name.
func (h *Handler) listTools(ctx context.Context, x *exchange, raw json.RawMessage) (any, *Error) {
	var params listToolsParams
	if raw != nil && (firstByte(raw) != '{' || json.Unmarshal(raw, &params) != nil) {
		return nil, InvalidParamsError(`Invalid params: "cursor" must be a string`, nil)
	}
	after := ""
	if params.Cursor != nil && *params.Cursor != "" {
		name, ok := decodeCursor(*params.Cursor)
		if !ok {
			return nil, InvalidParamsError("Invalid params: invalid cursor", nil)
		}
		after = name
	}
	tools, err := h.cfg.Tools.List(ctx)
	if err != nil {
		return nil, h.toRPCError(ctx, x, err)
	}
	return page(tools, after, h.cfg.PageSize), nil
}

// page sorts a copy of tools by name, drops duplicate names (keeping the first) and
// returns the page after the name `after`.
//
// The cursor is the last name of the previous page rather than an offset, so a bundle
// swap between two pages neither repeats nor skips tools that were there throughout.
func page(tools []Tool, after string, size int) listToolsResult {
	sorted := slices.Clone(tools)
	slices.SortStableFunc(sorted, func(a, b Tool) int { return cmp.Compare(a.Name, b.Name) })
	sorted = slices.CompactFunc(sorted, func(a, b Tool) bool { return a.Name == b.Name })
	start := 0
	if after != "" {
		start = sort.Search(len(sorted), func(i int) bool { return sorted[i].Name > after })
	}
	end := min(start+size, len(sorted))
	out := listToolsResult{Tools: make([]Tool, 0, end-start)}
	for _, t := range sorted[start:end] {
		if firstByte(t.InputSchema) != '{' {
			// Missing (or, from a buggy layer, not an object): clients validate this
			// field and the TypeScript SDK fails the whole list over one bad tool.
			t.InputSchema = emptyObjectSchema
		}
		out.Tools = append(out.Tools, t)
	}
	if end < len(sorted) {
		out.NextCursor = encodeCursor(sorted[end-1].Name)
	}
	return out
}

// cursorPrefix versions the cursor format. Cursors are opaque to clients; a client that
// crafts one only chooses where its own (already filtered) list starts.
const cursorPrefix = "n1:"

func encodeCursor(lastName string) string {
	return base64.RawURLEncoding.EncodeToString([]byte(cursorPrefix + lastName))
}

func decodeCursor(c string) (string, bool) {
	if len(c) > 256 {
		return "", false
	}
	raw, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil {
		return "", false
	}
	name, ok := strings.CutPrefix(string(raw), cursorPrefix)
	if !ok || name == "" {
		return "", false
	}
	return name, true
}

type callToolParams struct {
	Name      json.RawMessage `json:"name"`
	Arguments json.RawMessage `json:"arguments"`
}

// callTool checks the call's shape and hands it to Tools.
func (h *Handler) callTool(ctx context.Context, x *exchange, raw json.RawMessage) (any, *Error) {
	var params callToolParams
	if firstByte(raw) != '{' || json.Unmarshal(raw, &params) != nil {
		return nil, InvalidParamsError(`Invalid params: tools/call needs a "name"`, nil)
	}
	var name string
	if firstByte(params.Name) != '"' || json.Unmarshal(params.Name, &name) != nil || name == "" {
		return nil, InvalidParamsError(`Invalid params: "name" must be a non-empty string`, nil)
	}
	args := params.Arguments
	if !present(args) {
		args = json.RawMessage(`{}`)
	} else if firstByte(args) != '{' {
		return nil, InvalidParamsError(`Invalid params: "arguments" must be an object`, nil)
	}
	if !toolNamePattern.MatchString(name) {
		return nil, UnknownToolError(name)
	}
	res, err := h.cfg.Tools.Call(ctx, name, args)
	if err != nil {
		return nil, h.toRPCError(ctx, x, err)
	}
	if res.IsError {
		x.outcome = outcomeToolError
	}
	return normaliseResult(res), nil
}

// normaliseResult makes a result valid on the wire: content is never null, structured
// content travels with a text copy (as the spec recommends for clients that only read
// content), and structured content that is not a JSON object, which the 2025 schemas
// (and the TypeScript SDK's validation) refuse, travels as text only.
func normaliseResult(res CallResult) CallResult {
	structured := bytes.TrimSpace(res.StructuredContent)
	if len(res.Content) == 0 && len(structured) > 0 && string(structured) != "null" {
		res.Content = []Content{TextContent(string(structured))}
	}
	if firstByte(structured) != '{' {
		res.StructuredContent = nil
	}
	if res.Content == nil {
		res.Content = []Content{}
	}
	return res
}
