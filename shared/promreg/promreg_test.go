package promreg

import (
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"
)

func counter(help string) *prometheus.CounterVec {
	return prometheus.NewCounterVec(prometheus.CounterOpts{Name: "promreg_test_total", Help: help}, []string{"l"})
}

func TestRegister(t *testing.T) {
	reg := prometheus.NewRegistry()
	first, err := Register(reg, counter("h"))
	require.NoError(t, err)

	second, err := Register(reg, counter("h"))
	require.NoError(t, err, "an identical collector is adopted")
	require.Same(t, first, second, "both instances count into the registered collector")

	_, err = Register(reg, counter("other help"))
	require.Error(t, err, "a different collector under the same name is refused")

	gauge := prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "promreg_test_total", Help: "h"}, []string{"l"})
	got, err := Register(reg, gauge)
	require.Error(t, err, "a collector of another type is not adopted")
	require.Same(t, gauge, got)
}

func TestRegisterAll(t *testing.T) {
	require.NoError(t, RegisterAll(nil, counter("h")), "no registry: nothing to do")

	reg := prometheus.NewRegistry()
	a := prometheus.NewCounter(prometheus.CounterOpts{Name: "promreg_a_total", Help: "a"})
	b := prometheus.NewCounter(prometheus.CounterOpts{Name: "promreg_b_total", Help: "b"})
	require.NoError(t, RegisterAll(reg, a, b))
	require.True(t, reg.Unregister(a), "a registered")
	require.True(t, reg.Unregister(b), "b registered")

	require.NoError(t, reg.Register(a))
	c := prometheus.NewCounter(prometheus.CounterOpts{Name: "promreg_c_total", Help: "c"})
	require.Error(t, RegisterAll(reg, a, c), "a twice is an error")
	require.False(t, reg.Unregister(c), "registration stops at the first error")
}
