package opcua

import (
	"errors"
	"math"
	"testing"
	"time"

	"github.com/gopcua/opcua/ua"

	"github.com/greenlang/gl001/scada"
)

func TestMapValueTypes(t *testing.T) {
	src := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	srv := src.Add(time.Second)
	now := src.Add(time.Hour)
	for _, c := range []struct {
		name string
		in   any
		want float64
	}{
		{"Double", 1.5, 1.5}, {"Float", float32(2.5), 2.5},
		{"SByte", int8(-8), -8}, {"Byte", uint8(200), 200},
		{"Int16", int16(-300), -300}, {"UInt16", uint16(60000), 60000},
		{"Int32", int32(-70000), -70000}, {"UInt32", uint32(4000000000), 4000000000},
		{"Int64", int64(-1 << 40), -(1 << 40)}, {"UInt64", uint64(1 << 50), 1 << 50},
		{"Boolean true", true, 1}, {"Boolean false", false, 0},
	} {
		dv := &ua.DataValue{EncodingMask: ua.DataValueValue | ua.DataValueSourceTimestamp, Value: ua.MustVariant(c.in), SourceTimestamp: src}
		v, q, ts, err := mapValue(dv, now)
		if err != nil || v != c.want || q != scada.Good || !ts.Equal(src) {
			t.Errorf("%s: got %v %v %v %v, want %v Good %v", c.name, v, q, ts, err, c.want, src)
		}
	}

	for _, c := range []struct {
		name    string
		dv      *ua.DataValue
		v       float64
		q       scada.Quality
		ts      time.Time
		wantErr error
	}{
		{"server timestamp when no source timestamp",
			&ua.DataValue{EncodingMask: ua.DataValueValue | ua.DataValueServerTimestamp, Value: ua.MustVariant(3.0), ServerTimestamp: srv},
			3, scada.Good, srv, nil},
		{"receive time when neither",
			&ua.DataValue{EncodingMask: ua.DataValueValue, Value: ua.MustVariant(3.0)}, 3, scada.Good, now, nil},
		{"Bad carries no value",
			&ua.DataValue{EncodingMask: ua.DataValueValue | ua.DataValueStatusCode | ua.DataValueSourceTimestamp, Value: ua.MustVariant(99.0), Status: ua.StatusCode(scada.BadSensorFailure), SourceTimestamp: src},
			0, scada.BadSensorFailure, src, nil},
		{"Uncertain keeps the value",
			&ua.DataValue{EncodingMask: ua.DataValueValue | ua.DataValueStatusCode, Value: ua.MustVariant(int32(4)), Status: ua.StatusCode(scada.UncertainLastUsableValue)},
			4, scada.UncertainLastUsableValue, now, nil},
		{"Good with info bits stays Good",
			&ua.DataValue{EncodingMask: ua.DataValueValue | ua.DataValueStatusCode, Value: ua.MustVariant(5.0), Status: ua.StatusCode(scada.GoodClamped)},
			5, scada.GoodClamped, now, nil},
		{"no value at all", &ua.DataValue{EncodingMask: ua.DataValueStatusCode}, 0, scada.BadNoData, now, nil},
		{"nil", nil, 0, scada.BadNoData, now, nil},
		{"string", &ua.DataValue{EncodingMask: ua.DataValueValue, Value: ua.MustVariant("12")}, 0, scada.BadTypeMismatch, now, scada.ErrBadInput},
		{"array", &ua.DataValue{EncodingMask: ua.DataValueValue, Value: ua.MustVariant([]float64{1, 2})}, 0, scada.BadTypeMismatch, now, scada.ErrBadInput},
		{"NaN is not Good", &ua.DataValue{EncodingMask: ua.DataValueValue, Value: ua.MustVariant(math.NaN())}, math.NaN(), scada.UncertainSensorNotAccurate, now, nil},
	} {
		v, q, ts, err := mapValue(c.dv, now)
		sameV := v == c.v || math.IsNaN(v) && math.IsNaN(c.v)
		if !sameV || q != c.q || !ts.Equal(c.ts) || !errors.Is(err, c.wantErr) || (c.wantErr == nil) != (err == nil) {
			t.Errorf("%s: got %v %v %v %v, want %v %v %v %v", c.name, v, q, ts, err, c.v, c.q, c.ts, c.wantErr)
		}
	}
}

func TestFromFloat(t *testing.T) {
	for _, c := range []struct {
		like any
		v    float64
		want any
	}{
		{1.0, 2.5, 2.5}, {float32(1), 2.5, float32(2.5)}, {int16(1), -7, int16(-7)}, {uint8(1), 255, uint8(255)},
		{int32(0), 2147483647, int32(2147483647)}, {uint64(0), 9, uint64(9)}, {true, 0, false}, {false, 1, true},
	} {
		got, err := fromFloat(c.v, ua.MustVariant(c.like))
		if err != nil || got.Value() != c.want {
			t.Errorf("fromFloat(%v, %T) = %v, %v; want %v", c.v, c.like, got, err, c.want)
		}
	}
	for _, c := range []struct {
		like any
		v    float64
	}{
		{int16(1), 1.5}, {int16(1), 40000}, {uint8(1), -1}, {true, 0.5}, {"text", 1}, {1.0, math.Inf(1)},
		{float32(1), 1e300}, {int64(0), 1e300},
	} {
		if _, err := fromFloat(c.v, ua.MustVariant(c.like)); !errors.Is(err, scada.ErrBadInput) {
			t.Errorf("fromFloat(%v, %T) = %v, want scada.ErrBadInput", c.v, c.like, err)
		}
	}
}

