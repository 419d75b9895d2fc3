package openapiimport

import (
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/getkin/kin-openapi/openapi3"
)

// side says which direction of the API a schema describes. OpenAPI's
// readOnly properties are never sent in requests and writeOnly ones never
// come back in responses, so "required" must not demand them on that side.
type side int

const (
	request side = iota
	response
)

// converter turns OpenAPI schemas (3.0 or 3.1 dialect, as kin-openapi
// resolved them) into ONE self-contained JSON Schema 2020-12 document: every
// schema that the OpenAPI document reached through a $ref is converted once
// into "$defs" and referred to as "#/$defs/<name>". Working from kin-openapi's
// resolved values rather than from the $ref strings means any internal
// reference works (a component, a pointer deep into another schema, an alias
// of an alias), recursion terminates (a schema already named is not
// converted again), and nothing outside the document can be reached.
type converter struct {
	side   side
	budget *budget
	names  map[*openapi3.Schema]string // def name of each referenced schema
	taken  map[string]bool             // def names in use
	defs   map[string]any
}

func newConverter(s side, b *budget) *converter {
	return &converter{side: s, budget: b, names: map[*openapi3.Schema]string{}, taken: map[string]bool{}, defs: map[string]any{}}
}

// budget counts the schema objects an import may still generate
// (MaxSchemaNodes). Once exhausted, conversion yields empty schemas and the
// caller rejects the document.
type budget struct {
	left      int
	exhausted bool
}

func (b *budget) take() bool {
	if b.left <= 0 {
		b.exhausted = true
		return false
	}
	b.left--
	return true
}

// document finishes root as a top-level schema: the dialect and the $defs
// its references need.
func (c *converter) document(root map[string]any) map[string]any {
	root["$schema"] = schemaDialect
	if len(c.defs) > 0 {
		root["$defs"] = c.defs
	}
	return root
}

// ref converts a schema reference. A reference kin-openapi resolved becomes
// a "$ref" into $defs (the target is kept rather than inlined so recursive
// schemas stay finite); an inline schema is converted in place.
func (c *converter) ref(r *openapi3.SchemaRef) any {
	switch {
	case r == nil || r.Value == nil:
		// The loader resolves every internal reference and refuses external
		// ones, so this is an empty schema: it accepts anything.
		return map[string]any{}
	case r.Ref != "":
		return map[string]any{"$ref": "#/$defs/" + c.define(r.Ref, r.Value)}
	default:
		return c.schema(r.Value)
	}
}

// define returns the $defs name of s, converting it on first use. The name
// is claimed before the conversion so a schema that refers to itself finds it.
func (c *converter) define(ref string, s *openapi3.Schema) string {
	if n, ok := c.names[s]; ok {
		return n
	}
	base := defName(ref)
	n := base
	for i := 2; c.taken[n]; i++ {
		n = fmt.Sprintf("%s_%d", base, i)
	}
	c.taken[n] = true
	c.names[s] = n
	c.defs[n] = c.schema(s)
	return n
}

var invalidDefChars = regexp.MustCompile(`[^a-zA-Z0-9._-]+`)

// defName derives a $defs key from a reference: the component's name for
// "#/components/schemas/Name", else the sanitised JSON pointer. Only
// characters that need no escaping in a JSON pointer or URI fragment are
// kept, so "#/$defs/<name>" is always a valid reference.
func defName(ref string) string {
	frag := ref
	if i := strings.LastIndex(ref, "#"); i >= 0 {
		frag = ref[i+1:]
	}
	frag = strings.TrimPrefix(frag, "/components/schemas/")
	n := strings.Trim(invalidDefChars.ReplaceAllString(frag, "_"), "_")
	if len(n) > 100 {
		n = n[len(n)-100:]
	}
	if n == "" {
		n = "schema"
	}
	return n
}

