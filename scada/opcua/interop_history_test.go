//go:build interop

package opcua_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/greenlang/gl001/scada"
	"github.com/greenlang/gl001/scada/buffer"
	"github.com/greenlang/gl001/scada/opcua"
)

// History against node-opcua's history service, served by the synthetic
// historian of opcua_server.mjs: Hist.k is k*1e6 + (unix second mod 1e6)
// at every second, in live data and in history alike, so every value read
// can be checked.

// histValue is the value of Hist.k at ts, as the server computes it.
func histValue(k int, ts time.Time) float64 { return float64(k*1000000 + int(ts.Unix()%1000000)) }

// checkSeconds checks that ps are the points of Hist.k, one a second, from
// first on, with the server's values: nothing missing, nothing twice.
func checkSeconds(t testing.TB, name string, k int, ps []scada.Point, first time.Time) {
	t.Helper()
	for n, p := range ps {
		want := first.Add(time.Duration(n) * time.Second)
		if !p.Time.Equal(want) || p.Value != histValue(k, want) || p.Quality.Code() != scada.Good {
			prev := "none"
			if n > 0 {
				prev = ps[n-1].Time.Format(time.RFC3339Nano)
			}
			t.Fatalf("%s point %d = %v %v %v (previous at %s), want %v at %v: a gap, a duplicate or a wrong value",
				name, n, p.Value, p.Time.Format(time.RFC3339Nano), p.Quality, prev, histValue(k, want), want.Format(time.RFC3339Nano))
		}
	}
}

// readValue reads a diagnostic variable of the server.
func readValue(t *testing.T, src *opcua.Source, tag string) float64 {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	p, err := src.Read(ctx, tag)
	if err != nil || !p.Quality.IsGood() {
		t.Fatalf("Read %s = %+v, %v", tag, p, err)
	}
	return p.Value
}

