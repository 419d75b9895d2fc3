package deploy

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"slices"

	"gopkg.in/yaml.v3"
)

// The tests walk decoded YAML generically (map[string]any / []any) rather than through
// Kubernetes or compose types: what is asserted is the text that ships, and a generic
// walk cannot silently drop a field that a typed struct does not know.

// obj is one decoded YAML mapping.
type obj = map[string]any

// decodeDocs decodes every non-empty document of a multi-document YAML stream.
func decodeDocs(data []byte) ([]obj, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var docs []obj
	for {
		var doc obj
		err := dec.Decode(&doc)
		if errors.Is(err, io.EOF) {
			return docs, nil
		}
		if err != nil {
			return nil, err
		}
		if len(doc) > 0 {
			docs = append(docs, doc)
		}
	}
}

// dig follows a path of mapping keys; it returns nil when any step is missing or is
// not a mapping.
func dig(v any, path ...string) any {
	for _, key := range path {
		m, ok := v.(obj)
		if !ok {
			return nil
		}
		v = m[key]
	}
	return v
}

// digObj is dig for a mapping result (nil when absent or of another type).
func digObj(v any, path ...string) obj {
	m, _ := dig(v, path...).(obj)
	return m
}

// digList is dig for a sequence result (nil when absent or of another type).
func digList(v any, path ...string) []any {
	l, _ := dig(v, path...).([]any)
	return l
}

// digString is dig for a scalar, formatted as a string ("" when absent).
func digString(v any, path ...string) string {
	switch s := dig(v, path...).(type) {
	case nil:
		return ""
	case string:
		return s
	default:
		return fmt.Sprint(s)
	}
}

// objs keeps the mappings of a sequence.
func objs(l []any) []obj {
	out := make([]obj, 0, len(l))
	for _, item := range l {
		if m, ok := item.(obj); ok {
			out = append(out, m)
		}
	}
	return out
}

// strings formats every element of a sequence.
func stringsOf(l []any) []string {
	out := make([]string, 0, len(l))
	for _, item := range l {
		out = append(out, fmt.Sprint(item))
	}
	return out
}

// containsString reports whether want is among the formatted elements of l.
func containsString(l []any, want string) bool {
	return slices.Contains(stringsOf(l), want)
}
