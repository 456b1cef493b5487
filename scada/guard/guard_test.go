package guard_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/greenlang/gl001/scada"
	"github.com/greenlang/gl001/scada/guard"
)

const tag = "boiler1.firing_rate"

func newGuard(t *testing.T, dev *memDevice, mut func(*guard.Config)) (*guard.Guard, *auditLog) {
	t.Helper()
	al := newAuditLog()
	cfg := guard.Config{
		Writer: dev, Reader: dev,
		Tags:         map[string]guard.Limits{tag: {Min: 0, Max: 100, ConfirmWithin: time.Second}},
		Rules:        []guard.Rule{{Requesters: []string{"GL-001"}}},
		Logger:       al.logger,
		OnAudit:      al.hook,
		PollInterval: time.Millisecond,
	}
	if mut != nil {
		mut(&cfg)
	}
	g, err := guard.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return g, al
}

// auditLog collects the JSON log lines and the hook's records.
type auditLog struct {
	mu      sync.Mutex
	buf     bytes.Buffer
	logger  *slog.Logger
	records []guard.Record
}

func newAuditLog() *auditLog {
	a := &auditLog{}
	a.logger = slog.New(slog.NewJSONHandler(lockedWriter{a}, nil))
	return a
}

type lockedWriter struct{ a *auditLog }

func (w lockedWriter) Write(p []byte) (int, error) {
	w.a.mu.Lock()
	defer w.a.mu.Unlock()
	return w.a.buf.Write(p)
}

func (a *auditLog) hook(r guard.Record) {
	a.mu.Lock()
	a.records = append(a.records, r)
	a.mu.Unlock()
}

// lines returns the decoded "scada write" log lines.
func (a *auditLog) lines(t *testing.T) []map[string]any {
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
			t.Fatalf("log line %q: %v", l, err)
		}
		if m["msg"] == "scada write" {
			out = append(out, m)
		}
	}
	return out
}

func TestRefusals(t *testing.T) {
	cases := []struct {
		name   string
		mut    func(*guard.Config)
		dev    func(*memDevice)
		req    guard.Request
		want   guard.Result
		target error
	}{
		{name: "no requester", req: guard.Request{Tag: tag, Value: 50}, want: guard.NotPermitted, target: guard.ErrNotPermitted},
		{name: "not permitted", req: guard.Request{Requester: "GL-042", Tag: tag, Value: 50}, want: guard.NotPermitted, target: guard.ErrNotPermitted},
		{name: "denied by rule", mut: func(c *guard.Config) {
			c.Rules = append([]guard.Rule{{Requesters: []string{"GL-001"}, Tags: []string{"boiler1.*"}, Deny: true}}, c.Rules...)
		}, req: guard.Request{Requester: "GL-001", Tag: tag, Value: 50}, want: guard.NotPermitted, target: guard.ErrNotPermitted},
		{name: "no limits", req: guard.Request{Requester: "GL-001", Tag: "boiler1.other", Value: 50}, want: guard.NotConfigured, target: scada.ErrNotWritable},
		{name: "above range", req: guard.Request{Requester: "GL-001", Tag: tag, Value: 100.5}, want: guard.OutOfRange, target: guard.ErrOutOfRange},
		{name: "below range", req: guard.Request{Requester: "GL-001", Tag: tag, Value: -1}, want: guard.OutOfRange, target: guard.ErrOutOfRange},
		{name: "NaN", req: guard.Request{Requester: "GL-001", Tag: tag, Value: math.NaN()}, want: guard.OutOfRange, target: guard.ErrOutOfRange},
		{name: "step", mut: func(c *guard.Config) { c.Tags[tag] = guard.Limits{Min: 0, Max: 100, MaxStep: 5} },
			req: guard.Request{Requester: "GL-001", Tag: tag, Value: 46}, want: guard.StepTooLarge, target: guard.ErrStepTooLarge},
		{name: "require good", mut: func(c *guard.Config) { c.Tags[tag] = guard.Limits{Min: 0, Max: 100, RequireGood: true} },
			dev: func(d *memDevice) { d.setQuality(tag, scada.UncertainLastUsableValue) },
			req: guard.Request{Requester: "GL-001", Tag: tag, Value: 41}, want: guard.BadQuality, target: guard.ErrBadQuality},
		{name: "step needs good", mut: func(c *guard.Config) { c.Tags[tag] = guard.Limits{Min: 0, Max: 100, MaxStep: 5} },
			dev: func(d *memDevice) { d.setQuality(tag, scada.BadSensorFailure) },
			req: guard.Request{Requester: "GL-001", Tag: tag, Value: 41}, want: guard.BadQuality, target: guard.ErrBadQuality},
		{name: "disconnected read", dev: func(d *memDevice) { d.down = true },
			req: guard.Request{Requester: "GL-001", Tag: tag, Value: 41}, want: guard.Disconnected, target: scada.ErrConnection},
		{name: "disconnected quality", dev: func(d *memDevice) { d.setQuality(tag, scada.BadNoCommunication) },
			req: guard.Request{Requester: "GL-001", Tag: tag, Value: 41}, want: guard.Disconnected, target: guard.ErrDisconnected},
		{name: "unreadable", mut: func(c *guard.Config) { c.Tags["ghost"] = guard.Limits{Max: 1} },
			req: guard.Request{Requester: "GL-001", Tag: "ghost", Value: 1}, want: guard.NoCurrentValue, target: scada.ErrUnknownTag},
		{name: "unconfirmed", mut: func(c *guard.Config) {
			c.Tags[tag] = guard.Limits{Min: 0, Max: 100, ConfirmWithin: 20 * time.Millisecond}
		},
			dev: func(d *memDevice) { d.keepOld = true },
			req: guard.Request{Requester: "GL-001", Tag: tag, Value: 41}, want: guard.Unconfirmed, target: guard.ErrUnconfirmed},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dev := newMemDevice(map[string]float64{tag: 40})
			if tc.dev != nil {
				tc.dev(dev)
			}
			g, al := newGuard(t, dev, tc.mut)
			rec, err := g.Apply(context.Background(), tc.req)
			var ge *guard.Error
			if !errors.As(err, &ge) || ge.Result != tc.want || rec.Result != tc.want {
				t.Fatalf("err %v, record %v; want %v", err, rec.Result, tc.want)
			}
			if !errors.Is(err, tc.target) {
				t.Errorf("%v does not match %v", err, tc.target)
			}
			// Only the unconfirmed write reached the device.
			if n := len(dev.written()); (tc.want == guard.Unconfirmed) != (n == 1) {
				t.Errorf("%d writes sent", n)
			}
			if lines := al.lines(t); len(lines) != 1 || lines[0]["result"] != tc.want.String() || lines[0]["level"] != "WARN" {
				t.Errorf("audit log %v", lines)
			}
			if len(al.records) != 1 {
				t.Errorf("%d audit records", len(al.records))
			}
		})
	}
}

