package mqtt_test

import (
	"context"
	"fmt"
	"os"
	"sort"
	"time"

	"github.com/greenlang/gl001/scada"
	"github.com/greenlang/gl001/scada/mqtt"
	"github.com/greenlang/gl001/scada/scadatest"
)

// A Source subscribes to a topic pattern, names tags from its segments and
// delivers points to a sink. Here the broker is the in-process simulator.
func Example() {
	broker, err := scadatest.NewMQTTBroker(scadatest.MQTTBrokerConfig{})
	if err != nil {
		panic(err)
	}
	defer broker.Close()

	src, err := mqtt.New(mqtt.Config{
		Name:     "boilerhouse",
		Broker:   broker.URL(),
		ClientID: "gl001-example",
		Subscriptions: []mqtt.Subscription{{
			Topic: "plant/{site}/{device}/{tag}",
			Tag:   "{site}.{device}.{tag}",
			Unit:  "degC",
			QoS:   1,
		}},
	})
	if err != nil {
		panic(err)
	}

	points := make(chan scada.Point, 10)
	sink := scada.SinkFunc(func(_ context.Context, batch []scada.Point) error {
		for _, p := range batch {
			points <- p
		}
		return nil
	})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- src.Run(ctx, sink) }()
	defer func() { cancel(); <-done }()

	wait, stop := context.WithTimeout(ctx, 30*time.Second)
	defer stop()
	if err := broker.WaitSubscribed(wait, 1); err != nil {
		panic(err)
	}
	_ = broker.Publish("plant/north/boiler1/steam_temp", []byte("451.5"), 1, false)
	_ = broker.Publish("plant/north/boiler1/flue_temp", []byte("182"), 1, false)

	var got []string
	for range 2 {
		p := <-points
		got = append(got, fmt.Sprintf("%s %s = %g %s (%v)", p.Source, p.Tag, p.Value, p.Unit, p.Quality))
	}
	sort.Strings(got)
	for _, s := range got {
		fmt.Println(s)
	}
	// Output:
	// boilerhouse north.boiler1.flue_temp = 182 degC (Good)
	// boilerhouse north.boiler1.steam_temp = 451.5 degC (Good)
}

// A JSONDecoder finds value, time, quality and unit by path, in one object
// or in an array of them.
func ExampleNewJSONDecoder() {
	dec, err := mqtt.NewJSONDecoder(mqtt.JSONConfig{
		Points: "readings",
		Value:  "v",
		Time:   "ts",
	})
	if err != nil {
		panic(err)
	}
	msg := &mqtt.Message{
		Topic: "site/b1/json",
		Payload: []byte(`{"device":"b1","readings":[
			{"tag":"b1.steam_pressure","v":12.4,"unit":"bar","ts":1700000000000},
			{"tag":"b1.o2","v":3.1,"unit":"%","quality":"uncertain","ts":1700000000000},
			{"tag":"b1.flow","v":"n/a"}]}`),
	}
	points, err := dec.Decode(nil, msg)
	for _, p := range points {
		fmt.Printf("%s = %g %s %v %s\n", p.Tag, p.Value, p.Unit, p.Quality, p.Time.Format(time.RFC3339))
	}
	fmt.Println("error:", err)
	// Output:
	// b1.steam_pressure = 12.4 bar Good 2023-11-14T22:13:20Z
	// b1.o2 = 3.1 % Uncertain 2023-11-14T22:13:20Z
	// error: 1 bad array elements, first: element 2: v: string "n/a" is not a finite number
}

// FromEnv takes the password from MQTT_PASSWORD; String never shows it.
func ExampleConfig_FromEnv() {
	os.Setenv(mqtt.EnvPassword, "from-the-environment")
	defer os.Unsetenv(mqtt.EnvPassword)

	cfg := mqtt.Config{Broker: "mqtts://broker.plant.local", ClientID: "gl001", Username: "gl001"}
	cfg.FromEnv()
	fmt.Println(cfg.Password != "")
	fmt.Println(cfg)
	// Output:
	// true
	// mqtt.Config{name="" broker="mqtts://broker.plant.local" client="gl001" user="gl001" password=REDACTED subscriptions=0}
}
