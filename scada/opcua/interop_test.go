//go:build interop

package opcua_test

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/greenlang/gl001/internal/nodeopcua"
	"github.com/greenlang/gl001/scada"
	"github.com/greenlang/gl001/scada/opcua"
)

// The interop tier runs against node-opcua, a third-party server that speaks
// what gopcua's server cannot: secure channels with Basic256Sha256 and user
// names. .ci/interop/opcua.sh installs it; a missing node or node-opcua is a
// failure here, never a skip.

const (
	interopUser     = "operator"
	interopPassword = "Interop-Pa55word!"
)

// writeCert writes a self-signed application instance certificate and its
// key (nodeopcua.WriteCert).
func writeCert(t *testing.T, dir, name, appURI string) (certFile, keyFile string) {
	t.Helper()
	return nodeopcua.WriteCert(t, dir, name, appURI)
}

type nodeServer struct {
	endpoint   string
	serverCert string
	dir        string
}

// startNodeOPCUA starts .ci/interop/opcua_server.mjs and waits for it to listen.
func startNodeOPCUA(t *testing.T) nodeServer {
	t.Helper()
	dir := t.TempDir()
	certFile, keyFile := writeCert(t, dir, "server", "urn:gl001:interop:server")
	p := startNodeAt(t, certFile, keyFile, filepath.Join(dir, "pki"), 0)
	return nodeServer{endpoint: p.endpoint, serverCert: certFile, dir: dir}
}

func secureConfig(t *testing.T, srv nodeServer, mode opcua.SecurityMode) opcua.Config {
	clientCert, clientKey := writeCert(t, t.TempDir(), "client", "urn:gl001:interop:client")
	return opcua.Config{
		Name:               "node-opcua",
		Endpoint:           srv.endpoint,
		SecurityPolicy:     opcua.PolicyBasic256Sha256,
		SecurityMode:       mode,
		CertFile:           clientCert,
		KeyFile:            clientKey,
		CAFile:             srv.serverCert,
		Auth:               opcua.AuthUsername,
		Username:           interopUser,
		Password:           interopPassword,
		SamplingInterval:   50 * time.Millisecond,
		PublishingInterval: 50 * time.Millisecond,
		Tags: []opcua.Tag{
			{Name: "steam_temp", NodeID: "nsu=urn:gl001:interop:server;s=Boiler1.SteamTemp"},
			{Name: "burner_on", NodeID: "ns=1;s=Boiler1.BurnerOn"},
			{Name: "stage", NodeID: "ns=1;s=Boiler1.Stage", Writable: true},
			{Name: "ghost", NodeID: "ns=1;s=Boiler1.NoSuchNode"}, // refused at CreateMonitoredItems
		},
	}
}

