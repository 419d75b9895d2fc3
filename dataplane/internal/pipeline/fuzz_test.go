package pipeline

import (
	"encoding/json"
	"errors"
	"testing"
	"unicode/utf8"

	"github.com/portcullis/portcullis/dataplane/internal/mcp"
)

// FuzzValidateArgs: any arguments give either nil or a bounded, valid-UTF-8
// invalid-params error; never a panic or an internal error.
func FuzzValidateArgs(f *testing.F) {
	schema, err := compileInputSchema(orderSchema)
	if err != nil {
		f.Fatal(err)
	}
	for _, seed := range []string{
		`{}`, `{"body":{"amount":1,"currency":"EUR"}}`, `{"body":{"amount":"x","currency":"€","email":"\u0000"}}`,
		`{"body":[]}`, `{"a~b/c":{"x":1}}`, `{"body":{"amount":1e400,"currency":"EUR"}}`, `[]`, `"x"`, `{`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, args []byte) {
		if !json.Valid(args) {
			return // the transport refuses non-JSON before any layer runs
		}
		err := validateArgs("orders.create", schema, json.RawMessage(args))
		if err == nil {
			return
		}
		var me *mcp.Error
		if !errors.As(err, &me) {
			t.Fatalf("internal error for client input: %v", err)
		}
		if !utf8.ValidString(me.Message) || len(me.Message) > 5000 {
			t.Fatalf("bad message (%d bytes): %q", len(me.Message), me.Message)
		}
	})
}