// Many tags per HistoryRead against node-opcua: every tag's history
// complete and exact, the requests within the MaxNodesPerHistoryReadData
// the server advertises, and a bad continuation point, values outside the
// interval and a node without history each a typed error, counted, with
// the other tags' points all delivered. Stopping early or cancelling
// leaves no continuation point open at the server.
func TestInteropHistory(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile := writeCert(t, dir, "server", "urn:gl001:interop:server")
	const tags, limit = 5, 3
	srv := startNodeAt(t, certFile, keyFile, filepath.Join(dir, "pki"), 0,
		fmt.Sprint("GL001_HISTORY_TAGS=", tags), "GL001_HISTORY_SECONDS=600", fmt.Sprint("GL001_HISTORY_MAX_NODES=", limit))
	cfg := secureConfig(t, nodeServer{endpoint: srv.endpoint, serverCert: certFile, dir: dir}, opcua.ModeSign)
	cfg.Tags = nil
	var names []string
	for k := range tags {
		names = append(names, fmt.Sprintf("h%d", k))
		cfg.Tags = append(cfg.Tags, opcua.Tag{Name: names[k], NodeID: fmt.Sprintf("ns=1;s=Hist.%d", k), Unit: "kW"})
	}
	cfg.Tags = append(cfg.Tags,
		opcua.Tag{Name: "stray", NodeID: "ns=1;s=Hist.Stray", Unit: "kW"},
		opcua.Tag{Name: "expire", NodeID: "ns=1;s=Hist.Expire", Unit: "kW"},
		opcua.Tag{Name: "steam", NodeID: "ns=1;s=Boiler1.SteamTemp"}, // not historized
		opcua.Tag{Name: "opencp", NodeID: "ns=1;s=Boiler1.OpenContinuationPoints"},
		opcua.Tag{Name: "reads", NodeID: "ns=1;s=Boiler1.HistoryReads"},
		opcua.Tag{Name: "maxnodes", NodeID: "ns=1;s=Boiler1.HistoryReadMaxNodes"},
	)
	cfg.HistoryPageSize = 50
	cfg.RequestTimeout = 30 * time.Second
	src, err := opcua.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	rec := newRecorder()
	run(t, src, rec) // History then uses the running session, which outlives each read
	rec.waitFor(t, "live values", func(ps []scada.Point) bool { return len(byTag(ps, "h0")) > 0 })

	from, to := srv.historyStart, srv.historyStart.Add(300*time.Second)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	got := map[string][]scada.Point{}
	var errs []error
	for p, err := range src.HistoryTags(ctx, append(names, "stray", "expire", "steam"), from, to) {
		if err != nil {
			errs = append(errs, err)
			continue
		}
		got[p.Tag] = append(got[p.Tag], p)
	}
	for k, name := range names {
		if len(got[name]) != 300 {
			t.Fatalf("%s: %d points, want 300", name, len(got[name]))
		}
		checkSeconds(t, name, k, got[name], from)
	}
	if len(got["stray"]) != 300 {
		t.Fatalf("stray: %d points, want the 300 inside the interval", len(got["stray"]))
	}
	checkSeconds(t, "stray", 900, got["stray"], from)
	if len(got["expire"]) != 50 {
		t.Fatalf("expire: %d points, want the first page of 50", len(got["expire"]))
	}
	checkSeconds(t, "expire", 901, got["expire"], from)
	var outside, badCP, noHistory int
	for _, err := range errs {
		var he *opcua.HistoryError
		var ve *opcua.HistoryValueError
		switch {
		case errors.As(err, &ve) && ve.Tag == "stray" && errors.Is(err, scada.ErrBadInput) &&
			(ve.Time.Equal(from.Add(-time.Second)) || ve.Time.Equal(to.Add(time.Second))):
			outside++
		case errors.As(err, &he) && he.Tag == "expire" && he.Code.Code() == 0x804A0000: // BadContinuationPointInvalid
			badCP++
		case errors.As(err, &he) && he.Tag == "steam" && he.Code.IsBad():
			noHistory++
		default:
			t.Fatalf("unexpected error %v", err)
		}
	}
	if outside != 2 || badCP != 1 || noHistory != 1 {
		t.Fatalf("errors %v: want 2 values outside, 1 bad continuation point, 1 node without history", errs)
	}
	st := src.EventStats()
	if st.HistoryErrors != 4 || st.HistoryPoints != 5*300+300+50 {
		t.Fatalf("stats = %+v, want 4 history errors and %d points", st, 5*300+300+50)
	}
	if n := readValue(t, src, "maxnodes"); n != limit || src.Stats().MaxNodesPerHistoryRead != limit {
		t.Fatalf("the server saw up to %v nodes per HistoryRead, the source used %d; want its limit %d", n, src.Stats().MaxNodesPerHistoryRead, limit)
	}
	if n := readValue(t, src, "reads"); uint64(n) != st.HistoryRequests {
		t.Fatalf("the server counted %v HistoryRead requests, the source %d", n, st.HistoryRequests)
	}
	// 8 nodes, 6 or 7 pages of 50 each for most: one request per node and
	// page would be over 40.
	if st.HistoryRequests > 20 {
		t.Fatalf("%d HistoryRead requests for 8 nodes in pages of 50, 3 nodes a request", st.HistoryRequests)
	}
	if n := readValue(t, src, "opencp"); n != 0 {
		t.Fatalf("%v continuation points open after complete reads", n)
	}

	t.Run("stop early", func(t *testing.T) {
		releases := src.EventStats().HistoryReleases
		n := 0
		for _, err := range src.HistoryTags(ctx, names, from, to) {
			if err != nil {
				t.Fatal(err)
			}
			if n++; n == 75 { // in the second node's first page
				if open := readValue(t, src, "opencp"); open != limit {
					t.Fatalf("%v continuation points open during the read, want %d", open, limit)
				}
				break
			}
		}
		if open := readValue(t, src, "opencp"); open != 0 || src.EventStats().HistoryReleases != releases+1 {
			t.Fatalf("%v continuation points open after stopping, %d release requests; want 0 and 1", open, src.EventStats().HistoryReleases-releases)
		}
	})

	t.Run("cancel", func(t *testing.T) {
		cctx, ccancel := context.WithCancel(ctx)
		defer ccancel()
		n := 0
		var last error
		for _, err := range src.HistoryTags(cctx, names, from, to) {
			if err != nil {
				last = err
				continue
			}
			if n++; n == 75 {
				ccancel()
			}
		}
		if !errors.Is(last, context.Canceled) {
			t.Fatalf("last error %v, want context.Canceled", last)
		}
		if open := readValue(t, src, "opencp"); open != 0 {
			t.Fatalf("%v continuation points open after cancel", open)
		}
	})
}

// outage is how long the backfill test cuts the network:
// GL001_INTEROP_OUTAGE (a Go duration; the CI tier sets 60s, the outage
// the issue asks for), 3 s by default for a quick local run.
func outage(t *testing.T) time.Duration {
	s := os.Getenv("GL001_INTEROP_OUTAGE")
	if s == "" {
		return 3 * time.Second
	}
	d, err := time.ParseDuration(s)
	if err != nil || d <= 0 {
		t.Fatalf("GL001_INTEROP_OUTAGE=%q: want a positive duration such as 60s", s)
	}
	return d
}

// bufferedTags returns the Good points of each tag in the buffer, in log
// order, and the newest per tag.
func bufferedTags(t *testing.T, buf buffer.Buffer) (map[string][]scada.Point, map[string]time.Time) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out := map[string][]scada.Point{}
	newest := map[string]time.Time{}
	for b, err := range buf.Scan(ctx, 0) {
		if err != nil {
			t.Fatalf("Scan: %v", err)
		}
		for _, p := range b.Points {
			if p.Quality.IsBad() {
				continue
			}
			out[p.Tag] = append(out[p.Tag], p)
			if p.Time.After(newest[p.Tag]) {
				newest[p.Tag] = p.Time
			}
		}
	}
	return out, newest
}

