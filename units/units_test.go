package units

import (
	"encoding/json"
	"errors"
	"math"
	"math/rand/v2"
	"os"
	"strings"
	"testing"
)

// golden is a conversion whose result a published source states, or which
// follows from exact definitions a source states. want is the exact value
// rounded to float64 (computed with rational arithmetic from the definitions);
// results must be within 2 ulps of it.
var golden = []struct {
	v        float64
	from, to string
	want     float64
	source   string
}{
	// Temperature. BIPM SI Brochure 9th ed. 2.3.1: T = t/°C + 273.15 K.
	// NIST SP 811 B.9, footnote to the temperature table: t/°C = (t/°F - 32)/1.8,
	// T/K = (t/°F + 459.67)/1.8, T/K = (T/°R)/1.8.
	{212, "fahrenheit", "celsius", 100, "NIST SP 811 B.9 (boiling point of water)"},
	{32, "°F", "°C", 0, "NIST SP 811 B.9"},
	{-40, "degC", "degF", -40, "NIST SP 811 B.9 (the scales cross at -40)"},
	{0, "K", "°C", -273.15, "BIPM SI Brochure 2.3.1"},
	{0, "K", "°F", -459.67, "NIST SP 811 B.9"},
	{100, "CEL", "KEL", 373.15, "BIPM SI Brochure 2.3.1"},
	{491.67, "°R", "K", 273.15, "NIST SP 811 B.9"},
	{0, "Cel", "[degR]", 491.67, "NIST SP 811 B.9"},
	{185.5, "FAH", "CEL", 85.27777777777777, "(185.5 - 32)/1.8, NIST SP 811 B.9"},
	// Temperature difference. NIST SP 811 B.9: 1 °F (interval) = 5/9 K.
	{10, "Δ°F", "ΔK", 5.555555555555555, "NIST SP 811 B.9: a 10 °F rise is 50/9 K"},
	{1, "delta_degC", "delta_degF", 1.8, "NIST SP 811 B.9"},
	{9, "Δ°R", "Δ°C", 5, "NIST SP 811 B.9"},

	// Pressure. NIST SP 811 B.8: psi = 6.894 757 E+03 Pa (from lbf = 4.448 221 615 260 5 N
	// exact and in = 0.0254 m exact); atm = 101 325 Pa exact; bar = 1E+05 Pa exact;
	// mmHg conventional = 13.5951 g/cm³ × gn × 1 mm; inH2O conventional = 1 g/cm³ × gn × 1 in.
	{1, "psi", "Pa", 6894.757293168361, "NIST SP 811 B.8 (lbf/in², exact)"},
	{1, "psig", "kPag", 6.894757293168361, "NIST SP 811 B.8"},
	{1, "bar", "psi", 14.50377377302092, "NIST SP 811 B.8"},
	{1, "atm", "Pa", 101325, "NIST SP 811 B.8 (exact)"},
	{1, "atm", "psia", 14.695948775513449, "NIST SP 811 B.8"},
	{1, "ATM", "BAR", 1.01325, "NIST SP 811 B.8"},
	{1, "mmHg", "Pa", 133.322387415, "NIST SP 811 B.8 (conventional, 1.333 224 E+02)"},
	{1, "Torr", "Pa", 133.32236842105263, "NIST SP 811 B.8 (101 325/760 Pa)"},
	{1, "inH2O", "Pa", 249.08891, "NIST SP 811 B.8 (conventional, 2.490 889 E+02)"},
	{1, "inHg", "Pa", 3386.388640341, "NIST SP 811 B.8 (conventional, 3.386 389 E+03)"},
	{1, "mmH2O", "Pa", 9.80665, "NIST SP 811 B.8 (conventional)"},
	{1, "psi", "inH2O", 27.67990471020312, "NIST SP 811 B.8"},
	{1, "kgf/cm²", "Pa", 98066.5, "NIST SP 811 B.8 (kgf/cm², exact)"},
	{1, "inH2O(60°F)", "Pa", 248.84, "NIST SP 811 B.8 (inch of water, 60 °F)"},
	{250, "kPa", "MPa", 0.25, "SI prefixes"},
	{1013.25, "mbar", "hPa", 1013.25, "SI prefixes"},

	// Energy. NIST SP 811 B.8: Btu_IT = 1.055 055 852 62 E+03 J exact; kW·h = 3.6 E+06 J
	// exact; cal_IT = 4.1868 J exact; cal_th = 4.184 J exact; therm (U.S.) = 1.054 804 E+08 J
	// exact; therm (EC) = 1.055 06 E+08 J (100 000 Btu_IT).
	{1, "BTU", "J", 1055.05585262, "NIST SP 811 B.8 (exact)"},
	{1, "MMBtu", "kWh", 293.0710701722222, "NIST SP 811 B.8"},
	{1, "therm", "kWh", 29.307107017222222, "NIST SP 811 B.8 (therm (EC) = 100 000 Btu_IT)"},
	{10, "thm", "MMBtu", 1, "UNECE Rec 20 N71: therm (EC) = 100 000 Btu_IT"},
	{1, "Dth", "MMBtu", 1, "dekatherm = 10 therm"},
	{1, "thm(US)", "J", 105480400, "NIST SP 811 B.8 (therm (U.S.), exact)"},
	{1, "kWh", "MJ", 3.6, "NIST SP 811 B.8 (exact)"},
	{1, "MWh", "GJ", 3.6, "NIST SP 811 B.8"},
	{1, "GWh", "TJ", 3.6, "NIST SP 811 B.8"},
	{1, "kcal", "kJ", 4.1868, "NIST SP 811 B.8 (cal_IT, exact)"},
	{1, "kcal_th", "J", 4184, "NIST SP 811 B.8 (cal_th, exact)"},
	{1, "Gcal", "MJ", 4186.8, "NIST SP 811 B.8 (cal_IT)"},
	{1, "kBtu", "Btu", 1000, "SI prefix on Btu_IT"},

	// Power. NIST SP 811 B.8: horsepower (550 ft·lbf/s) = 7.456 999 E+02 W; horsepower
	// (metric) = 7.354 988 E+02 W (75 kgf·m/s); ton of refrigeration (12 000 Btu_IT/h)
	// = 3.516 853 E+03 W; Btu_IT/h = 2.930 711 E-01 W.
	{1, "hp", "W", 745.6998715822702, "NIST SP 811 B.8"},
	{1, "hp(M)", "W", 735.49875, "NIST SP 811 B.8 (metric horsepower)"},
	{1, "TR", "W", 3516.8528420666667, "NIST SP 811 B.8 (ton of refrigeration)"},
	{1, "Btu/h", "W", 0.2930710701722222, "NIST SP 811 B.8"},
	{1, "MMBtu/h", "kW", 293.0710701722222, "NIST SP 811 B.8"},
	{3.6, "GJ/h", "MW", 1, "SI"},
	{1, "kW", "W", 1000, "SI prefixes"},

	// Mass and mass flow. NIST SP 811 B.8: lb = 0.453 592 37 kg exact; ton (short,
	// 2000 lb) = 9.071 847 4 E+02 kg exact; ton (long, 2240 lb) = 1.016 046 908 8 E+03 kg
	// exact; t = 1E+03 kg.
	{1, "lb", "kg", 0.45359237, "NIST SP 811 B.8 (exact)"},
	{1, "ton", "kg", 907.18474, "NIST SP 811 B.8 (ton, short, exact)"},
	{1, "long ton", "kg", 1016.0469088, "NIST SP 811 B.8 (ton, long, exact)"},
	{1, "t", "kg", 1000, "SI (tonne)"},
	{1, "lb/h", "kg/h", 0.45359237, "NIST SP 811 B.8"},
	{1, "lb/hr", "kg/s", 0.00012599788055555556, "NIST SP 811 B.8 (lb/h = 1.259 979 E-04 kg/s)"},
	{1, "klb/h", "kg/h", 453.59237, "NIST SP 811 B.8"},
	{3.6, "t/h", "kg/s", 1, "SI"},
	{1, "ton/h", "lb/h", 2000, "short ton = 2000 lb"},

	// Volume and volume flow. NIST SP 811 B.8: gallon (U.S.) = 3.785 412 E-03 m³
	// (231 in³, exact); ft³ = 2.831 685 E-02 m³ (exact from ft = 0.3048 m); barrel (oil,
	// 42 gal) = 1.589 873 E-01 m³.
	{1, "gal", "L", 3.785411784, "NIST SP 811 B.8 (231 in³, exact)"},
	{1, "ft³", "L", 28.316846592, "NIST SP 811 B.8 (exact)"},
	{1, "bbl", "L", 158.987294928, "NIST SP 811 B.8 (42 gal)"},
	{1, "gpm", "m³/h", 0.22712470704, "NIST SP 811 B.8"},
	{1, "cfm", "m3/h", 1.69901079552, "NIST SP 811 B.8"},
	{1, "L/s", "MQH", 3.6, "SI"},
	{1, "L/min", "m³/h", 0.06, "SI"},
	{1000, "L", "m³", 1, "SI"},

	// Dimensionless.
	{50, "%", "ratio", 0.5, "definition of percent"},
	{1, "ppm", "%", 0.0001, "definition of part per million"},
}

