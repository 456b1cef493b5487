package opcua

import (
	"context"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	gopcua "github.com/gopcua/opcua"
	"github.com/gopcua/opcua/ua"

	"github.com/greenlang/gl001/scada"
)

// Source reads tags from one OPC UA server. It implements [scada.Source],
// [scada.Browser], [scada.Writer], [scada.Reader], [scada.HistoryReader]
// and [scada.ConditionAcker]; with Config.Events it reports events and alarms.
//
// Run holds one connection: it connects, creates the subscriptions (or polls),
// delivers points and returns when ctx ends or the connection fails. It does
// not reconnect by itself; scada.Collector calls Run again with backoff, and
// every Run builds a fresh session and fresh subscriptions.
type Source struct {
	cfg   Config
	index map[string]int // tag name -> index in cfg.Tags

	mu      sync.Mutex
	closed  bool
	running bool
	cancel  context.CancelFunc
	client  *gopcua.Client // the live client of the current Run, for Browse and Write

	stats     counters
	ev        eventCounters // events, history and backfill (events_session.go)
	last      []int64       // per tag, the newest point the Sink accepted, unix nanos (backfill.go)
	lastAsked bool          // Config.Backfill.Last was consulted (backfill.go)
}

type counters struct {
	connects, disconnects     atomic.Uint64
	points, badPoints         atomic.Uint64
	tagErrors, badInput       atomic.Uint64
	keepAlives, sequenceGaps  atomic.Uint64
	publishes                 atomic.Uint64
	lastData                  atomic.Int64 // unix nanos
	connected                 atomic.Bool
	subscriptions, monitored  atomic.Int64
	readLimit, monitoredLimit atomic.Int64
	historyLimit              atomic.Int64
}

// Stats is a snapshot of a Source's counters.
type Stats struct {
	Connected    bool      // a Run is connected now
	Connects     uint64    // sessions opened
	Disconnects  uint64    // sessions lost (not counting a clean stop)
	Points       uint64    // points delivered, all qualities
	BadPoints    uint64    // of which Bad
	TagErrors    uint64    // per-tag problems (unknown node, not readable, not numeric)
	BadInput     uint64    // values that could not be mapped (not numeric, unknown handle)
	Publishes    uint64    // publish responses with data
	KeepAlives   uint64    // publish responses without data
	SequenceGaps uint64    // publish sequence numbers the server skipped
	LastData     time.Time // when the last data or keep-alive arrived

	Subscriptions   int // subscriptions of the current session
	MonitoredItems  int // monitored items created successfully
	MaxNodesPerRead int // the server's operation limit as used (0 before connecting)
	MaxItemsPerCall int // the server's MaxMonitoredItemsPerCall as used
	// MaxNodesPerHistoryRead is the number of nodes one HistoryRead asks
	// for: Config.HistoryNodesPerRead, lowered by the server's limits (see
	// Source.HistoryTags); 0 before connecting.
	MaxNodesPerHistoryRead int
}

// New checks cfg and returns a Source. It reads the certificate and key files
// once to report problems early; they are read again on every connect, so a
// renewed certificate is picked up at the next reconnect.
func New(cfg Config) (*Source, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	cfg.Tags = append([]Tag(nil), cfg.Tags...)
	if _, err := loadCredentials(cfg); err != nil {
		return nil, err
	}
	s := &Source{cfg: cfg, index: make(map[string]int, len(cfg.Tags))}
	for i, t := range cfg.Tags {
		s.index[t.Name] = i
	}
	if cfg.Backfill.Enabled {
		s.last = make([]int64, len(cfg.Tags))
	}
	return s, nil
}

// Name returns the source name the points carry.
func (s *Source) Name() string { return s.cfg.Name }

// Stats returns a snapshot of the counters.
func (s *Source) Stats() Stats {
	st := Stats{
		Connected:       s.stats.connected.Load(),
		Connects:        s.stats.connects.Load(),
		Disconnects:     s.stats.disconnects.Load(),
		Points:          s.stats.points.Load(),
		BadPoints:       s.stats.badPoints.Load(),
		TagErrors:       s.stats.tagErrors.Load(),
		BadInput:        s.stats.badInput.Load(),
		Publishes:       s.stats.publishes.Load(),
		KeepAlives:      s.stats.keepAlives.Load(),
		SequenceGaps:    s.stats.sequenceGaps.Load(),
		Subscriptions:   int(s.stats.subscriptions.Load()),
		MonitoredItems:  int(s.stats.monitored.Load()),
		MaxNodesPerRead: int(s.stats.readLimit.Load()),
		MaxItemsPerCall: int(s.stats.monitoredLimit.Load()),

		MaxNodesPerHistoryRead: int(s.stats.historyLimit.Load()),
	}
	if n := s.stats.lastData.Load(); n != 0 {
		st.LastData = time.Unix(0, n)
	}
	return st
}

