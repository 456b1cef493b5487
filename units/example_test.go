package units_test

import (
	"errors"
	"fmt"

	"github.com/greenlang/gl001/units"
)

func ExampleConvert() {
	c, err := units.Convert(212, "fahrenheit", "celsius")
	if err != nil {
		panic(err)
	}
	fmt.Println(c)

	kg, _ := units.Convert(25000, "lb/hr", "kg/h")
	fmt.Printf("%.1f\n", kg)
	// Output:
	// 100
	// 11339.8
}

func ExampleParse() {
	for _, name := range []string{"degF", "FAH", "M3/HR", "psig", "kilowatt hours"} {
		u, err := units.Parse(name)
		if err != nil {
			panic(err)
		}
		fmt.Printf("%q -> %s, %s (%s), gauge %v\n", name, u, u.Name(), u.Dimension(), u.IsGauge())
	}
	_, err := units.Parse("mw") // milliwatt or megawatt? Neither: an error.
	fmt.Println(err)
	// Output:
	// "degF" -> °F, degree Fahrenheit (temperature), gauge false
	// "FAH" -> °F, degree Fahrenheit (temperature), gauge false
	// "M3/HR" -> m³/h, cubic metre per hour (volume flow), gauge false
	// "psig" -> psig, pound-force per square inch gauge (pressure), gauge true
	// "kilowatt hours" -> kWh, kilowatt hour (energy), gauge false
	// units: unknown unit "mw"
}

func ExampleNewConverter() {
	// Resolve once, then convert in the hot loop without allocating.
	conv, err := units.NewConverter(units.MustParse("°F"), units.MustParse("°C"))
	if err != nil {
		panic(err)
	}
	readings := []float64{32, 185.5, 212}
	for i, v := range readings {
		readings[i] = conv.Convert(v)
	}
	fmt.Printf("%.2f\n", readings)
	// Output:
	// [0.00 85.28 100.00]
}

func ExampleNewGaugeConverter() {
	// A steam header at 150 psig, on a site whose barometer reads 98.2 kPa.
	conv, err := units.NewGaugeConverter(units.MustParse("psig"), units.MustParse("kPa"), 98200)
	if err != nil {
		panic(err)
	}
	fmt.Printf("%.1f kPa absolute\n", conv.Convert(150))

	// Without a reference the conversion is refused.
	_, err = units.Convert(150, "psig", "kPa")
	fmt.Println(errors.Is(err, units.ErrNeedsReference))
	// Output:
	// 1132.4 kPa absolute
	// true
}

func ExampleUnit_Delta() {
	// A rate-of-change limit of 9 °F per minute is a temperature difference.
	f := units.MustParse("°F")
	c, _ := units.NewConverter(f.Delta(), units.MustParse("°C").Delta())
	fmt.Println(f.Delta(), "->", c.Convert(9), "Δ°C")

	// Converting the same 9 as a temperature would be wrong, and is a different call.
	t, _ := units.Convert(9, "°F", "°C")
	fmt.Printf("%.2f °C\n", t)
	// Output:
	// Δ°F -> 5 Δ°C
	// -12.78 °C
}

func ExampleIncompatibleError() {
	_, err := units.Convert(1, "kWh", "kW")
	var ie *units.IncompatibleError
	if errors.As(err, &ie) {
		fmt.Println(ie.From.Dimension(), "->", ie.To.Dimension())
	}
	fmt.Println(err)
	// Output:
	// energy -> power
	// units: cannot convert kWh (energy) to kW (power)
}

func ExampleFromUnitID() {
	// An OPC UA server publishes EUInformation{UnitId: 4604232, DisplayName: "°F"}.
	u, err := units.FromUnitID(4604232)
	if err != nil {
		panic(err)
	}
	fmt.Println(u, u.Code(), u.UnitID())
	// Output:
	// °F FAH 4604232
}
