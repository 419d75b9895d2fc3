package server

import (
	"net/http"

	"github.com/portcullis/portcullis/dataplane/internal/approvals"
	"github.com/portcullis/portcullis/dataplane/internal/authn"
	"github.com/portcullis/portcullis/dataplane/internal/pipeline"
	"github.com/portcullis/portcullis/dataplane/internal/policyeval"
)

// policyLayer is layer 4: the compiled policies of the bundles, with
// approvals checked with the control plane over the gateway's NATS
// connection (request/reply; no answer refuses the call).
// The global policies are compiled as soon as a global bundle is applied.
func (s *Server) policyLayer() *policyeval.Layer {
	l := policyeval.New(policyeval.Config{
		Approvals:        &approvals.Client{NC: s.nc},
		ResourceMetadata: s.publicURL + authn.MetadataPath,
		Logger:           s.log.With("component", "policies"),
	})
	s.closers = append(s.closers, l.Follow(s.store))
	return l
}

// withResourceMetadata adds the RFC 9728 metadata URL of the request's host
// to the request info the authentication middleware attached, so a step-up
// challenge on a custom domain points to that domain's metadata.
func withResourceMetadata(auth *authn.Authenticator, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		info, ok := pipeline.RequestInfoFromContext(r.Context())
		if route, served := auth.Route(r); ok && served {
			info.ResourceMetadata = route.BaseURL + authn.MetadataPath
			r = r.WithContext(pipeline.ContextWithRequestInfo(r.Context(), info))
		}
		next.ServeHTTP(w, r)
	})
}
