package main

import (
	"context"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"
	"unicode/utf8"
)

// summaryWidth is the width every line of the summary fits in.
const summaryWidth = 80

// summary is the part that prints the live summary every interval. On a
// terminal it redraws one block in place; otherwise (a file, a pipe, a CI
// log) it prints one compact line per interval. When it stops it prints the
// full block once more, headed "final", while every other part still runs.
type summary struct {
	o        *Orchestrator
	out      io.Writer
	interval time.Duration
	terminal bool
	drawn    int // lines of the block drawn last, to move back over
}

func (s *summary) Run(ctx context.Context) error {
	if s.interval > 0 {
		t := time.NewTicker(s.interval)
		defer t.Stop()
	loop:
		for {
			select {
			case <-ctx.Done():
				break loop
			case <-t.C:
				h := s.o.Health(ctx, false)
				if s.terminal {
					s.redraw(summaryBlock(h, false))
				} else {
					_, _ = io.WriteString(s.out, summaryLine(h)+"\n")
				}
			}
		}
	}
	block := summaryBlock(s.o.Health(context.WithoutCancel(ctx), false), true)
	if s.terminal {
		s.redraw(block)
	} else {
		_, _ = io.WriteString(s.out, strings.Join(block, "\n")+"\n")
	}
	return nil
}

// redraw moves the cursor back over the block drawn last, clears to the end
// of the screen and draws lines.
func (s *summary) redraw(lines []string) {
	var b strings.Builder
	if s.drawn > 0 {
		fmt.Fprintf(&b, "\x1b[%dF\x1b[J", s.drawn)
	}
	for _, l := range lines {
		b.WriteString(l)
		b.WriteString("\n")
	}
	s.drawn = len(lines)
	_, _ = io.WriteString(s.out, b.String())
}

// fit shortens s to the summary's width, marking the cut with an ellipsis.
func fit(s string) string {
	if utf8.RuneCountInString(s) <= summaryWidth {
		return s
	}
	r := []rune(s)
	return string(r[:summaryWidth-1]) + "…"
}

// shortKind names the ERP record kinds in the summary.
var shortKind = map[string]string{"energy": "energy", "production": "prod", "maintenance": "maint", "costs": "costs"}

// wrap breaks s at spaces into at most n lines of width runes, the last
// one shortened with an ellipsis if s does not fit.
func wrap(s string, width, n int) []string {
	var lines []string
	for len(lines) < n-1 && utf8.RuneCountInString(s) > width {
		r := []rune(s)
		cut := strings.LastIndex(string(r[:width]), " ")
		if cut <= 0 {
			break
		}
		lines = append(lines, s[:cut])
		s = strings.TrimLeft(s[cut:], " ")
	}
	if utf8.RuneCountInString(s) > width {
		s = string([]rune(s)[:width-1]) + "…"
	}
	return append(lines, s)
}

// summaryLine is the compact form, one line per interval.
func summaryLine(h Health) string {
	conn := 0
	for _, c := range h.Connectors {
		if c.Healthy {
			conn++
		}
	}
	erpOK := 0
	for _, e := range h.ERP {
		if e.Healthy {
			erpOK++
		}
	}
	line := fmt.Sprintf("t=%.0fs %s: %d pts %.0f/s lag %d; scada %d/%d erp %d/%d agents %d/%d",
		h.Uptime, h.Status, h.Points, h.PointsPerSec, h.BufferLag, conn, len(h.Connectors), erpOK, len(h.ERP), h.Agents.Healthy, h.Agents.Total)
	if len(h.Coordination.Last) > 0 {
		r := h.Coordination.Last[0]
		line += fmt.Sprintf("; round %d: %d/%d", r.Round, r.Answered, r.Targets)
	}
	return fit(line)
}

// summaryBlock is the full form: status and why, throughput and grades,
// every connector, every ERP system, the fleet and the last round; every
// line within summaryWidth.
func summaryBlock(h Health, final bool) []string {
	var lines []string
	add := func(format string, args ...any) { lines = append(lines, fit(fmt.Sprintf(format, args...))) }
	head := "──"
	if final {
		head = "── final"
	}
	add("%s %s %s  t=%.0fs  %s", head, h.ID, h.Extra, h.Uptime, strings.ToUpper(h.Status))
	for i, p := range h.Problems {
		if i == 3 {
			add("  ! and %d more problems: see /healthz", len(h.Problems)-3)
			break
		}
		for j, l := range wrap(p, summaryWidth-4, 2) {
			if j == 0 {
				add("  ! %s", l)
			} else {
				add("    %s", l)
			}
		}
	}
	add("  scada   %d points, %.0f/s; buffered %d, consumed %d, lag %d", h.Points, h.PointsPerSec, h.Buffered, h.Consumed, h.BufferLag)
	var g strings.Builder
	for _, name := range []string{"Excellent", "Good", "Fair", "Poor", "Invalid"} {
		fmt.Fprintf(&g, " %s %d", name, h.Grades[name])
	}
	add("  quality%s", g.String())
	for _, f := range h.Forward.Forwarders {
		add("  fwd    %-15s %-10s %7d pts acked, lag %d (%.1fs) %d redelivered", f.Name, f.State, f.Points, f.LagPoints, f.LagSeconds, f.Redelivered)
	}
	for _, c := range h.Connectors {
		errs := uint64(0)
		for _, n := range c.Errors {
			errs += n
		}
		add("  %-6s %-15s %-10s %7d pts %5d bad %4d err", c.Protocol, c.Name, c.State, c.Points, c.BadPoints, errs)
	}
	for _, e := range h.ERP {
		kinds := make([]string, 0, len(e.Records))
		for k, n := range e.Records {
			kinds = append(kinds, fmt.Sprintf("%d %s", n, shortKind[k]))
		}
		sort.Strings(kinds)
		state := "ok"
		if !e.Healthy {
			state = "failing"
		}
		add("  erp    %-15s %-10s %3d fetches: %s", e.Name, state, e.Fetches, strings.Join(kinds, ", "))
		if e.LastError != "" {
			add("    last error: %s", e.LastError)
		}
	}
	if len(h.Alarms.List) > 0 {
		top := h.Alarms.List[0]
		add("  alarms  %d active, %d unacknowledged; top: %s (%d) %s", h.Alarms.Active, h.Alarms.Unacknowledged, top.Name, top.Severity, top.Message)
	}
	a := h.Agents
	add("  agents  %d registered: %d healthy, %d suspect, %d unreachable", a.Total, a.Healthy, a.Suspect, a.Unreachable)
	for _, r := range h.Coordination.Last {
		v := ""
		if r.Value != "" {
			v = " → " + r.Value
		}
		add("  round %d %-21s %3d/%-3d ok %2d failed %2d late%s", r.Round, r.Name, r.Answered, r.Targets, r.Failed, r.TimedOut, v)
	}
	return lines
}
