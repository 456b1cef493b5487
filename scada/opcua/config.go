package opcua

import (
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net/url"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/gopcua/opcua/ua"
)

// SecurityPolicy is an OPC UA security policy. It has no default: the zero
// value is invalid, so a configuration says [PolicyNone] when it means it.
type SecurityPolicy string

// The security policies this package supports.
const (
	PolicyNone                SecurityPolicy = "None"
	PolicyBasic256Sha256      SecurityPolicy = "Basic256Sha256"
	PolicyAes128Sha256RsaOaep SecurityPolicy = "Aes128_Sha256_RsaOaep"
	PolicyAes256Sha256RsaPss  SecurityPolicy = "Aes256_Sha256_RsaPss"
)

func (p SecurityPolicy) valid() bool {
	switch p {
	case PolicyNone, PolicyBasic256Sha256, PolicyAes128Sha256RsaOaep, PolicyAes256Sha256RsaPss:
		return true
	}
	return false
}

func (p SecurityPolicy) uri() string { return ua.FormatSecurityPolicyURI(string(p)) }

// SecurityMode is an OPC UA message security mode. Like [SecurityPolicy] it has
// no default.
type SecurityMode string

// The message security modes.
const (
	ModeNone           SecurityMode = "None"
	ModeSign           SecurityMode = "Sign"
	ModeSignAndEncrypt SecurityMode = "SignAndEncrypt"
)

func (m SecurityMode) ua() ua.MessageSecurityMode {
	switch m {
	case ModeNone:
		return ua.MessageSecurityModeNone
	case ModeSign:
		return ua.MessageSecurityModeSign
	case ModeSignAndEncrypt:
		return ua.MessageSecurityModeSignAndEncrypt
	}
	return ua.MessageSecurityModeInvalid
}

// Auth is how the session authenticates its user.
type Auth int

// The user authentication methods. The zero value is [AuthAnonymous].
const (
	AuthAnonymous   Auth = iota // no user identity
	AuthUsername                // Username and Password
	AuthCertificate             // the client certificate (CertFile, KeyFile) as the user identity
)

func (a Auth) String() string {
	switch a {
	case AuthAnonymous:
		return "anonymous"
	case AuthUsername:
		return "username"
	case AuthCertificate:
		return "certificate"
	}
	return fmt.Sprintf("Auth(%d)", int(a))
}

// DeadbandType selects the data-change filter of the monitored items.
type DeadbandType int

// The deadband types (OPC UA Part 4, 7.22.2). Percent deadbands need the node
// to have an EURange; a server that lacks it rejects the item, which then
// reports a Bad point for that tag.
const (
	DeadbandNone     DeadbandType = iota // report every change
	DeadbandAbsolute                     // report changes larger than Deadband, in the tag's unit
	DeadbandPercent                      // report changes larger than Deadband percent of the EURange
)

// Secret is a string that never prints: fmt and slog show it as "[redacted]".
type Secret string

// String returns "[redacted]" for a non-empty secret.
func (s Secret) String() string {
	if s == "" {
		return ""
	}
	return "[redacted]"
}

// GoString is String, so %#v does not leak either.
func (s Secret) GoString() string { return s.String() }

// LogValue keeps the secret out of structured logs.
func (s Secret) LogValue() slog.Value { return slog.StringValue(s.String()) }

// Tag maps one OPC UA node to a tag name.
type Tag struct {
	// Name is the tag name the Points carry. Required and unique.
	Name string
	// NodeID is the node in any OPC UA string form: "ns=2;s=Boiler1.Temp",
	// "ns=2;i=1001", "ns=2;g=<guid>", "ns=2;b=<base64>" or
	// "nsu=urn:vendor:plant;s=Boiler1.Temp" (resolved against the server's
	// namespace array at connect time).
	NodeID string
	// Unit overrides the engineering unit. When empty the unit is read from the
	// node's EngineeringUnits property (EUInformation), if it has one.
	Unit string
	// Writable allows [Source.Write] to this tag.
	Writable bool
}

