package postgres

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"os"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Config configures a [Historian].
type Config struct {
	// DSN is the connection string, as a URL
	// ("postgres://user:pw@host:5432/db?sslmode=verify-full&sslrootcert=ca.pem")
	// or as keyword/value pairs ("host=... user=... sslmode=verify-full"),
	// parsed by pgx. Required unless the Config came from [FromEnv].
	//
	// PG* environment variables (PGHOST, PGPASSWORD, PGSSLMODE ...) are not
	// consulted: pgx would fill a key the DSN leaves out from them, so New
	// refuses a DSN that leaves out a key whose variable is set, naming the
	// variable (never its value). Name the key in the DSN, unset the variable,
	// or use FromEnv to take the connection from the environment on purpose.
	DSN string

	// Schema is the PostgreSQL schema holding the historian's tables; it is
	// created if missing. Default "historian".
	Schema string

	// MaxConns bounds the connections of the pool shared by Send and the
	// queries. Default 4.
	MaxConns int32

	// StatementTimeout bounds every statement (the server's
	// statement_timeout): a COPY stuck behind a lock or on a full disk fails
	// with [ErrTimeout] instead of hanging. Default 60s; negative means no
	// server-side limit (the caller's ctx still applies).
	StatementTimeout time.Duration

	// InsecureTLS allows TLS weaker than sslmode=verify-full (or none) towards
	// a host that is not a loopback address or a Unix socket. Without it New
	// refuses such a DSN with [ErrConfig]: a DSN without sslmode means
	// "prefer" to pgx, which silently falls back to plain text.
	InsecureTLS bool

	// Logger receives what the historian reports; nil discards. The password
	// never appears in what it logs.
	Logger *slog.Logger

	fromEnv bool
}

// FromEnv returns a Config that takes the connection from the PG*
// environment variables (PGHOST, PGPORT, PGDATABASE, PGUSER, PGPASSWORD,
// PGSSLMODE, PGSSLROOTCERT ...) as libpq does. dsn, which may be empty, adds
// to or overrides them.
func FromEnv(dsn string) Config {
	return Config{DSN: dsn, fromEnv: true}
}

const (
	defaultSchema           = "historian"
	defaultMaxConns         = 4
	defaultStatementTimeout = 60 * time.Second
)

var identRE = regexp.MustCompile(`^[a-z_][a-z0-9_]{0,47}$`)

