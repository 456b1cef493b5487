package postgres_test

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// requireEnv, when "1", makes a missing PostgreSQL a test failure instead of
// a skip. The CI tier .ci/interop/postgres.sh sets it.
const requireEnv = "GL001_REQUIRE_POSTGRES"

// binEnv may name the directory holding initdb, pg_ctl and postgres.
const binEnv = "GL001_POSTGRES_BIN"

// superPassword is the password of the throwaway cluster's superuser.
const superPassword = "s3cret-Sup3r-pw"

// cluster is a throwaway PostgreSQL server on a temporary directory and a
// free loopback port, run as the unprivileged user "postgres" when the test
// runs as root (initdb refuses root).
type cluster struct {
	bin  string
	dir  string // 0755 temp dir: data/, the socket, the log
	data string
	port int
	user string // the OS user the server runs as; "" = the test's own
}

func findBin() string {
	if d := os.Getenv(binEnv); d != "" {
		if _, err := os.Stat(filepath.Join(d, "initdb")); err != nil {
			return ""
		}
		return d
	}
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Slice(dirs, func(i, j int) bool { // newest major version first
		vi, _ := strconv.Atoi(filepath.Base(filepath.Dir(dirs[i])))
		vj, _ := strconv.Atoi(filepath.Base(filepath.Dir(dirs[j])))
		return vi > vj
	})
	for _, d := range dirs {
		if _, err := os.Stat(filepath.Join(d, "initdb")); err == nil {
			return d
		}
	}
	if p, err := exec.LookPath("initdb"); err == nil {
		return filepath.Dir(p)
	}
	return ""
}

// needPostgres skips (or fails, under GL001_REQUIRE_POSTGRES=1) when
// PostgreSQL's binaries are missing.
func needPostgres(t testing.TB) string {
	t.Helper()
	bin := findBin()
	if bin == "" {
		msg := "PostgreSQL binaries (initdb, pg_ctl) not found in /usr/lib/postgresql/*/bin, $" + binEnv + " or PATH; install Debian's postgresql package"
		if os.Getenv(requireEnv) == "1" {
			t.Fatal(msg + " (" + requireEnv + "=1 makes this a failure)")
		}
		t.Skip(msg + " (set " + requireEnv + "=1 to make this a failure)")
	}
	return bin
}

// newCluster initialises and starts a cluster, stopped and removed when tb
// ends.
func newCluster(tb testing.TB) *cluster {
	tb.Helper()
	c, err := startCluster(needPostgres(tb))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(c.destroy)
	return c
}

func startCluster(bin string) (*cluster, error) {
	dir, err := os.MkdirTemp("", "gl001pg")
	if err != nil {
		return nil, err
	}
	c := &cluster{bin: bin, dir: dir, data: filepath.Join(dir, "data")}
	if os.Geteuid() == 0 {
		c.user = "postgres"
	}
	if err := c.init(); err != nil {
		c.destroy()
		return nil, err
	}
	if err := c.start(); err != nil {
		c.destroy()
		return nil, err
	}
	return c, nil
}

// command runs a PostgreSQL program as the cluster's user.
func (c *cluster) command(name string, args ...string) *exec.Cmd {
	prog := filepath.Join(c.bin, name)
	var cmd *exec.Cmd
	if c.user != "" {
		cmd = exec.Command("runuser", append([]string{"-u", c.user, "--", prog}, args...)...)
	} else {
		cmd = exec.Command(prog, args...)
	}
	cmd.Dir = c.dir
	cmd.Env = append(os.Environ(), "LC_ALL=C.UTF-8")
	return cmd
}

