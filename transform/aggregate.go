package transform

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"sync"
	"time"

	"github.com/greenlang/gl001/scada"
)

// DefaultWindow is the aggregation window when AggregateConfig.Window is zero.
const DefaultWindow = time.Minute

// AggregateConfig configures an [Aggregator].
type AggregateConfig struct {
	// Window is the length of the tumbling windows, aligned to multiples of
	// Window since the Unix epoch (a 1-minute window starts on the minute). 0
	// means DefaultWindow.
	Window time.Duration
	// SamplePeriod maps a tag to the period its source samples at, so a window
	// knows how many points to expect (completeness). Tags not listed use
	// DefaultSamplePeriod.
	SamplePeriod map[string]time.Duration
	// DefaultSamplePeriod applies to tags not in SamplePeriod; 0 means unknown:
	// such windows have Expected 0 and are scored on what they received.
	DefaultSamplePeriod time.Duration
	// Grace is how long after a window's end it stays open for late points
	// before Flush emits it. 0 emits a window as soon as its end has passed.
	Grace time.Duration
	// MaxTags bounds the number of tags aggregated; 0 means DefaultMaxTags.
	// Points of further tags pass through unaggregated and are counted.
	MaxTags int
}

// Validate reports every problem with c.
func (c AggregateConfig) Validate() error {
	var errs []error
	if c.Window < 0 {
		errs = append(errs, fmt.Errorf("transform: aggregate: window %v is negative", c.Window))
	}
	if c.Grace < 0 {
		errs = append(errs, fmt.Errorf("transform: aggregate: grace %v is negative", c.Grace))
	}
	if c.DefaultSamplePeriod < 0 {
		errs = append(errs, fmt.Errorf("transform: aggregate: default sample period %v is negative", c.DefaultSamplePeriod))
	}
	for tag, p := range c.SamplePeriod {
		if p <= 0 {
			errs = append(errs, fmt.Errorf("transform: aggregate: tag %q: sample period %v is not positive", tag, p))
		}
	}
	if c.MaxTags < 0 {
		errs = append(errs, fmt.Errorf("transform: aggregate: MaxTags %d is negative", c.MaxTags))
	}
	return errors.Join(errs...)
}

// Window is the summary of one tag over one window [Start, End): what goes to
// agents instead of every point.
type Window struct {
	Tag        string
	Unit       string    // the unit of the first usable point; points in another unit are not aggregated
	Start, End time.Time // half-open, UTC

	Count     int // points received
	Valid     int // points aggregated: Good or Uncertain, finite, in Unit
	Good      int // points with Good quality
	Uncertain int
	Bad       int

	// Statistics over the Valid points; NaN when there are none.
	Mean, Min, Max, Last float64
	LastTime             time.Time // the time of Last

	// Expected is the number of points the sample period promises (0 when
	// unknown); Completeness is Valid/Expected, at most 1 (1 when Expected is 0
	// and a point arrived).
	Expected     int
	Completeness float64
	// Score is the window's data-quality score, 0-100: the points' scores
	// (as the scoring stage recorded them, see PointScore) summed and divided
	// by the larger of Expected and Count, so missing samples count as 0.
	Score float64
	Grade scada.Grade
}

// Aggregator is the windowed aggregation stage: a tap that passes every point
// on unchanged and summarizes each tag per window (count, mean, min, max,
// last, completeness, score). [Aggregator.Flush] returns the windows that have
// closed. Windows follow the points' timestamps (event time), so replayed data
// lands in the windows it belongs to as long as they are open. It is safe for
// concurrent use.
type Aggregator struct {
	window, grace int64
	periods       map[string]time.Duration
	defPeriod     time.Duration
	maxTags       int

	mu    sync.Mutex
	tags  map[string]*aggTag
	stats AggregateStats
}

type aggTag struct {
	open     []aggWindow // by start, usually one
	doneTill int64       // windows ending at or before this have been emitted
	expected int
}

type aggWindow struct {
	w        Window
	start    int64
	sum      float64
	scoreSum float64
	lastT    int64
}

// NewAggregator returns an Aggregator, or the errors of cfg.Validate.
func NewAggregator(cfg AggregateConfig) (*Aggregator, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	a := &Aggregator{window: int64(cfg.Window), grace: int64(cfg.Grace), periods: make(map[string]time.Duration, len(cfg.SamplePeriod)),
		defPeriod: cfg.DefaultSamplePeriod, maxTags: cfg.MaxTags, tags: make(map[string]*aggTag)}
	if a.window == 0 {
		a.window = int64(DefaultWindow)
	}
	if a.maxTags == 0 {
		a.maxTags = DefaultMaxTags
	}
	for tag, p := range cfg.SamplePeriod {
		a.periods[tag] = p
	}
	return a, nil
}

