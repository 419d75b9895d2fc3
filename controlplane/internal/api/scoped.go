package api

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/portcullis/portcullis/controlplane/internal/store"
	"github.com/portcullis/portcullis/shared/model"
	"github.com/portcullis/portcullis/shared/policy"
)

// scopedKind is the one generic CRUD for the resources stored as a JSON spec
// (store.Record): tools, access rules, policies, hooks, masking rules, rate
// limits, network rules. Each
// exists globally (/v1/<collection>) and, when tenant is set, per tenant
// (/v1/tenants/:tenant/<collection>). T is the spec type from shared/model or
// shared/policy; the request body is exactly T.
type scopedKind[T any] struct {
	s          *server
	kind       store.Kind
	collection string // URL segment, e.g. "access-rules"
	tenant     bool   // also delegated to tenants
	listAccess access // who may list the global collection (the rest is platform-only)
	name       func(*T) string
	validate   func(*T, policy.ScopeKind) error
	// check runs inside the write's transaction, for rules that depend on
	// stored state (a referenced tool exists); nil: none.
	check func(ctx context.Context, tx store.Tx, tenantID string, v *T) error
}

// routeTable is implemented by every scopedKind instantiation.
type routeTable interface{ routes() []route }

// scopedKinds lists the spec-stored resource kinds.
func scopedKinds(s *server) []routeTable {
	return []routeTable{
		toolKind(s),
		&scopedKind[model.AccessRule]{
			s: s, kind: store.KindAccessRule, collection: "access-rules", tenant: true, listAccess: platformOnly,
			name:     func(r *model.AccessRule) string { return r.Name },
			validate: func(r *model.AccessRule, _ policy.ScopeKind) error { return r.Validate() },
		},
		&scopedKind[policy.Policy]{
			s: s, kind: store.KindPolicy, collection: "policies", tenant: true, listAccess: platformOnly,
			name:     func(p *policy.Policy) string { return p.Name },
			validate: func(p *policy.Policy, scope policy.ScopeKind) error { return p.Validate(scope) },
			check:    checkPolicyTools,
		},
		&scopedKind[model.Hook]{
			s: s, kind: store.KindHook, collection: "hooks", listAccess: platformOnly,
			name:     func(h *model.Hook) string { return h.Name },
			validate: func(h *model.Hook, _ policy.ScopeKind) error { return h.Validate() },
		},
		&scopedKind[model.MaskingRule]{
			s: s, kind: store.KindMaskingRule, collection: "masking-rules", tenant: true, listAccess: platformOnly,
			name:     func(m *model.MaskingRule) string { return m.Name },
			validate: func(m *model.MaskingRule, _ policy.ScopeKind) error { return m.Validate() },
		},
		&scopedKind[model.RateLimit]{
			s: s, kind: store.KindRateLimit, collection: "rate-limits", tenant: true, listAccess: platformOnly,
			name:     func(r *model.RateLimit) string { return r.Name },
			validate: func(r *model.RateLimit, _ policy.ScopeKind) error { return r.Validate() },
		},
		&scopedKind[model.NetworkRule]{
			s: s, kind: store.KindNetworkRule, collection: "network-rules", tenant: true, listAccess: platformOnly,
			name:     func(n *model.NetworkRule) string { return n.Name },
			validate: func(n *model.NetworkRule, _ policy.ScopeKind) error { return n.Validate() },
		},
	}
}

func (k *scopedKind[T]) routes() []route {
	g := "/v1/" + k.collection
	rs := []route{
		{http.MethodGet, g, k.listAccess, k.list, 0},
		{http.MethodPost, g, platformOnly, k.create, 0},
		{http.MethodGet, g + "/:id", platformOnly, k.get, 0},
		{http.MethodPut, g + "/:id", platformOnly, k.update, 0},
		{http.MethodDelete, g + "/:id", platformOnly, k.delete, 0},
	}
	if k.tenant {
		t := "/v1/tenants/:tenant/" + k.collection
		rs = append(rs,
			route{http.MethodGet, t, tenantAdmin, k.list, 0},
			route{http.MethodPost, t, tenantAdmin, k.create, 0},
			route{http.MethodGet, t + "/:id", tenantAdmin, k.get, 0},
			route{http.MethodPut, t + "/:id", tenantAdmin, k.update, 0},
			route{http.MethodDelete, t + "/:id", tenantAdmin, k.delete, 0},
		)
	}
	return rs
}