func pub(sub, seq uint32) *ua.PublishResponse {
	return &ua.PublishResponse{SubscriptionID: sub, NotificationMessage: &ua.NotificationMessage{SequenceNumber: seq}}
}

func seqs(rs []*ua.PublishResponse) []uint32 {
	var out []uint32
	for _, r := range rs {
		out = append(out, r.NotificationMessage.SequenceNumber)
	}
	return out
}

func TestSequencerReorders(t *testing.T) {
	t0 := time.Date(2026, 12, 6, 0, 0, 0, 0, time.UTC)
	q := &sequencer{grace: 2 * time.Second, limit: 100, subs: map[uint32]*subSeq{}}
	var got []uint32
	keep := func(ready []*ua.PublishResponse) {
		for _, r := range ready {
			if r.SubscriptionID == 1 {
				got = append(got, r.NotificationMessage.SequenceNumber)
			}
		}
	}
	push := func(sub, n uint32, at time.Duration) int {
		ready, gaps := q.push(pub(sub, n), nil, t0.Add(at))
		keep(ready)
		return gaps
	}
	push(1, 1, 0)
	push(1, 3, 0) // 2 is still in flight
	push(2, 7, 0) // another subscription is independent
	push(1, 2, 0)
	if want := []uint32{1, 2, 3}; !equal(got, want) {
		t.Fatalf("order = %v, want %v", got, want)
	}
	// 5 is late: however many responses come after it within the grace
	// period (a loaded machine where the worker holding 5 does not run), it
	// is waited for.
	push(1, 4, 0)
	for n := uint32(6); n < 40; n++ {
		if gaps := push(1, n, time.Second); gaps != 0 {
			t.Fatalf("gave up on 5 after %d later responses within the grace period", n-5)
		}
	}
	push(1, 5, 1500*time.Millisecond)
	if len(got) != 39 || got[4] != 5 || got[38] != 39 {
		t.Fatalf("order = %v, want 1..39", got)
	}
	// 41 never comes: once the grace period is over, 42.. are released and
	// the gap counted, on the next push or on expire for a quiet subscription.
	push(1, 40, 2*time.Second)
	push(1, 42, 2*time.Second)
	if gaps := push(1, 43, 3999*time.Millisecond); gaps != 0 || got[len(got)-1] != 40 {
		t.Fatalf("released too early: gaps %d, order %v", gaps, got)
	}
	ready, gaps := q.expire(nil, t0.Add(4*time.Second))
	keep(ready)
	if gaps != 1 || !equal(got[len(got)-3:], []uint32{40, 42, 43}) {
		t.Fatalf("after the grace period: gaps %d, order %v", gaps, got)
	}
	// A late one is delivered, not dropped.
	push(1, 41, 5*time.Second)
	if got[len(got)-1] != 41 {
		t.Fatalf("late message dropped: %v", got)
	}
	// The limit bounds what is held back.
	q = &sequencer{grace: time.Hour, limit: 3, subs: map[uint32]*subSeq{}}
	got = nil
	push(1, 1, 0)
	push(1, 3, 0)
	push(1, 4, 0)
	if gaps := push(1, 5, 0); gaps != 1 || !equal(got, []uint32{1, 3, 4, 5}) {
		t.Fatalf("at the limit: gaps %d, order %v", gaps, got)
	}
	// Wrap-around.
	q = &sequencer{grace: time.Hour, limit: 2, subs: map[uint32]*subSeq{}}
	ready, _ = q.push(pub(1, math.MaxUint32), nil, t0)
	ready, _ = q.push(pub(1, 2), ready, t0)
	ready, _ = q.push(pub(1, 1), ready, t0) // 0 is skipped when the numbers wrap
	if s := seqs(ready); !equal(s, []uint32{math.MaxUint32, 1, 2}) {
		t.Fatalf("wrap-around order = %v", s)
	}
}

func equal(a, b []uint32) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestStatusErrorMatching(t *testing.T) {
	e := &StatusError{Op: "Read", Code: scada.BadNodeIDUnknown | 0x0400}
	if !errors.Is(e, &StatusError{Code: scada.BadNodeIDUnknown}) {
		t.Error("StatusError does not match its code without info bits")
	}
	if errors.Is(e, scada.ErrConnection) {
		t.Error("BadNodeIdUnknown matches scada.ErrConnection")
	}
	if !errors.Is(&StatusError{Code: scada.Quality(ua.StatusBadSessionIDInvalid)}, scada.ErrConnection) {
		t.Error("BadSessionIdInvalid does not match scada.ErrConnection")
	}
	te := &TagError{Tag: "x", Err: e}
	if !errors.Is(te, scada.ErrUnknownTag) || errors.Is(&TagError{Err: errNotNumeric}, scada.ErrUnknownTag) {
		t.Error("TagError matches scada.ErrUnknownTag wrongly")
	}
	if !errors.Is(&TagError{Err: errNotNumeric}, scada.ErrBadInput) {
		t.Error("a non-numeric TagError does not match scada.ErrBadInput")
	}
}
