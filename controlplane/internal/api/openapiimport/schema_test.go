package openapiimport

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/stretchr/testify/require"

	"github.com/portcullis/portcullis/shared/localenv/demobackend"
	"github.com/portcullis/portcullis/shared/model"
)

// petstore30 is a Petstore-style OpenAPI 3.0 document written the way real
// ones are: responses are top-level $refs (one to a response component),
// lists are bare arrays, fields are nullable, bounds use 3.0's boolean
// exclusiveMinimum, and schemas carry example, xml and discriminator.
const petstore30 = `openapi: 3.0.3
info: {title: Swagger Petstore, version: 1.0.0}
servers: [{url: "https://petstore.example.test/v3"}]
paths:
  /pets:
    get:
      operationId: listPets
      parameters:
        - {name: status, in: query, schema: {type: string, enum: [available, pending, sold], nullable: true}}
        - {name: limit, in: query, schema: {type: integer, minimum: 0, exclusiveMinimum: true, maximum: 100, example: 20}}
      responses:
        "200":
          description: A list of pets.
          content:
            application/json:
              schema:
                type: array
                items: {$ref: "#/components/schemas/Pet"}
        default: {$ref: "#/components/responses/Error"}
    post:
      operationId: addPet
      requestBody:
        required: true
        content:
          application/json:
            schema: {$ref: "#/components/schemas/Pet"}
          application/xml:
            schema: {$ref: "#/components/schemas/Pet"}
      responses:
        "201": {$ref: "#/components/responses/PetCreated"}
        "405": {description: Invalid input}
  /pets/{petId}:
    parameters:
      - {name: petId, in: path, required: true, description: ID of the pet, schema: {type: integer, format: int64}}
    get:
      operationId: getPetById
      responses:
        "200":
          description: The pet.
          content:
            application/json:
              schema: {$ref: "#/components/schemas/Pet"}
            application/xml:
              schema: {$ref: "#/components/schemas/Pet"}
        "404": {description: Not found}
    put:
      operationId: updatePet
      requestBody:
        content:
          application/json:
            schema: {$ref: "#/components/schemas/Pet"}
      responses:
        "200":
          description: Updated.
          content:
            application/json:
              schema: {$ref: "#/components/schemas/Pet"}
        "204": {description: Updated with nothing to say.}
    delete:
      operationId: deletePet
      responses:
        "204": {description: Deleted.}
    head:
      operationId: petExists
      responses:
        "200": {description: It exists.}
  /pets/{petId}/name:
    get:
      operationId: getPetName
      parameters:
        - {name: petId, in: path, required: true, schema: {type: integer}}
      responses:
        "200":
          description: Just the name.
          content:
            application/json:
              schema: {type: string}
  /pets/{petId}/tags:
    get:
      operationId: getPetTags
      parameters:
        - {name: petId, in: path, required: true, schema: {type: integer}}
      responses:
        "200":
          description: The tags.
          content:
            application/json:
              schema: {$ref: "#/components/schemas/TagList"}
  /users:
    post:
      operationId: createUser
      requestBody:
        required: true
        content:
          application/json:
            schema: {$ref: "#/components/schemas/User"}
      responses:
        "200":
          description: The user.
          content:
            application/json:
              schema: {$ref: "#/components/schemas/User"}
  /animals/{id}:
    get:
      operationId: getAnimal
      parameters:
        - {name: id, in: path, required: true, schema: {type: string}}
      responses:
        "200":
          description: A cat or a dog.
          content:
            application/json:
              schema: {$ref: "#/components/schemas/Animal"}
components:
  responses:
    PetCreated:
      description: Created.
      content:
        application/json:
          schema: {$ref: "#/components/schemas/Pet"}
    Error:
      description: Something failed.
      content:
        application/json:
          schema: {type: object, properties: {message: {type: string}}}
  schemas:
    Pet:
      type: object
      required: [id, name, photoUrls]
      xml: {name: pet}
      properties:
        id: {type: integer, format: int64, readOnly: true, example: 10}
        name: {type: string, example: doggie, minLength: 1}
        category:
          nullable: true
          allOf: [{$ref: "#/components/schemas/Category"}]
        photoUrls:
          type: array
          xml: {wrapped: true}
          items: {type: string, xml: {name: photoUrl}}
        tags: {$ref: "#/components/schemas/TagList"}
        status: {type: string, enum: [available, pending, sold], nullable: true, description: pet status in the store}
        weight: {type: number, minimum: 0, exclusiveMinimum: true, maximum: 500, exclusiveMaximum: false}
        nickname: {type: string, nullable: true, pattern: "^(?=.*[a-z]).+$"}
        owner: {$ref: "#/components/schemas/User"}
        example: {type: string, description: a property that happens to be called example}
        nullable: {type: boolean, description: and one called nullable}
    Category:
      type: object
      properties:
        id: {type: integer, format: int64}
        name: {type: string, example: Dogs}
        parent: {$ref: "#/components/schemas/Category"}
    Tag:
      type: object
      properties:
        id: {type: integer, format: int64}
        name: {type: string}
    TagList:
      type: array
      items: {$ref: "#/components/schemas/Tag"}
    User:
      type: object
      required: [username, password]
      properties:
        username: {type: string}
        password: {type: string, writeOnly: true}
        email: {type: string, format: email, nullable: true}
    Animal:
      oneOf:
        - {$ref: "#/components/schemas/Cat"}
        - {$ref: "#/components/schemas/Dog"}
      discriminator: {propertyName: kind}
    Cat:
      type: object
      required: [kind]
      properties: {kind: {type: string}, indoor: {type: boolean}}
    Dog:
      type: object
      required: [kind]
      properties: {kind: {type: string}, breed: {type: string}}
`

