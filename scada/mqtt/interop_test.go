//go:build interop && linux

package mqtt_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/packets"
	"github.com/eclipse/paho.golang/paho"

	"github.com/greenlang/gl001/resilience"
	"github.com/greenlang/gl001/scada"
	"github.com/greenlang/gl001/scada/mqtt"
)

// The interop tier runs the Source against mosquitto, a third-party MQTT 5
// broker, for what the in-process mochi broker cannot show: its password
// file and TLS 1.3 listener, sessions and queues kept by another
// implementation, persistence to disk across a restart, its shared
// subscriptions, and a broker process killed under a scada.Collector.
// .ci/interop/mqtt.sh installs mosquitto; a missing broker is a failure
// here, never a skip. Each test writes a mosquitto.conf into its temporary
// directory and runs its own broker on a free port of 127.0.0.1.

const (
	interopUser     = "gl001"
	interopPassword = "Interop-Pa55word!"
	publisherUser   = "edge-gateway"
	publisherPass   = "Gateway-Pa55word!"
)

// mosquittoBroker is one mosquitto process (and its restarts) on a fixed
// port, configured by a file in a temporary directory.
type mosquittoBroker struct {
	t    *testing.T
	bin  string
	dir  string
	conf string
	port int

	cmd  *exec.Cmd
	done chan struct{} // closed when cmd has exited
	err  error         // cmd.Wait's result, set before done is closed
}

// findBinary looks a mosquitto tool up on PATH and in the directory Debian
// installs it into.
func findBinary(t *testing.T, name, debianDir string) string {
	t.Helper()
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	p := filepath.Join(debianDir, name)
	if _, err := os.Stat(p); err != nil {
		t.Fatalf("interop peer missing: %s is neither on PATH nor at %s (run .ci/interop/mqtt.sh)", name, p)
	}
	return p
}

// freePort returns a port of 127.0.0.1 that nothing listened on a moment ago.
func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// startMosquitto writes a configuration of one listener on a free port plus
// settings and starts the broker. It is killed when the test ends.
func startMosquitto(t *testing.T, dir string, settings ...string) *mosquittoBroker {
	t.Helper()
	b := &mosquittoBroker{
		t:    t,
		bin:  findBinary(t, "mosquitto", "/usr/sbin"),
		dir:  dir,
		conf: filepath.Join(dir, "mosquitto.conf"),
		port: freePort(t),
	}
	// Started as root, mosquitto would switch to the "mosquitto" user, which
	// cannot read the test's private directory; naming the user that runs the
	// test keeps it where it is.
	u, err := user.Current()
	if err != nil {
		t.Fatal(err)
	}
	conf := []string{
		fmt.Sprintf("listener %d 127.0.0.1", b.port),
		"user " + u.Username,
		"log_dest file " + filepath.Join(dir, "mosquitto.log"),
		"log_type error",
		"log_type warning",
		"log_type notice",
		"log_type information",
		"connection_messages true",
	}
	conf = append(conf, settings...)
	if err := os.WriteFile(b.conf, []byte(strings.Join(conf, "\n")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if b.running() {
			_ = b.cmd.Process.Kill()
			<-b.done
		}
		if t.Failed() {
			for _, f := range []string{"mosquitto.log", "mosquitto.out"} {
				if data, err := os.ReadFile(filepath.Join(dir, f)); err == nil && len(data) > 0 {
					t.Logf("%s:\n%s", f, data)
				}
			}
		}
	})
	b.start()
	return b
}

func (b *mosquittoBroker) running() bool {
	if b.done == nil {
		return false
	}
	select {
	case <-b.done:
		return false
	default:
		return true
	}
}

