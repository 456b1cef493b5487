package units

import "math/big"

// Exact defined values, as rationals. Sources:
//   - NIST SP 811 (2008 edition), "Guide for the Use of the International System of
//     Units", Appendix B.8 and B.9; factors marked exact there are exact here.
//   - The international yard and pound agreement (1959): 1 in = 0.0254 m,
//     1 lb = 0.453 592 37 kg.
//   - CGPM 1901: standard acceleration of free fall gn = 9.806 65 m/s².
//   - Fifth International Conference on the Properties of Steam (1956): the
//     International Table calorie, 1 cal_IT = 4.1868 J, whence
//     1 Btu_IT = 1055.055 852 62 J.
//   - BIPM SI Brochure, 9th edition (2019), 2.3.1 and Table 8: 0 °C = 273.15 K.
var (
	ratInch  = dec("0.0254")     // m
	ratFoot  = dec("0.3048")     // m
	ratPound = dec("0.45359237") // kg
	ratGn    = dec("9.80665")    // m/s²
	ratLbf   = mul(ratPound, ratGn)
	ratPsi   = quo(ratLbf, mul(ratInch, ratInch))         // 6894.757 293 168 361 ... Pa
	ratBtu   = dec("1055.05585262")                       // J (International Table)
	ratGal   = mul(dec("231"), ratInch, ratInch, ratInch) // US gallon, 0.003 785 411 784 m³
	ratFt3   = mul(ratFoot, ratFoot, ratFoot)             // 0.028 316 846 592 m³
	ratHg    = dec("13595.1")                             // kg/m³, conventional density of mercury
	ratWater = dec("1000")                                // kg/m³, conventional density of water
	ratHour  = dec("3600")
	ratMin   = dec("60")
	ratDay   = dec("86400")
	rat59    = quo(dec("5"), dec("9"))
)

// def is one row of the unit table. si = v*scale + offset.
type def struct {
	sym    string // canonical symbol; Parse(sym) returns this unit
	name   string // canonical name, singular, lower case except proper names
	dim    Dimension
	scale  *big.Rat // the SI value of one unit
	offset *big.Rat // nil for zero; only temperatures have one
	gauge  bool     // pressure relative to the local atmosphere
	rec20  string   // UNECE Recommendation 20 common code, matched exactly
	rec20x []string // further UNECE codes read as this unit (deprecated or synonyms)
	ucum   string   // UCUM case-sensitive code, matched exactly
	exact  []string // more spellings matched as written: case carries meaning
	fold   []string // more spellings matched in any letter case
	names  []string // more names, matched in any case, with plurals and -er spellings
}

