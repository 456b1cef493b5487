package opcua

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"
)

func validConfig() Config {
	return Config{
		Endpoint:       "opc.tcp://plc1:4840",
		SecurityPolicy: PolicyNone,
		SecurityMode:   ModeNone,
		Tags:           []Tag{{Name: "t", NodeID: "ns=2;s=Boiler1.Temp"}},
	}
}

func TestValidateCollectsEveryProblem(t *testing.T) {
	cfg := Config{
		Endpoint: "http://plc1",
		Auth:     AuthUsername,
		Tags: []Tag{
			{Name: "a", NodeID: "ns=2;i=1001"},
			{Name: "a", NodeID: "ns=2;s=x"},
			{Name: "", NodeID: "nsu=urn:plant;s=Boiler1.Temp"},
			{Name: "b", NodeID: "ns=x;i=1"},
			{Name: "c", NodeID: ""},
		},
		DeadbandType: DeadbandPercent, Deadband: 150,
		PollInterval: -1,
	}
	err := cfg.Validate()
	if err == nil {
		t.Fatal("Validate accepted a broken config")
	}
	for _, want := range []string{
		"opc.tcp:// URL", "SecurityPolicy is required", "SecurityMode is required", "Username is required",
		"Password is required", `duplicate tag name "a"`, "Tags[2]: Name is required", "Tags[3] (b)",
		"Tags[4] (c): NodeID is required", "at most 100", "PollInterval must not be negative",
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("Validate error lacks %q:\n%v", want, err)
		}
	}
}

func TestValidateSecurity(t *testing.T) {
	cfg := validConfig()
	if err := cfg.Validate(); err != nil {
		t.Fatalf("explicit None rejected: %v", err)
	}
	cfg.SecurityPolicy = PolicyBasic256Sha256
	err := cfg.Validate()
	for _, want := range []string{"both must be None, or neither", "CertFile is required", "KeyFile is required", "CAFile is required"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Basic256Sha256 with mode None: error lacks %q: %v", want, err)
		}
	}
	cfg.SecurityMode = ModeSignAndEncrypt
	cfg.CertFile, cfg.KeyFile, cfg.CAFile = "c.pem", "k.pem", "ca.pem"
	if err := cfg.Validate(); err != nil {
		t.Fatalf("complete secure config rejected: %v", err)
	}
	cfg.SecurityPolicy = "Basic128Rsa15"
	if err := cfg.Validate(); err == nil || !strings.Contains(err.Error(), "not supported") {
		t.Errorf("deprecated policy accepted: %v", err)
	}
}

func TestFromEnv(t *testing.T) {
	t.Setenv(EnvCertPath, "/etc/gl001/client.pem")
	t.Setenv(EnvKeyPath, "/etc/gl001/client.key")
	t.Setenv(EnvCAPath, "/etc/gl001/servers.pem")
	t.Setenv(EnvPassword, "from-env")
	cfg := validConfig()
	cfg.KeyFile = "/explicit.key"
	got := cfg.FromEnv()
	if got.CertFile != "/etc/gl001/client.pem" || got.KeyFile != "/explicit.key" || got.CAFile != "/etc/gl001/servers.pem" || got.Password != "from-env" {
		t.Fatalf("FromEnv = %+v", got)
	}
	if cfg.CertFile != "" {
		t.Fatal("FromEnv changed its receiver")
	}
}

func TestSecretNeverPrints(t *testing.T) {
	cfg := validConfig()
	cfg.Password = "hunter2"
	var buf bytes.Buffer
	slog.New(slog.NewTextHandler(&buf, nil)).Info("cfg", "password", cfg.Password, "cfg", cfg)
	for _, s := range []string{fmt.Sprint(cfg), fmt.Sprintf("%+v", cfg), fmt.Sprintf("%#v", cfg), fmt.Sprint(cfg.Password), buf.String()} {
		if strings.Contains(s, "hunter2") {
			t.Fatalf("password printed: %s", s)
		}
	}
}

func TestNewReportsUnreadableFiles(t *testing.T) {
	cfg := validConfig()
	cfg.SecurityPolicy, cfg.SecurityMode = PolicyBasic256Sha256, ModeSign
	cfg.CertFile, cfg.KeyFile, cfg.CAFile = "/nonexistent/c.pem", "/nonexistent/k.pem", "/nonexistent/ca.pem"
	_, err := New(cfg)
	for _, want := range []string{"client certificate", "client key", "trusted certificates"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("New error lacks %q: %v", want, err)
		}
	}
	if _, err := New(Config{}); err == nil {
		t.Error("New accepted an empty config")
	}
	var joined interface{ Unwrap() []error }
	if err := (Config{}).Validate(); !errors.As(err, &joined) || len(joined.Unwrap()) < 4 {
		t.Errorf("Validate did not join its errors: %v", err)
	}
}