// start runs the broker and waits until it accepts connections.
func (b *mosquittoBroker) start() {
	t := b.t
	t.Helper()
	out, err := os.OpenFile(filepath.Join(b.dir, "mosquitto.out"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	cmd := exec.Command(b.bin, "-c", b.conf)
	cmd.Stdout, cmd.Stderr = out, out // files: no copying goroutines
	// If the test binary dies (a -timeout panic skips cleanups), so does the broker.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start mosquitto: %v", err)
	}
	b.cmd, b.done = cmd, make(chan struct{})
	go func(done chan struct{}) {
		b.err = cmd.Wait()
		close(done)
	}(b.done)

	deadline := time.Now().Add(waitTimeout)
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for {
		c, err := net.DialTimeout("tcp", b.addr(), time.Second)
		if err == nil {
			_ = c.Close()
			return
		}
		select {
		case <-b.done:
			t.Fatalf("mosquitto exited before accepting connections: %v", b.err)
		case <-tick.C:
		}
		if time.Now().After(deadline) {
			t.Fatalf("mosquitto does not accept connections on %s: %v", b.addr(), err)
		}
	}
}

// stop ends the broker with sig and waits for it to exit. SIGTERM is an
// orderly shutdown (mosquitto writes its persistence file); SIGKILL is a
// crash.
func (b *mosquittoBroker) stop(sig os.Signal) {
	t := b.t
	t.Helper()
	if err := b.cmd.Process.Signal(sig); err != nil {
		t.Fatalf("signal mosquitto: %v", err)
	}
	select {
	case <-b.done:
	case <-time.After(waitTimeout):
		_ = b.cmd.Process.Kill()
		<-b.done
		t.Fatalf("mosquitto did not exit on %v", sig)
	}
	if sig == syscall.SIGTERM && b.err != nil {
		t.Fatalf("mosquitto's orderly shutdown failed: %v", b.err)
	}
}

// waitLog waits until the broker's log holds n lines containing substr.
func (b *mosquittoBroker) waitLog(t *testing.T, substr string, n int) {
	t.Helper()
	eventually(t, fmt.Sprintf("%d log lines with %q", n, substr), func() bool {
		data, err := os.ReadFile(filepath.Join(b.dir, "mosquitto.log"))
		return err == nil && strings.Count(string(data), substr) >= n
	})
}

func (b *mosquittoBroker) addr() string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(b.port)) }

func (b *mosquittoBroker) url(scheme string) string { return scheme + "://" + b.addr() }

// passwordFile writes a mosquitto password file with mosquitto's own tool.
func passwordFile(t *testing.T, dir string, users ...[2]string) string {
	t.Helper()
	tool := findBinary(t, "mosquitto_passwd", "/usr/bin")
	f := filepath.Join(dir, "passwords")
	for i, u := range users {
		args := []string{"-b", f, u[0], u[1]}
		if i == 0 {
			args = append([]string{"-c"}, args...)
		}
		if out, err := exec.Command(tool, args...).CombinedOutput(); err != nil {
			// The output names the file, never the password.
			t.Fatalf("mosquitto_passwd: %v: %s", err, out)
		}
	}
	return f
}

// passwordBroker is mosquitto with a password file and no anonymous access.
func passwordBroker(t *testing.T, dir string, settings ...string) *mosquittoBroker {
	t.Helper()
	pw := passwordFile(t, dir, [2]string{interopUser, interopPassword}, [2]string{publisherUser, publisherPass})
	return startMosquitto(t, dir, append([]string{"allow_anonymous false", "password_file " + pw}, settings...)...)
}

// notifySink is a collector that also counts the Source's connection
// notices: a Source calls scada.NotifyConnected once its subscriptions are
// in place, so the test knows when a publish will reach it.
type notifySink struct {
	*collector
	connects atomic.Int64
}

func newNotifySink() *notifySink { return &notifySink{collector: newCollector()} }

func (n *notifySink) Connected() { n.connects.Add(1) }

func (n *notifySink) waitConnects(t *testing.T, want int64) {
	t.Helper()
	eventually(t, fmt.Sprintf("connection notice %d", want), func() bool { return n.connects.Load() >= want })
}

// publisher is a plain paho client publishing as the edge gateway would.
type publisher struct {
	t   *testing.T
	cli *paho.Client
}

