package pipeline

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/portcullis/portcullis/shared/audit"
	"github.com/portcullis/portcullis/shared/promreg"
)

// metrics counts decisions by method and outcome. Labels come from fixed
// sets (two methods, five decisions), never from client input.
type metrics struct {
	decisions *prometheus.CounterVec
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{decisions: prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "portcullis_pipeline_decisions_total",
		Help: "tools/list and tools/call requests by decision (allow, deny, step_up, approval_required, error).",
	}, []string{"method", "decision"})}
	if reg == nil {
		return m, nil
	}
	// Pipelines sharing a registry share the counter.
	var err error
	if m.decisions, err = promreg.Register(reg, m.decisions); err != nil {
		return nil, err
	}
	return m, nil
}

func (m *metrics) observe(method string, d audit.Decision) {
	m.decisions.WithLabelValues(method, string(d)).Inc()
}
