package opcua_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/greenlang/gl001/scada"
	"github.com/greenlang/gl001/scada/opcua"
)

func TestSubscribeReceivesChanges(t *testing.T) {
	sim := sharedSim(t)
	src, err := opcua.New(insecure(sim,
		opcua.Tag{Name: "temp", NodeID: sim.NodeID("Boiler1.Temp")},
		opcua.Tag{Name: "running", NodeID: "nsu=" + sim.NamespaceURI() + ";s=Boiler1.Running"},
		opcua.Tag{Name: "count", NodeID: sim.NodeID("Boiler1.Count"), Unit: "1"},
	))
	if err != nil {
		t.Fatal(err)
	}
	rec := newRecorder()
	stop, _, _ := run(t, src, rec)
	ps := rec.waitFor(t, "changing temperature and counter", func(ps []scada.Point) bool {
		return len(byTag(ps, "temp")) >= 3 && len(byTag(ps, "count")) >= 3 && len(byTag(ps, "running")) >= 1
	})
	temps := byTag(ps, "temp")
	for i, p := range temps {
		if !p.Quality.IsGood() || p.Unit != "°C" || p.Source != "sim" || p.Time.IsZero() {
			t.Fatalf("temp point %d = %+v", i, p)
		}
		if i > 0 && p.Value <= temps[i-1].Value {
			t.Fatalf("temperature did not increase: %v then %v", temps[i-1].Value, p.Value)
		}
	}
	if r := byTag(ps, "running")[0]; r.Value != 1 || !r.Quality.IsGood() {
		t.Fatalf("running = %+v, want 1 Good", r)
	}
	if c := byTag(ps, "count")[0]; c.Unit != "1" {
		t.Fatalf("count unit = %q, want the override", c.Unit)
	}
	if st := src.Stats(); !st.Connected || st.Connects != 1 || st.Points == 0 || st.MonitoredItems != 3 || st.Subscriptions != 1 {
		t.Fatalf("stats while running = %+v", st)
	}
	if err := stop(); !errors.Is(err, context.Canceled) {
		t.Fatalf("Run after cancel = %v, want context.Canceled", err)
	}
	if st := src.Stats(); st.Connected || st.Disconnects != 0 {
		t.Fatalf("stats after stop = %+v", st)
	}
}

func TestPollReadsInBatchesOfTheServerLimit(t *testing.T) {
	// 70 tags: more than twice the gopcua server's MaxNodesPerRead of 32.
	sim := sharedSim(t)
	var tags []opcua.Tag
	for i := range 70 {
		name := fmt.Sprintf("Line.T%02d", i)
		tags = append(tags, opcua.Tag{Name: name, NodeID: sim.NodeID(name)})
		// The simulator is shared: set what this test expects, whatever an
		// earlier run (-count) left.
		if err := sim.Set(name, float64(i)); err != nil {
			t.Fatal(err)
		}
	}
	cfg := insecure(sim, tags...)
	cfg.PollInterval = 20 * time.Millisecond
	src, err := opcua.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	rec := newRecorder()
	stop, _, _ := run(t, src, rec)
	ps := rec.waitFor(t, "two polls of every tag", func(ps []scada.Point) bool { return len(ps) >= 140 })
	for i, p := range ps[:140] {
		want := float64(i % 70)
		if p.Value != want || !p.Quality.IsGood() || p.Unit != "kPa" {
			t.Fatalf("point %d = %+v, want value %v Good kPa", i, p, want)
		}
	}
	if st := src.Stats(); st.MaxNodesPerRead != 32 {
		t.Fatalf("MaxNodesPerRead = %d, want the server's 32", st.MaxNodesPerRead)
	}
	// A change shows up at the next poll.
	if err := sim.Set("Line.T05", 55.5); err != nil {
		t.Fatal(err)
	}
	rec.waitFor(t, "the new value", func(ps []scada.Point) bool {
		t5 := byTag(ps, "Line.T05")
		return t5[len(t5)-1].Value == 55.5
	})
	stop()
}

