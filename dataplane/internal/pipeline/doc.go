// Package pipeline is the gateway's request path behind the MCP transport: it
// implements mcp.Tools by running each tools/list and tools/call through the
// layers of DESIGN.md in order — access control, policies, hooks, input-schema
// validation, signed forwarding, masking and audit — composed in one place,
// pipeline.go. Policies, hooks and masking are seams (interfaces with a
// pass-through implementation) that later issues fill in.
//
// Everything a request reads comes from one bundlestore.Snapshot loaded when
// the request starts, so a bundle swap never mixes two configurations within a
// request; what is derived from a global bundle (the access index, the tool
// listing, compiled schemas) is built once per global bundle and shared.
// DESIGN.md beside this file states the invariants.
package pipeline
