package mqtt_test

import (
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/greenlang/gl001/scada/mqtt"
)

func TestConfigValidateReportsEveryProblem(t *testing.T) {
	err := mqtt.Config{
		Broker:         "http://user:pw@host",
		SessionExpiry:  -time.Second,
		KeepAlive:      time.Hour * 24,
		ConnectTimeout: -1,
		CertFile:       "client.pem",
		Subscriptions: []mqtt.Subscription{
			{Topic: "a/#/b", QoS: 3},
			{Topic: "plant/{site}", Tag: "{device}"},
		},
	}.Validate()
	if err == nil {
		t.Fatal("no error")
	}
	msg := err.Error()
	for _, want := range []string{
		`scheme "http"`, "must not carry credentials", "ClientID is required", "SessionExpiry", "KeepAlive",
		"ConnectTimeout", "CertFile and KeyFile", "QoS 3", "# must be the last level", "{device} is not a variable",
	} {
		if !strings.Contains(msg, want) {
			t.Errorf("missing %q in:\n%s", want, msg)
		}
	}
	if strings.Contains(msg, "pw@") {
		t.Errorf("the error shows the URL's password:\n%s", msg)
	}
	if err := (mqtt.Config{Broker: "mqtt://h", CAFile: "ca.pem", ClientID: "x", Subscriptions: []mqtt.Subscription{{Topic: "a"}}}).Validate(); err == nil {
		t.Error("TLS files with a plain mqtt:// broker passed")
	}
	if _, err := mqtt.New(mqtt.Config{Broker: "mqtts://h", ClientID: "x", CAFile: "/nonexistent/ca.pem", Subscriptions: []mqtt.Subscription{{Topic: "a"}}}); err == nil {
		t.Error("New accepted a missing CAFile")
	}
	if err := (mqtt.Config{Broker: "ws://h/mqtt", CleanStart: true, Subscriptions: []mqtt.Subscription{{Topic: "$share/g/a/+"}}}).Validate(); err != nil {
		t.Errorf("a valid config: %v", err)
	}
}

func TestConfigNeverShowsThePassword(t *testing.T) {
	cfg := mqtt.Config{Broker: "mqtts://h", ClientID: "x", Username: "u", Password: "hunter2-secret"}
	var sb strings.Builder
	slog.New(slog.NewTextHandler(&sb, nil)).Info("config", "cfg", cfg)
	for _, s := range []string{cfg.String(), fmt.Sprintf("%v %+v %s %#v", cfg, cfg, cfg, cfg), sb.String()} {
		if strings.Contains(s, "hunter2") {
			t.Errorf("password shown: %s", s)
		}
	}
}