func TestGolden(t *testing.T) {
	for _, g := range golden {
		got, err := Convert(g.v, g.from, g.to)
		if err != nil {
			t.Errorf("Convert(%v, %q, %q): %v (source: %s)", g.v, g.from, g.to, err, g.source)
			continue
		}
		if !withinULP(got, g.want, 2) {
			t.Errorf("Convert(%v, %q, %q) = %.17g, want %.17g (source: %s)", g.v, g.from, g.to, got, g.want, g.source)
		}
	}
}

// TestGoldenExact pins the results that must come out exactly, whatever the
// rounding: the fixed points of the temperature scales and exact SI multiples.
func TestGoldenExact(t *testing.T) {
	for _, c := range []struct {
		v        float64
		from, to string
		want     float64
	}{
		{212, "fahrenheit", "celsius", 100},
		{32, "fahrenheit", "celsius", 0},
		{-40, "celsius", "fahrenheit", -40},
		{100, "celsius", "fahrenheit", 212},
		{0, "celsius", "kelvin", 273.15},
		{1, "kWh", "J", 3.6e6},
		{1, "atm", "Pa", 101325},
	} {
		got, err := Convert(c.v, c.from, c.to)
		if err != nil || got != c.want {
			t.Errorf("Convert(%v, %q, %q) = %v, %v; want exactly %v", c.v, c.from, c.to, got, err, c.want)
		}
	}
}

