package relay

import (
	"context"
	"math/rand/v2"
	"time"
)

// backoff is exponential with "equal jitter": each delay is half the
// exponential step plus a random part of the other half, so many relays (or
// one relay's many retries) do not hammer a recovering NATS in lockstep, and
// no delay is ever shorter than half its step.
type backoff struct {
	base, max time.Duration
	attempt   int
}

func newBackoff(base, max time.Duration) *backoff { return &backoff{base: base, max: max} }

func (b *backoff) next() time.Duration {
	step := b.max
	if b.attempt < 30 { // beyond that the shift overflows; max has long been reached
		step = min(b.base<<b.attempt, b.max)
	}
	b.attempt++
	half := step / 2
	return half + rand.N(half+1)
}

func (b *backoff) reset() { b.attempt = 0 }

// sleep waits d or until ctx ends.
func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}
