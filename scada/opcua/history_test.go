package opcua_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gopcua/opcua/id"
	"github.com/gopcua/opcua/server"
	"github.com/gopcua/opcua/ua"
	"github.com/gopcua/opcua/uasc"

	"github.com/greenlang/gl001/scada"
	"github.com/greenlang/gl001/scada/opcua"
)

// gopcua's server answers HistoryRead and Call with BadServiceUnsupported;
// these tests register the services on it, so the client's requests and the
// answers go over the wire as OPC UA binary. The historian's answers are
// scripted per node: pages with continuation points, a bad continuation
// point, out-of-range timestamps, a continuation point that never advances.

var t0 = time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)

type historian struct {
	released atomic.Int32 // release requests
	mu       sync.Mutex
	seen     [][]byte        // the continuation points asked for
	open     map[string]bool // continuation points handed out, not yet used up or released
	nodes    []int           // the nodes of each request that read values
	limit    int             // the MaxNodesPerHistoryReadData the server advertises, 0 for none
	over     int             // requests with more nodes than limit
}

func dv(v float64, ts time.Time) *ua.DataValue {
	return &ua.DataValue{EncodingMask: ua.DataValueValue | ua.DataValueSourceTimestamp, Value: ua.MustVariant(v), SourceTimestamp: ts}
}

func hdr(req *ua.RequestHeader) *ua.ResponseHeader {
	return &ua.ResponseHeader{Timestamp: time.Now(), RequestHandle: req.RequestHandle, ServiceDiagnostics: &ua.DiagnosticInfo{},
		StringTable: []string{}, AdditionalHeader: ua.NewExtensionObject(nil)}
}

func (h *historian) read(_ *uasc.SecureChannel, r ua.Request, _ uint32) (ua.Response, error) {
	req := r.(*ua.HistoryReadRequest)
	res := &ua.HistoryReadResponse{ResponseHeader: hdr(req.RequestHeader), DiagnosticInfos: []*ua.DiagnosticInfo{}}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.open == nil {
		h.open = map[string]bool{}
	}
	if req.ReleaseContinuationPoints {
		h.released.Add(1)
		for _, n := range req.NodesToRead {
			delete(h.open, string(n.ContinuationPoint))
			res.Results = append(res.Results, &ua.HistoryReadResult{StatusCode: ua.StatusOK})
		}
		return res, nil
	}
	h.nodes = append(h.nodes, len(req.NodesToRead))
	if h.limit > 0 && len(req.NodesToRead) > h.limit {
		h.over++
	}
	details, _ := req.HistoryReadDetails.Value.(*ua.ReadRawModifiedDetails)
	for _, n := range req.NodesToRead {
		h.seen = append(h.seen, n.ContinuationPoint)
		delete(h.open, string(n.ContinuationPoint))
		out := h.node(n, details)
		if len(out.ContinuationPoint) > 0 {
			h.open[string(out.ContinuationPoint)] = true
		}
		res.Results = append(res.Results, out)
	}
	return res, nil
}