func TestConfirmedAuditRecord(t *testing.T) {
	dev := newMemDevice(map[string]float64{tag: 40})
	g, al := newGuard(t, dev, nil)
	rec, err := g.Apply(context.Background(), guard.Request{Requester: "GL-001", Ref: "msg-7", Tag: tag, Value: 42.5})
	if err != nil {
		t.Fatal(err)
	}
	if rec.Result != guard.Confirmed || !rec.HaveOld || rec.Old != 40 || !rec.HaveReadBack || rec.ReadBack != 42.5 || rec.Duration <= 0 {
		t.Fatalf("record %+v", rec)
	}
	lines := al.lines(t)
	if len(lines) != 1 {
		t.Fatalf("%d audit lines", len(lines))
	}
	l := lines[0]
	for k, v := range map[string]any{"requester": "GL-001", "ref": "msg-7", "tag": tag, "old": 40.0,
		"requested": 42.5, "read_back": 42.5, "result": "confirmed", "level": "INFO"} {
		if l[k] != v {
			t.Errorf("audit %s = %v, want %v", k, l[k], v)
		}
	}
	if _, ok := l["duration"]; !ok {
		t.Error("no duration in the audit record")
	}
}

func TestTooSoonAndRate(t *testing.T) {
	dev := newMemDevice(map[string]float64{tag: 40})
	g, _ := newGuard(t, dev, func(c *guard.Config) {
		c.Tags[tag] = guard.Limits{Min: 0, Max: 100, MinInterval: time.Hour}
		c.Tags["b"] = guard.Limits{Min: 0, Max: 100, MaxRate: 1e-3}
		dev.values["b"] = scada.Point{Tag: "b", Value: 1}
	})
	ctx := context.Background()
	if _, err := g.Apply(ctx, guard.Request{Requester: "GL-001", Tag: tag, Value: 41}); err != nil {
		t.Fatal(err)
	}
	if _, err := g.Apply(ctx, guard.Request{Requester: "GL-001", Tag: tag, Value: 42}); !errors.Is(err, guard.ErrTooSoon) {
		t.Fatalf("second write within the interval: %v", err)
	}
	// The first write of a tag has no previous write to measure a rate from.
	if _, err := g.Apply(ctx, guard.Request{Requester: "GL-001", Tag: "b", Value: 2}); err != nil {
		t.Fatal(err)
	}
	if _, err := g.Apply(ctx, guard.Request{Requester: "GL-001", Tag: "b", Value: 50}); !errors.Is(err, guard.ErrRateTooHigh) {
		t.Fatalf("fast second write: %v", err)
	}
	if got := dev.written(); len(got) != 2 {
		t.Fatalf("writes %v", got)
	}
}

