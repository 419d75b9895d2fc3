package api

import (
	"net/http"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

var echoParam = regexp.MustCompile(`:([a-zA-Z]+)`)

// TestRoutesMatchOpenAPI fails when a route is served but not described in
// api/openapi.yaml, or described but not served.
func TestRoutesMatchOpenAPI(t *testing.T) {
	e := New(Config{}, Deps{})
	served := map[string]bool{}
	for _, r := range e.Routes() {
		served[r.Method+" "+echoParam.ReplaceAllString(r.Path, "{$1}")] = true
	}
	doc, err := loadSpec()
	require.NoError(t, err)
	described := map[string]bool{}
	for path, item := range doc.Paths.Map() {
		for method := range item.Operations() {
			described[strings.ToUpper(method)+" "+path] = true
		}
	}
	require.Equal(t, sortedKeys(described), sortedKeys(served))
}

// TestProblemCodesMatchOpenAPI keeps the code table and the contract's enum
// of codes identical, and every code's status an error status.
func TestProblemCodesMatchOpenAPI(t *testing.T) {
	doc, err := loadSpec()
	require.NoError(t, err)
	var inSpec []string
	for _, v := range doc.Components.Schemas["Problem"].Value.Properties["code"].Value.Enum {
		inSpec = append(inSpec, v.(string))
	}
	var inTable []string
	for c, info := range codes {
		inTable = append(inTable, string(c))
		require.GreaterOrEqual(t, info.Status, 400, c)
		require.NotEmpty(t, info.Title, c)
		require.NotEmpty(t, http.StatusText(info.Status), c)
	}
	sort.Strings(inSpec)
	sort.Strings(inTable)
	require.Equal(t, inTable, inSpec)
}

func sortedKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
