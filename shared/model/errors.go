package model

import (
	"errors"
	"fmt"
	"strings"
)

// FieldError is one problem with one field of a resource. Field is a dotted
// path with indexes ("tools[2]", "match.conditions[0].value"); it is what the
// admin API puts in the problem+json "errors" list, so a client can point at
// the offending input.
type FieldError struct {
	Field   string `json:"field"`
	Message string `json:"message"`
}

// ValidationError lists every problem found in a resource, not just the first:
// an admin fixing a form wants all of them at once.
type ValidationError []FieldError

// Error joins the problems into one line for logs.
func (v ValidationError) Error() string {
	parts := make([]string, len(v))
	for i, fe := range v {
		if fe.Field == "" {
			parts[i] = fe.Message
			continue
		}
		parts[i] = fe.Field + ": " + fe.Message
	}
	return "invalid: " + strings.Join(parts, "; ")
}

// Prefix returns err with prefix prepended to the field path of each of its
// field errors ("tools[3]" + "name" → "tools[3].name"). It is how a caller
// validating a list (an OpenAPI import, a bundle) says which element failed.
// A nil err stays nil; an error that is not a ValidationError is returned as is.
func Prefix(prefix string, err error) error {
	var ve ValidationError
	if !errors.As(err, &ve) {
		return err
	}
	out := make(ValidationError, len(ve))
	for i, fe := range ve {
		out[i] = FieldError{Field: joinField(prefix, fe.Field), Message: fe.Message}
	}
	return out
}

// joinField joins two field paths, without a dot before an index.
func joinField(prefix, field string) string {
	switch {
	case prefix == "":
		return field
	case field == "":
		return prefix
	case strings.HasPrefix(field, "["):
		return prefix + field
	default:
		return prefix + "." + field
	}
}

// Problems collects field errors while a validator walks a resource. The zero
// value is ready to use. It is exported so other packages' validators (policy)
// report in the same shape.
type Problems struct {
	list ValidationError
}

// Add records a problem with field.
func (p *Problems) Add(field, format string, args ...any) {
	p.list = append(p.list, FieldError{Field: field, Message: fmt.Sprintf(format, args...)})
}

// Merge records the problems of err (a ValidationError from a nested
// validator) under prefix. An err of another kind is recorded as a message on
// prefix itself.
func (p *Problems) Merge(prefix string, err error) {
	if err == nil {
		return
	}
	var ve ValidationError
	if !errors.As(err, &ve) {
		p.Add(prefix, "%s", err.Error())
		return
	}
	for _, fe := range ve {
		p.list = append(p.list, FieldError{Field: joinField(prefix, fe.Field), Message: fe.Message})
	}
}

// Err returns nil when nothing was recorded, else the ValidationError. It
// returns a nil error interface (not a typed nil) so `err != nil` checks work.
func (p *Problems) Err() error {
	if len(p.list) == 0 {
		return nil
	}
	return p.list
}
