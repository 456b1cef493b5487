package mqtt

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"os"
	"strings"
	"time"
)

// Environment variables read by [Config.FromEnv].
const (
	EnvUsername = "MQTT_USERNAME"
	EnvPassword = "MQTT_PASSWORD"
)

// Defaults for the zero values of [Config].
const (
	DefaultSessionExpiry  = 24 * time.Hour
	DefaultKeepAlive      = 30 * time.Second
	DefaultConnectTimeout = 10 * time.Second
	DefaultReceiveMaximum = 1024
	DefaultMaxBatch       = 1024
	// DefaultMaxPayload is the default of Config.MaxPayload: 1 MiB.
	DefaultMaxPayload = 1 << 20
	// DefaultMaxPointsPerMessage is the default of Config.MaxPointsPerMessage.
	DefaultMaxPointsPerMessage = 10000
)

// EndSessionOnDisconnect, as Config.SessionExpiry, sends a Session Expiry
// Interval of 0: the broker ends the session when the connection closes. (A
// zero SessionExpiry means the default.)
const EndSessionOnDisconnect time.Duration = -1

// Config configures a [Source]. Zero values mean the documented defaults.
type Config struct {
	// Name is the Source name stamped on every point. Empty means a name
	// derived from the broker and the client id, "mqtt://host:port/client-id"
	// (or the first subscription's filter when there is no client id), so
	// two unnamed Sources on different brokers or sessions do not look alike
	// downstream. A [scada.Collector] stamps the name it knows a Source by.
	Name string

	// Broker is the broker URL: mqtt://host:1883 (also tcp://), mqtts://host:8883
	// (also ssl://, tls://), ws://host/path or wss://host/path. A URL without a
	// port gets 1883, 8883, 80 or 443.
	Broker string

	// ClientID identifies the session on the broker. It is required unless
	// CleanStart is set: a persistent session is found again by its client id.
	// Two Sources must never share one.
	ClientID string

	// Username and Password authenticate to the broker. The password is never
	// logged and never appears in errors; [Config.FromEnv] reads it from
	// MQTT_PASSWORD.
	Username string
	Password string

	// TLS configures mqtts:// and wss:// connections. Nil means a default
	// configuration. Either way the minimum version is TLS 1.3 unless
	// TLS.MinVersion says otherwise; lower it only for brokers that cannot do
	// better. CAFile, CertFile and KeyFile, when set, add a CA bundle (PEM)
	// to trust instead of the system roots and a client certificate.
	TLS      *tls.Config
	CAFile   string
	CertFile string
	KeyFile  string

	// CleanStart discards the broker's session on every connection. The
	// default, false, keeps a persistent session: subscriptions and QoS 1/2
	// messages published while the Source was away survive on the broker for
	// SessionExpiry and are delivered when it returns.
	CleanStart bool
	// SessionExpiry is how long the broker keeps the session after the
	// connection drops (the MQTT 5 Session Expiry Interval, whole seconds).
	// [EndSessionOnDisconnect] asks for 0: the broker ends the session with
	// the connection. Zero means the default, which depends on CleanStart:
	//
	//   - CleanStart off: [DefaultSessionExpiry], 24 h, to match scada's
	//     store-and-forward window. The broker queues what arrives while the
	//     Source is away and delivers it when the Source returns.
	//   - CleanStart on: 0, the session ends with the connection. A session
	//     kept after a clean-start connection is of no use to the Source (its
	//     next CONNECT discards it), and in a shared subscription group
	//     ("$share/...") the broker would go on giving the stopped member its
	//     share of the messages, which the next clean start then throws away.
	//     With 0 the broker gives the whole stream to the members still
	//     connected.
	//
	// The trade-off for a shared group: a persistent session (CleanStart off,
	// an expiry) keeps a stopped member's share queued for it, delivered late
	// when it returns and lost if it does not return before the expiry; a
	// session that ends with the connection hands the stopped member's share
	// to the other members at once, and loses only QoS 1/2 messages the
	// member had received but not yet acknowledged when it stopped (the
	// Source acknowledges after delivery, so these are few). Choose the
	// former for a member that will come back, the latter for a group that
	// scales in and out. MQTT caps the expiry at about 136 years.
	SessionExpiry time.Duration

	// KeepAlive is the MQTT keep-alive interval. Default 30 s.
	KeepAlive time.Duration
	// ConnectTimeout bounds dialling, the TLS handshake, CONNECT/CONNACK and
	// SUBSCRIBE/SUBACK. Default 10 s.
	ConnectTimeout time.Duration

	// ReceiveMaximum is how many QoS 1/2 messages the broker may have in
	// flight to us unacknowledged (MQTT 5 Receive Maximum); it also sizes the
	// client's receive queue, so a slow sink holds back the broker instead of
	// building a hidden backlog. Default 1024.
	ReceiveMaximum uint16
	// MaxBatch is the number of points above which the Source stops reading
	// until the sink has taken the current batch. Default 1024.
	MaxBatch int

	// MaxPayload is the largest payload, in bytes, handed to a decoder.
	// A larger message is refused whole with a *[LimitError], counted in
	// Stats.LimitExceeded and Stats.BadMessages, and acknowledged so it does
	// not come back. Default 1 MiB ([DefaultMaxPayload]). It bounds the
	// memory one message can take: a decoder's work is proportional to it.
	MaxPayload int
	// MaxPointsPerMessage caps the points one message may give. The first
	// MaxPointsPerMessage are delivered, the rest dropped, and the message is
	// reported with a *[LimitError] and counted as above. Decoders see the
	// cap in Message.MaxPoints and stop there, so an oversized message never
	// builds its points. Default 10000 ([DefaultMaxPointsPerMessage]).
	MaxPointsPerMessage int

	// Subscriptions are the topics to read. At least one is required.
	Subscriptions []Subscription

	// OnBadMessage, if set, is called with every payload a decoder rejected
	// (a *DecodeError carrying the topic). It runs on the receiving goroutine:
	// keep it quick.
	OnBadMessage func(err error)

	// Logger receives connection events and bad payload reports. Nil discards.
	Logger *slog.Logger
}

