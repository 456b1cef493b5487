package guard_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"

	"github.com/greenlang/gl001/scada"
	"github.com/greenlang/gl001/scada/guard"
	"github.com/greenlang/gl001/scada/guard/guardtest"
)

// condServer is a scada.ConditionAcker over an in-memory set of
// conditions with the rules of OPC UA Part 9: the event id must be the
// condition's newest, an acknowledged state cannot be acknowledged again,
// and every accepted call replaces the event id.
type condServer struct {
	mu    sync.Mutex
	conds map[string]*condState
	down  bool // the connection is lost
	calls int
}

type condState struct {
	eventID   []byte
	acked     bool
	confirmed bool
	comment   string
	seq       int
}

var errBadEventID = errors.New("BadEventIdUnknown")
var errAlready = errors.New("BadConditionBranchAlreadyAcked")

func newCondServer(ids ...string) *condServer {
	s := &condServer{conds: map[string]*condState{}}
	for _, id := range ids {
		s.conds[id] = &condState{eventID: []byte(id + "#0")}
	}
	return s
}

// event returns the newest event of condition id.
func (s *condServer) event(id string) scada.Event {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.conds[id]
	return scada.Event{Source: "boiler1", SourceNode: "ns=1;s=Boiler1.FlueTemp", Severity: 800, Message: "high",
		ID:        append([]byte(nil), c.eventID...),
		Condition: &scada.Condition{ID: id, Name: "FlueTempHigh", Active: true, Retain: true, Acknowledged: c.acked, Confirmed: c.confirmed}}
}

func (s *condServer) do(ev scada.Event, comment string, confirm bool) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls++
	if s.down {
		return fmt.Errorf("condserver: %w", scada.ErrConnection)
	}
	c, ok := s.conds[ev.Condition.ID]
	if !ok || !bytes.Equal(c.eventID, ev.ID) {
		return errBadEventID
	}
	if (!confirm && c.acked) || (confirm && c.confirmed) {
		return errAlready
	}
	if confirm {
		c.confirmed = true
	} else {
		c.acked = true
	}
	c.comment = comment
	c.seq++
	c.eventID = fmt.Appendf(nil, "%s#%d", ev.Condition.ID, c.seq)
	return nil
}

func (s *condServer) Acknowledge(_ context.Context, ev scada.Event, comment string) error {
	return s.do(ev, comment, false)
}

func (s *condServer) Confirm(_ context.Context, ev scada.Event, comment string) error {
	return s.do(ev, comment, true)
}

func (s *condServer) callCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls
}

// ackAudit collects an Acks' JSON log and hook records.
type ackAudit struct {
	mu      sync.Mutex
	buf     bytes.Buffer
	records []guard.AckRecord
}

func (a *ackAudit) Write(p []byte) (int, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.buf.Write(p)
}

// lines returns the audit log's records.
func (a *ackAudit) lines(t *testing.T) []map[string]any {
	t.Helper()
	a.mu.Lock()
	defer a.mu.Unlock()
	var out []map[string]any
	for _, l := range strings.Split(strings.TrimSpace(a.buf.String()), "\n") {
		if l == "" {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("audit line %q: %v", l, err)
		}
		out = append(out, m)
	}
	return out
}

