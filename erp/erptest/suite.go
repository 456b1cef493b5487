package erptest

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/greenlang/gl001/erp"
)

// The conformance suite of erp.Client.
//
// TestClient runs every test of the suite against one system; each test is
// exported too, so a failing one can be run alone. A harness stores
// Fixtures on a fake server of its system in the system's own format, and
// builds a client of it as a user would configure one:
//
//	func TestConformance(t *testing.T) {
//		erptest.TestClient(t, erptest.Harness{
//			Kind: erptest.EnergyKind,
//			New: func(t *testing.T) erptest.Instance {
//				srv := erptest.NewServer(erptest.Config{Flavour: erptest.SAPV2})
//				t.Cleanup(srv.Close)
//				c, err := sap.New(sap.Config{...})
//				...
//				return erptest.Instance{Client: c, Server: srv, Put: func(fx ...erptest.Fixture) {...}}
//			},
//		})
//	}
//
// The suite waits on events (a stalled page signalling that it stalled),
// never on durations, so it holds on a loaded machine and under -race.

// Kind selects the method of erp.Client the suite reads.
type Kind int

// The record kinds.
const (
	EnergyKind Kind = iota
	ProductionKind
	MaintenanceKind
	CostsKind
)

func (k Kind) String() string {
	switch k {
	case EnergyKind:
		return "Energy"
	case ProductionKind:
		return "Production"
	case MaintenanceKind:
		return "Maintenance"
	case CostsKind:
		return "Costs"
	}
	return "Kind(" + strconv.Itoa(int(k)) + ")"
}

// Fixture is one record the suite asks a harness to store.
type Fixture struct {
	// Key is the record's key, a decimal number as text ("100001"); the
	// client's record must carry it as Source.Key.
	Key string
	// Time is the time the query range applies to (erp.RangeTime of the
	// record): a reading instant, a planned start, a posting day. With
	// Features.WholeDays it is a midnight UTC.
	Time time.Time
	// Value is a whole number for the record's quantity or amount.
	Value int
	// Malformed asks for a record the client cannot decode (a quantity,
	// amount or date that is not one, whatever the harness chooses), with
	// Time still valid so the server's range filter matches it as usual.
	Malformed bool
}

// Faults is what the suite needs of a fake server: every server of this
// package provides it.
type Faults interface {
	Inject(Fault)
	ExpireTokens()
	Stats() Stats
}

// Instance is one client with the server it reads.
type Instance struct {
	Client erp.Client
	Server Faults
	// Put stores the fixtures in the collection the client reads. Called
	// with none, it makes the collection exist, empty.
	Put func(fx ...Fixture)
}

// Harness is what the suite needs from one system.
type Harness struct {
	// Kind is the record kind read.
	Kind Kind
	// New starts a fresh server with an empty collection and a client of
	// it, with fast retries (FastConnConfig). It registers t.Cleanup to
	// close both. The suite calls it once per test.
	New func(t *testing.T) Instance
	// Features say what the system legitimately does its own way.
	Features Features
}

// Features describe how a system legitimately differs. The zero value is an
// OData-like system with bearer tokens and instants as record times.
type Features struct {
	// WholeDays means the record time is a day (a posting or invoice
	// date): the suite stores midnights, and expects a bound with a time of
	// day to exclude that day's records when it is a lower bound and
	// include them when it is an upper one, as [From, To) says.
	WholeDays bool
	// NoBearerTokens means the client authenticates without expiring
	// tokens (a WS-Security user, an API key): the 401-mid-paging test is
	// skipped, since no token can expire.
	NoBearerTokens bool
}

// wait bounds the waits of the suite. It is generous because CI machines
// are loaded; a passing run never reaches it.
const wait = 30 * time.Second

// pageSize is the Query.PageSize of the suite: small, so ten records take
// three pages.
const pageSize = 4

// Range of the suite's queries: bounds with a time of day.
var (
	rangeFrom = time.Date(2024, 2, 1, 12, 0, 0, 0, time.UTC)
	rangeTo   = time.Date(2024, 3, 1, 12, 0, 0, 0, time.UTC)
)

// TestClient runs every test of the suite as a subtest.
func TestClient(t *testing.T, h Harness) {
	for _, tc := range []struct {
		name string
		fn   func(*testing.T, Harness)
	}{
		{"Paging", TestPaging},
		{"EmptyPages", TestEmptyPages},
		{"RangeEdges", TestRangeEdges},
		{"MalformedRecord", TestMalformedRecord},
		{"UnauthorizedMidPaging", TestUnauthorizedMidPaging},
		{"RetryAfter", TestRetryAfter},
		{"CancelMidPage", TestCancelMidPage},
	} {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, h) })
	}
}

// fixtures returns n fixtures inside the suite's range, a day apart from
// the day after From (so whole days are in range too).
func fixtures(h Harness, n int) []Fixture {
	fx := make([]Fixture, n)
	for i := range fx {
		at := rangeFrom.Add(time.Duration(i+1)*24*time.Hour + time.Duration(i)*time.Minute)
		fx[i] = Fixture{Key: strconv.Itoa(100001 + i), Time: h.day(at), Value: 100 + i}
	}
	return fx
}

