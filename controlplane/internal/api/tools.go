package api

import (
	"context"
	"errors"

	"github.com/portcullis/portcullis/controlplane/internal/store"
	"github.com/portcullis/portcullis/shared/model"
	"github.com/portcullis/portcullis/shared/policy"
)

// toolKind is the CRUD of tools: platform-wide, written by platform admins,
// listed by every admin (a tenant admin writes rules and policies about them).
func toolKind(s *server) *scopedKind[model.Tool] {
	return &scopedKind[model.Tool]{
		s: s, kind: store.KindTool, collection: "tools", listAccess: anyAdmin,
		name:     func(t *model.Tool) string { return t.Name },
		validate: func(t *model.Tool, _ policy.ScopeKind) error { return t.Validate() },
		check:    checkToolSource,
	}
}

// checkToolSource refuses a tool that points at a tool source that does not
// exist (it would outlive nothing and be deleted with nothing).
func checkToolSource(ctx context.Context, tx store.Tx, _ string, t *model.Tool) error {
	if t.SourceID == "" {
		return nil
	}
	if !uuidPattern.MatchString(t.SourceID) {
		return fieldProblem(CodeValidationFailed, "source_id", "must be the id of a tool source")
	}
	_, err := tx.GetResource(ctx, store.KindToolSource, "", t.SourceID)
	if errors.Is(err, store.ErrNotFound) {
		return fieldProblem(CodeValidationFailed, "source_id", "no tool source with this id exists")
	}
	return err
}
