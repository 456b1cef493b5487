package transform

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/greenlang/gl001/scada"
	"github.com/greenlang/gl001/units"
)

var t0 = time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)

func fixedClock(t time.Time) func() time.Time { return func() time.Time { return t } }

func pt(tag string, v float64, unit string, at time.Time) scada.Point {
	return scada.Point{Tag: tag, Value: v, Unit: unit, Quality: scada.Good, Time: at, Source: "test"}
}

func TestChain(t *testing.T) {
	var order []string
	stage := func(name string) Pipeline {
		return Func(func(_ context.Context, b []scada.Point) ([]scada.Point, error) {
			order = append(order, name)
			for i := range b {
				b[i].Value++
			}
			return b, nil
		})
	}
	inner := Chain(stage("b"), nil, stage("c"))
	p := Chain(stage("a"), nil, inner, stage("d"))
	if c, ok := p.(chain); !ok || len(c) != 4 {
		t.Fatalf("nested chains are not flattened: %#v", p)
	}
	out, err := p.Process(context.Background(), []scada.Point{pt("x", 0, "", t0)})
	if err != nil || out[0].Value != 4 || strings.Join(order, "") != "abcd" {
		t.Fatalf("out %v, err %v, order %v", out, err, order)
	}

	// An empty chain is the identity.
	in := []scada.Point{pt("x", 1, "", t0)}
	if out, err := Chain().Process(context.Background(), in); err != nil || len(out) != 1 || out[0].Value != 1 {
		t.Fatalf("empty chain: %v %v", out, err)
	}

	// A failing stage stops the chain and is named in the error.
	boom := errors.New("boom")
	order = nil
	failing := Chain(stage("a"), Func(func(_ context.Context, b []scada.Point) ([]scada.Point, error) { return b, boom }), stage("z"))
	_, err = failing.Process(context.Background(), []scada.Point{pt("x", 0, "", t0)})
	if !errors.Is(err, boom) || !strings.Contains(err.Error(), "stage 1") || strings.Join(order, "") != "a" {
		t.Fatalf("err %v, order %v", err, order)
	}

	// A cancelled context stops before the next stage.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	order = nil
	if _, err := p.Process(ctx, nil); !errors.Is(err, context.Canceled) || len(order) != 0 {
		t.Fatalf("cancelled: %v, ran %v", err, order)
	}
}

func TestStagesHonourCancelledContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	cal, _ := NewCalibrator(CalibrateConfig{})
	conv, _ := NewConverter(ConvertConfig{})
	val, _ := NewValidator(ValidateConfig{})
	db, _ := NewDeadband(DeadbandConfig{})
	agg, _ := NewAggregator(AggregateConfig{})
	for _, s := range []Pipeline{cal, conv, val, db, agg} {
		if _, err := s.Process(ctx, []scada.Point{pt("x", 1, "kW", t0)}); !errors.Is(err, context.Canceled) {
			t.Errorf("%T: %v", s, err)
		}
	}
}

// TestConcurrentUse runs one pipeline from several goroutines under -race.
func TestConcurrentUse(t *testing.T) {
	cal, _ := NewCalibrator(CalibrateConfig{Default: Calibration{Factor: 2}})
	conv, _ := NewConverter(ConvertConfig{Dimensions: EngineeringUnits()})
	val, _ := NewValidator(ValidateConfig{Now: fixedClock(t0)})
	db, _ := NewDeadband(DeadbandConfig{})
	agg, _ := NewAggregator(AggregateConfig{})
	p := Chain(cal, conv, val, db, agg)
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for i := range 50 {
				b := []scada.Point{pt("tag"+string(rune('a'+g)), float64(i), "degF", t0.Add(time.Duration(i)*time.Second))}
				if _, err := p.Process(context.Background(), b); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	if got := val.Stats().Checked; got != 200 {
		t.Errorf("checked %d points, want 200", got)
	}
	if n := len(agg.FlushAll(nil)); n != 4 {
		t.Errorf("%d windows, want 4", n)
	}
	_ = units.MustParse("°C")
}