// scopeOf returns the tenant a request addresses ("" = global) and the policy
// scope kind that goes with it.
func scopeOf(c echo.Context) (string, policy.ScopeKind) {
	if t := c.Param("tenant"); t != "" {
		return t, policy.Tenant
	}
	return "", policy.Global
}

func (k *scopedKind[T]) list(c echo.Context) error {
	tenantID, _ := scopeOf(c)
	return listPage(k.s, c, listResources(k.kind, tenantID))
}

func (k *scopedKind[T]) get(c echo.Context) error {
	tenantID, _ := scopeOf(c)
	return k.s.getResource(c, k.kind, tenantID)
}

// decode reads, strictly decodes and validates the spec in the body, and
// returns it with its canonical JSON (what is stored).
func (k *scopedKind[T]) decode(c echo.Context) (*T, []byte, json.RawMessage, error) {
	body, err := readBody(c)
	if err != nil {
		return nil, nil, nil, err
	}
	v := new(T)
	if err := decodeStrict(body, v); err != nil {
		return nil, nil, nil, err
	}
	_, scope := scopeOf(c)
	if err := validationProblem(k.validate(v, scope)); err != nil {
		return nil, nil, nil, err
	}
	spec, err := json.Marshal(v)
	if err != nil {
		return nil, nil, nil, err
	}
	return v, body, spec, nil
}

// checkWrite runs the in-transaction checks of a create or update.
func (k *scopedKind[T]) checkWrite(ctx context.Context, tx store.Tx, tenantID string, v *T) error {
	if tenantID != "" {
		if err := requireDelegation(ctx, tx, tenantID); err != nil {
			return err
		}
	}
	if k.check != nil {
		return k.check(ctx, tx, tenantID, v)
	}
	return nil
}

func (k *scopedKind[T]) create(c echo.Context) error {
	tenantID, _ := scopeOf(c)
	v, body, spec, err := k.decode(c)
	if err != nil {
		return err
	}
	return k.writeRecord(c, body, tenantID, v, func(ctx context.Context, tx store.Tx) (store.Record, error) {
		return tx.CreateResource(ctx, k.kind, tenantID, k.name(v), spec)
	}, func(rec store.Record, out json.RawMessage) reply {
		return reply{status: http.StatusCreated, body: out, location: strings.TrimSuffix(c.Request().URL.Path, "/") + "/" + rec.ID}
	})
}

// writeRecord stores v with save, in one write after checkWrite, and
// answers what answer makes of the stored record and its representation.
func (k *scopedKind[T]) writeRecord(c echo.Context, body []byte, tenantID string, v *T,
	save func(ctx context.Context, tx store.Tx) (store.Record, error), answer func(store.Record, json.RawMessage) reply,
) error {
	return k.s.write(c, body, func(tx store.Tx) (reply, error) {
		ctx := c.Request().Context()
		if err := k.checkWrite(ctx, tx, tenantID, v); err != nil {
			return reply{}, err
		}
		rec, err := save(ctx, tx)
		if err != nil {
			return reply{}, nameConflict(err, k.name(v))
		}
		out, err := representation(rec)
		if err != nil {
			return reply{}, err
		}
		return answer(rec, out), nil
	})
}

