package mcp_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"os"

	"github.com/portcullis/portcullis/dataplane/internal/mcp"
	"github.com/portcullis/portcullis/shared/authn"
)

// Example shows how the gateway composes the transport: the authentication layer in
// front puts the principal into the context, the layers behind implement Tools.
func Example() {
	keys, err := mcp.ParseSessionKeys(os.Getenv("EXAMPLE_SESSION_KEYS") + ",QkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkI=")
	if err != nil {
		panic(err)
	}
	tools := mcp.ToolsFunc{
		ListFunc: func(ctx context.Context) ([]mcp.Tool, error) {
			return []mcp.Tool{{Name: "get_invoice", InputSchema: json.RawMessage(`{"type":"object"}`)}}, nil
		},
		CallFunc: func(ctx context.Context, name string, args json.RawMessage) (mcp.CallResult, error) {
			if name != "get_invoice" {
				return mcp.CallResult{}, mcp.UnknownToolError(name) // same answer for hidden tools
			}
			return mcp.CallResult{StructuredContent: json.RawMessage(`{"total":42}`)}, nil
		},
	}
	handler, err := mcp.New(mcp.Config{
		Tools:          tools,
		SessionKeys:    keys,
		AllowedOrigins: []string{"https://app.example.com"},
		Logger:         slog.Default(),
	})
	if err != nil {
		panic(err)
	}
	authenticate := func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			// The real layer validates the bearer JWT (401 on failure) and lets CORS
			// preflights through without one.
			p := authn.Principal{TenantID: "acme", Subject: "user-1"}
			next.ServeHTTP(w, r.WithContext(mcp.ContextWithPrincipal(r.Context(), p)))
		})
	}
	mux := http.NewServeMux()
	mux.Handle("/mcp", authenticate(handler))
	_ = mux // http.Server{Handler: mux, ReadHeaderTimeout: ...}.ListenAndServeTLS(...)
}