func withinULP(got, want float64, n int) bool {
	if got == want {
		return true
	}
	ulp := math.Nextafter(math.Abs(want), math.Inf(1)) - math.Abs(want)
	if want == 0 {
		ulp = 1e-300
	}
	return math.Abs(got-want) <= float64(n)*ulp
}

func TestParseSpellings(t *testing.T) {
	for _, c := range []struct{ in, sym string }{
		// Full names, singular and plural, -re and -er.
		{"fahrenheit", "°F"}, {"Degrees Fahrenheit", "°F"}, {"degree celsius", "°C"}, {"Kelvin", "K"},
		{"kilowatt hour", "kWh"}, {"kilowatt-hours", "kWh"}, {"pounds per hour", "lb/h"},
		{"cubic meters per hour", "m³/h"}, {"cubic metre per hour", "m³/h"}, {"litres per minute", "L/min"},
		{"inches of water", "inH2O"}, {"tons of refrigeration", "TR"}, {"cubic feet per minute", "ft³/min"},
		{"US gallons per minute", "gal/min"}, {"British thermal units", "Btu"}, {"tonnes", "t"},
		{"short tons", "short ton"}, {"bar gauge", "barg"}, {"pound per square inch gauge", "psig"},
		// Symbols and their ASCII spellings.
		{"°F", "°F"}, {"degF", "°F"}, {"deg F", "°F"}, {"℉", "°F"}, {"ºF", "°F"}, {"F", "°F"},
		{"°C", "°C"}, {"degC", "°C"}, {"℃", "°C"}, {"C", "°C"}, {"K", "K"},
		{"kWh", "kWh"}, {"kW·h", "kWh"}, {"kW h", "kWh"}, {"KWH", "kWh"}, {"kwh", "kWh"},
		{"m³/h", "m³/h"}, {"m3/h", "m³/h"}, {"m^3/h", "m³/h"}, {"M3/HR", "m³/h"}, {"m3/hr", "m³/h"},
		{"psig", "psig"}, {"PSIG", "psig"}, {"psi(g)", "psig"}, {"psia", "psi"}, {"barg", "barg"},
		{"bar(g)", "barg"}, {"kPa(g)", "kPag"}, {"kPag", "kPag"}, {"MPag", "MPag"},
		{"lb/hr", "lb/h"}, {"lbs/hr", "lb/h"}, {"pph", "lb/h"}, {"kg/hr", "kg/h"}, {"BTU/hr", "Btu/h"},
		{"MMBTU", "MMBtu"}, {"mmbtu", "MMBtu"}, {"MMBtu/hr", "MMBtu/h"}, {"gpm", "gal/min"},
		{"GPM", "gal/min"}, {"cfm", "ft³/min"}, {"CFM", "ft³/min"}, {"L/min", "L/min"}, {"lpm", "L/min"},
		{"t/h", "t/h"}, {"%", "%"}, {"ratio", "1"}, {"inH₂O", "inH2O"}, {"mm Hg", "mmHg"},
		{"Δ°F", "Δ°F"}, {"∆°F", "Δ°F"}, {"delta_degF", "Δ°F"}, {"F°", "Δ°F"}, {"ΔK", "ΔK"},
		{"  kWh  ", "kWh"}, {"kWh\t", "kWh"},
		// UCUM.
		{"[degF]", "°F"}, {"Cel", "°C"}, {"[psi]", "psi"}, {"kW.h", "kWh"}, {"[lb_av]/h", "lb/h"},
		{"[gal_us]/min", "gal/min"}, {"[Btu_IT]", "Btu"}, {"mm[Hg]", "mmHg"}, {"[in_i'H2O]", "inH2O"},
		{"[degR]", "°R"}, {"[HP]", "hp"}, {"[ston_av]", "short ton"},
		// UNECE Recommendation 20 common codes.
		{"FAH", "°F"}, {"CEL", "°C"}, {"KEL", "K"}, {"A48", "°R"}, {"BAR", "bar"}, {"MBR", "mbar"},
		{"PAL", "Pa"}, {"KPA", "kPa"}, {"MPA", "MPa"}, {"ATM", "atm"}, {"PS", "psi"}, {"80", "psi"},
		{"64", "psig"}, {"HN", "mmHg"}, {"F78", "inH2O"}, {"F79", "inHg"}, {"KWH", "kWh"}, {"MWH", "MWh"},
		{"GWH", "GWh"}, {"WHR", "Wh"}, {"JOU", "J"}, {"KJO", "kJ"}, {"3B", "MJ"}, {"GV", "GJ"},
		{"BTU", "Btu"}, {"E14", "kcal"}, {"N71", "thm"}, {"WTT", "W"}, {"KWT", "kW"}, {"MAW", "MW"},
		{"2I", "Btu/h"}, {"E16", "MMBtu/h"}, {"MQH", "m³/h"}, {"MQS", "m³/s"}, {"L2", "L/min"},
		{"G51", "L/s"}, {"G2", "gal/min"}, {"2L", "ft³/min"}, {"KGS", "kg/s"}, {"E93", "kg/h"},
		{"E18", "t/h"}, {"4U", "lb/h"}, {"KGM", "kg"}, {"GRM", "g"}, {"TNE", "t"}, {"LBR", "lb"},
		{"STN", "short ton"}, {"LTN", "long ton"}, {"LTR", "L"}, {"MTQ", "m³"}, {"GLL", "gal"},
		{"FTQ", "ft³"}, {"P1", "%"}, {"C62", "1"},
		// Ambiguous spellings, resolved as documented.
		{"ton", "short ton"}, {"TON", "short ton"}, {"t", "t"}, {"tonne", "t"}, {"metric ton", "t"},
		{"therm", "thm"}, {"kcal", "kcal"}, {"hp", "hp"}, {"HP", "hp"}, {"gal", "gal"}, {"KW", "kW"},
	} {
		u, err := Parse(c.in)
		if err != nil {
			t.Errorf("Parse(%q): %v", c.in, err)
			continue
		}
		if u.Symbol() != c.sym {
			t.Errorf("Parse(%q) = %s, want %s", c.in, u, c.sym)
		}
	}
}

