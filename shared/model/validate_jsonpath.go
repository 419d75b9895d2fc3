package model

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// JSON paths select values inside a JSON document: masking rules use them on
// backend responses, policy conditions on tool arguments ("args.<path>").
// The syntax is a small, unambiguous subset of JSONPath:
//
//	$            the document (always the start)
//	.name        a member; name is 1–128 of a-z A-Z 0-9 _ - $ @
//	.*           every member of an object
//	[3]          one array element (0-based)
//	[*]          every element of an array
//
// e.g. "$.customer.email", "$.orders[*].card.number", "$.items[0].*".
// No recursive descent, filters or quoting: each of those is a way to
// select more than the admin meant, and the gateway walks paths on every
// response.

// SegmentKind says what one path segment selects.
type SegmentKind int

// Segment kinds.
const (
	SegmentMember    SegmentKind = iota + 1 // .name
	SegmentAnyMember                        // .*
	SegmentIndex                            // [n]
	SegmentAnyIndex                         // [*]
)

// PathSegment is one step of a parsed JSON path.
type PathSegment struct {
	Kind  SegmentKind
	Name  string // SegmentMember
	Index int    // SegmentIndex
}

// ParseJSONPath parses a path in the syntax above. A path must select below
// the document root ("$" alone is refused).
func ParseJSONPath(s string) ([]PathSegment, error) {
	if len(s) > MaxJSONPathLen {
		return nil, fmt.Errorf("longer than %d characters", MaxJSONPathLen)
	}
	if !strings.HasPrefix(s, "$") {
		return nil, errors.New(`must start with "$" (e.g. $.customer.email)`)
	}
	rest := s[1:]
	if rest == "" {
		return nil, errors.New(`must select below "$" (e.g. $.customer.email)`)
	}
	var segs []PathSegment
	for rest != "" {
		if len(segs) == MaxJSONPathDepth {
			return nil, fmt.Errorf("more than %d segments", MaxJSONPathDepth)
		}
		seg, n, err := parseSegment(rest)
		if err != nil {
			return nil, fmt.Errorf("at offset %d: %v", len(s)-len(rest), err)
		}
		segs = append(segs, seg)
		rest = rest[n:]
	}
	return segs, nil
}

func parseSegment(s string) (PathSegment, int, error) {
	switch s[0] {
	case '.':
		if strings.HasPrefix(s, ".*") {
			return PathSegment{Kind: SegmentAnyMember}, 2, nil
		}
		n := 1
		for n < len(s) && isMemberChar(s[n]) {
			n++
		}
		if n == 1 {
			return PathSegment{}, 0, errors.New(`expected a member name after "."`)
		}
		if n-1 > 128 {
			return PathSegment{}, 0, errors.New("member name longer than 128 characters")
		}
		return PathSegment{Kind: SegmentMember, Name: s[1:n]}, n, nil
	case '[':
		end := strings.IndexByte(s, ']')
		if end < 0 {
			return PathSegment{}, 0, errors.New(`missing "]"`)
		}
		inner := s[1:end]
		if inner == "*" {
			return PathSegment{Kind: SegmentAnyIndex}, end + 1, nil
		}
		i, err := strconv.Atoi(inner)
		if err != nil || !allDigits(inner) || i > 1_000_000 || (len(inner) > 1 && inner[0] == '0') {
			return PathSegment{}, 0, errors.New(`expected [n] or [*] with n a non-negative integer`)
		}
		return PathSegment{Kind: SegmentIndex, Index: i}, end + 1, nil
	default:
		return PathSegment{}, 0, fmt.Errorf(`unexpected %q, expected "." or "["`, s[0])
	}
}

func isMemberChar(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
		c == '_' || c == '-' || c == '$' || c == '@'
}

// HasWildcard reports whether a parsed path can select more than one value.
func HasWildcard(segs []PathSegment) bool {
	for _, s := range segs {
		if s.Kind == SegmentAnyMember || s.Kind == SegmentAnyIndex {
			return true
		}
	}
	return false
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}
