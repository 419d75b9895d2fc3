package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/stretchr/testify/require"

	"github.com/portcullis/portcullis/shared/localenv/demobackend"
	"github.com/portcullis/portcullis/shared/model"
	"github.com/portcullis/portcullis/shared/policy"
)

func TestDemoDocumentIsValidOpenAPI3(t *testing.T) {
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromData(demobackend.OpenAPI())
	require.NoError(t, err)
	require.NoError(t, doc.Validate(context.Background()))
	require.True(t, strings.HasPrefix(doc.OpenAPI, "3."))

	var opIDs []string
	for _, item := range doc.Paths.Map() {
		for _, op := range item.Operations() {
			opIDs = append(opIDs, op.OperationID)
		}
	}
	for _, tool := range append(slices.Clone(readTools), "orders.refund", "orders.create") {
		require.Contains(t, opIDs, tool, "seed rules and policies name tools the document must define")
	}
}

// TestSeedBodiesAreValidResources decodes each seed body strictly into the shared model type the
// API decodes it into and runs its validation, so the seed cannot drift from the model.
func TestSeedBodiesAreValidResources(t *testing.T) {
	for _, s := range seedSteps("http://127.0.0.1:9100") {
		t.Run(s.what, func(t *testing.T) {
			raw, err := json.Marshal(s.body)
			require.NoError(t, err)
			switch s.path {
			case "/v1/tenants":
				var v model.Tenant
				strictDecode(t, raw, &v)
				require.NoError(t, v.Validate())
			case "/v1/access-rules":
				var v model.AccessRule
				strictDecode(t, raw, &v)
				require.NoError(t, v.Validate())
			case "/v1/policies":
				var v policy.Policy
				strictDecode(t, raw, &v)
				require.NoError(t, v.Validate(policy.Global))
			case "/v1/tool-sources":
				var v struct {
					model.ToolSource
					Document json.RawMessage `json:"document"`
				}
				strictDecode(t, raw, &v)
				require.NoError(t, v.ToolSource.Validate())
				require.JSONEq(t, string(demobackend.OpenAPI()), string(v.Document))
				require.Equal(t, "http://127.0.0.1:9100", v.BaseURL)
			case "/v1/domains":
				var v model.Domain
				strictDecode(t, raw, &v)
				require.NoError(t, v.Validate())
			default:
				t.Fatalf("no check for %s", s.path)
			}
		})
	}
}

func strictDecode(t *testing.T, raw []byte, v any) {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	require.NoError(t, dec.Decode(v))
}

func TestSeedReportsOutcomes(t *testing.T) {
	var calls []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		require.Equal(t, "Bearer tok", r.Header.Get("Authorization"))
		body, _ := io.ReadAll(r.Body)
		require.True(t, json.Valid(body))
		calls = append(calls, r.URL.Path)
		switch r.URL.Path {
		case "/v1/tenants":
			w.WriteHeader(http.StatusConflict)
		case "/v1/policies":
			w.Header().Set("Content-Type", "application/problem+json")
			w.WriteHeader(http.StatusUnprocessableEntity)
			_, _ = w.Write([]byte(`{"title":"Validation failed","status":422,"errors":[{"field":"match","detail":"bad"}]}`))
		default:
			w.WriteHeader(http.StatusCreated)
		}
	}))
	defer srv.Close()

	var out bytes.Buffer
	seed(context.Background(), srv.Client(), srv.URL, "tok", "http://127.0.0.1:9100", &out)
	require.Len(t, calls, len(seedSteps("")), "a failing step must not stop the others")
	text := out.String()
	require.Contains(t, text, "tenant acme (delegation enabled): already seeded")
	require.Contains(t, text, "tool source demo-orders (OpenAPI import): created")
	require.Contains(t, text, "HTTP 422")
	require.Contains(t, text, `"detail": "bad"`)
}
