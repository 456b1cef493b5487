package modbus

import (
	"context"
	"fmt"
	"io"
	"log"
	"testing"
	"time"

	mb "github.com/simonvetter/modbus"

	"github.com/greenlang/gl001/scada/scadatest"
)

// TestInteropWithSimonvetterClient checks the four orders against
// simonvetter/modbus's own codec: values its client writes are read back
// here, and values written here are read back by its client.
func TestInteropWithSimonvetterClient(t *testing.T) {
	srv := newServer(t, scadatest.ModbusConfig{})
	client, err := mb.NewClient(&mb.ClientConfiguration{URL: "tcp://" + srv.Addr(), Timeout: 5 * time.Second, Logger: log.New(io.Discard, "", 0)})
	if err != nil {
		t.Fatal(err)
	}
	if err := client.Open(); err != nil {
		t.Fatal(err)
	}
	defer client.Close()

	orders := []struct {
		order Order
		end   mb.Endianness
		words mb.WordOrder
	}{
		{ABCD, mb.BIG_ENDIAN, mb.HIGH_WORD_FIRST},
		{CDAB, mb.BIG_ENDIAN, mb.LOW_WORD_FIRST},
		{BADC, mb.LITTLE_ENDIAN, mb.HIGH_WORD_FIRST},
		{DCBA, mb.LITTLE_ENDIAN, mb.LOW_WORD_FIRST},
	}
	var tags []Tag
	for i, o := range orders {
		base := 100 * i
		tags = append(tags,
			Tag{Name: fmt.Sprint("f32.", o.order), Address: base, Type: Float32, Order: o.order, Writable: true},
			Tag{Name: fmt.Sprint("u32.", o.order), Address: base + 2, Type: Uint32, Order: o.order, Writable: true},
			Tag{Name: fmt.Sprint("f64.", o.order), Address: base + 4, Type: Float64, Order: o.order, Writable: true},
			Tag{Name: fmt.Sprint("u64.", o.order), Address: base + 8, Type: Uint64, Order: o.order, Writable: true},
		)
	}
	s := newSource(t, Config{Name: "plc", Address: srv.Addr(), Devices: []Device{{UnitID: 1, Tags: tags}}})
	c := dial(t, s)
	ctx := context.Background()

	for i, o := range orders {
		base := uint16(100 * i)
		if err := client.SetEncoding(o.end, o.words); err != nil {
			t.Fatal(err)
		}
		// Their writes, our reads.
		if err := client.WriteFloat32(base, -273.15); err != nil {
			t.Fatal(err)
		}
		if err := client.WriteUint32(base+2, 0xCAFEF00D); err != nil {
			t.Fatal(err)
		}
		if err := client.WriteFloat64(base+4, 6.02214076e23); err != nil {
			t.Fatal(err)
		}
		if err := client.WriteUint64(base+8, 1<<40+3); err != nil {
			t.Fatal(err)
		}
		sink := newCollector()
		if err := c.Poll(ctx, sink); err != nil {
			t.Fatal(err)
		}
		got := last(sink.snapshot())
		for name, want := range map[string]float64{"f32.": float64(float32(-273.15)), "u32.": 0xCAFEF00D, "f64.": 6.02214076e23, "u64.": 1<<40 + 3} {
			if p := got[name+o.order.String()]; !p.Quality.IsGood() || p.Value != want {
				t.Errorf("%s%s written by simonvetter: read %+v, want %v", name, o.order, p, want)
			}
		}

		// Our writes, their reads.
		for name, v := range map[string]float64{"f32.": 1.5, "u32.": 4000000000, "f64.": -1e-300, "u64.": 1 << 50} {
			if err := c.Write(ctx, name+o.order.String(), v); err != nil {
				t.Fatal(err)
			}
		}
		f32, err1 := client.ReadFloat32(base, mb.HOLDING_REGISTER)
		u32, err2 := client.ReadUint32(base+2, mb.HOLDING_REGISTER)
		f64, err3 := client.ReadFloat64(base+4, mb.HOLDING_REGISTER)
		u64, err4 := client.ReadUint64(base+8, mb.HOLDING_REGISTER)
		if f32 != 1.5 || u32 != 4000000000 || f64 != -1e-300 || u64 != 1<<50 || err1 != nil || err2 != nil || err3 != nil || err4 != nil {
			t.Errorf("%s written here, read by simonvetter: %v %v %v %v (%v %v %v %v)", o.order, f32, u32, f64, u64, err1, err2, err3, err4)
		}
	}
}
