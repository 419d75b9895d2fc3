// Package openapiimport turns an OpenAPI 3 document into MCP tools, one per
// operation, with self-contained JSON Schema 2020-12 input and output
// schemas (schema.go). It is pure: the document is parsed from memory and
// external $refs are refused, so an uploaded document can make the control
// plane read neither its own files nor the network.
package openapiimport

import (
	"context"
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

// MaxSchemaNodes bounds the schema objects one import generates. Every tool
// gets its own copy of the component schemas it reaches, so a document
// within the body limit could otherwise expand a large component graph once
// per operation into gigabytes (and into a bundle no gateway could load).
const MaxSchemaNodes = 100_000

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
	// Examples and defaults are annotations (kept, never checked), and
	// patterns are ECMA 262 regular expressions that Go's regexp cannot
	// always compile (the conversion drops those, see stringKeywords): none
	// of them may make an otherwise good document fail.
	err = doc.Validate(ctx, openapi3.DisableExamplesValidation(), openapi3.DisableSchemaDefaultsValidation(),
		openapi3.DisableSchemaPatternValidation())
	if err != nil {
		return nil, docError("invalid OpenAPI document: %v", err)
	}
	return doc, nil
}

func docError(format string, args ...any) error {
	return model.ValidationError{{Field: "document", Message: truncate(fmt.Sprintf(format, args...), 500)}}
}

// Defaults are the fields every imported tool takes from its source.
// TimeoutMS is copied into every tool because a bundle carries tools, not
// sources: a tool without its own timeout would get the gateway's default,
// not its source's. The source's fixed headers are deliberately NOT copied:
// they may hold credentials, and tools travel in unencrypted bundles.
type Defaults struct {
	SourceID  string
	BaseURL   string
	TimeoutMS int
}

// Tools converts every operation of doc to a tool, in a stable order (paths
// sorted, methods in a fixed order). Problems with individual operations are
// reported together, each under "operations[METHOD path]".
func Tools(doc *openapi3.T, d Defaults) ([]model.Tool, error) {
	if doc.Paths == nil {
		return nil, nil
	}
	var probs model.Problems
	var tools []model.Tool
	var fields []string         // the operation of each tool, for its problems
	seen := map[string]string{} // tool name → operation that took it
	b := &budget{left: MaxSchemaNodes}
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
			t, err := convert(method, p, item, op, d, b)
			if b.exhausted {
				probs.Add("document", "the operations' schemas expand to more than %d schema objects (each tool carries "+
					"its own copy of the schemas it references): split the document", MaxSchemaNodes)
				return nil, probs.Err()
			}
			if err != nil {
				probs.Merge(field, err)
				continue
			}
			if other, dup := seen[t.Name]; dup {
				probs.Add(field, "tool name %q is also the name of %s", t.Name, other)
				continue
			}
			seen[t.Name] = fmt.Sprintf("%s %s", method, p)
			tools = append(tools, t)
			fields = append(fields, field)
		}
	}
	// Validation compiles the schemas, the expensive part: it runs only once
	// the whole document converted within its budget.
	for i, t := range tools {
		if err := t.Validate(); err != nil {
			probs.Merge(fields[i], err)
		}
	}
	if err := probs.Err(); err != nil {
		return nil, err
	}
	return tools, nil
}

// methods are the HTTP methods a tool may use (model.Tool), in output
// order. Operations on other methods (HEAD, OPTIONS, TRACE) are skipped:
// they return no content an agent could use, and one of them must not make
// the rest of the document fail to import.
var methods = []string{"GET", "POST", "PUT", "PATCH", "DELETE"}

