package coord_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"math"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/greenlang/gl001/coord"
)

type tempParams struct {
	Boiler string `json:"boiler"`
}

type tempReply struct {
	Temp   float64 `json:"temp"`
	Status string  `json:"status"`
}

// valueHandlers makes agent i answer "read_temp" with temp = i+1 and a status
// that is "ok" for all but every third agent.
func valueHandlers(i int, a *coord.Agent) error {
	return coord.Handle(a, "read_temp", func(_ context.Context, _ coord.Message, p tempParams) (tempReply, error) {
		if p.Boiler != "B-1" {
			return tempReply{}, errors.New("unknown boiler")
		}
		st := "ok"
		if i%3 == 2 {
			st = "check"
		}
		return tempReply{Temp: float64(i + 1), Status: st}, nil
	})
}

func TestBroadcastAggregations(t *testing.T) {
	f := newFleet(t, 9, fleetOpts{handlers: valueHandlers})
	ctx := context.Background()
	for _, tc := range []struct {
		agg   coord.Aggregation
		field string
		want  float64
		value string
	}{
		{coord.Average, "temp", 5, "5"},
		{coord.Sum, "temp", 45, "45"},
		{coord.Min, "temp", 1, "1"},
		{coord.Max, "temp", 9, "9"},
		{coord.Median, "temp", 5, "5"},
		{coord.Majority, "status", math.NaN(), `"ok"`},
	} {
		t.Run(tc.agg.String(), func(t *testing.T) {
			res, err := f.coord.Execute(ctx, coord.Command{
				Name: "read_temp", Query: true, Params: tempParams{"B-1"}, Aggregate: tc.agg, Field: tc.field,
			})
			if err != nil {
				t.Fatal(err)
			}
			if len(res.Answered) != 9 || res.Partial || len(res.TimedOut)+len(res.Failed) != 0 {
				t.Fatalf("answered %v, timed out %v, failed %v", res.Answered, res.TimedOut, res.Failed)
			}
			if string(res.Value) != tc.value {
				t.Errorf("Value = %s, want %s", res.Value, tc.value)
			}
			if !math.IsNaN(tc.want) && res.Number != tc.want {
				t.Errorf("Number = %v, want %v", res.Number, tc.want)
			}
			if tc.agg == coord.Majority && (res.Votes != 6 || !res.Consensus) {
				t.Errorf("Votes = %d, Consensus = %v; want 6, true", res.Votes, res.Consensus)
			}
		})
	}

	res, err := f.coord.Execute(ctx, coord.Command{Name: "read_temp", Params: tempParams{"B-1"}, Aggregate: coord.First, Field: "temp"})
	if err != nil || len(res.Replies) != 1 || res.Partial {
		t.Fatalf("First: %+v, %v", res, err)
	}
	if len(res.Answered)+len(res.TimedOut) != 9 {
		t.Errorf("First lists %d answered and %d not waited for, want 9 in all", len(res.Answered), len(res.TimedOut))
	}

	res, err = f.coord.Execute(ctx, coord.Command{Name: "read_temp", Params: tempParams{"B-1"}})
	if err != nil || len(res.Replies) != 9 || res.Value != nil {
		t.Fatalf("All: %+v, %v", res, err)
	}
	var r tempReply
	if err := res.Replies[0].Message.Decode(&r); err != nil || r.Temp == 0 {
		t.Errorf("decode reply: %v %+v", err, r)
	}

	// Every agent failing: all in Failed with the handler's reason.
	res, err = f.coord.Execute(ctx, coord.Command{Name: "read_temp", Params: tempParams{"B-9"}, Aggregate: coord.Average})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Failed) != 9 || !res.Partial || res.Value != nil || !math.IsNaN(res.Number) {
		t.Fatalf("failed = %v, value %s", res.Failed, res.Value)
	}
	if !errors.Is(res.Failed[0].Err, coord.ErrHandler) {
		t.Errorf("failure reason %v does not match ErrHandler", res.Failed[0].Err)
	}

	// A non-numeric value cannot be averaged: counted as failed, not fatal.
	res, err = f.coord.Execute(ctx, coord.Command{Name: "read_temp", Params: tempParams{"B-1"}, Aggregate: coord.Average, Field: "status"})
	if err != nil || len(res.Failed) != 9 || !errors.Is(res.Failed[0].Err, coord.ErrBadMessage) {
		t.Fatalf("non-numeric average: %+v, %v", res.Failed, err)
	}
}