func (c *cluster) run(name string, args ...string) error {
	out, err := c.command(name, args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return nil
}

func (c *cluster) init() error {
	if err := os.Chmod(c.dir, 0o755); err != nil {
		return err
	}
	pwfile := filepath.Join(c.dir, "pw")
	if err := os.WriteFile(pwfile, []byte(superPassword+"\n"), 0o644); err != nil {
		return err
	}
	if c.user != "" {
		if out, err := exec.Command("chown", c.user, c.dir).CombinedOutput(); err != nil {
			return fmt.Errorf("chown %s: %v: %s", c.dir, err, out)
		}
	}
	return c.run("initdb", "-D", c.data, "-U", "postgres", "-A", "scram-sha-256", "--pwfile", pwfile,
		"-E", "UTF8", "--locale", "C.UTF-8", "--no-sync", "--no-instructions")
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func (c *cluster) start() error {
	var err error
	for range 5 { // another process may take the free port before the server binds it
		if c.port == 0 {
			if c.port, err = freePort(); err != nil {
				return err
			}
		}
		opts := fmt.Sprintf("-p %d -c listen_addresses=127.0.0.1 -c unix_socket_directories=%s -c max_connections=50 -c fsync=on", c.port, c.dir)
		err = c.run("pg_ctl", "start", "-w", "-t", "120", "-D", c.data, "-l", filepath.Join(c.dir, "log"), "-o", opts)
		if err == nil {
			return nil
		}
		log, _ := os.ReadFile(filepath.Join(c.dir, "log"))
		if !strings.Contains(string(log), "could not bind") && !strings.Contains(string(log), "Address already in use") {
			return fmt.Errorf("%w\nserver log:\n%s", err, log)
		}
		c.port = 0
	}
	return err
}

// stop stops the server; mode is "fast" or "immediate" (a crash: no
// checkpoint, recovery on the next start).
func (c *cluster) stop(mode string) error {
	return c.run("pg_ctl", "stop", "-w", "-t", "120", "-D", c.data, "-m", mode)
}

func (c *cluster) destroy() {
	if _, err := os.Stat(filepath.Join(c.data, "postmaster.pid")); err == nil {
		_ = c.stop("immediate")
	}
	_ = os.RemoveAll(c.dir)
}

// dsn returns a keyword/value DSN for user and password on database db.
func (c *cluster) dsn(user, password, db string) string {
	return fmt.Sprintf("host=127.0.0.1 port=%d user=%s password='%s' dbname=%s sslmode=disable connect_timeout=10",
		c.port, user, password, db)
}

func (c *cluster) superDSN() string { return c.dsn("postgres", superPassword, "postgres") }

// exec runs SQL as the superuser.
func (c *cluster) exec(tb testing.TB, sql string, args ...any) {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	conn, err := pgx.Connect(ctx, c.superDSN())
	if err != nil {
		tb.Fatal(err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, sql, args...); err != nil {
		tb.Fatalf("%s: %v", sql, err)
	}
}

// shared is the cluster tests share, each in a schema of its own; tests
// that stop or break the server start their own.
var shared struct {
	once sync.Once
	c    *cluster
	err  error
}

func sharedCluster(tb testing.TB) *cluster {
	tb.Helper()
	bin := needPostgres(tb)
	shared.once.Do(func() { shared.c, shared.err = startCluster(bin) })
	if shared.err != nil {
		tb.Fatal(shared.err)
	}
	return shared.c
}

func stopShared() {
	if shared.c != nil {
		shared.c.destroy()
	}
}

// schemaName turns a test name into a schema name of its own.
func schemaName(tb testing.TB) string {
	var b strings.Builder
	b.WriteString("t_")
	for _, r := range strings.ToLower(tb.Name()) {
		if (r >= 'a' && r <= 'z') || (r >= '0' && r <= '9') {
			b.WriteRune(r)
		} else {
			b.WriteByte('_')
		}
	}
	s := b.String()
	if len(s) > 48 {
		s = s[:40] + fmt.Sprintf("%08x", hash(s))
	}
	return s
}

func hash(s string) uint32 {
	h := uint32(2166136261)
	for i := 0; i < len(s); i++ {
		h = (h ^ uint32(s[i])) * 16777619
	}
	return h
}
