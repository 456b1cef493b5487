package main

import (
	"context"
	"iter"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/greenlang/gl001/erp"
	"github.com/greenlang/gl001/units"
)

// energyClient is an erp.Client serving the energy records it holds; the
// other kinds are empty. The poller under test sees it as any system.
type energyClient struct {
	mu      sync.Mutex
	records []erp.EnergyRecord
}

func (c *energyClient) put(rs ...erp.EnergyRecord) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.records = append(c.records, rs...)
}

func (c *energyClient) Energy(ctx context.Context, q erp.Query) iter.Seq2[erp.EnergyRecord, error] {
	c.mu.Lock()
	rs := slices.Clone(c.records)
	c.mu.Unlock()
	return func(yield func(erp.EnergyRecord, error) bool) {
		for _, r := range rs {
			if !r.Period.Start.Before(q.From) && r.Period.Start.Before(q.To) && !yield(r, nil) {
				return
			}
		}
	}
}

func (c *energyClient) Production(context.Context, erp.Query) iter.Seq2[erp.ProductionOrder, error] {
	return func(func(erp.ProductionOrder, error) bool) {}
}

func (c *energyClient) Maintenance(context.Context, erp.Query) iter.Seq2[erp.MaintenanceOrder, error] {
	return func(func(erp.MaintenanceOrder, error) bool) {}
}

func (c *energyClient) Costs(context.Context, erp.Query) iter.Seq2[erp.CostRecord, error] {
	return func(func(erp.CostRecord, error) bool) {}
}

// hourly returns n hourly records of meter M1 from start, keyed from key on.
func hourly(n int, start time.Time, key int) []erp.EnergyRecord {
	out := make([]erp.EnergyRecord, n)
	for i := range out {
		s := start.Add(time.Duration(i) * time.Hour)
		out[i] = erp.EnergyRecord{
			Source: erp.Source{System: "test", Entity: "Reading", Key: strconv.Itoa(key + i)},
			Plant:  "1010", Meter: "M1", Period: erp.Period{Start: s, End: s.Add(time.Hour)},
			Quantity: erp.Quantity{Value: erp.NewDecimal(1005, 1), Unit: units.MustParse("kWh"), Code: "KWH"},
		}
	}
	return out
}

// One normaliser per system across fetches: records the previous fetch
// already returned are re-reads, not duplicates; a gap, and a second record
// for a meter hour already covered, that appear between fetches are found
// and counted in the health snapshot, with the last one named.
func TestERPPollerFindsIssuesAcrossFetches(t *testing.T) {
	now := time.Now().UTC().Truncate(time.Hour)
	start := now.Add(-20 * time.Hour)
	client := &energyClient{}
	client.put(hourly(6, start, 1000)...)
	p, err := newERPPoller(ERPConfig{Name: "test", Kind: "sap", Fetch: []string{"energy"}, Interval: time.Hour}, client, func() error { return nil }, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	issues := func() (ERPInfo, []string, []string) {
		var problems, warnings []string
		return p.info(&problems, &warnings), problems, warnings
	}

	// The same window read three times: six readings each time, no issue.
	for range 3 {
		p.fetch(ctx, now)
	}
	info, problems, warnings := issues()
	if info.Records["energy"] != 6 || info.Total["energy"] != 18 || len(problems) != 0 || len(warnings) != 0 {
		t.Fatalf("after three fetches of one window: %+v, problems %v, warnings %v", info, problems, warnings)
	}
	for kind, n := range info.Issues {
		if n != 0 {
			t.Errorf("re-reads reported as %d %s", n, kind)
		}
	}
	if want := 6 * 100.5; info.EnergyKWh != want {
		t.Errorf("energy = %v kWh, want %v", info.EnergyKWh, want)
	}

	// Between fetches the system gains, under a new key, a second reading
	// for its last hour, and readings after a two-hour gap.
	client.put(hourly(1, start.Add(5*time.Hour), 2000)...)
	client.put(hourly(3, start.Add(8*time.Hour), 3000)...)
	p.fetch(ctx, now)
	info, _, warnings = issues()
	if info.Issues["gap"] != 1 || info.Issues["duplicate"] != 1 {
		t.Errorf("issues = %v, want one gap and one duplicate", info.Issues)
	}
	if !strings.HasPrefix(info.LastIssue, "gap M1 at ") || len(warnings) != 1 {
		t.Errorf("last issue %q, warnings %v", info.LastIssue, warnings)
	}
	// Read again: nothing new, nothing more found.
	p.fetch(ctx, now)
	if again, _, _ := issues(); again.Issues["gap"] != 1 || again.Issues["duplicate"] != 1 || again.Total["energy"] != 18+10+10 {
		t.Errorf("a re-read counted again: %v, %v records", again.Issues, again.Total)
	}
}
