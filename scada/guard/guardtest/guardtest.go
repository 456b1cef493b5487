// Package guardtest is the suite that checks a protocol's Writer and
// Reader under the write guard of package scada/guard against a real
// device or simulator: a confirmed write, each refusal, a device that keeps
// its old value, concurrent writers, a disconnected device, and the audit
// log. Every protocol package of this module runs it against its
// simulator; a Writer written elsewhere can run it too. [RunAcks] is the
// same for the acknowledgement guard (guard.Acks) against a server with
// real alarms.
package guardtest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"math"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/greenlang/gl001/scada"
	"github.com/greenlang/gl001/scada/guard"
)

// Device is what the suite writes to.
type Device struct {
	// Writer and Reader are the protocol's (Reader may be a guard.Latest
	// fed by the Source's stream). Required.
	Writer scada.Writer
	Reader scada.Reader
	// Tag is a writable tag whose value is Good and holds integers (so
	// every numeric type can take the values the suite writes). Required.
	Tag string
	// Truth returns the tag's value as the device holds it (from the
	// simulator's side, not through the protocol). Required.
	Truth func() (float64, error)
	// IgnoreWrites makes the device accept writes but keep its value.
	// Required.
	IgnoreWrites func(on bool)
	// Disconnect makes the device unreachable; Reconnect brings it back
	// and returns once the Source is connected again (a cached Reader shows
	// what the device holds again). Required.
	Disconnect, Reconnect func()
	// SetBad, when set, makes the device report the tag with a Bad quality
	// (on) or Good again (off): the suite checks RequireGood. Optional; the
	// test is not run without it (MQTT payloads carry no quality).
	SetBad func(on bool)
	// RefuseWrites, when set, makes the device refuse writes of the tag (a
	// Bad status, an exception); a read of it may turn Bad meanwhile.
	// Optional; the test is not run without it.
	RefuseWrites func(on bool)
	// Secrets must not appear in the audit log (passwords the Source was
	// configured with). Optional.
	Secrets []string
	// ConfirmWithin bounds a read-back; zero means 10 s.
	ConfirmWithin time.Duration
	// Log, when set, also receives the audit records the suite makes.
	Log *slog.Logger
}

// Run runs every test of the suite as a subtest.
func Run(t *testing.T, d Device) {
	t.Run("Confirmed", func(t *testing.T) { TestConfirmed(t, d) })
	t.Run("Refusals", func(t *testing.T) { TestRefusals(t, d) })
	t.Run("Unconfirmed", func(t *testing.T) { TestUnconfirmed(t, d) })
	t.Run("Concurrent", func(t *testing.T) { TestConcurrent(t, d) })
	t.Run("Disconnected", func(t *testing.T) { TestDisconnected(t, d) })
	if d.SetBad != nil {
		t.Run("BadQuality", func(t *testing.T) { TestBadQuality(t, d) })
	}
	if d.RefuseWrites != nil {
		t.Run("WriteFailed", func(t *testing.T) { TestWriteFailed(t, d) })
	}
}

// TestBadQuality makes the tag Bad: a guard that requires Good refuses,
// and nothing is written.
func TestBadQuality(t *testing.T, d Device) {
	cur := truth(t, d)
	waitRead(t, d, cur)
	d.SetBad(true)
	waitBad(t, d)
	g, a := newGuard(t, d, cur, guard.Limits{RequireGood: true})
	_, err := g.Apply(ctx(t), guard.Request{Requester: "GL-001", Tag: d.Tag, Value: cur + 1})
	d.SetBad(false)
	if !errors.Is(err, guard.ErrBadQuality) {
		t.Fatalf("write to a Bad tag: %v", err)
	}
	if v := truth(t, d); v != cur {
		t.Errorf("the refused write reached the device: %v", v)
	}
	waitRead(t, d, cur)
	a.Check(t, 1, d.Secrets)
}

// TestWriteFailed makes the device refuse the write: the device's refusal
// comes back as WriteFailed, wrapped.
func TestWriteFailed(t *testing.T, d Device) {
	cur := truth(t, d)
	waitRead(t, d, cur)
	d.RefuseWrites(true)
	g, a := newGuard(t, d, cur, guard.Limits{})
	rec, err := g.Apply(ctx(t), guard.Request{Requester: "GL-001", Tag: d.Tag, Value: cur + 1})
	d.RefuseWrites(false)
	var ge *guard.Error
	if !errors.Is(err, guard.ErrWriteFailed) || !errors.As(err, &ge) || ge.Err == nil || rec.Result != guard.WriteFailed {
		t.Fatalf("a refused write: %v", err)
	}
	if v := truth(t, d); v != cur {
		t.Errorf("the device holds %v after refusing", v)
	}
	waitRead(t, d, cur)
	a.Check(t, 1, d.Secrets)
}