// Environment variables [Config.FromEnv] reads.
const (
	EnvCertPath = "SCADA_CERT_PATH" // client certificate, PEM or DER
	EnvKeyPath  = "SCADA_KEY_PATH"  // client private key, PEM (PKCS#1 or PKCS#8)
	EnvCAPath   = "SCADA_CA_PATH"   // trusted server certificates or CAs, PEM bundle or DER
	EnvPassword = "SCADA_PASSWORD"  // the password for AuthUsername
)

// Config configures a [Source]. Zero values of the optional fields mean the
// documented defaults; Endpoint, SecurityPolicy, SecurityMode and Tags are
// required.
type Config struct {
	// Name names the source in Points and logs when Run is called directly.
	// Default: Endpoint. Under a scada.Collector the points carry the name
	// the Source was added under instead.
	Name string
	// Endpoint is the server's URL, e.g. "opc.tcp://plc1:4840".
	Endpoint string

	// SecurityPolicy and SecurityMode are required; there is no default, so an
	// insecure connection is always the caller's explicit choice
	// (PolicyNone with ModeNone). They must be both None or both not None.
	SecurityPolicy SecurityPolicy
	SecurityMode   SecurityMode

	// CertFile and KeyFile are the client application certificate and key,
	// required unless the security policy is None (and for AuthCertificate).
	CertFile, KeyFile string
	// CAFile holds the server certificates (self-signed) or CAs to trust.
	// Required unless the security policy is None: the server's certificate
	// must verify against it, or the connection is refused.
	CAFile string

	// ApplicationURI identifies this client application to the server (the
	// ApplicationUri of CreateSession). With security, servers compare it
	// with the URIs in the client certificate's subject alternative names
	// and refuse a certificate without a URI, or without this one, with
	// BadCertificateURIInvalid. Empty takes the certificate's first URI; set
	// it when the certificate carries several. Validate and New check the
	// certificate for it, and every connect checks again (a renewed
	// certificate), so the refusal is caught before the server sees it.
	// Issue client certificates with a SAN "URI:urn:<company>:<app>".
	ApplicationURI string

	// Auth selects the user authentication; Username and Password go with
	// AuthUsername, and only with it: credentials set with another Auth are
	// an error at Validate, never a silent anonymous session.
	Auth     Auth
	Username string
	Password Secret

	// Tags are the nodes to read. At least one.
	Tags []Tag

	// PollInterval > 0 selects polling: the nodes are Read at this interval.
	// Zero selects subscriptions (monitored items), the normal mode.
	PollInterval time.Duration

	// SamplingInterval is how often the server samples each node.
	// Default 1 s. Any positive value is passed to the server, which may revise it.
	SamplingInterval time.Duration
	// PublishingInterval is how often the server sends what changed.
	// Default: SamplingInterval.
	PublishingInterval time.Duration
	// QueueSize is the server-side queue per monitored item. Default 1.
	QueueSize uint32
	// DeadbandType and Deadband set the data-change filter. Default none.
	DeadbandType DeadbandType
	Deadband     float64
	// KeepAliveCount is how many empty publishing intervals the server waits
	// before it sends a keep-alive. Default 10. Kept small on purpose: a large
	// count makes silent connections look alive for a long time.
	KeepAliveCount uint32
	// MaxItemsPerSubscription splits the tags over several subscriptions.
	// Default 2,500 (some servers fail on larger publish responses).
	MaxItemsPerSubscription int
	// PublishRequests is how many publish requests are kept in flight.
	// Default: one per subscription plus one, at most 8.
	PublishRequests int

	// NoDataTimeout is the watchdog: when nothing (data or keep-alive)
	// arrives for this long, Run returns an error and the connection is
	// rebuilt. Default: three keep-alive periods (PublishingInterval x
	// KeepAliveCount), at least 10 s; in polling mode three poll intervals,
	// at least 10 s.
	NoDataTimeout time.Duration
	// RequestTimeout bounds every request to the server. Default 10 s.
	RequestTimeout time.Duration
	// DialTimeout bounds connecting and opening the session. Default 10 s.
	DialTimeout time.Duration
	// SessionTimeout is the session lifetime asked of the server. Default 60 s.
	SessionTimeout time.Duration

	// BatchSize caps the points in one Deliver call. Default 10,000.
	BatchSize int

	// HistoryNodesPerRead caps the nodes (tags) of one HistoryRead request
	// made by Source.HistoryTags and by backfill. Default 100. The server's
	// MaxNodesPerHistoryReadData, MaxHistoryContinuationPoints and
	// MaxNodesPerRead lower it when it advertises them.
	HistoryNodesPerRead int
	// HistoryPageSize is how many values of one node a HistoryRead asks for
	// (NumValuesPerNode); the server returns a continuation point for the
	// rest. Default 1,000. One response holds up to HistoryNodesPerRead x
	// HistoryPageSize values.
	HistoryPageSize int

	// Events, if not nil, subscribes to events and alarms (see
	// EventConfig). It needs subscriptions (PollInterval 0).
	Events *EventConfig
	// Backfill fills the gap of an outage from the server's history (see
	// BackfillConfig).
	Backfill BackfillConfig

	// Logger receives connection events; nil discards. Secrets are never logged.
	Logger *slog.Logger
	// OnTagError, if set, is called with every per-tag problem (a *TagError):
	// a node the server does not know, an unreadable node, a value that is not
	// numeric. It is called from Run's goroutine and must not block.
	OnTagError func(err error)
}

