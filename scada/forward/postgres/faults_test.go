package postgres_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/greenlang/gl001/scada"
	"github.com/greenlang/gl001/scada/buffer"
	"github.com/greenlang/gl001/scada/forward/postgres"
)

// memBuffer returns a memory Buffer holding ps.
func memBuffer(t testing.TB, ps []scada.Point) *buffer.Memory {
	t.Helper()
	buf, err := buffer.NewMemory(buffer.MemoryConfig{MaxAge: -1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { buf.Close() })
	for i := 0; i < len(ps); i += 10000 {
		if _, err := buf.Append(context.Background(), ps[i:min(i+10000, len(ps))]); err != nil {
			t.Fatal(err)
		}
	}
	return buf
}

// TestImmediateStopMidCopy crashes the server (pg_ctl stop -m immediate)
// while a COPY streams rows, starts it again, and lets the forwarder
// finish: nothing lost, nothing doubled.
func TestImmediateStopMidCopy(t *testing.T) {
	c := newCluster(t)
	ctx := testCtx(t)
	h, _ := openHistorian(t, c, func(cfg *postgres.Config) { cfg.DSN += " application_name=gl001-crash" })
	ps := genPoints(0, 300000, 40)
	buf := memBuffer(t, ps)

	mon, err := pgx.Connect(ctx, c.superDSN())
	if err != nil {
		t.Fatal(err)
	}
	errc := make(chan error, 1)
	go func() { errc <- drive(ctx, buf, h, "edge-c", "historian", 25000, nil) }()
	for {
		var n int
		if err := mon.QueryRow(ctx, `SELECT count(*) FROM pg_stat_progress_copy c JOIN pg_stat_activity a USING (pid)
			WHERE a.application_name = 'gl001-crash' AND c.tuples_processed > 0`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n > 0 {
			break
		}
		select {
		case err := <-errc:
			t.Fatalf("the forwarder finished before the crash: %v", err)
		default:
		}
	}
	mon.Close(ctx)
	if err := c.stop("immediate"); err != nil {
		t.Fatal(err)
	}
	err = <-errc
	if !errors.Is(err, postgres.ErrConnection) || !errors.Is(err, scada.ErrConnection) {
		t.Fatalf("Send during the crash: %v, want ErrConnection", err)
	}
	behind := lag(buf, "historian")
	t.Logf("crash mid-COPY: %v; the buffer keeps %d points for the historian", err, behind)
	if behind == 0 {
		t.Fatal("the buffer has nothing left to send after a failed Send")
	}
	// While the server is down the forwarder keeps failing, and keeps the points.
	if err := drive(ctx, buf, h, "edge-c", "historian", 25000, nil); !errors.Is(err, postgres.ErrConnection) {
		t.Fatalf("Send with the server down: %v", err)
	}
	if err := c.start(); err != nil {
		t.Fatal(err)
	}
	if err := drive(ctx, buf, h, "edge-c", "historian", 25000, nil); err != nil {
		t.Fatal(err)
	}
	checkStored(t, h, ps)
}

// TestAlteredTable: a column dropped or a type changed by hand gives an
// error naming the table and column; the Buffer keeps the points; the
// forwarder goes on once the table is repaired.
func TestAlteredTable(t *testing.T) {
	c := sharedCluster(t)
	ctx := testCtx(t)
	h, cfg := openHistorian(t, c, nil)
	ps := genPoints(0, 3000, 5)
	buf := memBuffer(t, ps[:1000])
	if err := drive(ctx, buf, h, "e", "historian", 500, nil); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, breakSQL, repairSQL, want string
	}{
		{"drop column", "ALTER TABLE {s}.points DROP COLUMN score", "ALTER TABLE {s}.points ADD COLUMN score smallint", "score"},
		{"change type", "ALTER TABLE {s}.points ALTER COLUMN value TYPE text", "ALTER TABLE {s}.points ALTER COLUMN value TYPE double precision USING value::double precision", "value"},
		{"drop table", "ALTER TABLE {s}.streams RENAME TO streams_x", "ALTER TABLE {s}.streams_x RENAME TO streams", "streams"},
	} {
		t.Run(strings.ReplaceAll(tc.name, " ", "_"), func(t *testing.T) {
			c.exec(t, strings.ReplaceAll(tc.breakSQL, "{s}", cfg.Schema))
			i := int(buf.Stats().Next)
			if _, err := buf.Append(ctx, ps[i:i+500]); err != nil {
				t.Fatal(err)
			}
			before := lag(buf, "historian")
			err := drive(ctx, buf, h, "e", "historian", 500, nil)
			if !errors.Is(err, postgres.ErrSchema) || !errors.Is(err, scada.ErrPermanent) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Send on a broken table: %v; want ErrSchema naming %q", err, tc.want)
			}
			var pe *postgres.Error
			if !errors.As(err, &pe) || !strings.Contains(pe.Table, cfg.Schema) {
				t.Fatalf("error %#v does not name the table", err)
			}
			if got := lag(buf, "historian"); got != before {
				t.Fatalf("the buffer's lag went from %d to %d on failure", before, got)
			}
			if !strings.Contains(h.Stats().LastError, tc.want) {
				t.Fatalf("Stats.LastError = %q", h.Stats().LastError)
			}
			c.exec(t, strings.ReplaceAll(tc.repairSQL, "{s}", cfg.Schema))
			if err := drive(ctx, buf, h, "e", "historian", 500, nil); err != nil {
				t.Fatalf("after repair: %v", err)
			}
		})
	}
	// Dropping the column dropped the scores stored before.
	want := slices.Clone(ps[:buf.Stats().Next])
	for i := range 1000 {
		want[i].Scored, want[i].Score = false, 0
	}
	checkStored(t, h, want)
}

