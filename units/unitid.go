package units

import (
	"slices"
	"strconv"
)

// OPC UA servers publish a variable's engineering unit as EUInformation
// (OPC UA Part 8, 5.6.3), whose UnitId is the UNECE Recommendation 20 common
// code packed into an Int32: each character of the code, in order, shifted in
// as one byte. "CEL" (degree Celsius) is 0x43454C, 4408652.

// FromUnitID returns the unit whose UNECE common code packs to id, as in an
// OPC UA EUInformation.UnitId. An id that is not a code this package knows
// returns an *[UnknownError] naming the id (and the code, when it spells one).
func FromUnitID(id int32) (Unit, error) {
	var b [4]byte
	n := 0
	for shift := 24; shift >= 0; shift -= 8 {
		c := byte(uint32(id) >> shift)
		if c == 0 && n == 0 {
			continue // leading zero bytes: codes shorter than four characters
		}
		b[n] = c
		n++
	}
	code := string(b[:n])
	if n > 0 && printableCode(code) {
		if u, ok := lookupCode(code); ok {
			return u, nil
		}
		return Unit{}, &UnknownError{Name: "UnitId " + strconv.FormatInt(int64(id), 10) + " (" + code + ")"}
	}
	return Unit{}, &UnknownError{Name: "UnitId " + strconv.FormatInt(int64(id), 10)}
}

// UnitID returns u's UNECE common code packed as an OPC UA EUInformation
// UnitId, or -1 when u has no code (OPC UA's value for "no unit id").
func (u Unit) UnitID() int32 {
	code := u.Code()
	if code == "" {
		return -1
	}
	var id int32
	for i := range len(code) {
		id = id<<8 | int32(code[i])
	}
	return id
}

func printableCode(s string) bool {
	for i := range len(s) {
		if c := s[i]; c < '0' || c > '9' && c < 'A' || c > 'Z' {
			return false
		}
	}
	return true
}

// lookupCode finds a unit by its UNECE code only, not by any other spelling
// ("KW" is a code for kilogram per millimetre, not kilowatt).
func lookupCode(code string) (Unit, bool) {
	for id := 1; id < len(table); id++ {
		if d := &table[id]; d.rec20 == code || slices.Contains(d.rec20x, code) {
			return Unit{id: uint16(id)}, true
		}
	}
	return Unit{}, false
}