// convert builds one tool.
func convert(method, path string, item *openapi3.PathItem, op *openapi3.Operation, d Defaults, b *budget) (model.Tool, error) {
	t := model.Tool{
		Name:        ToolName(op.OperationID, method, path),
		Title:       truncate(strings.TrimSpace(op.Summary), 200),
		Description: description(op),
		SourceID:    d.SourceID,
		BaseURL:     d.BaseURL,
		TimeoutMS:   d.TimeoutMS,
		Method:      method,
		Path:        path,
		Active:      true,
	}
	in, params, err := inputSchema(item, op, b)
	if err != nil {
		return t, err
	}
	t.InputSchema, t.Params = in, params
	t.OutputSchema = outputSchema(op, b)
	return t, nil
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
func inputSchema(item *openapi3.PathItem, op *openapi3.Operation, b *budget) (map[string]any, []model.Param, error) {
	c := newConverter(request, b)
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
		props[p.Name] = paramSchema(c, p)
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
			props["body"] = c.ref(mt.Schema)
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
	return c.document(schema), params, nil
}

// paramSchema is a parameter's schema (from "schema", else from its JSON
// "content"), described by the parameter's description unless the schema
// has its own.
func paramSchema(c *converter, p *openapi3.Parameter) any {
	var ref *openapi3.SchemaRef
	if p.Schema != nil {
		ref = p.Schema
	} else if mt := firstJSON(p.Content); mt != nil {
		ref = mt.Schema
	}
	schema := c.ref(ref)
	if m, ok := schema.(map[string]any); ok && p.Description != "" {
		if _, has := m["description"]; !has {
			m["description"] = truncate(p.Description, maxDescription)
		}
	}
	return schema
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

// outputSchema describes the structuredContent the gateway returns for the
// operation's JSON success response (successSchema). The gateway (dataplane
// forward.success) passes a JSON object through and wraps a JSON array as
// {"items": [...]}; anything else is text only. So an object response gets
// its own schema, an array response the schema of that wrapper, and any
// other response none: MCP clients reject a result whose structuredContent
// is missing or differs from the declared outputSchema, so declaring one
// for a scalar response would break every call.
func outputSchema(op *openapi3.Operation, b *budget) map[string]any {
	root := successSchema(op)
	if root == nil {
		return nil
	}
	c := newConverter(response, b)
	// The top level is inlined (not a $ref into $defs) with exactly the type
	// the gateway produces: a nullable or multi-typed response still reaches
	// the agent as an object, or as no structured content at all.
	top := *root
	top.Nullable = false
	switch kind(root, 0) {
	case openapi3.TypeObject:
		top.Type = &openapi3.Types{openapi3.TypeObject}
		out, ok := c.schema(&top).(map[string]any)
		if !ok {
			return nil
		}
		return c.document(out)
	case openapi3.TypeArray:
		top.Type = &openapi3.Types{openapi3.TypeArray}
		return c.document(map[string]any{
			"type":                 "object",
			"properties":           map[string]any{"items": c.schema(&top)},
			"required":             []string{"items"},
			"additionalProperties": false,
		})
	default:
		return nil
	}
}

// successSchema is the resolved schema of the operation's JSON success
// response. Every declared 2xx response must carry that same schema: if one
// (a 204, a 202 Accepted) has no JSON body, or another shape, the gateway
// would return structured content that does not match the declared output
// schema, which MCP clients reject. The "default" response is not counted:
// documents use it for errors.
func successSchema(op *openapi3.Operation) *openapi3.Schema {
	if op.Responses == nil {
		return nil
	}
	var found *openapi3.Schema
	for code, r := range op.Responses.Map() {
		if len(code) != 3 || code[0] != '2' { // "200"…"299" and "2XX"
			continue
		}
		if r == nil || r.Value == nil {
			return nil
		}
		mt := firstJSON(r.Value.Content)
		if mt == nil || mt.Schema == nil || mt.Schema.Value == nil {
			return nil
		}
		if found != nil && found != mt.Schema.Value {
			return nil
		}
		found = mt.Schema.Value
	}
	return found
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

// truncate cuts s to at most n runes.
func truncate(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n])
}