func (k *scopedKind[T]) update(c echo.Context) error {
	tenantID, _ := scopeOf(c)
	id, rev, err := writeTarget(c)
	if err != nil {
		return err
	}
	v, body, spec, err := k.decode(c)
	if err != nil {
		return err
	}
	return k.writeRecord(c, body, tenantID, v, func(ctx context.Context, tx store.Tx) (store.Record, error) {
		return tx.UpdateResource(ctx, k.kind, tenantID, id, k.name(v), spec, rev)
	}, func(_ store.Record, out json.RawMessage) reply { return reply{status: http.StatusOK, body: out} })
}

func (k *scopedKind[T]) delete(c echo.Context) error {
	tenantID, _ := scopeOf(c)
	id, rev, err := writeTarget(c)
	if err != nil {
		return err
	}
	return k.s.write(c, nil, func(tx store.Tx) (reply, error) {
		ctx := c.Request().Context()
		// Removing a tenant's narrowing rule widens its access, so a tenant
		// admin needs delegation for deletes too; a platform admin may always
		// clean up.
		if tenantID != "" && !callerOf(c).platform {
			if err := requireDelegation(ctx, tx, tenantID); err != nil {
				return reply{}, err
			}
		}
		if err := tx.DeleteResource(ctx, k.kind, tenantID, id, rev); err != nil {
			return reply{}, err
		}
		return reply{status: http.StatusNoContent}, nil
	})
}

// nameConflict explains a unique violation on create or update.
func nameConflict(err error, name string) error {
	if errors.Is(err, store.ErrConflict) {
		return &Error{Code: CodeConflict, Detail: "a resource named " + quote(name) + " already exists in this scope",
			Fields: []model.FieldError{{Field: "name", Message: "already exists"}}, cause: err}
	}
	return err
}

// requireDelegation checks that a tenant exists and has delegation enabled,
// the precondition of every write to its delegated resources.
func requireDelegation(ctx context.Context, tx store.Tx, tenantID string) error {
	t, err := tx.GetTenant(ctx, tenantID)
	if errors.Is(err, store.ErrNotFound) {
		return problemf(CodeNotFound, "tenant %s does not exist", quote(tenantID))
	}
	if err != nil {
		return err
	}
	if !t.DelegationEnabled {
		return problemf(CodeDelegationDisabled, "delegation is not enabled for tenant %s", quote(tenantID))
	}
	return nil
}

// checkPolicyTools refuses a tenant policy naming a tool that does not exist:
// a tenant may only restrict the platform's existing tools, and a typo would
// otherwise silently restrict nothing. Glob patterns are left to the merge.
func checkPolicyTools(ctx context.Context, tx store.Tx, tenantID string, p *policy.Policy) error {
	if tenantID == "" {
		return nil
	}
	names, err := toolNames(ctx, tx)
	if err != nil {
		return err
	}
	var probs model.Problems
	for i, t := range p.Tools {
		if isGlob(t) {
			continue
		}
		if _, ok := names[t]; !ok {
			probs.Add(fieldIndex("tools", i), "no tool named %s exists", quote(t))
		}
	}
	return validationProblem(probs.Err())
}

// toolNames returns the names of every tool.
func toolNames(ctx context.Context, tx store.Tx) (map[string]struct{}, error) {
	recs, err := allRecords(ctx, tx, store.KindTool, "")
	if err != nil {
		return nil, err
	}
	names := make(map[string]struct{}, len(recs))
	for _, r := range recs {
		names[r.Name] = struct{}{}
	}
	return names, nil
}

// allRecords reads every record of a kind in one scope, page by page.
func allRecords(ctx context.Context, tx store.Tx, kind store.Kind, tenantID string) ([]store.Record, error) {
	var all []store.Record
	p := store.Page{Limit: 500}
	for {
		recs, next, err := tx.ListResources(ctx, kind, tenantID, p)
		if err != nil {
			return nil, err
		}
		all = append(all, recs...)
		if next == "" || len(recs) == 0 {
			return all, nil
		}
		p.Cursor = next
	}
}

// isGlob reports whether a tool reference is a pattern rather than a name.
func isGlob(s string) bool { return strings.ContainsAny(s, "*?[") }