// node answers the history of one node: scripted answers for the bad-input
// cases, and for "bf.K" a value every K+1 seconds from t0 on (value
// 1000K + seconds since t0), paged by NumValuesPerNode with the next
// timestamp as the continuation point; bf.5's continuation points are
// refused (BadContinuationPointInvalid).
func (h *historian) node(n *ua.HistoryReadValueID, details *ua.ReadRawModifiedDetails) *ua.HistoryReadResult {
	cp := string(n.ContinuationPoint)
	page := func(sc ua.StatusCode, next string, vals ...*ua.DataValue) *ua.HistoryReadResult {
		var ncp []byte
		if next != "" {
			ncp = []byte(next)
		}
		return &ua.HistoryReadResult{StatusCode: sc, ContinuationPoint: ncp,
			HistoryData: ua.NewExtensionObject(&ua.HistoryData{DataValues: vals})}
	}
	values := func(from, n int) []*ua.DataValue {
		var out []*ua.DataValue
		for k := from; k < from+n; k++ {
			out = append(out, dv(float64(k), t0.Add(time.Duration(k)*time.Second)))
		}
		return out
	}
	sid := n.NodeID.StringID()
	switch sid {
	case "pages": // 15 values in pages of 5
		switch cp {
		case "":
			return page(ua.StatusOK, "p1", values(0, 5)...)
		case "p1":
			return page(ua.StatusOK, "p2", values(5, 5)...)
		case "p2":
			return page(ua.StatusOK, "", values(10, 5)...)
		}
	case "badcp":
		if cp == "" {
			return page(ua.StatusOK, "x", values(0, 2)...)
		}
		return page(ua.StatusBadContinuationPointInvalid, "")
	case "range":
		noTime := &ua.DataValue{EncodingMask: ua.DataValueValue, Value: ua.MustVariant(7.0)}
		text := &ua.DataValue{EncodingMask: ua.DataValueValue | ua.DataValueSourceTimestamp, Value: ua.MustVariant("text"), SourceTimestamp: t0.Add(2 * time.Second)}
		return page(ua.StatusOK, "", dv(-1, t0.Add(-time.Second)), dv(0, t0), noTime, dv(1, t0.Add(time.Second)), text,
			dv(20, t0.Add(20*time.Second)), dv(3, t0.Add(3*time.Second)))
	case "stuck":
		if cp == "" {
			return page(ua.StatusOK, "s", values(0, 1)...)
		}
		return page(ua.StatusOK, "s")
	}
	if sid == "bf.5" && cp != "" { // a historian that loses bf.5's place after one page
		return page(ua.StatusBadContinuationPointInvalid, "")
	}
	var k int
	if _, err := fmt.Sscanf(sid, "bf.%d", &k); err == nil && details != nil {
		step := time.Duration(k+1) * time.Second
		start := details.StartTime
		if cp != "" {
			var ns int64
			if _, err := fmt.Sscanf(cp, sid+"@%d", &ns); err != nil {
				return page(ua.StatusBadContinuationPointInvalid, "")
			}
			start = time.Unix(0, ns)
		}
		ts := t0.Add((max(start.Sub(t0), 0) + step - 1) / step * step) // the first grid time not before start
		var out []*ua.DataValue
		for ; ts.Before(details.EndTime); ts = ts.Add(step) {
			if len(out) == int(details.NumValuesPerNode) {
				return page(ua.StatusOK, fmt.Sprintf("%s@%d", sid, ts.UnixNano()), out...)
			}
			out = append(out, dv(bfValue(k, ts), ts))
		}
		return page(ua.StatusOK, "", out...)
	}
	return page(ua.StatusBadNodeIDUnknown, "")
}

// bfValue is the value of bf.K at ts, in history and live.
func bfValue(k int, ts time.Time) float64 { return float64(1000*k) + ts.Sub(t0).Seconds() }

func (h *historian) call(_ *uasc.SecureChannel, r ua.Request, _ uint32) (ua.Response, error) {
	req := r.(*ua.CallRequest)
	res := &ua.CallResponse{ResponseHeader: hdr(req.RequestHeader), DiagnosticInfos: []*ua.DiagnosticInfo{}}
	for _, m := range req.MethodsToCall {
		out := &ua.CallMethodResult{InputArgumentResults: []ua.StatusCode{}, InputArgumentDiagnosticInfos: []*ua.DiagnosticInfo{}, OutputArguments: []*ua.Variant{}}
		switch m.MethodID.StringID() {
		case "add":
			a, _ := m.InputArguments[0].Value().(float64)
			b, _ := m.InputArguments[1].Value().(float64)
			out.OutputArguments = []*ua.Variant{ua.MustVariant(a + b), ua.MustVariant("sum")}
		case "strict":
			out.StatusCode = ua.StatusBadInvalidArgument
			out.InputArgumentResults = []ua.StatusCode{ua.StatusOK, ua.StatusBadTypeMismatch}
		default:
			out.StatusCode = ua.StatusBadMethodInvalid
		}
		res.Results = append(res.Results, out)
	}
	return res, nil
}

// startHistorian starts a gopcua server with the scripted services.
func startHistorian(t *testing.T) (*historian, string) {
	h, ep, _ := startHistorianWith(t, 0, 0)
	return h, ep
}

// bfLive is the time of the live value of the bf.K variables.
var bfLive = t0.Add(100 * time.Second)