// table holds every unit; its index is the Unit's id. Entry 0 is the zero Unit.
//
// Case rules: a symbol whose case distinguishes it from another unit's (MW
// megawatt and mW milliwatt, MPa and mPa, Mbar and mbar, ML and mL) is matched
// only as written. Symbols that cannot be misread when folded (kWh, psig, degF)
// and all names are matched in any case. UNECE codes and UCUM codes are matched
// as published (upper case; UCUM's case-sensitive form).
var table = []def{
	{}, // the zero Unit

	// Dimensionless.
	{sym: "1", name: "ratio", dim: Dimensionless, scale: n(1), rec20: "C62", ucum: "1",
		names: []string{"fraction", "dimensionless", "unitless", "one"}},
	{sym: "%", name: "percent", dim: Dimensionless, scale: dec("0.01"), rec20: "P1", ucum: "%",
		fold: []string{"pct"}, names: []string{"per cent", "percentage"}},
	{sym: "ppm", name: "part per million", dim: Dimensionless, scale: dec("1e-6"), rec20: "59", ucum: "[ppm]",
		fold: []string{"ppm"}},

	// Temperature. "C" and "F" alone mean Celsius and Fahrenheit: this package
	// has no electrical units (coulomb, farad) they could be confused with.
	{sym: "K", name: "kelvin", dim: Temperature, scale: n(1), rec20: "KEL", ucum: "K",
		exact: []string{"°K"}, fold: []string{"degK", "deg K"}},
	{sym: "°C", name: "degree Celsius", dim: Temperature, scale: n(1), offset: dec("273.15"), rec20: "CEL", ucum: "Cel",
		exact: []string{"C"}, fold: []string{"°C", "degC", "deg C", "deg_C"},
		names: []string{"Celsius", "centigrade", "degree centigrade"}},
	{sym: "°F", name: "degree Fahrenheit", dim: Temperature, scale: rat59, offset: mul(dec("459.67"), rat59), rec20: "FAH", ucum: "[degF]",
		exact: []string{"F"}, fold: []string{"°F", "degF", "deg F", "deg_F"},
		names: []string{"Fahrenheit"}},
	{sym: "°R", name: "degree Rankine", dim: Temperature, scale: rat59, rec20: "A48", ucum: "[degR]",
		fold: []string{"°R", "degR", "°Ra"}, names: []string{"Rankine"}},

	// Temperature difference.
	{sym: "ΔK", name: "kelvin difference", dim: TemperatureDifference, scale: n(1),
		fold: []string{"ΔK", "delta K", "deltaK", "delta_K"}, names: []string{"kelvin interval"}},
	{sym: "Δ°C", name: "degree Celsius difference", dim: TemperatureDifference, scale: n(1),
		exact: []string{"C°"}, fold: []string{"Δ°C", "ΔdegC", "delta °C", "delta degC", "delta_degC", "degC_diff"},
		names: []string{"Celsius difference", "degree Celsius interval"}},
	{sym: "Δ°F", name: "degree Fahrenheit difference", dim: TemperatureDifference, scale: rat59,
		exact: []string{"F°"}, fold: []string{"Δ°F", "ΔdegF", "delta °F", "delta degF", "delta_degF", "degF_diff"},
		names: []string{"Fahrenheit difference", "degree Fahrenheit interval"}},
	{sym: "Δ°R", name: "degree Rankine difference", dim: TemperatureDifference, scale: rat59,
		fold:  []string{"Δ°R", "ΔdegR", "delta °R", "delta degR", "delta_degR"},
		names: []string{"Rankine difference"}},

	// Pressure, absolute. Unqualified pressure units (Pa, bar, psi ...) are absolute.
	{sym: "Pa", name: "pascal", dim: Pressure, scale: n(1), rec20: "PAL", ucum: "Pa",
		fold: []string{"Pa", "N/m²", "N/m2"}},
	{sym: "hPa", name: "hectopascal", dim: Pressure, scale: n(100), rec20: "A97", ucum: "hPa",
		fold: []string{"hPa"}},
	{sym: "kPa", name: "kilopascal", dim: Pressure, scale: n(1000), rec20: "KPA", ucum: "kPa",
		fold: []string{"kPa", "kPaa", "kPa(a)", "kPa abs"}, names: []string{"kilopascal absolute"}},
	{sym: "MPa", name: "megapascal", dim: Pressure, scale: n(1e6), rec20: "MPA", ucum: "MPa",
		exact: []string{"MPaa", "MPa(a)", "MPa abs"}, names: []string{"megapascal absolute"}},
	{sym: "bar", name: "bar", dim: Pressure, scale: n(1e5), rec20: "BAR", ucum: "bar",
		fold: []string{"bar", "bara", "bar(a)", "bar abs"}, names: []string{"bar absolute"}},
	{sym: "mbar", name: "millibar", dim: Pressure, scale: n(100), rec20: "MBR", ucum: "mbar",
		exact: []string{"mbara", "mbar(a)", "mbar abs"}, names: []string{"millibar absolute"}},
	// PS is the UNECE code for pound-force per square inch, which OPC UA servers
	// publish; it is not read as Pferdestärke.
	{sym: "psi", name: "pound-force per square inch", dim: Pressure, scale: ratPsi, rec20: "PS", ucum: "[psi]",
		rec20x: []string{"80"}, // UNECE "pound per square inch absolute"
		fold:   []string{"psi", "psia", "psi(a)", "psi abs", "lbf/in²", "lbf/in2", "lb/in²", "lb/in2"},
		names: []string{"pound per square inch", "pounds per square inch", "pounds-force per square inch",
			"pound-force per square inch absolute", "pound per square inch absolute", "pounds per square inch absolute"}},
	{sym: "atm", name: "standard atmosphere", dim: Pressure, scale: n(101325), rec20: "ATM", ucum: "atm",
		fold: []string{"atm"}, names: []string{"atmosphere"}},
	{sym: "Torr", name: "torr", dim: Pressure, scale: quo(n(101325), n(760)),
		fold: []string{"Torr"}},
	{sym: "mmHg", name: "conventional millimetre of mercury", dim: Pressure, scale: mul(ratHg, ratGn, dec("0.001")), rec20: "HN", ucum: "mm[Hg]",
		fold: []string{"mmHg", "mm Hg"}, names: []string{"millimetre of mercury"}},
	{sym: "inHg", name: "conventional inch of mercury", dim: Pressure, scale: mul(ratHg, ratGn, ratInch), rec20: "F79", ucum: "[in_i'Hg]",
		fold: []string{"inHg", "in Hg"}, names: []string{"inch of mercury"}},
	// The conventional inch of water: a column of water of density 1000 kg/m³
	// (water at about 4 °C) under standard gravity, 249.088 91 Pa exactly
	// (NIST SP 811 B.8, "inch of water, conventional").
	{sym: "inH2O", name: "conventional inch of water", dim: Pressure, scale: mul(ratWater, ratGn, ratInch), rec20: "F78", ucum: "[in_i'H2O]",
		fold:  []string{"inH2O", "inH₂O", "in H2O", "inWC", "in WC", "iwc", "inAq", "in.w.c.", "\"H2O", "\"WC"},
		names: []string{"inch of water", "inch water column", "inch of water column"}},
	// The inch of water at 60 °F used in US gas flow measurement: 248.84 Pa
	// (NIST SP 811 B.8 gives this value to five digits; it is not an exact
	// definition).
	{sym: "inH2O(60°F)", name: "inch of water at 60 °F", dim: Pressure, scale: dec("248.84"), rec20: "N19",
		fold: []string{"inH2O(60°F)", "inH2O(60F)", "inH2O@60°F", "inH2O@60F", "inH2O 60F"}},
	{sym: "mmH2O", name: "conventional millimetre of water", dim: Pressure, scale: mul(ratWater, ratGn, dec("0.001")), ucum: "mm[H2O]",
		fold: []string{"mmH2O", "mmH₂O", "mm H2O", "mmWC", "mm WC", "mmAq"}, names: []string{"millimetre of water", "millimetre water column"}},
	{sym: "kgf/cm²", name: "kilogram-force per square centimetre", dim: Pressure, scale: mul(ratGn, n(10000)), rec20: "E42", ucum: "kgf/cm2",
		fold:  []string{"kgf/cm²", "kgf/cm2", "kg/cm²", "kg/cm2", "kgf/cm2a", "kg/cm2a", "kgf/cm²a", "kg/cm²a"},
		names: []string{"kilogram per square centimetre", "technical atmosphere"}},

	// Pressure, gauge: relative to the local atmosphere.
	{sym: "kPag", name: "kilopascal gauge", dim: Pressure, scale: n(1000), gauge: true,
		fold: []string{"kPag", "kPa(g)", "kPa g", "kPa gauge"}},
	{sym: "MPag", name: "megapascal gauge", dim: Pressure, scale: n(1e6), gauge: true,
		exact: []string{"MPa(g)", "MPa g", "MPa gauge"}},
	{sym: "barg", name: "bar gauge", dim: Pressure, scale: n(1e5), gauge: true,
		fold: []string{"barg", "bar(g)", "bar g"}},
	{sym: "mbarg", name: "millibar gauge", dim: Pressure, scale: n(100), gauge: true,
		exact: []string{"mbar(g)", "mbar g", "mbar gauge"}},
	{sym: "psig", name: "pound-force per square inch gauge", dim: Pressure, scale: ratPsi, gauge: true,
		rec20x: []string{"64"}, // UNECE "pound per square inch, gauge" (deprecated, still published)
		fold:   []string{"psig", "psi(g)", "psi g", "psi gauge"},
		names:  []string{"pound per square inch gauge", "pounds per square inch gauge", "pounds-force per square inch gauge"}},
	{sym: "kgf/cm²g", name: "kilogram-force per square centimetre gauge", dim: Pressure, scale: mul(ratGn, n(10000)), gauge: true,
		fold:  []string{"kgf/cm²g", "kgf/cm2g", "kg/cm²g", "kg/cm2g", "kgf/cm2(g)", "kg/cm2(g)"},
		names: []string{"kilogram per square centimetre gauge"}},

	// Volume flow.
	{sym: "m³/s", name: "cubic metre per second", dim: VolumeFlow, scale: n(1), rec20: "MQS", ucum: "m3/s",
		fold: []string{"m³/s", "m3/s", "m^3/s"}},
	{sym: "m³/min", name: "cubic metre per minute", dim: VolumeFlow, scale: quo(n(1), ratMin), rec20: "G53", ucum: "m3/min",
		fold: []string{"m³/min", "m3/min", "m^3/min"}},
	{sym: "m³/h", name: "cubic metre per hour", dim: VolumeFlow, scale: quo(n(1), ratHour), rec20: "MQH", ucum: "m3/h",
		fold: []string{"m³/h", "m3/h", "m^3/h", "cmh"}},
	{sym: "m³/d", name: "cubic metre per day", dim: VolumeFlow, scale: quo(n(1), ratDay), rec20: "G52", ucum: "m3/d",
		fold: []string{"m³/d", "m3/d", "m^3/d"}},
	{sym: "L/s", name: "litre per second", dim: VolumeFlow, scale: dec("0.001"), rec20: "G51", ucum: "L/s",
		fold: []string{"L/s", "lps"}},
	{sym: "L/min", name: "litre per minute", dim: VolumeFlow, scale: quo(dec("0.001"), ratMin), rec20: "L2", ucum: "L/min",
		fold: []string{"L/min", "lpm"}},
	{sym: "L/h", name: "litre per hour", dim: VolumeFlow, scale: quo(dec("0.001"), ratHour), rec20: "E32", ucum: "L/h",
		fold: []string{"L/h", "lph"}},
	{sym: "gal/min", name: "US gallon per minute", dim: VolumeFlow, scale: quo(ratGal, ratMin), rec20: "G2", ucum: "[gal_us]/min",
		fold:  []string{"gal/min", "gpm", "USgpm", "US gpm", "USgal/min", "US gal/min", "gal(US)/min"},
		names: []string{"gallon per minute"}},
	{sym: "gal/h", name: "US gallon per hour", dim: VolumeFlow, scale: quo(ratGal, ratHour), rec20: "G50", ucum: "[gal_us]/h",
		fold: []string{"gal/h", "gph", "USgph", "US gal/h"}, names: []string{"gallon per hour"}},
	{sym: "ft³/min", name: "cubic foot per minute", dim: VolumeFlow, scale: quo(ratFt3, ratMin), rec20: "2L", ucum: "[cft_i]/min",
		exact: []string{"[ft_i]3/min"}, fold: []string{"ft³/min", "ft3/min", "cfm", "cu ft/min"}},
	{sym: "ft³/h", name: "cubic foot per hour", dim: VolumeFlow, scale: quo(ratFt3, ratHour), rec20: "2K", ucum: "[cft_i]/h",
		exact: []string{"[ft_i]3/h"}, fold: []string{"ft³/h", "ft3/h", "cfh", "cu ft/h"}},
	{sym: "ft³/s", name: "cubic foot per second", dim: VolumeFlow, scale: ratFt3, rec20: "E17", ucum: "[cft_i]/s",
		exact: []string{"[ft_i]3/s"}, fold: []string{"ft³/s", "ft3/s", "cfs", "cu ft/s"}},

	// Mass flow. Steam is metered in lb/h in US plants.
	{sym: "kg/s", name: "kilogram per second", dim: MassFlow, scale: n(1), rec20: "KGS", ucum: "kg/s",
		fold: []string{"kg/s"}},
	{sym: "kg/min", name: "kilogram per minute", dim: MassFlow, scale: quo(n(1), ratMin), rec20: "F31", ucum: "kg/min",
		fold: []string{"kg/min"}},
	{sym: "kg/h", name: "kilogram per hour", dim: MassFlow, scale: quo(n(1), ratHour), rec20: "E93", ucum: "kg/h",
		fold: []string{"kg/h", "kgph"}},
	{sym: "t/h", name: "tonne per hour", dim: MassFlow, scale: quo(n(1000), ratHour), rec20: "E18", ucum: "t/h",
		fold: []string{"tonne/h", "tonnes/h"}, names: []string{"metric ton per hour", "metric tonne per hour"}},
	{sym: "t/d", name: "tonne per day", dim: MassFlow, scale: quo(n(1000), ratDay), rec20: "L71", ucum: "t/d",
		fold: []string{"tonne/d", "tonnes/d"}, names: []string{"metric ton per day"}},
	{sym: "lb/s", name: "pound per second", dim: MassFlow, scale: ratPound, rec20: "K81", ucum: "[lb_av]/s",
		fold: []string{"lb/s", "lbs/s", "lbm/s"}},
	{sym: "lb/min", name: "pound per minute", dim: MassFlow, scale: quo(ratPound, ratMin), rec20: "K78", ucum: "[lb_av]/min",
		fold: []string{"lb/min", "lbs/min", "lbm/min"}},
	{sym: "lb/h", name: "pound per hour", dim: MassFlow, scale: quo(ratPound, ratHour), rec20: "4U", ucum: "[lb_av]/h",
		fold: []string{"lb/h", "lbs/h", "lbm/h", "pph", "#/h"}},
	{sym: "klb/h", name: "thousand pounds per hour", dim: MassFlow, scale: quo(mul(n(1000), ratPound), ratHour), rec20: "M90",
		fold: []string{"klb/h", "klbs/h", "kpph", "kip/h"}, names: []string{"kilopound per hour"}},
	{sym: "short ton/h", name: "short ton per hour", dim: MassFlow, scale: quo(mul(n(2000), ratPound), ratHour), rec20: "4W", ucum: "[ston_av]/h",
		fold: []string{"ton/h", "tons/h", "ston/h", "US ton/h"}, names: []string{"ton per hour"}},

	// Energy.
	{sym: "J", name: "joule", dim: Energy, scale: n(1), rec20: "JOU", ucum: "J", fold: []string{"J"}},
	{sym: "kJ", name: "kilojoule", dim: Energy, scale: n(1e3), rec20: "KJO", ucum: "kJ", fold: []string{"kJ"}},
	{sym: "MJ", name: "megajoule", dim: Energy, scale: n(1e6), rec20: "3B", ucum: "MJ"},
	{sym: "GJ", name: "gigajoule", dim: Energy, scale: n(1e9), rec20: "GV", ucum: "GJ", fold: []string{"GJ"}},
	{sym: "TJ", name: "terajoule", dim: Energy, scale: n(1e12), rec20: "D30", ucum: "TJ", fold: []string{"TJ"}},
	{sym: "Wh", name: "watt hour", dim: Energy, scale: n(3600), rec20: "WHR", ucum: "W.h", fold: []string{"Wh"}},
	{sym: "kWh", name: "kilowatt hour", dim: Energy, scale: n(3.6e6), rec20: "KWH", ucum: "kW.h", fold: []string{"kWh"}},
	{sym: "MWh", name: "megawatt hour", dim: Energy, scale: n(3.6e9), rec20: "MWH", ucum: "MW.h"},
	{sym: "GWh", name: "gigawatt hour", dim: Energy, scale: n(3.6e12), rec20: "GWH", ucum: "GW.h", fold: []string{"GWh"}},
	{sym: "Btu", name: "British thermal unit", dim: Energy, scale: ratBtu, rec20: "BTU", ucum: "[Btu_IT]",
		fold: []string{"Btu", "Btu_IT", "BtuIT", "Btu(IT)"}, names: []string{"international table British thermal unit"}},
	{sym: "kBtu", name: "thousand British thermal units", dim: Energy, scale: mul(n(1e3), ratBtu),
		fold: []string{"kBtu"}},
	// MMBtu: M is the Roman thousand, so MM is a million. MBtu is not accepted:
	// it is read as a thousand by some and a million by others.
	{sym: "MMBtu", name: "million British thermal units", dim: Energy, scale: mul(n(1e6), ratBtu),
		fold: []string{"MMBtu", "MMBtu_IT"}},
	// therm = 100 000 Btu_IT (UNECE N71, "therm (EC)"), so 10 therm = 1 MMBtu exactly,
	// as US emission-factor tables assume. The US therm is a separate unit.
	{sym: "thm", name: "therm", dim: Energy, scale: mul(n(1e5), ratBtu), rec20: "N71",
		fold: []string{"thm", "thm(EC)", "therm(EC)"}},
	{sym: "thm(US)", name: "US therm", dim: Energy, scale: n(105480400), rec20: "N72",
		fold: []string{"thm(US)", "therm(US)", "thm US", "therm US"}},
	{sym: "Dth", name: "dekatherm", dim: Energy, scale: mul(n(1e6), ratBtu),
		fold: []string{"Dth"}, names: []string{"decatherm"}},
	// kcal is the International Table kilocalorie, 4186.8 J (UNECE E14).
	{sym: "kcal", name: "kilocalorie", dim: Energy, scale: dec("4186.8"), rec20: "E14", ucum: "kcal_IT",
		fold: []string{"kcal", "kcalIT", "kcal(IT)"}, names: []string{"international table kilocalorie"}},
	{sym: "kcal_th", name: "thermochemical kilocalorie", dim: Energy, scale: n(4184), rec20: "K53",
		fold: []string{"kcalth", "kcal(th)"}},
	{sym: "Gcal", name: "gigacalorie", dim: Energy, scale: dec("4.1868e9"),
		fold: []string{"Gcal", "Gcal_IT"}},

	// Power.
	{sym: "W", name: "watt", dim: Power, scale: n(1), rec20: "WTT", ucum: "W", fold: []string{"W"}},
	{sym: "mW", name: "milliwatt", dim: Power, scale: dec("0.001"), rec20: "C31", ucum: "mW"},
	// KW is also the UNECE code for kilogram per millimetre, a unit this package
	// does not have; "KW" is read as kilowatt.
	{sym: "kW", name: "kilowatt", dim: Power, scale: n(1e3), rec20: "KWT", ucum: "kW", fold: []string{"kW"}},
	{sym: "MW", name: "megawatt", dim: Power, scale: n(1e6), rec20: "MAW", ucum: "MW"},
	{sym: "GW", name: "gigawatt", dim: Power, scale: n(1e9), rec20: "A90", ucum: "GW", fold: []string{"GW"}},
	// hp is the mechanical (imperial) horsepower, 550 ft·lbf/s. HP is read as hp,
	// not as the deprecated UNECE code HP (millimetre of water).
	{sym: "hp", name: "horsepower", dim: Power, scale: mul(n(550), ratFoot, ratLbf), rec20: "BHP", ucum: "[HP]",
		fold:  []string{"hp", "hp(I)", "bhp"},
		names: []string{"mechanical horsepower", "imperial horsepower", "brake horsepower"}},
	{sym: "hp(M)", name: "metric horsepower", dim: Power, scale: mul(n(75), ratGn), rec20: "N12",
		exact: []string{"CV"}, fold: []string{"hp(M)", "hpM"}, names: []string{"Pferdestaerke", "Pferdestärke", "cheval vapeur"}},
	{sym: "Btu/h", name: "British thermal unit per hour", dim: Power, scale: quo(ratBtu, ratHour), rec20: "2I", ucum: "[Btu_IT]/h",
		fold: []string{"Btu/h", "Btuh", "Btu_IT/h", "BtuIT/h"}},
	{sym: "kBtu/h", name: "thousand British thermal units per hour", dim: Power, scale: quo(mul(n(1e3), ratBtu), ratHour),
		fold: []string{"kBtu/h", "kBtuh"}},
	{sym: "MMBtu/h", name: "million British thermal units per hour", dim: Power, scale: quo(mul(n(1e6), ratBtu), ratHour), rec20: "E16",
		fold: []string{"MMBtu/h", "MMBtuh"}},
	{sym: "TR", name: "ton of refrigeration", dim: Power, scale: quo(mul(n(12000), ratBtu), ratHour),
		fold: []string{"TR", "tonref", "ton_ref", "RT(US)"}, names: []string{"refrigeration ton"}},
	{sym: "kcal/h", name: "kilocalorie per hour", dim: Power, scale: quo(dec("4186.8"), ratHour), ucum: "kcal_IT/h",
		fold: []string{"kcal/h"}},
	{sym: "Gcal/h", name: "gigacalorie per hour", dim: Power, scale: quo(dec("4.1868e9"), ratHour),
		fold: []string{"Gcal/h"}},
	{sym: "MJ/h", name: "megajoule per hour", dim: Power, scale: quo(n(1e6), ratHour), ucum: "MJ/h"},
	{sym: "GJ/h", name: "gigajoule per hour", dim: Power, scale: quo(n(1e9), ratHour), ucum: "GJ/h",
		fold: []string{"GJ/h"}},

	// Mass.
	{sym: "g", name: "gram", dim: Mass, scale: dec("0.001"), rec20: "GRM", ucum: "g"},
	{sym: "mg", name: "milligram", dim: Mass, scale: dec("1e-6"), rec20: "MGM", ucum: "mg"},
	{sym: "kg", name: "kilogram", dim: Mass, scale: n(1), rec20: "KGM", ucum: "kg", fold: []string{"kg"}},
	// t is the tonne (SI symbol); "ton" is the US short ton of 2000 lb, as in
	// NIST SP 811 and SAP's unit TON.
	{sym: "t", name: "tonne", dim: Mass, scale: n(1000), rec20: "TNE", ucum: "t",
		names: []string{"metric ton", "metric tonne"}},
	{sym: "lb", name: "pound", dim: Mass, scale: ratPound, rec20: "LBR", ucum: "[lb_av]",
		fold: []string{"lb", "lbs", "lbm"}, names: []string{"avoirdupois pound"}},
	{sym: "short ton", name: "short ton", dim: Mass, scale: mul(n(2000), ratPound), rec20: "STN", ucum: "[ston_av]",
		fold: []string{"ton", "tons", "ston", "sh tn", "US ton"}, names: []string{"net ton"}},
	{sym: "long ton", name: "long ton", dim: Mass, scale: mul(n(2240), ratPound), rec20: "LTN", ucum: "[lton_av]",
		fold: []string{"lton", "UK ton"}, names: []string{"imperial ton", "gross ton"}},

	// Volume.
	{sym: "L", name: "litre", dim: Volume, scale: dec("0.001"), rec20: "LTR", ucum: "L",
		exact: []string{"l", "ℓ"}},
	{sym: "mL", name: "millilitre", dim: Volume, scale: dec("1e-6"), rec20: "MLT", ucum: "mL",
		exact: []string{"ml"}},
	{sym: "m³", name: "cubic metre", dim: Volume, scale: n(1), rec20: "MTQ", ucum: "m3",
		fold: []string{"m³", "m3", "m^3"}},
	{sym: "gal", name: "US gallon", dim: Volume, scale: ratGal, rec20: "GLL", ucum: "[gal_us]",
		fold: []string{"gal", "USgal", "US gal", "gal(US)"}, names: []string{"gallon"}},
	{sym: "ft³", name: "cubic foot", dim: Volume, scale: ratFt3, rec20: "FTQ", ucum: "[cft_i]",
		exact: []string{"[ft_i]3"}, fold: []string{"ft³", "ft3", "cu ft", "cf"}},
	{sym: "bbl", name: "barrel", dim: Volume, scale: mul(n(42), ratGal), rec20: "BLL", ucum: "[bbl_us]",
		fold: []string{"bbl"}, names: []string{"oil barrel", "US barrel", "petroleum barrel"}},
}