// waitBad waits until the Reader reads the tag with a quality that is not
// Good.
func waitBad(t *testing.T, d Device) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		p, err := d.Reader.Read(ctx(t), d.Tag)
		if err == nil && !p.Quality.IsGood() {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the reader never read the tag Bad: %+v %v", p, err)
		}
		time.Sleep(20 * time.Millisecond) // polling a real device; the deadline bounds it
	}
}

// Audit collects a guard's audit log (as JSON lines) and hook records.
type Audit struct {
	mu      sync.Mutex
	buf     bytes.Buffer
	Records []guard.Record
}

func (a *Audit) Write(p []byte) (int, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.buf.Write(p)
}

// Check fails t unless the log holds exactly attempts write records, the
// hook saw as many, and no secret appears in the log.
func (a *Audit) Check(t *testing.T, attempts int, secrets []string) {
	t.Helper()
	a.mu.Lock()
	defer a.mu.Unlock()
	n := 0
	for _, l := range strings.Split(strings.TrimSpace(a.buf.String()), "\n") {
		var m map[string]any
		if l == "" || json.Unmarshal([]byte(l), &m) != nil {
			continue
		}
		if m["msg"] == "scada write" {
			n++
			for _, k := range []string{"requester", "tag", "requested", "result", "duration"} {
				if _, ok := m[k]; !ok {
					t.Errorf("audit record without %s: %s", k, l)
				}
			}
		}
	}
	if n != attempts || len(a.Records) != attempts {
		t.Errorf("audit: %d log records, %d hook records for %d attempts", n, len(a.Records), attempts)
	}
	for _, s := range secrets {
		if s != "" && strings.Contains(a.buf.String(), s) {
			t.Errorf("a secret appears in the audit log")
		}
	}
}

func (a *Audit) hook(r guard.Record) {
	a.mu.Lock()
	a.Records = append(a.Records, r)
	a.mu.Unlock()
}

// newGuard builds a guard over d for requester "GL-001" with limits around
// the tag's current value.
func newGuard(t *testing.T, d Device, cur float64, l guard.Limits) (*guard.Guard, *Audit) {
	t.Helper()
	a := &Audit{}
	var h slog.Handler = slog.NewJSONHandler(a, nil)
	if d.Log != nil {
		h = multi{h, d.Log.Handler()}
	}
	if l.Max == 0 && l.Min == 0 {
		l.Min, l.Max = cur-100, cur+100
	}
	if l.ConfirmWithin == 0 {
		l.ConfirmWithin = d.ConfirmWithin
		if l.ConfirmWithin == 0 {
			l.ConfirmWithin = 10 * time.Second
		}
	}
	if l.Tolerance == 0 {
		l.Tolerance = 1e-3
	}
	g, err := guard.New(guard.Config{
		Writer: d.Writer, Reader: d.Reader,
		Tags:         map[string]guard.Limits{d.Tag: l},
		Rules:        []guard.Rule{{Requesters: []string{"GL-001"}, Tags: []string{d.Tag}}},
		Logger:       slog.New(h),
		OnAudit:      a.hook,
		PollInterval: 20 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	return g, a
}

func truth(t *testing.T, d Device) float64 {
	t.Helper()
	v, err := d.Truth()
	if err != nil {
		t.Fatal(err)
	}
	return math.Round(v)
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	return c
}

// waitRead waits until the Reader reads the tag as Good with value want
// (any value when want is NaN).
func waitRead(t *testing.T, d Device, want float64) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		p, err := d.Reader.Read(ctx(t), d.Tag)
		if err == nil && p.Quality.IsGood() && (math.IsNaN(want) || math.Abs(p.Value-want) < 1e-3) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the reader never read %v Good: %+v %v", want, p, err)
		}
		time.Sleep(20 * time.Millisecond) // polling a real device; the deadline bounds it
	}
}

