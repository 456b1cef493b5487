package postgres_test

import (
	"errors"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/greenlang/gl001/scada/forward/postgres"
)

// diskFullEnv, when "1", makes a tmpfs that cannot be mounted a failure of
// TestDiskFull instead of a skip. The CI tier .ci/interop/postgres.sh sets
// it where it runs as root with the right to mount (it probes first: a
// container without CAP_SYS_ADMIN cannot mount even as root).
const diskFullEnv = "GL001_POSTGRES_DISKFULL"

// mountTiny mounts a tmpfs of size on dir, owned by the cluster's user, and
// unmounts it when the test ends (after stopping the cluster, which holds
// files on it).
func mountTiny(t *testing.T, c *cluster, dir, size string) {
	t.Helper()
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	uid, gid := os.Getuid(), os.Getgid()
	if c.user != "" {
		u, err := user.Lookup(c.user)
		if err != nil {
			t.Fatal(err)
		}
		if uid, err = strconv.Atoi(u.Uid); err != nil {
			t.Fatal(err)
		}
		if gid, err = strconv.Atoi(u.Gid); err != nil {
			t.Fatal(err)
		}
	}
	opts := "size=" + size + ",mode=0700,uid=" + strconv.Itoa(uid) + ",gid=" + strconv.Itoa(gid)
	out, err := exec.Command("mount", "-t", "tmpfs", "-o", opts, "tmpfs", dir).CombinedOutput()
	if err != nil {
		msg := "cannot mount a tmpfs to fill (needs root with CAP_SYS_ADMIN): " + strings.TrimSpace(string(out)) + ": " + err.Error()
		if os.Getenv(diskFullEnv) == "1" {
			t.Fatal(msg + " (" + diskFullEnv + "=1 makes this a failure)")
		}
		t.Skip(msg + " (set " + diskFullEnv + "=1 to make this a failure)")
	}
	t.Cleanup(func() {
		if _, err := os.Stat(filepath.Join(c.data, "postmaster.pid")); err == nil {
			_ = c.stop("immediate")
		}
		if out, err := exec.Command("umount", dir).CombinedOutput(); err != nil {
			t.Errorf("umount %s: %v: %s", dir, err, out)
		}
	})
}

// TestDiskFull: the points partitions live in a tablespace on a tmpfs of a
// few MB, which filler data fills up. Send fails with ErrStorage naming
// SQLSTATE 53100 (disk full), commits nothing and moves no stream position;
// the Buffer keeps the points; once the filler is dropped the forwarder
// stores every point exactly once.
func TestDiskFull(t *testing.T) {
	c := newCluster(t)
	ctx := testCtx(t)
	dir := filepath.Join(c.dir, "tiny")
	mountTiny(t, c, dir, "8m")
	c.exec(t, "CREATE TABLESPACE tiny LOCATION '"+dir+"'")
	h, cfg := openHistorian(t, c, nil)
	// New partitions (and their indexes) go to the tiny tablespace.
	c.exec(t, "ALTER TABLE "+cfg.Schema+".points SET TABLESPACE tiny")
	c.exec(t, "ALTER INDEX "+cfg.Schema+".points_tag_time SET TABLESPACE tiny")

	ps := genPoints(0, 60000, 50)
	buf := memBuffer(t, ps[:5000])
	if err := drive(ctx, buf, h, "e", "historian", 5000, nil); err != nil {
		t.Fatal(err)
	}
	var spc string
	if err := h.QueryRowForTest(ctx, `SELECT coalesce(t.spcname, '') FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
		LEFT JOIN pg_tablespace t ON t.oid = c.reltablespace WHERE n.nspname = '`+cfg.Schema+`' AND c.relname = 'points_p20260301'`, &spc); err != nil || spc != "tiny" {
		t.Fatalf("the day's partition is in tablespace %q (%v), want tiny", spc, err)
	}

	// Fill the tablespace. The INSERT fails when the disk is full; the pages
	// it extended the file with stay, full of dead rows (no autovacuum may
	// truncate them while the test expects a full disk).
	conn, err := pgx.Connect(ctx, c.superDSN())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "CREATE TABLE public.filler (pad text) WITH (autovacuum_enabled = false) TABLESPACE tiny"); err != nil {
		t.Fatal(err)
	}
	_, err = conn.Exec(ctx, "INSERT INTO public.filler SELECT repeat(md5(i::text), 40) FROM generate_series(1, 100000) i")
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) || pgErr.Code != "53100" {
		t.Fatalf("filling the tablespace: %v, want SQLSTATE 53100", err)
	}

	if _, err := buf.Append(ctx, ps[5000:]); err != nil {
		t.Fatal(err)
	}
	want := uint64(len(ps) - 5000)
	for range 2 { // it keeps failing, and keeps the points, while the disk is full
		err = drive(ctx, buf, h, "e", "historian", 5000, nil)
		var pe *postgres.Error
		if !errors.Is(err, postgres.ErrDiskFull) || !errors.Is(err, postgres.ErrStorage) || !errors.As(err, &pe) || pe.Code != "53100" ||
			pe.Table != cfg.Schema+".points_p20260301" || !strings.Contains(err.Error(), "disk full") {
			t.Fatalf("Send on a full disk: %v, want ErrDiskFull (and ErrStorage) with SQLSTATE 53100 naming the partition", err)
		}
		if errors.Is(err, postgres.ErrSchema) || errors.Is(err, postgres.ErrConnection) {
			t.Fatalf("Send on a full disk: %v matches another cause", err)
		}
		if got := lag(buf, "historian"); got != want {
			t.Fatalf("lag %d after the failure, want %d", got, want)
		}
		if next, found, err := h.Resume(ctx, streamOf(buf, "e")); err != nil || !found || next != 5000 {
			t.Fatalf("stream position after the failure: %d, %v, %v; want 5000", next, found, err)
		}
	}
	t.Logf("Send on a full disk: %v", err)
	if st := h.Stats(); !strings.Contains(st.LastError, "53100") {
		t.Fatalf("Stats.LastError = %q, want the SQLSTATE", st.LastError)
	}

	// Space comes back: the forwarder goes on, every point once.
	if _, err := conn.Exec(ctx, "DROP TABLE public.filler"); err != nil {
		t.Fatal(err)
	}
	if err := drive(ctx, buf, h, "e", "historian", 5000, nil); err != nil {
		t.Fatalf("after space came back: %v", err)
	}
	checkStored(t, h, ps)
}
