package sparkplug

import (
	"errors"
	"math"
	"testing"

	"github.com/greenlang/gl001/scada"
)

// What setValue accepts for a data type, the decoder reads back as the same
// number, through the wire encoding; what it refuses matches ErrNotNumeric.
func FuzzSetValue(f *testing.F) {
	for _, v := range []float64{0, 1, -1, 127, -128, 255, 32767, -32768, 65535, 1.5, 1e10, -1e10, math.MaxFloat32, 1 << 53} {
		for dt := Int8; dt <= Boolean; dt++ {
			f.Add(uint32(dt), v)
		}
	}
	f.Fuzz(func(t *testing.T, dt uint32, v float64) {
		mt := Metric{Name: "m", DataType: DataType(dt % 22)}
		if err := setValue(&mt, v); err != nil {
			if !errors.Is(err, ErrNotNumeric) || !errors.Is(err, scada.ErrBadInput) {
				t.Fatalf("refusal %v does not match ErrNotNumeric", err)
			}
			return
		}
		var p Payload
		if err := Unmarshal(Marshal(nil, &Payload{Metrics: []Metric{mt}}), &p); err != nil {
			t.Fatal(err)
		}
		got, ok := numeric(&p.Metrics[0], mt.DataType)
		want := v
		if mt.DataType == Float {
			want = float64(float32(v))
		}
		if !ok || got != want {
			t.Fatalf("type %v: wrote %v, read back %v (%v)", mt.DataType, v, got, ok)
		}
	})
}
