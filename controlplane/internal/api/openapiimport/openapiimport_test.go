package openapiimport

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/portcullis/portcullis/shared/model"
)

func TestToolName(t *testing.T) {
	cases := []struct {
		opID, method, path, want string
	}{
		{"listPets", "GET", "/pets", "listPets"},
		{"orders.list-all_v2", "GET", "/orders", "orders.list-all_v2"},
		{"list pets!", "GET", "/pets", "list_pets"},
		{"  spaced  out  ", "GET", "/pets", "spaced_out"},
		{"ünïcode", "GET", "/x", "n_code"},
		{"", "GET", "/pets/{petId}", "get_pets_petId"},
		{"!!!", "DELETE", "/pets/{petId}/tags", "delete_pets_petId_tags"},
		{"", "GET", "/", "get"},
		{strings.Repeat("a", 100), "GET", "/", strings.Repeat("a", 64)},
		{"", "POST", "/" + strings.Repeat("segment/", 20), "post_" + strings.TrimRight(strings.Repeat("segment_", 8)[:59], "_")},
	}
	for _, c := range cases {
		got := ToolName(c.opID, c.method, c.path)
		require.Equal(t, c.want, got, "%q %s %s", c.opID, c.method, c.path)
		require.Regexp(t, `^[a-zA-Z0-9_.-]{1,64}$`, got)
	}
}

func load(t *testing.T, doc string) ([]model.Tool, error) {
	t.Helper()
	d, err := Load(context.Background(), []byte(doc))
	if err != nil {
		return nil, err
	}
	return Tools(d, Defaults{SourceID: "src", BaseURL: "https://api.example.test"})
}

const header = "openapi: 3.0.3\ninfo: {title: t, version: '1'}\n"

func TestConversion(t *testing.T) {
	tools, err := load(t, header+`
paths:
  /items/{id}:
    parameters:
      - {name: id, in: path, required: true, schema: {type: integer}}
      - {name: verbose, in: query, schema: {type: boolean}}
    put:
      operationId: putItem
      summary: Replace an item
      parameters:
        - {name: verbose, in: query, description: overridden, schema: {type: string}}
        - {name: Authorization, in: header, schema: {type: string}}
        - {name: session, in: cookie, schema: {type: string}}
      requestBody:
        content:
          application/merge-patch+json:
            schema: {$ref: "#/components/schemas/Node"}
      responses:
        "201":
          description: ok
          content:
            application/json:
              schema: {$ref: "#/components/schemas/Node"}
components:
  schemas:
    Node:
      type: object
      properties:
        name: {type: string, nullable: true, example: leaf}
        size: {type: number, minimum: 0, exclusiveMinimum: true}
        children: {type: array, items: {$ref: "#/components/schemas/Node"}}
`)
	require.NoError(t, err)
	require.Len(t, tools, 1)
	tool := tools[0]
	require.Equal(t, "putItem", tool.Name)
	require.Equal(t, "Replace an item", tool.Title)
	require.Equal(t, "Replace an item", tool.Description)
	require.Equal(t, "PUT", tool.Method)
	require.Equal(t, "/items/{id}", tool.Path)
	require.Equal(t, "src", tool.SourceID)
	require.Equal(t, []model.Param{{Name: "id", In: "path", Required: true}, {Name: "verbose", In: "query"}, {Name: "body", In: "body"}}, tool.Params)

	in := tool.InputSchema
	require.Equal(t, schemaDialect, in["$schema"])
	require.Equal(t, false, in["additionalProperties"])
	require.Equal(t, []string{"id"}, in["required"])
	props := in["properties"].(map[string]any)
	require.Equal(t, "string", props["verbose"].(map[string]any)["type"], "the operation's parameter overrides the path's")
	require.Equal(t, "overridden", props["verbose"].(map[string]any)["description"])
	require.NotContains(t, props, "Authorization")
	require.NotContains(t, props, "session")
	require.Equal(t, map[string]any{"$ref": "#/$defs/Node"}, props["body"])

	node := in["$defs"].(map[string]any)["Node"].(map[string]any)
	np := node["properties"].(map[string]any)
	require.Equal(t, []string{"string", "null"}, np["name"].(map[string]any)["type"])
	require.Equal(t, []any{"leaf"}, np["name"].(map[string]any)["examples"])
	require.Equal(t, float64(0), np["size"].(map[string]any)["exclusiveMinimum"])
	require.NotContains(t, np["size"], "minimum")

	require.Equal(t, "object", tool.OutputSchema["type"])
	require.NotContains(t, tool.OutputSchema, "$ref", "the top-level reference is inlined")
	require.Contains(t, tool.OutputSchema["properties"], "children")
	require.Contains(t, tool.OutputSchema["$defs"], "Node", "the recursion still goes through $defs")
}