// compile compiles a tool schema the way the gateway does (2020-12, formats
// asserted, no loading of anything outside the schema).
func compile(t *testing.T, schema map[string]any) *jsonschema.Schema {
	t.Helper()
	raw, err := json.Marshal(schema)
	require.NoError(t, err)
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
	require.NoError(t, err)
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft2020)
	c.AssertFormat()
	c.UseLoader(jsonschema.SchemeURLLoader{}) // no schemes: any load fails
	require.NoError(t, c.AddResource("https://schema.invalid/s.json", doc))
	s, err := c.Compile("https://schema.invalid/s.json")
	require.NoError(t, err, "%s", raw)
	return s
}

// instance decodes JSON the way the validator expects it.
func instance(t *testing.T, s string) any {
	t.Helper()
	v, err := jsonschema.UnmarshalJSON(strings.NewReader(s))
	require.NoError(t, err)
	return v
}

// checkRefs asserts every "$ref" in schema points into its own $defs, at a
// definition that exists.
func checkRefs(t *testing.T, schema map[string]any) {
	t.Helper()
	defs, _ := schema["$defs"].(map[string]any)
	var walk func(v any)
	walk = func(v any) {
		switch x := v.(type) {
		case map[string]any:
			if r, ok := x["$ref"]; ok {
				name, found := strings.CutPrefix(r.(string), "#/$defs/")
				require.True(t, found, "reference %v leaves the schema", r)
				require.Contains(t, defs, name)
			}
			for _, v := range x {
				walk(v)
			}
		case []any:
			for _, v := range x {
				walk(v)
			}
		}
	}
	walk(normalise(t, schema))
}

// normalise is schema as it reads back from the database.
func normalise(t *testing.T, schema map[string]any) map[string]any {
	t.Helper()
	raw, err := json.Marshal(schema)
	require.NoError(t, err)
	var out map[string]any
	require.NoError(t, json.Unmarshal(raw, &out))
	return out
}

func petstoreTools(t *testing.T) map[string]model.Tool {
	t.Helper()
	doc, err := Load(t.Context(), []byte(petstore30))
	require.NoError(t, err)
	tools, err := Tools(doc, Defaults{SourceID: "src", BaseURL: "https://petstore.example.test/v3", TimeoutMS: 1500})
	require.NoError(t, err)
	byName := map[string]model.Tool{}
	for _, tool := range tools {
		require.NoError(t, tool.Validate())
		checkRefs(t, tool.InputSchema)
		compile(t, tool.InputSchema)
		if tool.OutputSchema != nil {
			checkRefs(t, tool.OutputSchema)
			compile(t, tool.OutputSchema)
			require.Equal(t, "object", tool.OutputSchema["type"], tool.Name)
		}
		byName[tool.Name] = tool
	}
	return byName
}

