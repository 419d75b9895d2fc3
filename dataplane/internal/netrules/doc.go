// Package netrules enforces the IP allow/block lists of the bundles
// (model.NetworkRule) in the gateway, and decides which address a request
// comes from (ClientIP): the connection's peer, or — only when that peer is a
// configured trusted proxy — the address the proxies recorded in
// X-Forwarded-For. Rules are compiled once per bundle (Cache); checking an
// address is a scan of parsed prefixes, with no allocation.
package netrules
