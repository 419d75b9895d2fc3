// Package openapiimport turns an OpenAPI 3 document into MCP tools, one per
// operation. It is pure: the document is parsed from memory and external
// $refs are refused, so an uploaded document can make the control plane read
// neither its own files nor the network.
package openapiimport

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strings"
	"unicode/utf8"

	"github.com/getkin/kin-openapi/openapi3"

	"github.com/portcullis/portcullis/shared/model"
)

// MaxOperations bounds the tools one document may create.
const MaxOperations = 1000

// maxDescription is the longest tool description (model.Tool).
const maxDescription = 2000

// schemaDialect is the JSON Schema dialect of the generated schemas.
const schemaDialect = "https://json-schema.org/draft/2020-12/schema"

// Load parses and validates an OpenAPI 3 document (JSON or YAML). Problems
// are a model.ValidationError under the field "document".
func Load(ctx context.Context, data []byte) (*openapi3.T, error) {
	loader := openapi3.NewLoader()
	loader.Context = ctx
	loader.IsExternalRefsAllowed = false // and ReadFromURIFunc stays nil, so the flag is enforced
	doc, err := loader.LoadFromData(data)
	if err != nil {
		var ext *openapi3.DisallowedExternalRefError
		if errors.As(err, &ext) {
			return nil, docError("external $ref %q is not allowed: inline it", ext.Ref)
		}
		return nil, docError("not a readable OpenAPI 3 document: %v", err)
	}
	if !strings.HasPrefix(doc.OpenAPI, "3.") {
		return nil, docError("openapi version %q is not supported: use 3.x", doc.OpenAPI)
	}
	if err := doc.Validate(ctx, openapi3.DisableExamplesValidation()); err != nil {
		return nil, docError("invalid OpenAPI document: %v", err)
	}
	return doc, nil
}

func docError(format string, args ...any) error {
	return model.ValidationError{{Field: "document", Message: truncate(fmt.Sprintf(format, args...), 500)}}
}

// Defaults are the fields every imported tool takes from its source.
type Defaults struct {
	SourceID string
	BaseURL  string
}

// Tools converts every operation of doc to a tool, in a stable order (paths
// sorted, methods in a fixed order). Problems with individual operations are
// reported together, each under "operations[METHOD path]".
func Tools(doc *openapi3.T, d Defaults) ([]model.Tool, error) {
	var probs model.Problems
	var tools []model.Tool
	seen := map[string]string{} // tool name → operation that took it
	if doc.Paths == nil {
		return nil, nil
	}
	paths := doc.Paths.Map()
	keys := make([]string, 0, len(paths))
	for p := range paths {
		keys = append(keys, p)
	}
	sort.Strings(keys)
	for _, p := range keys {
		item := paths[p]
		for _, method := range methods {
			op := item.GetOperation(method)
			if op == nil {
				continue
			}
			field := fmt.Sprintf("operations[%s %s]", method, p)
			if len(tools) == MaxOperations {
				probs.Add("document", "more than %d operations", MaxOperations)
				return nil, probs.Err()
			}
			t, err := convert(doc, method, p, item, op, d)
			if err != nil {
				probs.Merge(field, err)
				continue
			}
			if other, dup := seen[t.Name]; dup {
				probs.Add(field, "tool name %q is also the name of %s", t.Name, other)
				continue
			}
			seen[t.Name] = fmt.Sprintf("%s %s", method, p)
			if err := t.Validate(); err != nil {
				probs.Merge(field, err)
				continue
			}
			tools = append(tools, t)
		}
	}
	if err := probs.Err(); err != nil {
		return nil, err
	}
	return tools, nil
}

// methods are the HTTP methods an operation may have, in output order.
var methods = []string{"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS", "TRACE"}

// convert builds one tool.
func convert(doc *openapi3.T, method, path string, item *openapi3.PathItem, op *openapi3.Operation, d Defaults) (model.Tool, error) {
	t := model.Tool{
		Name:        ToolName(op.OperationID, method, path),
		Title:       truncate(strings.TrimSpace(op.Summary), 200),
		Description: description(op),
		SourceID:    d.SourceID,
		BaseURL:     d.BaseURL,
		Method:      method,
		Path:        path,
		Active:      true,
	}
	in, params, err := inputSchema(doc, item, op)
	if err != nil {
		return t, err
	}
	t.InputSchema, t.Params = in, params
	t.OutputSchema, err = outputSchema(doc, op)
	return t, err
}

// description is the operation's description, else its summary, cut to the
// model's limit.
func description(op *openapi3.Operation) string {
	s := strings.TrimSpace(op.Description)
	if s == "" {
		s = strings.TrimSpace(op.Summary)
	}
	return truncate(s, maxDescription)
}

var (
	invalidNameChars = regexp.MustCompile(`[^a-zA-Z0-9_.-]+`)
	namePattern      = regexp.MustCompile(`^[a-zA-Z0-9_.-]{1,64}$`)
)

