package units

import (
	"slices"
	"strings"
	"unicode/utf8"
)

// Unit is a unit of measurement this package knows, such as °F, psig or kWh.
// Get one with [Parse] or [MustParse].
//
// Unit is a small comparable value: two Units are equal exactly when they are
// the same unit, whatever spelling they were parsed from. The zero Unit is "no
// unit": it has no dimension and converts to nothing.
type Unit struct {
	id uint16
}

// maxNameLen bounds the names Parse looks at; longer input is not a unit.
const maxNameLen = 64

// Parse returns the unit named by s: a symbol ("°F", "degF", "kWh", "m³/h",
// "m3/h", "psig"), a full name ("fahrenheit", "kilowatt hour", "pounds per
// hour"), a UCUM code ("[degF]", "Cel", "[psi]", "kW.h") or a UNECE
// Recommendation 20 common code as OPC UA servers publish in EUInformation
// ("FAH", "CEL", "KEL", "BAR", "KWH", "MQH"). See the package documentation for
// the rules on letter case and the ambiguous spellings, and [Unit.Aliases] for
// every accepted spelling.
//
// Spaces, underscores, hyphens, dots, "·", "*", "^" and parentheses are
// ignored, "³" and "²" read as 3 and 2, and "/hr" and "/sec" as "/h" and "/s".
// An unknown name returns an error that is an *[UnknownError] and matches
// [ErrUnknown]. Parse allocates nothing when it succeeds.
func Parse(s string) (Unit, error) {
	if u, ok := lookup(s); ok {
		return u, nil
	}
	return Unit{}, &UnknownError{Name: s}
}

// MustParse is like [Parse] but panics if s is not a unit. It is meant for
// package-level variables and tests, where s is a constant.
func MustParse(s string) Unit {
	u, err := Parse(s)
	if err != nil {
		panic(err)
	}
	return u
}

func lookup(s string) (Unit, bool) {
	if len(s) == 0 || len(s) > maxNameLen {
		return Unit{}, false
	}
	var buf [maxNameLen]byte
	k := normalize(buf[:0], s)
	if id, ok := index.exact[string(k)]; ok {
		return Unit{id: id}, true
	}
	lowerASCII(k)
	if id, ok := index.fold[string(k)]; ok {
		return Unit{id: id}, true
	}
	return Unit{}, false
}

// normalize appends to dst the lookup key of s: separators dropped, look-alike
// characters replaced, hour and second suffixes shortened. The key is never
// longer than s.
func normalize(dst []byte, s string) []byte {
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		i += size
		switch r {
		case ' ', '\t', '_', '-', '.', '*', '^', '(', ')',
			'\u00B7', // middle dot
			'\u22C5', // dot operator
			'\u2219', // bullet operator
			'\u2022': // bullet
		case '\u00B3': // superscript three
			dst = append(dst, '3')
		case '\u00B2': // superscript two
			dst = append(dst, '2')
		case '\u2082': // subscript two, as in H₂O
			dst = append(dst, '2')
		case '\u00BA', '\u02DA': // masculine ordinal, ring above: typed for the degree sign
			dst = append(dst, "°"...)
		case '\u2103': // degree Celsius sign
			dst = append(dst, "°C"...)
		case '\u2109': // degree Fahrenheit sign
			dst = append(dst, "°F"...)
		case '\u2206': // increment, typed for Greek capital delta
			dst = append(dst, "Δ"...)
		case '\u2113': // script small l
			dst = append(dst, 'l')
		case utf8.RuneError:
			// Keep invalid bytes as they are: they match nothing.
			dst = append(dst, s[i-size:i]...)
		default:
			dst = utf8.AppendRune(dst, r)
		}
	}
	switch {
	case hasSuffixFold(dst, "/hr"):
		dst = dst[:len(dst)-1]
	case hasSuffixFold(dst, "/sec"):
		dst = dst[:len(dst)-2]
	}
	return dst
}

// hasSuffixFold reports whether b ends in the lower-case ASCII suffix, in any case.
func hasSuffixFold(b []byte, suffix string) bool {
	if len(b) < len(suffix) {
		return false
	}
	b = b[len(b)-len(suffix):]
	for i := range len(suffix) {
		c := b[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != suffix[i] {
			return false
		}
	}
	return true
}

// lowerASCII folds ASCII letters in place; other bytes are left alone.
func lowerASCII(b []byte) {
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			b[i] = c + ('a' - 'A')
		}
	}
}