// TestConfirmed writes inside the limits and expects the read-back to
// confirm it, and the device to hold the value.
func TestConfirmed(t *testing.T, d Device) {
	cur := truth(t, d)
	waitRead(t, d, cur)
	g, a := newGuard(t, d, cur, guard.Limits{MaxStep: 5})
	rec, err := g.Apply(ctx(t), guard.Request{Requester: "GL-001", Ref: "confirmed", Tag: d.Tag, Value: cur + 3})
	if err != nil {
		t.Fatalf("write inside the limits: %v", err)
	}
	if rec.Result != guard.Confirmed || !rec.HaveOld || rec.Old != cur || !rec.HaveReadBack || rec.ReadBack != cur+3 {
		t.Errorf("record %+v", rec)
	}
	if v := truth(t, d); v != cur+3 {
		t.Errorf("the device holds %v after writing %v", v, cur+3)
	}
	a.Check(t, 1, d.Secrets)
}

// TestRefusals checks every refusal that depends on nothing but the
// request and the device's state: none reaches the device.
func TestRefusals(t *testing.T, d Device) {
	cur := truth(t, d)
	waitRead(t, d, cur)
	g, a := newGuard(t, d, cur, guard.Limits{MaxStep: 5, MinInterval: time.Hour})
	c := ctx(t)
	for _, tc := range []struct {
		req  guard.Request
		want error
	}{
		{guard.Request{Requester: "GL-042", Tag: d.Tag, Value: cur + 1}, guard.ErrNotPermitted},
		{guard.Request{Requester: "", Tag: d.Tag, Value: cur + 1}, guard.ErrNotPermitted},
		{guard.Request{Requester: "GL-001", Tag: d.Tag + ".other", Value: cur + 1}, guard.ErrNotPermitted},
		{guard.Request{Requester: "GL-001", Tag: d.Tag, Value: cur + 101}, guard.ErrOutOfRange},
		{guard.Request{Requester: "GL-001", Tag: d.Tag, Value: math.Inf(1)}, guard.ErrOutOfRange},
		{guard.Request{Requester: "GL-001", Tag: d.Tag, Value: cur + 6}, guard.ErrStepTooLarge},
	} {
		_, err := g.Apply(c, tc.req)
		if !errors.Is(err, tc.want) {
			t.Errorf("%+v: got %v, want %v", tc.req, err, tc.want)
		}
	}
	if v := truth(t, d); v != cur {
		t.Fatalf("a refused write reached the device: %v, was %v", v, cur)
	}
	// The minimum interval counts from the last write sent.
	if _, err := g.Apply(c, guard.Request{Requester: "GL-001", Tag: d.Tag, Value: cur + 1}); err != nil {
		t.Fatal(err)
	}
	if _, err := g.Apply(c, guard.Request{Requester: "GL-001", Tag: d.Tag, Value: cur + 2}); !errors.Is(err, guard.ErrTooSoon) {
		t.Errorf("second write within the interval: %v", err)
	}
	if v := truth(t, d); v != cur+1 {
		t.Errorf("device holds %v, want %v", v, cur+1)
	}
	// The rate of change counts from the last write too.
	g2, a2 := newGuard(t, d, cur, guard.Limits{MaxRate: 1e-3})
	if _, err := g2.Apply(c, guard.Request{Requester: "GL-001", Tag: d.Tag, Value: cur + 2}); err != nil {
		t.Fatal(err)
	}
	if _, err := g2.Apply(c, guard.Request{Requester: "GL-001", Tag: d.Tag, Value: cur + 4}); !errors.Is(err, guard.ErrRateTooHigh) {
		t.Errorf("fast second write: %v", err)
	}
	// Dry run: checked and audited, not written.
	a3 := &Audit{}
	dry, err := guard.New(guard.Config{Writer: d.Writer, Reader: d.Reader, DryRun: true,
		Tags: map[string]guard.Limits{d.Tag: {Min: cur - 100, Max: cur + 100}}, Rules: []guard.Rule{{}}, OnAudit: a3.hook,
		Logger: slog.New(slog.NewJSONHandler(a3, nil))})
	if err != nil {
		t.Fatal(err)
	}
	if rec, err := dry.Apply(c, guard.Request{Requester: "GL-001", Tag: d.Tag, Value: cur + 7}); err != nil || rec.Result != guard.DryRun {
		t.Errorf("dry run: %v %v", rec.Result, err)
	}
	if v := truth(t, d); v != cur+2 {
		t.Errorf("device holds %v after a dry run, want %v", v, cur+2)
	}
	a.Check(t, 8, d.Secrets)
	a2.Check(t, 2, d.Secrets)
	a3.Check(t, 1, d.Secrets)
}