// TestCaseSensitive checks that letter case is honoured where it carries
// meaning: a prefix m is milli, M is mega, and neither folds into the other.
func TestCaseSensitive(t *testing.T) {
	for _, c := range []struct{ in, sym string }{
		{"MW", "MW"}, {"mW", "mW"}, {"MWh", "MWh"}, {"MPa", "MPa"}, {"mbar", "mbar"}, {"mL", "mL"},
		{"MJ", "MJ"}, {"mg", "mg"}, {"t", "t"}, {"g", "g"}, {"L", "L"}, {"l", "L"},
	} {
		if u, err := Parse(c.in); err != nil || u.Symbol() != c.sym {
			t.Errorf("Parse(%q) = %v, %v; want %s", c.in, u, err, c.sym)
		}
	}
	// Folding these would silently change the magnitude (mw: milli or mega?), or
	// read a symbol of a unit this package does not have as one it has.
	for _, in := range []string{"mw", "Mw", "mwh", "mpa", "mPa", "Mbar", "MBAR", "ML", "mj", "T", "G", "c", "f", "k", "MBtu", "Mlb/h"} {
		if u, err := Parse(in); err == nil {
			t.Errorf("Parse(%q) = %s, want an error", in, u)
		}
	}
}

func TestAliasesRoundTrip(t *testing.T) {
	seen := map[string]Unit{}
	for _, u := range Units() {
		if u.IsZero() || u.Dimension() == 0 || u.Name() == "" || u.Symbol() == "" {
			t.Errorf("unit %d is incomplete: %q %q %v", u.id, u.Symbol(), u.Name(), u.Dimension())
		}
		for _, s := range append(u.Aliases(), u.Symbol(), u.Name(), u.Code(), u.UCUM()) {
			if s == "" {
				continue
			}
			got, err := Parse(s)
			if err != nil || got != u {
				t.Errorf("Parse(%q) = %v, %v; want %s", s, got, err, u)
			}
		}
		if prev, ok := seen[u.Symbol()]; ok {
			t.Errorf("symbol %q used by %s and %s", u.Symbol(), prev.Name(), u.Name())
		}
		seen[u.Symbol()] = u
		if si := u.Dimension().SI(); si.Dimension() != u.Dimension() {
			t.Errorf("%s: SI unit %s has dimension %v", u, si, si.Dimension())
		}
	}
}

