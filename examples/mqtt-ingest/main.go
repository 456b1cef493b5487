// Command mqtt-ingest reads JSON sensor messages from an MQTT broker into a
// store-and-forward buffer and reads them back as a consumer would.
//
// It starts the SDK's in-process MQTT broker on 127.0.0.1 and a publisher of
// boiler-house sensors on plant/<site>/<device>/<tag> (one malformed message
// among them), runs an mqtt.Source under a scada.Collector that writes into
// a buffer.Memory, and prints what a consumer reads from the buffer,
// committing its cursor, until -points points:
//
//	go run ./examples/mqtt-ingest
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"time"

	"github.com/greenlang/gl001/scada/buffer"

	"github.com/greenlang/gl001/scada"
	"github.com/greenlang/gl001/scada/mqtt"
	"github.com/greenlang/gl001/scada/scadatest"
)

func main() {
	points := flag.Int("points", 12, "stop after reading this many points from the buffer")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	if err := run(ctx, os.Stdout, *points); err != nil {
		fmt.Fprintln(os.Stderr, "mqtt-ingest:", err)
		os.Exit(1)
	}
}

type sensor struct {
	topic, unit string
	value       float64
}

var sensors = []sensor{
	{"plant/site1/stack/temp", "°C", 165.2},
	{"plant/site1/stack/co_ppm", "ppm", 34},
	{"plant/site1/header/pressure", "barg", 10.2},
}

func run(ctx context.Context, out io.Writer, want int) error {
	broker, err := scadatest.NewMQTTBroker(scadatest.MQTTBrokerConfig{})
	if err != nil {
		return err
	}
	defer broker.Close()
	fmt.Fprintln(out, "broker at", broker.URL())

	dec, err := mqtt.NewJSONDecoder(mqtt.JSONConfig{}) // {"value", "timestamp", "quality", "unit"}
	if err != nil {
		return err
	}
	bad := make(chan error, 16)
	src, err := mqtt.New(mqtt.Config{
		Name:     "iot",
		Broker:   broker.URL(),
		ClientID: "gl001-mqtt-ingest",
		Subscriptions: []mqtt.Subscription{{
			Topic:   "plant/{site}/{device}/{tag}",
			Tag:     "{site}.{device}.{tag}",
			QoS:     1, // acknowledged only once the buffer holds the points
			Decoder: dec,
		}},
		OnBadMessage: func(err error) {
			select {
			case bad <- err:
			default:
			}
		},
	})
	if err != nil {
		return err
	}

	buf, err := buffer.NewMemory(buffer.MemoryConfig{})
	if err != nil {
		return err
	}
	defer buf.Close()
	col, err := scada.NewCollector(scada.CollectorConfig{Sink: buf})
	if err != nil {
		return err
	}
	defer col.Close()
	if err := col.Add("iot", src); err != nil {
		return err
	}
	if err := broker.WaitSubscribed(ctx, 1); err != nil {
		return err
	}

	// The devices: one message per sensor every 100 ms, and one broken one.
	pubCtx, stopPub := context.WithCancel(ctx)
	pubDone := make(chan struct{})
	go func() {
		defer close(pubDone)
		t := time.NewTicker(100 * time.Millisecond)
		defer t.Stop()
		for i := 0; ; i++ {
			for _, s := range sensors {
				payload, _ := json.Marshal(map[string]any{"value": s.value + float64(i)/10, "unit": s.unit, "timestamp": time.Now().UTC()})
				_ = broker.Publish(s.topic, payload, 1, false)
			}
			if i == 1 {
				_ = broker.Publish("plant/site1/stack/temp", []byte(`{"value": "hot"`), 1, false)
			}
			select {
			case <-pubCtx.Done():
				return
			case <-t.C:
			}
		}
	}()
	defer func() { stopPub(); <-pubDone }()

	// A consumer reads from its own cursor and commits what it delivered;
	// had it been away, it would resume where it stopped.
	for n := 0; n < want; {
		b, err := buf.Read(ctx, "printer", want-n)
		if err != nil {
			return err
		}
		for i, p := range b.Points {
			fmt.Fprintf(out, "offset %2d  %-24s %7.2f %-4s %s\n", b.First+buffer.Offset(i), p.Tag, p.Value, p.Unit, p.Quality)
		}
		n += len(b.Points)
		if err := buf.Commit(ctx, "printer", b.Next()); err != nil {
			return err
		}
	}
	select {
	case err := <-bad:
		var de *mqtt.DecodeError
		if errors.As(err, &de) && errors.Is(err, scada.ErrBadInput) {
			fmt.Fprintf(out, "rejected a malformed message on %s (counted; the stream went on)\n", de.Topic)
		}
	case <-ctx.Done():
		return ctx.Err()
	}
	st := buf.Stats()
	fmt.Fprintf(out, "buffer: %d points appended, consumer %q at offset %d\n", st.Appended, st.Consumers[0].Name, st.Consumers[0].Cursor)
	return nil
}
