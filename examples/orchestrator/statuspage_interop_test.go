//go:build interop

package main

import (
	"bytes"
	"context"
	"image"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/greenlang/gl001/scada"
)

// chromium runs Debian's chromium headless on url, 800 px wide, with args,
// and returns its standard output.
func chromium(t *testing.T, url string, args ...string) []byte {
	t.Helper()
	bin, err := exec.LookPath("chromium")
	if err != nil {
		t.Fatalf("chromium is required by the interop tier: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	all := append([]string{
		"--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--hide-scrollbars", "--user-data-dir=" + t.TempDir(), "--virtual-time-budget=5000", "--window-size=800,2400",
	}, args...)
	cmd := exec.CommandContext(ctx, bin, append(all, url)...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("chromium: %v\n%s", err, stderr.String())
	}
	return out
}

// TestStatusPage loads the status page in headless Chromium, 800 px wide,
// and checks the DOM after the page's script has rendered the snapshot
// (embedded in the page) and refreshed it from /healthz: every connector,
// every tag with its value and a sparkline from the buffer, the ERP systems,
// all 99 agents with the reasons of those that failed, the last round, the
// links to /healthz and /metrics, and that nothing is wider than the
// window. It also takes a screenshot at 800 px, kept in the test's artifact
// directory (go test -artifacts). Run by .ci/interop/statuspage.sh, which
// installs Debian's chromium.
func TestStatusPage(t *testing.T) {
	r := startOrchestrator(t, 99, nil)
	waitHealth(t, r, "a round with failures, tags with sparklines and points from every connector", func(h Health) bool {
		for _, c := range h.Connectors {
			if c.Points == 0 {
				return false
			}
		}
		sparks := 0
		for _, tg := range h.Tags {
			n := 0
			for _, v := range tg.Spark {
				if v != nil {
					n++
				}
			}
			if n >= 2 {
				sparks++
			}
		}
		return h.Coordination.Rounds >= 2 && len(h.Coordination.Last) > 0 && h.Coordination.Last[0].Failed+h.Coordination.Last[0].TimedOut > 0 &&
			h.Agents.Total == 99 && sparks >= 10
	})
	url := "http://" + r.addr + "/"

	dom := string(chromium(t, url, "--dump-dom"))
	for _, want := range []string{
		`<tr data-name="boilerhouse">`, `<tr data-name="energy-meters">`,
		`<tr data-name="iot-sensors">`, `<tr data-name="sparkplug-edge">`,
		`<tr data-name="sap-s4">`, `<tr data-name="oracle-fusion">`, `<tr data-name="dynamics-fs">`, `<tr data-name="workday">`,
		`<tr data-tag="boiler1.steam_temp">`, `<tr data-tag="meter1.power_kw">`, `<tr data-tag="stack.temp">`,
		`<tr data-name="jetstream">`, `">forwarding</td>`, "JetStream nats://127.0.0.1:",
		`<polyline points=`,
		`href="/healthz"`, `href="/metrics"`,
		"GL-002", "GL-050", "GL-100", "99 registered",
		"optimize_heat_distribution", "broadcast",
		`class="ok">connected</td>`,
		`class="badge degraded">degraded</b>`,
	} {
		if !strings.Contains(dom, want) {
			t.Errorf("rendered page lacks %q", want)
		}
	}
	// Agents that failed the last round are listed with their reason: the
	// simulated faults, or no answer in time.
	if !regexp.MustCompile(`<td class="bad">[^<]*(simulated fault: burner management system not answering|no answer within \d+ms)</td><td>\d+ agents?: GL-\d{3}`).MatchString(dom) {
		t.Error("rendered page lists no failed agent with its reason")
	}
	// The script rendered the embedded snapshot and then at least one
	// refresh from /healthz.
	if m := regexp.MustCompile(`data-updated="(\d+)"`).FindStringSubmatch(dom); m == nil || m[1] == "1" {
		t.Errorf("the page did not refresh from /healthz: %v", m)
	}
	m := regexp.MustCompile(`data-scroll-width="(\d+)"`).FindStringSubmatch(dom)
	if m == nil {
		t.Error("the page did not report its width")
	} else if w, _ := strconv.Atoi(m[1]); w > 800 {
		t.Errorf("the page is %d px wide in an 800 px window", w)
	}
	if t.Failed() {
		t.Logf("rendered DOM:\n%s", dom)
	}

	shot := filepath.Join(t.ArtifactDir(), "statuspage-800.png")
	chromium(t, url, "--screenshot="+shot)
	data, err := os.ReadFile(shot)
	if err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(bytes.NewReader(data))
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	if w := img.Bounds().Dx(); w != 800 {
		t.Errorf("screenshot is %d px wide, want 800", w)
	}
	if ink := inked(img); ink < 0.02 {
		t.Errorf("screenshot is nearly blank: %.3f of its pixels are not white", ink)
	}
	t.Logf("screenshot: %s", shot)

	if err := r.stop(); err != nil {
		t.Fatalf("run: %v", err)
	}
}

// inked returns the share of img's pixels that are not near white.
func inked(img image.Image) float64 {
	b := img.Bounds()
	n := 0
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			r, g, bl, _ := img.At(x, y).RGBA()
			if r < 0xe000 || g < 0xe000 || bl < 0xe000 {
				n++
			}
		}
	}
	return float64(n) / float64(b.Dx()*b.Dy())
}

// TestStatusPageAlarms renders the alarm table in headless Chromium: two
// alarms delivered to the OPC UA connector's EventSink (through the event
// log, JetStream and the central buffer) appear, the active one marked,
// with their state.
func TestStatusPageAlarms(t *testing.T) {
	r, o, _ := startWithOrchestrator(t, alarmsOn)
	const flue, flame = "ns=1;s=Boiler1.FlueTempAlarm", "ns=1;s=Boiler1.FlameFailure"
	flameEv := limitAlarm(flame, 2, 300, false, false, true)
	flameEv.Condition.Name = "FlameFailure"
	if err := o.edgeRef.DeliverEvents(context.Background(), []scada.Event{limitAlarm(flue, 1, 800, true, false, true), flameEv}); err != nil {
		t.Fatal(err)
	}
	waitHealth(t, r, "two alarms", func(h Health) bool { return len(h.Alarms.List) == 2 })
	dom := string(chromium(t, "http://"+r.addr+"/", "--dump-dom"))
	for _, want := range []string{
		`<span id="alarms-count">1 active, 2 unacknowledged</span>`,
		`<tr data-condition="` + flue + `" class="alarm-active alarm-unacked">`,
		`<tr data-condition="` + flame + `" class=" alarm-unacked">`,
		"active (High), unacked, unconfirmed", "inactive, unacked, unconfirmed",
		"Flue temperature high",
	} {
		if !strings.Contains(dom, want) {
			t.Errorf("rendered page lacks %q", want)
		}
	}
	if strings.Index(dom, flue) > strings.Index(dom, flame) {
		t.Error("the active alarm is not listed first")
	}
}