// An outage (GL001_INTEROP_OUTAGE, 60 s in CI) filled by backfill, into a
// disk Buffer: for every tag, from its first point to its last, the Buffer
// holds one Good point a second with the server's value, no gap and no
// duplicate, and the points of the outage carry the Backfilled bit. Then
// the collector restarts: a new Source, the Buffer reopened, whose end per
// tag (BackfillConfig.Last) is where the new Source fills from, and again
// the Buffer has no gap and no duplicate.
func TestInteropBackfill(t *testing.T) {
	down := outage(t)
	dir := t.TempDir()
	certFile, keyFile := writeCert(t, dir, "server", "urn:gl001:interop:server")
	const tags = 4
	srv := startNodeAt(t, certFile, keyFile, filepath.Join(dir, "pki"), 0, fmt.Sprint("GL001_HISTORY_TAGS=", tags))
	px := newProxy(t, strings.TrimPrefix(srv.endpoint, "opc.tcp://"))
	cfg := eventsConfig(t, nodeServer{endpoint: srv.endpoint, serverCert: certFile, dir: dir}, "opc.tcp://"+px.ln.Addr().String())
	cfg.Tags = nil
	for k := range tags {
		cfg.Tags = append(cfg.Tags, opcua.Tag{Name: fmt.Sprintf("h%d", k), NodeID: fmt.Sprintf("ns=1;s=Hist.%d", k), Unit: "kW"})
	}
	cfg.SamplingInterval, cfg.PublishingInterval = 100*time.Millisecond, 100*time.Millisecond
	cfg.Backfill = opcua.BackfillConfig{Enabled: true}

	bufDir := t.TempDir()
	open := func() *buffer.Disk {
		b, err := buffer.OpenDisk(buffer.DiskConfig{Dir: bufDir})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { b.Close() })
		return b
	}
	buf := open()
	// waitBuffer waits until every tag's newest Good point is after ts.
	waitBuffer := func(what string, ts time.Time) {
		t.Helper()
		deadline := time.Now().Add(2 * time.Minute)
		for {
			_, newest := bufferedTags(t, buf)
			ok := len(newest) == tags
			for _, n := range newest {
				ok = ok && n.After(ts)
			}
			if ok {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("timed out waiting for %s: newest %v", what, newest)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	// check verifies the whole buffer and returns the backfilled points.
	check := func() int {
		t.Helper()
		byTag, _ := bufferedTags(t, buf)
		filled := 0
		for k := range tags {
			name := fmt.Sprintf("h%d", k)
			ps := byTag[name]
			checkSeconds(t, name, k, ps, ps[0].Time)
			for _, p := range ps {
				if p.Quality.IsBackfilled() {
					filled++
				}
			}
		}
		return filled
	}

	src, err := opcua.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		for ctx.Err() == nil {
			_ = src.Run(ctx, buf)
			select {
			case <-ctx.Done():
			case <-time.After(200 * time.Millisecond):
			}
		}
	}()
	defer func() { stop(); <-done }()
	waitBuffer("live values", time.Now().Add(2*time.Second))

	px.cut()
	cut := time.Now()
	for time.Since(cut) < down { // the outage itself: the scenario, not a wait for an event
		time.Sleep(100 * time.Millisecond)
	}
	px.heal()
	healed := time.Now()
	waitBuffer("live values after the outage", healed.Add(2*time.Second))
	filled := check()
	want := int(down/time.Second) - 1
	if filled < tags*want {
		t.Fatalf("%d points backfilled for a %v outage of %d tags, want at least %d", filled, down, tags, tags*want)
	}
	st := src.EventStats()
	if st.Backfilled != uint64(filled) || st.HistoryErrors != 0 || st.HistoryRequests == 0 {
		t.Fatalf("stats = %+v, want %d backfilled", st, filled)
	}
	// Every gap in one request per page: 4 tags, at most 1,000 values each a page.
	if pages := uint64(down/time.Second/1000) + 1; st.HistoryRequests > pages {
		t.Fatalf("%d HistoryRead requests for the gaps of %d tags, want %d", st.HistoryRequests, tags, pages)
	}
	t.Logf("outage %v: %d points backfilled in %d HistoryRead requests, %d live duplicates dropped",
		down, filled, st.HistoryRequests, st.Duplicates)

	// The collector restarts: its Buffer, reopened, ends where it stopped.
	stop()
	<-done
	if err := buf.Close(); err != nil {
		t.Fatal(err)
	}
	stopped := time.Now()
	for time.Since(stopped) < 3*time.Second { // the restart takes time, in which the server goes on
		time.Sleep(100 * time.Millisecond)
	}
	buf = open()
	_, newest := bufferedTags(t, buf)
	cfg2 := cfg
	cfg2.Backfill.Last = func(tag string) time.Time { return newest[tag] }
	src2, err := opcua.New(cfg2)
	if err != nil {
		t.Fatal(err)
	}
	ctx, stop = context.WithCancel(context.Background())
	done = make(chan struct{})
	go func() { defer close(done); src2.Run(ctx, buf) }()
	waitBuffer("live values after the restart", time.Now().Add(2*time.Second))
	stop()
	<-done
	if filled2 := check() - filled; filled2 < tags*2 || src2.EventStats().Backfilled != uint64(filled2) {
		t.Fatalf("%d points backfilled after a restart of 3 s, stats %+v", filled2, src2.EventStats())
	}
}