// Close stops a running Run (which then returns scada.ErrClosed) and makes
// later calls fail with scada.ErrClosed. Close is idempotent: later calls
// return scada.ErrClosed.
func (s *Source) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return scada.ErrClosed
	}
	s.closed = true
	if s.cancel != nil {
		s.cancel()
	}
	return nil
}

// Run connects, delivers points to sink until ctx ends or the connection
// fails, and returns the reason: ctx.Err() when ctx ended, an error matching
// scada.ErrConnection (a *ConnError) when the server, the channel, the session
// or the subscriptions failed, scada.ErrClosed after Close. A refusal that
// retrying cannot fix (credentials, certificates, no matching endpoint or
// policy, a configuration the server rejects) also matches
// scada.ErrPermanent, so a Collector shows it as such and retries slowly.
//
// When an established connection fails, every tag gets one point with
// quality BadNoCommunication before Run returns, so the gap is visible.
// Tags whose node is unknown or unreadable get Bad points of their own and a
// *TagError (Config.OnTagError); the other tags keep flowing.
func (s *Source) Run(ctx context.Context, sink scada.Sink) error {
	s.mu.Lock()
	switch {
	case s.closed:
		s.mu.Unlock()
		return scada.ErrClosed
	case s.running:
		s.mu.Unlock()
		return ErrRunning
	}
	s.running = true
	rctx, cancel := context.WithCancel(ctx)
	s.cancel = cancel
	s.mu.Unlock()
	defer func() {
		cancel()
		s.mu.Lock()
		s.running, s.cancel, s.client = false, nil, nil
		s.mu.Unlock()
	}()

	c, err := s.connect(rctx)
	if err != nil {
		return s.endErr(ctx, err)
	}
	s.stats.connects.Add(1)
	s.stats.connected.Store(true)
	s.mu.Lock()
	s.client = c
	s.mu.Unlock()
	s.cfg.Logger.Info("opcua: connected", "source", s.cfg.Name, "endpoint", s.cfg.Endpoint,
		"policy", string(s.cfg.SecurityPolicy), "mode", string(s.cfg.SecurityMode), "auth", s.cfg.Auth.String())

	sess := newSession(s, c, sink)
	err = sess.run(rctx)
	sess.close(ctx)
	s.stats.connected.Store(false)
	s.stats.subscriptions.Store(0)
	s.stats.monitored.Store(0)

	if ctx.Err() != nil || s.isClosed() {
		return s.endErr(ctx, err)
	}
	s.stats.disconnects.Add(1)
	s.cfg.Logger.Warn("opcua: connection lost", "source", s.cfg.Name, "endpoint", s.cfg.Endpoint, "err", err)
	sess.deliverNoCommunication(ctx)
	return err
}

func (s *Source) isClosed() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closed
}

// endErr is the error Run returns: ctx's when ctx ended, ErrClosed after
// Close, err otherwise.
func (s *Source) endErr(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if s.isClosed() {
		return scada.ErrClosed
	}
	return err
}

type credentials struct {
	cert    []byte // DER
	key     *rsa.PrivateKey
	trusted *x509.CertPool
}