func TestPartialResultOnTimeout(t *testing.T) {
	release := make(chan struct{})
	var releaseOnce sync.Once
	f := newFleet(t, 5, fleetOpts{handlers: func(i int, a *coord.Agent) error {
		return coord.Handle(a, "ping", func(ctx context.Context, _ coord.Message, _ struct{}) (int, error) {
			switch i {
			case 0: // slow: answers only after the deadline
				<-release
			case 1:
				return 0, coord.ErrUnknownCommand
			}
			return i, nil
		})
	}})
	t.Cleanup(func() { releaseOnce.Do(func() { close(release) }) })
	slow, failing := agentID(0), agentID(1)

	res, err := f.coord.Execute(context.Background(), coord.Command{Name: "ping", Timeout: 200 * time.Millisecond, Aggregate: coord.Sum})
	if err != nil {
		t.Fatalf("timeout is not an error: %v", err)
	}
	if !res.Partial || !slices.Equal(res.TimedOut, []string{slow}) {
		t.Fatalf("TimedOut = %v, want [%s]", res.TimedOut, slow)
	}
	if len(res.Failed) != 1 || res.Failed[0].Agent != failing || !errors.Is(res.Failed[0].Err, coord.ErrUnknownCommand) {
		t.Fatalf("Failed = %v", res.Failed)
	}
	if len(res.Answered) != 3 || res.Number != 2+3+4 {
		t.Fatalf("Answered = %v, Sum = %v", res.Answered, res.Number)
	}
	// The slow agent finishes after the deadline: it sends nothing, and
	// counts the message as expired.
	releaseOnce.Do(func() { close(release) })
	eventually(t, "expired message counted", func() bool { return f.agents[slow].Stats().Expired == 1 })
	if st := f.agents[slow].Stats(); st.Handled != 1 {
		t.Errorf("slow agent stats %+v", st)
	}
	if st := f.coord.Stats(); st.Late != 0 || st.Unexpected != 0 {
		t.Errorf("coordinator stats %+v", st)
	}

	st, _ := f.reg.Get(slow)
	if st.Perf.Failures != 1 || st.Perf.InFlight != 0 {
		t.Errorf("slow agent perf = %+v", st.Perf)
	}
}

