package main

import (
	"strings"
	"testing"
)

// Agents recommend setpoints in their replies; the orchestrator applies
// them only through the write guard. A permitted write inside the limits
// reaches the device and is confirmed by read-back; an agent the rules do
// not name is refused, and so is a step too large; every attempt is listed
// with the verified sender as requester.
func TestAgentWrites(t *testing.T) {
	r := startOrchestrator(t, 12, func(c *Config) {
		// GL-002..GL-009 may write; GL-010..GL-013 may not.
		c.Writes.Rules = []WriteRuleConfig{{Requesters: []string{"GL-00*"}, Tags: []string{"boiler1.*"}}}
		// No minimum interval: every permitted recommendation meets the
		// step check, so both outcomes come soon.
		sp := c.Writes.Tags[simSetpoint]
		sp.MinInterval = 0
		c.Writes.Tags[simSetpoint] = sp
	})
	h := waitHealth(t, r, "confirmed writes and refusals", func(h Health) bool {
		if h.Writes == nil {
			return false
		}
		return h.Writes.ByResult["confirmed"] > 0 && h.Writes.ByResult["not_permitted"] > 0 && h.Writes.ByResult["step_too_large"] > 0
	})
	var lastConfirmed *WriteInfo
	for i, w := range h.Writes.Recent {
		if !strings.HasPrefix(w.Requester, "GL-0") || w.Tag != simSetpoint {
			t.Errorf("write record %+v: requester and tag", w)
		}
		switch w.Result {
		case "not_permitted":
			if w.Requester < "GL-010" {
				t.Errorf("%s refused though permitted: %+v", w.Requester, w)
			}
		case "confirmed":
			if w.Requester >= "GL-010" {
				t.Errorf("%s wrote though not permitted: %+v", w.Requester, w)
			}
			if w.ReadBack == nil || *w.ReadBack != w.Requested || w.Old == nil || w.Requested-*w.Old > 2 || *w.Old-w.Requested > 2 {
				t.Errorf("confirmed write %+v: read-back or step", w)
			}
			if lastConfirmed == nil {
				lastConfirmed = &h.Writes.Recent[i]
			}
		case "step_too_large":
			if w.Old == nil || w.Requested-*w.Old <= 2 {
				t.Errorf("step refusal %+v", w)
			}
		}
	}
	if lastConfirmed == nil {
		t.Fatal("no confirmed write among the recent ones")
	}
	// The device holds a value some confirmed write put there (a later
	// write may have moved it since the snapshot).
	if v, err := r.sim.opcua.Value(simSetpoint); err != nil || v < 470 || v > 500 || v == 485 && lastConfirmed.Requested != 485 {
		t.Errorf("device setpoint %v (%v); last confirmed write %+v", v, err, *lastConfirmed)
	}
	code, body := get(t, "http://"+r.addr+"/")
	if code != 200 || !strings.Contains(string(body), `id="write-list"`) {
		t.Errorf("status page (%d) has no list of writes", code)
	}
	if code, body := get(t, "http://"+r.addr+"/metrics"); code != 200 || !strings.Contains(string(body), `gl001_writes_total{result="not_permitted"}`) {
		t.Errorf("/metrics (%d) lacks gl001_writes_total by result", code)
	}
	if err := r.stop(); err != nil {
		t.Fatalf("run: %v", err)
	}
}

// In dry-run mode the guard checks and audits every recommendation and
// writes nothing: the device keeps its initial setpoint.
func TestAgentWritesDryRun(t *testing.T) {
	r := startOrchestrator(t, 12, func(c *Config) { c.Writes.DryRun = true })
	h := waitHealth(t, r, "dry-run writes", func(h Health) bool {
		return h.Writes != nil && h.Writes.ByResult["dry_run"] >= 2
	})
	if !h.Writes.DryRun || h.Writes.ByResult["confirmed"] != 0 {
		t.Errorf("dry run wrote: %+v", h.Writes.ByResult)
	}
	if v, err := r.sim.opcua.Value(simSetpoint); err != nil || v != 485 {
		t.Fatalf("device setpoint %v (%v) in dry-run mode; want 485", v, err)
	}
	if err := r.stop(); err != nil {
		t.Fatalf("run: %v", err)
	}
}
