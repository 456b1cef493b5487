package postgres

import (
	"strings"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"
)

// FuzzDSNKeys checks the scan of a DSN's keys, which decides whether a PG*
// variable would leak into it: it never panics, and whenever pgx reads a
// keyword/value DSN, the scan reads it too and finds every key pgx took
// from it (checked on the keys whose value pgx exposes).
func FuzzDSNKeys(f *testing.F) {
	for _, s := range []string{
		"host=localhost port=5432 user=u password='p w' dbname=d sslmode=disable",
		`password='it\'s' host=h`,
		"postgres://u:p@h1:5432,h2/d?sslmode=verify-full&application_name=x",
		"postgresql://h/d?user=u&password=p",
		"host = h  user=u\tdbname = 'a b'",
		"user=\\ x",
		"",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, dsn string) {
		keys, err := dsnKeys(dsn)
		if strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") {
			return // net/url and pgx disagree on odd URLs; the scan only has to not panic
		}
		cfg, perr := pgconn.ParseConfig(dsn)
		if perr != nil {
			return
		}
		if err != nil {
			t.Fatalf("pgx reads %q, the scan fails: %v", dsn, err)
		}
		// With no PG* variables set, a user pgx reports came from the DSN
		// or from the OS account; a database only from the DSN.
		if cfg.Database != "" && !keys["dbname"] {
			t.Fatalf("%q: pgx took dbname %q, the scan found keys %v", dsn, cfg.Database, keys)
		}
		if cfg.Password != "" && !keys["password"] {
			t.Fatalf("%q: pgx took a password, the scan found keys %v", dsn, keys)
		}
	})
}
