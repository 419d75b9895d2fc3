// Package approvals is the gateway's client for human approvals: when a
// policy's decision is approval_required, the gateway asks the control plane
// (NATS request/reply, shared/approval) to consume an approval granted for
// this exact call, or to find or create a pending one.
//
// Failing closed is the caller's rule: Check returns an error whenever it
// cannot say "approved_consumed", "pending" or "denied" with certainty (NATS
// down, no control plane answering, timeout, malformed answer, or the control
// plane's own error), and a call that needs an approval must then be refused.
package approvals

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/portcullis/portcullis/shared/approval"
)

// DefaultTimeout bounds a check when Client.Timeout is zero.
const DefaultTimeout = 5 * time.Second

const maxResponseSize = 64 << 10

// Errors of Check. Both mean: refuse the call.
var (
	// ErrUnavailable: no control plane answered (NATS down or disconnected,
	// no responders, timeout).
	ErrUnavailable = errors.New("approvals: control plane unreachable")
	// ErrRejected: the control plane answered with an error (invalid
	// request, unknown tenant, internal failure) or an answer that makes no
	// sense.
	ErrRejected = errors.New("approvals: control plane refused the check")
)

// Client asks the control plane about approvals. The zero Timeout means
// DefaultTimeout. It is safe for concurrent use.
type Client struct {
	NC      *nats.Conn
	Timeout time.Duration
}

// Check sends req (build it with approval.NewRequest) and returns the
// control plane's answer. On a nil error the status is approved_consumed (let
// the call through: this call used the approval), pending or denied (refuse
// the call, showing resp.Message, resp.ApprovalID and resp.CheckURL). On an
// error, refuse the call; resp then carries the control plane's message when
// it sent one.
func (c *Client) Check(ctx context.Context, req approval.Request) (approval.Response, error) {
	if err := req.Validate(); err != nil {
		return approval.Response{}, fmt.Errorf("approvals: invalid request: %w", err)
	}
	if c.NC == nil {
		return approval.Response{}, fmt.Errorf("%w: no NATS connection", ErrUnavailable)
	}
	data, err := json.Marshal(req)
	if err != nil {
		return approval.Response{}, fmt.Errorf("approvals: encode: %w", err)
	}
	timeout := c.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	msg, err := c.NC.RequestWithContext(ctx, approval.Subject, data)
	if err != nil {
		return approval.Response{}, fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	return parse(msg.Data)
}

func parse(data []byte) (approval.Response, error) {
	if len(data) > maxResponseSize {
		return approval.Response{}, fmt.Errorf("%w: answer of %d bytes", ErrRejected, len(data))
	}
	var resp approval.Response
	if err := json.Unmarshal(data, &resp); err != nil {
		return approval.Response{}, fmt.Errorf("%w: answer does not decode: %w", ErrRejected, err)
	}
	switch resp.Status {
	case approval.StatusApprovedConsumed, approval.StatusPending, approval.StatusDenied:
		if resp.ApprovalID == "" {
			return approval.Response{}, fmt.Errorf("%w: %s answer without an approval id", ErrRejected, resp.Status)
		}
		return resp, nil
	case approval.StatusError:
		return resp, fmt.Errorf("%w: %s", ErrRejected, resp.Message)
	default:
		return approval.Response{}, fmt.Errorf("%w: unknown status %q", ErrRejected, resp.Status)
	}
}