func TestRejectedDocuments(t *testing.T) {
	cases := map[string]string{
		"not yaml":          "{{{",
		"swagger 2":         "swagger: '2.0'\ninfo: {title: t, version: '1'}\npaths: {}\n",
		"invalid":           header + "paths:\n  /x:\n    get:\n      responses: 42\n",
		"external file ref": header + "paths:\n  /x:\n    get:\n      responses:\n        '200': {$ref: 'other.yaml#/R'}\n",
		"external url ref":  header + "paths:\n  /x:\n    get:\n      responses:\n        '200': {$ref: 'http://127.0.0.1:1/r.yaml#/R'}\n",
		"required cookie": header + `paths:
  /x:
    get:
      parameters: [{name: s, in: cookie, required: true, schema: {type: string}}]
      responses: {'204': {description: ok}}
`,
		"reserved body param": header + `paths:
  /x:
    post:
      parameters: [{name: body, in: query, schema: {type: string}}]
      responses: {'204': {description: ok}}
`,
		"required non-json body": header + `paths:
  /x:
    post:
      requestBody:
        required: true
        content: {text/plain: {schema: {type: string}}}
      responses: {'204': {description: ok}}
`,
		"duplicate tool names": header + `paths:
  /a:
    get: {operationId: same, responses: {'204': {description: ok}}}
  /b:
    get: {operationId: same, responses: {'204': {description: ok}}}
`,
	}
	cases["yaml alias bomb"] = aliasBomb()
	for name, doc := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := load(t, doc)
			var ve model.ValidationError
			require.ErrorAs(t, err, &ve)
			require.NotEmpty(t, ve[0].Field)
		})
	}
}

// aliasBomb is a "billion laughs" YAML document: 9^9 strings once expanded.
func aliasBomb() string {
	var b strings.Builder
	b.WriteString(header + "paths: {}\nx-a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n")
	for i := 1; i < 9; i++ {
		fmt.Fprintf(&b, "x-a%d: &a%d [", i, i)
		for j := 0; j < 9; j++ {
			if j > 0 {
				b.WriteString(", ")
			}
			fmt.Fprintf(&b, "*a%d", i-1)
		}
		b.WriteString("]\n")
	}
	return b.String()
}

func TestDescriptionIsTruncated(t *testing.T) {
	long := strings.Repeat("é", 3000)
	tools, err := load(t, header+"paths:\n  /x:\n    get:\n      description: "+long+"\n      responses: {'204': {description: ok}}\n")
	require.NoError(t, err)
	require.Equal(t, 2000, len([]rune(tools[0].Description)))
}

// FuzzImport: no document makes the importer panic, and every tool it
// produces is valid.
func FuzzImport(f *testing.F) {
	f.Add([]byte(header + "paths:\n  /x/{id}:\n    get:\n      parameters: [{name: id, in: path, required: true, schema: {type: string}}]\n      responses: {'200': {description: ok, content: {application/json: {schema: {type: object}}}}}\n"))
	f.Add([]byte(`{"openapi":"3.0.3","info":{"title":"t","version":"1"},"paths":{"/a":{"post":{"requestBody":{"content":{"application/json":{"schema":{"$ref":"#/components/schemas/A"}}}},"responses":{"204":{"description":"ok"}}}}},"components":{"schemas":{"A":{"type":"object","properties":{"a":{"$ref":"#/components/schemas/A"}}}}}}`))
	f.Add([]byte("openapi: 3.1.0\n"))
	f.Add([]byte(petstore30))
	f.Fuzz(func(t *testing.T, data []byte) {
		doc, err := Load(context.Background(), data)
		if err != nil {
			return
		}
		tools, err := Tools(doc, Defaults{BaseURL: "https://api.example.test"})
		if err != nil {
			return
		}
		for _, tool := range tools {
			require.NoError(t, tool.Validate())
		}
	})
}
