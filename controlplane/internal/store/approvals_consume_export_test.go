package store

import (
	"context"

	"github.com/jackc/pgx/v5"
)

// ExpireApprovalForTest moves an approval's expiry into the past, so tests
// check expiry without waiting.
func ExpireApprovalForTest(ctx context.Context, s *Store, id string) error {
	return s.run(ctx, system, pgx.TxOptions{}, func(t *pgTx) error {
		_, err := t.tx.Exec(ctx, `UPDATE approvals SET expires_at = now() - interval '1 second' WHERE id = $1`, id)
		return mapErr(err)
	})
}