func TestDryRunWritesNothing(t *testing.T) {
	dev := newMemDevice(map[string]float64{tag: 40})
	g, al := newGuard(t, dev, func(c *guard.Config) { c.DryRun = true })
	rec, err := g.Apply(context.Background(), guard.Request{Requester: "GL-001", Tag: tag, Value: 41})
	if err != nil || rec.Result != guard.DryRun {
		t.Fatalf("%v %v", rec.Result, err)
	}
	if _, err := g.Apply(context.Background(), guard.Request{Requester: "GL-001", Tag: tag, Value: 400}); !errors.Is(err, guard.ErrOutOfRange) {
		t.Fatalf("dry run still checks: %v", err)
	}
	if n := len(dev.written()); n != 0 {
		t.Fatalf("dry run sent %d writes", n)
	}
	if n := len(al.lines(t)); n != 2 {
		t.Fatalf("%d audit lines for 2 attempts", n)
	}
}

func TestWriteFailed(t *testing.T) {
	dev := newMemDevice(map[string]float64{tag: 40})
	dev.refuse = fmt.Errorf("mem: BadUserAccessDenied: %w", scada.ErrNotWritable)
	g, _ := newGuard(t, dev, nil)
	_, err := g.Apply(context.Background(), guard.Request{Requester: "GL-001", Tag: tag, Value: 41})
	if !errors.Is(err, guard.ErrWriteFailed) || !errors.Is(err, scada.ErrNotWritable) {
		t.Fatalf("device refusal: %v", err)
	}
}

// A connection found lost only when the write is sent (the current value
// came from a cache) is reported as Disconnected, not retried.
func TestDisconnectedDuringWrite(t *testing.T) {
	dev := newMemDevice(map[string]float64{tag: 40})
	dev.entered = make(chan struct{}, 1)
	dev.release = make(chan struct{})
	g, _ := newGuard(t, dev, nil)
	done := make(chan error, 1)
	go func() {
		_, err := g.Apply(context.Background(), guard.Request{Requester: "GL-001", Tag: tag, Value: 41})
		done <- err
	}()
	<-dev.entered // the current value was read; the write is on its way
	dev.mu.Lock()
	dev.down = true
	dev.mu.Unlock()
	close(dev.release)
	err := <-done
	var ge *guard.Error
	if !errors.Is(err, guard.ErrDisconnected) || !errors.Is(err, scada.ErrConnection) || !errors.As(err, &ge) || !strings.Contains(ge.Detail, "while the write was sent") {
		t.Fatalf("got %v", err)
	}
	if n := len(dev.written()); n != 0 {
		t.Fatalf("%d writes", n)
	}
}

