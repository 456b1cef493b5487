package opcua_test

import (
	"context"
	"fmt"
	"log"
	"sync"
	"time"

	"github.com/greenlang/gl001/scada"
	"github.com/greenlang/gl001/scada/opcua"
	"github.com/greenlang/gl001/scada/scadatest"
)

// The Source subscribes to two tags of a server (here the in-process
// simulator) and delivers points until the context ends.
func Example() {
	sim, err := scadatest.NewOPCUAServer(scadatest.OPCUAConfig{Tags: []scadatest.OPCUATag{
		{Name: "Boiler1.SteamTemp", Initial: 185.5, Unit: "degC"},
		{Name: "Boiler1.Running", Type: scadatest.OPCUABoolean, Initial: 1},
	}})
	if err != nil {
		log.Fatal(err)
	}
	defer sim.Close()

	src, err := opcua.New(opcua.Config{
		Name:     "boiler-plc",
		Endpoint: sim.Endpoint(),
		// The simulator serves security None only; a plant server gets
		// PolicyBasic256Sha256 and ModeSignAndEncrypt, with certificates.
		SecurityPolicy: opcua.PolicyNone,
		SecurityMode:   opcua.ModeNone,
		Tags: []opcua.Tag{
			{Name: "boiler1.steam_temp", NodeID: sim.NodeID("Boiler1.SteamTemp")},
			{Name: "boiler1.running", NodeID: sim.NodeID("Boiler1.Running")},
		},
	})
	if err != nil {
		log.Fatal(err)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var mu sync.Mutex
	seen := map[string]scada.Point{}
	err = src.Run(ctx, scada.SinkFunc(func(_ context.Context, batch []scada.Point) error {
		mu.Lock()
		defer mu.Unlock()
		for _, p := range batch {
			seen[p.Tag] = p
		}
		if len(seen) == 2 {
			cancel() // enough for the example
		}
		return nil
	}))
	fmt.Println("Run:", err)
	for _, tag := range []string{"boiler1.steam_temp", "boiler1.running"} {
		p := seen[tag]
		fmt.Printf("%s = %v %s (%v) from %s\n", p.Tag, p.Value, p.Unit, p.Quality, p.Source)
	}
	// Output:
	// Run: context canceled
	// boiler1.steam_temp = 185.5 °C (Good) from boiler-plc
	// boiler1.running = 1  (Good) from boiler-plc
}

// Browse discovers the variables a server offers, with their units, types and
// whether they can be written.
func ExampleSource_Browse() {
	sim, err := scadatest.NewOPCUAServer(scadatest.OPCUAConfig{Tags: []scadatest.OPCUATag{
		{Name: "Feed.Flow", Initial: 12, Unit: "m3/h"},
		{Name: "Feed.Valve", Type: scadatest.OPCUAInt16, Unit: "%", Writable: true},
	}})
	if err != nil {
		log.Fatal(err)
	}
	defer sim.Close()
	src, err := opcua.New(opcua.Config{
		Endpoint:       sim.Endpoint(),
		SecurityPolicy: opcua.PolicyNone,
		SecurityMode:   opcua.ModeNone,
		Tags:           []opcua.Tag{{Name: "flow", NodeID: sim.NodeID("Feed.Flow")}},
	})
	if err != nil {
		log.Fatal(err)
	}
	// Browse below the simulator's folder, named by namespace URI.
	infos, err := src.Browse(context.Background(), "nsu="+sim.NamespaceURI()+";i=85")
	if err != nil {
		log.Fatal(err)
	}
	for _, ti := range infos {
		fmt.Printf("%s %s %s %s writable=%v\n", ti.ID, ti.Name, ti.DataType, ti.Unit, ti.Writable)
	}
	// Output:
	// ns=1;s=Feed.Flow Feed.Flow Double m³/h writable=false
	// ns=1;s=Feed.Valve Feed.Valve Int16 % writable=true
}

// Write sends a setpoint to a tag the configuration marks Writable; the value
// is converted to the node's type, and refused if the type cannot hold it.
func ExampleSource_Write() {
	sim, err := scadatest.NewOPCUAServer(scadatest.OPCUAConfig{Tags: []scadatest.OPCUATag{
		{Name: "Burner.O2Setpoint", Initial: 3, Unit: "%", Writable: true},
		{Name: "Burner.Stage", Type: scadatest.OPCUAInt16, Initial: 1, Writable: true},
	}})
	if err != nil {
		log.Fatal(err)
	}
	defer sim.Close()
	src, err := opcua.New(opcua.Config{
		Endpoint:       sim.Endpoint(),
		SecurityPolicy: opcua.PolicyNone,
		SecurityMode:   opcua.ModeNone,
		Tags: []opcua.Tag{
			{Name: "o2_setpoint", NodeID: sim.NodeID("Burner.O2Setpoint"), Writable: true},
			{Name: "stage", NodeID: sim.NodeID("Burner.Stage"), Writable: true},
		},
	})
	if err != nil {
		log.Fatal(err)
	}
	ctx := context.Background()
	fmt.Println(src.Write(ctx, "o2_setpoint", 2.5))
	v, _ := sim.Value("Burner.O2Setpoint")
	fmt.Println("server now holds", v)
	fmt.Println(src.Write(ctx, "stage", 2.5))
	// Output:
	// <nil>
	// server now holds 2.5
	// opcua: tag stage (ns=1;s=Burner.Stage): value 2.5 does not fit the node's type Int16: scada: bad input
}
