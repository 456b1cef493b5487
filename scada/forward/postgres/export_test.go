package postgres

import "context"

// Migrations exposes the migration list to the tests of package postgres_test.
var Migrations = migrations

// QueryRowForTest runs sql on the historian's pool and scans its one row.
func (h *Historian) QueryRowForTest(ctx context.Context, sql string, dest ...any) error {
	return h.pool.QueryRow(ctx, sql).Scan(dest...)
}