// newPublisher connects a paho client over conn with a clean session.
func newPublisher(t *testing.T, conn net.Conn, clientID, username, password string) *publisher {
	t.Helper()
	// paho bounds CONNECT and each acknowledged PUBLISH by PacketTimeout,
	// 10 s unless set, whatever the context says: under load that, not
	// waitTimeout, would decide. paho writes a packet's header and body
	// apart, from several goroutines; on a TLS connection two packets could
	// interleave their records (mosquitto then drops the client for a
	// malformed packet, and the PUBACK never comes), so every packet is
	// written under the connection's lock, as paho's docs ask.
	cli := paho.NewClient(paho.ClientConfig{ClientID: clientID, Conn: packets.NewThreadSafeConn(conn), PacketTimeout: waitTimeout})
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	cp := &paho.Connect{ClientID: clientID, KeepAlive: 30, CleanStart: true}
	if username != "" {
		cp.Username, cp.UsernameFlag = username, true
		cp.Password, cp.PasswordFlag = []byte(password), true
	}
	if ca, err := cli.Connect(ctx, cp); err != nil {
		_ = conn.Close()
		if ca != nil {
			t.Fatalf("publisher refused: reason code 0x%02X", ca.ReasonCode)
		}
		t.Fatalf("publisher connect: %v", err)
	}
	p := &publisher{t: t, cli: cli}
	t.Cleanup(p.close)
	return p
}

func tcpPublisher(t *testing.T, b *mosquittoBroker, clientID string) *publisher {
	t.Helper()
	conn, err := net.DialTimeout("tcp", b.addr(), waitTimeout)
	if err != nil {
		t.Fatal(err)
	}
	return newPublisher(t, conn, clientID, publisherUser, publisherPass)
}

// publish sends one message and, at QoS 1, waits for the broker's PUBACK:
// from then on the broker holds the message.
func (p *publisher) publish(topic, payload string, qos byte) {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	resp, err := p.cli.Publish(ctx, &paho.Publish{Topic: topic, QoS: qos, Payload: []byte(payload)})
	if err != nil {
		p.t.Fatalf("publish %s: %v", topic, err)
	}
	if qos > 0 && resp != nil && resp.ReasonCode >= 0x80 {
		p.t.Fatalf("publish %s: broker answered 0x%02X", topic, resp.ReasonCode)
	}
}

func (p *publisher) close() {
	select {
	case <-p.cli.Done():
	default:
		_ = p.cli.Disconnect(&paho.Disconnect{ReasonCode: 0})
	}
}

// seqValues returns the values of the points of tag, in delivery order.
func seqValues(points []scada.Point, tag string) []float64 {
	var vs []float64
	for _, p := range points {
		if p.Tag == tag {
			vs = append(vs, p.Value)
		}
	}
	return vs
}

// checkSequence fails unless vs is exactly 0, 1, ..., n-1: every message
// once, in the order it was published.
func checkSequence(t *testing.T, vs []float64, n int) {
	t.Helper()
	if len(vs) != n {
		t.Fatalf("got %d messages, want %d exactly once: %v", len(vs), n, vs)
	}
	for i, v := range vs {
		if v != float64(i) {
			t.Fatalf("message %d has value %v: lost, repeated or out of order: %v", i, v, vs)
		}
	}
}

