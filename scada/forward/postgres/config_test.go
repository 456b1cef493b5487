package postgres_test

import (
	"errors"
	"strconv"
	"strings"
	"testing"

	"github.com/greenlang/gl001/scada/forward/postgres"
)

func TestConfigValidate(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  postgres.Config
		want string // "" = valid
	}{
		{"ok", postgres.Config{DSN: "host=127.0.0.1 user=u password=p dbname=d sslmode=disable"}, ""},
		{"url ok", postgres.Config{DSN: "postgres://u:p@localhost:5432/d?sslmode=disable"}, ""},
		{"empty", postgres.Config{}, "DSN is empty"},
		{"bad schema", postgres.Config{DSN: "host=/tmp", Schema: "Robert'); DROP"}, "schema"},
		{"negative conns", postgres.Config{DSN: "host=/tmp", MaxConns: -1}, "MaxConns"},
		{"remote without tls", postgres.Config{DSN: "host=db.plant.example user=u password=p"}, "verify-full"},
		{"remote require", postgres.Config{DSN: "postgres://u:p@db.plant.example/d?sslmode=require"}, "verify-full"},
		{"remote verify-ca", postgres.Config{DSN: "host=db.plant.example sslmode=verify-ca"}, "verify-full"},
		{"remote verify-full", postgres.Config{DSN: "host=db.plant.example user=u sslmode=verify-full"}, ""},
		{"remote insecure on purpose", postgres.Config{DSN: "host=db.plant.example sslmode=disable", InsecureTLS: true}, ""},
		{"unparsable", postgres.Config{DSN: "host=x password='Secr3t-in-DSN"}, "does not parse"},
		{"unparsable url", postgres.Config{DSN: "postgres://u:Secr3t-in-DSN@h:notaport/d"}, "does not parse"},
	} {
		t.Run(strings.ReplaceAll(tc.name, " ", "_"), func(t *testing.T) {
			err := tc.cfg.Validate()
			if tc.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if !errors.Is(err, postgres.ErrConfig) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Validate = %v, want ErrConfig mentioning %q", err, tc.want)
			}
			if strings.Contains(err.Error(), "Secr3t") {
				t.Fatalf("the error shows the password: %v", err)
			}
		})
	}
}

// PG* variables do not leak into a DSN; FromEnv takes them on purpose.
func TestEnvironmentOnlyThroughFromEnv(t *testing.T) {
	t.Setenv("PGSSLMODE", "disable")
	t.Setenv("PGPASSWORD", "Env-pa55word")
	err := postgres.Config{DSN: "host=127.0.0.1 user=u"}.Validate()
	if !errors.Is(err, postgres.ErrConfig) || !strings.Contains(err.Error(), "PGPASSWORD, PGSSLMODE") || strings.Contains(err.Error(), "Env-pa55word") {
		t.Fatalf("Validate with PG* set = %v", err)
	}
	// Naming the keys in the DSN makes the variables irrelevant.
	if err := (postgres.Config{DSN: "postgres://u:p@127.0.0.1/d?sslmode=disable"}).Validate(); err != nil {
		t.Fatal(err)
	}
	if err := postgres.FromEnv("host=127.0.0.1").Validate(); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PGHOST", "db.plant.example")
	if err := postgres.FromEnv("").Validate(); !errors.Is(err, postgres.ErrConfig) || !strings.Contains(err.Error(), "db.plant.example") {
		t.Fatalf("FromEnv towards a remote host without TLS: %v", err)
	}
}

// FromEnv connects with what PG* says.
func TestFromEnvConnects(t *testing.T) {
	c := sharedCluster(t)
	ctx := testCtx(t)
	t.Setenv("PGHOST", "127.0.0.1")
	t.Setenv("PGPORT", strconv.Itoa(c.port))
	t.Setenv("PGUSER", "postgres")
	t.Setenv("PGPASSWORD", superPassword)
	t.Setenv("PGDATABASE", "postgres")
	t.Setenv("PGSSLMODE", "disable")
	cfg := postgres.FromEnv("")
	cfg.Schema = schemaName(t)
	t.Cleanup(func() { c.exec(t, "DROP SCHEMA IF EXISTS "+cfg.Schema+" CASCADE") })
	h, err := postgres.New(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := h.Close(); err != nil {
		t.Fatal(err)
	}
	if err := h.Close(); err == nil {
		t.Fatal("second Close returned nil")
	}
}
