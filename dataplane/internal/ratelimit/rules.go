package ratelimit

import (
	"strings"
	"time"

	"github.com/portcullis/portcullis/shared/bundle"
	"github.com/portcullis/portcullis/shared/model"
)

// Rules are the rate limits of one scope as a bundle carries them.
type Rules struct {
	Scope   model.Scope // "global" or "tenant/<id>"
	Entries []bundle.Entry[model.RateLimit]
}

// Call is what a limit counts: always within one tenant.
type Call struct {
	Tenant string
	User   string
	Tool   string
}

// Refusal says which limit refused a call and when to retry.
type Refusal struct {
	Scope      model.Scope
	ID         string // the limit's resource id
	Name       string
	RetryAfter time.Duration
}

// RetryAfterSeconds rounds RetryAfter up to whole seconds, at least 1: what
// an agent is told to wait.
func (r *Refusal) RetryAfterSeconds() int {
	s := int((r.RetryAfter + time.Second - 1) / time.Second)
	return max(1, s)
}

// taken is a bucket Allow admitted the call on, to refund if a later limit
// refuses it.
type taken struct {
	key  string
	rate Rate
}

// Allow counts the call against every enabled limit of sets that applies to
// its tool (global limits and the tenant's, all of them: a tenant limit only
// adds restrictions). It returns nil when every limit admitted the call, or
// the first refusal; a refused call is refunded to the limits that had
// admitted it, so it counts against none.
func (l *Limiter) Allow(c Call, sets ...Rules) *Refusal {
	var buf [8]taken
	done := buf[:0]
	for _, set := range sets {
		for _, e := range set.Entries {
			if !e.Spec.AppliesTo(c.Tool) {
				continue
			}
			key := Key(set.Scope, e.ID, e.Spec.Per, c)
			rate := Rate{PerMinute: e.Spec.RequestsPerMinute, Burst: e.Spec.Burst}
			ok, wait := l.Take(key, rate)
			if !ok {
				for _, t := range done {
					l.Refund(t.key, t.rate)
				}
				return &Refusal{Scope: set.Scope, ID: e.ID, Name: e.Spec.Name, RetryAfter: wait}
			}
			done = append(done, taken{key, rate})
		}
	}
	return nil
}

// Key is the bucket key of one limit for one call: the limit (scope and id,
// so a global and a tenant limit of the same name never share a bucket), the
// tenant (a global limit counts each tenant apart), and the user or tool for
// per-user and per-tool limits. An unknown Per counts per user, the finest of
// the known keys, so a bundle from a newer control plane never widens a limit.
// NUL separates the parts: no tenant id, tool name or scope contains it.
func Key(scope model.Scope, id, per string, c Call) string {
	var b strings.Builder
	b.Grow(len(scope) + len(id) + len(c.Tenant) + len(c.User) + len(c.Tool) + 8)
	b.WriteString(string(scope))
	b.WriteByte(0)
	b.WriteString(id)
	b.WriteByte(0)
	b.WriteString(c.Tenant)
	switch per {
	case model.PerTenant:
	case model.PerTool:
		b.WriteString("\x00t:")
		b.WriteString(c.Tool)
	default:
		b.WriteString("\x00u:")
		b.WriteString(c.User)
	}
	return b.String()
}