func TestErrors(t *testing.T) {
	_, err := Parse("furlongs per fortnight")
	var ue *UnknownError
	if !errors.Is(err, ErrUnknown) || !errors.As(err, &ue) || ue.Name != "furlongs per fortnight" {
		t.Fatalf("Parse unknown: %v", err)
	}
	if !strings.Contains(err.Error(), `"furlongs per fortnight"`) {
		t.Errorf("error does not quote the name: %v", err)
	}
	if _, err := Parse(""); !errors.Is(err, ErrUnknown) {
		t.Errorf("Parse(\"\") = %v, want ErrUnknown", err)
	}
	if _, err := Parse(strings.Repeat("k", 1000)); !errors.Is(err, ErrUnknown) || len(err.Error()) > 200 {
		t.Errorf("Parse(long) = %v", err)
	}

	_, err = Convert(1, "kWh", "kW")
	var ie *IncompatibleError
	if !errors.Is(err, ErrIncompatible) || !errors.As(err, &ie) || ie.From.Symbol() != "kWh" || ie.To.Symbol() != "kW" {
		t.Fatalf("Convert kWh to kW: %v", err)
	}
	if errors.Is(err, ErrNeedsReference) || errors.Is(err, ErrUnknown) {
		t.Errorf("kWh to kW matches the wrong sentinel: %v", err)
	}
	for _, pair := range [][2]string{{"°F", "Δ°F"}, {"K", "ΔK"}, {"kg", "kg/h"}, {"m³", "m³/h"}, {"%", "kg"}} {
		if _, err := Convert(1, pair[0], pair[1]); !errors.Is(err, ErrIncompatible) {
			t.Errorf("Convert(%s, %s) = %v, want ErrIncompatible", pair[0], pair[1], err)
		}
	}

	_, err = Convert(10, "psig", "psia")
	if !errors.Is(err, ErrIncompatible) || !errors.Is(err, ErrNeedsReference) {
		t.Errorf("psig to psia: %v, want ErrNeedsReference", err)
	}
	if _, err := Convert(1, "nope", "kW"); !errors.Is(err, ErrUnknown) {
		t.Errorf("unknown from: %v", err)
	}
	if _, err := Convert(1, "kW", "nope"); !errors.Is(err, ErrUnknown) {
		t.Errorf("unknown to: %v", err)
	}
	if _, err := NewConverter(Unit{}, MustParse("kW")); !errors.Is(err, ErrIncompatible) {
		t.Errorf("zero unit: %v", err)
	}
}

