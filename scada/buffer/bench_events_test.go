package buffer

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/greenlang/gl001/scada"
)

// BenchmarkDiskAppendEvents appends batches of 10 alarms from 1 and 8
// writers (each append fsynced, concurrent appenders sharing fsyncs) and
// reports events/s and bytes per event on disk.
func BenchmarkDiskAppendEvents(b *testing.B) {
	for _, writers := range []int{1, 8} {
		b.Run(fmt.Sprintf("writers=%d", writers), func(b *testing.B) {
			buf, err := OpenDisk(DiskConfig{Dir: b.TempDir(), MaxBytes: -1, MaxAge: -1, EventMaxBytes: -1})
			if err != nil {
				b.Fatal(err)
			}
			defer buf.Close()
			evs := seqEventsBench(10)
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
			for range writers {
				wg.Go(func() {
					for take() {
						if _, err := buf.AppendEvents(context.Background(), evs); err != nil {
							b.Error(err)
							return
						}
					}
				})
			}
			wg.Wait()
			el := time.Since(start)
			b.StopTimer()
			st := buf.EventStats()
			b.ReportMetric(float64(st.Appended)/el.Seconds(), "events/s")
			b.ReportMetric(float64(st.Bytes)/float64(max(st.Events, 1)), "B/event")
			b.ReportMetric(float64(st.Syncs)/float64(max(st.Batches, 1)), "fsyncs/batch")
		})
	}
}

// BenchmarkMemoryAppendReadEvents appends and reads back batches of 10
// alarms in a Memory.
func BenchmarkMemoryAppendReadEvents(b *testing.B) {
	buf, err := NewMemory(MemoryConfig{MaxAge: -1, MaxBytes: -1, EventMaxBytes: -1})
	if err != nil {
		b.Fatal(err)
	}
	defer buf.Close()
	ctx := context.Background()
	evs := seqEventsBench(10)
	b.ResetTimer()
	for range b.N {
		if _, err := buf.AppendEvents(ctx, evs); err != nil {
			b.Fatal(err)
		}
		eb, err := buf.ReadEvents(ctx, "c", 10)
		if err != nil || len(eb.Events) != 10 {
			b.Fatal(err)
		}
		if err := buf.CommitEvents(ctx, "c", eb.Next()); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*10)/b.Elapsed().Seconds(), "events/s")
}

func seqEventsBench(n int) []scada.Event {
	evs := make([]scada.Event, n)
	t0 := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	for i := range evs {
		evs[i] = scada.Event{Source: "opcua1", Time: t0.Add(time.Duration(i) * time.Second), ReceiveTime: t0, EventType: "i=9341",
			SourceNode: "ns=1;s=Boiler1.SteamTemp", SourceName: "SteamTemp", Severity: 800, Message: "Steam temperature high",
			ID: []byte("0123456789abcdef"), Condition: &scada.Condition{ID: "ns=1;s=Boiler1.HighTemp", Name: "HighTemperature", Active: true, Retain: true, State: "High"},
			Fields: map[string]any{"limit": 185.0}}
	}
	return evs
}