// loadCredentials reads the files the configuration names.
func loadCredentials(cfg Config) (credentials, error) {
	var cr credentials
	var errs []error
	if cfg.CertFile != "" {
		b, err := os.ReadFile(cfg.CertFile)
		if err != nil {
			errs = append(errs, fmt.Errorf("opcua: client certificate: %w", err))
		} else if cr.cert, err = parseCert(b); err != nil {
			errs = append(errs, fmt.Errorf("opcua: client certificate %s: %w", cfg.CertFile, err))
		}
	}
	if cfg.KeyFile != "" {
		b, err := os.ReadFile(cfg.KeyFile)
		if err != nil {
			errs = append(errs, fmt.Errorf("opcua: client key: %w", err))
		} else if cr.key, err = parseKey(b); err != nil {
			// the key's content is never part of the message
			errs = append(errs, fmt.Errorf("opcua: client key %s: %w", cfg.KeyFile, err))
		}
	}
	if cfg.CAFile != "" {
		b, err := os.ReadFile(cfg.CAFile)
		if err != nil {
			errs = append(errs, fmt.Errorf("opcua: trusted certificates: %w", err))
		} else {
			cr.trusted = x509.NewCertPool()
			if !cr.trusted.AppendCertsFromPEM(b) {
				der, err := x509.ParseCertificate(b)
				if err != nil {
					errs = append(errs, fmt.Errorf("opcua: trusted certificates %s: no PEM or DER certificate", cfg.CAFile))
				} else {
					cr.trusted.AddCert(der)
				}
			}
		}
	}
	return cr, errors.Join(errs...)
}

func parseCert(b []byte) ([]byte, error) {
	if blk, _ := pem.Decode(b); blk != nil {
		if blk.Type != "CERTIFICATE" {
			return nil, fmt.Errorf("PEM block %q, want CERTIFICATE", blk.Type)
		}
		b = blk.Bytes
	}
	if _, err := x509.ParseCertificate(b); err != nil {
		return nil, err
	}
	return b, nil
}

func parseKey(b []byte) (*rsa.PrivateKey, error) {
	if blk, _ := pem.Decode(b); blk != nil {
		b = blk.Bytes
	}
	if k, err := x509.ParsePKCS1PrivateKey(b); err == nil {
		return k, nil
	}
	k, err := x509.ParsePKCS8PrivateKey(b)
	if err != nil {
		return nil, errors.New("not an RSA private key in PKCS#1 or PKCS#8")
	}
	rk, ok := k.(*rsa.PrivateKey)
	if !ok {
		return nil, errors.New("OPC UA security needs an RSA private key")
	}
	return rk, nil
}

// connect opens the secure channel and the session, with the endpoint the
// server offers for the configured policy, mode and user token, after
// verifying the server certificate against the trusted ones.
func (s *Source) connect(ctx context.Context) (*gopcua.Client, error) {
	cfg := s.cfg
	fail := func(op string, err error) error { return &ConnError{Endpoint: cfg.Endpoint, Op: op, Err: err} }
	cr, err := loadCredentials(cfg)
	if err != nil {
		return nil, err
	}
	dctx, cancel := context.WithTimeout(ctx, cfg.DialTimeout)
	defer cancel()

	eps, err := gopcua.GetEndpoints(dctx, cfg.Endpoint, gopcua.DialTimeout(cfg.DialTimeout), gopcua.RequestTimeout(cfg.RequestTimeout))
	if err != nil {
		return nil, fail("get endpoints", statusErr(opGetEndpoints, err))
	}
	tokenType := ua.UserTokenTypeAnonymous
	switch cfg.Auth {
	case AuthUsername:
		tokenType = ua.UserTokenTypeUserName
	case AuthCertificate:
		tokenType = ua.UserTokenTypeCertificate
	}
	ep := selectEndpoint(eps, cfg.SecurityPolicy.uri(), cfg.SecurityMode.ua(), tokenType)
	if ep == nil {
		return nil, fail("select endpoint", fmt.Errorf("%w: policy %s, mode %s, auth %s", ErrNoEndpoint, cfg.SecurityPolicy, cfg.SecurityMode, cfg.Auth))
	}
	if cfg.SecurityPolicy != PolicyNone {
		if err := verifyServer(ep.ServerCertificate, cr.trusted); err != nil {
			return nil, fail("verify server", err)
		}
	}

	// The request timeout gopcua puts in every request header must outlast a
	// publish request, which the server holds until data or a keep-alive is due.
	// Ordinary requests get cfg.RequestTimeout through their contexts.
	keepAlive := cfg.PublishingInterval * time.Duration(cfg.KeepAliveCount)
	opts := []gopcua.Option{
		gopcua.AutoReconnect(false), // reconnecting is the Collector's job; see the package doc
		gopcua.DialTimeout(cfg.DialTimeout),
		gopcua.RequestTimeout(2*keepAlive + cfg.RequestTimeout),
		gopcua.SessionTimeout(cfg.SessionTimeout),
		gopcua.SessionName("gl001 " + cfg.Name),
		gopcua.ApplicationName("gl001"),
	}
	if cr.cert != nil {
		opts = append(opts, gopcua.Certificate(cr.cert))
	}
	switch {
	case cr.cert != nil && cfg.SecurityPolicy != PolicyNone:
		// Checked again at every connect: the certificate is read anew, and a
		// renewed one may have lost its URI.
		uri, err := applicationURI(cr.cert, cfg.ApplicationURI)
		if err != nil {
			return nil, fail("client certificate", err)
		}
		opts = append(opts, gopcua.ApplicationURI(uri))
	case cfg.ApplicationURI != "":
		opts = append(opts, gopcua.ApplicationURI(cfg.ApplicationURI))
	}
	if cr.key != nil {
		opts = append(opts, gopcua.PrivateKey(cr.key))
	}
	switch cfg.Auth {
	case AuthUsername:
		opts = append(opts, gopcua.AuthUsername(cfg.Username, string(cfg.Password)))
	case AuthCertificate:
		opts = append(opts, gopcua.AuthCertificate(cr.cert), gopcua.AuthPrivateKey(cr.key))
	default:
		opts = append(opts, gopcua.AuthAnonymous())
	}
	opts = append(opts, gopcua.SecurityFromEndpoint(ep, tokenType))
	c, err := gopcua.NewClient(cfg.Endpoint, opts...)
	if err != nil {
		return nil, fail("client", err)
	}
	if err := c.Connect(dctx); err != nil {
		c.Close(context.WithoutCancel(dctx))
		// A status (BadUserAccessDenied, BadIdentityTokenRejected ...) becomes
		// a *StatusError, so callers can tell a refused login from a network fault.
		return nil, fail("session", sanitize(statusErr(opConnect, err), cfg.Password))
	}
	return c, nil
}