func TestGaugeConverter(t *testing.T) {
	psig, psia, kPa, barg := MustParse("psig"), MustParse("psia"), MustParse("kPa"), MustParse("barg")

	c, err := NewGaugeConverter(psig, kPa, StandardAtmosphere)
	if err != nil {
		t.Fatal(err)
	}
	// 100 psig at sea level: 100 × 6.894 757 kPa + 101.325 kPa.
	if got, want := c.Convert(100), 790.8007293168362; !withinULP(got, want, 2) {
		t.Errorf("100 psig = %.17g kPa, want %.17g", got, want)
	}
	if got := c.Convert(0); !withinULP(got, 101.325, 1) {
		t.Errorf("0 psig = %v kPa, want 101.325", got)
	}
	back, err := NewGaugeConverter(psia, psig, StandardAtmosphere)
	if err != nil {
		t.Fatal(err)
	}
	if got := back.Convert(14.695948775513449); math.Abs(got) > 1e-12 {
		t.Errorf("1 atm absolute = %v psig, want 0", got)
	}
	// A plant at altitude: the reference changes the result.
	high, _ := NewGaugeConverter(barg, kPa, 84000)
	if got := high.Convert(1); !withinULP(got, 184, 2) {
		t.Errorf("1 barg at 84 kPa = %v kPa, want 184", got)
	}
	// Gauge to gauge ignores the reference.
	gg, _ := NewGaugeConverter(psig, barg, 1)
	plain, _ := NewConverter(psig, barg)
	if gg.Convert(150) != plain.Convert(150) {
		t.Errorf("gauge to gauge depends on the reference: %v vs %v", gg.Convert(150), plain.Convert(150))
	}
	for _, atm := range []float64{0, -1, math.NaN(), math.Inf(1)} {
		if _, err := NewGaugeConverter(psig, kPa, atm); !errors.Is(err, ErrBadReference) {
			t.Errorf("atmosphere %v: %v, want ErrBadReference", atm, err)
		}
	}
	if _, err := NewGaugeConverter(psig, MustParse("kW"), StandardAtmosphere); !errors.Is(err, ErrIncompatible) {
		t.Errorf("psig to kW: %v", err)
	}
}

func TestUnitAccessors(t *testing.T) {
	f := MustParse("degF")
	if f.Name() != "degree Fahrenheit" || f.Code() != "FAH" || f.UCUM() != "[degF]" || f.Dimension() != Temperature {
		t.Errorf("°F: %q %q %q %v", f.Name(), f.Code(), f.UCUM(), f.Dimension())
	}
	if f.IsGauge() || f.IsDifference() || f.Delta() != MustParse("Δ°F") || !f.Delta().IsDifference() {
		t.Errorf("°F flags: gauge %v difference %v delta %v", f.IsGauge(), f.IsDifference(), f.Delta())
	}
	for _, u := range Units() {
		d := u.Delta()
		switch u.Dimension() {
		case Temperature:
			c, err := NewConverter(d, MustParse("ΔK"))
			if err != nil {
				t.Fatalf("%s: %v", u, err)
			}
			// The difference unit has the temperature unit's scale.
			lin, _ := NewConverter(u, MustParse("K"))
			if a, _ := c.Affine(); !withinULP(a, func() float64 { s, _ := lin.Affine(); return s }(), 1) {
				t.Errorf("%s: Δ scale %v differs from scale", u, a)
			}
		default:
			if d != u {
				t.Errorf("%s.Delta() = %s, want itself", u, d)
			}
		}
	}
	if !MustParse("barg").IsGauge() || MustParse("bar").IsGauge() {
		t.Error("barg/bar gauge flags wrong")
	}
	var zero Unit
	if !zero.IsZero() || zero.Dimension() != 0 || zero.String() != "" || zero.Delta() != zero || zero.Aliases() != nil {
		t.Errorf("zero Unit: %v %v %q", zero.IsZero(), zero.Dimension(), zero.String())
	}
	if Dimension(0).String() != "invalid dimension" || !Dimension(0).SI().IsZero() || Dimension(200).String() != "invalid dimension" {
		t.Error("invalid Dimension")
	}
	if len(Dimensions()) != int(numDimensions)-1 {
		t.Errorf("Dimensions() = %v", Dimensions())
	}
}