func TestInteropNodeOPCUA(t *testing.T) {
	srv := startNodeOPCUA(t)
	for _, mode := range []opcua.SecurityMode{opcua.ModeSign, opcua.ModeSignAndEncrypt} {
		t.Run("Basic256Sha256/"+string(mode), func(t *testing.T) {
			cfg := secureConfig(t, srv, mode)
			src, err := opcua.New(cfg)
			if err != nil {
				t.Fatal(err)
			}
			rec := newRecorder()
			stop, _, _ := run(t, src, rec)
			ps := rec.waitFor(t, "a rising steam temperature", func(ps []scada.Point) bool {
				return len(byTag(ps, "steam_temp")) >= 3 && len(byTag(ps, "burner_on")) >= 1
			})
			temps := byTag(ps, "steam_temp")
			for i, p := range temps {
				if !p.Quality.IsGood() || p.Unit != "°C" || p.Time.IsZero() {
					t.Fatalf("steam_temp point %d = %+v, want Good °C", i, p)
				}
				if i > 0 && p.Value < temps[i-1].Value {
					t.Fatalf("steam temperature went down: %v then %v", temps[i-1].Value, p.Value)
				}
			}
			if p := byTag(ps, "burner_on")[0]; p.Value != 1 || !p.Quality.IsGood() {
				t.Fatalf("burner_on = %+v", p)
			}
			if g := byTag(ps, "ghost"); len(g) != 1 || g[0].Quality.Code() != scada.BadNodeIDUnknown {
				t.Fatalf("ghost = %+v, want one BadNodeIdUnknown point", g)
			}

			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			if err := src.Write(ctx, "stage", 3); err != nil {
				t.Fatalf("Write over %s: %v", mode, err)
			}
			rec.waitFor(t, "the written stage", func(ps []scada.Point) bool {
				s := byTag(ps, "stage")
				return len(s) > 0 && s[len(s)-1].Value == 3
			})
			infos, err := src.Browse(ctx, "ns=1;s=Boiler1")
			if err != nil {
				t.Fatalf("Browse: %v", err)
			}
			found := false
			for _, ti := range infos {
				if ti.ID == "ns=1;s=Boiler1.SteamTemp" {
					found = ti.Unit == "°C" && ti.DataType == "Double" && !ti.Writable
				}
			}
			if !found {
				t.Fatalf("Browse = %+v, want SteamTemp as a read-only Double in °C", infos)
			}
			if err := stop(); !errors.Is(err, context.Canceled) {
				t.Fatalf("Run = %v, want context.Canceled", err)
			}
		})
	}

	// An absolute deadband goes to the server as a DataChangeFilter; node-opcua
	// applies it, so consecutive reported values differ by more than it.
	t.Run("absolute deadband", func(t *testing.T) {
		cfg := secureConfig(t, srv, opcua.ModeSignAndEncrypt)
		cfg.Tags = cfg.Tags[:1] // steam_temp, rising 0.5 every 20 ms
		cfg.DeadbandType, cfg.Deadband = opcua.DeadbandAbsolute, 3
		src, err := opcua.New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		rec := newRecorder()
		stop, _, _ := run(t, src, rec)
		ps := rec.waitFor(t, "six filtered values", func(ps []scada.Point) bool { return len(ps) >= 6 })
		stop()
		for i := 1; i < len(ps); i++ {
			if !ps[i].Quality.IsGood() || ps[i].Value-ps[i-1].Value <= 3 {
				t.Fatalf("values %v then %+v: the deadband of 3 was not applied", ps[i-1].Value, ps[i])
			}
		}
	})

	// The client certificate as the user identity (an X509 identity token).
	t.Run("certificate user", func(t *testing.T) {
		cfg := secureConfig(t, srv, opcua.ModeSignAndEncrypt)
		cfg.Auth, cfg.Username, cfg.Password = opcua.AuthCertificate, "", ""
		src, err := opcua.New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		rec := newRecorder()
		stop, _, _ := run(t, src, rec)
		rec.waitFor(t, "values with a certificate user", func(ps []scada.Point) bool { return len(byTag(ps, "steam_temp")) >= 2 })
		stop()
	})

	t.Run("wrong password refused", func(t *testing.T) {
		cfg := secureConfig(t, srv, opcua.ModeSignAndEncrypt)
		cfg.Password = "not-the-password-42"
		src, err := opcua.New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		err = src.Run(ctx, newRecorder())
		if !errors.Is(err, scada.ErrConnection) || !errors.Is(err, scada.ErrPermanent) || ctx.Err() != nil {
			t.Fatalf("Run with a wrong password = %v, want a permanent connection error", err)
		}
		if n := strings.Count(err.Error(), "(0x801F0000)"); n != 1 {
			t.Errorf("the status code appears %d times in %q, want once", n, err)
		}
		var se *opcua.StatusError
		if !errors.As(err, &se) || se.Code.Code() != scada.BadUserAccessDenied {
			t.Fatalf("Run with a wrong password = %v, want BadUserAccessDenied", err)
		}
		if strings.Contains(err.Error(), "not-the-password-42") || strings.Contains(err.Error(), interopPassword) {
			t.Fatalf("error leaks a password: %v", err)
		}
		if st := src.Stats(); st.Connects != 0 {
			t.Fatalf("stats = %+v, want no session", st)
		}
	})

	t.Run("untrusted server certificate refused", func(t *testing.T) {
		cfg := secureConfig(t, srv, opcua.ModeSign)
		other, _ := writeCert(t, t.TempDir(), "impostor", "urn:gl001:interop:server")
		cfg.CAFile = other
		src, err := opcua.New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		if err := src.Run(ctx, newRecorder()); !errors.Is(err, opcua.ErrUntrustedServer) || !errors.Is(err, scada.ErrPermanent) {
			t.Fatalf("Run against an untrusted server = %v, want ErrUntrustedServer, permanent", err)
		}
	})
}
