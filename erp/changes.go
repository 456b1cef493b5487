package erp

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"iter"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/greenlang/gl001/resilience"
)

// Change is one record that changed since a Cursor: created, updated or,
// where the system reports it, deleted.
type Change[T any] struct {
	Record  T      // the record as it is now; zero for a deletion or an error
	Source  Source // where the record lives; for a deletion, all that is known
	Deleted bool   // the record was deleted (OData change tracking only)
	Err     error  // the change could not be decoded (matches ErrMalformed)
}

// Cursor remembers where incremental retrieval stopped: an OData delta link,
// or a watermark on a last-changed field. It is a plain string so callers can
// persist it; the zero Cursor means "from the beginning". Treat it as opaque.
type Cursor string

const (
	deltaPrefix = "delta "
	wmPrefix    = "watermark "
)

// DeltaCursor returns the cursor for an OData delta link.
func DeltaCursor(link string) Cursor { return Cursor(deltaPrefix + link) }

// Delta returns the delta link held by c, or "".
func (c Cursor) Delta() string {
	if s, ok := strings.CutPrefix(string(c), deltaPrefix); ok {
		return s
	}
	return ""
}

type watermark struct {
	At   time.Time `json:"at"`
	Keys []string  `json:"keys,omitempty"` // records already seen at exactly At
}

// WatermarkCursor returns a cursor for records changed at or after t, less
// the records with the given keys changed at exactly t (already delivered).
func WatermarkCursor(t time.Time, keys []string) Cursor {
	b, _ := json.Marshal(watermark{At: t.UTC(), Keys: keys})
	return Cursor(wmPrefix + string(b))
}

// Watermark returns the watermark held by c; ok is false if c holds none.
func (c Cursor) Watermark() (t time.Time, keys []string, ok bool) {
	s, found := strings.CutPrefix(string(c), wmPrefix)
	if !found {
		return time.Time{}, nil, false
	}
	var w watermark
	if json.Unmarshal([]byte(s), &w) != nil {
		return time.Time{}, nil, false
	}
	return w.At, w.Keys, true
}

// ChangeFunc reads one round of changes since a cursor, handing them to page
// in batches, and returns the cursor to resume from. The zero cursor reads
// every record matching q (and, with OData change tracking, starts
// tracking). If it fails, the caller keeps the old cursor: the round is
// read again, so delivery is at least once.
type ChangeFunc[T any] func(ctx context.Context, q Query, since Cursor, page func([]Change[T]) error) (Cursor, error)

// Record is the set of record types.
type Record interface {
	EnergyRecord | ProductionOrder | MaintenanceOrder | CostRecord
}

func meta(rec any) (Source, time.Time) {
	switch r := rec.(type) {
	case EnergyRecord:
		return r.Source, r.Changed
	case ProductionOrder:
		return r.Source, r.Changed
	case MaintenanceOrder:
		return r.Source, r.Changed
	case CostRecord:
		return r.Source, r.Changed
	}
	return Source{}, time.Time{}
}

// WatermarkChanges builds a ChangeFunc for systems without change tracking:
// each round lists the records whose changedProp (the system's last-changed
// property, the one mapped to Changed) is at or after the watermark, skips
// those already delivered at exactly the watermark, and moves the watermark
// to the latest change seen. Deletions are not seen this way.
func WatermarkChanges[T Record](list func(ctx context.Context, q Query) iter.Seq2[T, error], changedProp string) ChangeFunc[T] {
	return func(ctx context.Context, q Query, since Cursor, page func([]Change[T]) error) (Cursor, error) {
		at, seenKeys, ok := since.Watermark()
		if since != "" && !ok {
			return since, fmt.Errorf("%w: cursor is not a watermark cursor", ErrBadRequest)
		}
		seen := make(map[string]bool, len(seenKeys))
		for _, k := range seenKeys {
			seen[k] = true
		}
		if ok && !at.IsZero() {
			q.Filters = append(append([]Filter(nil), q.Filters...), Filter{Property: changedProp, Op: Ge, Value: at})
		}
		maxAt := at
		var keysAtMax []string
		if ok {
			keysAtMax = append(keysAtMax, seenKeys...)
		}
		var batch []Change[T]
		for rec, err := range list(ctx, q) {
			if err != nil {
				if !errors.Is(err, ErrMalformed) {
					return since, err
				}
				batch = append(batch, Change[T]{Err: err})
				continue
			}
			src, changed := meta(rec)
			if changed.Equal(at) && seen[src.Key] {
				continue
			}
			switch {
			case changed.After(maxAt):
				maxAt = changed
				keysAtMax = append(keysAtMax[:0], src.Key)
			case changed.Equal(maxAt):
				keysAtMax = append(keysAtMax, src.Key)
			}
			batch = append(batch, Change[T]{Record: rec, Source: src})
			if len(batch) >= 500 {
				if err := page(batch); err != nil {
					return since, err
				}
				batch = nil
			}
		}
		if len(batch) > 0 {
			if err := page(batch); err != nil {
				return since, err
			}
		}
		if maxAt.IsZero() && !ok {
			return since, nil
		}
		return WatermarkCursor(maxAt, keysAtMax), nil
	}
}

