package mcp

import (
	"encoding/json"
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func toolNames(tools []Tool) []string {
	names := make([]string, len(tools))
	for i, t := range tools {
		names[i] = t.Name
	}
	return names
}

func TestPage(t *testing.T) {
	tools := []Tool{{Name: "d"}, {Name: "b"}, {Name: "a"}, {Name: "e"}, {Name: "c"}, {Name: "b", Description: "duplicate"}}
	first := page(tools, "", 2)
	assert.Equal(t, []string{"a", "b"}, toolNames(first.Tools))
	assert.Equal(t, "", first.Tools[1].Description, "the first of duplicate names wins")
	require.NotEmpty(t, first.NextCursor)

	after, ok := decodeCursor(first.NextCursor)
	require.True(t, ok)
	second := page(tools, after, 2)
	assert.Equal(t, []string{"c", "d"}, toolNames(second.Tools))

	after, _ = decodeCursor(second.NextCursor)
	last := page(tools, after, 2)
	assert.Equal(t, []string{"e"}, toolNames(last.Tools))
	assert.Empty(t, last.NextCursor, "no cursor after the last page")

	exact := page(tools[:4], "", 4)
	assert.Empty(t, exact.NextCursor, "a full last page has no cursor")

	assert.Equal(t, "d", tools[0].Name, "the caller's slice is not reordered")
	for _, tool := range first.Tools {
		assert.JSONEq(t, `{"type":"object"}`, string(tool.InputSchema), "a missing schema becomes an empty object schema")
	}
}

// TestPageStableAcrossChanges: a tool list that changes between pages (a bundle swap)
// neither repeats nor skips tools that were present throughout.
func TestPageStableAcrossChanges(t *testing.T) {
	before := []Tool{{Name: "a"}, {Name: "b"}, {Name: "c"}, {Name: "d"}, {Name: "e"}}
	first := page(before, "", 2)
	after, _ := decodeCursor(first.NextCursor)
	changed := []Tool{{Name: "a"}, {Name: "c"}, {Name: "d"}, {Name: "e"}, {Name: "aa"}} // b removed, aa added
	second := page(changed, after, 2)
	assert.Equal(t, []string{"c", "d"}, toolNames(second.Tools))
}

func TestCursor(t *testing.T) {
	for _, bad := range []string{"!!", "bjE6", encodeCursor("")[:3], "eDp4", string(make([]byte, 300))} {
		_, ok := decodeCursor(bad)
		assert.False(t, ok, "%q", bad)
	}
	name, ok := decodeCursor(encodeCursor("some.tool_name-1"))
	assert.True(t, ok)
	assert.Equal(t, "some.tool_name-1", name)
}

// TestToolsListPaging drives paging through the endpoint.
func TestToolsListPaging(t *testing.T) {
	const v = "2025-11-25"
	var extra []Tool
	for i := range 10 {
		extra = append(extra, Tool{Name: fmt.Sprintf("extra_%02d", i)})
	}
	env := newTestEnv(t, func(c *Config) { c.Tools = fakeTools{extra: extra}; c.PageSize = 3 })
	token := env.initialize(v, nil)

	var all []string
	cursor := ""
	for pages := 0; ; pages++ {
		require.Less(t, pages, 20, "paging does not terminate")
		params := `{}`
		if cursor != "" {
			params = fmt.Sprintf(`{"cursor":%q}`, cursor)
		}
		reply := decodeReply(t, env.post(`{"jsonrpc":"2.0","id":1,"method":"tools/list","params":`+params+`}`, sessionHeaders(token, v)))
		require.Nil(t, reply.Error)
		var res listToolsResult
		require.NoError(t, json.Unmarshal(reply.Result, &res))
		assert.LessOrEqual(t, len(res.Tools), 3)
		all = append(all, toolNames(res.Tools)...)
		if res.NextCursor == "" {
			break
		}
		cursor = res.NextCursor
	}
	assert.Len(t, all, len(fakeCatalogue)+len(extra))
	assert.IsIncreasing(t, all)

	// No params at all is the first page.
	reply := decodeReply(t, env.post(`{"jsonrpc":"2.0","id":1,"method":"tools/list"}`, sessionHeaders(token, v)))
	var res listToolsResult
	require.NoError(t, json.Unmarshal(reply.Result, &res))
	assert.Equal(t, all[:3], toolNames(res.Tools))
}

func TestToolsListEmpty(t *testing.T) {
	const v = "2025-11-25"
	env := newTestEnv(t, func(c *Config) { c.Tools = ToolsFunc{} })
	token := env.initialize(v, nil)
	rec := env.post(`{"jsonrpc":"2.0","id":1,"method":"tools/list"}`, sessionHeaders(token, v))
	reply := decodeReply(t, rec)
	assert.JSONEq(t, `{"tools":[]}`, string(reply.Result), "tools is an empty array, never null")
}

func TestNormaliseResult(t *testing.T) {
	tests := []struct {
		name           string
		in             CallResult
		wantText       []string
		wantStructured string
	}{
		{name: "empty", in: CallResult{}, wantText: []string{}},
		{name: "text only", in: CallResult{Content: []Content{TextContent("a")}}, wantText: []string{"a"}},
		{name: "structured gets a text copy", in: CallResult{StructuredContent: json.RawMessage(`{"a":1}`)}, wantText: []string{`{"a":1}`}, wantStructured: `{"a":1}`},
		{name: "both kept as given", in: CallResult{Content: []Content{TextContent("x")}, StructuredContent: json.RawMessage(`{"a":1}`)}, wantText: []string{"x"}, wantStructured: `{"a":1}`},
		{name: "array travels as text only", in: CallResult{StructuredContent: json.RawMessage(`[1,2]`)}, wantText: []string{`[1,2]`}},
		{name: "scalar travels as text only", in: CallResult{StructuredContent: json.RawMessage(` 42 `)}, wantText: []string{`42`}},
		{name: "null dropped", in: CallResult{StructuredContent: json.RawMessage(`null`)}, wantText: []string{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out := normaliseResult(tt.in)
			texts := []string{}
			for _, c := range out.Content {
				texts = append(texts, c.Text)
			}
			assert.Equal(t, tt.wantText, texts)
			assert.NotNil(t, out.Content)
			if tt.wantStructured == "" {
				assert.Nil(t, out.StructuredContent)
			} else {
				assert.JSONEq(t, tt.wantStructured, string(out.StructuredContent))
			}
		})
	}
}

func TestPageFixesBadSchemas(t *testing.T) {
	out := page([]Tool{{Name: "a", InputSchema: json.RawMessage(`true`)}, {Name: "b", InputSchema: json.RawMessage(` {"type":"object","required":["x"]}`)}}, "", 10)
	assert.JSONEq(t, `{"type":"object"}`, string(out.Tools[0].InputSchema))
	assert.JSONEq(t, `{"type":"object","required":["x"]}`, string(out.Tools[1].InputSchema))
}
