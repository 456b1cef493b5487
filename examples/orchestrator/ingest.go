package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/greenlang/gl001/resilience"
	"github.com/greenlang/gl001/scada"
	"github.com/greenlang/gl001/scada/buffer"
	"github.com/greenlang/gl001/transform"
	"github.com/greenlang/gl001/units"
)

// ingest is the SCADA part: the connectors under a scada.Collector, which
// runs the point pipeline (calibrate, convert, validate and score, deadband)
// once per batch as its Processor and appends the result to the
// store-and-forward buffer. A failed append is retried with the processed
// points, so the stateful stages never see a batch twice. Stopping it closes
// the Collector, which delivers what it accepted before returning.
type ingest struct {
	log       *slog.Logger
	conns     []connector
	buf       buffer.Buffer
	pipeline  transform.Pipeline
	deadband  *transform.Deadband // the pipeline's last stage, for its counters
	validator *transform.Validator

	pointsIn atomic.Uint64    // points the pipeline received
	grades   [5]atomic.Uint64 // points scored, by scada.Grade
	// drained, if set, tells a stopping Run when its sources have
	// delivered everything expected (bounded by drainWait).
	drained func() bool

	mu        sync.Mutex
	collector *scada.Collector     // while Run runs
	final     scada.CollectorStats // once Run has returned
}

// gradeNames are the quality grades in order, best first.
var gradeNames = []scada.Grade{scada.GradeExcellent, scada.GradeGood, scada.GradeFair, scada.GradePoor, scada.GradeInvalid}

func newIngest(tc TransformConfig, conns []connector, log *slog.Logger) (*ingest, error) {
	in := &ingest{log: log, conns: conns}
	cal := transform.CalibrateConfig{Tags: map[string]transform.Calibration{}}
	for tag, c := range tc.Calibration {
		cal.Tags[tag] = transform.Calibration{Factor: c.Factor, Offset: c.Offset}
	}
	calibrator, err := transform.NewCalibrator(cal)
	if err != nil {
		return nil, fmt.Errorf("transform.calibration: %w", err)
	}
	converter, err := transform.NewConverter(transform.ConvertConfig{
		Dimensions:    transform.EngineeringUnits(),
		GaugePressure: transform.EngineeringGaugeUnit(),
		Logger:        log,
	})
	if err != nil {
		return nil, err
	}
	vc := transform.ValidateConfig{Tags: map[string]transform.Limits{}, Stale: tc.Stale}
	for tag, l := range tc.Limits {
		lim := transform.Limits{
			Range:     transform.Range{Min: l.Range[0], Max: l.Range[1]},
			Operating: transform.Range{Min: l.Operating[0], Max: l.Operating[1]},
			MaxRate:   l.MaxRate,
			FlatLine:  l.FlatLine,
		}
		if l.Unit != "" {
			u, err := units.Parse(l.Unit)
			if err != nil {
				return nil, fmt.Errorf("transform.limits.%s.unit: %w", tag, err)
			}
			lim.Unit = u
		}
		vc.Tags[tag] = lim
	}
	if in.validator, err = transform.NewValidator(vc); err != nil {
		return nil, fmt.Errorf("transform.limits: %w", err)
	}
	if in.deadband, err = transform.NewDeadband(transform.DeadbandConfig{Default: tc.Deadband}); err != nil {
		return nil, fmt.Errorf("transform.deadband: %w", err)
	}
	in.pipeline = transform.Chain(in.countStage(), calibrator, converter, in.validator, in.gradeStage(), in.deadband)
	return in, nil
}

// countStage counts the points entering the pipeline.
func (in *ingest) countStage() transform.Pipeline {
	return transform.Func(func(ctx context.Context, batch []scada.Point) ([]scada.Point, error) {
		in.pointsIn.Add(uint64(len(batch)))
		return batch, nil
	})
}

// gradeStage counts the scored points by grade.
func (in *ingest) gradeStage() transform.Pipeline {
	return transform.Func(func(ctx context.Context, batch []scada.Point) ([]scada.Point, error) {
		for i := range batch {
			if batch[i].Scored {
				in.grades[scada.GradeOf(float64(batch[i].Score))].Add(1)
			}
		}
		return batch, nil
	})
}

