package mcp

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/portcullis/portcullis/shared/promreg"
)

// Outcomes label every request exactly once.
const (
	outcomeOK            = "ok"             // a result was returned
	outcomeToolError     = "tool_error"     // tools/call result with isError
	outcomeRPCError      = "rpc_error"      // a JSON-RPC error response (bad params, unknown tool, ...)
	outcomeRejected      = "rejected"       // refused at the HTTP level (origin, session, headers, size, framing)
	outcomeInternalError = "internal_error" // our fault: a Tools failure, a panic, an encoding failure
	outcomeAccepted      = "accepted"       // notification or client response: 202
)

// methodLabel keeps the method label's cardinality bounded: clients choose method names.
func methodLabel(method string) string {
	switch method {
	case methodInitialize, methodInitialized, methodPing, methodToolsList, methodToolsCall,
		methodCancelled, httpDelete, httpGet, "preflight":
		return method
	case "":
		return "unknown"
	default:
		return "other"
	}
}

// metrics are the transport's Prometheus collectors.
type metrics struct {
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "portcullis",
			Subsystem: "mcp",
			Name:      "requests_total",
			Help:      "MCP messages handled, by JSON-RPC method and outcome.",
		}, []string{"method", "outcome"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: "portcullis",
			Subsystem: "mcp",
			Name:      "request_duration_seconds",
			Help:      "Time to handle an MCP message, from body read to response written, by JSON-RPC method.",
			Buckets:   prometheus.ExponentialBuckets(0.0005, 2.5, 12),
		}, []string{"method"}),
	}
	if reg == nil {
		return m, nil
	}
	var err error
	// Several handlers in one process (tests with two replicas) share a registry.
	if m.requests, err = promreg.Register(reg, m.requests); err != nil {
		return nil, err
	}
	if m.duration, err = promreg.Register(reg, m.duration); err != nil {
		return nil, err
	}
	return m, nil
}

func (m *metrics) observe(method, outcome string, elapsed time.Duration) {
	label := methodLabel(method)
	m.requests.WithLabelValues(label, outcome).Inc()
	m.duration.WithLabelValues(label).Observe(elapsed.Seconds())
}
