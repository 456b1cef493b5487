package guard_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/greenlang/gl001/scada"
	"github.com/greenlang/gl001/scada/guard"
)

// A guard in front of a device: a confirmed write, and refusals that a
// caller tells apart with errors.Is.
func Example() {
	dev := newMemDevice(map[string]float64{"boiler1.firing_rate": 40})
	g, err := guard.New(guard.Config{
		Writer: dev,
		Reader: dev, // usually the same Source: it reads the current value and reads back
		Tags: map[string]guard.Limits{
			"boiler1.firing_rate": {Min: 0, Max: 100, MaxStep: 10, Tolerance: 0.01},
		},
		Rules: []guard.Rule{
			{Requesters: []string{"GL-001"}, Tags: []string{"boiler1.*"}},
		},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	ctx := context.Background()

	rec, err := g.Apply(ctx, guard.Request{Requester: "GL-001", Tag: "boiler1.firing_rate", Value: 45})
	fmt.Println(rec.Result, rec.Old, "->", rec.ReadBack, err)

	_, err = g.Apply(ctx, guard.Request{Requester: "GL-001", Tag: "boiler1.firing_rate", Value: 120})
	fmt.Println(errors.Is(err, guard.ErrOutOfRange))

	_, err = g.Apply(ctx, guard.Request{Requester: "GL-001", Tag: "boiler1.firing_rate", Value: 70})
	fmt.Println(errors.Is(err, guard.ErrStepTooLarge))

	_, err = g.Apply(ctx, guard.Request{Requester: "GL-042", Tag: "boiler1.firing_rate", Value: 46})
	var ge *guard.Error
	if errors.As(err, &ge) {
		fmt.Println(ge.Result, errors.Is(err, guard.ErrNotPermitted))
	}
	fmt.Println(g.Stats().Attempts, "attempts audited")
	// Output:
	// confirmed 40 -> 45 <nil>
	// true
	// true
	// not_permitted true
	// 4 attempts audited
}

// Dry-run mode checks and audits, but writes nothing.
func Example_dryRun() {
	dev := newMemDevice(map[string]float64{"header.pressure_sp": 10})
	g, _ := guard.New(guard.Config{
		Writer: dev, Reader: dev, DryRun: true,
		Tags:  map[string]guard.Limits{"header.pressure_sp": {Min: 5, Max: 15}},
		Rules: []guard.Rule{{}}, // anyone, any tag
		OnAudit: func(r guard.Record) {
			fmt.Printf("audit: %s %s %v -> %v: %s\n", r.Requester, r.Tag, r.Old, r.Requested, r.Result)
		},
	})
	_, err := g.Apply(context.Background(), guard.Request{Requester: "operator", Tag: "header.pressure_sp", Value: 12})
	fmt.Println(err, len(dev.written()), "writes")
	// Output:
	// audit: operator header.pressure_sp 10 -> 12: dry_run
	// <nil> 0 writes
}

// A device that accepts the write but keeps its old value (a PLC in local
// control, say) is reported as not confirming it.
func Example_unconfirmed() {
	dev := newMemDevice(map[string]float64{"boiler1.o2_sp": 3})
	dev.keepOld = true
	g, _ := guard.New(guard.Config{
		Writer: dev, Reader: dev,
		Tags:         map[string]guard.Limits{"boiler1.o2_sp": {Min: 1, Max: 6, ConfirmWithin: 20 * time.Millisecond}},
		Rules:        []guard.Rule{{Requesters: []string{"GL-00?"}}},
		PollInterval: 5 * time.Millisecond,
	})
	rec, err := g.Apply(context.Background(), guard.Request{Requester: "GL-001", Tag: "boiler1.o2_sp", Value: 3.5})
	fmt.Println(rec.Result, rec.ReadBack, errors.Is(err, guard.ErrUnconfirmed))
	// Output:
	// unconfirmed 3 true
}

// Latest reads back through a Source's stream: it keeps the last point of
// every tag and lets the guard wait for the written value to be reported.
func ExampleLatest() {
	lat := guard.NewLatest(nil) // or NewLatest(next), in front of the Sink that takes the points further
	ctx := context.Background()
	_ = lat.Deliver(ctx, []scada.Point{{Tag: "boiler1.o2_sp", Value: 3, Quality: scada.Good, Time: time.Now()}})

	go func() { // what the Source delivers once the device took the write
		_ = lat.Deliver(ctx, []scada.Point{{Tag: "boiler1.o2_sp", Value: 3.5, Quality: scada.Good, Time: time.Now()}})
	}()
	p, err := lat.Await(ctx, "boiler1.o2_sp", func(p scada.Point) bool { return p.Value == 3.5 })
	fmt.Println(p.Value, err)
	// Output:
	// 3.5 <nil>
}

// A History behind OnAudit is what a status page lists: the latest writes
// and refusals, newest first.
func ExampleHistory() {
	dev := newMemDevice(map[string]float64{"boiler1.firing_rate": 40})
	recent := guard.NewHistory(50)
	g, _ := guard.New(guard.Config{
		Writer: dev, Reader: dev,
		Tags:    map[string]guard.Limits{"boiler1.firing_rate": {Min: 0, Max: 100}},
		Rules:   []guard.Rule{{Requesters: []string{"GL-001"}}},
		OnAudit: recent.Add,
	})
	ctx := context.Background()
	_, _ = g.Apply(ctx, guard.Request{Requester: "GL-001", Tag: "boiler1.firing_rate", Value: 42})
	_, _ = g.Apply(ctx, guard.Request{Requester: "GL-001", Tag: "boiler1.firing_rate", Value: 140})
	for _, r := range recent.Records() {
		fmt.Printf("%s %s %v: %s\n", r.Requester, r.Tag, r.Requested, r.Result)
	}
	// Output:
	// GL-001 boiler1.firing_rate 140: out_of_range
	// GL-001 boiler1.firing_rate 42: confirmed
}