func TestMarshalText(t *testing.T) {
	type rec struct {
		Unit  Unit `json:"unit"`
		Other Unit `json:"other"`
	}
	in := rec{Unit: MustParse("m3/h")}
	b, err := json.Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	if string(b) != `{"unit":"m³/h","other":""}` {
		t.Errorf("json = %s", b)
	}
	var out rec
	if err := json.Unmarshal(b, &out); err != nil || out != in {
		t.Errorf("round trip = %+v, %v", out, err)
	}
	if err := json.Unmarshal([]byte(`{"unit":"furlong"}`), &out); !errors.Is(err, ErrUnknown) {
		t.Errorf("unmarshal unknown: %v", err)
	}
}

// TestRoundTrip is a property test: for every pair of units that convert into
// each other, converting there and back returns the value, and going through
// the SI unit agrees with the direct conversion.
func TestRoundTrip(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	us := Units()
	pairs := 0
	for _, a := range us {
		for _, b := range us {
			ab, err := NewConverter(a, b)
			if err != nil {
				if a.Dimension() == b.Dimension() && a.IsGauge() == b.IsGauge() {
					t.Fatalf("%s to %s: %v", a, b, err)
				}
				continue
			}
			pairs++
			ba, _ := NewConverter(b, a)
			si := a.Dimension().SI()
			if a.IsGauge() {
				si = MustParse("kPag")
			}
			toSI, _ := NewConverter(a, si)
			fromSI, _ := NewConverter(si, b)
			for range 50 {
				// Log-uniform magnitudes over 24 decades, either sign.
				v := math.Pow(10, rng.Float64()*24-12)
				if rng.IntN(2) == 0 {
					v = -v
				}
				there := ab.Convert(v)
				back := ba.Convert(there)
				// Affine conversions with an offset (temperatures) lose absolute, not
				// relative, precision near the offset: allow both.
				tol := 1e-12*math.Abs(v) + 1e-9
				if math.Abs(back-v) > tol {
					t.Fatalf("%s -> %s -> %s: %.17g -> %.17g -> %.17g", a, b, a, v, there, back)
				}
				via := fromSI.Convert(toSI.Convert(v))
				if math.Abs(via-there) > 1e-12*math.Abs(there)+1e-9 {
					t.Fatalf("%s -> %s: direct %.17g, via SI %.17g", a, b, there, via)
				}
			}
			// Linear conversions (no offset) keep zero and scale exactly by 2.
			if _, off := ab.Affine(); off == 0 {
				if ab.Convert(0) != 0 || ab.Convert(2*123.456) != 2*ab.Convert(123.456) {
					t.Fatalf("%s -> %s is not linear", a, b)
				}
			}
		}
	}
	if pairs < len(us) {
		t.Fatalf("only %d convertible pairs", pairs)
	}
}

// TestDocListsEveryUnit keeps doc.go's list in step with the table.
func TestDocListsEveryUnit(t *testing.T) {
	doc, err := os.ReadFile("doc.go")
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range Units() {
		if !strings.Contains(string(doc), u.Symbol()) {
			t.Errorf("doc.go does not list %s (%s)", u.Symbol(), u.Name())
		}
	}
}

func TestAllocations(t *testing.T) {
	c, _ := NewConverter(MustParse("°F"), MustParse("°C"))
	var sink float64
	if n := testing.AllocsPerRun(100, func() { sink += c.Convert(185.5) }); n != 0 {
		t.Errorf("Converter.Convert allocates %v times", n)
	}
	if n := testing.AllocsPerRun(100, func() { u, _ := Parse("Degrees Fahrenheit"); sink += float64(u.id) }); n != 0 {
		t.Errorf("Parse allocates %v times", n)
	}
	_ = sink
}

// TestConcurrentResolve resolves the same pairs from several goroutines, for
// the race detector: the pair cache is filled concurrently.
func TestConcurrentResolve(t *testing.T) {
	us := Units()
	done := make(chan [2]float64)
	for g := range 4 {
		go func() {
			var sum [2]float64
			for _, a := range us {
				for _, b := range us[g%2:] {
					if c, err := NewConverter(a, b); err == nil {
						sum[0] += c.Convert(1)
					}
				}
			}
			v, _ := Convert(212, "°F", "°C")
			sum[1] = v
			done <- sum
		}()
	}
	for range 4 {
		if s := <-done; s[1] != 100 {
			t.Errorf("Convert under concurrency = %v", s[1])
		}
	}
}
