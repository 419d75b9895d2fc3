package bundlestore

import (
	"context"
	"encoding/json"
	"time"
)

// HeartbeatSubject is where gateways publish heartbeats (CONTRACTS.md).
const HeartbeatSubject = "portcullis.fleet.heartbeat"

// Heartbeat is the message on HeartbeatSubject: the JSON of the control
// plane's store.Gateway without last_seen, which the control plane sets from
// its own clock. Revisions maps scope ("global", "tenant/<id>") to the
// revision applied.
type Heartbeat struct {
	ID        string           `json:"id"`
	Hostname  string           `json:"hostname"`
	Version   string           `json:"version"`
	StartedAt time.Time        `json:"started_at"`
	Revisions map[string]int64 `json:"revisions"`
}

// heartbeatLoop publishes a heartbeat at once, every HeartbeatInterval, and
// soon after each applied change, so GET /v1/fleet shows a new revision
// without waiting a whole interval. Heartbeats are plain NATS: one lost while
// disconnected is simply replaced by the next.
func (s *NATS) heartbeatLoop(ctx context.Context) {
	t := time.NewTicker(s.cfg.HeartbeatInterval)
	defer t.Stop()
	for {
		s.sendHeartbeat()
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-s.heartbeat:
		}
	}
}

func (s *NATS) sendHeartbeat() {
	if !s.cfg.NC.IsConnected() {
		// Publishing now would queue a stale heartbeat in the reconnect
		// buffer; the next tick after reconnecting says the same, fresher.
		s.m.heartbeats.WithLabelValues("skipped").Inc()
		return
	}
	data, err := json.Marshal(Heartbeat{
		ID: s.cfg.GatewayID, Hostname: s.cfg.Hostname, Version: s.cfg.Version,
		StartedAt: s.cfg.StartedAt.UTC(), Revisions: s.Current().Revisions(),
	})
	if err == nil {
		err = s.cfg.NC.Publish(HeartbeatSubject, data)
	}
	if err != nil {
		s.m.heartbeats.WithLabelValues("error").Inc()
		s.log.Warn("heartbeat not sent", "err", err)
		return
	}
	s.m.heartbeats.WithLabelValues("sent").Inc()
}