// Subscription is one topic filter and how its messages become points.
type Subscription struct {
	// Topic is an MQTT topic filter, with + and # wildcards, whose
	// single-level segments may be named: "plant/{site}/{device}/{tag}" is
	// the filter plant/+/+/+ and binds site, device and tag. Prefix
	// "$share/<group>/" makes it a shared subscription, so several GL-001
	// instances with the same group split the messages between them.
	Topic string
	// QoS is the maximum QoS to receive at: 0, 1 or 2. Messages at QoS 1
	// and 2 are acknowledged only after the sink has accepted their points.
	QoS byte
	// Tag is the template of the tag name, with {name} for the topic's named
	// segments and {#} for what # matched, e.g. "{site}.{device}.{tag}".
	// Empty means the topic itself. Decoders that find a tag in the payload
	// (JSON with a tag field, Sparkplug) use theirs.
	Tag string
	// Unit is the unit of points whose payload names none.
	Unit string
	// Decoder turns payloads into points. Nil means [Number].
	Decoder Decoder
}

// FromEnv fills Username and Password from MQTT_USERNAME and MQTT_PASSWORD
// when they are set in the environment and empty in c. Call it explicitly;
// New never reads the environment.
func (c *Config) FromEnv() {
	if v, ok := os.LookupEnv(EnvUsername); ok && c.Username == "" {
		c.Username = v
	}
	if v, ok := os.LookupEnv(EnvPassword); ok && c.Password == "" {
		c.Password = v
	}
}

// String describes c without its password.
func (c Config) String() string {
	pw := ""
	if c.Password != "" {
		pw = " password=REDACTED"
	}
	return fmt.Sprintf("mqtt.Config{name=%q broker=%q client=%q user=%q%s subscriptions=%d}",
		c.Name, redactURL(c.Broker), c.ClientID, c.Username, pw, len(c.Subscriptions))
}

// GoString is String, so %#v does not print the password either.
func (c Config) GoString() string { return c.String() }

// LogValue describes c for log/slog without its password.
func (c Config) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("name", c.Name), slog.String("broker", redactURL(c.Broker)),
		slog.String("client_id", c.ClientID), slog.String("username", c.Username),
		slog.Int("subscriptions", len(c.Subscriptions)))
}

// redactURL drops any user info from a broker URL.
func redactURL(s string) string {
	u, err := url.Parse(s)
	if err != nil || u.User == nil {
		if err != nil {
			return "(unparsable URL)"
		}
		return s
	}
	u.User = nil
	return u.String()
}

func defaultPort(scheme string) string {
	switch scheme {
	case "mqtt", "tcp":
		return "1883"
	case "mqtts", "ssl", "tls":
		return "8883"
	case "ws":
		return "80"
	case "wss":
		return "443"
	}
	return ""
}