// schema converts one schema: OpenAPI 3.0 keywords that are not JSON Schema
// 2020-12 are translated (nullable, boolean exclusiveMinimum/Maximum,
// example) or dropped (discriminator, xml, externalDocs, x- extensions), and
// keywords that would move the base URI or that the gateway cannot enforce
// ($id, $anchor, $dynamicRef, patterns Go cannot compile) are dropped.
func (c *converter) schema(s *openapi3.Schema) any {
	if !c.budget.take() {
		return map[string]any{}
	}
	if s.Always != nil { // OpenAPI 3.1 boolean schema
		return *s.Always
	}
	out := annotations(s)
	numberKeywords(s, out)
	stringKeywords(s, out)
	c.arrayKeywords(s, out)
	c.objectKeywords(s, out)
	c.composition(s, out)
	if s.Nullable {
		return nullable(s, out)
	}
	return out
}

// annotations copies the type and the keywords that apply to every type.
func annotations(s *openapi3.Schema) map[string]any {
	out := map[string]any{}
	if s.Type != nil {
		switch t := *s.Type; len(t) {
		case 0:
		case 1:
			out["type"] = t[0]
		default:
			out["type"] = []string(slices.Clone(t))
		}
	}
	setString(out, "title", s.Title)
	setString(out, "description", s.Description)
	setString(out, "format", s.Format)
	setString(out, "contentMediaType", s.ContentMediaType)
	setString(out, "contentEncoding", s.ContentEncoding)
	if len(s.Enum) > 0 {
		out["enum"] = slices.Clone(s.Enum)
	}
	if s.Const != nil {
		out["const"] = s.Const
	}
	if s.Default != nil {
		out["default"] = s.Default
	}
	// 2020-12 has "examples" (an array) where OpenAPI 3.0 has "example".
	examples := slices.Clone(s.Examples)
	if s.Example != nil {
		examples = append(examples, s.Example)
	}
	if len(examples) > 0 {
		out["examples"] = examples
	}
	for k, b := range map[string]bool{"readOnly": s.ReadOnly, "writeOnly": s.WriteOnly, "deprecated": s.Deprecated} {
		if b {
			out[k] = true
		}
	}
	return out
}

// numberKeywords copies the numeric bounds. OpenAPI 3.0's boolean
// exclusiveMinimum/exclusiveMaximum modify minimum/maximum; 2020-12 makes
// the exclusive bound a number of its own.
func numberKeywords(s *openapi3.Schema, out map[string]any) {
	bound := func(exclusive openapi3.ExclusiveBound, limit *float64, inclusiveKey, exclusiveKey string) {
		switch {
		case exclusive.Value != nil: // 3.1 form
			out[exclusiveKey] = *exclusive.Value
			if limit != nil {
				out[inclusiveKey] = *limit
			}
		case exclusive.IsTrue() && limit != nil:
			out[exclusiveKey] = *limit
		case limit != nil:
			out[inclusiveKey] = *limit
		}
	}
	bound(s.ExclusiveMin, s.Min, "minimum", "exclusiveMinimum")
	bound(s.ExclusiveMax, s.Max, "maximum", "exclusiveMaximum")
	if s.MultipleOf != nil {
		out["multipleOf"] = *s.MultipleOf
	}
}

// stringKeywords copies the string constraints. OpenAPI patterns are ECMA
// 262 regular expressions; one Go's regexp cannot compile (a lookahead, a
// backreference) would make the schema invalid for the control plane and
// the gateway alike, so it is dropped: the gateway cannot enforce it, and
// the backend still does.
func stringKeywords(s *openapi3.Schema, out map[string]any) {
	if s.MinLength != 0 {
		out["minLength"] = s.MinLength
	}
	if s.MaxLength != nil {
		out["maxLength"] = *s.MaxLength
	}
	if s.Pattern != "" && goRegexp(s.Pattern) {
		out["pattern"] = s.Pattern
	}
}

func goRegexp(p string) bool {
	_, err := regexp.Compile(p)
	return err == nil
}

