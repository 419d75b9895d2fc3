// Package ratelimit enforces the rate limits of the bundles (model.RateLimit)
// in the gateway: one token bucket per limit and counting key (tenant, user
// within a tenant, or tool within a tenant), kept in this process's memory.
//
// Limits hold across replicas by splitting each limit's budget by the number
// of live gateways (Fleet counts them from the heartbeats every gateway
// already publishes): N replicas each admit RequestsPerMinute/N. DESIGN.md
// beside this file says why this was chosen over shared counters, and what
// tolerance it gives.
package ratelimit
