package e2e

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"sync"
	"testing"
	"time"

	sdk "github.com/modelcontextprotocol/go-sdk/mcp"
	"github.com/nats-io/nats.go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/portcullis/portcullis/e2e/internal/stack"
)

// applyTimeout is a hang guard on one change reaching the gateways, not a
// performance assertion.
const applyTimeout = 60 * time.Second

// pollEvery is how often each gateway's tools/list is polled while a change
// is awaited (it bounds the measurement's resolution).
const pollEvery = 2 * time.Millisecond

// heartbeats records every gateway heartbeat with its arrival time.
type heartbeats struct {
	mu  sync.Mutex
	got []heartbeat
}

type heartbeat struct {
	at        time.Time
	id        string
	revisions map[string]int64
}

func (h *heartbeats) add(m *nats.Msg) {
	var hb struct {
		ID        string           `json:"id"`
		Revisions map[string]int64 `json:"revisions"`
	}
	if json.Unmarshal(m.Data, &hb) != nil {
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	h.got = append(h.got, heartbeat{at: time.Now(), id: hb.ID, revisions: hb.Revisions})
}

// firstAt is when gateway id first reported scope at rev or later, after
// since (false if it has not yet).
func (h *heartbeats) firstAt(id, scope string, rev int64, since time.Time) (time.Time, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, hb := range h.got {
		if hb.id == id && !hb.at.Before(since) && hb.revisions[scope] >= rev {
			return hb.at, true
		}
	}
	return time.Time{}, false
}

// TestGatewayLiveAccessChange: access-rule changes made through the admin
// API (a tenant admin's narrowing rule, a platform admin's edit of a global
// rule) take effect on both gateways without a restart. For each change it
// measures the time from the API's 2xx to the change being visible in
// tools/list on every gateway, and to every gateway's heartbeat reporting
// the new revision, and logs p50/max. Nothing is asserted about the times.
func TestGatewayLiveAccessChange(t *testing.T) {
	s := stack.Start(t, stack.Options{Gateways: 2})
	admin := s.PlatformAdminToken(t)
	acmeAdmin := s.TenantAdminToken(t, stack.TenantAcme)
	nc, _ := s.NATSConn(t)
	hbs := &heartbeats{}
	sub, err := nc.Subscribe("portcullis.fleet.heartbeat", hbs.add)
	require.NoError(t, err)
	t.Cleanup(func() { _ = sub.Unsubscribe() })

	// One acme viewer session pinned to each replica, and one acme admin.
	viewers := make([]*sdk.ClientSession, len(s.Gateways))
	for i, g := range s.Gateways {
		viewers[i] = connectGoSDK(t, s, newRoundRobin(t, s, s.UserToken(t, stack.TenantAcme, stack.RoleViewer), g))
	}
	acmeAdminUser := connectGoSDK(t, s, newRoundRobin(t, s, s.UserToken(t, stack.TenantAcme, stack.RoleAdmin), s.Gateways...))
	for _, v := range viewers {
		require.Equal(t, stack.ReadTools, sorted(toolNames(t, v)))
	}

	without := func(tool string) []string {
		return slices.DeleteFunc(slices.Clone(stack.ReadTools), func(s string) bool { return s == tool })
	}
	var narrowID string
	viewersRule := func(tools []string) map[string]any {
		return map[string]any{"name": "viewers", "tools": tools, "roles": []string{stack.RoleViewer}, "enabled": true}
	}
	changes := []struct {
		name  string
		scope string
		apply func() stack.Response
		want  []string
	}{
		{"tenant narrows customers.get to admins", "tenant/" + stack.TenantAcme, func() stack.Response {
			return s.Do(t, http.MethodPost, "/v1/tenants/acme/access-rules", acmeAdmin, map[string]any{
				"name": "acme-narrow", "tools": []string{"customers.get"}, "roles": []string{stack.RoleAdmin}, "enabled": true,
			})
		}, without("customers.get")},
		{"tenant drops its narrowing rule", "tenant/" + stack.TenantAcme, func() stack.Response {
			return s.Do(t, http.MethodDelete, "/v1/tenants/acme/access-rules/"+narrowID, acmeAdmin, nil)
		}, stack.ReadTools},
		{"platform revokes orders.get from viewers", "global", func() stack.Response {
			return s.Do(t, http.MethodPut, "/v1/access-rules/"+s.AccessRuleIDs["viewers"], admin, viewersRule(without("orders.get")))
		}, without("orders.get")},
		{"platform grants orders.get again", "global", func() stack.Response {
			return s.Do(t, http.MethodPut, "/v1/access-rules/"+s.AccessRuleIDs["viewers"], admin, viewersRule(stack.ReadTools))
		}, stack.ReadTools},
	}

	const rounds = 10
	var effect, reported []time.Duration
	for i := range rounds {
		c := changes[i%len(changes)]
		r := c.apply()
		committed := time.Now()
		require.Less(t, r.Status, 300, "%s: %s", c.name, r.Body)
		if r.Status == http.StatusCreated {
			var created struct {
				ID string `json:"id"`
			}
			r.Decode(t, &created)
			narrowID = created.ID
		}
		rev := s.ScopeRevisions(t)[c.scope]

		effect = append(effect, awaitToolLists(t, viewers, c.want, committed))
		var last time.Duration
		for _, g := range s.Gateways {
			require.Eventually(t, func() bool {
				at, ok := hbs.firstAt(g.ID, c.scope, rev, committed)
				last = max(last, at.Sub(committed))
				return ok
			}, applyTimeout, time.Millisecond, "%s: %s never reported %s revision %d", c.name, g.ID, c.scope, rev)
		}
		reported = append(reported, last)
		t.Logf("change %d (%s, %s rev %d): visible on all gateways after %v, reported by all after %v",
			i+1, c.name, c.scope, rev, effect[i].Round(time.Microsecond), last.Round(time.Microsecond))

		if i == 0 {
			// Refused like a tool that does not exist, on every replica;
			// the tenant's admins keep it.
			for _, v := range viewers {
				assertInvisible(t, v, "customers.get")
			}
			assert.Contains(t, toolNames(t, acmeAdminUser), "customers.get")
		}
	}
	t.Logf("commit → visible in tools/list on all %d gateways, %d changes: p50 %v, max %v",
		len(s.Gateways), rounds, percentile(effect, 50), percentile(effect, 100))
	t.Logf("commit → applied revision reported by all %d gateways (heartbeat), %d changes: p50 %v, max %v",
		len(s.Gateways), rounds, percentile(reported, 50), percentile(reported, 100))
}

// awaitToolLists polls every session's tools/list until each shows want
// and returns the time from committed until the last one did.
func awaitToolLists(t *testing.T, sessions []*sdk.ClientSession, want []string, committed time.Time) time.Duration {
	t.Helper()
	var wg sync.WaitGroup
	seen := make([]time.Duration, len(sessions))
	errs := make([]error, len(sessions))
	for i, cs := range sessions {
		wg.Go(func() {
			deadline := committed.Add(applyTimeout)
			var got []string
			for time.Now().Before(deadline) {
				got, errs[i] = listOnce(cs)
				if errs[i] == nil && slices.Equal(got, want) {
					seen[i] = time.Since(committed)
					return
				}
				time.Sleep(pollEvery)
			}
			errs[i] = fmt.Errorf("gateway %d still lists %v, want %v (last error: %v)", i+1, got, want, errs[i])
		})
	}
	wg.Wait()
	for _, err := range errs {
		require.NoError(t, err)
	}
	return slices.Max(seen)
}

func listOnce(cs *sdk.ClientSession) ([]string, error) {
	ctx, cancel := contextWithTimeout(callTimeout)
	defer cancel()
	var names []string
	for tool, err := range cs.Tools(ctx, nil) {
		if err != nil {
			return nil, err
		}
		names = append(names, tool.Name)
	}
	slices.Sort(names)
	return names, nil
}

// percentile is the nearest-rank percentile p (0–100] of ds.
func percentile(ds []time.Duration, p int) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	rank := (p*len(s) + 99) / 100
	return s[max(rank, 1)-1].Round(time.Microsecond)
}
