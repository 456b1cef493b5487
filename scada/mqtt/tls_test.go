package mqtt_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/greenlang/gl001/scada"
	"github.com/greenlang/gl001/scada/mqtt"
	"github.com/greenlang/gl001/scada/scadatest"
)

// pki is a throw-away certificate authority with a server and a client
// certificate, written as PEM files into a test directory.
type pki struct {
	caFile, certFile, keyFile string // the client's files
	pool                      *x509.CertPool
	server                    tls.Certificate
}

func newPKI(t *testing.T) *pki {
	t.Helper()
	dir := t.TempDir()
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	caTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "gl001 test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	issue := func(cn string, usage x509.ExtKeyUsage) (certPEM, keyPEM []byte) {
		key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		tmpl := &x509.Certificate{
			SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: cn},
			NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
			KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{usage},
			IPAddresses: []net.IP{net.ParseIP("127.0.0.1")},
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
		if err != nil {
			t.Fatal(err)
		}
		kd, _ := x509.MarshalECPrivateKey(key)
		return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
			pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kd})
	}
	p := &pki{pool: x509.NewCertPool()}
	p.pool.AddCert(ca)
	sc, sk := issue("broker", x509.ExtKeyUsageServerAuth)
	if p.server, err = tls.X509KeyPair(sc, sk); err != nil {
		t.Fatal(err)
	}
	cc, ck := issue("gl001", x509.ExtKeyUsageClientAuth)
	write := func(name string, data []byte) string {
		f := filepath.Join(dir, name)
		if err := os.WriteFile(f, data, 0o600); err != nil {
			t.Fatal(err)
		}
		return f
	}
	p.caFile = write("ca.pem", pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}))
	p.certFile = write("client.pem", cc)
	p.keyFile = write("client-key.pem", ck)
	return p
}

func TestMutualTLS(t *testing.T) {
	p := newPKI(t)
	b := newBroker(t, scadatest.MQTTBrokerConfig{WebSocket: true, TLS: &tls.Config{
		Certificates: []tls.Certificate{p.server},
		ClientCAs:    p.pool,
		ClientAuth:   tls.RequireAndVerifyClientCert,
		MinVersion:   tls.VersionTLS13,
	}})
	for i, url := range []string{b.URL(), b.WebSocketURL()} {
		prefix := []string{"mqtts", "wss"}[i]
		t.Run(prefix, func(t *testing.T) {
			src := newSource(t, mqtt.Config{
				Broker: url, ClientID: "gl001-tls-" + prefix,
				CAFile: p.caFile, CertFile: p.certFile, KeyFile: p.keyFile,
				// One prefix per subtest: the first client's session outlives it.
				Subscriptions: []mqtt.Subscription{{Topic: prefix + "/{tag}", Tag: "{tag}", QoS: 1}},
			})
			sink := newCollector()
			stop := running(t, src, sink)
			eventually(t, "the TLS connection", func() bool { return src.Stats().Connected })
			waitSubscribed(t, b, i+1)
			for i := range 20 {
				publish(t, b, prefix+"/t"+itoa(i), itoa(i), 1)
			}
			if got := byTag(sink.wait(t, 20)); got["t19"].Value != 19 {
				t.Errorf("got %v", got)
			}
			eventually(t, "the broker to take the acks", func() bool { return b.Stats().Inflight == 0 })
			_ = stop()
		})
	}
}

func TestTLSDefaultsRefuseWeakerSetups(t *testing.T) {
	p := newPKI(t)
	// A broker that offers only TLS 1.2: refused unless the caller lowers the minimum.
	b := newBroker(t, scadatest.MQTTBrokerConfig{TLS: &tls.Config{
		Certificates: []tls.Certificate{p.server}, MaxVersion: tls.VersionTLS12,
	}})
	cfg := mqtt.Config{Broker: b.URL(), ClientID: "gl001-tls12", CAFile: p.caFile, Subscriptions: []mqtt.Subscription{{Topic: "x"}}}
	if err := newSource(t, cfg).Run(t.Context(), newCollector()); err == nil {
		t.Fatal("connected over TLS 1.2 by default")
	}
	cfg.TLS = &tls.Config{MinVersion: tls.VersionTLS12}
	src := newSource(t, cfg)
	running(t, src, newCollector())
	eventually(t, "the TLS 1.2 connection the caller allowed", func() bool { return src.Stats().Connected })

	// Without the CA the broker's certificate is not trusted.
	b13 := newBroker(t, scadatest.MQTTBrokerConfig{TLS: &tls.Config{Certificates: []tls.Certificate{p.server}}})
	untrusting := newSource(t, mqtt.Config{Broker: b13.URL(), ClientID: "gl001-noca", Subscriptions: []mqtt.Subscription{{Topic: "x"}}})
	var uerr x509.UnknownAuthorityError
	err := untrusting.Run(t.Context(), newCollector())
	if !errorsAs(err, &uerr) {
		t.Fatalf("Run without the CA = %v, want an unknown authority error", err)
	}
	if !errors.Is(err, scada.ErrPermanent) || !errors.Is(err, scada.ErrConnection) {
		t.Errorf("Run without the CA = %v, want it to match scada.ErrPermanent and ErrConnection", err)
	}
}