// IsZero reports whether u is the zero Unit ("no unit").
func (u Unit) IsZero() bool { return u.id == 0 }

func (u Unit) def() *def {
	if int(u.id) >= len(table) {
		return &table[0]
	}
	return &table[u.id]
}

// Dimension returns the kind of quantity u measures, or 0 for the zero Unit.
func (u Unit) Dimension() Dimension { return u.def().dim }

// Symbol returns u's canonical symbol, e.g. "°F", "m³/h", "psig". Parse of the
// symbol returns u. The zero Unit's symbol is "".
func (u Unit) Symbol() string { return u.def().sym }

// String returns u's canonical symbol, as [Unit.Symbol].
func (u Unit) String() string { return u.def().sym }

// Name returns u's canonical name, e.g. "degree Fahrenheit", "cubic metre per hour".
func (u Unit) Name() string { return u.def().name }

// Code returns u's UNECE Recommendation 20 common code (what OPC UA
// EUInformation carries), or "" if it has none.
func (u Unit) Code() string { return u.def().rec20 }

// UCUM returns u's UCUM case-sensitive code, or "" if UCUM has none.
func (u Unit) UCUM() string { return u.def().ucum }

// IsGauge reports whether u is a gauge pressure: a pressure relative to the
// local atmosphere (barg, psig, kPag ...). Other pressure units are absolute.
func (u Unit) IsGauge() bool { return u.def().gauge }

// IsDifference reports whether u measures a temperature difference (Δ°C, Δ°F,
// ΔK, Δ°R) rather than a temperature on a scale.
func (u Unit) IsDifference() bool { return u.def().dim == TemperatureDifference }

// Delta returns the unit of a difference of two values measured in u: for a
// temperature unit, its temperature-difference unit (°F gives Δ°F); for every
// other unit, u itself. Use it for deadbands, rate-of-change limits and
// tolerances, which are differences.
func (u Unit) Delta() Unit {
	if u.def().dim != Temperature {
		return u
	}
	return deltaOf[u.id]
}

// deltaOf maps each temperature unit's id to its difference unit.
var deltaOf = func() map[uint16]Unit {
	m := make(map[uint16]Unit)
	for id := 1; id < len(table); id++ {
		d := table[id]
		if d.dim != Temperature {
			continue
		}
		diff, ok := lookup("Δ" + d.sym)
		if !ok || diff.Dimension() != TemperatureDifference {
			panic("units: no difference unit for " + d.sym)
		}
		m[uint16(id)] = diff
	}
	return m
}()

// Aliases returns every spelling Parse accepts for u, as written in the table
// (Parse also ignores the separators and folds the case its rules allow), in
// no particular order beyond: symbol first, then codes, then other spellings.
func (u Unit) Aliases() []string {
	if u.IsZero() {
		return nil
	}
	return slices.Clone(index.aliases[u.id])
}

// Units returns every unit this package knows, grouped by dimension in
// declaration order.
func Units() []Unit {
	us := make([]Unit, 0, len(table)-1)
	for id := 1; id < len(table); id++ {
		us = append(us, Unit{id: uint16(id)})
	}
	return us
}

// MarshalText returns u's canonical symbol; the zero Unit marshals to "".
func (u Unit) MarshalText() ([]byte, error) { return []byte(u.Symbol()), nil }

// UnmarshalText parses text with [Parse]. Empty text gives the zero Unit and no
// error, so an optional unit field survives a round trip.
func (u *Unit) UnmarshalText(text []byte) error {
	if len(text) == 0 {
		*u = Unit{}
		return nil
	}
	v, err := Parse(string(text))
	if err != nil {
		return err
	}
	*u = v
	return nil
}

func (u Unit) describe() string {
	if u.IsZero() {
		return "no unit"
	}
	d := u.def()
	switch {
	case d.gauge:
		return d.sym + " (gauge pressure)"
	case d.dim == Pressure:
		return d.sym + " (absolute pressure)"
	}
	return d.sym + " (" + d.dim.String() + ")"
}