func TestPetstore30Imports(t *testing.T) {
	tools := petstoreTools(t)
	names := make([]string, 0, len(tools))
	for n, tool := range tools {
		names = append(names, n)
		require.Equal(t, 1500, tool.TimeoutMS, "%s: the source's timeout reaches the tool", n)
	}
	require.ElementsMatch(t, []string{"listPets", "addPet", "getPetById", "updatePet", "deletePet",
		"getPetName", "getPetTags", "createUser", "getAnimal"}, names, "HEAD is skipped, not fatal")
}

// TestOutputSchemas: what each response shape becomes, checked by
// validating the structuredContent the gateway would produce for real
// backend answers.
func TestOutputSchemas(t *testing.T) {
	tools := petstoreTools(t)
	pet := `{"id": 10, "name": "doggie", "photoUrls": ["a.png"], "tags": [{"id": 1, "name": "good"}],
		"category": {"id": 1, "name": "Dogs", "parent": {"id": 0, "name": "Animals"}}, "status": null,
		"weight": 12.5, "nickname": null, "owner": {"username": "al", "email": null}, "example": "x", "nullable": true}`
	cases := []struct {
		tool, content string
		valid         bool
	}{
		// A top-level $ref to an object is inlined and validates the object.
		{"getPetById", pet, true},
		{"getPetById", `{"id": 10, "photoUrls": []}`, false},                          // name is required
		{"getPetById", `{"id": 10, "name": "", "photoUrls": []}`, false},              // minLength
		{"getPetById", `{"id": 1, "name": "n", "photoUrls": [], "weight": 0}`, false}, // exclusiveMinimum: true
		{"getPetById", `{"id": 1, "name": "n", "photoUrls": [], "weight": 500}`, true},
		{"getPetById", `{"id": 1, "name": "n", "photoUrls": [], "status": "lost"}`, false},
		{"getPetById", `{"id": 1, "name": "n", "photoUrls": [], "category": null}`, true}, // nullable allOf[$ref]
		{"getPetById", `{"id": 1, "name": "n", "photoUrls": [], "category": {"id": "x"}}`, false},
		// A response component ($ref to a response) behaves the same.
		{"addPet", pet, true},
		// writeOnly fields are never returned, so they are not required.
		{"createUser", `{"username": "al"}`, true},
		{"createUser", `{"username": "al", "email": "not an email"}`, false},
		// Arrays arrive wrapped as {"items": [...]}, exactly.
		{"listPets", `{"items": [` + pet + `]}`, true},
		{"listPets", `{"items": []}`, true},
		{"listPets", `{"items": [{"name": "no photos"}]}`, false},
		{"listPets", `{"items": [], "extra": 1}`, false},
		{"listPets", `{}`, false},
		{"getPetTags", `{"items": [{"id": 1, "name": "good"}]}`, true},
		// oneOf with a discriminator: both alternatives match; still valid.
		{"getAnimal", `{"kind": "cat", "indoor": true}`, true},
		{"getAnimal", `{"indoor": true}`, false},
	}
	for _, c := range cases {
		tool := tools[c.tool]
		require.NotNil(t, tool.OutputSchema, c.tool)
		err := compile(t, tool.OutputSchema).Validate(instance(t, c.content))
		if c.valid {
			require.NoError(t, err, "%s: %s", c.tool, c.content)
		} else {
			require.Error(t, err, "%s: %s", c.tool, c.content)
		}
	}

	get := tools["getPetById"].OutputSchema
	require.NotContains(t, get, "$ref", "the top-level $ref is inlined")
	require.Equal(t, []string{"id", "name", "photoUrls"}, get["required"])
	require.ElementsMatch(t, []string{"Category", "TagList", "Tag", "User"}, keys(get["$defs"]))

	// No structured content can come back from these, so no output schema:
	// a string response, a 204 alternative to the 200, no content at all.
	for _, name := range []string{"getPetName", "updatePet", "deletePet"} {
		require.Nil(t, tools[name].OutputSchema, name)
	}
}

func keys(m any) []string {
	var out []string
	for k := range m.(map[string]any) {
		out = append(out, k)
	}
	return out
}