// ToolName derives a tool name (^[a-zA-Z0-9_.-]{1,64}$) from an operationId,
// or from method and path when the operationId is missing or sanitises to
// nothing.
func ToolName(operationID, method, path string) string {
	if n := sanitize(operationID); n != "" {
		return n
	}
	n := sanitize(strings.ToLower(method) + "_" + strings.NewReplacer("{", "", "}", "", "/", "_").Replace(path))
	if n == "" {
		n = strings.ToLower(method)
	}
	return n
}

func sanitize(s string) string {
	s = strings.Trim(invalidNameChars.ReplaceAllString(s, "_"), "_")
	for strings.Contains(s, "__") {
		s = strings.ReplaceAll(s, "__", "_")
	}
	if len(s) > 64 {
		s = strings.TrimRight(s[:64], "_")
	}
	if !namePattern.MatchString(s) {
		return ""
	}
	return s
}

// inputSchema merges the operation's path, query and header parameters and
// its JSON request body into one object schema: one property per parameter,
// plus "body".
func inputSchema(doc *openapi3.T, item *openapi3.PathItem, op *openapi3.Operation) (map[string]any, []model.Param, error) {
	props := map[string]any{}
	var required []string
	var params []model.Param
	var probs model.Problems
	for _, ref := range mergeParams(item.Parameters, op.Parameters) {
		p := ref.Value
		if p == nil {
			continue
		}
		switch p.In {
		case openapi3.ParameterInPath, openapi3.ParameterInQuery, openapi3.ParameterInHeader:
		default: // cookies: the gateway does not forward them
			if p.Required {
				probs.Add("parameters."+p.Name, "required %s parameters are not supported", p.In)
			}
			continue
		}
		if p.In == openapi3.ParameterInHeader && ignoredHeaders[strings.ToLower(p.Name)] {
			continue // OpenAPI says these are ignored; the gateway sets them
		}
		if _, dup := props[p.Name]; dup || p.Name == "body" {
			probs.Add("parameters."+p.Name, "parameter name %q is used twice (or is the reserved \"body\")", p.Name)
			continue
		}
		schema := map[string]any{}
		if p.Schema != nil {
			schema = toJSONSchema(p.Schema)
		} else if mt := firstJSON(p.Content); mt != nil && mt.Schema != nil {
			schema = toJSONSchema(mt.Schema)
		}
		if p.Description != "" {
			if _, ok := schema["description"]; !ok {
				schema["description"] = truncate(p.Description, maxDescription)
			}
		}
		props[p.Name] = schema
		if p.Required || p.In == openapi3.ParameterInPath {
			required = append(required, p.Name)
		}
		params = append(params, model.Param{Name: p.Name, In: p.In, Required: p.Required || p.In == openapi3.ParameterInPath})
	}
	if op.RequestBody != nil && op.RequestBody.Value != nil {
		rb := op.RequestBody.Value
		mt := firstJSON(rb.Content)
		switch {
		case mt != nil:
			schema := map[string]any{}
			if mt.Schema != nil {
				schema = toJSONSchema(mt.Schema)
			}
			props["body"] = schema
			if rb.Required {
				required = append(required, "body")
			}
			params = append(params, model.Param{Name: "body", In: "body", Required: rb.Required})
		case rb.Required:
			probs.Add("requestBody", "only JSON request bodies are supported")
		}
	}
	if err := probs.Err(); err != nil {
		return nil, nil, err
	}
	schema := map[string]any{
		"$schema":              schemaDialect,
		"type":                 "object",
		"properties":           props,
		"additionalProperties": false,
	}
	if len(required) > 0 {
		sort.Strings(required)
		schema["required"] = required
	}
	return withDefs(doc, schema), params, nil
}

// ignoredHeaders are header parameters OpenAPI ignores.
var ignoredHeaders = map[string]bool{"accept": true, "content-type": true, "authorization": true}

// mergeParams applies operation-level parameters over path-level ones (same
// name and location: the operation's wins), as OpenAPI specifies.
func mergeParams(pathLevel, opLevel openapi3.Parameters) openapi3.Parameters {
	out := openapi3.Parameters{}
	overridden := map[string]bool{}
	for _, r := range opLevel {
		if r != nil && r.Value != nil {
			overridden[r.Value.In+"\x00"+r.Value.Name] = true
		}
	}
	for _, r := range pathLevel {
		if r != nil && r.Value != nil && !overridden[r.Value.In+"\x00"+r.Value.Name] {
			out = append(out, r)
		}
	}
	return append(out, opLevel...)
}

