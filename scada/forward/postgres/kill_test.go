//go:build unix

package postgres_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/greenlang/gl001/scada"
	"github.com/greenlang/gl001/scada/buffer"
	"github.com/greenlang/gl001/scada/forward/postgres"
)

// Environment of the forwarding child process (this test binary again).
const (
	killChildEnv  = "GL001_PG_KILL_BUFFER_DIR"
	killDSNEnv    = "GL001_PG_KILL_DSN"
	killSchemaEnv = "GL001_PG_KILL_SCHEMA"
	killApp       = "gl001-kill-child"
)

// killChild forwards the disk Buffer named by the environment into the
// historian until it is killed (or, should nothing kill it, to the end).
func killChild() int {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	buf, err := buffer.OpenDisk(buffer.DiskConfig{Dir: os.Getenv(killChildEnv), MaxAge: -1})
	if err != nil {
		fmt.Fprintln(os.Stderr, "child:", err)
		return 2
	}
	defer buf.Close()
	h, err := postgres.New(ctx, postgres.Config{DSN: os.Getenv(killDSNEnv), Schema: os.Getenv(killSchemaEnv)})
	if err != nil {
		fmt.Fprintln(os.Stderr, "child:", err)
		return 2
	}
	defer h.Close()
	if err := drive(ctx, buf, h, "edge-k", "historian", 20000, nil); err != nil {
		fmt.Fprintln(os.Stderr, "child:", err)
		return 2
	}
	return 0
}