// FromEnv returns a copy of c with the empty CertFile, KeyFile, CAFile and
// Password filled from SCADA_CERT_PATH, SCADA_KEY_PATH, SCADA_CA_PATH and
// SCADA_PASSWORD. Nothing is read from the environment unless the caller asks
// with this call.
func (c Config) FromEnv() Config {
	fill := func(dst *string, env string) {
		if *dst == "" {
			*dst = os.Getenv(env)
		}
	}
	fill(&c.CertFile, EnvCertPath)
	fill(&c.KeyFile, EnvKeyPath)
	fill(&c.CAFile, EnvCAPath)
	if c.Password == "" {
		c.Password = Secret(os.Getenv(EnvPassword))
	}
	return c
}

// Validate reports every problem of the configuration at once (errors.Join).
// It does not touch the network. When security is used and CertFile names a
// certificate it can read, it checks the certificate's URIs against
// ApplicationURI; files it cannot read are left for [New] to report.
func (c Config) Validate() error {
	var errs []error
	bad := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("opcua: config: "+format, args...))
	}
	if c.Endpoint == "" {
		bad("Endpoint is required")
	} else if !strings.HasPrefix(c.Endpoint, "opc.tcp://") {
		bad("Endpoint %q: want an opc.tcp:// URL", c.Endpoint)
	}
	switch {
	case c.SecurityPolicy == "":
		bad("SecurityPolicy is required (PolicyNone only if an insecure connection is intended)")
	case !c.SecurityPolicy.valid():
		bad("SecurityPolicy %q is not supported", string(c.SecurityPolicy))
	}
	switch {
	case c.SecurityMode == "":
		bad("SecurityMode is required (ModeNone only if an insecure connection is intended)")
	case c.SecurityMode.ua() == ua.MessageSecurityModeInvalid:
		bad("SecurityMode %q is not supported", string(c.SecurityMode))
	}
	if c.SecurityPolicy.valid() && c.SecurityMode.ua() != ua.MessageSecurityModeInvalid &&
		(c.SecurityPolicy == PolicyNone) != (c.SecurityMode == ModeNone) {
		bad("SecurityPolicy %s with SecurityMode %s: both must be None, or neither", c.SecurityPolicy, c.SecurityMode)
	}
	secure := c.SecurityPolicy != "" && c.SecurityPolicy != PolicyNone
	if secure || c.Auth == AuthCertificate {
		if c.CertFile == "" {
			bad("CertFile is required with security or certificate authentication (or set %s)", EnvCertPath)
		}
		if c.KeyFile == "" {
			bad("KeyFile is required with security or certificate authentication (or set %s)", EnvKeyPath)
		}
	}
	if secure && c.CAFile == "" {
		bad("CAFile is required with security: the server certificate must be verified (or set %s)", EnvCAPath)
	}
	if c.ApplicationURI != "" {
		if u, err := url.Parse(c.ApplicationURI); err != nil || u.Scheme == "" {
			bad("ApplicationURI %q is not an absolute URI (e.g. urn:company:gl001)", c.ApplicationURI)
		}
	}
	if secure && c.CertFile != "" {
		if b, err := os.ReadFile(c.CertFile); err == nil {
			if der, err := parseCert(b); err == nil {
				if _, err := applicationURI(der, c.ApplicationURI); err != nil {
					errs = append(errs, fmt.Errorf("opcua: config: CertFile %s: %w", c.CertFile, err))
				}
			}
		}
	}
	switch c.Auth {
	case AuthAnonymous, AuthCertificate:
		if c.Username != "" || c.Password != "" {
			bad("Username or Password is set but Auth is %v: set Auth to AuthUsername to log in with them (they are never dropped for a session without them)", c.Auth)
		}
	case AuthUsername:
		if c.Username == "" {
			bad("Username is required with AuthUsername")
		}
		if c.Password == "" {
			bad("Password is required with AuthUsername (or set %s)", EnvPassword)
		}
	default:
		bad("Auth %v is not supported", c.Auth)
	}
	if len(c.Tags) == 0 {
		bad("at least one Tag is required")
	}
	seen := make(map[string]bool, len(c.Tags))
	for i, t := range c.Tags {
		if t.Name == "" {
			bad("Tags[%d]: Name is required", i)
		} else if seen[t.Name] {
			bad("Tags[%d]: duplicate tag name %q", i, t.Name)
		}
		seen[t.Name] = true
		if err := checkNodeID(t.NodeID); err != nil {
			bad("Tags[%d] (%s): %v", i, t.Name, err)
		}
	}
	if len(c.Tags) > math.MaxUint32 {
		bad("too many tags")
	}
	for _, d := range []struct {
		name string
		v    time.Duration
	}{
		{"PollInterval", c.PollInterval}, {"SamplingInterval", c.SamplingInterval},
		{"PublishingInterval", c.PublishingInterval}, {"NoDataTimeout", c.NoDataTimeout},
		{"RequestTimeout", c.RequestTimeout}, {"DialTimeout", c.DialTimeout},
		{"SessionTimeout", c.SessionTimeout},
	} {
		if d.v < 0 {
			bad("%s must not be negative", d.name)
		}
	}
	switch c.DeadbandType {
	case DeadbandNone:
	case DeadbandAbsolute, DeadbandPercent:
		if c.Deadband < 0 || math.IsNaN(c.Deadband) || math.IsInf(c.Deadband, 0) {
			bad("Deadband must be a finite value >= 0")
		}
		if c.DeadbandType == DeadbandPercent && c.Deadband > 100 {
			bad("percent Deadband must be at most 100")
		}
	default:
		bad("DeadbandType %d is not supported", c.DeadbandType)
	}
	if c.MaxItemsPerSubscription < 0 || c.PublishRequests < 0 || c.BatchSize < 0 {
		bad("MaxItemsPerSubscription, PublishRequests and BatchSize must not be negative")
	}
	if c.HistoryNodesPerRead < 0 || c.HistoryPageSize < 0 || int64(c.HistoryPageSize) > math.MaxUint32 {
		bad("HistoryNodesPerRead and HistoryPageSize must not be negative, HistoryPageSize at most %d", uint32(math.MaxUint32))
	}
	errs = append(errs, c.Events.validate()...)
	if c.Events != nil && c.PollInterval > 0 {
		errs = append(errs, errEventsInPollMode)
	}
	if c.Backfill.MaxGap < 0 {
		bad("Backfill.MaxGap must not be negative")
	}
	return errors.Join(errs...)
}