// Concurrent writes of one tag run one after the other: the device never
// sees two at once, and each write is checked against the state the one
// before left (with a minimum interval, exactly one of them is written).
func TestConcurrentWritesSerialised(t *testing.T) {
	dev := newMemDevice(map[string]float64{tag: 40})
	g, al := newGuard(t, dev, func(c *guard.Config) {
		c.Tags[tag] = guard.Limits{Min: 0, Max: 100, MinInterval: time.Hour}
	})
	const n = 16
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Go(func() {
			_, err := g.Apply(context.Background(), guard.Request{Requester: "GL-001", Tag: tag, Value: float64(41 + i)})
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	ok, soon := 0, 0
	for err := range errs {
		switch {
		case err == nil:
			ok++
		case errors.Is(err, guard.ErrTooSoon):
			soon++
		default:
			t.Errorf("unexpected %v", err)
		}
	}
	if ok != 1 || soon != n-1 || len(dev.written()) != 1 || dev.overlaps.Load() != 0 {
		t.Fatalf("confirmed %d, too soon %d, writes %d, overlaps %d", ok, soon, len(dev.written()), dev.overlaps.Load())
	}
	if got := len(al.lines(t)); got != n {
		t.Fatalf("%d audit lines for %d attempts", got, n)
	}

	// Without an interval, every write is sent, never two at once.
	dev2 := newMemDevice(map[string]float64{tag: 40})
	g2, _ := newGuard(t, dev2, nil)
	for i := range n {
		wg.Go(func() {
			if _, err := g2.Apply(context.Background(), guard.Request{Requester: "GL-001", Tag: tag, Value: float64(41 + i)}); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if len(dev2.written()) != n || dev2.overlaps.Load() != 0 {
		t.Fatalf("writes %d, overlaps %d", len(dev2.written()), dev2.overlaps.Load())
	}
}

func TestCanceledWhileWaiting(t *testing.T) {
	dev := newMemDevice(map[string]float64{tag: 40})
	dev.entered = make(chan struct{}, 1)
	dev.release = make(chan struct{})
	g, _ := newGuard(t, dev, nil)
	first := make(chan error, 1)
	go func() {
		_, err := g.Apply(context.Background(), guard.Request{Requester: "GL-001", Tag: tag, Value: 41})
		first <- err
	}()
	<-dev.entered // the first write holds the tag's turn
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := g.Apply(ctx, guard.Request{Requester: "GL-001", Tag: tag, Value: 42})
	if !errors.Is(err, guard.ErrCanceled) || !errors.Is(err, context.Canceled) {
		t.Fatalf("got %v", err)
	}
	close(dev.release)
	if err := <-first; err != nil {
		t.Fatal(err)
	}
	if got := dev.written(); len(got) != 1 || got[0] != 41 {
		t.Fatalf("writes %v", got)
	}
}

func TestLatestReadBack(t *testing.T) {
	dev := newMemDevice(map[string]float64{tag: 40})
	lat := guard.NewLatest(nil)
	ctx := context.Background()
	if _, err := lat.Read(ctx, tag); !errors.Is(err, scada.ErrUnknownTag) {
		t.Fatalf("read before any point: %v", err)
	}
	if err := lat.Deliver(ctx, []scada.Point{{Tag: tag, Value: 40, Time: time.Now()}}); err != nil {
		t.Fatal(err)
	}
	// The "subscription": whatever the device takes is delivered later.
	w := writerFunc(func(ctx context.Context, tg string, v float64) error {
		if err := dev.Write(ctx, tg, v); err != nil {
			return err
		}
		go func() {
			p, _ := dev.Read(context.Background(), tg)
			_ = lat.Deliver(context.Background(), []scada.Point{p})
		}()
		return nil
	})
	g, err := guard.New(guard.Config{Writer: w, Reader: lat, Tags: map[string]guard.Limits{tag: {Max: 100, MaxStep: 5}},
		Rules: []guard.Rule{{}}})
	if err != nil {
		t.Fatal(err)
	}
	rec, err := g.Apply(ctx, guard.Request{Requester: "x", Tag: tag, Value: 44})
	if err != nil || rec.ReadBack != 44 {
		t.Fatalf("%+v %v", rec, err)
	}
	// A lost connection shows in the stream: the guard refuses.
	_ = lat.Deliver(ctx, []scada.Point{{Tag: tag, Quality: scada.BadNoCommunication, Time: time.Now()}})
	if _, err := g.Apply(ctx, guard.Request{Requester: "x", Tag: tag, Value: 45}); !errors.Is(err, guard.ErrDisconnected) {
		t.Fatalf("got %v", err)
	}
}

type writerFunc func(ctx context.Context, tag string, v float64) error

func (f writerFunc) Write(ctx context.Context, tag string, v float64) error { return f(ctx, tag, v) }

func TestAs(t *testing.T) {
	dev := newMemDevice(map[string]float64{tag: 40})
	g, _ := newGuard(t, dev, nil)
	var w scada.Writer = g.As("GL-001")
	if err := w.Write(context.Background(), tag, 41); err != nil {
		t.Fatal(err)
	}
	if err := g.As("GL-002").Write(context.Background(), tag, 42); !errors.Is(err, guard.ErrNotPermitted) {
		t.Fatal(err)
	}
	st := g.Stats()
	if st.Attempts != 2 || st.ByResult[guard.Confirmed] != 1 || st.ByResult[guard.NotPermitted] != 1 {
		t.Fatalf("%+v", st)
	}
}

func TestValidate(t *testing.T) {
	err := guard.Config{
		Tags:         map[string]guard.Limits{"a": {Min: 2, Max: 1}, "b": {Max: math.Inf(1)}, "c": {Max: 1, MaxStep: -1}},
		Rules:        []guard.Rule{{Tags: []string{"["}}},
		PollInterval: -1,
	}.Validate()
	if !errors.Is(err, guard.ErrBadConfig) {
		t.Fatal(err)
	}
	for _, want := range []string{"no Writer", "no Reader", `tag "a"`, `tag "b"`, `tag "c"`, "rule 0", "PollInterval"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("%q missing from %v", want, err)
		}
	}
}

func TestHistoryWraps(t *testing.T) {
	h := guard.NewHistory(3)
	if n := len(h.Records()); n != 0 {
		t.Fatalf("%d records in a new history", n)
	}
	for i := range 5 {
		h.Add(guard.Record{Requested: float64(i)})
	}
	got := h.Records()
	if len(got) != 3 || got[0].Requested != 4 || got[1].Requested != 3 || got[2].Requested != 2 {
		t.Fatalf("%+v", got)
	}
}