// index maps lookup keys to unit ids.
var index = buildIndex()

type unitIndex struct {
	exact   map[string]uint16 // normalized key, case as written
	fold    map[string]uint16 // normalized key, ASCII lower case
	aliases [][]string        // per id, the spellings as written
}

// buildIndex builds the lookup maps from the table and panics on any spelling
// that two units share, so an ambiguity cannot slip in unnoticed (the package
// tests run it).
func buildIndex() unitIndex {
	ix := unitIndex{
		exact:   make(map[string]uint16),
		fold:    make(map[string]uint16),
		aliases: make([][]string, len(table)),
	}
	var buf [4 * maxNameLen]byte
	key := func(s string) string { return string(normalize(buf[:0], s)) }
	foldKey := func(s string) string {
		k := normalize(buf[:0], s)
		lowerASCII(k)
		return string(k)
	}
	add := func(id int, s string, fold bool) {
		if s == "" {
			return
		}
		if len(s) > maxNameLen {
			panic("units: spelling too long: " + s)
		}
		if !slices.Contains(ix.aliases[id], s) {
			ix.aliases[id] = append(ix.aliases[id], s)
		}
		m, k := ix.exact, key(s)
		if fold {
			m, k = ix.fold, foldKey(s)
		}
		if prev, ok := m[k]; ok && int(prev) != id {
			panic("units: " + s + " names both " + table[prev].sym + " and " + table[id].sym)
		}
		m[k] = uint16(id)
	}
	for id := 1; id < len(table); id++ {
		d := table[id]
		add(id, d.sym, false)
		add(id, d.rec20, false)
		add(id, d.ucum, false)
		for _, s := range d.rec20x {
			add(id, s, false)
		}
		for _, s := range d.exact {
			add(id, s, false)
		}
		for _, s := range d.fold {
			add(id, s, true)
		}
		for _, name := range append([]string{d.name}, d.names...) {
			for _, v := range nameVariants(name) {
				add(id, v, true)
			}
		}
	}
	// A case-insensitive spelling must not fold onto another unit's
	// case-sensitive one (a folded "mw" would turn milliwatts into megawatts).
	for k, id := range ix.exact {
		b := []byte(k)
		lowerASCII(b)
		if other, ok := ix.fold[string(b)]; ok && other != id {
			panic("units: " + k + " (" + table[id].sym + ") folds onto " + table[other].sym)
		}
	}
	return ix
}

// nameVariants returns name, its plural and its -er spellings (metre, litre).
func nameVariants(name string) []string {
	vs := []string{name, plural(name)}
	for _, v := range vs[:2] {
		if us := strings.NewReplacer("metre", "meter", "litre", "liter").Replace(v); us != v {
			vs = append(vs, us)
		}
	}
	return vs
}

// plural makes the plural of a unit name the way people write it: "degrees
// Celsius", "pounds per hour", "inches of water", "kilowatt hours".
func plural(name string) string {
	if rest, ok := strings.CutPrefix(name, "degree "); ok {
		return "degrees " + rest
	}
	for _, sep := range []string{" per ", " of ", " at "} {
		if before, after, ok := strings.Cut(name, sep); ok {
			return pluralWord(before) + sep + after
		}
	}
	return pluralWord(name)
}

// pluralWord pluralizes the last word of s. Proper names (Fahrenheit),
// qualifiers (absolute, gauge) and mass nouns (horsepower, percent) stay as
// they are; a hyphenated word takes the plural on its head (pounds-force).
func pluralWord(s string) string {
	i := strings.LastIndexByte(s, ' ') + 1
	w, tail, _ := strings.Cut(s[i:], "-")
	if tail != "" {
		tail = "-" + tail
	}
	switch {
	case w == "foot":
		w = "feet"
	case w == "inch":
		w = "inches"
	case w == "" || 'A' <= w[0] && w[0] <= 'Z' || strings.HasSuffix(w, "s") || slices.Contains(uncountable, w):
	default:
		w += "s"
	}
	return s[:i] + w + tail
}

var uncountable = []string{"absolute", "gauge", "horsepower", "percent", "cent", "one", "centigrade", "vapeur", "torr"}
