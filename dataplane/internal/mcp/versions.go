package mcp

import "slices"

// Protocol versions this transport speaks, newest first. 2025-06-18 is the oldest:
// earlier versions allow JSON-RPC batching and lack the MCP-Protocol-Version header,
// both of which this transport relies on being absent/present.
const (
	ProtocolVersion20251125 = "2025-11-25"
	ProtocolVersion20250618 = "2025-06-18"
	LatestProtocolVersion   = ProtocolVersion20251125
)

var supportedVersions = []string{ProtocolVersion20251125, ProtocolVersion20250618}

// SupportedProtocolVersions returns the versions negotiated in initialize, newest first.
func SupportedProtocolVersions() []string { return slices.Clone(supportedVersions) }

func isSupportedVersion(v string) bool { return slices.Contains(supportedVersions, v) }

// negotiateVersion follows the lifecycle rule: answer with the client's version if we
// support it, else with the latest we support (the client then decides whether to go on).
func negotiateVersion(requested string) string {
	if isSupportedVersion(requested) {
		return requested
	}
	return LatestProtocolVersion
}
