// Package strictjson decodes exactly one JSON value, refusing unknown fields
// and anything after the value. Every input Portcullis trusts to mean one
// thing (bundles, heartbeats, approval requests, admin bodies, configuration)
// goes through it, so `{}]` or a misspelt field is refused the same way
// everywhere. Pure: no I/O beyond the reader it is handed.
package strictjson

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
)

// ErrTrailingData reports input left after the JSON value.
var ErrTrailingData = errors.New("trailing data after the JSON value")

// Options tune a decode.
type Options struct {
	// UseNumber keeps numbers as json.Number (exact round trips).
	UseNumber bool
}

// Decode decodes data into v. A decoding error is returned unwrapped (callers
// may inspect *json.UnmarshalTypeError); data after the value is
// ErrTrailingData.
func Decode(data []byte, v any) error { return DecodeReader(bytes.NewReader(data), v, Options{}) }

// DecodeReader is Decode on a reader, with options.
func DecodeReader(r io.Reader, v any, o Options) error {
	dec := json.NewDecoder(r)
	dec.DisallowUnknownFields()
	if o.UseNumber {
		dec.UseNumber()
	}
	if err := dec.Decode(v); err != nil {
		return err
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return ErrTrailingData
	}
	return nil
}