// startHistorianWith also advertises limit as MaxNodesPerHistoryReadData (0:
// not at all) and serves live variables bf.0 .. bf.<live-1>, whose value is
// bfValue at bfLive, in the namespace whose index it returns.
func startHistorianWith(t *testing.T, limit, live int) (*historian, string, uint16) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	srv := server.New(server.EndPoint("127.0.0.1", port), server.EnableSecurity("None", ua.MessageSecurityModeNone),
		server.EnableAuthMode(ua.UserTokenTypeAnonymous))
	h := &historian{limit: limit}
	srv.RegisterHandler(id.HistoryReadRequest_Encoding_DefaultBinary, h.read)
	srv.RegisterHandler(id.CallRequest_Encoding_DefaultBinary, h.call)
	if limit > 0 {
		ns0, err := srv.Namespace(0)
		if err != nil {
			t.Fatal(err)
		}
		ns0.(*server.NodeNameSpace).AddNode(server.NewNode(
			ua.NewNumericNodeID(0, id.Server_ServerCapabilities_OperationLimits_MaxNodesPerHistoryReadData),
			map[ua.AttributeID]*ua.DataValue{ua.AttributeIDNodeClass: server.DataValueFromValue(uint32(ua.NodeClassVariable))},
			nil, func() *ua.DataValue { return server.DataValueFromValue(uint32(limit)) }))
	}
	ns := server.NewNodeNameSpace(srv, "urn:gl001:historian")
	for k := range live {
		ns.AddNode(server.NewVariableNode(ua.NewStringNodeID(ns.ID(), fmt.Sprintf("bf.%d", k)), fmt.Sprintf("bf.%d", k),
			func() *ua.DataValue {
				d := dv(bfValue(k, bfLive), bfLive)
				d.EncodingMask |= ua.DataValueStatusCode
				return d
			}))
	}
	ctx, cancel := context.WithCancel(context.Background())
	if err := srv.Start(ctx); err != nil {
		cancel()
		t.Fatal(err)
	}
	t.Cleanup(func() { cancel(); srv.Close() })
	return h, srv.Endpoints()[0].EndpointURL, ns.ID()
}

