package units

import (
	"errors"
	"strings"
	"testing"
)

func TestUnitID(t *testing.T) {
	// Values from the OPC UA UNECE mapping (OPC UA Part 8, 5.6.3): the code's
	// bytes, big-endian.
	for _, c := range []struct {
		id  int32
		sym string
	}{
		{4408652, "°C"}, // CEL 0x43454C
		{4604232, "°F"}, // FAH 0x464148
		{4932940, "K"},  // KEL 0x4B454C
		{4342098, "bar"},
		{4937544, "kWh"},
		{5067080, "m³/h"},
		{20563, "psi"},   // PS 0x5053
		{14384, "psi"},   // "80" 0x3830
		{12873, "Btu/h"}, // "2I" 0x3249
	} {
		u, err := FromUnitID(c.id)
		if err != nil || u.Symbol() != c.sym {
			t.Errorf("FromUnitID(%d) = %v, %v; want %s", c.id, u, err, c.sym)
			continue
		}
		if c.sym != "psi" && u.UnitID() != c.id {
			t.Errorf("%s.UnitID() = %d, want %d", u, u.UnitID(), c.id)
		}
	}
	for _, u := range Units() {
		if u.Code() == "" {
			if u.UnitID() != -1 {
				t.Errorf("%s without code has UnitId %d", u, u.UnitID())
			}
			continue
		}
		if back, err := FromUnitID(u.UnitID()); err != nil || back != u {
			t.Errorf("%s: UnitId %d gives %v, %v", u, u.UnitID(), back, err)
		}
	}
	// KW is the UNECE code of kilogram per millimetre, which this package does
	// not have: the UnitId must not be read as kilowatt.
	for _, id := range []int32{0x4B57, 0, -1, 0x00FFFFFF, 0x4D4D4D4D} {
		_, err := FromUnitID(id)
		var ue *UnknownError
		if !errors.Is(err, ErrUnknown) || !errors.As(err, &ue) || !strings.HasPrefix(ue.Name, "UnitId ") {
			t.Errorf("FromUnitID(%#x) = %v", id, err)
		}
	}
}