// Validate reports every problem of c, joined. It does not connect.
func (c Config) Validate() error {
	var errs []error
	if c.DSN == "" && !c.fromEnv {
		errs = append(errs, fmt.Errorf("%w: DSN is empty (use FromEnv to read PG* variables)", ErrConfig))
	}
	if c.Schema != "" && !identRE.MatchString(c.Schema) {
		errs = append(errs, fmt.Errorf("%w: schema %q must be 1 to 48 lower-case letters, digits or _, not starting with a digit", ErrConfig, c.Schema))
	}
	if c.MaxConns < 0 {
		errs = append(errs, fmt.Errorf("%w: MaxConns %d is negative", ErrConfig, c.MaxConns))
	}
	if c.DSN != "" || c.fromEnv {
		if _, err := c.poolConfig(); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

func (c Config) withDefaults() Config {
	if c.Schema == "" {
		c.Schema = defaultSchema
	}
	if c.MaxConns == 0 {
		c.MaxConns = defaultMaxConns
	}
	if c.StatementTimeout == 0 {
		c.StatementTimeout = defaultStatementTimeout
	}
	return c
}

// envKeys maps the environment variables pgx reads to the DSN keys they fill.
var envKeys = map[string]string{
	"PGHOST": "host", "PGPORT": "port", "PGDATABASE": "dbname", "PGUSER": "user",
	"PGPASSWORD": "password", "PGPASSFILE": "passfile", "PGAPPNAME": "application_name",
	"PGCONNECT_TIMEOUT": "connect_timeout", "PGSSLMODE": "sslmode", "PGSSLKEY": "sslkey",
	"PGSSLCERT": "sslcert", "PGSSLCERTMODE": "sslcertmode", "PGSSLSNI": "sslsni",
	"PGSSLROOTCERT": "sslrootcert", "PGSSLPASSWORD": "sslpassword",
	"PGSSLNEGOTIATION": "sslnegotiation", "PGTARGETSESSIONATTRS": "target_session_attrs",
	"PGSERVICE": "service", "PGSERVICEFILE": "servicefile", "PGTZ": "timezone",
	"PGOPTIONS": "options", "PGMINPROTOCOLVERSION": "min_protocol_version",
	"PGMAXPROTOCOLVERSION": "max_protocol_version", "PGCHANNELBINDING": "channel_binding",
	"PGREQUIREAUTH": "require_auth",
}

// poolConfig parses the DSN. Its errors never contain the DSN's text.
func (c Config) poolConfig() (*pgxpool.Config, error) {
	if !c.fromEnv {
		keys, err := dsnKeys(c.DSN)
		if err != nil {
			return nil, fmt.Errorf("%w: DSN does not parse: %v (its text is not shown: it may hold a password)", ErrConfig, err)
		}
		var leaks []string
		for env, key := range envKeys {
			if v, ok := os.LookupEnv(env); ok && v != "" && !keys[key] {
				leaks = append(leaks, env)
			}
		}
		if len(leaks) > 0 {
			slices.Sort(leaks)
			return nil, fmt.Errorf("%w: %s set in the environment would fill what the DSN leaves out; name the key in the DSN, unset the variable, or use FromEnv", ErrConfig, strings.Join(leaks, ", "))
		}
	}
	pc, err := pgxpool.ParseConfig(c.DSN)
	if err != nil {
		var pce *pgconn.ParseConfigError
		msg := "invalid"
		if errors.As(err, &pce) {
			msg = pceMessage(pce)
		}
		return nil, fmt.Errorf("%w: DSN does not parse: %s (its text is not shown: it may hold a password)", ErrConfig, msg)
	}
	if !c.InsecureTLS {
		if err := checkTLS(pc.ConnConfig.Config); err != nil {
			return nil, err
		}
	}
	return pc, nil
}

// pceMessage keeps the reason of a parse error without the connection
// string pgx quotes in it.
func pceMessage(e *pgconn.ParseConfigError) string {
	s := e.Error()
	if i := strings.LastIndex(s, "`: "); i >= 0 {
		return s[i+3:]
	}
	return "invalid"
}

// checkTLS refuses plain text or unverified TLS towards a remote host.
func checkTLS(cfg pgconn.Config) error {
	check := func(host string, tls bool, verified bool) error {
		if isLocal(host) || (tls && verified) {
			return nil
		}
		return fmt.Errorf("%w: host %s is reached without TLS verify-full; set sslmode=verify-full (with sslrootcert) in the DSN, or InsecureTLS to accept it", ErrConfig, host)
	}
	if err := check(cfg.Host, cfg.TLSConfig != nil, cfg.TLSConfig != nil && !cfg.TLSConfig.InsecureSkipVerify); err != nil {
		return err
	}
	for _, fb := range cfg.Fallbacks {
		if err := check(fb.Host, fb.TLSConfig != nil, fb.TLSConfig != nil && !fb.TLSConfig.InsecureSkipVerify); err != nil {
			return err
		}
	}
	return nil
}

func isLocal(host string) bool {
	if strings.HasPrefix(host, "/") || host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// dsnKeys returns the keys a connection string names, in the libpq
// spelling (dbname, not database).
func dsnKeys(dsn string) (map[string]bool, error) {
	keys := map[string]bool{}
	if strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") {
		u, err := url.Parse(dsn)
		if err != nil {
			return nil, errors.New("not a valid URL")
		}
		if u.User != nil {
			if u.User.Username() != "" {
				keys["user"] = true
			}
			if _, ok := u.User.Password(); ok {
				keys["password"] = true
			}
		}
		if u.Host != "" {
			keys["host"] = true
			hostsHavePort := true
			for h := range strings.SplitSeq(u.Host, ",") {
				if _, _, err := net.SplitHostPort(h); err != nil {
					hostsHavePort = false
				}
			}
			if hostsHavePort {
				keys["port"] = true
			}
		}
		if strings.TrimPrefix(u.Path, "/") != "" {
			keys["dbname"] = true
		}
		for k := range u.Query() {
			keys[canonicalKey(k)] = true
		}
		if keys["ssl"] {
			keys["sslmode"] = true
		}
		return keys, nil
	}
	s := dsn
	for {
		s = strings.TrimLeft(s, " \t\n\r\v\f")
		if s == "" {
			return keys, nil
		}
		eq := strings.IndexByte(s, '=')
		if eq <= 0 {
			return nil, errors.New("keyword without =")
		}
		key := strings.TrimRight(s[:eq], " \t\n\r\v\f")
		if strings.ContainsAny(key, " \t\n\r\v\f") {
			return nil, errors.New("keyword with a space")
		}
		keys[canonicalKey(key)] = true
		s = strings.TrimLeft(s[eq+1:], " \t\n\r\v\f")
		if strings.HasPrefix(s, "'") {
			i := 1
			for ; i < len(s); i++ {
				if s[i] == '\\' {
					i++
					continue
				}
				if s[i] == '\'' {
					break
				}
			}
			if i >= len(s) {
				return nil, errors.New("unterminated quoted value")
			}
			s = s[i+1:]
			continue
		}
		i := 0
		for ; i < len(s) && !strings.ContainsRune(" \t\n\r\v\f", rune(s[i])); i++ {
			if s[i] == '\\' {
				i++
			}
		}
		s = s[min(i, len(s)):]
	}
}

func canonicalKey(k string) string {
	if k == "database" {
		return "dbname"
	}
	return k
}