func (h Harness) day(t time.Time) time.Time {
	if h.Features.WholeDays {
		return t.UTC().Truncate(24 * time.Hour)
	}
	return t
}

func query() erp.Query { return erp.Query{From: rangeFrom, To: rangeTo, PageSize: pageSize} }

// read reads the harness's kind of record, as keys and times, with the
// errors the stream yielded.
func read(ctx context.Context, h Harness, c erp.Client, q erp.Query) (keys []string, times map[string]time.Time, errs []error) {
	times = map[string]time.Time{}
	add := func(src erp.Source, t time.Time, err error) {
		if err != nil {
			errs = append(errs, err)
			return
		}
		keys = append(keys, src.Key)
		times[src.Key] = t
	}
	switch h.Kind {
	case EnergyKind:
		drain(c.Energy(ctx, q), func(r erp.EnergyRecord, err error) { add(r.Source, erp.RangeTime(r), err) })
	case ProductionKind:
		drain(c.Production(ctx, q), func(r erp.ProductionOrder, err error) { add(r.Source, erp.RangeTime(r), err) })
	case MaintenanceKind:
		drain(c.Maintenance(ctx, q), func(r erp.MaintenanceOrder, err error) { add(r.Source, erp.RangeTime(r), err) })
	case CostsKind:
		drain(c.Costs(ctx, q), func(r erp.CostRecord, err error) { add(r.Source, erp.RangeTime(r), err) })
	}
	return keys, times, errs
}

func drain[T any](seq iter.Seq2[T, error], f func(T, error)) {
	for r, err := range seq {
		f(r, err)
	}
}

// wantExactly checks that keys holds each of want once and nothing else.
func wantExactly(t *testing.T, keys []string, want []Fixture) {
	t.Helper()
	seen := map[string]int{}
	for _, k := range keys {
		seen[k]++
	}
	for _, f := range want {
		if seen[f.Key] != 1 {
			t.Errorf("record %s delivered %d times, want once", f.Key, seen[f.Key])
		}
		delete(seen, f.Key)
	}
	for k, n := range seen {
		t.Errorf("record %s delivered %d times, want never", k, n)
	}
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	t.Cleanup(cancel)
	return ctx
}

// TestPaging reads ten records in pages of four: each arrives once, with
// its time, over at least three pages.
func TestPaging(t *testing.T, h Harness) {
	in := h.New(t)
	fx := fixtures(h, 10)
	in.Put(fx...)
	keys, times, errs := read(ctxT(t), h, in.Client, query())
	if len(errs) > 0 {
		t.Fatalf("errors: %v", errs)
	}
	wantExactly(t, keys, fx)
	for _, f := range fx {
		if got, ok := times[f.Key]; ok && !got.Equal(f.Time) {
			t.Errorf("record %s at %v, want %v", f.Key, got, f.Time)
		}
	}
	if p := in.Server.Stats().Pages; p < 3 {
		t.Errorf("%d pages served, want at least 3 for 10 records by 4", p)
	}
}

// TestEmptyPages reads an empty collection, a range with nothing in it, and
// a collection that fills its pages exactly (the last page is empty or
// absent): no records that are not there, no error.
func TestEmptyPages(t *testing.T, h Harness) {
	in := h.New(t)
	in.Put()
	keys, _, errs := read(ctxT(t), h, in.Client, query())
	if len(keys) != 0 || len(errs) != 0 {
		t.Fatalf("empty collection: %v, errors %v", keys, errs)
	}
	fx := fixtures(h, 2*pageSize)
	in.Put(fx...)
	empty := erp.Query{From: rangeTo.Add(100 * 24 * time.Hour), To: rangeTo.Add(200 * 24 * time.Hour), PageSize: pageSize}
	keys, _, errs = read(ctxT(t), h, in.Client, empty)
	if len(keys) != 0 || len(errs) != 0 {
		t.Fatalf("empty range: %v, errors %v", keys, errs)
	}
	keys, _, errs = read(ctxT(t), h, in.Client, query())
	if len(errs) != 0 {
		t.Fatalf("full pages: errors %v", errs)
	}
	wantExactly(t, keys, fx)
}

// TestRangeEdges stores records around both bounds of a range whose bounds
// have a time of day, and expects exactly those in [From, To).
func TestRangeEdges(t *testing.T, h Harness) {
	in := h.New(t)
	var fx, want []Fixture
	for i, at := range []time.Time{
		rangeFrom.Add(-24 * time.Hour), rangeFrom.Add(-time.Second), rangeFrom, rangeFrom.Add(time.Second),
		rangeFrom.Add(10 * 24 * time.Hour),
		rangeTo.Add(-time.Second), rangeTo, rangeTo.Add(time.Second), rangeTo.Add(24 * time.Hour),
	} {
		f := Fixture{Key: strconv.Itoa(200001 + i), Time: h.day(at), Value: 10 + i}
		if h.Features.WholeDays && slices.ContainsFunc(fx, func(g Fixture) bool { return g.Time.Equal(f.Time) }) {
			continue // one record per day is enough
		}
		fx = append(fx, f)
		if !f.Time.Before(rangeFrom) && f.Time.Before(rangeTo) {
			want = append(want, f)
		}
	}
	in.Put(fx...)
	keys, times, errs := read(ctxT(t), h, in.Client, query())
	if len(errs) != 0 {
		t.Fatalf("errors: %v", errs)
	}
	wantExactly(t, keys, want)
	for k, at := range times {
		if at.Before(rangeFrom) || !at.Before(rangeTo) {
			t.Errorf("record %s at %v lies outside [%v, %v)", k, at, rangeFrom, rangeTo)
		}
	}
}

