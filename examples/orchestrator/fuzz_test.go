package main

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"

	"github.com/greenlang/gl001/scada"
)

// FuzzParseConfig feeds arbitrary text to the configuration parser and the
// validator: they return errors, never panic.
func FuzzParseConfig(f *testing.F) {
	sample, err := os.ReadFile("orchestrator.sample.toml")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(string(sample))
	f.Add(minimal)
	f.Add("[http]\nlisten = 8080\n")
	f.Add("[[erp]]\nkind = \"workday\"\nfetch = [\"energy\"]\nenergy_report = \"/\"\n")
	f.Add("[transform.limits.\"a\"]\nrange = [1.0, 0.0]\nflat_line = 1\n")
	f.Fuzz(func(t *testing.T, text string) {
		cfg, err := ParseConfig(text)
		if err != nil {
			return
		}
		_ = cfg.Validate(env(allSecrets))
		_ = cfg.Validate(env(nil))
	})
}

// recordingAcker is a scada.ConditionAcker that accepts everything and
// counts the calls, for the ack endpoint's fuzz test.
type recordingAcker struct{ calls int }

func (r *recordingAcker) Acknowledge(context.Context, scada.Event, string) error {
	r.calls++
	return nil
}
func (r *recordingAcker) Confirm(context.Context, scada.Event, string) error { r.calls++; return nil }

// FuzzAckRequest posts arbitrary bodies to POST /alarms/ack: every answer
// is JSON with a known status, never a panic, and the server is called
// only for a well-formed request on a condition in the table.
func FuzzAckRequest(f *testing.F) {
	f.Add(`{"requester":"operator-1","source":"b1","condition":"ns=1;s=A","action":"acknowledge","comment":"ok"}`)
	f.Add(`{"requester":"operator-1","source":"b1","condition":"ns=1;s=A","action":"confirm"}`)
	f.Add(`{"requester":"","source":"b1","condition":"ns=1;s=A"}`)
	f.Add(`{"requester":"x","source":"b1","condition":"ns=1;s=A","extra":1}`)
	f.Add(`{"source":["b1"]}`)
	f.Add(`not json`)
	f.Fuzz(func(t *testing.T, body string) {
		rec := &recordingAcker{}
		table := newAlarmTable(nil, slog.New(slog.DiscardHandler))
		ev := limitAlarm("ns=1;s=A", 1, 500, true, false, true)
		ev.Source = "b1"
		table.apply([]scada.Event{ev}, 0)
		a, err := newAcker(AlarmsConfig{Ack: true, Rules: []AlarmRuleConfig{{Requesters: []string{"operator-*"}}}},
			[]connector{{name: "b1", src: struct {
				scada.Source
				scada.ConditionAcker
			}{nil, rec}, events: true}}, testAckToken, func(string) bool { return true }, slog.New(slog.DiscardHandler))
		if err != nil {
			t.Fatal(err)
		}
		a.table = table
		req := httptest.NewRequest(http.MethodPost, "/alarms/ack", strings.NewReader(body))
		req.RemoteAddr = "127.0.0.1:5555"
		req.Header.Set("Authorization", "Bearer "+testAckToken)
		w := httptest.NewRecorder()
		a.serveAck(w, req)
		var ar ackResponse
		if err := json.Unmarshal(w.Body.Bytes(), &ar); err != nil || ar.Result == "" {
			t.Fatalf("answer %d is not a result: %q", w.Code, w.Body.String())
		}
		switch w.Code {
		case http.StatusOK:
			if rec.calls != 1 || ar.Result != "accepted" {
				t.Fatalf("200 %+v with %d calls", ar, rec.calls)
			}
		case http.StatusBadRequest, http.StatusForbidden, http.StatusNotFound, http.StatusUnprocessableEntity:
			if rec.calls != 0 {
				t.Fatalf("%d %+v reached the server", w.Code, ar)
			}
		default:
			t.Fatalf("status %d %+v", w.Code, ar)
		}
	})
}