// TestUnconfirmed makes the device accept writes but keep its value: the
// write is reported unconfirmed, with the value read back.
func TestUnconfirmed(t *testing.T, d Device) {
	cur := truth(t, d)
	waitRead(t, d, cur)
	d.IgnoreWrites(true)
	defer d.IgnoreWrites(false)
	g, a := newGuard(t, d, cur, guard.Limits{ConfirmWithin: 500 * time.Millisecond})
	rec, err := g.Apply(ctx(t), guard.Request{Requester: "GL-001", Tag: d.Tag, Value: cur + 1})
	var ge *guard.Error
	if !errors.Is(err, guard.ErrUnconfirmed) || !errors.As(err, &ge) || ge.Result != guard.Unconfirmed {
		t.Fatalf("got %v", err)
	}
	if rec.Result != guard.Unconfirmed || !rec.HaveReadBack || rec.ReadBack != cur {
		t.Errorf("record %+v", rec)
	}
	if v := truth(t, d); v != cur {
		t.Errorf("device holds %v, want the old %v", v, cur)
	}
	a.Check(t, 1, d.Secrets)
}

// TestConcurrent writes one tag from several goroutines: with a minimum
// interval exactly one is written; without, every write is confirmed with
// its own value, which only holds when they run one after the other.
func TestConcurrent(t *testing.T, d Device) {
	cur := truth(t, d)
	waitRead(t, d, cur)
	const n = 6
	c := ctx(t)
	g, a := newGuard(t, d, cur, guard.Limits{MinInterval: time.Hour})
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			_, errs[i] = g.Apply(c, guard.Request{Requester: "GL-001", Tag: d.Tag, Value: cur + 1 + float64(i)})
		})
	}
	wg.Wait()
	ok := -1
	for i, err := range errs {
		switch {
		case err == nil && ok < 0:
			ok = i
		case errors.Is(err, guard.ErrTooSoon):
		default:
			t.Errorf("writer %d: %v", i, err)
		}
	}
	if ok < 0 {
		t.Fatal("no write confirmed")
	}
	if v := truth(t, d); v != cur+1+float64(ok) {
		t.Errorf("device holds %v, the confirmed write was %v", v, cur+1+float64(ok))
	}
	a.Check(t, n, d.Secrets)

	g2, _ := newGuard(t, d, cur, guard.Limits{})
	for i := range n {
		wg.Go(func() {
			rec, err := g2.Apply(c, guard.Request{Requester: "GL-001", Tag: d.Tag, Value: cur + 10 + float64(i)})
			if err != nil || rec.ReadBack != rec.Requested {
				t.Errorf("writer %d: %+v %v", i, rec, err)
			}
		})
	}
	wg.Wait()
}

// TestDisconnected takes the device away: the write is refused at once as
// disconnected, and nothing is written once the device is back.
func TestDisconnected(t *testing.T, d Device) {
	cur := truth(t, d)
	waitRead(t, d, cur)
	g, a := newGuard(t, d, cur, guard.Limits{})
	d.Disconnect()
	rec, err := g.Apply(ctx(t), guard.Request{Requester: "GL-001", Tag: d.Tag, Value: cur + 1})
	if !errors.Is(err, guard.ErrDisconnected) || !errors.Is(err, scada.ErrConnection) || rec.Result != guard.Disconnected {
		t.Fatalf("write while disconnected: %v (%v)", err, rec.Result)
	}
	d.Reconnect()
	waitRead(t, d, cur)
	if v := truth(t, d); v != cur {
		t.Fatalf("the refused write reached the device after the reconnect: %v", v)
	}
	if _, err := g.Apply(ctx(t), guard.Request{Requester: "GL-001", Tag: d.Tag, Value: cur + 2}); err != nil {
		t.Fatalf("write after the reconnect: %v", err)
	}
	a.Check(t, 2, d.Secrets)
}

// multi sends records to two handlers.
type multi [2]slog.Handler

func (m multi) Enabled(ctx context.Context, l slog.Level) bool {
	return m[0].Enabled(ctx, l) || m[1].Enabled(ctx, l)
}

func (m multi) Handle(ctx context.Context, r slog.Record) error {
	return errors.Join(m[0].Handle(ctx, r.Clone()), m[1].Handle(ctx, r))
}

func (m multi) WithAttrs(as []slog.Attr) slog.Handler {
	return multi{m[0].WithAttrs(as), m[1].WithAttrs(as)}
}

func (m multi) WithGroup(n string) slog.Handler { return multi{m[0].WithGroup(n), m[1].WithGroup(n)} }
