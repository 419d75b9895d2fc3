package authn

import "github.com/prometheus/client_golang/prometheus"

// Outcomes of the authentication layer, the values of the outcome label.
const (
	outcomeOK              = "ok"
	outcomePreflight       = "preflight"
	outcomeUnknownHost     = "unknown_host"
	outcomeNoToken         = "no_token"
	outcomeInvalidToken    = "invalid_token"
	outcomeKeysUnavailable = "keys_unavailable"
	outcomeWrongTenant     = "wrong_tenant"
)

type metrics struct {
	requests *prometheus.CounterVec
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "portcullis_gateway_authn_requests_total",
			Help: "Requests seen by the gateway's authentication layer, by outcome.",
		}, []string{"outcome"}),
	}
	for _, o := range []string{outcomeOK, outcomePreflight, outcomeUnknownHost, outcomeNoToken, outcomeInvalidToken, outcomeKeysUnavailable, outcomeWrongTenant} {
		m.requests.WithLabelValues(o)
	}
	if reg != nil {
		if err := reg.Register(m.requests); err != nil {
			return nil, err
		}
	}
	return m, nil
}