func historySource(t *testing.T, endpoint string) *opcua.Source {
	t.Helper()
	src, err := opcua.New(opcua.Config{Endpoint: endpoint, SecurityPolicy: opcua.PolicyNone, SecurityMode: opcua.ModeNone,
		RequestTimeout: 10 * time.Second,
		Tags: []opcua.Tag{
			{Name: "pages", NodeID: "ns=1;s=pages", Unit: "kW"}, {Name: "badcp", NodeID: "ns=1;s=badcp"},
			{Name: "range", NodeID: "ns=1;s=range"}, {Name: "stuck", NodeID: "ns=1;s=stuck"},
			{Name: "gone", NodeID: "ns=1;s=gone"},
		}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { src.Close() })
	return src
}

func collect(src *opcua.Source, tag string, from, to time.Time) (ps []scada.Point, errs []error) {
	for p, err := range src.History(context.Background(), tag, from, to) {
		if err != nil {
			errs = append(errs, err)
			continue
		}
		ps = append(ps, p)
	}
	return ps, errs
}

func TestHistory(t *testing.T) {
	h, ep := startHistorian(t)
	src := historySource(t, ep)
	from, to := t0, t0.Add(15*time.Second)

	t.Run("continuation points", func(t *testing.T) {
		ps, errs := collect(src, "pages", from, to)
		if len(errs) != 0 || len(ps) != 15 {
			t.Fatalf("%d points, errors %v; want 15", len(ps), errs)
		}
		for k, p := range ps {
			if p.Value != float64(k) || !p.Time.Equal(t0.Add(time.Duration(k)*time.Second)) || p.Tag != "pages" || p.Unit != "kW" || !p.Quality.IsGood() || p.Quality.IsBackfilled() {
				t.Fatalf("point %d = %+v", k, p)
			}
		}
	})

	t.Run("stop early releases the continuation point", func(t *testing.T) {
		before := h.released.Load()
		n := 0
		for _, err := range src.History(context.Background(), "pages", from, to) {
			if err != nil {
				t.Fatal(err)
			}
			if n++; n == 2 {
				break
			}
		}
		if h.released.Load() != before+1 {
			t.Fatal("the continuation point was not released")
		}
	})

	t.Run("bad continuation point", func(t *testing.T) {
		before := src.EventStats().HistoryErrors
		ps, errs := collect(src, "badcp", from, to)
		var he *opcua.HistoryError
		if len(ps) != 2 || len(errs) != 1 || !errors.As(errs[0], &he) || he.Code.Code() != scada.Quality(ua.StatusBadContinuationPointInvalid) {
			t.Fatalf("points %v, errors %v; want 2 points and BadContinuationPointInvalid", ps, errs)
		}
		if !errors.Is(errs[0], &opcua.StatusError{Code: scada.Quality(ua.StatusBadContinuationPointInvalid)}) {
			t.Fatalf("%v does not match its status", errs[0])
		}
		if src.EventStats().HistoryErrors != before+1 {
			t.Fatal("not counted")
		}
	})

	t.Run("out of range timestamps", func(t *testing.T) {
		before := src.EventStats().HistoryErrors
		ps, errs := collect(src, "range", from, to)
		if len(ps) != 3 || ps[0].Value != 0 || ps[1].Value != 1 || ps[2].Value != 3 {
			t.Fatalf("points %v, want 0, 1 and 3", ps)
		}
		if len(errs) != 4 { // before from, no timestamp, not numeric, after to
			t.Fatalf("errors %v, want 4", errs)
		}
		for _, err := range errs {
			var ve *opcua.HistoryValueError
			if !errors.Is(err, scada.ErrBadInput) || !errors.As(err, &ve) {
				t.Fatalf("error %v is not a *HistoryValueError", err)
			}
		}
		if src.EventStats().HistoryErrors != before+4 {
			t.Fatalf("counted %d, want 4", src.EventStats().HistoryErrors-before)
		}
	})

	t.Run("stuck continuation point", func(t *testing.T) {
		before := h.released.Load()
		ps, errs := collect(src, "stuck", from, to)
		if len(ps) != 1 || len(errs) != 1 || !errors.Is(errs[0], scada.ErrBadInput) {
			t.Fatalf("points %v, errors %v; want 1 point and a bad-input error", ps, errs)
		}
		if h.released.Load() != before+1 {
			t.Fatal("the stuck continuation point was not released")
		}
	})

	t.Run("refused", func(t *testing.T) {
		_, errs := collect(src, "gone", from, to)
		var he *opcua.HistoryError
		if len(errs) != 1 || !errors.As(errs[0], &he) || he.Code.Code() != scada.BadNodeIDUnknown {
			t.Fatalf("errors %v, want BadNodeIdUnknown", errs)
		}
		if _, errs := collect(src, "nosuchtag", from, to); len(errs) != 1 || !errors.Is(errs[0], scada.ErrUnknownTag) {
			t.Fatalf("unknown tag: %v", errs)
		}
	})
}

func TestCall(t *testing.T) {
	_, ep := startHistorian(t)
	src := historySource(t, ep)
	ctx := context.Background()
	out, err := src.Call(ctx, "ns=1;s=obj", "ns=1;s=add", 2.5, 4.0)
	if err != nil || len(out) != 2 || out[0] != 6.5 || out[1] != "sum" {
		t.Fatalf("Call = %v, %v", out, err)
	}
	_, err = src.Call(ctx, "ns=1;s=obj", "ns=1;s=strict", 1.0, "x")
	var ce *opcua.CallError
	if !errors.As(err, &ce) || len(ce.InputArguments) != 2 ||
		!errors.Is(err, &opcua.ArgumentError{Index: 1, Code: scada.BadTypeMismatch}) ||
		errors.Is(err, &opcua.ArgumentError{Index: 0, Code: scada.BadTypeMismatch}) ||
		!errors.Is(err, &opcua.StatusError{Code: scada.Quality(ua.StatusBadInvalidArgument)}) {
		t.Fatalf("Call = %v, want BadInvalidArgument with argument 1 BadTypeMismatch", err)
	}
	if _, err := src.Call(ctx, "ns=1;s=obj", "ns=1;s=add", struct{}{}); !errors.Is(err, opcua.ErrArgument) {
		t.Fatalf("Call with an untyped argument = %v", err)
	}
	if err := src.Acknowledge(ctx, scada.Event{}, "x"); !errors.Is(err, opcua.ErrNotCondition) {
		t.Fatalf("Acknowledge of a plain event = %v", err)
	}
}

// bfTags are the configured tags bf.0 .. bf.<n-1> in namespace ns.
func bfTags(ns uint16, n int) []opcua.Tag {
	var tags []opcua.Tag
	for k := range n {
		tags = append(tags, opcua.Tag{Name: fmt.Sprintf("bf%d", k), NodeID: fmt.Sprintf("ns=%d;s=bf.%d", ns, k), Unit: "kW"})
	}
	return tags
}

// bfWant is what history holds for bf.K in [from, to).
func bfWant(k int, from, to time.Time) []time.Time {
	var out []time.Time
	step := time.Duration(k+1) * time.Second
	for ts := t0; ts.Before(to); ts = ts.Add(step) {
		if !ts.Before(from) {
			out = append(out, ts)
		}
	}
	return out
}

// Many tags in one HistoryRead: each node follows its own continuation
// points and finishes when its history does, the requests stay within the
// server's MaxNodesPerHistoryReadData, and a node the server refuses or
// answers badly costs only its own points.
func TestHistoryTags(t *testing.T) {
	const limit = 3
	h, ep, ns := startHistorianWith(t, limit, 0)
	tags := append(bfTags(ns, 5), opcua.Tag{Name: "badcp", NodeID: "ns=1;s=badcp"}, opcua.Tag{Name: "gone", NodeID: "ns=1;s=gone"},
		opcua.Tag{Name: "range", NodeID: "ns=1;s=range"})
	src, err := opcua.New(opcua.Config{Endpoint: ep, SecurityPolicy: opcua.PolicyNone, SecurityMode: opcua.ModeNone,
		RequestTimeout: 10 * time.Second, HistoryPageSize: 4, Tags: tags})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { src.Close() })
	names := []string{"bf0", "badcp", "bf1", "gone", "bf2", "range", "bf3", "bf4", "nosuchtag"}
	from, to := t0, t0.Add(15*time.Second)

	got := map[string][]scada.Point{}
	var errs []error
	for p, err := range src.HistoryTags(context.Background(), names, from, to) {
		if err != nil {
			errs = append(errs, err)
			continue
		}
		got[p.Tag] = append(got[p.Tag], p)
	}
	for k := range 5 {
		want := bfWant(k, from, to)
		ps := got[fmt.Sprintf("bf%d", k)]
		if len(ps) != len(want) {
			t.Fatalf("bf%d: %d points, want %d", k, len(ps), len(want))
		}
		for n, p := range ps {
			if !p.Time.Equal(want[n]) || p.Value != bfValue(k, want[n]) || p.Unit != "kW" || !p.Quality.IsGood() || p.Quality.IsBackfilled() {
				t.Fatalf("bf%d point %d = %+v, want %v at %v", k, n, p, bfValue(k, want[n]), want[n])
			}
		}
	}
	if len(got["badcp"]) != 2 || len(got["range"]) != 3 {
		t.Fatalf("badcp %v, range %v: want the 2 and 3 good points", got["badcp"], got["range"])
	}
	// nosuchtag, badcp's continuation point, gone, and range's four bad values.
	var unknown, refused, values int
	for _, err := range errs {
		var he *opcua.HistoryError
		var ve *opcua.HistoryValueError
		switch {
		case errors.Is(err, scada.ErrUnknownTag):
			unknown++
		case errors.As(err, &he) && (he.Tag == "badcp" && he.Code.Code() == scada.Quality(ua.StatusBadContinuationPointInvalid) ||
			he.Tag == "gone" && he.Code.Code() == scada.BadNodeIDUnknown):
			refused++
		case errors.As(err, &ve) && ve.Tag == "range":
			values++
		default:
			t.Fatalf("unexpected error %v", err)
		}
	}
	if unknown != 1 || refused != 2 || values != 4 {
		t.Fatalf("errors %v: want 1 unknown tag, 2 refused nodes, 4 bad values", errs)
	}
	st := src.EventStats()
	if st.HistoryErrors != 6 {
		t.Fatalf("HistoryErrors = %d, want 6", st.HistoryErrors)
	}
	h.mu.Lock()
	nodes, over, open := append([]int(nil), h.nodes...), h.over, len(h.open)
	h.mu.Unlock()
	t.Logf("%d HistoryRead requests of %v nodes", len(nodes), nodes)
	// Pages of 4: bf0 needs 4 requests, bf1 2, the others 1 or 2: one
	// request per node and page would be 15.
	if over != 0 || slices.Max(nodes) != limit || len(nodes) >= 15 || uint64(len(nodes)) != st.HistoryRequests {
		t.Fatalf("requests of %v nodes (limit %d, %d over it), stats %+v", nodes, limit, over, st)
	}
	if open != 0 {
		t.Fatalf("%d continuation points left open", open)
	}
	if s := src.Stats(); s.MaxNodesPerHistoryRead != limit {
		t.Fatalf("MaxNodesPerHistoryRead = %d, want the server's %d", s.MaxNodesPerHistoryRead, limit)
	}

	t.Run("stop early releases every continuation point", func(t *testing.T) {
		before := h.released.Load()
		n := 0
		for _, err := range src.HistoryTags(context.Background(), []string{"bf0", "bf1", "bf2"}, from, to) {
			if err != nil {
				t.Fatal(err)
			}
			if n++; n == 6 { // in the first page of bf1: bf0, bf1 and bf2 hold one each
				break
			}
		}
		h.mu.Lock()
		open := len(h.open)
		h.mu.Unlock()
		if open != 0 || h.released.Load() != before+1 {
			t.Fatalf("%d continuation points open, %d release requests; want 0 and 1", open, h.released.Load()-before)
		}
	})

	t.Run("cancel releases every continuation point", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		n := 0
		var last error
		for _, err := range src.HistoryTags(ctx, []string{"bf0", "bf1", "bf2"}, from, to) {
			if err != nil {
				last = err
				continue
			}
			if n++; n == 12 { // the first page of each: all three still hold one
				cancel()
			}
		}
		h.mu.Lock()
		open := len(h.open)
		h.mu.Unlock()
		if !errors.Is(last, context.Canceled) || open != 0 {
			t.Fatalf("last error %v, %d continuation points open; want context.Canceled and 0", last, open)
		}
	})
}