// TestInputSchemas: OpenAPI 3.0 keywords are translated on the request side
// too, and a readOnly property is not demanded from the agent.
func TestInputSchemas(t *testing.T) {
	tools := petstoreTools(t)
	cases := []struct {
		tool, args string
		valid      bool
	}{
		{"listPets", `{}`, true},
		{"listPets", `{"status": null, "limit": 1}`, true},
		{"listPets", `{"limit": 0}`, false}, // exclusiveMinimum
		{"listPets", `{"status": "lost"}`, false},
		{"addPet", `{"body": {"name": "rex", "photoUrls": []}}`, true}, // id is readOnly
		{"addPet", `{"body": {"name": "rex", "photoUrls": [], "nickname": "Rexy"}}`, true},
		{"addPet", `{"body": {"photoUrls": []}}`, false},
		{"addPet", `{}`, false},
		{"createUser", `{"body": {"username": "al"}}`, false}, // the password is writeOnly, so required here
		{"createUser", `{"body": {"username": "al", "password": "pw"}}`, true},
		{"getPetById", `{"petId": 7}`, true},
		{"getPetById", `{"petId": "seven"}`, false},
	}
	for _, c := range cases {
		err := compile(t, tools[c.tool].InputSchema).Validate(instance(t, c.args))
		if c.valid {
			require.NoError(t, err, "%s: %s", c.tool, c.args)
		} else {
			require.Error(t, err, "%s: %s", c.tool, c.args)
		}
	}
	props := tools["getPetById"].InputSchema["properties"].(map[string]any)
	require.Equal(t, "ID of the pet", props["petId"].(map[string]any)["description"])
}

// TestKeywordTranslation looks at the converted keywords themselves.
func TestKeywordTranslation(t *testing.T) {
	tools := petstoreTools(t)
	get := normalise(t, tools["getPetById"].OutputSchema)
	props := get["properties"].(map[string]any)

	require.Equal(t, map[string]any{"type": []any{"string", "null"}, "enum": []any{"available", "pending", "sold", nil},
		"description": "pet status in the store"}, props["status"])
	require.Equal(t, map[string]any{"type": "number", "exclusiveMinimum": float64(0), "maximum": float64(500)}, props["weight"])
	require.Equal(t, map[string]any{"type": "integer", "format": "int64", "readOnly": true, "examples": []any{float64(10)}}, props["id"])
	require.Equal(t, map[string]any{"anyOf": []any{map[string]any{"allOf": []any{map[string]any{"$ref": "#/$defs/Category"}}}, map[string]any{"type": "null"}}}, props["category"])
	require.Equal(t, map[string]any{"type": []any{"string", "null"}}, props["nickname"], "a lookahead pattern Go cannot run is dropped")
	require.Equal(t, map[string]any{"type": "string", "description": "a property that happens to be called example"}, props["example"])
	require.Equal(t, map[string]any{"type": "boolean", "description": "and one called nullable"}, props["nullable"])
	require.Equal(t, map[string]any{"type": "array", "items": map[string]any{"type": "string"}}, props["photoUrls"], "xml is dropped")

	animal := normalise(t, tools["getAnimal"].OutputSchema)
	require.NotContains(t, animal, "discriminator")
	require.NotContains(t, animal, "oneOf")
	require.Len(t, animal["anyOf"], 2)
}

// TestOpenAPI31 imports a 3.1 document, whose schemas are already JSON
// Schema 2020-12: type lists, numeric exclusive bounds and $ref siblings.
func TestOpenAPI31(t *testing.T) {
	doc, err := Load(t.Context(), []byte(`openapi: 3.1.0
info: {title: t, version: "1"}
paths:
  /things/{id}:
    get:
      operationId: getThing
      parameters: [{name: id, in: path, required: true, schema: {type: string}}]
      responses:
        "200":
          description: ok
          content:
            application/json:
              schema: {$ref: "#/components/schemas/Thing"}
  /things:
    get:
      operationId: listThings
      responses:
        "200":
          description: ok
          content:
            application/json:
              schema: {type: [array, "null"], items: {$ref: "#/components/schemas/Thing"}}
components:
  schemas:
    Thing:
      type: [object, "null"]
      required: [size]
      properties:
        size: {type: number, exclusiveMinimum: 0}
        label: {type: [string, "null"], const: fixed}
        parts: {type: array, prefixItems: [{type: string}, {type: integer}]}
        alias: {$ref: "#/components/schemas/Label", maxLength: 3}
    Label: {type: string}
`))
	require.NoError(t, err)
	tools, err := Tools(doc, Defaults{BaseURL: "https://api.example.test"})
	require.NoError(t, err)
	require.Len(t, tools, 2)
	for _, tool := range tools {
		require.NoError(t, tool.Validate())
		checkRefs(t, tool.OutputSchema)
	}
	require.Equal(t, "listThings", tools[0].Name, "paths are sorted")
	get := compile(t, tools[1].OutputSchema)
	require.NoError(t, get.Validate(instance(t, `{"size": 1, "label": "fixed", "parts": ["a", 1], "alias": "abc"}`)))
	require.Error(t, get.Validate(instance(t, `{"size": 0}`)))
	require.Error(t, get.Validate(instance(t, `{"size": 1, "parts": [1]}`)))
	require.Error(t, get.Validate(instance(t, `{"size": 1, "alias": "abcd"}`)), "a $ref sibling still applies in 3.1")
	list := compile(t, tools[0].OutputSchema)
	require.NoError(t, list.Validate(instance(t, `{"items": [{"size": 2}]}`)))
}

