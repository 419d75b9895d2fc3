// Package migrations holds the control plane's Postgres schema as embedded
// golang-migrate files and applies them. The files are the schema's only
// definition: the control plane runs Up at start-up, tests run Up on a fresh
// database. Row-level security (000003_rls.up.sql) is part of the schema, so a
// database migrated by anything else than these files is not a Portcullis
// database.
package migrations

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"net/url"
	"strings"

	"github.com/golang-migrate/migrate/v4"
	// Registers the "pgx5" database driver.
	_ "github.com/golang-migrate/migrate/v4/database/pgx/v5"
	"github.com/golang-migrate/migrate/v4/source/iofs"
)

//go:embed *.sql
var files embed.FS

// ErrDirty is returned when a previous migration failed halfway and left the
// schema_migrations table marked dirty. Nothing is applied until an operator
// repairs the schema by hand and forces the version (migrate force <v>).
var ErrDirty = errors.New("migrations: database is in a dirty state")

// Up applies every migration not yet applied. It is safe to call from several
// processes at once: golang-migrate serialises them with an advisory lock.
func Up(ctx context.Context, dsn string) error {
	return run(ctx, dsn, "up", (*migrate.Migrate).Up)
}

// Down reverts every migration. Tests use it; production never does.
func Down(ctx context.Context, dsn string) error {
	return run(ctx, dsn, "down", (*migrate.Migrate).Down)
}

// run opens a migrator and runs step, honouring ctx: golang-migrate has no
// context support, so on cancellation it is asked to stop after the migration in
// progress (each migration file runs in one transaction, so stopping between
// files never leaves a half-applied file) and run returns ctx.Err() at once.
func run(ctx context.Context, dsn, name string, step func(*migrate.Migrate) error) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("migrations: %s: %w", name, err)
	}
	driverURL, err := driverDSN(dsn)
	if err != nil {
		return err
	}
	src, err := iofs.New(files, ".")
	if err != nil {
		return fmt.Errorf("migrations: open embedded files: %w", err)
	}
	done := make(chan error, 1)
	stop := make(chan bool, 1)
	go func() {
		m, err := migrate.NewWithSourceInstance("iofs", src, driverURL)
		if err != nil {
			done <- fmt.Errorf("migrations: connect: %w", err)
			return
		}
		m.GracefulStop = stop
		err = step(m)
		srcErr, dbErr := m.Close()
		done <- errors.Join(err, srcErr, dbErr)
	}()
	select {
	case err := <-done:
		return describe(name, err)
	case <-ctx.Done():
		stop <- true
		return fmt.Errorf("migrations: %s: %w", name, ctx.Err())
	}
}

func describe(name string, err error) error {
	var dirty migrate.ErrDirty
	switch {
	case err == nil, errors.Is(err, migrate.ErrNoChange):
		return nil
	case errors.As(err, &dirty):
		return fmt.Errorf("%w at version %d: a migration failed halfway; repair the schema by hand, "+
			"then run `migrate force %d` (the last version that applied cleanly) and retry", ErrDirty, dirty.Version, dirty.Version-1)
	default:
		return fmt.Errorf("migrations: %s: %w", name, err)
	}
}

// driverDSN turns a postgres:// (or postgresql://) URL into the pgx5:// URL the
// golang-migrate driver registers under.
func driverDSN(dsn string) (string, error) {
	u, err := url.Parse(dsn)
	if err != nil {
		return "", fmt.Errorf("migrations: database URL does not parse") // the URL may hold a password: do not echo it
	}
	switch strings.ToLower(u.Scheme) {
	case "postgres", "postgresql", "pgx5":
		u.Scheme = "pgx5"
		return u.String(), nil
	default:
		return "", fmt.Errorf("migrations: database URL must be postgres://, got scheme %q", u.Scheme)
	}
}