// sanitize makes sure an error from the stack below never carries the
// password, whatever it wraps.
func sanitize(err error, secret Secret) error {
	if err == nil || secret == "" {
		return err
	}
	if strings.Contains(err.Error(), string(secret)) {
		return &withheldError{permanent: errors.Is(err, scada.ErrPermanent)}
	}
	return err
}

// withheldError stands for an error whose text contained the password; it
// keeps only whether that error was a permanent refusal.
type withheldError struct{ permanent bool }

func (e *withheldError) Error() string {
	return "authentication failed (details withheld: they contained a secret)"
}

// Is matches scada.ErrPermanent when the withheld error did.
func (e *withheldError) Is(target error) bool { return e.permanent && target == scada.ErrPermanent }

func selectEndpoint(eps []*ua.EndpointDescription, policyURI string, mode ua.MessageSecurityMode, tok ua.UserTokenType) *ua.EndpointDescription {
	var best *ua.EndpointDescription
	for _, ep := range eps {
		if ep.SecurityPolicyURI != policyURI || ep.SecurityMode != mode {
			continue
		}
		ok := false
		for _, t := range ep.UserIdentityTokens {
			if t.TokenType == tok {
				ok = true
				break
			}
		}
		if ok && (best == nil || ep.SecurityLevel > best.SecurityLevel) {
			best = ep
		}
	}
	return best
}

// verifyServer checks the server's application certificate against the
// trusted pool: either the certificate itself is trusted (the usual
// self-signed OPC UA certificate) or it chains to a trusted CA. Host names are
// not checked: OPC UA identifies applications by URI, not by DNS name.
func verifyServer(der []byte, pool *x509.CertPool) error {
	if pool == nil {
		return fmt.Errorf("%w: no trusted certificates configured", ErrUntrustedServer)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrUntrustedServer, err)
	}
	_, err = cert.Verify(x509.VerifyOptions{Roots: pool, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}})
	if err != nil {
		return fmt.Errorf("%w: %v", ErrUntrustedServer, err)
	}
	return nil
}

// tagError counts a per-tag problem, logs it and hands it to the hook.
func (s *Source) tagError(err *TagError) {
	s.stats.tagErrors.Add(1)
	s.cfg.Logger.Warn("opcua: tag error", "source", s.cfg.Name, "tag", err.Tag, "node", err.NodeID, "err", err.Err)
	if s.cfg.OnTagError != nil {
		s.cfg.OnTagError(err)
	}
}

var _ interface {
	scada.Source
	scada.Browser
	scada.Writer
	scada.HistoryReader
	scada.ConditionAcker
} = (*Source)(nil)

var _ slog.LogValuer = Secret("")