// outputSchema is the schema of the 200 (else 201) JSON response, if any.
// MCP structured output is always an object, so a response of another type
// (an array, a string) gets no output schema: the agent sees it as text.
func outputSchema(doc *openapi3.T, op *openapi3.Operation) (map[string]any, error) {
	if op.Responses == nil {
		return nil, nil
	}
	for _, status := range []int{200, 201} {
		r := op.Responses.Status(status)
		if r == nil || r.Value == nil {
			continue
		}
		if mt := firstJSON(r.Value.Content); mt != nil && mt.Schema != nil && mt.Schema.Value != nil {
			if !mt.Schema.Value.Type.Is(openapi3.TypeObject) {
				return nil, nil
			}
			s := toJSONSchema(mt.Schema)
			s["type"] = "object" // explicit even when the object is behind a $ref
			s["$schema"] = schemaDialect
			return withDefs(doc, s), nil
		}
	}
	return nil, nil
}

// firstJSON returns the application/json (or other +json) media type.
func firstJSON(c openapi3.Content) *openapi3.MediaType {
	if mt := c.Get("application/json"); mt != nil {
		return mt
	}
	keys := make([]string, 0, len(c))
	for k := range c {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if strings.HasSuffix(strings.ToLower(strings.SplitN(k, ";", 2)[0]), "+json") {
			return c[k]
		}
	}
	return nil
}

// componentRef is how kin-openapi writes a reference to a component schema.
const componentRef = "#/components/schemas/"

// toJSONSchema converts an OpenAPI schema (3.0 dialect) to JSON Schema 2020-12.
// References to component schemas become references into "$defs" (added by
// withDefs); a reference is kept rather than inlined so recursive schemas work.
func toJSONSchema(ref *openapi3.SchemaRef) map[string]any {
	raw, err := json.Marshal(ref)
	if err != nil {
		return map[string]any{}
	}
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		return map[string]any{}
	}
	m, ok := rewrite(v).(map[string]any)
	if !ok {
		return map[string]any{}
	}
	return m
}

// rewrite walks a schema turning OpenAPI 3.0 keywords into their 2020-12
// equivalents.
func rewrite(v any) any {
	switch x := v.(type) {
	case map[string]any:
		for k, val := range x {
			x[k] = rewrite(val)
		}
		if r, ok := x["$ref"].(string); ok && strings.HasPrefix(r, componentRef) {
			x["$ref"] = "#/$defs/" + strings.TrimPrefix(r, componentRef)
		}
		if n, ok := x["nullable"].(bool); ok {
			delete(x, "nullable")
			if t, ok := x["type"].(string); ok && n {
				x["type"] = []any{t, "null"}
			}
		}
		if ex, ok := x["example"]; ok {
			delete(x, "example")
			x["examples"] = []any{ex}
		}
		for _, k := range []string{"discriminator", "xml", "externalDocs"} {
			delete(x, k)
		}
		for _, k := range []string{"exclusiveMinimum", "exclusiveMaximum"} {
			if b, ok := x[k].(bool); ok { // 3.0's boolean form
				delete(x, k)
				bound := map[string]string{"exclusiveMinimum": "minimum", "exclusiveMaximum": "maximum"}[k]
				if b {
					if n, ok := x[bound]; ok {
						x[k] = n
						delete(x, bound)
					}
				}
			}
		}
		return x
	case []any:
		for i := range x {
			x[i] = rewrite(x[i])
		}
		return x
	default:
		return v
	}
}

// withDefs adds to schema, under "$defs", every component schema it refers
// to, transitively.
func withDefs(doc *openapi3.T, schema map[string]any) map[string]any {
	if doc.Components == nil || len(doc.Components.Schemas) == 0 {
		return schema
	}
	defs := map[string]any{}
	queue := refsIn(schema, nil)
	for len(queue) > 0 {
		name := queue[0]
		queue = queue[1:]
		if _, done := defs[name]; done {
			continue
		}
		ref, ok := doc.Components.Schemas[name]
		if !ok || ref == nil {
			continue
		}
		var s map[string]any
		if ref.Value != nil {
			s = toJSONSchema(&openapi3.SchemaRef{Value: ref.Value})
		} else {
			s = toJSONSchema(ref)
		}
		defs[name] = s
		queue = refsIn(s, queue)
	}
	if len(defs) > 0 {
		schema["$defs"] = defs
	}
	return schema
}

// refsIn appends to acc the component names v refers to.
func refsIn(v any, acc []string) []string {
	switch x := v.(type) {
	case map[string]any:
		if r, ok := x["$ref"].(string); ok && strings.HasPrefix(r, "#/$defs/") {
			acc = append(acc, strings.TrimPrefix(r, "#/$defs/"))
		}
		for k, val := range x {
			if k == "$defs" {
				continue
			}
			acc = refsIn(val, acc)
		}
	case []any:
		for _, val := range x {
			acc = refsIn(val, acc)
		}
	}
	return acc
}

// truncate cuts s to at most n runes.
func truncate(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n])
}
