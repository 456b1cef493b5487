package opcua_test

import (
	"context"
	"errors"
	"net"
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
	released atomic.Int32
	mu       sync.Mutex
	seen     [][]byte // the continuation points asked for
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
	if req.ReleaseContinuationPoints {
		h.released.Add(1)
		res.Results = []*ua.HistoryReadResult{{StatusCode: ua.StatusOK}}
		return res, nil
	}
	n := req.NodesToRead[0]
	cp := string(n.ContinuationPoint)
	h.mu.Lock()
	h.seen = append(h.seen, n.ContinuationPoint)
	h.mu.Unlock()
	page := func(sc ua.StatusCode, next string, vals ...*ua.DataValue) (ua.Response, error) {
		var ncp []byte
		if next != "" {
			ncp = []byte(next)
		}
		res.Results = []*ua.HistoryReadResult{{StatusCode: sc, ContinuationPoint: ncp,
			HistoryData: ua.NewExtensionObject(&ua.HistoryData{DataValues: vals})}}
		return res, nil
	}
	values := func(from, n int) []*ua.DataValue {
		var out []*ua.DataValue
		for k := from; k < from+n; k++ {
			out = append(out, dv(float64(k), t0.Add(time.Duration(k)*time.Second)))
		}
		return out
	}
	switch n.NodeID.StringID() {
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
	return page(ua.StatusBadNodeIDUnknown, "")
}

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
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	srv := server.New(server.EndPoint("127.0.0.1", port), server.EnableSecurity("None", ua.MessageSecurityModeNone),
		server.EnableAuthMode(ua.UserTokenTypeAnonymous))
	h := &historian{}
	srv.RegisterHandler(id.HistoryReadRequest_Encoding_DefaultBinary, h.read)
	srv.RegisterHandler(id.CallRequest_Encoding_DefaultBinary, h.call)
	ctx, cancel := context.WithCancel(context.Background())
	if err := srv.Start(ctx); err != nil {
		cancel()
		t.Fatal(err)
	}
	t.Cleanup(func() { cancel(); srv.Close() })
	return h, srv.Endpoints()[0].EndpointURL
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
