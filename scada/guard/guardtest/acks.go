package guardtest

import (
	"encoding/json"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/greenlang/gl001/scada"
	"github.com/greenlang/gl001/scada/guard"
)

// AckDevice is what the acknowledge suite works on: a server with real
// alarms (conditions), reached through a Source that acknowledges them and
// reports their events.
type AckDevice struct {
	// Acker acknowledges and confirms on the server (the Source).
	// Required.
	Acker scada.ConditionAcker
	// Condition is the name (Condition.Name) of a condition that is
	// active, not acknowledged and not confirmed when the suite starts, and
	// that supports Confirm. Required. The suite acknowledges and confirms
	// it: run it once per server start.
	Condition string
	// Latest returns the newest event of the condition the Source has
	// delivered so far (from an EventSink that records them), and whether
	// there is one. Required.
	Latest func() (scada.Event, bool)
	// Secrets must not appear in the audit log. Optional.
	Secrets []string
	// Within bounds the wait for the server to report a new state; zero
	// means 30 s.
	Within time.Duration
}

// RunAcks runs the acknowledge suite against d, in order (each step needs
// the state the one before left): refusals that leave the condition as it
// is, a dry run, an accepted acknowledgement the server then reports, a
// stale event id the server refuses, and an accepted confirm. Every
// attempt is audited once, without secrets.
func RunAcks(t *testing.T, d AckDevice) {
	t.Helper()
	within := d.Within
	if within == 0 {
		within = 30 * time.Second
	}
	a := &Audit{}
	var recs []guard.AckRecord
	newAcks := func(dry bool) *guard.Acks {
		acks, err := guard.NewAcks(guard.AckConfig{
			Acker: d.Acker, DryRun: dry,
			Rules:   []guard.Rule{{Requesters: []string{"operator-*"}, Tags: []string{d.Condition}}},
			Logger:  slog.New(slog.NewJSONHandler(a, nil)),
			OnAudit: func(r guard.AckRecord) { recs = append(recs, r) },
		})
		if err != nil {
			t.Fatal(err)
		}
		return acks
	}
	acks, dry := newAcks(false), newAcks(true)
	wait := func(what string, ok func(c *scada.Condition) bool) scada.Event {
		t.Helper()
		deadline := time.Now().Add(within)
		for {
			ev, seen := d.Latest()
			if seen && ev.Condition != nil && ok(ev.Condition) {
				return ev
			}
			if time.Now().After(deadline) {
				t.Fatalf("the server did not report %s within %v (last: %+v)", what, within, ev.Condition)
			}
			time.Sleep(20 * time.Millisecond) // waiting for a real server's event; the deadline bounds it
		}
	}
	c := ctx(t)
	ev := wait("the condition active and unacknowledged", func(c *scada.Condition) bool {
		return c.Active && !c.Acknowledged && !c.Confirmed
	})

	// Refused by the guard: nothing reaches the server.
	if _, err := acks.Apply(c, guard.AckRequest{Requester: "GL-042", Action: guard.Acknowledge, Event: ev}); !errors.Is(err, guard.ErrNotPermitted) {
		t.Fatalf("a requester no rule allows: %v", err)
	}
	noID := ev
	noID.ID = nil
	if _, err := acks.Apply(c, guard.AckRequest{Requester: "operator-1", Action: guard.Acknowledge, Event: noID}); !errors.Is(err, guard.ErrNotCondition) {
		t.Fatalf("an event without its event id: %v", err)
	}
	if rec, err := dry.Apply(c, guard.AckRequest{Requester: "operator-1", Action: guard.Acknowledge, Event: ev}); err != nil || rec.Result != guard.DryRun {
		t.Fatalf("dry run: %v %v", rec.Result, err)
	}

	// Accepted: the server reports the acknowledged state with a new
	// event id.
	rec, err := acks.Apply(c, guard.AckRequest{Requester: "operator-1", Action: guard.Acknowledge, Event: ev, Comment: "guardtest acknowledge"})
	if err != nil || rec.Result != guard.Accepted {
		t.Fatalf("acknowledge: %v %v", rec.Result, err)
	}
	acked := wait("the acknowledged state", func(c *scada.Condition) bool { return c.Acknowledged })
	if string(acked.ID) == string(ev.ID) {
		t.Error("the acknowledged state came with the old event id")
	}

	// A stale event id: the server refuses it, the guard says CallFailed
	// and wraps the server's error.
	_, err = acks.Apply(c, guard.AckRequest{Requester: "operator-1", Action: guard.Confirm, Event: ev})
	var ge *guard.Error
	if !errors.Is(err, guard.ErrCallFailed) || !errors.As(err, &ge) || ge.Err == nil {
		t.Fatalf("confirm with a stale event id: %v", err)
	}

	// Confirm with the newest event id.
	if err := acks.As("operator-1").Confirm(c, acked, "guardtest confirm"); err != nil {
		t.Fatalf("confirm: %v", err)
	}
	wait("the confirmed state", func(c *scada.Condition) bool { return c.Confirmed })

	// The audit: one record per attempt, none with a secret.
	const attempts = 6
	if len(recs) != attempts {
		t.Errorf("%d hook records for %d attempts", len(recs), attempts)
	}
	a.mu.Lock()
	log := a.buf.String()
	a.mu.Unlock()
	n, accepted := 0, 0
	for _, l := range strings.Split(strings.TrimSpace(log), "\n") {
		var m map[string]any
		if json.Unmarshal([]byte(l), &m) != nil || m["msg"] != "scada condition ack" {
			continue
		}
		n++
		if m["result"] == "accepted" {
			accepted++
		}
		for _, k := range []string{"requester", "action", "condition", "result", "duration"} {
			if _, ok := m[k]; !ok {
				t.Errorf("audit record without %s: %s", k, l)
			}
		}
	}
	if n != attempts || accepted != 2 {
		t.Errorf("audit: %d log records (%d accepted) for %d attempts (2 accepted)", n, accepted, attempts)
	}
	for _, s := range d.Secrets {
		if s != "" && strings.Contains(log, s) {
			t.Error("a secret appears in the audit log")
		}
	}
}