// checkNodeID checks the syntax of a node id string. Namespace URIs are
// resolved only at connect time, so "nsu=" is checked with a stand-in index.
func checkNodeID(s string) error {
	if s == "" {
		return errors.New("NodeID is required")
	}
	probe := s
	if strings.HasPrefix(s, "nsu=") {
		i := strings.IndexByte(s, ';')
		if i < 0 || i == len("nsu=") {
			return fmt.Errorf("node id %q: want nsu=<uri>;<id>", s)
		}
		probe = "ns=1" + s[i:]
	}
	if _, err := ua.ParseExpandedNodeID(probe, nil); err != nil {
		return fmt.Errorf("node id %q: %v", s, err)
	}
	return nil
}

// withDefaults returns c with the documented defaults filled in.
func (c Config) withDefaults() Config {
	if c.Name == "" {
		c.Name = c.Endpoint
	}
	if c.SamplingInterval == 0 {
		c.SamplingInterval = time.Second
	}
	if c.PublishingInterval == 0 {
		c.PublishingInterval = c.SamplingInterval
	}
	if c.QueueSize == 0 {
		c.QueueSize = 1
	}
	if c.KeepAliveCount == 0 {
		c.KeepAliveCount = 10
	}
	if c.MaxItemsPerSubscription == 0 {
		c.MaxItemsPerSubscription = 2500
	}
	if c.RequestTimeout == 0 {
		c.RequestTimeout = 10 * time.Second
	}
	if c.DialTimeout == 0 {
		c.DialTimeout = 10 * time.Second
	}
	if c.SessionTimeout == 0 {
		c.SessionTimeout = time.Minute
	}
	if c.BatchSize == 0 {
		c.BatchSize = 10000
	}
	if c.HistoryNodesPerRead == 0 {
		c.HistoryNodesPerRead = 100
	}
	if c.HistoryPageSize == 0 {
		c.HistoryPageSize = 1000
	}
	if c.NoDataTimeout == 0 {
		period := c.PublishingInterval * time.Duration(c.KeepAliveCount)
		if c.PollInterval > 0 {
			period = c.PollInterval
		}
		c.NoDataTimeout = max(3*period, 10*time.Second)
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Backfill.MaxGap == 0 {
		c.Backfill.MaxGap = 24 * time.Hour
	}
	return c
}

// ErrCertificateURI reports a client certificate that OPC UA servers refuse
// with BadCertificateURIInvalid: it has no URI in its subject alternative
// names, or not Config.ApplicationURI. It matches scada.ErrPermanent: only a
// new certificate or another ApplicationURI fixes it.
var ErrCertificateURI error = refusal("opcua: client certificate without a matching application URI")

// applicationURI returns the application URI to announce for the client
// certificate der: want when the certificate carries it, its first URI when
// want is empty, and an ErrCertificateURI error otherwise.
func applicationURI(der []byte, want string) (string, error) {
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return "", err
	}
	uris := make([]string, len(cert.URIs))
	for i, u := range cert.URIs {
		uris[i] = u.String()
	}
	switch {
	case len(uris) == 0:
		return "", fmt.Errorf("%w: the certificate has no URI in its subject alternative names; servers refuse it (BadCertificateURIInvalid)", ErrCertificateURI)
	case want == "":
		return uris[0], nil
	case slices.Contains(uris, want):
		return want, nil
	}
	return "", fmt.Errorf("%w: ApplicationURI %q is not among the certificate's URIs %q; servers refuse it (BadCertificateURIInvalid)", ErrCertificateURI, want, uris)
}