// Backfill of many tags reads their gaps together: the Source's Buffer
// ended at t0+10s (BackfillConfig.Last, a restarted collector), the live
// values are at t0+100s, and the server keeps a value every K+1 seconds
// for bf.K. Every tag gets exactly the history in its gap, oldest first,
// marked Backfilled, before its live point, and nothing twice. The
// server refuses bf.5's continuation point: bf.5 gets its first page and
// its live point, the error is counted, and the other tags are complete.
func TestBackfillManyTags(t *testing.T) {
	const limit, tags = 3, 6
	h, ep, ns := startHistorianWith(t, limit, tags)
	last := t0.Add(10 * time.Second)
	src, err := opcua.New(opcua.Config{Endpoint: ep, SecurityPolicy: opcua.PolicyNone, SecurityMode: opcua.ModeNone,
		RequestTimeout: 10 * time.Second, PollInterval: 50 * time.Millisecond, HistoryPageSize: 7, BatchSize: 20,
		Tags:     bfTags(ns, tags),
		Backfill: opcua.BackfillConfig{Enabled: true, Last: func(string) time.Time { return last }}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { src.Close() })
	rec := newRecorder()
	stop, _, _ := run(t, src, rec)
	rec.waitFor(t, "live points and duplicates dropped", func(ps []scada.Point) bool {
		for k := range tags {
			if len(byTag(ps, fmt.Sprintf("bf%d", k))) == 0 {
				return false
			}
		}
		return src.EventStats().Duplicates >= 2*tags // two more polls of every tag
	})
	stop()
	ps := rec.snapshot()
	var total int
	for k := range tags {
		got := byTag(ps, fmt.Sprintf("bf%d", k))
		want := bfWant(k, last.Add(time.Nanosecond), bfLive)
		if k == 5 {
			want = want[:7] // one page of 7, then the refused continuation point
		}
		if len(got) != len(want)+1 {
			t.Fatalf("bf%d: %d points, want %d backfilled and 1 live", k, len(got), len(want))
		}
		for n, ts := range want {
			if p := got[n]; !p.Time.Equal(ts) || p.Value != bfValue(k, ts) || !p.Quality.IsBackfilled() || !p.Quality.IsGood() {
				t.Fatalf("bf%d point %d = %+v, want %v at %v, backfilled", k, n, p, bfValue(k, ts), ts)
			}
		}
		if p := got[len(want)]; !p.Time.Equal(bfLive) || p.Quality.IsBackfilled() || p.Value != bfValue(k, bfLive) {
			t.Fatalf("bf%d live point = %+v", k, p)
		}
		total += len(want)
	}
	st := src.EventStats()
	if st.Backfilled != uint64(total) || st.HistoryErrors != 1 {
		t.Fatalf("stats = %+v, want %d backfilled and 1 history error", st, total)
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.over != 0 || slices.Max(h.nodes) != limit || len(h.open) != 0 {
		t.Fatalf("requests of %v nodes (limit %d), %d continuation points open", h.nodes, limit, len(h.open))
	}
	t.Logf("%d HistoryRead requests of %v nodes", len(h.nodes), h.nodes)
	// bf0 alone needs 13 pages of 7 (89 values); one request per node and
	// page would be 34.
	if n := len(h.nodes); n < 13 || n >= 34 {
		t.Fatalf("%d requests: %v", n, h.nodes)
	}
}