// siUnit is the coherent SI unit of each Dimension, found in the table.
var siUnit = findSI()

func findSI() [numDimensions]Unit {
	want := [numDimensions]string{
		Dimensionless: "1", Temperature: "K", TemperatureDifference: "ΔK", Pressure: "Pa",
		VolumeFlow: "m³/s", MassFlow: "kg/s", Energy: "J", Power: "W", Mass: "kg", Volume: "m³",
	}
	var si [numDimensions]Unit
	for id := 1; id < len(table); id++ {
		d := table[id]
		if want[d.dim] == d.sym {
			si[d.dim] = Unit{id: uint16(id)}
		}
	}
	for d := Dimension(1); d < numDimensions; d++ {
		if si[d].IsZero() {
			panic("units: no SI unit for " + d.String())
		}
	}
	return si
}

func n(x float64) *big.Rat { return new(big.Rat).SetFloat64(x) }

func dec(s string) *big.Rat {
	r, ok := new(big.Rat).SetString(s)
	if !ok {
		panic("units: bad constant " + s)
	}
	return r
}

func mul(xs ...*big.Rat) *big.Rat {
	r := new(big.Rat).SetInt64(1)
	for _, x := range xs {
		r.Mul(r, x)
	}
	return r
}

func quo(a, b *big.Rat) *big.Rat { return new(big.Rat).Quo(a, b) }
