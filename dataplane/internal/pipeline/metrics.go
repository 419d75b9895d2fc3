package pipeline

import (
	"errors"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/portcullis/portcullis/shared/audit"
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
	if err := reg.Register(m.decisions); err != nil {
		var are prometheus.AlreadyRegisteredError
		if !errors.As(err, &are) {
			return nil, err
		}
		// Pipelines sharing a registry share the counter.
		m.decisions = are.ExistingCollector.(*prometheus.CounterVec)
	}
	return m, nil
}

func (m *metrics) observe(method string, d audit.Decision) {
	m.decisions.WithLabelValues(method, string(d)).Inc()
}
