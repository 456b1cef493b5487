// Package units parses the unit names plants, ERPs and OPC UA servers use and
// converts values between them, exactly and fast. It imports only the standard
// library.
//
// # Use
//
// [Parse] turns a name into a [Unit]; [Convert] converts one value between two
// names:
//
//	c, err := units.Convert(212, "fahrenheit", "celsius") // 100
//
// In a loop, resolve the conversion once with [NewConverter]; its
// [Converter.Convert] is one fused multiply-add and allocates nothing:
//
//	conv, err := units.NewConverter(units.MustParse("lb/h"), units.MustParse("kg/s"))
//	for i := range flows {
//		flows[i] = conv.Convert(flows[i])
//	}
//
// Conversion factors are computed in exact rational arithmetic from the defined
// constants and rounded once; every conversion is affine (a scale and, for
// temperatures and gauge references, an offset).
//
// # Dimensions and units
//
// Only units of one [Dimension] convert into each other; anything else (kWh to
// kW, °F to Δ°F) is an error, never a guess. Each line gives the canonical
// symbol ([Unit.Symbol]), the name ([Unit.Name]) and the UNECE Recommendation 20
// common code ([Unit.Code]) where one exists. [Unit.Aliases] lists every spelling
// Parse accepts for a unit, and [Units] lists the units.
//
// Dimensionless: 1 (ratio, C62), % (percent, P1), ppm (part per million, 59).
//
// Temperature, a reading on a scale: K (kelvin, KEL), °C (degree Celsius, CEL),
// °F (degree Fahrenheit, FAH), °R (degree Rankine, A48).
//
// Temperature difference, an interval: ΔK, Δ°C, Δ°F, Δ°R (also "delta_degF",
// "F°" ...). A rise of 10 °F is 5.556 ΔK; [Unit.Delta] gives the difference unit
// of a temperature unit, for deadbands and rate-of-change limits.
//
// Pressure, absolute: Pa (PAL), hPa (A97), kPa (KPA), MPa (MPA), bar (BAR), mbar
// (MBR), psi (pound-force per square inch, PS; "psia" is the same unit), atm
// (standard atmosphere, ATM), Torr, mmHg (conventional millimetre of mercury,
// HN), inHg (conventional inch of mercury, F79), inH2O (conventional inch of
// water, F78), inH2O(60°F) (inch of water at 60 °F, N19), mmH2O (conventional
// millimetre of water), kgf/cm² (E42).
//
// Pressure, gauge: kPag, MPag, barg, mbarg, psig (also the deprecated code 64),
// kgf/cm²g.
//
// Volume flow: m³/s (MQS), m³/min (G53), m³/h (MQH), m³/d (G52), L/s (G51), L/min
// (L2), L/h (E32), gal/min (US gpm, G2), gal/h (G50), ft³/min (cfm, 2L), ft³/h
// (2K), ft³/s (E17).
//
// Mass flow: kg/s (KGS), kg/min (F31), kg/h (E93), t/h (E18), t/d (L71), lb/s
// (K81), lb/min (K78), lb/h (4U), klb/h (M90), short ton/h (4W).
//
// Energy: J (JOU), kJ (KJO), MJ (3B), GJ (GV), TJ (D30), Wh (WHR), kWh (KWH), MWh
// (MWH), GWh (GWH), Btu (International Table, BTU), kBtu, MMBtu, thm (therm,
// N71), thm(US) (US therm, N72), Dth (dekatherm), kcal (International Table
// kilocalorie, E14), kcal_th (thermochemical kilocalorie, K53), Gcal.
//
// Power: W (WTT), mW (C31), kW (KWT), MW (MAW), GW (A90), hp (mechanical
// horsepower, BHP), hp(M) (metric horsepower, N12), Btu/h (2I), kBtu/h, MMBtu/h
// (E16), TR (ton of refrigeration), kcal/h, Gcal/h, MJ/h, GJ/h.
//
// Mass: g (GRM), mg (MGM), kg (KGM), t (tonne, TNE), lb (LBR), short ton (STN),
// long ton (LTN).
//
// Volume: L (LTR), mL (MLT), m³ (MTQ), gal (US gallon, GLL), ft³ (FTQ), bbl (US
// oil barrel of 42 gal, BLL).
//
// # Spelling
//
// Parse accepts symbols ("°F", "degF", "kWh", "m³/h", "m3/h"), full names in
// singular or plural and with -re or -er ("fahrenheit", "cubic meters per
// hour"), UCUM codes ("[degF]", "Cel", "[psi]", "kW.h") and UNECE Rec 20
// common codes ("FAH", "CEL", "KEL", "BAR", "KWH", "MQH"). It ignores spaces,
// underscores, hyphens, dots, "·", "*", "^" and parentheses, reads "³" and "²" as
// digits, "℃" and "℉" as "°C" and "°F", "º" (the ordinal sign) as "°", and the
// suffixes "/hr" and "/sec" as "/h" and "/s". So "kW·h", "kW h" and "kW-h" are
// kWh, and "bar(g)" is barg.
//
// OPC UA servers carry the UNECE code in EUInformation.UnitId, packed into an
// Int32; [FromUnitID] reads it and [Unit.UnitID] writes it.
//
// Letter case is honoured where it carries meaning and ignored elsewhere:
//   - Symbols whose case tells them from another unit's are matched only as
//     written: MW is megawatt and mW milliwatt, and "mw" is an error rather than
//     a guess that could be off by a factor of 10⁹. The same holds for MWh, MJ,
//     MPa, MPag, mbar, mbarg, mL, mg, g, t, L and l.
//   - UNECE codes are matched in upper case as published, UCUM codes in their
//     case-sensitive form.
//   - Full names and the symbols that no case change can misread (kWh, kW, psig,
//     degF, MMBtu, gpm, m3/h ...) are matched in any case: "KWH", "kwh", "PSIG",
//     "M3/HR".
//
// Ambiguous spellings resolve to one meaning:
//   - "t" is the tonne (1000 kg, the SI symbol); "ton" and "tons" are the US short
//     ton of 2000 lb, as in NIST SP 811 and SAP's unit TON. The long ton is "long
//     ton", the ton of refrigeration "TR".
//   - "C" and "F" alone are degrees Celsius and Fahrenheit (this package has no
//     coulomb or farad); "K" is the kelvin.
//   - Unqualified pressure units (Pa, bar, psi ...) are absolute; gauge units say
//     so (barg, psig, kPag). If a source's "psi" means gauge, call it psig.
//   - "therm" is 100 000 Btu_IT (UNECE N71), so 10 therm is exactly 1 MMBtu; the
//     US therm of 105 480 400 J is "thm(US)".
//   - "kcal" is the International Table kilocalorie, 4186.8 J; the thermochemical
//     one is "kcal_th".
//   - "hp" and "HP" are the mechanical horsepower, 550 ft·lbf/s; the metric one is
//     "hp(M)". "PS" is the UNECE code for psi, not Pferdestärke; "HP" is not read
//     as the deprecated UNECE code for millimetre of water, and "KW" is kilowatt,
//     not the UNECE code for kilogram per millimetre.
//   - "gal" and "gpm" are US gallons.
//   - "inH2O" is the conventional inch of water: a column of water of density
//     1000 kg/m³ (water near 4 °C) under standard gravity, 249.088 91 Pa. The
//     inch of water at 60 °F used in gas measurement is "inH2O(60°F)", 248.84 Pa.
//   - "MBtu", "Mlb/h" and "MBH" are not accepted: M means a thousand to some
//     readers and a million to others. Use kBtu, klb/h, kBtu/h or MMBtu.
//
// Not supported, on purpose: normal and standard volumes (Nm³, SCFM), which need
// reference conditions and are really amounts of gas; the boiler horsepower,
// which has several definitions; units of time, length and area.
//
// # Gauge pressure
//
// A gauge pressure is relative to the local atmosphere, so it converts to an
// absolute pressure only with a reference: [NewConverter] refuses (the error
// matches [ErrNeedsReference]) and [NewGaugeConverter] takes the atmospheric
// pressure in Pa, [StandardAtmosphere] or a barometer reading. Gauge to gauge and
// absolute to absolute convert as usual.
//
// # Constants
//
// Every factor comes from an exact definition: 1 in = 0.0254 m, 1 lb =
// 0.453 592 37 kg (international yard and pound, 1959); gn = 9.806 65 m/s²
// (CGPM 1901), whence 1 psi = 6894.757 293 168 361 Pa; 1 Btu_IT = 1055.055 852 62 J;
// 1 US gal = 231 in³ = 3.785 411 784 L; 1 atm = 101 325 Pa; 1 mmHg =
// 133.322 387 415 Pa (13.5951 g/cm³ of mercury under gn); 0 °C = 273.15 K;
// 1 °F = 5/9 K. The values and their exactness follow NIST SP 811 (2008),
// Appendix B. The only inexact factor is inH2O(60°F), NIST's five-digit value.
//
// # Errors
//
// An unknown name gives an *[UnknownError] (matching [ErrUnknown]) that carries
// the name; an impossible conversion gives an *[IncompatibleError] (matching
// [ErrIncompatible]) that carries both units. Neither is worth retrying.
package units
