package approval

import "github.com/portcullis/portcullis/shared/policy"

// ConfigFrom is the approval flow of a policy as the gateway sends it (nil:
// the defaults: one approval by any admin of the tenant, expiry one hour).
func ConfigFrom(a *policy.Approval) Config {
	if a == nil {
		return Config{}
	}
	return Config{
		ApproverRoles:  a.ApproverRoles,
		ApproverEmails: a.ApproverEmails,
		MinApprovals:   a.MinApprovals,
		ExpirySec:      a.ExpirySec,
		WebhookURL:     a.WebhookURL,
	}
}
