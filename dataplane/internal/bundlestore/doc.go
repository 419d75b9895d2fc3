// Package bundlestore holds the gateway's configuration: the signed bundles of
// the global scope and of every tenant, as one immutable Snapshot that the
// request path reads without locks.
//
// There is one interface, Source, and two implementations: NATS, which loads
// the bundles from the JetStream KV bucket "portcullis-bundles", verifies and
// applies them, keeps a snapshot file for starts without NATS and sends the
// gateway's heartbeats; and Static, a fixed (but replaceable) Snapshot for
// unit tests of the layers that read it. DESIGN.md beside this file writes
// down the invariants: what is rejected and why, which goroutine owns which
// state, and what survives a NATS outage or a restart.
package bundlestore