func TestBadNodeAmongGoodNodes(t *testing.T) {
	for _, mode := range []string{"subscribe", "poll"} {
		t.Run(mode, func(t *testing.T) {
			sim := sharedSim(t)
			var mu sync.Mutex
			var tagErrs []error
			cfg := insecure(sim,
				opcua.Tag{Name: "a", NodeID: sim.NodeID("A")},
				opcua.Tag{Name: "ghost", NodeID: sim.NodeID("DoesNotExist")},
				opcua.Tag{Name: "b", NodeID: sim.NodeID("B")},
				opcua.Tag{Name: "elsewhere", NodeID: "nsu=urn:not:on:this:server;s=X"},
			)
			cfg.OnTagError = func(err error) {
				mu.Lock()
				tagErrs = append(tagErrs, err)
				mu.Unlock()
			}
			if mode == "poll" {
				cfg.PollInterval = 20 * time.Millisecond
			}
			src, err := opcua.New(cfg)
			if err != nil {
				t.Fatal(err)
			}
			rec := newRecorder()
			stop, _, _ := run(t, src, rec)
			ps := rec.waitFor(t, "good values of a and b and a Bad ghost", func(ps []scada.Point) bool {
				return len(byTag(ps, "a")) >= 3 && len(byTag(ps, "b")) >= 3 && len(byTag(ps, "ghost")) >= 1 && len(byTag(ps, "elsewhere")) >= 1
			})
			stop()
			for _, tag := range []string{"a", "b"} {
				for _, p := range byTag(ps, tag) {
					if !p.Quality.IsGood() {
						t.Fatalf("%s: %+v, want Good", tag, p)
					}
				}
			}
			for _, tag := range []string{"ghost", "elsewhere"} {
				for _, p := range byTag(ps, tag) {
					if p.Quality.Code() != scada.BadNodeIDUnknown || p.Value != 0 {
						t.Fatalf("%s: %+v, want BadNodeIdUnknown without a value", tag, p)
					}
				}
			}
			mu.Lock()
			defer mu.Unlock()
			if len(tagErrs) != 2 {
				t.Fatalf("tag errors = %v, want one for ghost and one for elsewhere", tagErrs)
			}
			for _, err := range tagErrs {
				var te *opcua.TagError
				if !errors.As(err, &te) || !errors.Is(err, scada.ErrUnknownTag) {
					t.Fatalf("tag error %v: want a *TagError matching scada.ErrUnknownTag", err)
				}
			}
		})
	}
}

