package pipeline

import (
	"time"

	"github.com/portcullis/portcullis/shared/audit"
	"github.com/portcullis/portcullis/shared/model"
)

// maxAuditString bounds client-controlled strings copied into an event.
const maxAuditString = 256

// newEvent starts the audit event of a request with who, from where and what.
func (p *Pipeline) newEvent(start time.Time, method string, r *Request) *audit.Event {
	id, err := audit.NewID()
	if err != nil {
		p.log.Error("cannot create an audit event id", "err", err)
	}
	ev := &audit.Event{
		ID: id, Time: start.UTC(), GatewayID: p.gatewayID, Method: method,
		UserID:        clip(r.Principal.Subject, maxAuditString),
		Email:         clip(r.Principal.Email, maxAuditString),
		ClientIP:      clip(r.Info.ClientIP, maxAuditString),
		UserAgent:     clip(r.Info.UserAgent, maxAuditString),
		Country:       clip(r.Info.Country, maxAuditString),
		ClientName:    r.Session.ClientName,
		ClientVersion: r.Session.ClientVersion,
		Platform:      r.platform,
		SessionID:     r.Session.ID,
		Access:        audit.AccessNotEvaluated,
	}
	switch {
	case model.ValidTenantID(r.tenant):
		ev.Tenant = r.tenant
	case r.tenant != "":
		// A claim that is not a tenant id cannot name a subject or a row;
		// the event goes to the global trail with the reason.
		ev.Error = errInvalidTenant
	}
	return ev
}

// finish completes the event and hands it to the recorder (layer 7).
func (p *Pipeline) finish(r *Request, start time.Time) {
	ev := r.Event
	ev.DurationMS = p.now().Sub(start).Milliseconds()
	if ev.Decision == "" {
		// No layer decided: the request ended abnormally (a panic).
		ev.Decision, ev.Error = audit.DecisionError, errInternal
	}
	p.metrics.observe(ev.Method, ev.Decision)
	if ev.ID == "" {
		return // logged in newEvent; an event without id cannot be stored
	}
	p.audit.Record(*ev)
}
