package relay

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/portcullis/portcullis/shared/promreg"
)

type metrics struct {
	published *prometheus.CounterVec
	errors    prometheus.Counter
	lag       prometheus.Gauge
	leader    prometheus.Gauge
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		published: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "portcullis_relay_bundles_published_total",
			Help: "Bundles written to the KV bucket, by scope kind (global, tenant).",
		}, []string{"scope_kind"}),
		errors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "portcullis_relay_publish_errors_total",
			Help: "Failed attempts to publish a scope's bundle (retried with backoff).",
		}),
		lag: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "portcullis_relay_outbox_lag_seconds",
			Help: "Age of the oldest unpublished outbox row at the last drain (0 when empty).",
		}),
		leader: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "portcullis_relay_leader",
			Help: "1 while this relay holds the publisher lock.",
		}),
	}
	if err := promreg.RegisterAll(reg, m.published, m.errors, m.lag, m.leader); err != nil {
		return nil, fmt.Errorf("relay: register metrics: %w", err)
	}
	return m, nil
}