func TestInteropMosquittoPassword(t *testing.T) {
	b := passwordBroker(t, t.TempDir())
	pub := tcpPublisher(t, b, "edge-password")

	t.Run("accepted", func(t *testing.T) {
		src := newSource(t, mqtt.Config{
			Broker: b.url("mqtt"), ClientID: "gl001-password",
			Username: interopUser, Password: interopPassword,
			Subscriptions: []mqtt.Subscription{{Topic: "plant/{site}/{device}/{tag}", Tag: "{site}.{device}.{tag}", QoS: 1, Unit: "degC"}},
		})
		sink := newNotifySink()
		stop := running(t, src, sink)
		sink.waitConnects(t, 1)
		pub.publish("plant/north/boiler1/steam_temp", "451.5", 1)
		pub.publish("plant/north/boiler1/flow", "12", 0)
		got := sink.waitTags(t, "north.boiler1.steam_temp", "north.boiler1.flow")
		if p := got["north.boiler1.steam_temp"]; p.Value != 451.5 || p.Unit != "degC" || !p.Quality.IsGood() || p.Source != src.Name() {
			t.Errorf("steam_temp = %+v", p)
		}
		eventually(t, "the QoS 1 message acknowledged", func() bool { return src.Stats().Acked == 1 })
		if err := stop(); !errors.Is(err, context.Canceled) {
			t.Fatalf("Run = %v, want context.Canceled", err)
		}
		if st := src.Stats(); st.Connects != 1 || st.Points != 2 || st.BadMessages != 0 {
			t.Errorf("stats = %+v", st)
		}
	})

	refused := func(t *testing.T, username, password string) *mqtt.ConnackError {
		t.Helper()
		src := newSource(t, mqtt.Config{
			Broker: b.url("mqtt"), ClientID: "gl001-refused",
			Username: username, Password: password,
			Subscriptions: []mqtt.Subscription{{Topic: "plant/#", QoS: 1}},
		})
		ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
		defer cancel()
		err := src.Run(ctx, newCollector())
		var ce *mqtt.ConnackError
		if !errors.As(err, &ce) || !errors.Is(err, scada.ErrConnection) {
			t.Fatalf("Run = %v, want a *ConnackError matching scada.ErrConnection", err)
		}
		if password != "" && strings.Contains(err.Error(), password) {
			t.Fatalf("the error shows the password: %v", err)
		}
		if st := src.Stats(); st.Connects != 0 || st.Connected {
			t.Fatalf("stats = %+v, want no connection", st)
		}
		return ce
	}
	// mosquitto 2.0 answers a wrong password with 0x87 (not authorized), not
	// 0x86 (bad user name or password): callers that tell a configuration
	// error from an outage must treat both as one.
	for _, c := range []struct{ name, username, password string }{
		{"wrong password refused", interopUser, "not-the-password-42"},
		{"unknown user refused", "intruder", interopPassword},
		{"anonymous refused", "", ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			ce := refused(t, c.username, c.password)
			if ce.ReasonCode != 0x86 && ce.ReasonCode != 0x87 {
				t.Fatalf("reason code 0x%02X, want 0x86 or 0x87", ce.ReasonCode)
			}
			t.Logf("mosquitto refused with: %v", ce)
		})
	}
}

// writeServerFiles writes the broker's certificate and key from p for
// mosquitto (OpenSSL reads PEM files).
func writeServerFiles(t *testing.T, dir string, p *pki) (certFile, keyFile string) {
	t.Helper()
	certFile, keyFile = filepath.Join(dir, "broker.pem"), filepath.Join(dir, "broker-key.pem")
	var chain []byte
	for _, der := range p.server.Certificate {
		chain = append(chain, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})...)
	}
	key, err := x509.MarshalPKCS8PrivateKey(p.server.PrivateKey)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(certFile, chain, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: key}), 0o600); err != nil {
		t.Fatal(err)
	}
	return certFile, keyFile
}