func TestStallWindowEndsCollection(t *testing.T) {
	release := make(chan struct{})
	var releaseOnce sync.Once
	f := newFleet(t, 4, fleetOpts{handlers: func(i int, a *coord.Agent) error {
		return coord.Handle(a, "ping", func(ctx context.Context, _ coord.Message, _ struct{}) (int, error) {
			if i == 0 {
				<-release
			}
			return i, nil
		})
	}})
	t.Cleanup(func() { releaseOnce.Do(func() { close(release) }) })
	res, err := f.coord.Execute(context.Background(), coord.Command{Name: "ping", Timeout: time.Minute, Stall: 300 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if !res.Stalled || !slices.Contains(res.TimedOut, agentID(0)) || len(res.Answered)+len(res.TimedOut) != 4 {
		t.Fatalf("stalled %v, answered %v, timed out %v", res.Stalled, res.Answered, res.TimedOut)
	}
	if res.Elapsed >= time.Minute {
		t.Fatalf("collection ran to the timeout despite the stall window")
	}
}

func TestExpectedCountEndsCollection(t *testing.T) {
	f := newFleet(t, 6, fleetOpts{handlers: valueHandlers})
	res, err := f.coord.Execute(context.Background(), coord.Command{Name: "read_temp", Params: tempParams{"B-1"}, Timeout: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Answered) != 6 || res.Elapsed >= time.Minute || res.Stalled {
		t.Fatalf("answered %d after %v", len(res.Answered), res.Elapsed)
	}
}

func TestMaxParallel(t *testing.T) {
	var cur, peak atomic.Int32
	f := newFleet(t, 8, fleetOpts{handlers: func(i int, a *coord.Agent) error {
		return coord.Handle(a, "work", func(context.Context, coord.Message, struct{}) (int, error) {
			n := cur.Add(1)
			for {
				p := peak.Load()
				if n <= p || peak.CompareAndSwap(p, n) {
					break
				}
			}
			cur.Add(-1)
			return 1, nil
		})
	}})
	res, err := f.coord.Execute(context.Background(), coord.Command{Name: "work", MaxParallel: 2, Aggregate: coord.Sum})
	if err != nil || res.Number != 8 {
		t.Fatalf("%+v %v", res, err)
	}
	if p := peak.Load(); p > 2 {
		t.Fatalf("%d handlers ran at once, MaxParallel is 2", p)
	}
}

func TestStrategies(t *testing.T) {
	caps := [][]string{{"steam"}, {"steam", "flue-gas"}, {"flue-gas"}, nil}
	f := newFleet(t, 4, fleetOpts{
		agentCfg: func(i int, c *coord.AgentConfig) { c.Capabilities = caps[i] },
		handlers: func(i int, a *coord.Agent) error {
			return coord.Handle(a, "who", func(context.Context, coord.Message, struct{}) (int, error) { return i, nil })
		},
	})
	ctx := context.Background()
	seen := map[string]int{}
	for range 8 {
		res, err := f.coord.Execute(ctx, coord.Command{Name: "who", Strategy: coord.RoundRobin})
		if err != nil || len(res.Answered) != 1 {
			t.Fatalf("round robin: %+v %v", res, err)
		}
		seen[res.Answered[0]]++
	}
	for id := range f.agents {
		if seen[id] != 2 {
			t.Errorf("round robin: %s picked %d times of 8, want 2", id, seen[id])
		}
	}

	res, err := f.coord.Execute(ctx, coord.Command{Name: "who", Strategy: coord.CapabilityBased, Capability: "flue-gas"})
	if err != nil {
		t.Fatal(err)
	}
	got := slices.Sorted(slices.Values(res.Answered))
	if !slices.Equal(got, []string{agentID(1), agentID(2)}) {
		t.Errorf("capability flue-gas went to %v", got)
	}
	if _, err := f.coord.Execute(ctx, coord.Command{Name: "who", Strategy: coord.CapabilityBased, Capability: "none"}); !errors.Is(err, coord.ErrNoTargets) {
		t.Errorf("unknown capability: %v", err)
	}

	res, err = f.coord.Execute(ctx, coord.Command{Name: "who", Strategy: coord.LoadBalanced, Count: 2})
	if err != nil || len(res.Answered) != 2 {
		t.Fatalf("load balanced: %+v %v", res, err)
	}

	res, err = f.coord.Execute(ctx, coord.Command{Name: "who", Targets: []string{agentID(3), "GL-999"}})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(res.Answered, []string{agentID(3)}) || len(res.Failed) != 1 || !errors.Is(res.Failed[0].Err, coord.ErrUnknownAgent) {
		t.Errorf("explicit targets: answered %v, failed %v", res.Answered, res.Failed)
	}

	// Targets out of order are matched to their replies all the same.
	unsorted := []string{agentID(3), agentID(0), agentID(2), agentID(1)}
	res, err = f.coord.Execute(ctx, coord.Command{Name: "who", Targets: unsorted})
	if err != nil {
		t.Fatal(err)
	}
	if got := slices.Sorted(slices.Values(res.Answered)); !slices.Equal(got, slices.Sorted(slices.Values(unsorted))) || res.Partial {
		t.Errorf("unsorted targets: answered %v, failed %v, timed out %v", res.Answered, res.Failed, res.TimedOut)
	}
}

func TestPolicyAndAudit(t *testing.T) {
	var buf syncBuffer
	logger := slog.New(slog.NewJSONHandler(&buf, nil))
	policy := &coord.Policy{Rules: []coord.Rule{
		{Senders: []string{"GL-001"}, Commands: []string{"shutdown"}, Agents: []string{"GL-00[23]"}, Deny: true},
		{Senders: []string{"GL-001"}},
	}}
	f := newFleet(t, 3, fleetOpts{
		agentCfg: func(i int, c *coord.AgentConfig) { c.Policy, c.Logger = policy, logger },
		coordCfg: func(c *coord.CoordinatorConfig) { c.Logger = logger },
		handlers: func(i int, a *coord.Agent) error {
			return coord.Handle(a, "shutdown", func(context.Context, coord.Message, struct{}) (string, error) { return "bye", nil })
		},
	})
	res, err := f.coord.Execute(context.Background(), coord.Command{Name: "shutdown", ID: "cmd-42"})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(res.Answered, []string{agentID(2)}) || len(res.Failed) != 2 {
		t.Fatalf("answered %v failed %v", res.Answered, res.Failed)
	}
	for _, fl := range res.Failed {
		if !errors.Is(fl.Err, coord.ErrDenied) {
			t.Errorf("%s: %v, want ErrDenied", fl.Agent, fl.Err)
		}
	}
	if f.agents[agentID(0)].Stats().Denied != 1 {
		t.Errorf("denial not counted: %+v", f.agents[agentID(0)].Stats())
	}
	actions := map[string]int{}
	for line := range bytes.Lines(buf.Bytes()) {
		var rec struct {
			Msg, Action, ID string
		}
		if err := json.Unmarshal(line, &rec); err != nil {
			t.Fatal(err)
		}
		if rec.Msg == "coord: audit" && rec.ID == "cmd-42" {
			actions[rec.Action]++
		}
	}
	if actions["sent"] != 1 || actions["denied"] != 2 || actions["answered"] != 1 {
		t.Errorf("audit records = %v", actions)
	}
}

// syncBuffer is a bytes.Buffer safe for the concurrent writes of a logger.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) Bytes() []byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	return bytes.Clone(s.b.Bytes())
}

func TestDedupeRetries(t *testing.T) {
	var runs atomic.Int32
	f := newFleet(t, 1, fleetOpts{handlers: func(i int, a *coord.Agent) error {
		return coord.Handle(a, "open_valve", func(context.Context, coord.Message, struct{}) (int32, error) {
			return runs.Add(1), nil
		})
	}})
	cmd := coord.Command{ID: "valve-7", Name: "open_valve", Aggregate: coord.First}
	for range 3 {
		res, err := f.coord.Execute(context.Background(), cmd)
		if err != nil || string(res.Value) != "1" {
			t.Fatalf("retry: %+v %v", res, err)
		}
	}
	if runs.Load() != 1 || f.agents[agentID(0)].Stats().Duplicates != 2 {
		t.Fatalf("handler ran %d times, duplicates %d", runs.Load(), f.agents[agentID(0)].Stats().Duplicates)
	}
	// Queries are not deduped.
	cmd.Query = true
	for range 2 {
		if _, err := f.coord.Execute(context.Background(), cmd); err != nil {
			t.Fatal(err)
		}
	}
	if runs.Load() != 3 {
		t.Fatalf("queries ran the handler %d times in all, want 3", runs.Load())
	}
}

func TestUnknownCommandAndBadParams(t *testing.T) {
	f := newFleet(t, 1, fleetOpts{handlers: valueHandlers})
	res, err := f.coord.Execute(context.Background(), coord.Command{Name: "no_such"})
	if err != nil || len(res.Failed) != 1 || !errors.Is(res.Failed[0].Err, coord.ErrUnknownCommand) {
		t.Fatalf("%+v %v", res, err)
	}
	res, err = f.coord.Execute(context.Background(), coord.Command{Name: "read_temp", Params: json.RawMessage(`{"boiler":7}`)})
	if err != nil || len(res.Failed) != 1 || !errors.Is(res.Failed[0].Err, coord.ErrBadMessage) {
		t.Fatalf("%+v %v", res, err)
	}
	if _, err := f.coord.Execute(context.Background(), coord.Command{Name: "x", Params: json.RawMessage(`{`)}); !errors.Is(err, coord.ErrBadMessage) {
		t.Errorf("invalid raw params: %v", err)
	}
	if _, err := f.coord.Execute(context.Background(), coord.Command{}); !errors.Is(err, coord.ErrBadConfig) {
		t.Errorf("empty command: %v", err)
	}
}

func TestExecuteCancelled(t *testing.T) {
	release := make(chan struct{})
	f := newFleet(t, 2, fleetOpts{handlers: func(i int, a *coord.Agent) error {
		return coord.Handle(a, "hang", func(ctx context.Context, _ coord.Message, _ struct{}) (int, error) {
			select {
			case <-release:
			case <-ctx.Done():
			}
			return 0, nil
		})
	}})
	defer close(release)
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	var res *coord.Result
	go func() {
		var err error
		res, err = f.coord.Execute(ctx, coord.Command{Name: "hang", Timeout: time.Minute})
		errc <- err
	}()
	eventually(t, "commands in flight", func() bool {
		n := 0
		for _, a := range f.reg.Agents() {
			n += a.Perf.InFlight
		}
		return n == 2
	})
	cancel()
	if err := <-errc; !errors.Is(err, context.Canceled) {
		t.Fatalf("Execute = %v, want context.Canceled", err)
	}
	if len(res.Failed) != 2 || !errors.Is(res.Failed[0].Err, context.Canceled) {
		t.Fatalf("Failed = %v", res.Failed)
	}
}

func TestCoordinatorClose(t *testing.T) {
	f := newFleet(t, 1, fleetOpts{handlers: valueHandlers})
	if err := f.coord.Close(); err != nil {
		t.Fatal(err)
	}
	if err := f.coord.Close(); !errors.Is(err, coord.ErrClosed) {
		t.Errorf("second Close = %v", err)
	}
	if _, err := f.coord.Execute(context.Background(), coord.Command{Name: "read_temp"}); !errors.Is(err, coord.ErrClosed) {
		t.Errorf("Execute after Close = %v", err)
	}
}

func TestConfigValidation(t *testing.T) {
	_, err := coord.NewCoordinator(coord.CoordinatorConfig{ID: "GL.1", Timeout: -1})
	for _, want := range []string{"Bus is nil", "Registry is nil", "one subject token", "must be >= 0"} {
		if err == nil || !bytes.Contains([]byte(err.Error()), []byte(want)) {
			t.Errorf("Validate misses %q: %v", want, err)
		}
	}
	if !errors.Is(err, coord.ErrBadConfig) {
		t.Errorf("not ErrBadConfig: %v", err)
	}
	bus, err := coord.NewLocalBus(coord.LocalBusConfig{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := coord.NewAgent(coord.AgentConfig{ID: "GL-002", Bus: bus,
		Policy: &coord.Policy{Rules: []coord.Rule{{Senders: []string{"["}}}}}); !errors.Is(err, coord.ErrBadConfig) {
		t.Errorf("bad policy pattern: %v", err)
	}
	if _, err := coord.NewRegistry(coord.RegistryConfig{SuspectAfter: 5, UnreachableAfter: 3, EWMAAlpha: 2}); err == nil {
		t.Error("bad registry config accepted")
	}
	if _, err := coord.NewLocalBus(coord.LocalBusConfig{QueueSize: -1}); !errors.Is(err, coord.ErrBadConfig) {
		t.Errorf("bad bus config: %v", err)
	}
}

func TestHandlerPanicBecomesErrorReply(t *testing.T) {
	f := newFleet(t, 2, fleetOpts{handlers: func(i int, a *coord.Agent) error {
		return coord.Handle(a, "divide", func(_ context.Context, _ coord.Message, p struct{ By int }) (int, error) {
			return 10 / p.By, nil
		})
	}})
	res, err := f.coord.Execute(context.Background(), coord.Command{Name: "divide", Params: map[string]int{"By": 0}})
	if err != nil || len(res.Failed) != 2 || !errors.Is(res.Failed[0].Err, coord.ErrHandler) {
		t.Fatalf("%+v %v", res, err)
	}
	// The agents survive and keep answering.
	res, err = f.coord.Execute(context.Background(), coord.Command{Name: "divide", Params: map[string]int{"By": 5}, Aggregate: coord.Sum})
	if err != nil || res.Number != 4 {
		t.Fatalf("%+v %v", res, err)
	}
}

type failingSigner struct{}

func (failingSigner) Sign(coord.Claims) (string, error) { return "", errors.New("key unavailable") }

func TestSendFailureListedOnce(t *testing.T) {
	f := newFleet(t, 3, fleetOpts{
		coordCfg: func(c *coord.CoordinatorConfig) { c.Signer = failingSigner{} },
		handlers: valueHandlers,
	})
	res, err := f.coord.Execute(context.Background(), coord.Command{Name: "read_temp"})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Failed) != 3 || len(res.TimedOut) != 0 || len(res.Answered) != 0 || !res.Partial {
		t.Fatalf("failed %v, timed out %v", res.Failed, res.TimedOut)
	}
	for _, a := range f.reg.Agents() {
		if a.Perf.InFlight != 0 {
			t.Errorf("%s left in flight", a.ID)
		}
	}
}