func TestQualityAndTimestamps(t *testing.T) {
	sim := sharedSim(t)
	var tagErrs atomic.Int32
	cfg := insecure(sim,
		opcua.Tag{Name: "flow", NodeID: sim.NodeID("Flow")},
		opcua.Tag{Name: "level", NodeID: sim.NodeID("Level")},
		opcua.Tag{Name: "label", NodeID: sim.NodeID("Label")},
	)
	cfg.OnTagError = func(err error) {
		if errors.Is(err, scada.ErrBadInput) {
			tagErrs.Add(1)
		}
	}
	src, err := opcua.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	rec := newRecorder()
	stop, _, _ := run(t, src, rec)
	ps := rec.waitFor(t, "initial values", func(ps []scada.Point) bool {
		return len(byTag(ps, "flow")) > 0 && len(byTag(ps, "level")) > 0 && len(byTag(ps, "label")) > 0
	})
	if p := byTag(ps, "level")[0]; p.Time.IsZero() || !p.Quality.IsGood() || p.Value != 3 {
		t.Fatalf("level (server timestamp only) = %+v", p)
	}
	if p := byTag(ps, "label")[0]; p.Quality.Code() != scada.BadTypeMismatch || p.Value != 0 {
		t.Fatalf("label (a string) = %+v, want BadTypeMismatch", p)
	}
	if tagErrs.Load() != 1 || src.Stats().BadInput != 1 {
		t.Fatalf("bad input tag errors = %d, stats %+v", tagErrs.Load(), src.Stats())
	}

	// A Bad status arrives with the stale value on the wire; the point must not carry it.
	if err := sim.SetStatus("Flow", scada.BadSensorFailure); err != nil {
		t.Fatal(err)
	}
	ps = rec.waitFor(t, "the Bad flow", func(ps []scada.Point) bool {
		f := byTag(ps, "flow")
		return f[len(f)-1].Quality.IsBad()
	})
	f := byTag(ps, "flow")
	if p := f[len(f)-1]; p.Quality.Code() != scada.BadSensorFailure || p.Value != 0 {
		t.Fatalf("flow under Bad = %+v, want BadSensorFailure with no value", p)
	}
	// Uncertain keeps the value.
	if err := sim.SetStatus("Flow", scada.UncertainLastUsableValue); err != nil {
		t.Fatal(err)
	}
	ps = rec.waitFor(t, "the Uncertain flow", func(ps []scada.Point) bool {
		f := byTag(ps, "flow")
		return f[len(f)-1].Quality.IsUncertain()
	})
	f = byTag(ps, "flow")
	if p := f[len(f)-1]; p.Quality != scada.UncertainLastUsableValue || p.Value != 12.5 {
		t.Fatalf("flow under Uncertain = %+v, want the value kept", p)
	}
	stop()
}

// TestManySubscriptions splits the tags over several subscriptions with
// several publish requests in flight; every tag arrives and each tag's values
// stay in order.
func TestManySubscriptions(t *testing.T) {
	sim := sharedSim(t)
	tags := []opcua.Tag{
		{Name: "temp", NodeID: sim.NodeID("Boiler1.Temp")},
		{Name: "count", NodeID: sim.NodeID("Boiler1.Count")},
	}
	for i := range 70 {
		name := fmt.Sprintf("Line.T%02d", i)
		tags = append(tags, opcua.Tag{Name: name, NodeID: sim.NodeID(name)})
	}
	cfg := insecure(sim, tags...)
	cfg.MaxItemsPerSubscription = 16
	src, err := opcua.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	rec := newRecorder()
	stop, _, _ := run(t, src, rec)
	ps := rec.waitFor(t, "every tag and ten counter values", func(ps []scada.Point) bool {
		seen := map[string]bool{}
		for _, p := range ps {
			seen[p.Tag] = true
		}
		return len(seen) == len(tags) && len(byTag(ps, "count")) >= 10
	})
	if st := src.Stats(); st.Subscriptions != 5 || st.MonitoredItems != len(tags) {
		t.Fatalf("stats = %+v, want 5 subscriptions of %d items", st, len(tags))
	}
	stop()
	for _, tag := range []string{"temp", "count"} {
		got := byTag(ps, tag)
		if i := outOfOrder(got); i >= 0 {
			// gopcua's server (v0.8.0) sends a new monitored item's initial
			// value from a goroutine of its own (CreateMonitoredItems: "go
			// s.ChangeNotification"), so under load it can reach the
			// subscription after the first change: that is the server's order,
			// which the client keeps. Only that one stale value, older than
			// everything delivered before it, is let through; any other
			// inversion is the client's.
			rest := append(append([]scada.Point(nil), got[:i]...), got[i+1:]...)
			if got[i].Value > got[0].Value || outOfOrder(rest) >= 0 {
				t.Fatalf("%s out of order: %v after %v (point %d of %d)", tag, got[i].Value, got[i-1].Value, i, len(got))
			}
		}
	}
}

// outOfOrder returns the index of the first point whose value is lower than
// the one before it, or -1.
func outOfOrder(ps []scada.Point) int {
	for i := 1; i < len(ps); i++ {
		if ps[i].Value < ps[i-1].Value {
			return i
		}
	}
	return -1
}
