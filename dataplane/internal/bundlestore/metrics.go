package bundlestore

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/portcullis/portcullis/shared/promreg"
)

// Reasons a bundle is rejected (label "reason" of
// portcullis_gateway_bundles_rejected_total).
const (
	reasonBadKey  = "bad_key" // the KV key names no scope
	reasonInvalid = "invalid" // bundle.Verify refused it: signature, kid, hash, scope, format
	reasonStale   = "stale"   // bundle.Accept refused it: older revision, or same revision with other content
	reasonScope   = "scope"   // bundle.Accept: scope mismatch (cannot happen with per-scope keys; counted if it does)
)

// Where an applied bundle came from (label "source").
const (
	sourceNATS = "nats"
	sourceFile = "file"
)

// metrics are the store's Prometheus collectors.
type metrics struct {
	applied        *prometheus.CounterVec
	rejected       *prometheus.CounterVec
	duplicates     prometheus.Counter
	deletesIgnored prometheus.Counter
	syncs          prometheus.Counter
	revision       *prometheus.GaugeVec
	snapshotFile   *prometheus.CounterVec
	heartbeats     *prometheus.CounterVec
	backendKeys    prometheus.Counter
	syncAge        prometheus.GaugeFunc
	stale          prometheus.GaugeFunc
	ready          prometheus.GaugeFunc
}

func newMetrics(reg prometheus.Registerer, syncAge, stale, ready func() float64) (*metrics, error) {
	opts := func(name, help string) prometheus.Opts {
		return prometheus.Opts{Namespace: "portcullis", Subsystem: "gateway", Name: name, Help: help}
	}
	m := &metrics{
		applied: prometheus.NewCounterVec(prometheus.CounterOpts(opts("bundles_applied_total",
			"Bundles verified and applied, by source (nats, file).")), []string{"source"}),
		rejected: prometheus.NewCounterVec(prometheus.CounterOpts(opts("bundles_rejected_total",
			"Bundles refused (the last good one was kept), by reason.")), []string{"reason"}),
		duplicates: prometheus.NewCounter(prometheus.CounterOpts(opts("bundle_duplicates_total",
			"Bundles received again with the revision and content already held (redeliveries, resyncs)."))),
		deletesIgnored: prometheus.NewCounter(prometheus.CounterOpts(opts("bundle_deletes_ignored_total",
			"KV deletes and purges ignored: only signed tombstones remove a tenant."))),
		syncs: prometheus.NewCounter(prometheus.CounterOpts(opts("bundle_syncs_total",
			"Full reads of the bucket completed (the first sync, then one per reconnect)."))),
		revision: prometheus.NewGaugeVec(prometheus.GaugeOpts(opts("bundle_revision",
			"Revision applied for each scope (a tombstone's included).")), []string{"scope"}),
		snapshotFile: prometheus.NewCounterVec(prometheus.CounterOpts(opts("bundle_snapshot_file_total",
			"Snapshot file operations, by op (write, load) and result.")), []string{"op", "result"}),
		heartbeats: prometheus.NewCounterVec(prometheus.CounterOpts(opts("heartbeats_total",
			"Heartbeats, by result (sent, skipped while disconnected, error).")), []string{"result"}),
		backendKeys: prometheus.NewCounter(prometheus.CounterOpts(opts("backend_key_errors_total",
			"Global bundles whose backend keys did not all unseal (seal key mismatch)."))),
		syncAge: prometheus.NewGaugeFunc(prometheus.GaugeOpts(opts("bundle_sync_age_seconds",
			"0 while the bundle watch is synced and connected; otherwise seconds since it last was (or since start).")), syncAge),
		stale: prometheus.NewGaugeFunc(prometheus.GaugeOpts(opts("bundle_stale",
			"1 while serving bundles loaded from the snapshot file, before the first sync with NATS.")), stale),
		ready: prometheus.NewGaugeFunc(prometheus.GaugeOpts(opts("bundle_ready",
			"1 once a complete configuration is held.")), ready),
	}
	if err := promreg.RegisterAll(reg,
		m.applied, m.rejected, m.duplicates, m.deletesIgnored, m.syncs, m.revision,
		m.snapshotFile, m.heartbeats, m.backendKeys, m.syncAge, m.stale, m.ready,
	); err != nil {
		return nil, fmt.Errorf("bundlestore: register metrics: %w", err)
	}
	return m, nil
}