func (c *converter) arrayKeywords(s *openapi3.Schema, out map[string]any) {
	if s.Items != nil {
		out["items"] = c.ref(s.Items)
	}
	if len(s.PrefixItems) > 0 {
		out["prefixItems"] = c.refs(s.PrefixItems)
	}
	if s.Contains != nil {
		out["contains"] = c.ref(s.Contains)
	}
	if s.MinItems != 0 {
		out["minItems"] = s.MinItems
	}
	if s.MaxItems != nil {
		out["maxItems"] = *s.MaxItems
	}
	if s.UniqueItems {
		out["uniqueItems"] = true
	}
	if s.MinContains != nil {
		out["minContains"] = *s.MinContains
	}
	if s.MaxContains != nil {
		out["maxContains"] = *s.MaxContains
	}
	if v, ok := c.boolSchema(s.UnevaluatedItems); ok {
		out["unevaluatedItems"] = v
	}
}

func (c *converter) objectKeywords(s *openapi3.Schema, out map[string]any) {
	if len(s.Properties) > 0 {
		props := make(map[string]any, len(s.Properties))
		for _, name := range sortedKeys(s.Properties) {
			props[name] = c.ref(s.Properties[name])
		}
		out["properties"] = props
	}
	if req := c.required(s); len(req) > 0 {
		out["required"] = req
	}
	if len(s.PatternProperties) > 0 {
		pp := map[string]any{}
		for _, p := range sortedKeys(s.PatternProperties) {
			if goRegexp(p) { // see stringKeywords
				pp[p] = c.ref(s.PatternProperties[p])
			}
		}
		if len(pp) > 0 {
			out["patternProperties"] = pp
		}
	}
	if v, ok := c.boolSchema(s.AdditionalProperties); ok {
		out["additionalProperties"] = v
	}
	if v, ok := c.boolSchema(s.UnevaluatedProperties); ok {
		out["unevaluatedProperties"] = v
	}
	if s.PropertyNames != nil {
		out["propertyNames"] = c.ref(s.PropertyNames)
	}
	if s.MinProps != 0 {
		out["minProperties"] = s.MinProps
	}
	if s.MaxProps != nil {
		out["maxProperties"] = *s.MaxProps
	}
	if len(s.DependentRequired) > 0 {
		dr := make(map[string]any, len(s.DependentRequired))
		for k, v := range s.DependentRequired {
			dr[k] = append([]string{}, v...)
		}
		out["dependentRequired"] = dr
	}
	if len(s.DependentSchemas) > 0 {
		ds := make(map[string]any, len(s.DependentSchemas))
		for _, k := range sortedKeys(s.DependentSchemas) {
			ds[k] = c.ref(s.DependentSchemas[k])
		}
		out["dependentSchemas"] = ds
	}
}

// required is the schema's required list without the properties this side
// of the API never carries (readOnly in requests, writeOnly in responses).
func (c *converter) required(s *openapi3.Schema) []string {
	var out []string
	for _, name := range s.Required {
		if p := s.Properties[name]; p != nil && p.Value != nil {
			if (c.side == request && p.Value.ReadOnly) || (c.side == response && p.Value.WriteOnly) {
				continue
			}
		}
		if !slices.Contains(out, name) {
			out = append(out, name)
		}
	}
	return out
}

// composition converts allOf/anyOf/oneOf/not and if/then/else. A oneOf
// with a discriminator becomes anyOf: OpenAPI picks the alternative by the
// discriminator property, while JSON Schema's oneOf would reject an
// instance that happens to match two alternatives (Cat and Dog both being
// plain objects), so anyOf is the faithful translation once the
// discriminator is gone.
func (c *converter) composition(s *openapi3.Schema, out map[string]any) {
	if len(s.AllOf) > 0 {
		out["allOf"] = c.refs(s.AllOf)
	}
	anyOf := c.refs(s.AnyOf)
	if len(s.OneOf) > 0 {
		if s.Discriminator != nil && len(anyOf) == 0 {
			anyOf = c.refs(s.OneOf)
		} else {
			out["oneOf"] = c.refs(s.OneOf)
		}
	}
	if len(anyOf) > 0 {
		out["anyOf"] = anyOf
	}
	if s.Not != nil {
		out["not"] = c.ref(s.Not)
	}
	for _, kw := range []struct {
		key string
		r   *openapi3.SchemaRef
	}{{"if", s.If}, {"then", s.Then}, {"else", s.Else}} {
		if kw.r != nil {
			out[kw.key] = c.ref(kw.r)
		}
	}
}