func TestInteropMosquittoMutualTLS(t *testing.T) {
	p := newPKI(t)
	dir := t.TempDir()
	certFile, keyFile := writeServerFiles(t, dir, p)
	// The client certificate is the identity: its common name is the user.
	b := startMosquitto(t, dir,
		"cafile "+p.caFile,
		"certfile "+certFile,
		"keyfile "+keyFile,
		"tls_version tlsv1.3",
		"require_certificate true",
		"use_identity_as_username true",
		"allow_anonymous false",
	)

	t.Run("client certificate accepted", func(t *testing.T) {
		src := newSource(t, mqtt.Config{
			Broker: b.url("mqtts"), ClientID: "gl001-tls", ConnectTimeout: waitTimeout,
			CAFile: p.caFile, CertFile: p.certFile, KeyFile: p.keyFile,
			Subscriptions: []mqtt.Subscription{{Topic: "tls/{tag}", Tag: "{tag}", QoS: 1}},
		})
		sink := newNotifySink()
		stop := running(t, src, sink)
		sink.waitConnects(t, 1)

		cert, err := tls.LoadX509KeyPair(p.certFile, p.keyFile)
		if err != nil {
			t.Fatal(err)
		}
		conn, err := tls.DialWithDialer(&net.Dialer{Timeout: waitTimeout}, "tcp", b.addr(), &tls.Config{
			RootCAs: p.pool, Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS13,
		})
		if err != nil {
			t.Fatal(err)
		}
		if v := conn.ConnectionState().Version; v != tls.VersionTLS13 {
			t.Fatalf("mosquitto negotiated TLS version %#x, want 1.3", v)
		}
		pub := newPublisher(t, conn, "edge-tls", "", "")
		for i := range 20 {
			pub.publish("tls/t"+itoa(i), itoa(i), 1)
		}
		got := byTag(sink.wait(t, 20))
		for i := range 20 {
			if p, ok := got["t"+itoa(i)]; !ok || p.Value != float64(i) {
				t.Errorf("t%d = %+v", i, p)
			}
		}
		eventually(t, "the messages acknowledged", func() bool { return src.Stats().Acked == 20 })
		if err := stop(); !errors.Is(err, context.Canceled) {
			t.Fatalf("Run = %v, want context.Canceled", err)
		}
	})

	refused := func(t *testing.T, cfg mqtt.Config) error {
		t.Helper()
		cfg.Broker, cfg.CAFile = b.url("mqtts"), p.caFile
		cfg.Subscriptions = []mqtt.Subscription{{Topic: "tls/#", QoS: 1}}
		src := newSource(t, cfg)
		ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
		defer cancel()
		err := src.Run(ctx, newCollector())
		if !errors.Is(err, scada.ErrConnection) || ctx.Err() != nil {
			t.Fatalf("Run = %v, want a connection error", err)
		}
		if st := src.Stats(); st.Connects != 0 {
			t.Fatalf("stats = %+v, want no connection", st)
		}
		return err
	}
	t.Run("client without certificate refused", func(t *testing.T) {
		err := refused(t, mqtt.Config{ClientID: "gl001-nocert"})
		// TLS 1.3 finishes the client's side of the handshake before the
		// broker checks the certificate; its alert arrives on the first read.
		if !strings.Contains(err.Error(), "certificate required") {
			t.Errorf("Run = %v, want the broker's certificate_required alert", err)
		}
		if !errors.Is(err, scada.ErrPermanent) {
			t.Errorf("Run = %v, want it to match scada.ErrPermanent", err)
		}
		t.Logf("Run without a client certificate: %v", err)
	})
	t.Run("TLS 1.2 refused", func(t *testing.T) {
		refused(t, mqtt.Config{
			ClientID: "gl001-tls12", CertFile: p.certFile, KeyFile: p.keyFile,
			TLS: &tls.Config{MinVersion: tls.VersionTLS12, MaxVersion: tls.VersionTLS12},
		})
	})
	t.Run("broker not trusted without the CA", func(t *testing.T) {
		src := newSource(t, mqtt.Config{
			Broker: b.url("mqtts"), ClientID: "gl001-noca", CertFile: p.certFile, KeyFile: p.keyFile,
			Subscriptions: []mqtt.Subscription{{Topic: "tls/#", QoS: 1}},
		})
		var uerr x509.UnknownAuthorityError
		if err := src.Run(t.Context(), newCollector()); !errors.As(err, &uerr) {
			t.Fatalf("Run without the CA = %v, want an unknown authority error", err)
		}
	})
}

// sessionSource is a Source with a persistent session on b at QoS 1.
func sessionSource(t *testing.T, b *mosquittoBroker, clientID string) *mqtt.Source {
	t.Helper()
	return newSource(t, mqtt.Config{
		Broker: b.url("mqtt"), ClientID: clientID,
		Username: interopUser, Password: interopPassword,
		Subscriptions: []mqtt.Subscription{{Topic: "plant/{device}/{tag}", Tag: "{device}.{tag}", QoS: 1}},
	})
}

// subscribeThenLeave runs src until its subscription is in place and stops
// it with an orderly DISCONNECT, which keeps the session on the broker.
func subscribeThenLeave(t *testing.T, src *mqtt.Source) {
	t.Helper()
	sink := newNotifySink()
	stop := running(t, src, sink)
	sink.waitConnects(t, 1)
	if err := stop(); !errors.Is(err, context.Canceled) {
		t.Fatalf("Run = %v, want context.Canceled", err)
	}
	if st := src.Stats(); st.SessionPresent {
		t.Fatalf("a new client id found a session: %+v", st)
	}
}

