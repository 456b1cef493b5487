//go:build interop

package opcua_test

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/greenlang/gl001/scada"
	"github.com/greenlang/gl001/scada/opcua"
)

// benchCert writes a self-signed application certificate and key, as
// writeCert does, for a benchmark.
func benchCert(b *testing.B, dir, name, appURI string) (string, string) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		b.Fatal(err)
	}
	uri, _ := url.Parse(appURI)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageContentCommitment | x509.KeyUsageKeyEncipherment | x509.KeyUsageDataEncipherment | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		BasicConstraintsValid: true, URIs: []*url.URL{uri}, DNSNames: []string{"localhost"}, IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		b.Fatal(err)
	}
	c, k := filepath.Join(dir, name+".pem"), filepath.Join(dir, name+".key")
	os.WriteFile(c, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600)
	os.WriteFile(k, pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)}), 0o600)
	return c, k
}

func benchConfig(b *testing.B, env ...string) (opcua.Config, nodeProc) {
	dir := b.TempDir()
	cert, key := benchCert(b, dir, "server", "urn:gl001:interop:server")
	srv := startNodeAt(b, cert, key, filepath.Join(dir, "pki"), 0, env...)
	ccert, ckey := benchCert(b, dir, "client", "urn:gl001:interop:client")
	return opcua.Config{
		Name: "node-opcua", Endpoint: srv.endpoint,
		SecurityPolicy: opcua.PolicyBasic256Sha256, SecurityMode: opcua.ModeSign,
		CertFile: ccert, KeyFile: ckey, CAFile: cert,
		Auth: opcua.AuthUsername, Username: interopUser, Password: interopPassword,
		SamplingInterval: 50 * time.Millisecond, PublishingInterval: 50 * time.Millisecond,
		RequestTimeout: 30 * time.Second,
	}, srv
}

// cpuTime is the process's user and system CPU time so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// runBench runs src until the benchmark ends.
func runBench(b *testing.B, src *opcua.Source, sink scada.Sink) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); src.Run(ctx, sink) }()
	b.Cleanup(func() { cancel(); <-done })
	deadline := time.Now().Add(time.Minute)
	for !src.Stats().Connected || src.Stats().MonitoredItems == 0 {
		if time.Now().After(deadline) {
			b.Fatalf("not connected: %+v", src.Stats())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// BenchmarkOPCUAEvents measures events from one event subscription (the
// Server object) into an EventSink: node-opcua raises bursts of 1,000
// events, and the benchmark waits for each burst to arrive.
//
//   - events/s: events delivered per second of wall time.
//   - client-µs/event: CPU time of this process (the client: gopcua, the
//     mapping, the sink; node-opcua runs in its own process) per event.
func BenchmarkOPCUAEvents(b *testing.B) {
	cfg, _ := benchConfig(b)
	var got atomic.Int64
	cfg.Tags = []opcua.Tag{{Name: "burst", NodeID: "ns=1;s=Boiler1.EventBurst", Writable: true}}
	cfg.Events = &opcua.EventConfig{QueueSize: 5000, Sink: scada.EventSinkFunc(func(_ context.Context, evs []scada.Event) error {
		for _, e := range evs {
			if e.Message == "burst" {
				got.Add(1)
			}
		}
		return nil
	})}
	src, err := opcua.New(cfg)
	if err != nil {
		b.Fatal(err)
	}
	runBench(b, src, newRecorder())
	for src.EventStats().EventItems == 0 {
		time.Sleep(10 * time.Millisecond)
	}
	const burst = 1000
	ctx := context.Background()
	var want int64
	start, cpu0 := time.Now(), cpuTime()
	for b.Loop() {
		want += burst
		if err := src.Write(ctx, "burst", burst); err != nil {
			b.Fatal(err)
		}
		deadline := time.Now().Add(time.Minute)
		for got.Load() < want {
			if time.Now().After(deadline) {
				b.Fatalf("%d of %d events: %+v", got.Load(), want, src.EventStats())
			}
			time.Sleep(time.Millisecond)
		}
	}
	elapsed, cpu := time.Since(start), cpuTime()-cpu0
	n := float64(got.Load())
	b.ReportMetric(n/elapsed.Seconds(), "events/s")
	b.ReportMetric(float64(cpu.Microseconds())/n, "client-µs/event")
	if st := src.EventStats(); st.BadEvents != 0 {
		b.Fatalf("stats = %+v", st)
	}
}

// BenchmarkOPCUAHistoryRead measures HistoryTags over node-opcua's
// history service: one day of 100 tags at 1 s (8.64 million points), read
// as one HistoryTags call over the running session, 100 nodes a request
// and 1,000 values a node and page. The server's synthetic historian
// computes each page when asked (value = k*1e6 + unix second mod 1e6), so
// a day costs it no memory, and every point is checked: its tag's next
// second, with the server's value.
//
//   - points/s: points read and checked per second of wall time.
//   - client-µs/point: CPU time of this process (gopcua, the mapping, the
//     check; node-opcua runs in its own process) per point.
func BenchmarkOPCUAHistoryRead(b *testing.B) {
	const tags, seconds = 100, 86400
	cfg, srv := benchConfig(b, "GL001_HISTORY_TAGS=100", "GL001_HISTORY_SECONDS=86400")
	cfg.Tags = nil
	names := make([]string, tags)
	index := make(map[string]int, tags)
	for k := range tags {
		names[k] = "h" + itoa(k)
		index[names[k]] = k
		cfg.Tags = append(cfg.Tags, opcua.Tag{Name: names[k], NodeID: "ns=1;s=Hist." + itoa(k), Unit: "kW"})
	}
	src, err := opcua.New(cfg)
	if err != nil {
		b.Fatal(err)
	}
	runBench(b, src, newRecorder())
	from, to := srv.historyStart, srv.historyStart.Add(seconds*time.Second)
	ctx := context.Background()
	var n int
	next := make([]int64, tags) // per tag, the unix second of the next point
	start, cpu0 := time.Now(), cpuTime()
	for b.Loop() {
		for k := range next {
			next[k] = from.Unix()
		}
		for p, err := range src.HistoryTags(ctx, names, from, to) {
			if err != nil {
				b.Fatal(err)
			}
			k := index[p.Tag]
			s := next[k]
			if p.Time.UnixNano() != s*1e9 || p.Value != float64(k*1000000+int(s%1000000)) {
				b.Fatalf("%s: %v at %v, want %v at %v", p.Tag, p.Value, p.Time, k*1000000+int(s%1000000), time.Unix(s, 0))
			}
			next[k]++
			n++
		}
		for k, s := range next {
			if s != to.Unix() {
				b.Fatalf("%s: history ends at %v, want %v", names[k], time.Unix(s, 0), to)
			}
		}
	}
	elapsed, cpu := time.Since(start), cpuTime()-cpu0
	b.ReportMetric(float64(n)/elapsed.Seconds(), "points/s")
	b.ReportMetric(float64(cpu.Microseconds())/float64(n), "client-µs/point")
	if st := src.EventStats(); st.HistoryErrors != 0 {
		b.Fatalf("stats = %+v", st)
	}
}

func itoa(k int) string { return big.NewInt(int64(k)).String() }
