package server

import (
	"context"
	"log/slog"
	"time"

	"github.com/portcullis/portcullis/controlplane/internal/store"
)

// maintenance runs the store's periodic housekeeping: audit partitions for
// the coming months (an event whose month has no partition could not be
// stored) and expired Idempotency-Key responses. Both are idempotent and
// safe to run from every replica at once.
type maintenance struct {
	store    *store.Store
	log      *slog.Logger
	interval time.Duration
}

// monthsAhead of audit partitions kept ready: a control plane that stops
// running its maintenance still has two months before ingestion fails.
const monthsAhead = 2

func (m *maintenance) Run(ctx context.Context) error {
	t := time.NewTicker(m.interval)
	defer t.Stop()
	for {
		m.once(ctx)
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

func (m *maintenance) once(ctx context.Context) {
	cctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	if n, err := m.store.EnsureAuditPartitions(cctx, monthsAhead); err != nil {
		if ctx.Err() == nil {
			m.log.Warn("audit partition maintenance failed", "err", err)
		}
	} else if n > 0 {
		m.log.Info("created audit partitions", "count", n)
	}
	if n, err := m.store.PruneIdempotencyKeys(cctx); err != nil {
		if ctx.Err() == nil {
			m.log.Warn("idempotency key pruning failed", "err", err)
		}
	} else if n > 0 {
		m.log.Debug("pruned idempotency keys", "count", n)
	}
}
