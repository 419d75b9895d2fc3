package policy

import (
	"encoding/json"
	"testing"
)

// FuzzPolicyValidate decodes arbitrary JSON into a Policy and validates it in
// both scopes: whatever an admin sends, validation answers and never panics.
func FuzzPolicyValidate(f *testing.F) {
	seeds := []string{
		`{"name":"n","tools":["*"],"effect":"deny","match":{"op":"and","conditions":[{"attribute":"args.a","operator":"gt","value":1}]}}`,
		`{"name":"n","tools":["a.*"],"effect":"step_up","step_up":{"acr_values":["mfa"],"max_age":60},"match":{"op":"or","groups":[{"op":"and","conditions":[{"attribute":"request.time","operator":"between","value":["09:00","17:00"],"time_zone":"Europe/Paris"}]}]}}`,
		`{"name":"n","tools":["x"],"effect":"approval_required","approval":{"approver_emails":["a@b.c"],"min_approvals":1,"expiry_sec":300,"webhook_url":"http://[::1]/"},"match":{"op":"and","conditions":[{"attribute":"request.ip","operator":"cidr","value":["10.0.0.0/8"]}]}}`,
		`{"name":"n","tools":["x"],"effect":"allow","rego":"package portcullis.custom\ndecision := \"deny\" if input.args.x > 1\n"}`,
		`{"name":"n","tools":["x"],"effect":"mask","masking":["pii"],"match":{"op":"and","conditions":[{"attribute":"args.a[0].b","operator":"in_list","value":[1,"a",true]}]}}`,
		`{"match":{"op":"and","groups":[{"op":"or","groups":[{"op":"and"}]}]}}`,
		`{"match":{"conditions":[{"attribute":"request.time","operator":"between","value":[{},[]]}]}}`,
		`{"match":{"conditions":[{"attribute":"args.x","operator":"cidr","value":[null]}]}}`,
		`{}`, `null`, `[]`,
	}
	for _, s := range seeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var p Policy
		if err := json.Unmarshal(data, &p); err != nil {
			return
		}
		for _, scope := range []ScopeKind{Global, Tenant} {
			_ = p.Validate(scope)
		}
	})
}
