package model

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// schemaLocation is the base URL a tool schema is compiled under. The
// .invalid TLD can never resolve, and the loader below refuses to load it
// anyway: a relative "$ref" resolves against it and fails closed.
const schemaLocation = "https://portcullis.invalid/tool-schema.json"

// draft2020 is the only dialect accepted in "$schema": MCP tool schemas are
// JSON Schema 2020-12, and one dialect keeps the gateway's validator simple.
const draft2020 = "https://json-schema.org/draft/2020-12/schema"

// errNoRemote is what the loader answers to every URL: a tool schema must be
// self-contained ("$ref" into its own "$defs" only). Fetching would let an
// admin make the control plane issue requests (SSRF) or read local files.
var errNoRemote = errors.New("remote and file references are not allowed; use $defs")

type refusingLoader struct{}

func (refusingLoader) Load(string) (any, error) { return nil, errNoRemote }

// compileObjectSchema compiles schema as a JSON Schema 2020-12 document and
// requires its top level to describe an object (MCP tool arguments and
// structured results are JSON objects).
func compileObjectSchema(schema map[string]any) error {
	if t, ok := schema["type"].(string); !ok || t != "object" {
		return errors.New(`must have "type": "object"`)
	}
	if s, ok := schema["$schema"]; ok && s != draft2020 {
		return fmt.Errorf(`"$schema" must be absent or %q`, draft2020)
	}
	// Round-trip through the library's decoder: it keeps numbers as
	// json.Number, which its keyword compilers expect.
	raw, err := json.Marshal(schema)
	if err != nil {
		return fmt.Errorf("not JSON: %v", err)
	}
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
	if err != nil {
		return fmt.Errorf("not JSON: %v", err)
	}
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft2020)
	c.UseLoader(refusingLoader{})
	if err := c.AddResource(schemaLocation, doc); err != nil {
		return schemaError(err)
	}
	if _, err := c.Compile(schemaLocation); err != nil {
		return schemaError(err)
	}
	return nil
}

// schemaError turns the library's multi-line report into one short line
// without our internal base URL. The library does not wrap loader errors
// for errors.Is, hence the string match.
func schemaError(err error) error {
	msg := err.Error()
	if strings.Contains(msg, errNoRemote.Error()) {
		return errNoRemote
	}
	msg = strings.ReplaceAll(msg, schemaLocation, "schema")
	msg = strings.Join(strings.Fields(msg), " ")
	const max = 500
	if len(msg) > max {
		msg = truncateBytes(msg, max)
	}
	return fmt.Errorf("invalid JSON Schema: %s", msg)
}