// counting is the central node's pipeline: the edge ran the stages that
// change points; the central node counts them and their grades.
func (in *ingest) counting() transform.Pipeline {
	return transform.Chain(in.countStage(), in.gradeStage())
}

// store is the Collector's sink: the processed points go to the buffer.
func (in *ingest) store(ctx context.Context, batch []scada.Point) error {
	_, err := in.buf.Append(ctx, batch)
	return err
}

// Run supervises every connector until ctx ends, then closes the Collector,
// which hands what it accepted to the sink before returning.
func (in *ingest) Run(ctx context.Context) error {
	c, err := scada.NewCollector(scada.CollectorConfig{
		Sink:      scada.SinkFunc(in.store),
		Processor: in.pipeline,
		// Backoff and breaker: the Collector's SCADA defaults, under which
		// data resumes within seconds of a server coming back.
		OnHealthChange: func(h scada.SourceHealth) {
			in.log.Info("connector state", "source", h.Name, "state", h.State.String(), "error", h.LastError)
		},
		Logger: in.log,
	})
	if err != nil {
		return err
	}
	for _, cn := range in.conns {
		if err := c.AddSource(scada.SourceConfig{Name: cn.name, Source: cn.src, KeepPointSource: cn.relay}); err != nil {
			_ = c.Close()
			return fmt.Errorf("%s: %w", cn.name, err)
		}
	}
	in.mu.Lock()
	in.collector = c
	in.mu.Unlock()

	<-ctx.Done()
	if in.drained != nil {
		// Wait (bounded) until the sources delivered what the caller
		// expects, e.g. every point the edge's forwarder had acknowledged.
		deadline := time.Now().Add(drainWait)
		for !in.drained() && time.Now().Before(deadline) {
			time.Sleep(20 * time.Millisecond)
		}
	}
	cerr := c.Close()
	in.mu.Lock()
	in.collector = nil
	in.final = c.Stats()
	in.mu.Unlock()
	if cerr != nil && !errors.Is(cerr, scada.ErrClosed) {
		return cerr
	}
	return nil
}

// connected reports whether the connector name is connected now.
func (in *ingest) connected(name string) bool {
	in.mu.Lock()
	c := in.collector
	in.mu.Unlock()
	if c == nil {
		return false
	}
	sh, ok := c.HealthOf(name)
	return ok && sh.State == resilience.StateConnected
}

// stats returns the Collector's counters: live while it runs, final after.
func (in *ingest) stats() scada.CollectorStats {
	in.mu.Lock()
	defer in.mu.Unlock()
	if in.collector != nil {
		return in.collector.Stats()
	}
	return in.final
}

// connectorInfos describes every connector, with the problems of those not
// delivering.
func (in *ingest) connectorInfos(problems *[]string) []ConnectorInfo {
	in.mu.Lock()
	c := in.collector
	in.mu.Unlock()
	out := make([]ConnectorInfo, 0, len(in.conns))
	for _, cn := range in.conns {
		ci := ConnectorInfo{Name: cn.name, Protocol: cn.protocol, State: "starting", Breaker: "closed", Detail: cn.detail(), Errors: cn.errors()}
		if c != nil {
			if sh, ok := c.HealthOf(cn.name); ok {
				ci.State = sh.State.String()
				ci.Breaker = sh.Breaker.String()
				ci.Healthy = sh.State == resilience.StateConnected
				ci.Points, ci.BadPoints, ci.Reconnects = sh.Points, sh.BadPoints, sh.Reconnects
				ci.LastPoint, ci.LastError = sh.LastPointTime, sh.LastError
				ci.ConnectedSince = sh.ConnectedSince
			}
		}
		if !ci.Healthy {
			why := ""
			if ci.LastError != "" {
				why = ": " + ci.LastError
			}
			*problems = append(*problems, fmt.Sprintf("connector %s is %s%s", cn.name, ci.State, why))
		}
		out = append(out, ci)
	}
	return out
}