// TestSIGKILLMidTransaction kills the forwarding process three times while
// its transaction is open: once while its COPY waits for a lock (nothing
// sent yet), once while the COPY streams rows, once while COMMIT waits for
// a synchronous standby (committed on the server, never acknowledged to the
// client). After each kill a new process resumes; at the end every
// buffered point is stored exactly once.
func TestSIGKILLMidTransaction(t *testing.T) {
	c := newCluster(t)
	ctx := testCtx(t)
	schema := "kill"
	dir := t.TempDir()
	buf, err := buffer.OpenDisk(buffer.DiskConfig{Dir: dir, MaxAge: -1})
	if err != nil {
		t.Fatal(err)
	}
	ps := genPoints(0, 240000, 50)
	for i := 0; i < len(ps); i += 10000 {
		if _, err := buf.Append(ctx, ps[i:i+10000]); err != nil {
			t.Fatal(err)
		}
	}
	if err := buf.Close(); err != nil {
		t.Fatal(err)
	}
	// Create the schema and the partition up front, so round 0 can lock it.
	h0, err := postgres.New(ctx, postgres.Config{DSN: c.superDSN(), Schema: schema})
	if err != nil {
		t.Fatal(err)
	}
	h0.Close()
	c.exec(t, fmt.Sprintf("CREATE TABLE %s.points_p%s PARTITION OF %s.points FOR VALUES FROM ('%s') TO ('%s')",
		schema, t0.Format("20060102"), schema, t0.Truncate(24*time.Hour).Format(time.RFC3339), t0.Truncate(24*time.Hour).AddDate(0, 0, 1).Format(time.RFC3339)))
	c.exec(t, fmt.Sprintf("CREATE TABLE %s.points_p%s PARTITION OF %s.points FOR VALUES FROM ('%s') TO ('%s')",
		schema, t0.AddDate(0, 0, 1).Format("20060102"), schema, t0.Truncate(24*time.Hour).AddDate(0, 0, 1).Format(time.RFC3339), t0.Truncate(24*time.Hour).AddDate(0, 0, 2).Format(time.RFC3339)))

	mon, err := pgx.Connect(ctx, c.superDSN())
	if err != nil {
		t.Fatal(err)
	}
	defer mon.Close(context.Background())
	// The lock is held on a connection of its own: pg_stat_activity read
	// inside a transaction would show the snapshot of its first read.
	locker, err := pgx.Connect(ctx, c.superDSN())
	if err != nil {
		t.Fatal(err)
	}
	defer locker.Close(context.Background())

	childDSN := c.superDSN() + " application_name=" + killApp
	for round, how := range []string{"lock", "copy", "syncrep"} {
		var lockTx pgx.Tx
		switch how {
		case "lock":
			// The child's COPY waits for this lock inside its transaction.
			if lockTx, err = locker.Begin(ctx); err != nil {
				t.Fatal(err)
			}
			if _, err := lockTx.Exec(ctx, fmt.Sprintf("LOCK TABLE %s.points_p%s IN SHARE MODE", schema, t0.Format("20060102"))); err != nil {
				t.Fatal(err)
			}
		case "syncrep":
			// Every COMMIT is written locally, then waits for a standby that
			// does not exist: the client never gets its acknowledgement.
			c.exec(t, "ALTER SYSTEM SET synchronous_standby_names = 'nobody'")
			c.exec(t, "SELECT pg_reload_conf()")
		}
		cmd := exec.Command(os.Args[0], "-test.run=^$", "-test.count=1")
		cmd.Env = append(os.Environ(), killChildEnv+"="+dir, killDSNEnv+"="+childDSN, killSchemaEnv+"="+schema)
		cmd.Stderr = os.Stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		exited := make(chan error, 1)
		go func() { exited <- cmd.Wait() }()

		// Wait for the event, then kill.
		q := map[string]string{
			"lock":    `SELECT count(*) FROM pg_stat_activity WHERE application_name = $1 AND wait_event_type = 'Lock' AND query ILIKE 'copy%'`,
			"copy":    `SELECT count(*) FROM pg_stat_progress_copy c JOIN pg_stat_activity a USING (pid) WHERE a.application_name = $1 AND c.tuples_processed > 0`,
			"syncrep": `SELECT count(*) FROM pg_stat_activity WHERE application_name = $1 AND wait_event = 'SyncRep' AND query ILIKE 'commit%'`,
		}[how]
		for {
			var n int
			if err := mon.QueryRow(ctx, q, killApp).Scan(&n); err != nil {
				t.Fatal(err)
			}
			if n > 0 {
				break
			}
			select {
			case err := <-exited:
				t.Fatalf("round %d (%s): the child ended before the event: %v", round, how, err)
			default:
			}
		}
		if err := syscall.Kill(cmd.Process.Pid, syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		err := <-exited
		if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
			t.Fatalf("child did not die of SIGKILL: %v", err)
		}
		switch how {
		case "lock":
			if err := lockTx.Rollback(ctx); err != nil {
				t.Fatal(err)
			}
		case "syncrep":
			c.exec(t, "ALTER SYSTEM RESET synchronous_standby_names")
			c.exec(t, "SELECT pg_reload_conf()")
		}
		// The killed client's server process ends once it notices; wait for
		// it so the next round starts clean.
		for {
			var n int
			if err := mon.QueryRow(ctx, `SELECT count(*) FROM pg_stat_activity WHERE application_name = $1`, killApp).Scan(&n); err != nil {
				t.Fatal(err)
			}
			if n == 0 {
				break
			}
			if how == "syncrep" {
				// A backend waiting for a standby does not look at its
				// socket; the reload released it, or end it here.
				if _, err := mon.Exec(ctx, `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1`, killApp); err != nil {
					t.Fatal(err)
				}
			}
			time.Sleep(10 * time.Millisecond)
		}
		var next int64
		err = mon.QueryRow(ctx, "SELECT coalesce(max(next), 0) FROM "+schema+".streams").Scan(&next)
		t.Logf("round %d (%s): killed; the historian holds the stream up to offset %d (%v)", round, how, next, err)
	}

	// A last forwarder finishes the job.
	buf, err = buffer.OpenDisk(buffer.DiskConfig{Dir: dir, MaxAge: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer buf.Close()
	h, err := postgres.New(ctx, postgres.Config{DSN: c.superDSN(), Schema: schema})
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	if err := drive(ctx, buf, h, "edge-k", "historian", 20000, nil); err != nil {
		t.Fatal(err)
	}
	// Compare with what the Buffer holds (its codec decides which fields
	// travel), and with what was appended where both agree.
	var held []scada.Point
	for b, err := range buf.Scan(ctx, 0) {
		if err != nil {
			t.Fatal(err)
		}
		held = append(held, b.Points...)
	}
	if len(held) != len(ps) {
		t.Fatalf("the buffer holds %d points, %d were appended", len(held), len(ps))
	}
	checkStored(t, h, held)
	if next, _, err := h.Resume(ctx, streamOf(buf, "edge-k")); err != nil || next != buffer.Offset(len(ps)) {
		t.Fatalf("Resume = %d, %v", next, err)
	}
}
