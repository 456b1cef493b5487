package units

import "testing"

var benchSink float64

// BenchmarkConvert measures a pre-resolved conversion (°F to °C, an affine one
// with an offset): the hot-loop path. It must report 0 allocs/op.
func BenchmarkConvert(b *testing.B) {
	c, err := NewConverter(MustParse("°F"), MustParse("°C"))
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	v := 185.5
	for b.Loop() {
		v = c.Convert(v) + 185.5
	}
	benchSink = v
}

// BenchmarkConvertBatch converts a 1000-value slice in place, the way a
// pipeline stage uses a Converter, and reports values per second.
func BenchmarkConvertBatch(b *testing.B) {
	c, err := NewConverter(MustParse("lb/h"), MustParse("kg/s"))
	if err != nil {
		b.Fatal(err)
	}
	vs := make([]float64, 1000)
	for i := range vs {
		vs[i] = float64(i)
	}
	b.ReportAllocs()
	for b.Loop() {
		for i := range vs {
			vs[i] = c.Convert(vs[i])
		}
	}
	b.ReportMetric(float64(b.N)*float64(len(vs))/b.Elapsed().Seconds(), "values/s")
}

// BenchmarkParse measures resolving a name that needs normalization and case
// folding, the slow path of Parse.
func BenchmarkParse(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		u, err := Parse("Pounds per hour")
		if err != nil {
			b.Fatal(err)
		}
		benchSink += float64(u.id)
	}
}

// BenchmarkConvertString measures the convenience path: two parses and an
// exact-arithmetic resolution per call.
func BenchmarkConvertString(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		v, err := Convert(212, "fahrenheit", "celsius")
		if err != nil {
			b.Fatal(err)
		}
		benchSink += v
	}
}