// Process adds batch to the open windows and returns it unchanged. Points
// without a timestamp, or for a window already emitted, are counted (Stats)
// and not aggregated.
func (a *Aggregator) Process(ctx context.Context, batch []scada.Point) ([]scada.Point, error) {
	if err := ctx.Err(); err != nil {
		return batch, err
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	for i := range batch {
		a.add(&batch[i])
	}
	return batch, nil
}

func (a *Aggregator) add(p *scada.Point) {
	if p.Time.IsZero() {
		a.stats.Untimed++
		return
	}
	tag := a.tags[p.Tag]
	if tag == nil {
		if len(a.tags) >= a.maxTags {
			a.stats.Unaggregated++
			return
		}
		period, ok := a.periods[p.Tag]
		if !ok {
			period = a.defPeriod
		}
		tag = &aggTag{doneTill: math.MinInt64}
		if period > 0 {
			tag.expected = int(time.Duration(a.window) / period)
		}
		a.tags[p.Tag] = tag
	}
	t := p.Time.UnixNano()
	start := t - mod(t, a.window)
	if start+a.window <= tag.doneTill {
		a.stats.Late++
		return
	}
	i, found := slices.BinarySearchFunc(tag.open, start, func(w aggWindow, s int64) int { return cmp.Compare(w.start, s) })
	if !found {
		tag.open = slices.Insert(tag.open, i, aggWindow{start: start, w: Window{
			Tag: p.Tag, Start: time.Unix(0, start).UTC(), End: time.Unix(0, start+a.window).UTC(),
			Mean: math.NaN(), Min: math.NaN(), Max: math.NaN(), Last: math.NaN(), Expected: tag.expected,
		}})
	}
	w := &tag.open[i]
	w.w.Count++
	score, _ := PointScore(*p)
	w.scoreSum += float64(score)
	switch {
	case p.Quality.IsBad():
		w.w.Bad++
		return
	case p.Quality.IsUncertain():
		w.w.Uncertain++
	default:
		w.w.Good++
	}
	if math.IsNaN(p.Value) || math.IsInf(p.Value, 0) {
		return
	}
	if w.w.Valid == 0 {
		w.w.Unit = p.Unit
		w.w.Min, w.w.Max = p.Value, p.Value
	} else if p.Unit != w.w.Unit {
		a.stats.UnitMismatch++
		return
	}
	w.w.Valid++
	w.sum += p.Value
	w.w.Min = min(w.w.Min, p.Value)
	w.w.Max = max(w.w.Max, p.Value)
	if w.w.Valid == 1 || t >= w.lastT {
		w.w.Last, w.w.LastTime, w.lastT = p.Value, p.Time, t
	}
}

// mod is the floor modulus, so windows before 1970 align too.
func mod(a, b int64) int64 {
	m := a % b
	if m < 0 {
		m += b
	}
	return m
}

// Flush appends to dst every window whose end plus Grace is at or before now,
// ordered by end time and then tag, and returns the extended slice. Emitted
// windows are closed: later points for them are counted as late.
func (a *Aggregator) Flush(dst []Window, now time.Time) []Window {
	return a.flush(dst, now.UnixNano()-a.grace)
}

// FlushAll appends every open window, closed or not, as Flush does; for
// shutdown.
func (a *Aggregator) FlushAll(dst []Window) []Window { return a.flush(dst, math.MaxInt64) }

func (a *Aggregator) flush(dst []Window, till int64) []Window {
	a.mu.Lock()
	defer a.mu.Unlock()
	first := len(dst)
	for _, tag := range a.tags {
		n := 0
		for n < len(tag.open) && (till == math.MaxInt64 || tag.open[n].start+a.window <= till) {
			dst = append(dst, tag.open[n].finish())
			tag.doneTill = max(tag.doneTill, tag.open[n].start+a.window)
			n++
		}
		tag.open = slices.Delete(tag.open, 0, n)
	}
	slices.SortFunc(dst[first:], func(x, y Window) int {
		if c := x.End.Compare(y.End); c != 0 {
			return c
		}
		return cmp.Compare(x.Tag, y.Tag)
	})
	a.stats.Windows += uint64(len(dst) - first)
	return dst
}

func (w *aggWindow) finish() Window {
	out := w.w
	if out.Valid > 0 {
		out.Mean = w.sum / float64(out.Valid)
	}
	switch {
	case out.Expected > 0:
		out.Completeness = min(1, float64(out.Valid)/float64(out.Expected))
	case out.Valid > 0:
		out.Completeness = 1
	}
	if denom := max(out.Expected, out.Count); denom > 0 {
		out.Score = w.scoreSum / float64(denom)
	}
	out.Grade = scada.GradeOf(out.Score)
	return out
}

// AggregateStats is a snapshot of an Aggregator's counters.
type AggregateStats struct {
	Windows      uint64 // windows emitted
	Late         uint64 // points for windows already emitted
	Untimed      uint64 // points without a timestamp
	UnitMismatch uint64 // points in another unit than their window's
	Unaggregated uint64 // points of tags beyond MaxTags
}

// Stats returns the counters so far.
func (a *Aggregator) Stats() AggregateStats {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.stats
}
