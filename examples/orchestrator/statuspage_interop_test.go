//go:build interop

package main

import (
	"context"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// TestStatusPage loads the status page in headless Chromium and checks the
// DOM after the page's script has fetched /healthz and rendered it: every
// connector, the ERP systems, all 99 agents and the last coordination round.
// Run by .ci/interop/statuspage.sh, which installs Debian's chromium.
func TestStatusPage(t *testing.T) {
	chromium, err := exec.LookPath("chromium")
	if err != nil {
		t.Fatalf("chromium is required by the interop tier: %v", err)
	}
	r := startOrchestrator(t, 99, nil)
	waitHealth(t, r, "a coordination round and points from every connector", func(h Health) bool {
		for _, c := range h.Connectors {
			if c.Points == 0 {
				return false
			}
		}
		return h.Coordination.Rounds >= 1 && len(h.Coordination.Last) > 0 && h.Agents.Total == 99
	})

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, chromium,
		"--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--user-data-dir="+t.TempDir(), "--virtual-time-budget=5000",
		"--dump-dom", "http://"+r.addr+"/")
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("chromium: %v\n%s", err, stderr.String())
	}
	dom := string(out)
	for _, want := range []string{
		`data-updated="1"`, // the script fetched /healthz and rendered it
		`<tr data-name="boilerhouse">`, `<tr data-name="energy-meters">`,
		`<tr data-name="iot-sensors">`, `<tr data-name="sparkplug-edge">`,
		`<tr data-name="sap-s4">`, `<tr data-name="oracle-fusion">`, `<tr data-name="dynamics-fs">`, `<tr data-name="workday">`,
		"GL-002", "GL-050", "GL-100", "99 registered",
		"optimize_heat_distribution", "broadcast",
		`class="ok">connected</td>`,
	} {
		if !strings.Contains(dom, want) {
			t.Errorf("rendered page lacks %q", want)
		}
	}
	if t.Failed() {
		t.Logf("rendered DOM:\n%s", dom)
	}
	if err := r.stop(); err != nil {
		t.Fatalf("run: %v", err)
	}
}