// TestStatementTimeout: a COPY stuck behind a lock (as on a disk that
// stopped taking writes) fails with ErrTimeout after the statement timeout
// and commits nothing; once the lock goes the points go through.
func TestStatementTimeout(t *testing.T) {
	c := sharedCluster(t)
	ctx := testCtx(t)
	h, cfg := openHistorian(t, c, func(cfg *postgres.Config) { cfg.StatementTimeout = 300 * time.Millisecond })
	ps := genPoints(0, 2000, 4)
	buf := memBuffer(t, ps)
	if err := drive(ctx, buf, h, "e", "historian", 1000, nil); err != nil {
		t.Fatal(err)
	}
	more := genPoints(2000, 1000, 4)
	if _, err := buf.Append(ctx, more); err != nil {
		t.Fatal(err)
	}
	locker, err := pgx.Connect(ctx, c.superDSN())
	if err != nil {
		t.Fatal(err)
	}
	defer locker.Close(context.Background())
	tx, err := locker.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(ctx, "LOCK TABLE "+cfg.Schema+".points IN EXCLUSIVE MODE"); err != nil {
		t.Fatal(err)
	}
	err = drive(ctx, buf, h, "e", "historian", 1000, nil)
	if !errors.Is(err, postgres.ErrTimeout) {
		t.Fatalf("Send behind a lock: %v, want ErrTimeout", err)
	}
	if got := lag(buf, "historian"); got != 1000 {
		t.Fatalf("lag %d after the timeout, want 1000", got)
	}
	if err := tx.Rollback(ctx); err != nil {
		t.Fatal(err)
	}
	if err := drive(ctx, buf, h, "e", "historian", 1000, nil); err != nil {
		t.Fatal(err)
	}
	checkStored(t, h, append(ps, more...))
}

// syncBuffer is a bytes.Buffer safe for a logger's concurrent writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestWrongPassword: a password the server refuses gives ErrAuth, never
// shows the password (in the error, the log or Stats), keeps the points
// in the Buffer, and the forwarder recovers once the password is right
// again.
func TestWrongPassword(t *testing.T) {
	c := sharedCluster(t)
	ctx := testCtx(t)
	const role, good, bad = "historian_pw", "Corr3ct-h0rse-pw", "Wr0ng-battery-pw"
	dropRole := "DO $$ BEGIN IF EXISTS (SELECT FROM pg_roles WHERE rolname = '" + role + "') THEN " +
		"EXECUTE 'DROP OWNED BY " + role + " CASCADE'; EXECUTE 'DROP ROLE " + role + "'; END IF; END $$"
	c.exec(t, dropRole)
	c.exec(t, fmt.Sprintf("CREATE ROLE %s LOGIN PASSWORD '%s'; GRANT CREATE ON DATABASE postgres TO %s", role, good, role))
	t.Cleanup(func() {
		c.exec(t, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = '"+role+"'")
		c.exec(t, dropRole)
	})
	var logs syncBuffer
	logger := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))

	// New with a wrong password.
	_, err := postgres.New(ctx, postgres.Config{DSN: c.dsn(role, bad, "postgres"), Schema: "pw", Logger: logger})
	if !errors.Is(err, postgres.ErrAuth) || !errors.Is(err, scada.ErrPermanent) {
		t.Fatalf("New with a wrong password: %v, want ErrAuth", err)
	}
	if strings.Contains(err.Error(), bad) || strings.Contains(fmt.Sprintf("%+v %#v", err, err), bad) {
		t.Fatalf("the error shows the password: %v", err)
	}

	h, err := postgres.New(ctx, postgres.Config{DSN: c.dsn(role, good, "postgres"), Schema: "pw", Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	ps := genPoints(0, 2000, 3)
	buf := memBuffer(t, ps[:1000])
	if err := drive(ctx, buf, h, "e", "historian", 500, nil); err != nil {
		t.Fatal(err)
	}
	// The password changes on the server and the connections drop.
	c.exec(t, fmt.Sprintf("ALTER ROLE %s PASSWORD '%s'", role, "s0mething-else"))
	c.exec(t, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = '"+role+"'")
	if _, err := buf.Append(ctx, ps[1000:]); err != nil {
		t.Fatal(err)
	}
	// The first Send may see the dropped connection; then the refusal.
	var sendErr error
	for range 5 {
		sendErr = drive(ctx, buf, h, "e", "historian", 500, nil)
		if !errors.Is(sendErr, postgres.ErrConnection) {
			break
		}
	}
	if !errors.Is(sendErr, postgres.ErrAuth) {
		t.Fatalf("Send with a refused password: %v, want ErrAuth", sendErr)
	}
	if got := lag(buf, "historian"); got != 1000 {
		t.Fatalf("lag %d after the refusal, want 1000", got)
	}
	c.exec(t, fmt.Sprintf("ALTER ROLE %s PASSWORD '%s'", role, good))
	if err := drive(ctx, buf, h, "e", "historian", 500, nil); err != nil {
		t.Fatal(err)
	}
	checkStored(t, h, ps)
	for what, s := range map[string]string{"error": sendErr.Error(), "log": logs.String(), "stats": fmt.Sprintf("%+v", h.Stats())} {
		if strings.Contains(s, good) || strings.Contains(s, bad) {
			t.Fatalf("the %s shows a password: %s", what, s)
		}
	}
	if !strings.Contains(logs.String(), "password authentication failed") {
		t.Fatalf("the log does not say why Send failed:\n%s", logs.String())
	}
}
