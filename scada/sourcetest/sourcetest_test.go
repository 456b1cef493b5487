package sourcetest_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/greenlang/gl001/scada"
	"github.com/greenlang/gl001/scada/sourcetest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// The suite's own test: an in-memory device and a Source reading it, in
// every variant the Features describe, so each branch of the suite runs
// against something that behaves as its flags say. The protocols' own
// conformance tests run it against real servers.
func TestSuiteFeatures(t *testing.T) {
	for _, f := range []sourcetest.Features{
		{},
		{ChangeDriven: true},
		{RidesOutReconnects: true},
		{RidesOutReconnects: true, ChangeDriven: true},
		{MarksConnectionLoss: true},
		{SinkError: sourcetest.SinkErrorRetried},
		{SinkError: sourcetest.SinkErrorDropped, ChangeDriven: true},
	} {
		t.Run(fmt.Sprintf("%+v", f), func(t *testing.T) {
			sim := newMemSim("a", "b", "c")
			sourcetest.TestSource(t, sourcetest.Harness{
				Name:     "mem",
				Tags:     []string{"a", "b", "c"},
				New:      func(*testing.T) scada.Source { return &memSource{sim: sim, f: f} },
				Set:      sim.set,
				Stop:     func() error { sim.setUp(false); return nil },
				Start:    func() error { sim.setUp(true); return nil },
				Features: f,
			})
		})
	}
}

// memSim is a device: tags with values, up or down.
type memSim struct {
	mu      sync.Mutex
	vals    map[string]memVal
	version int
	up      bool
	gen     int           // bumped by every Stop: the connections of before are cut
	changed chan struct{} // closed and replaced on every change
}

type memVal struct {
	v       float64
	at      time.Time
	version int
}

func newMemSim(tags ...string) *memSim {
	s := &memSim{vals: map[string]memVal{}, up: true, changed: make(chan struct{})}
	for i, tag := range tags {
		s.vals[tag] = memVal{v: float64(i), at: time.Now()}
	}
	return s
}

func (s *memSim) notify() {
	close(s.changed)
	s.changed = make(chan struct{})
}

func (s *memSim) set(tag string, v float64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.vals[tag]; !ok {
		return fmt.Errorf("no tag %q: %w", tag, scada.ErrUnknownTag)
	}
	s.version++
	s.vals[tag] = memVal{v: v, at: time.Now(), version: s.version}
	s.notify()
	return nil
}

func (s *memSim) setUp(up bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.up && !up {
		s.gen++
	}
	s.up = up
	s.notify()
}

// memSource reads a memSim and behaves as its Features say.
type memSource struct {
	sim *memSim
	f   sourcetest.Features
}

var errDown = fmt.Errorf("%w: mem: the device is down", scada.ErrConnection)

func (m *memSource) Run(ctx context.Context, sink scada.Sink) error {
	seen := -1 // deliver every tag changed after version seen
	for {
		s := m.sim
		s.mu.Lock()
		if !s.up {
			s.mu.Unlock()
			return errDown
		}
		gen := s.gen
		if seen < 0 && m.f.ChangeDriven {
			seen = s.version
		}
		s.mu.Unlock()
		scada.NotifyConnected(sink)

		err := m.serve(ctx, sink, gen, &seen)
		if err == nil || ctx.Err() != nil {
			return nil
		}
		if m.f.MarksConnectionLoss {
			var batch []scada.Point
			for tag := range s.vals {
				batch = append(batch, scada.Point{Tag: tag, Quality: scada.BadNoCommunication, Time: time.Now(), Source: "mem"})
			}
			_ = sink.Deliver(ctx, batch)
		}
		if !m.f.RidesOutReconnects || err != errDown {
			return err
		}
		// Wait for the device to come back, then serve again.
		for {
			s.mu.Lock()
			up, ch := s.up, s.changed
			s.mu.Unlock()
			if up {
				break
			}
			select {
			case <-ctx.Done():
				return nil
			case <-ch:
			}
		}
		if !m.f.ChangeDriven {
			seen = -1
		}
	}
}

// serve delivers changes until ctx ends (nil), the device goes away (errDown)
// or the sink fails.
func (m *memSource) serve(ctx context.Context, sink scada.Sink, gen int, seen *int) error {
	s := m.sim
	for {
		s.mu.Lock()
		if s.gen != gen {
			s.mu.Unlock()
			return errDown
		}
		var batch []scada.Point
		newest := *seen
		for tag, v := range s.vals {
			if v.version > *seen {
				batch = append(batch, scada.Point{Tag: tag, Value: v.v, Quality: scada.Good, Time: v.at, Source: "mem"})
				newest = max(newest, v.version)
			}
		}
		ch := s.changed
		s.mu.Unlock()
		if len(batch) > 0 {
			if err := m.deliver(ctx, sink, batch); err != nil {
				return err
			}
			*seen = newest
		}
		select {
		case <-ctx.Done():
			return nil
		case <-ch:
		}
	}
}

func (m *memSource) deliver(ctx context.Context, sink scada.Sink, batch []scada.Point) error {
	for {
		err := sink.Deliver(ctx, batch)
		switch {
		case err == nil || ctx.Err() != nil:
			return nil
		case m.f.SinkError == sourcetest.SinkErrorDropped:
			return nil
		case m.f.SinkError == sourcetest.SinkErrorRetried:
			select {
			case <-ctx.Done():
				return nil
			case <-time.After(5 * time.Millisecond):
			}
		default:
			return fmt.Errorf("mem: deliver: %w", err)
		}
	}
}