// TestReferenceForms: references other than "#/components/schemas/Name"
// (into a property of another schema, an alias of an alias) resolve, and
// recursion through them terminates.
func TestReferenceForms(t *testing.T) {
	tools, err := load(t, header+`
paths:
  /x:
    post:
      operationId: x
      requestBody:
        content:
          application/json:
            schema: {$ref: "#/components/schemas/Alias"}
      responses:
        "200":
          description: ok
          content:
            application/json:
              schema:
                type: object
                properties:
                  name: {$ref: "#/components/schemas/Person/properties/name"}
                  tree: {$ref: "#/components/schemas/Tree"}
components:
  schemas:
    Alias: {$ref: "#/components/schemas/Alias2"}
    Alias2: {$ref: "#/components/schemas/Person"}
    Person:
      type: object
      properties: {name: {type: string, maxLength: 5}}
    Tree:
      type: object
      properties:
        children: {type: array, items: {$ref: "#/components/schemas/Tree"}}
`)
	require.NoError(t, err)
	require.Len(t, tools, 1)
	tool := tools[0]
	checkRefs(t, tool.InputSchema)
	checkRefs(t, tool.OutputSchema)
	in := compile(t, tool.InputSchema)
	require.NoError(t, in.Validate(instance(t, `{"body": {"name": "ann"}}`)))
	require.Error(t, in.Validate(instance(t, `{"body": {"name": "annabel"}}`)))
	out := compile(t, tool.OutputSchema)
	require.NoError(t, out.Validate(instance(t, `{"name": "bo", "tree": {"children": [{"children": []}]}}`)))
	require.Error(t, out.Validate(instance(t, `{"name": "bobbybob"}`)))
	require.Error(t, out.Validate(instance(t, `{"tree": {"children": [{"children": 3}]}}`)))
}

// TestOutputKind covers how the response's JSON type is told when "type"
// is missing.
func TestOutputKind(t *testing.T) {
	cases := map[string]struct {
		schema string
		want   string // the output schema's shape: "object", "items" or "" (none)
	}{
		"typed object":         {`{type: object}`, "object"},
		"untyped properties":   {`{properties: {a: {type: string}}}`, "object"},
		"allOf of objects":     {`{allOf: [{$ref: "#/components/schemas/O"}, {properties: {b: {type: integer}}}]}`, "object"},
		"oneOf of objects":     {`{oneOf: [{$ref: "#/components/schemas/O"}, {type: object}]}`, "object"},
		"oneOf mixed":          {`{oneOf: [{$ref: "#/components/schemas/O"}, {type: string}]}`, ""},
		"nullable object":      {`{type: object, nullable: true, properties: {a: {type: string}}}`, "object"},
		"untyped items":        {`{items: {type: string}}`, "items"},
		"array of arrays":      {`{type: array, items: {type: array, items: {type: integer}}}`, "items"},
		"string":               {`{type: string}`, ""},
		"integer":              {`{type: integer}`, ""},
		"empty":                {`{}`, ""},
		"ref to array":         {`{$ref: "#/components/schemas/A"}`, "items"},
		"ref to object by ref": {`{$ref: "#/components/schemas/R"}`, "object"},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			tools, err := load(t, header+`
paths:
  /x:
    get:
      responses:
        "200":
          description: ok
          content:
            application/json:
              schema: `+c.schema+`
components:
  schemas:
    O: {type: object, properties: {a: {type: string}}}
    A: {type: array, items: {$ref: "#/components/schemas/O"}}
    R: {$ref: "#/components/schemas/O"}
`)
			require.NoError(t, err)
			out := tools[0].OutputSchema
			switch c.want {
			case "":
				require.Nil(t, out)
			case "object":
				require.Equal(t, "object", out["type"])
				require.NotContains(t, out, "items")
				require.NotContains(t, out, "anyOf", "the top level is never made nullable")
			case "items":
				require.Equal(t, "object", out["type"])
				require.Equal(t, []string{"items"}, out["required"])
				require.Equal(t, "array", out["properties"].(map[string]any)["items"].(map[string]any)["type"])
			}
		})
	}
}

