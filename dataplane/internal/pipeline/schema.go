package pipeline

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"golang.org/x/text/language"
	"golang.org/x/text/message"

	"github.com/portcullis/portcullis/dataplane/internal/mcp"
)

// schemaLocation is the base URL tool schemas compile under; like the control
// plane's check (shared/model), nothing is ever loaded from it.
const schemaLocation = "https://portcullis.invalid/tool-input-schema.json"

// Bounds on the invalid-arguments error, which echoes parts of the caller's
// own arguments back.
const (
	maxSchemaProblems  = 10
	maxProblemMessage  = 200
	maxProblemLocation = 200
)

var errNoRemoteRefs = errors.New("remote and file references are not allowed")

type refusingLoader struct{}

func (refusingLoader) Load(string) (any, error) { return nil, errNoRemoteRefs }

// compileInputSchema compiles a tool's input schema as JSON Schema 2020-12
// with formats asserted (a tool that says "format": "email" gets emails) and
// no loader: a "$ref" outside the document fails to compile instead of
// fetching anything. A tool without a schema takes {"type":"object"}.
func compileInputSchema(s map[string]any) (*jsonschema.Schema, error) {
	raw := []byte(objectSchema)
	if len(s) > 0 {
		var err error
		if raw, err = json.Marshal(s); err != nil {
			return nil, err
		}
	}
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
	if err != nil {
		return nil, err
	}
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft2020)
	c.AssertFormat()
	c.UseLoader(refusingLoader{})
	if err := c.AddResource(schemaLocation, doc); err != nil {
		return nil, err
	}
	return c.Compile(schemaLocation)
}

// SchemaProblem is one failing part of the arguments: where (a JSON pointer
// into the arguments, "" for the object itself) and what is wrong.
type SchemaProblem struct {
	Path    string `json:"path"`
	Message string `json:"message"`
}

var printer = message.NewPrinter(language.English)

// validateArgs checks args against schema. A nil error means valid; an
// *mcp.Error is the invalid-params refusal the agent sees.
func validateArgs(tool string, schema *jsonschema.Schema, args json.RawMessage) error {
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(args))
	if err != nil {
		// The transport only passes a single JSON object; this is defence in depth.
		return mcp.InvalidParamsError("Invalid arguments for tool "+tool+": not a JSON object", nil)
	}
	err = schema.Validate(doc)
	if err == nil {
		return nil
	}
	var ve *jsonschema.ValidationError
	if !errors.As(err, &ve) {
		return fmt.Errorf("validate %s: %w", tool, err)
	}
	problems := schemaProblems(ve)
	parts := make([]string, len(problems))
	for i, p := range problems {
		where := p.Path
		if where == "" {
			where = "(arguments)"
		}
		parts[i] = where + ": " + p.Message
	}
	return mcp.InvalidParamsError(
		"Invalid arguments for tool "+tool+": "+strings.Join(parts, "; "),
		map[string]any{"problems": problems},
	)
}

// schemaProblems flattens the library's error tree to its leaves (the
// concrete failures), sorted by location, without duplicates, at most
// maxSchemaProblems.
func schemaProblems(ve *jsonschema.ValidationError) []SchemaProblem {
	var out []SchemaProblem
	var walk func(*jsonschema.ValidationError)
	walk = func(e *jsonschema.ValidationError) {
		if len(e.Causes) == 0 {
			out = append(out, SchemaProblem{
				Path:    clip(pointer(e.InstanceLocation), maxProblemLocation),
				Message: clip(e.ErrorKind.LocalizedString(printer), maxProblemMessage),
			})
		}
		for _, c := range e.Causes {
			walk(c)
		}
	}
	walk(ve)
	slices.SortFunc(out, func(a, b SchemaProblem) int {
		if c := strings.Compare(a.Path, b.Path); c != 0 {
			return c
		}
		return strings.Compare(a.Message, b.Message)
	})
	out = slices.Compact(out)
	if len(out) > maxSchemaProblems {
		out = out[:maxSchemaProblems]
	}
	return out
}

// pointer renders an instance location as a JSON pointer (RFC 6901).
func pointer(loc []string) string {
	var b strings.Builder
	for _, tok := range loc {
		b.WriteByte('/')
		b.WriteString(strings.ReplaceAll(strings.ReplaceAll(tok, "~", "~0"), "/", "~1"))
	}
	return b.String()
}

// clip bounds s to n bytes of valid UTF-8 on one line.
func clip(s string, n int) string {
	s = strings.Join(strings.Fields(strings.ToValidUTF8(s, "\uFFFD")), " ")
	if len(s) <= n {
		return s
	}
	for n > 0 && (s[n]&0xC0) == 0x80 {
		n--
	}
	return s[:n] + "…"
}
