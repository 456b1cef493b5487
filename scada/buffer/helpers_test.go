package buffer

import (
	"context"
	"fmt"
	"math"
	"sync"
	"testing"
	"time"

	"github.com/greenlang/gl001/scada"
)

// Helpers of the package's own tests. The conformance suite every Buffer
// passes is package buffertest; these tests look inside the disk buffer.

// fakeClock is a settable clock for retention and Recent.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newFakeClock() *fakeClock {
	return &fakeClock{t: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// testPoints returns n points numbered from seq: Value is the number, so order
// and uniqueness can be checked.
func testPoints(seq, n int, t0 time.Time) []scada.Point {
	pts := make([]scada.Point, n)
	for i := range pts {
		k := seq + i
		pts[i] = scada.Point{
			Tag:     fmt.Sprintf("plant.tag%d", k%7),
			Value:   float64(k),
			Unit:    "degC",
			Quality: scada.Good,
			Time:    t0.Add(time.Duration(k) * time.Second),
			Source:  "boiler1",
		}
	}
	return pts
}

func samePoint(a, b scada.Point) bool {
	return a.Tag == b.Tag && math.Float64bits(a.Value) == math.Float64bits(b.Value) &&
		a.Unit == b.Unit && a.Quality == b.Quality && a.Time.Equal(b.Time) && a.Source == b.Source &&
		a.Score == b.Score && a.Scored == b.Scored && a.Reasons == b.Reasons
}

func mustAppend(t *testing.T, b Buffer, pts []scada.Point) Offset {
	t.Helper()
	off, err := b.Append(context.Background(), pts)
	if err != nil {
		t.Fatalf("Append: %v", err)
	}
	return off
}

// scanAll collects every point Scan yields from offset from.
func scanAll(t *testing.T, b Buffer, from Offset) (first Offset, pts []scada.Point, missed uint64) {
	t.Helper()
	first = math.MaxUint64
	next := Offset(math.MaxUint64)
	for batch, err := range b.Scan(context.Background(), from) {
		if err != nil {
			t.Fatalf("Scan: %v", err)
		}
		if first == math.MaxUint64 {
			first = batch.First
		} else if batch.First != next+Offset(batch.Missed) {
			t.Fatalf("Scan batch starts at %d, want %d (+%d missed)", batch.First, next, batch.Missed)
		}
		missed += batch.Missed
		next = batch.Next()
		pts = append(pts, batch.Points...)
	}
	return first, pts, missed
}

func checkValues(t *testing.T, pts []scada.Point, from int) {
	t.Helper()
	for i, p := range pts {
		if p.Value != float64(from+i) {
			t.Fatalf("point %d has value %v, want %d", i, p.Value, from+i)
		}
	}
}

func readTimeout(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}