// comeBack runs src again and checks that the n QoS 1 messages published on
// boiler1/seq while it was away arrive exactly once and in order, then that
// the resumed subscription carries a new message.
func comeBack(t *testing.T, src *mqtt.Source, pub *publisher, n int) (stop func() error) {
	t.Helper()
	sink := newNotifySink()
	stop = running(t, src, sink)
	sink.wait(t, n)
	// Messages published now follow the queued ones on the same session, so
	// once this marker is in, nothing queued is still on its way.
	pub.publish("plant/boiler1/marker", "1", 1)
	sink.waitTags(t, "boiler1.marker")
	all := sink.snapshot()
	checkSequence(t, seqValues(all, "boiler1.seq"), n)
	if len(all) != n+1 {
		t.Fatalf("got %d points, want %d: %v", len(all), n+1, all)
	}
	eventually(t, "every message acknowledged", func() bool { return src.Stats().Acked >= uint64(n+1) })
	if !src.Stats().SessionPresent {
		t.Fatalf("the broker did not keep the session: %+v", src.Stats())
	}
	return stop
}

func TestInteropMosquittoPersistentSession(t *testing.T) {
	b := passwordBroker(t, t.TempDir())
	src := sessionSource(t, b, "gl001-session")
	subscribeThenLeave(t, src)

	const n = 100
	pub := tcpPublisher(t, b, "edge-session")
	for i := range n {
		pub.publish("plant/boiler1/seq", itoa(i), 1) // the broker queues it for the absent Source
	}
	stop := comeBack(t, src, pub, n)
	if err := stop(); !errors.Is(err, context.Canceled) {
		t.Fatalf("Run = %v, want context.Canceled", err)
	}
	if st := src.Stats(); st.Connects != 2 || st.Acked != n+1 || st.Points != n+1 {
		t.Errorf("stats = %+v", st)
	}
}

func TestInteropMosquittoPersistenceAcrossRestart(t *testing.T) {
	dir := t.TempDir()
	store := filepath.Join(dir, "store")
	if err := os.Mkdir(store, 0o700); err != nil {
		t.Fatal(err)
	}
	b := passwordBroker(t, dir, "persistence true", "persistence_location "+store+"/", "autosave_interval 3600",
		"log_type debug") // to see the broker take the Source's PUBACKs
	src := sessionSource(t, b, "gl001-persist")
	subscribeThenLeave(t, src)

	const n = 100
	pub := tcpPublisher(t, b, "edge-persist-1")
	for i := range n {
		pub.publish("plant/boiler1/seq", itoa(i), 1)
	}
	pub.close()

	// An orderly shutdown writes the sessions and their queued messages to
	// disk; the new process must read them back.
	b.stop(syscall.SIGTERM)
	if _, err := os.Stat(filepath.Join(store, "mosquitto.db")); err != nil {
		t.Fatalf("mosquitto wrote no persistence file: %v", err)
	}
	b.start()
	pub = tcpPublisher(t, b, "edge-persist-2")
	stop := comeBack(t, src, pub, n)
	// The Source has sent its PUBACKs; the broker must have read them
	// before it saves the session, or it rightly sends those messages
	// again after the restart.
	b.waitLog(t, "Received PUBACK from gl001-persist", n+1)

	// The Source connected now sees the broker shut down under it: Run
	// returns a connection error, and the session survives the restart.
	b.stop(syscall.SIGTERM)
	eventually(t, "Run to notice the shutdown", func() bool { return !src.Stats().Connected })
	err := stop()
	if !errors.Is(err, scada.ErrConnection) {
		t.Fatalf("Run across the broker's shutdown = %v, want a connection error", err)
	}
	t.Logf("Run when mosquitto shut down: %v", err)
	b.start()
	sink := newNotifySink()
	running(t, src, sink)
	sink.waitConnects(t, 1)
	if !src.Stats().SessionPresent {
		t.Fatalf("the session did not survive the second restart: %+v", src.Stats())
	}
	pub = tcpPublisher(t, b, "edge-persist-3")
	pub.publish("plant/boiler1/after", "7", 1)
	if got := sink.waitTags(t, "boiler1.after"); got["boiler1.after"].Value != 7 {
		t.Errorf("after the restart: %+v", got["boiler1.after"])
	}
	if n := len(sink.snapshot()); n != 1 {
		t.Errorf("the resumed session replayed acknowledged messages: %v", sink.snapshot())
	}
}