func (c *converter) refs(rs openapi3.SchemaRefs) []any {
	if len(rs) == 0 {
		return nil
	}
	out := make([]any, len(rs))
	for i, r := range rs {
		out[i] = c.ref(r)
	}
	return out
}

// boolSchema converts additionalProperties and the like: a boolean or a
// schema, ok=false when unset.
func (c *converter) boolSchema(b openapi3.BoolSchema) (any, bool) {
	switch {
	case b.Has != nil:
		return *b.Has, true
	case b.Schema != nil:
		return c.ref(b.Schema), true
	}
	return nil, false
}

// nullable translates OpenAPI 3.0's "nullable: true": null joins the type
// (and the enum, which would otherwise still reject it). When the schema
// composes others (allOf: [$ref] is how 3.0 documents make a reference
// nullable), null cannot be added to the parts, so the whole becomes
// "anyOf: [schema, {type: null}]".
func nullable(s *openapi3.Schema, out map[string]any) any {
	if len(s.AllOf)+len(s.AnyOf)+len(s.OneOf) > 0 || s.Not != nil {
		return map[string]any{"anyOf": []any{out, map[string]any{"type": "null"}}}
	}
	switch t := out["type"].(type) {
	case string:
		if t != "null" {
			out["type"] = []string{t, "null"}
		}
	case []string:
		if !slices.Contains(t, "null") {
			out["type"] = append(t, "null")
		}
	}
	if enum, ok := out["enum"].([]any); ok && !slices.Contains(enum, nil) {
		out["enum"] = append(enum, nil)
	}
	return out
}

// kind is the JSON type an instance of s must have: "object", "array", or
// "" when it is not one of those or cannot be told. A missing "type" is
// inferred from the keywords (properties mean an object) and from allOf
// (any part decides) or anyOf/oneOf (all alternatives agree), as documents
// often leave it out. null aside: a nullable object is still an object.
func kind(s *openapi3.Schema, depth int) string {
	if s == nil || s.Always != nil || depth > 16 {
		return ""
	}
	if s.Type != nil && len(*s.Type) > 0 {
		var ts []string
		for _, t := range *s.Type {
			if t != openapi3.TypeNull && !slices.Contains(ts, t) {
				ts = append(ts, t)
			}
		}
		if len(ts) == 1 && (ts[0] == openapi3.TypeObject || ts[0] == openapi3.TypeArray) {
			return ts[0]
		}
		return ""
	}
	switch {
	case len(s.Properties) > 0 || len(s.Required) > 0 || len(s.PatternProperties) > 0 ||
		s.AdditionalProperties.Has != nil || s.AdditionalProperties.Schema != nil:
		return openapi3.TypeObject
	case s.Items != nil || len(s.PrefixItems) > 0:
		return openapi3.TypeArray
	}
	for _, r := range s.AllOf {
		if r != nil {
			if k := kind(r.Value, depth+1); k != "" {
				return k
			}
		}
	}
	for _, alts := range []openapi3.SchemaRefs{s.AnyOf, s.OneOf} {
		if k := commonKind(alts, depth); k != "" {
			return k
		}
	}
	return ""
}

func commonKind(alts openapi3.SchemaRefs, depth int) string {
	k := ""
	for i, r := range alts {
		if r == nil {
			return ""
		}
		rk := kind(r.Value, depth+1)
		if rk == "" || (i > 0 && rk != k) {
			return ""
		}
		k = rk
	}
	return k
}

// sortedKeys makes the traversal, and so the $defs names, deterministic.
func sortedKeys(m openapi3.Schemas) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

func setString(out map[string]any, key, v string) {
	if v != "" {
		out[key] = v
	}
}
