package forward

import (
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/portcullis/portcullis/shared/promreg"
)

// Outcomes of a forwarded call that got no usable HTTP status. A call that
// got one is labelled with the status code itself.
const (
	outcomeBadArguments  = "bad_arguments" // arguments could not be mapped; nothing sent
	outcomeMisconfigured = "misconfigured" // the tool or source is unusable; nothing sent
	outcomeSignError     = "sign_error"    // no usable keys; nothing sent
	outcomeTimeout       = "timeout"
	outcomeCancelled     = "cancelled" // the caller went away
	outcomeUnreachable   = "unreachable"
	outcomeTooLarge      = "too_large"
)

// statusOutcome labels a call by its status code: bounded (100–599), and the
// exact code is what an operator looks for.
func statusOutcome(code int) string { return strconv.Itoa(code) }

// metrics are the forwarder's Prometheus collectors. Tool names come from
// signed bundles (bounded by configuration), never from agents: a call for an
// unknown tool never reaches the forwarder.
type metrics struct {
	calls    *prometheus.CounterVec
	duration *prometheus.HistogramVec
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		calls: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "portcullis",
			Subsystem: "backend",
			Name:      "calls_total",
			Help:      "Tool calls forwarded to backends, by tool and status code (or failure: timeout, unreachable, too_large, bad_arguments, ...).",
		}, []string{"tool", "status"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: "portcullis",
			Subsystem: "backend",
			Name:      "call_duration_seconds",
			Help:      "Time from mapping a tool call to having read the backend's whole response, by tool.",
			Buckets:   prometheus.ExponentialBuckets(0.002, 2, 12), // 2 ms … ~4 s, then +Inf
		}, []string{"tool"}),
	}
	if reg == nil {
		return m, nil
	}
	var err error
	// Several forwarders (tests, two replicas in one process) share a registry.
	if m.calls, err = promreg.Register(reg, m.calls); err != nil {
		return nil, err
	}
	if m.duration, err = promreg.Register(reg, m.duration); err != nil {
		return nil, err
	}
	return m, nil
}

// observe counts every call, and times only those that went to the backend,
// so refused arguments do not drag the latency histogram towards zero.
func (m *metrics) observe(tool, outcome string, elapsed time.Duration) {
	m.calls.WithLabelValues(tool, outcome).Inc()
	switch outcome {
	case outcomeBadArguments, outcomeMisconfigured, outcomeSignError:
	default:
		m.duration.WithLabelValues(tool).Observe(elapsed.Seconds())
	}
}