// PollerConfig configures a Poller.
type PollerConfig[T any] struct {
	// Changes reads one round; a system package's EnergyChanges,
	// ProductionChanges ... method. Required.
	Changes ChangeFunc[T]
	// Query selects the records watched.
	Query Query
	// Cursor is where to start; zero reads everything first.
	Cursor Cursor
	// Interval is the wait between rounds. Zero means one minute.
	Interval time.Duration
	// Backoff spaces the rounds after failures; zero value: package
	// resilience defaults.
	Backoff resilience.Backoff
	// OnCursor, if set, is called after every completed round with the new
	// cursor, so the caller can persist it.
	OnCursor func(Cursor)
	// Logger receives failed rounds; nil discards.
	Logger *slog.Logger
}

// Poller turns a ChangeFunc into a stream of change events: it reads a round,
// hands the changes to the sink, waits, and reads again from where it
// stopped.
type Poller[T any] struct {
	cfg PollerConfig[T]
	log *slog.Logger

	mu     sync.Mutex
	cursor Cursor
	stats  PollerStats
}

// PollerStats is a snapshot of a Poller's counters.
type PollerStats struct {
	Rounds    uint64 // completed rounds
	Failures  uint64 // failed rounds (retried with backoff)
	Changes   uint64 // changes handed to the sink
	LastError string // the last failure, empty after a success
}

// NewPoller validates cfg and returns a Poller.
func NewPoller[T any](cfg PollerConfig[T]) (*Poller[T], error) {
	var errs []error
	if cfg.Changes == nil {
		errs = append(errs, fmt.Errorf("%w: PollerConfig.Changes is required", ErrConfig))
	}
	if cfg.Interval < 0 {
		errs = append(errs, fmt.Errorf("%w: PollerConfig.Interval must not be negative", ErrConfig))
	}
	if err := cfg.Backoff.Validate(); err != nil {
		errs = append(errs, fmt.Errorf("%w: PollerConfig.Backoff: %v", ErrConfig, err))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	if cfg.Interval == 0 {
		cfg.Interval = time.Minute
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Poller[T]{cfg: cfg, log: log, cursor: cfg.Cursor}, nil
}

// Cursor returns the cursor after the last completed round.
func (p *Poller[T]) Cursor() Cursor {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.cursor
}

// Stats returns a snapshot of the counters.
func (p *Poller[T]) Stats() PollerStats {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.stats
}

// Run polls until ctx ends, handing each batch of changes to sink; it returns
// ctx's error, or the sink's error (which ends polling; the round's cursor is
// not advanced). A failed round is logged, counted and tried again after a
// backoff, from the same cursor.
func (p *Poller[T]) Run(ctx context.Context, sink func(ctx context.Context, changes []Change[T]) error) error {
	failures := 0
	for {
		var sinkErr error
		cur := p.Cursor()
		next, err := p.cfg.Changes(ctx, p.cfg.Query, cur, func(cs []Change[T]) error {
			if err := sink(ctx, cs); err != nil {
				sinkErr = err
				return err
			}
			p.mu.Lock()
			p.stats.Changes += uint64(len(cs))
			p.mu.Unlock()
			return nil
		})
		if sinkErr != nil {
			return sinkErr
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		wait := p.cfg.Interval
		p.mu.Lock()
		if err != nil {
			failures++
			p.stats.Failures++
			p.stats.LastError = err.Error()
			wait = p.cfg.Backoff.Delay(failures - 1)
		} else {
			failures = 0
			p.stats.Rounds++
			p.stats.LastError = ""
			p.cursor = next
		}
		p.mu.Unlock()
		if err != nil {
			p.log.Warn("change round failed; retrying", "error", err, "wait", wait)
		} else if p.cfg.OnCursor != nil {
			p.cfg.OnCursor(next)
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
	}
}
