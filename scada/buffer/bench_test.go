package buffer

import (
	"context"
	"math"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/greenlang/gl001/scada"
)

// benchAppend appends batches of batchSize points from `writers` goroutines,
// each owning its share of 1000 tags, until b.N batches are in. It reports
// points/s and the bytes each point takes on disk.
func benchAppend(b *testing.B, writers, batchSize int, gen func(w int) func(n int) []scada.Point) {
	buf, err := OpenDisk(DiskConfig{Dir: b.TempDir(), MaxBytes: -1, MaxAge: -1})
	if err != nil {
		b.Fatal(err)
	}
	defer buf.Close()
	ctx := context.Background()
	gens := make([]func(int) []scada.Point, writers)
	for w := range gens {
		gens[w] = gen(w)
	}
	var mu sync.Mutex
	left := b.N
	take := func() bool {
		mu.Lock()
		defer mu.Unlock()
		left--
		return left >= 0
	}
	b.ResetTimer()
	start := time.Now()
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			for take() {
				if _, err := buf.Append(ctx, gens[w](batchSize)); err != nil {
					b.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	b.StopTimer()
	st := buf.Stats()
	b.ReportMetric(float64(st.Appended)/elapsed.Seconds(), "points/s")
	b.ReportMetric(float64(st.Bytes)/float64(st.Appended), "bytes/point")
	b.ReportMetric(float64(st.Appended)/float64(max(st.Syncs, 1)), "points/fsync")
}

// plantWriters splits 1000 tags among the writers: each one scans its tags
// every second, like a Source delivering to the buffer.
func plantWriters(writers int) func(w int) func(int) []scada.Point {
	return func(w int) func(int) []scada.Point {
		sim := newPlantSim(1000 / writers)
		for i := range sim.tags {
			sim.tags[i] = "w" + strconv.Itoa(w) + "." + sim.tags[i]
		}
		return sim.next
	}
}

// BenchmarkDiskBufferAppend: 1000 tags sampled every second with smoothly
// changing two-decimal values, appended by 8 writers (say 8 Sources) in
// batches of 1000 points with group commit: every Append returns durable.
func BenchmarkDiskBufferAppend(b *testing.B) {
	benchAppend(b, 8, 1000, plantWriters(8))
}

// BenchmarkDiskBufferAppendSerial is the same data from one writer: each
// Append waits for its own fsync, so the disk's fsync latency sets the pace.
func BenchmarkDiskBufferAppendSerial(b *testing.B) {
	benchAppend(b, 1, 1000, plantWriters(1))
}

// BenchmarkDiskBufferAppendNoisy is the worst case for size: values with
// noise in every bit of the mantissa, which only the XOR fallback can store.
func BenchmarkDiskBufferAppendNoisy(b *testing.B) {
	benchAppend(b, 8, 1000, func(w int) func(int) []scada.Point {
		sim := plantWriters(8)(w)
		var x uint64 = 0x9E3779B97F4A7C15 * uint64(w+1)
		return func(n int) []scada.Point {
			pts := sim(n)
			for i := range pts {
				x ^= x << 13
				x ^= x >> 7
				x ^= x << 17
				pts[i].Value = 100 + 50*math.Sin(float64(i)) + float64(x>>11)/(1<<53)
			}
			return pts
		}
	})
}

// filledDiskBuffer returns a disk buffer holding total durable points of the
// plant data, appended 4000 at a time, closed when b ends.
func filledDiskBuffer(b *testing.B, total int) *Disk {
	b.Helper()
	buf, err := OpenDisk(DiskConfig{Dir: b.TempDir(), MaxBytes: -1, MaxAge: -1, Sync: SyncInterval})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { buf.Close() })
	ctx := context.Background()
	sim := newPlantSim(1000)
	for range total / 4000 {
		if _, err := buf.Append(ctx, sim.next(4000)); err != nil {
			b.Fatal(err)
		}
	}
	if err := buf.Sync(ctx); err != nil {
		b.Fatal(err)
	}
	return buf
}

// BenchmarkDiskBufferReplay scans one million durable points of the plant
// data from the start of the log, as a consumer catching up would.
func BenchmarkDiskBufferReplay(b *testing.B) {
	const total = 1_000_000
	buf := filledDiskBuffer(b, total)
	ctx := context.Background()
	b.ResetTimer()
	start := time.Now()
	n := 0
	for range b.N {
		var sum float64
		for batch, err := range buf.Scan(ctx, 0) {
			if err != nil {
				b.Fatal(err)
			}
			for i := range batch.Points {
				sum += batch.Points[i].Value
			}
			n += len(batch.Points)
		}
		if sum == 0 {
			b.Fatal("no data")
		}
	}
	b.ReportMetric(float64(n)/time.Since(start).Seconds(), "points/s")
}

// BenchmarkMemoryBufferAppend is the in-memory buffer on the same data.
func BenchmarkMemoryBufferAppend(b *testing.B) {
	buf, err := NewMemory(MemoryConfig{MaxBytes: 64 << 20})
	if err != nil {
		b.Fatal(err)
	}
	defer buf.Close()
	sim := newPlantSim(1000)
	ctx := context.Background()
	b.ResetTimer()
	start := time.Now()
	for range b.N {
		if _, err := buf.Append(ctx, sim.next(1000)); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*1000)/time.Since(start).Seconds(), "points/s")
}

// BenchmarkDiskBufferConsume is a consumer catching up through Read and
// Commit (a durable cursor every 4096 points) instead of Scan.
func BenchmarkDiskBufferConsume(b *testing.B) {
	const total = 1_000_000
	buf := filledDiskBuffer(b, total)
	ctx := context.Background()
	b.ResetTimer()
	start := time.Now()
	n := 0
	for i := range b.N {
		consumer := "c" + strconv.Itoa(i)
		for got := 0; got < total; {
			batch, err := buf.Read(ctx, consumer, 4096)
			if err != nil {
				b.Fatal(err)
			}
			if err := buf.Commit(ctx, consumer, batch.Next()); err != nil {
				b.Fatal(err)
			}
			got += len(batch.Points)
		}
		if err := buf.Sync(ctx); err != nil {
			b.Fatal(err)
		}
		n += total
	}
	b.ReportMetric(float64(n)/time.Since(start).Seconds(), "points/s")
}
