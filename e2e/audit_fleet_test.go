package e2e

import (
	"context"
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/portcullis/portcullis/e2e/internal/stack"
	"github.com/portcullis/portcullis/shared/audit"
)

// TestAuditAndFleet: audit events a gateway publishes to JetStream end up,
// once each, in the audit API (tenant-scoped for a tenant admin); heartbeats
// show up in GET /v1/fleet.
func TestAuditAndFleet(t *testing.T) {
	s := stack.Start(t, stack.Options{})
	admin := s.PlatformAdminToken(t)
	nc, js := s.NATSConn(t)
	for _, id := range []string{"acme", "globex"} {
		r := s.Do(t, http.MethodPost, "/v1/tenants", admin, map[string]any{"id": id, "name": id, "delegation_enabled": true})
		require.Equal(t, http.StatusCreated, r.Status, "%s", r.Body)
	}

	publish := func(e audit.Event) {
		t.Helper()
		data, err := json.Marshal(e)
		require.NoError(t, err)
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_, err = js.Publish(ctx, e.Subject(), data)
		require.NoError(t, err)
	}
	now := time.Now().UTC().Truncate(time.Millisecond)
	ev := func(id, tenant, tool string) audit.Event {
		return audit.Event{ID: id, Time: now, GatewayID: "gw-e2e", Tenant: tenant, UserID: "u-" + tenant,
			Method: "tools/call", Tool: tool, Decision: audit.DecisionAllow, DurationMS: 3}
	}
	// The stream is created by the control plane at start; retry until it is.
	require.Eventually(t, func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_, err := js.Stream(ctx, "PORTCULLIS_AUDIT")
		return err == nil
	}, waitFor, 50*time.Millisecond)
	acme1 := ev("0193a0c0-0000-7000-8000-0000000000a1", "acme", "listPets")
	publish(acme1)
	publish(acme1) // a gateway retrying after a lost ack
	publish(ev("0193a0c0-0000-7000-8000-0000000000b1", "globex", "createPet"))

	type events struct {
		Items []struct {
			ID       string `json:"id"`
			TenantID string `json:"tenant_id"`
		} `json:"items"`
	}
	var all events
	require.Eventually(t, func() bool {
		r := s.Do(t, http.MethodGet, "/v1/audit-events", admin, nil)
		require.Equal(t, http.StatusOK, r.Status, "%s", r.Body)
		all = events{}
		r.Decode(t, &all)
		return len(all.Items) >= 2
	}, waitFor, 50*time.Millisecond)
	assert.Len(t, all.Items, 2, "the duplicate is stored once")

	r := s.Do(t, http.MethodGet, "/v1/tenants/acme/audit-events", s.TenantAdminToken(t, "acme"), nil)
	require.Equal(t, http.StatusOK, r.Status, "%s", r.Body)
	var mine events
	r.Decode(t, &mine)
	require.Len(t, mine.Items, 1, "a tenant admin sees only its tenant's events")
	assert.Equal(t, acme1.ID, mine.Items[0].ID)

	// Heartbeats (core NATS) are dropped until the control plane subscribes;
	// keep sending, as a gateway does.
	hb, err := json.Marshal(map[string]any{
		"id": "gw-e2e", "hostname": "gw-e2e.local", "version": "dev", "started_at": now,
		"revisions": map[string]int64{"global": 1, "tenant/acme": 1},
	})
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		require.NoError(t, nc.Publish("portcullis.fleet.heartbeat", hb))
		r := s.Do(t, http.MethodGet, "/v1/fleet", admin, nil)
		require.Equal(t, http.StatusOK, r.Status, "%s", r.Body)
		var fleet struct {
			Items []struct {
				ID        string           `json:"id"`
				Revisions map[string]int64 `json:"revisions"`
			} `json:"items"`
		}
		r.Decode(t, &fleet)
		return len(fleet.Items) == 1 && fleet.Items[0].ID == "gw-e2e" && fleet.Items[0].Revisions["tenant/acme"] == 1
	}, waitFor, 100*time.Millisecond)
}
