// Package forward is the gateway's last layer: it turns an authorised,
// schema-validated tool call into the backend HTTP request, signs it with
// package backendsig, sends it within the tool's timeout and turns the answer
// into an MCP tool result.
//
// # Mapping (the inverse of the control plane's OpenAPI import)
//
// The import gives every tool an input schema that is an object with one
// property per parameter, and a Params list saying where each goes:
//
//	in=path    substituted into the {name} template of Tool.Path
//	in=query   added to the query string (an array repeats the key: form, explode)
//	in=header  set as a request header (an array is joined with ",": simple style)
//	in=body    the argument's JSON value is the request body (application/json);
//	           the import always names it "body"
//
// Arguments that name no parameter are ignored (the input schema forbids them
// anyway) and a null argument counts as absent.
//
// # Invariants (security)
//
//   - The destination is always the tool's base_url scheme and host. Arguments
//     only ever fill path segments (escaped, never "", ".", "..", and never
//     containing "/" or "\"), query values and header values. A final check
//     compares the built path's shape with the template's and refuses any
//     difference, so a later change to the escaping cannot open a traversal.
//   - Header parameters may not set transport headers (Host, Content-Length,
//     hop-by-hop), the gateway's own headers (Portcullis-*), the forwarding
//     chain, credentials (Authorization, Proxy-Authorization, Cookie), or
//     Content-Type and Accept. Source headers (platform configuration) may set
//     Authorization, which is how a platform gives the gateway a backend API
//     key, and they are applied after parameters, so an agent cannot override
//     them. The identity and signature headers are set last, by the signer.
//   - Redirects are never followed: a 3xx is returned as an error result, so a
//     backend (or whoever controls its Location header) cannot send a signed
//     request, or the gateway itself, elsewhere.
//   - Environment proxies (HTTP_PROXY) are ignored: forwarded traffic goes
//     straight to the backend.
//   - Responses are read up to Config.MaxResponseBytes (after transparent
//     gzip decoding, so a compression bomb stops at the limit too).
//   - Every failure is an isError result with a short message that names no
//     address, port or Go error text; the detail goes to the log.
//
// # Results
//
// A 2xx JSON object becomes Result.Structured (numbers kept exactly, as
// json.Number) and a JSON array is wrapped as {"items": [...]}; Result.Text
// always carries the body text so clients without structured content see it
// too. 4xx results carry a short excerpt of the backend's error body (the agent
// can often correct its call from it); 5xx results carry only the status,
// because server errors are where stack traces and internal names leak.
package forward