// TestMalformedRecord stores a record that cannot be decoded among good
// ones: it is yielded once as an error matching erp.ErrMalformed, and every
// good record, before and after it, still arrives.
func TestMalformedRecord(t *testing.T, h Harness) {
	in := h.New(t)
	fx := fixtures(h, 7)
	fx[3].Malformed = true
	in.Put(fx...)
	keys, _, errs := read(ctxT(t), h, in.Client, query())
	if len(errs) != 1 || !errors.Is(errs[0], erp.ErrMalformed) {
		t.Fatalf("errors = %v, want one matching erp.ErrMalformed", errs)
	}
	var me *erp.MalformedError
	if !errors.As(errs[0], &me) || me.Field == "" {
		t.Errorf("error %v does not name the field", errs[0])
	}
	wantExactly(t, keys, slices.Delete(slices.Clone(fx), 3, 4))
}

// TestUnauthorizedMidPaging expires every token after the first page: the
// client gets a new one and reads on, every record once, no error.
func TestUnauthorizedMidPaging(t *testing.T, h Harness) {
	if h.Features.NoBearerTokens {
		t.Skip("the system authenticates without expiring tokens (Features.NoBearerTokens)")
	}
	in := h.New(t)
	fx := fixtures(h, 10)
	in.Put(fx...)
	in.Server.Inject(Fault{Skip: 1, ExpireToken: true})
	keys, _, errs := read(ctxT(t), h, in.Client, query())
	if len(errs) != 0 {
		t.Fatalf("errors: %v", errs)
	}
	wantExactly(t, keys, fx)
	if st := in.Server.Stats(); st.Unauthorized < 1 || st.TokensIssued < 2 {
		t.Errorf("server stats %+v: want a 401 and a second token", st)
	}
}

// TestRetryAfter answers the second page with 429 and Retry-After: the
// client waits, asks again and reads on, every record once, no error.
func TestRetryAfter(t *testing.T, h Harness) {
	in := h.New(t)
	fx := fixtures(h, 10)
	in.Put(fx...)
	in.Server.Inject(Fault{Skip: 1, Status: 429, RetryAfter: "1"})
	keys, _, errs := read(ctxT(t), h, in.Client, query())
	if len(errs) != 0 {
		t.Fatalf("errors: %v", errs)
	}
	wantExactly(t, keys, fx)
	if st := in.Server.Stats(); st.Faults != 1 {
		t.Errorf("server stats %+v: want the 429 served", st)
	}
	if s, ok := in.Client.(interface{ Stats() erp.ConnStats }); ok {
		if st := s.Stats(); st.Throttled < 1 {
			t.Errorf("client stats %+v: want the 429 counted", st)
		}
	}
}

// TestCancelMidPage cancels the context while the second page is being
// received: the stream ends at once with an error matching
// context.Canceled, after exactly the first page's records, and no further
// request is sent.
func TestCancelMidPage(t *testing.T, h Harness) {
	in := h.New(t)
	fx := fixtures(h, 10)
	in.Put(fx...)
	stalled := make(chan struct{}, 1)
	in.Server.Inject(Fault{Skip: 1, Stall: true, Stalled: stalled})
	ctx, cancel := context.WithCancel(ctxT(t))
	defer cancel()
	type result struct {
		keys []string
		errs []error
	}
	done := make(chan result, 1)
	go func() {
		keys, _, errs := read(ctx, h, in.Client, query())
		done <- result{keys, errs}
	}()
	select {
	case <-stalled:
	case r := <-done:
		t.Fatalf("the stream ended before the second page stalled: %d records, errors %v", len(r.keys), r.errs)
	case <-time.After(wait):
		t.Fatal("the second page never stalled")
	}
	requests := in.Server.Stats().Requests
	cancel()
	var r result
	select {
	case r = <-done:
	case <-time.After(wait):
		t.Fatal("the stream did not end after its context was cancelled")
	}
	if len(r.errs) != 1 || !errors.Is(r.errs[0], context.Canceled) {
		t.Errorf("errors = %v, want one matching context.Canceled", r.errs)
	}
	if len(r.keys) != pageSize {
		t.Errorf("%d records before the cancellation, want the first page's %d", len(r.keys), pageSize)
	}
	wantExactly(t, r.keys, fx[:len(r.keys)])
	if n := in.Server.Stats().Requests; n != requests {
		t.Errorf("%d requests after the cancellation", n-requests)
	}
}

// String describes a fixture, for messages.
func (f Fixture) String() string {
	return fmt.Sprintf("%s@%s", f.Key, f.Time.Format(time.RFC3339))
}
