package guard_test

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/greenlang/gl001/scada"
)

// memDevice is an in-memory scada.Writer and scada.Reader for the guard's
// own unit tests and examples; the protocol packages test the guard against
// their simulators.
type memDevice struct {
	mu      sync.Mutex
	values  map[string]scada.Point
	keepOld bool  // accept writes but keep the old value
	down    bool  // every call fails as a lost connection
	refuse  error // Write fails with it
	writes  []float64

	inWrite, overlaps atomic.Int32
	release           chan struct{} // if set, Write waits for it
	entered           chan struct{} // if set, Write signals it on entry
}

func newMemDevice(tags map[string]float64) *memDevice {
	d := &memDevice{values: map[string]scada.Point{}}
	for t, v := range tags {
		d.values[t] = scada.Point{Tag: t, Value: v, Time: time.Now()}
	}
	return d
}

func (d *memDevice) Read(_ context.Context, tag string) (scada.Point, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.down {
		return scada.Point{}, fmt.Errorf("mem: %w", scada.ErrConnection)
	}
	p, ok := d.values[tag]
	if !ok {
		return p, scada.ErrUnknownTag
	}
	return p, nil
}

func (d *memDevice) Write(_ context.Context, tag string, v float64) error {
	if d.inWrite.Add(1) > 1 {
		d.overlaps.Add(1)
	}
	defer d.inWrite.Add(-1)
	if d.entered != nil {
		d.entered <- struct{}{}
	}
	if d.release != nil {
		<-d.release
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.down {
		return fmt.Errorf("mem: %w", scada.ErrConnection)
	}
	if d.refuse != nil {
		return d.refuse
	}
	p, ok := d.values[tag]
	if !ok {
		return scada.ErrUnknownTag
	}
	d.writes = append(d.writes, v)
	if !d.keepOld {
		p.Value, p.Quality, p.Time = v, scada.Good, time.Now()
		d.values[tag] = p
	}
	return nil
}

func (d *memDevice) setQuality(tag string, q scada.Quality) {
	d.mu.Lock()
	p := d.values[tag]
	p.Quality = q
	d.values[tag] = p
	d.mu.Unlock()
}

func (d *memDevice) written() []float64 {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]float64(nil), d.writes...)
}