func TestInteropMosquittoSharedSubscription(t *testing.T) {
	b := passwordBroker(t, t.TempDir())
	var (
		srcs  [2]*mqtt.Source
		sinks [2]*notifySink
	)
	for i := range srcs {
		srcs[i] = newSource(t, mqtt.Config{
			Broker: b.url("mqtt"), ClientID: "gl001-shared-" + itoa(i),
			Username: interopUser, Password: interopPassword,
			Subscriptions: []mqtt.Subscription{{Topic: "$share/gl001/firehose/{tag}", Tag: "{tag}", QoS: 1}},
		})
		sinks[i] = newNotifySink()
		running(t, srcs[i], sinks[i])
		sinks[i].waitConnects(t, 1)
	}
	pub := tcpPublisher(t, b, "edge-shared")
	const n = 200
	for i := range n {
		pub.publish("firehose/t"+itoa(i), itoa(i), 1)
	}
	seen := map[string]int{}
	eventually(t, "every message in one of the group", func() bool {
		return len(sinks[0].snapshot())+len(sinks[1].snapshot()) >= n
	})
	eventually(t, "every message acknowledged", func() bool {
		return srcs[0].Stats().Acked+srcs[1].Stats().Acked >= n
	})
	if m := srcs[0].Stats().Messages + srcs[1].Stats().Messages; m != n {
		t.Errorf("the group received %d messages, want %d", m, n)
	}
	for _, s := range sinks {
		for _, p := range s.snapshot() {
			seen[p.Tag]++
		}
	}
	for i := range n {
		if c := seen["t"+itoa(i)]; c != 1 {
			t.Errorf("t%d delivered %d times, want once in the group", i, c)
		}
	}
	if len(seen) != n {
		t.Errorf("%d distinct tags, want %d", len(seen), n)
	}
	a, c := len(sinks[0].snapshot()), len(sinks[1].snapshot())
	if a == 0 || c == 0 {
		t.Errorf("the group did not split the messages: %d and %d", a, c)
	}
	t.Logf("mosquitto split %d messages %d/%d", n, a, c)
}

// A member of a clean-start shared group stops while messages are
// published: mosquitto gives the whole stream to the member still running,
// because the stopped member's session ended with its connection (the
// default session expiry with CleanStart). With a session kept after the
// disconnect, mosquitto would go on queueing the stopped member's share for
// a session the next clean start discards.
func TestInteropMosquittoSharedMemberStopped(t *testing.T) {
	b := passwordBroker(t, t.TempDir())
	var (
		srcs  [2]*mqtt.Source
		sinks [2]*notifySink
		stops [2]func() error
	)
	for i := range srcs {
		srcs[i] = newSource(t, mqtt.Config{
			Broker: b.url("mqtt"), ClientID: "gl001-member-" + itoa(i), CleanStart: true,
			Username: interopUser, Password: interopPassword, ConnectTimeout: waitTimeout,
			Subscriptions: []mqtt.Subscription{{Topic: "$share/gl001/firehose/{tag}", Tag: "{tag}", QoS: 1}},
		})
		sinks[i] = newNotifySink()
		stops[i] = running(t, srcs[i], sinks[i])
		sinks[i].waitConnects(t, 1)
	}
	pub := tcpPublisher(t, b, "edge-shared-stop")
	const n = 100
	for i := range n {
		pub.publish("firehose/a"+itoa(i), itoa(i), 1)
	}
	eventually(t, "the first half acknowledged by the group", func() bool {
		return srcs[0].Stats().Acked+srcs[1].Stats().Acked >= n
	})
	if err := stops[1](); !errors.Is(err, context.Canceled) {
		t.Fatalf("stopping a member: Run = %v", err)
	}
	// The stopped member's DISCONNECT and the publisher's messages travel on
	// different connections: wait until mosquitto has processed the
	// disconnect (its log says so) before publishing the second half.
	eventually(t, "mosquitto to see the member leave", func() bool {
		data, _ := os.ReadFile(filepath.Join(b.dir, "mosquitto.log"))
		return strings.Contains(string(data), "Client gl001-member-1 disconnected")
	})
	for i := range n {
		pub.publish("firehose/b"+itoa(i), itoa(i), 1)
	}
	eventually(t, "the second half at the running member", func() bool {
		c := 0
		for _, p := range sinks[0].snapshot() {
			if strings.HasPrefix(p.Tag, "b") {
				c++
			}
		}
		return c >= n
	})
	seen := map[string]int{}
	for _, s := range sinks {
		for _, p := range s.snapshot() {
			seen[p.Tag]++
		}
	}
	if len(seen) != 2*n {
		t.Errorf("the group received %d distinct tags, want %d", len(seen), 2*n)
	}
	for tag, c := range seen {
		if c != 1 {
			t.Errorf("%s delivered %d times, want once in the group", tag, c)
		}
	}
	t.Logf("before the stop the group split %d/%d; after it the running member got all %d", n-count(sinks[1].snapshot(), "a"), count(sinks[1].snapshot(), "a"), n)
}

