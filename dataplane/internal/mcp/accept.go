package mcp

import (
	"mime"
	"strconv"
	"strings"
)

const (
	mediaJSON = "application/json"
	mediaSSE  = "text/event-stream"
)

// responseFormat picks how a response body is written from the request's Accept
// values. The spec says clients list both types; the official Go and TypeScript
// clients do ("application/json, text/event-stream"). We are lenient: one acceptable
// type is enough, and a missing Accept means anything. JSON wins unless the client
// ranks SSE strictly higher (or accepts only SSE), because a single JSON body is
// cheaper and easier on proxies than a stream.
//
// ok is false when the client accepts neither (406 Not Acceptable).
func responseFormat(accept []string) (format string, ok bool) {
	if len(accept) == 0 {
		return mediaJSON, true
	}
	qJSON, qSSE := acceptQuality(accept, mediaJSON), acceptQuality(accept, mediaSSE)
	switch {
	case qJSON == 0 && qSSE == 0:
		return "", false
	case qSSE > qJSON:
		return mediaSSE, true
	default:
		return mediaJSON, true
	}
}

// acceptQuality returns the q-value of the most specific media range matching
// mediaType (exact beats type/* beats */*), or 0 when none matches.
func acceptQuality(accept []string, mediaType string) float64 {
	major, _, _ := strings.Cut(mediaType, "/")
	bestSpecificity, bestQ := -1, 0.0
	for _, header := range accept {
		for _, part := range strings.Split(header, ",") {
			rng, q, ok := parseMediaRange(part)
			if !ok {
				continue
			}
			specificity := -1
			switch rng {
			case mediaType:
				specificity = 2
			case major + "/*":
				specificity = 1
			case "*/*":
				specificity = 0
			}
			if specificity > bestSpecificity {
				bestSpecificity, bestQ = specificity, q
			}
		}
	}
	return bestQ
}

// parseMediaRange parses one Accept element such as "text/event-stream;q=0.5".
func parseMediaRange(s string) (string, float64, bool) {
	s = strings.TrimSpace(s)
	if s == "" {
		return "", 0, false
	}
	mt, params, err := mime.ParseMediaType(s)
	if err != nil {
		return "", 0, false
	}
	q := 1.0
	if v, ok := params["q"]; ok {
		f, err := strconv.ParseFloat(v, 64)
		if err != nil || f < 0 || f > 1 {
			return "", 0, false
		}
		q = f
	}
	return mt, q, true
}

// isJSONContentType reports whether a Content-Type header names application/json
// (parameters such as charset are allowed).
func isJSONContentType(v string) bool {
	mt, _, err := mime.ParseMediaType(v)
	return err == nil && mt == mediaJSON
}
