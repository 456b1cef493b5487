package opcua_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/greenlang/gl001/scada"
	"github.com/greenlang/gl001/scada/opcua"
)

func TestBrowseListsVariables(t *testing.T) {
	sim := sharedSim(t)
	src, err := opcua.New(insecure(sim, opcua.Tag{Name: "a", NodeID: sim.NodeID("A")}))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	// Not running: Browse opens a connection of its own.
	infos, err := src.Browse(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]scada.TagInfo{}
	for _, ti := range infos {
		got[ti.Name] = ti
	}
	want := map[string]scada.TagInfo{
		"Boiler1.Temp":    {ID: "ns=1;s=Boiler1.Temp", Name: "Boiler1.Temp", Unit: "°C", DataType: "Double", Description: "simulated Boiler1.Temp"},
		"Boiler1.Running": {ID: "ns=1;s=Boiler1.Running", Name: "Boiler1.Running", DataType: "Boolean", Description: "simulated Boiler1.Running"},
		"Damper":          {ID: "ns=1;s=Damper", Name: "Damper", Unit: "%", DataType: "Int16", Writable: true, Description: "simulated Damper"},
	}
	for name, w := range want {
		if g := got[name]; g != w {
			t.Errorf("Browse %s = %+v, want %+v", name, g, w)
		}
	}
	if _, ok := got["EngineeringUnits"]; ok {
		t.Error("Browse listed a property as a tag")
	}
	// Below the simulation folder by namespace URI: the same variables.
	sub, err := src.Browse(ctx, "nsu="+sim.NamespaceURI()+";i=85")
	if err != nil {
		t.Fatal(err)
	}
	if len(sub) != 81 {
		t.Errorf("Browse of the simulation folder found %d variables, want the simulator's 81", len(sub))
	}
	var se *opcua.StatusError
	if _, err := src.Browse(ctx, "ns=1;s=NoSuchFolder"); !errors.As(err, &se) || se.Code.Code() != scada.BadNodeIDUnknown {
		t.Errorf("Browse of an unknown root = %v, want BadNodeIdUnknown", err)
	}
	if _, err := src.Browse(ctx, "ns=x;i=1"); err == nil {
		t.Error("Browse of a malformed root succeeded")
	}
}

func TestWrite(t *testing.T) {
	sim := sharedSim(t)
	cfg := insecure(sim,
		opcua.Tag{Name: "setpoint", NodeID: sim.NodeID("Setpoint"), Writable: true},
		opcua.Tag{Name: "damper", NodeID: sim.NodeID("Damper"), Writable: true},
		opcua.Tag{Name: "pump", NodeID: sim.NodeID("Pump.On"), Writable: true},
		opcua.Tag{Name: "flow", NodeID: sim.NodeID("Flow")},
		opcua.Tag{Name: "label", NodeID: sim.NodeID("Label"), Writable: true},
		opcua.Tag{Name: "level", NodeID: sim.NodeID("Level"), Writable: true}, // the server refuses
	)
	src, err := opcua.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	rec := newRecorder()
	stop, _, _ := run(t, src, rec)
	defer stop()
	rec.waitFor(t, "the first values", func(ps []scada.Point) bool { return len(byTag(ps, "setpoint")) > 0 })
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	for _, w := range []struct {
		tag   string
		node  string
		value float64
	}{{"setpoint", "Setpoint", 72.5}, {"damper", "Damper", -40}, {"pump", "Pump.On", 1}} {
		if err := src.Write(ctx, w.tag, w.value); err != nil {
			t.Fatalf("Write %s: %v", w.tag, err)
		}
		if v, _ := sim.Value(w.node); v != w.value {
			t.Fatalf("server value of %s = %v, want %v", w.node, v, w.value)
		}
	}
	// The change comes back through the subscription.
	rec.waitFor(t, "the written setpoint", func(ps []scada.Point) bool {
		s := byTag(ps, "setpoint")
		return s[len(s)-1].Value == 72.5
	})

	for _, c := range []struct {
		tag   string
		value float64
		want  error
	}{
		{"nope", 1, scada.ErrUnknownTag},
		{"flow", 1, scada.ErrNotWritable},
		{"damper", 1.5, scada.ErrBadInput},   // an Int16 node
		{"damper", 40000, scada.ErrBadInput}, // out of Int16 range
		{"pump", 2, scada.ErrBadInput},       // a Boolean node
		{"label", 3, scada.ErrBadInput},      // a String node
		{"setpoint", nanValue(), scada.ErrBadInput},
	} {
		if err := src.Write(ctx, c.tag, c.value); !errors.Is(err, c.want) {
			t.Errorf("Write(%s, %v) = %v, want %v", c.tag, c.value, err, c.want)
		}
	}
	// The server refuses a node it does not let us write.
	err = src.Write(ctx, "level", 1)
	var se *opcua.StatusError
	if !errors.As(err, &se) || se.Code.Code() != scada.BadUserAccessDenied {
		t.Errorf("Write to a read-only node = %v, want BadUserAccessDenied", err)
	}
}

func nanValue() float64 { var z float64; return z / z }