func count(points []scada.Point, prefix string) int {
	c := 0
	for _, p := range points {
		if strings.HasPrefix(p.Tag, prefix) {
			c++
		}
	}
	return c
}

func TestInteropMosquittoCollectorAcrossKill(t *testing.T) {
	b := passwordBroker(t, t.TempDir())
	src := sessionSource(t, b, "gl001-collected")
	sink := newCollector()
	col, err := scada.NewCollector(scada.CollectorConfig{
		Sink:    sink,
		Backoff: resilience.Backoff{Initial: 20 * time.Millisecond, Max: 500 * time.Millisecond},
		Breaker: resilience.BreakerConfig{FailureThreshold: -1}, // keep retrying while the broker is down
		Secrets: []string{interopPassword},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer col.Close()
	const name = "boilerhouse-mqtt"
	if err := col.Add(name, src); err != nil {
		t.Fatal(err)
	}
	// NotifyConnected comes after SUBACK, so a connected health means the
	// subscription is in place.
	eventually(t, "connected health", func() bool {
		h, ok := col.HealthOf(name)
		return ok && h.State == resilience.StateConnected
	})
	pub := tcpPublisher(t, b, "edge-collected-1")
	pub.publish("plant/boiler1/before", "1", 1)
	sink.waitTags(t, "boiler1.before")

	// A crash: no DISCONNECT, no persistence written, the session is gone.
	b.stop(syscall.SIGKILL)
	eventually(t, "the lost connection in health", func() bool {
		h, _ := col.HealthOf(name)
		return h.State != resilience.StateConnected && h.LastError != ""
	})
	b.start()
	eventually(t, "a counted reconnect", func() bool {
		h, _ := col.HealthOf(name)
		return h.State == resilience.StateConnected && h.Reconnects >= 1
	})
	pub = tcpPublisher(t, b, "edge-collected-2")
	pub.publish("plant/boiler1/after", "2", 1)
	got := sink.waitTags(t, "boiler1.after")
	if p := got["boiler1.after"]; p.Value != 2 || p.Source != name || !p.Quality.IsGood() {
		t.Errorf("after the restart: %+v", p)
	}
	h, _ := col.HealthOf(name)
	if !strings.Contains(h.LastError, "connection") || strings.Contains(h.LastError, interopPassword) {
		t.Errorf("LastError = %q, want the lost connection without the password", h.LastError)
	}
	if st := src.Stats(); st.SessionPresent || st.Connects < 2 {
		t.Errorf("stats = %+v, want a new session after the crash", st)
	}
	t.Logf("health after the kill: reconnects=%d attempts=%d last error %q", h.Reconnects, h.Attempts, h.LastError)
}
