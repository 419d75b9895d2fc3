package relay

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/portcullis/portcullis/controlplane/internal/store"
	"github.com/portcullis/portcullis/shared/bundle"
	"github.com/portcullis/portcullis/shared/model"
	"github.com/portcullis/portcullis/shared/policy"
	"github.com/portcullis/portcullis/shared/seal"
)

// build turns a snapshot into an unsigned bundle. Entries are sorted by ID so
// the same configuration always yields the same content hash.
func build(snap store.Snapshot, sealer *seal.Sealer) (*bundle.Bundle, error) {
	b := &bundle.Bundle{
		Scope:    snap.Scope,
		Revision: snap.Revision,
		BuiltAt:  time.Now().UTC(),
	}
	if snap.Scope == model.GlobalScope {
		g, err := buildGlobal(snap, sealer)
		if err != nil {
			return nil, err
		}
		b.Global = g
		return b, nil
	}
	if snap.Tenant == nil {
		// The tenant is gone: a signed tombstone tells gateways to drop it.
		b.Deleted = true
		return b, nil
	}
	t, err := buildTenant(snap)
	if err != nil {
		return nil, err
	}
	b.Tenant = t
	return b, nil
}

func buildGlobal(snap store.Snapshot, sealer *seal.Sealer) (*bundle.Global, error) {
	g := &bundle.Global{}
	var err error
	if g.Tools, err = entries[model.Tool](snap, store.KindTool); err != nil {
		return nil, err
	}
	if g.AccessRules, err = entries[model.AccessRule](snap, store.KindAccessRule); err != nil {
		return nil, err
	}
	if g.Policies, err = entries[policy.Policy](snap, store.KindPolicy); err != nil {
		return nil, err
	}
	if g.Hooks, err = entries[model.Hook](snap, store.KindHook); err != nil {
		return nil, err
	}
	if g.MaskingRules, err = entries[model.MaskingRule](snap, store.KindMaskingRule); err != nil {
		return nil, err
	}
	if g.RateLimits, err = entries[model.RateLimit](snap, store.KindRateLimit); err != nil {
		return nil, err
	}
	if g.NetworkRules, err = entries[model.NetworkRule](snap, store.KindNetworkRule); err != nil {
		return nil, err
	}
	if g.BackendKeys, err = sealKeys(snap.BackendKeys, sealer); err != nil {
		return nil, err
	}
	g.Domains = domainEntries(snap.Domains)
	return g, nil
}

// domainEntries lists every custom domain, sorted by hostname (unique) so the
// content hash does not depend on the order the store returned them in.
func domainEntries(recs []store.DomainRecord) []bundle.Entry[model.Domain] {
	if len(recs) == 0 {
		return nil // the field is omitted when empty: the same bytes as before domains existed
	}
	out := make([]bundle.Entry[model.Domain], 0, len(recs))
	for _, d := range recs {
		out = append(out, bundle.Entry[model.Domain]{ID: d.ID, Spec: d.Domain})
	}
	slices.SortFunc(out, func(a, b bundle.Entry[model.Domain]) int { return strings.Compare(a.Spec.Hostname, b.Spec.Hostname) })
	return out
}

func buildTenant(snap store.Snapshot) (*bundle.Tenant, error) {
	t := &bundle.Tenant{Tenant: snap.Tenant.Tenant}
	var err error
	if t.AccessRules, err = entries[model.AccessRule](snap, store.KindAccessRule); err != nil {
		return nil, err
	}
	if t.Policies, err = entries[policy.Policy](snap, store.KindPolicy); err != nil {
		return nil, err
	}
	if t.MaskingRules, err = entries[model.MaskingRule](snap, store.KindMaskingRule); err != nil {
		return nil, err
	}
	if t.RateLimits, err = entries[model.RateLimit](snap, store.KindRateLimit); err != nil {
		return nil, err
	}
	if t.NetworkRules, err = entries[model.NetworkRule](snap, store.KindNetworkRule); err != nil {
		return nil, err
	}
	return t, nil
}

// entries decodes the records of one kind. The specs were validated when they
// were written; a spec that no longer decodes (a schema change gone wrong)
// fails the build, so a gateway never gets a bundle silently missing a deny.
func entries[T any](snap store.Snapshot, kind store.Kind) ([]bundle.Entry[T], error) {
	recs := snap.Resources[kind]
	out := make([]bundle.Entry[T], 0, len(recs))
	for _, rec := range recs {
		var spec T
		if err := json.Unmarshal(rec.Spec, &spec); err != nil {
			return nil, fmt.Errorf("relay: %s %s: spec does not decode: %w", kind, rec.ID, err)
		}
		out = append(out, bundle.Entry[T]{ID: rec.ID, Spec: spec})
	}
	slices.SortFunc(out, func(a, b bundle.Entry[T]) int { return strings.Compare(a.ID, b.ID) })
	return out, nil
}

// sealKeys seals each usable backend key's secret under the bundle seal key
// with its kid as additional data. Revoked keys are left out: a gateway must
// stop signing with them, and the bundle must not carry dead secrets.
func sealKeys(recs []store.BackendKeyRecord, sealer *seal.Sealer) ([]bundle.SealedKey, error) {
	out := make([]bundle.SealedKey, 0, len(recs))
	for _, k := range recs {
		if k.Status == "revoked" {
			continue
		}
		if len(k.Secret) == 0 {
			return nil, fmt.Errorf("relay: backend key %s has no secret in the snapshot", k.KID)
		}
		sealed, err := sealer.Seal(k.Secret, []byte(k.KID))
		if err != nil {
			return nil, fmt.Errorf("relay: seal backend key %s: %w", k.KID, err)
		}
		out = append(out, bundle.SealedKey{BackendKey: k.BackendKey, Sealed: sealed})
	}
	slices.SortFunc(out, func(a, b bundle.SealedKey) int { return strings.Compare(a.KID, b.KID) })
	return out, nil
}