// TestDemoDocumentWithoutWorkarounds: the demo backend's document (make run
// seeds it) imports as it is, and also with its workaround undone: every
// response written as "type: object, allOf: [$ref]" only so that the old
// importer would accept it becomes the plain "$ref" real documents use.
func TestDemoDocumentWithoutWorkarounds(t *testing.T) {
	var doc map[string]any
	require.NoError(t, json.Unmarshal(demobackend.OpenAPI(), &doc))
	var unwrap func(v any) any
	unwrap = func(v any) any {
		switch x := v.(type) {
		case map[string]any:
			if all, ok := x["allOf"].([]any); ok && len(all) == 1 && len(x) == 2 && x["type"] == "object" {
				if ref, ok := all[0].(map[string]any)["$ref"]; ok {
					return map[string]any{"$ref": ref}
				}
			}
			for k, val := range x {
				x[k] = unwrap(val)
			}
		case []any:
			for i := range x {
				x[i] = unwrap(x[i])
			}
		}
		return v
	}
	plain, err := json.Marshal(unwrap(doc))
	require.NoError(t, err)
	require.NotContains(t, string(plain), "allOf", "the test undoes every wrapper")

	outputs := map[string][]string{}
	for name, data := range map[string][]byte{"as served": demobackend.OpenAPI(), "plain refs": plain} {
		d, err := Load(t.Context(), data)
		require.NoError(t, err, name)
		tools, err := Tools(d, Defaults{BaseURL: "http://127.0.0.1:9100", TimeoutMS: 2000})
		require.NoError(t, err, name)
		for _, tool := range tools {
			require.NoError(t, tool.Validate())
			if tool.OutputSchema != nil {
				checkRefs(t, tool.OutputSchema)
				compile(t, tool.OutputSchema)
				outputs[name] = append(outputs[name], tool.Name)
			}
		}
	}
	require.NotEmpty(t, outputs["plain refs"])
	require.Equal(t, outputs["as served"], outputs["plain refs"], "the same tools have an output schema either way")
}

// TestSchemaExpansionIsBounded: a small document whose every operation
// reaches a long chain of components would expand to one copy of the chain
// per tool; past MaxSchemaNodes the import is refused instead.
func TestSchemaExpansionIsBounded(t *testing.T) {
	build := func(ops, chain int) string {
		var b strings.Builder
		b.WriteString(header + "paths:\n")
		for i := 0; i < ops; i++ {
			fmt.Fprintf(&b, "  /p%d:\n    get:\n      responses:\n        '200':\n          description: ok\n"+
				"          content: {application/json: {schema: {$ref: '#/components/schemas/S0'}}}\n", i)
		}
		b.WriteString("components:\n  schemas:\n")
		for i := 0; i < chain; i++ {
			fmt.Fprintf(&b, "    S%d: {type: object, properties: {v: {type: string}, next: {$ref: '#/components/schemas/S%d'}}}\n", i, (i+1)%chain)
		}
		return b.String()
	}
	// 300 tools × (200 components + 200 inline properties) > MaxSchemaNodes.
	_, err := load(t, build(300, 200))
	var ve model.ValidationError
	require.ErrorAs(t, err, &ve)
	require.Equal(t, "document", ve[0].Field)
	require.Contains(t, ve[0].Message, "split the document")

	tools, err := load(t, build(10, 200))
	require.NoError(t, err)
	require.Len(t, tools, 10)
	require.Len(t, tools[0].OutputSchema["$defs"], 200, "the cycle S0 → … → S199 → S0 is converted once")
}