// Validate reports every problem with c at once.
func (c Config) Validate() error {
	var errs []error
	add := func(format string, a ...any) { errs = append(errs, fmt.Errorf("mqtt: "+format, a...)) }
	if c.Broker == "" {
		add("Broker is required")
	} else if u, err := url.Parse(c.Broker); err != nil {
		add("Broker is not a URL")
	} else {
		if defaultPort(strings.ToLower(u.Scheme)) == "" {
			add("Broker scheme %q is not one of mqtt, mqtts, tcp, ssl, tls, ws, wss", u.Scheme)
		}
		if u.Hostname() == "" {
			add("Broker %q has no host", redactURL(c.Broker))
		}
		if u.User != nil {
			add("Broker URL must not carry credentials: use Username and Password")
		}
		switch strings.ToLower(u.Scheme) {
		case "mqtt", "tcp", "ws":
			if c.TLS != nil || c.CAFile != "" || c.CertFile != "" {
				add("TLS settings are given but Broker %q is not a TLS URL (mqtts://, wss://)", redactURL(c.Broker))
			}
		}
	}
	if c.ClientID == "" && !c.CleanStart {
		add("ClientID is required for a persistent session (or set CleanStart)")
	}
	if len(c.ClientID) > 65535 {
		add("ClientID is too long")
	}
	if (c.SessionExpiry < 0 && c.SessionExpiry != EndSessionOnDisconnect) || c.SessionExpiry > time.Duration(1<<32-1)*time.Second {
		add("SessionExpiry %v is outside 0..%v (use EndSessionOnDisconnect for an expiry of 0)", c.SessionExpiry, time.Duration(1<<32-1)*time.Second)
	}
	if c.KeepAlive < 0 || c.KeepAlive > 65535*time.Second {
		add("KeepAlive %v is outside 0..65535s", c.KeepAlive)
	}
	if c.ConnectTimeout < 0 {
		add("ConnectTimeout is negative")
	}
	if c.MaxBatch < 0 {
		add("MaxBatch is negative")
	}
	if c.MaxPayload < 0 || c.MaxPointsPerMessage < 0 {
		add("MaxPayload and MaxPointsPerMessage must not be negative")
	}
	if (c.CertFile == "") != (c.KeyFile == "") {
		add("CertFile and KeyFile go together")
	}
	if len(c.Subscriptions) == 0 {
		add("at least one Subscription is required")
	}
	for i, s := range c.Subscriptions {
		if s.QoS > 2 {
			add("Subscriptions[%d]: QoS %d is not 0, 1 or 2", i, s.QoS)
		}
		p, err := parsePattern(s.Topic)
		if err != nil {
			add("Subscriptions[%d]: %v", i, err)
			continue
		}
		if _, err := parseTemplate(s.Tag, p); err != nil {
			add("Subscriptions[%d]: %v", i, err)
		}
	}
	return errors.Join(errs...)
}

// sessionExpiry returns the Session Expiry Interval to send, in seconds.
func (c Config) sessionExpiry() uint32 {
	switch {
	case c.SessionExpiry == EndSessionOnDisconnect:
		return 0
	case c.SessionExpiry > 0:
		return uint32(c.SessionExpiry / time.Second)
	case c.CleanStart:
		return 0
	}
	return uint32(DefaultSessionExpiry / time.Second)
}

// defaultName derives a Source name from the broker and the client id.
func (c Config) defaultName(u *url.URL) string {
	host := u.Host
	if u.Port() == "" {
		host = net.JoinHostPort(u.Hostname(), defaultPort(strings.ToLower(u.Scheme)))
	}
	id := c.ClientID
	if id == "" && len(c.Subscriptions) > 0 {
		id = c.Subscriptions[0].Topic
	}
	return strings.ToLower(u.Scheme) + "://" + host + "/" + id
}

// tlsConfig builds the TLS configuration for mqtts:// and wss://.
func (c Config) tlsConfig(host string) (*tls.Config, error) {
	var t *tls.Config
	if c.TLS != nil {
		t = c.TLS.Clone()
	} else {
		t = &tls.Config{}
	}
	if t.MinVersion == 0 {
		t.MinVersion = tls.VersionTLS13
	}
	if t.ServerName == "" {
		t.ServerName = host
	}
	if c.CAFile != "" {
		pem, err := os.ReadFile(c.CAFile)
		if err != nil {
			return nil, fmt.Errorf("mqtt: CAFile: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("mqtt: CAFile %s holds no PEM certificate", c.CAFile)
		}
		t.RootCAs = pool
	}
	if c.CertFile != "" {
		cert, err := tls.LoadX509KeyPair(c.CertFile, c.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("mqtt: client certificate: %w", err)
		}
		t.Certificates = append(t.Certificates, cert)
	}
	return t, nil
}
