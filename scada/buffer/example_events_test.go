package buffer_test

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/greenlang/gl001/scada"
	"github.com/greenlang/gl001/scada/buffer"
)

// A disk buffer is the EventSink of a Source that reports alarms: an alarm
// delivered before a restart is read after it, with its condition state, by
// a consumer with its own event cursor.
func ExampleEventLog() {
	dir, err := os.MkdirTemp("", "buffer-events")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer os.RemoveAll(dir)
	ctx := context.Background()

	buf, err := buffer.OpenDisk(buffer.DiskConfig{Dir: dir})
	if err != nil {
		fmt.Println(err)
		return
	}
	var sink scada.EventSink = buf
	// DeliverEvents returns once the events are fsynced.
	err = sink.DeliverEvents(ctx, []scada.Event{{
		Source: "boiler1", Time: time.Date(2026, 6, 1, 8, 0, 0, 0, time.UTC),
		EventType: "i=9341", SourceNode: "ns=1;s=Boiler1.SteamTemp", Severity: 800,
		Message: "Steam temperature high", ID: []byte{0x1f, 0x2e},
		Condition: &scada.Condition{Name: "HighTemperature", Active: true, Retain: true, State: "High"},
		Fields:    map[string]any{"limit": 185.0},
	}})
	if err != nil {
		fmt.Println(err)
		return
	}
	buf.Close()

	buf, err = buffer.OpenDisk(buffer.DiskConfig{Dir: dir})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer buf.Close()
	batch, err := buf.ReadEvents(ctx, "alarms", 100)
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, ev := range batch.Events {
		fmt.Printf("%d: %s %s severity %d active %t limit %v\n", batch.First, ev.Condition.Name, ev.Message, ev.Severity, ev.Condition.Active, ev.Fields["limit"])
	}
	if err := buf.CommitEvents(ctx, "alarms", batch.Next()); err != nil {
		fmt.Println(err)
	}
	fmt.Println("points:", buf.Stats().Next, "events:", buf.EventStats().Next)
	// Output:
	// 0: HighTemperature Steam temperature high severity 800 active true limit 185
	// points: 0 events: 1
}