func newAcks(t *testing.T, srv *condServer, mut func(*guard.AckConfig)) (*guard.Acks, *ackAudit) {
	t.Helper()
	a := &ackAudit{}
	cfg := guard.AckConfig{
		Acker:  srv,
		Rules:  []guard.Rule{{Requesters: []string{"operator-*"}, Tags: []string{"ns=1;s=Boiler1.*"}}},
		Logger: slog.New(slog.NewJSONHandler(a, nil)),
		OnAudit: func(r guard.AckRecord) {
			a.mu.Lock()
			a.records = append(a.records, r)
			a.mu.Unlock()
		},
	}
	if mut != nil {
		mut(&cfg)
	}
	acks, err := guard.NewAcks(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return acks, a
}

func TestAckAccepted(t *testing.T) {
	srv := newCondServer("ns=1;s=Boiler1.FlueTempAlarm")
	acks, audit := newAcks(t, srv, nil)
	ev := srv.event("ns=1;s=Boiler1.FlueTempAlarm")
	rec, err := acks.Apply(context.Background(), guard.AckRequest{Requester: "operator-7", Ref: "ticket-1", Action: guard.Acknowledge, Event: ev, Comment: "seen"})
	if err != nil || rec.Result != guard.Accepted {
		t.Fatalf("acknowledge: %v %v", rec.Result, err)
	}
	if got := srv.event("ns=1;s=Boiler1.FlueTempAlarm"); !got.Condition.Acknowledged {
		t.Fatal("the server's condition is not acknowledged")
	}
	if rec.Condition != "ns=1;s=Boiler1.FlueTempAlarm" || rec.ConditionName != "FlueTempHigh" || rec.Source != "boiler1" || rec.Comment != "seen" || rec.Ref != "ticket-1" {
		t.Errorf("audit record %+v", rec)
	}
	// Confirm needs the newest event id: the acknowledgement replaced it.
	_, err = acks.Apply(context.Background(), guard.AckRequest{Requester: "operator-7", Action: guard.Confirm, Event: ev})
	var ge *guard.Error
	if !errors.Is(err, guard.ErrCallFailed) || !errors.Is(err, errBadEventID) || !errors.As(err, &ge) || ge.Action != "confirm" || ge.Tag != "ns=1;s=Boiler1.FlueTempAlarm" {
		t.Fatalf("confirm with a stale event id: %v", err)
	}
	if !strings.Contains(err.Error(), `guard: confirm "ns=1;s=Boiler1.FlueTempAlarm" by "operator-7": call_failed`) {
		t.Errorf("error text %q", err)
	}
	rec, err = acks.Apply(context.Background(), guard.AckRequest{Requester: "operator-7", Action: guard.Confirm, Event: srv.event("ns=1;s=Boiler1.FlueTempAlarm")})
	if err != nil || rec.Result != guard.Accepted || !srv.event("ns=1;s=Boiler1.FlueTempAlarm").Condition.Confirmed {
		t.Fatalf("confirm: %v %v", rec.Result, err)
	}
	st := acks.Stats()
	if st.Attempts != 3 || st.ByResult[guard.Accepted] != 2 || st.ByResult[guard.CallFailed] != 1 {
		t.Errorf("stats %+v", st)
	}
	lines := audit.lines(t)
	if len(lines) != 3 || len(audit.records) != 3 {
		t.Fatalf("%d audit lines, %d hook records for 3 attempts", len(lines), len(audit.records))
	}
	for _, l := range lines {
		for _, k := range []string{"requester", "action", "condition", "result", "duration"} {
			if _, ok := l[k]; !ok {
				t.Errorf("audit line without %s: %v", k, l)
			}
		}
		if l["msg"] != "scada condition ack" {
			t.Errorf("audit message %v", l["msg"])
		}
	}
	if lines[0]["level"] != "INFO" || lines[1]["level"] != "WARN" || lines[0]["comment"] != "seen" {
		t.Errorf("audit lines %v", lines)
	}
}

func TestAckRefusals(t *testing.T) {
	const id = "ns=1;s=Boiler1.FlueTempAlarm"
	srv := newCondServer(id)
	acks, audit := newAcks(t, srv, func(c *guard.AckConfig) {
		c.Rules = append([]guard.Rule{{Requesters: []string{"operator-9"}, Deny: true}}, c.Rules...)
	})
	ev := srv.event(id)
	noCond := ev
	noCond.Condition = nil
	noCondID := ev
	noCondID.Condition = &scada.Condition{Name: "x"}
	noEventID := ev
	noEventID.ID = nil
	other := ev
	other.SourceNode = "ns=1;s=Boiler2.FlueTemp"
	other.Condition = &scada.Condition{ID: "ns=1;s=Boiler2.Alarm", Name: "B2"}
	cases := []struct {
		name string
		req  guard.AckRequest
		want error
	}{
		{"no requester", guard.AckRequest{Action: guard.Acknowledge, Event: ev}, guard.ErrNotPermitted},
		{"denied requester", guard.AckRequest{Requester: "operator-9", Action: guard.Acknowledge, Event: ev}, guard.ErrNotPermitted},
		{"no matching rule", guard.AckRequest{Requester: "GL-042", Action: guard.Acknowledge, Event: ev}, guard.ErrNotPermitted},
		{"condition outside the rules", guard.AckRequest{Requester: "operator-1", Action: guard.Acknowledge, Event: other}, guard.ErrNotPermitted},
		{"unknown action", guard.AckRequest{Requester: "operator-1", Event: ev}, guard.ErrNotPermitted},
		{"no condition", guard.AckRequest{Requester: "operator-1", Action: guard.Acknowledge, Event: noCond}, guard.ErrNotCondition},
		{"no condition id", guard.AckRequest{Requester: "operator-1", Action: guard.Acknowledge, Event: noCondID}, guard.ErrNotCondition},
		{"no event id", guard.AckRequest{Requester: "operator-1", Action: guard.Confirm, Event: noEventID}, guard.ErrNotCondition},
	}
	for _, c := range cases {
		rec, err := acks.Apply(context.Background(), c.req)
		var ge *guard.Error
		if !errors.Is(err, c.want) || !errors.As(err, &ge) || rec.Result.OK() || rec.Detail == "" {
			t.Errorf("%s: %v (%v)", c.name, err, rec.Result)
		}
	}
	if n := srv.callCount(); n != 0 {
		t.Errorf("refused requests reached the server %d times", n)
	}
	if n := len(audit.lines(t)); n != len(cases) || len(audit.records) != len(cases) {
		t.Errorf("%d audit lines for %d attempts", n, len(cases))
	}
	// Matched by name: a rule on the condition's name.
	acks2, _ := newAcks(t, srv, func(c *guard.AckConfig) { c.Rules = []guard.Rule{{Tags: []string{"FlueTemp*"}}} })
	if _, err := acks2.Apply(context.Background(), guard.AckRequest{Requester: "anyone", Action: guard.Acknowledge, Event: ev}); err != nil {
		t.Errorf("a rule on the condition name: %v", err)
	}
}

func TestAckDisconnected(t *testing.T) {
	const id = "ns=1;s=Boiler1.FlueTempAlarm"
	srv := newCondServer(id)
	var connected bool
	acks, audit := newAcks(t, srv, func(c *guard.AckConfig) { c.Connected = func() bool { return connected } })
	req := guard.AckRequest{Requester: "operator-1", Action: guard.Acknowledge, Event: srv.event(id)}
	rec, err := acks.Apply(context.Background(), req)
	if !errors.Is(err, guard.ErrDisconnected) || !errors.Is(err, scada.ErrConnection) || rec.Result != guard.Disconnected {
		t.Fatalf("while not connected: %v", err)
	}
	if srv.callCount() != 0 {
		t.Fatal("a request while disconnected reached the server")
	}
	// The health says connected, but the connection is found lost by the
	// call itself: refused as Disconnected, nothing retried later.
	connected = true
	srv.mu.Lock()
	srv.down = true
	srv.mu.Unlock()
	rec, err = acks.Apply(context.Background(), req)
	var ge *guard.Error
	if !errors.Is(err, guard.ErrDisconnected) || !errors.As(err, &ge) || ge.Err == nil || rec.Result != guard.Disconnected {
		t.Fatalf("connection lost during the call: %v", err)
	}
	srv.mu.Lock()
	srv.down = false
	srv.mu.Unlock()
	if srv.callCount() != 1 || srv.event(id).Condition.Acknowledged {
		t.Fatalf("calls %d: something was queued or retried", srv.callCount())
	}
	if n := len(audit.lines(t)); n != 2 {
		t.Errorf("%d audit lines for 2 attempts", n)
	}
}

func TestAckDryRunAndCanceled(t *testing.T) {
	const id = "ns=1;s=Boiler1.FlueTempAlarm"
	srv := newCondServer(id)
	acks, audit := newAcks(t, srv, func(c *guard.AckConfig) { c.DryRun = true })
	rec, err := acks.Apply(context.Background(), guard.AckRequest{Requester: "operator-1", Action: guard.Acknowledge, Event: srv.event(id)})
	if err != nil || rec.Result != guard.DryRun || srv.callCount() != 0 {
		t.Fatalf("dry run: %v %v, %d calls", rec.Result, err, srv.callCount())
	}
	acks, _ = newAcks(t, srv, nil)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err = acks.Apply(ctx, guard.AckRequest{Requester: "operator-1", Action: guard.Acknowledge, Event: srv.event(id)})
	if !errors.Is(err, guard.ErrCanceled) || !errors.Is(err, context.Canceled) || srv.callCount() != 0 {
		t.Fatalf("canceled: %v", err)
	}
	if n := len(audit.lines(t)); n != 1 {
		t.Errorf("dry run: %d audit lines", n)
	}
}

func TestAcksAs(t *testing.T) {
	const id = "ns=1;s=Boiler1.FlueTempAlarm"
	srv := newCondServer(id)
	acks, _ := newAcks(t, srv, nil)
	var acker scada.ConditionAcker = acks.As("operator-3")
	if err := acker.Acknowledge(context.Background(), srv.event(id), "ok"); err != nil {
		t.Fatal(err)
	}
	if err := acker.Acknowledge(context.Background(), srv.event(id), "again"); !errors.Is(err, guard.ErrCallFailed) || !errors.Is(err, errAlready) {
		t.Fatalf("second acknowledge: %v", err)
	}
	if err := acker.Confirm(context.Background(), srv.event(id), "done"); err != nil {
		t.Fatal(err)
	}
	if err := acks.As("GL-042").Confirm(context.Background(), srv.event(id), ""); !errors.Is(err, guard.ErrNotPermitted) {
		t.Fatalf("unpermitted requester: %v", err)
	}
}

func TestAckConfigValidate(t *testing.T) {
	err := guard.AckConfig{Rules: []guard.Rule{{Tags: []string{"["}}}}.Validate()
	if !errors.Is(err, guard.ErrBadConfig) || !strings.Contains(err.Error(), "no Acker") || !strings.Contains(err.Error(), `pattern "["`) {
		t.Fatalf("Validate: %v", err)
	}
	if _, err := guard.NewAcks(guard.AckConfig{}); !errors.Is(err, guard.ErrBadConfig) {
		t.Fatalf("NewAcks: %v", err)
	}
	if guard.Acknowledge.String() != "acknowledge" || guard.Confirm.String() != "confirm" || guard.Action(9).String() != "action(9)" {
		t.Error("Action names")
	}
	for _, r := range []guard.Result{guard.Accepted, guard.NotCondition, guard.CallFailed} {
		if strings.HasPrefix(r.String(), "result(") {
			t.Errorf("result %d has no name", r)
		}
	}
	if !guard.Accepted.OK() || !guard.Accepted.Written() || guard.CallFailed.OK() || !guard.CallFailed.Written() || guard.NotCondition.Written() {
		t.Error("OK and Written of the acknowledge results")
	}
}

// An operator acknowledges an alarm through the guard; a second
// acknowledgement of the same state is refused by the server, and an
// agent without a rule is refused by the guard.
func ExampleAcks() {
	srv := newCondServer("ns=1;s=Boiler1.FlueTempAlarm") // stands in for an opcua.Source
	acks, err := guard.NewAcks(guard.AckConfig{
		Acker: srv,
		Rules: []guard.Rule{{Requesters: []string{"operator-*"}, Tags: []string{"ns=1;s=Boiler1.*"}}},
		OnAudit: func(r guard.AckRecord) {
			fmt.Printf("audit: %s %s %s: %s\n", r.Requester, r.Action, r.ConditionName, r.Result)
		},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	ctx := context.Background()
	ev := srv.event("ns=1;s=Boiler1.FlueTempAlarm") // the newest event of the alarm, as the Source delivered it
	_, err = acks.Apply(ctx, guard.AckRequest{Requester: "operator-7", Action: guard.Acknowledge, Event: ev, Comment: "seen"})
	fmt.Println(err)
	_, err = acks.Apply(ctx, guard.AckRequest{Requester: "GL-042", Action: guard.Acknowledge, Event: ev})
	fmt.Println(errors.Is(err, guard.ErrNotPermitted))
	// Output:
	// audit: operator-7 acknowledge FlueTempHigh: accepted
	// <nil>
	// audit: GL-042 acknowledge FlueTempHigh: not_permitted
	// true
}

// The acknowledge suite of guardtest, against the in-memory condition
// server (the node-opcua interop tier runs it against a real server).
func TestRunAcksSuite(t *testing.T) {
	const id = "ns=1;s=Boiler1.FlueTempAlarm"
	srv := newCondServer(id)
	guardtest.RunAcks(t, guardtest.AckDevice{
		Acker: srv, Condition: "FlueTempHigh",
		Latest: func() (scada.Event, bool) { return srv.event(id), true },
	})
	if c := srv.event(id).Condition; !c.Acknowledged || !c.Confirmed {
		t.Errorf("after the suite: %+v", c)
	}
}
