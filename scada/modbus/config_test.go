package modbus

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

func validConfig() Config {
	return Config{
		Name:    "boiler1",
		Address: "127.0.0.1:502",
		Devices: []Device{{UnitID: 1, Tags: []Tag{
			{Name: "temp", Address: 0, Type: Float32},
			{Name: "running", Table: Coil, Address: 5},
		}}},
	}
}

func TestValidateAccepts(t *testing.T) {
	c := validConfig()
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
}

func TestValidateListsEveryProblem(t *testing.T) {
	c := Config{
		Address:      "nohostport",
		MaxRegisters: 200,
		MaxInFlight:  -1,
		Devices: []Device{
			{UnitID: 1, Tags: []Tag{
				{Name: "f", Address: 10, Type: Float32, Length: 1},    // a float32 on one register
				{Name: "s", Address: 20, Type: String, Length: 4},     // overlaps "u", and no OnText
				{Name: "u", Address: 22, Type: Uint16},                // inside the string
				{Name: "far", Address: 65536},                         // past 65535
				{Name: "edge", Address: 65534, Type: Float64},         // runs past 65535
				{Name: "weird", Address: 30, Type: Type(99)},          // unknown type
				{Name: "coilf", Table: Coil, Address: 1, Type: Int32}, // a coil is one bit
				{Name: "ro", Table: InputRegister, Writable: true},    // read-only table
				{Name: "bit", Address: 40, Type: Bool, Bit: 16},       // bit past 15
				{Name: "wbit", Address: 41, Type: Bool, Writable: true},
				{Name: "p1", Address: 50, Type: Int32},
				{Name: "p2", Address: 51, Type: Int32}, // shares one register with p1
				{Name: "f", Address: 60},               // name used twice
			}},
			{UnitID: 1}, // the same unit again, with no tags
		},
	}
	err := c.Validate()
	if err == nil {
		t.Fatal("Validate accepted a broken config")
	}
	msg := err.Error()
	for _, want := range []string{
		"Name is empty",
		`Address "nohostport"`,
		"MaxRegisters 200",
		"MaxInFlight -1 is negative",
		`"f": Length is only for strings`,
		`"s": string tags deliver text through Config.OnText`,
		`"s" (string 20..23) and "u" (uint16 22..22) overlap`,
		`"far": address 65536 is outside 0..65535`,
		`"edge": a float64 at address 65534 runs past 65535`,
		`"weird": unknown type 99`,
		`"coilf": a coil holds single bits`,
		`"ro": the input table is read-only`,
		`"bit": bit 16 is outside 0..15`,
		`"wbit": a bit of a register cannot be written`,
		`"p1" (int32 50..51) and "p2" (int32 51..52) overlap`,
		`"f": name used twice`,
		"unit id 1 appears twice",
		"device 1 (unit 1): no Tags",
	} {
		if !strings.Contains(msg, want) {
			t.Errorf("Validate does not report %q; got:\n%s", want, msg)
		}
	}
	if n := len(err.(interface{ Unwrap() []error }).Unwrap()); n != 18 {
		t.Errorf("Validate reported %d problems, want 18:\n%s", n, msg)
	}
	if _, err := New(c); err == nil {
		t.Error("New accepted a config Validate rejects")
	}
}

func TestValidateAllowsSharedRegisters(t *testing.T) {
	c := validConfig()
	c.Devices[0].Tags = []Tag{
		{Name: "status", Address: 7},
		{Name: "alarm", Address: 7, Type: Bool, Bit: 3},
		{Name: "ready", Address: 7, Type: Bool, Bit: 4},
		{Name: "flow", Address: 8, Type: Float32},
		{Name: "flow_lph", Address: 8, Type: Float32, Scale: 3600},
	}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
}

func TestConfigFromJSON(t *testing.T) {
	const doc = `{"Name": "b", "Address": "10.0.0.5:502", "Devices": [{"UnitID": 3, "PollInterval": 2000000000,
		"Tags": [{"Name": "t", "Table": "input", "Address": 4, "Type": "float", "Order": "cdab", "Scale": 0.1, "Unit": "degC"},
		         {"Name": "b", "Table": "coil", "Address": 1, "Writable": true}]}]}`
	var c Config
	if err := json.Unmarshal([]byte(doc), &c); err != nil {
		t.Fatal(err)
	}
	tag := c.Devices[0].Tags[0]
	if tag.Table != InputRegister || tag.Type != Float32 || tag.Order != CDAB || c.Devices[0].PollInterval != 2*time.Second {
		t.Fatalf("decoded %+v", tag)
	}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	var ty Type
	if err := json.Unmarshal([]byte(`"float128"`), &ty); err == nil {
		t.Error("unknown type name accepted")
	}
	var o Order
	if err := json.Unmarshal([]byte(`"ACBD"`), &o); err == nil {
		t.Error("unknown order accepted")
	}
	out, err := json.Marshal(tag)
	if err != nil || !strings.Contains(string(out), `"Type":"float32"`) || !strings.Contains(string(out), `"Order":"CDAB"`) {
		t.Errorf("marshal: %s %v", out, err)
	}
}

func TestParseReference(t *testing.T) {
	for _, c := range []struct {
		ref   string
		table Table
		addr  int
		ok    bool
	}{
		{"40001", HoldingRegister, 0, true},
		{"30010", InputRegister, 9, true},
		{"00001", Coil, 0, true},
		{"10100", DiscreteInput, 99, true},
		{"465536", HoldingRegister, 65535, true},
		{"465537", 0, 0, false},
		{"40000", 0, 0, false},
		{"20001", 0, 0, false},
		{"4000", 0, 0, false},
		{"4-001", 0, 0, false},
	} {
		table, addr, err := ParseReference(c.ref)
		if (err == nil) != c.ok || (c.ok && (table != c.table || addr != c.addr)) {
			t.Errorf("ParseReference(%q) = %s %d %v", c.ref, table, addr, err)
		}
	}
}

func TestPlan(t *testing.T) {
	tags := func(addrs ...int) []Tag {
		var ts []Tag
		for _, a := range addrs {
			ts = append(ts, Tag{Name: "t", Address: a})
		}
		return ts
	}
	type span struct{ addr, qty, tags int }
	for _, c := range []struct {
		name    string
		tags    []Tag
		gap     int
		maxRegs int
		want    []span
	}{
		{"adjacent merge", tags(0, 1, 2, 3), 0, 125, []span{{0, 4, 4}}},
		{"gap splits", tags(0, 1, 5, 6), 0, 125, []span{{0, 2, 2}, {5, 2, 2}}},
		{"gap within MaxGap merges", tags(0, 1, 5, 6), 3, 125, []span{{0, 7, 4}}},
		{"gap beyond MaxGap splits", tags(0, 1, 6), 3, 125, []span{{0, 2, 2}, {6, 1, 1}}},
		{"order does not matter", tags(6, 0, 5, 1), 0, 125, []span{{0, 2, 2}, {5, 2, 2}}},
		{"limit", tags(0, 124, 125, 249, 250), 200, 125, []span{{0, 125, 2}, {125, 125, 2}, {250, 1, 1}}},
		{"small device limit", tags(0, 1, 2, 3, 4), 0, 2, []span{{0, 2, 2}, {2, 2, 2}, {4, 1, 1}}},
		{"multi-register values", []Tag{{Address: 0, Type: Float64}, {Address: 4, Type: Float32}, {Address: 6, Type: Int16}}, 0, 125, []span{{0, 7, 3}}},
		{"wide value not split", []Tag{{Address: 0}, {Address: 123, Type: Float32}}, 200, 124, []span{{0, 1, 1}, {123, 2, 1}}},
		{"shared register", []Tag{{Address: 7}, {Address: 7, Type: Bool, Bit: 1}, {Address: 7, Type: Bool, Bit: 2}}, 0, 125, []span{{7, 1, 3}}},
		{"tables apart", []Tag{{Address: 0}, {Table: InputRegister, Address: 1}, {Table: Coil, Address: 2}, {Table: DiscreteInput, Address: 3}, {Address: 1}}, 10, 125,
			[]span{{0, 2, 2}, {1, 1, 1}, {2, 1, 1}, {3, 1, 1}}},
	} {
		got := plan(c.tags, c.gap, c.maxRegs, MaxReadBits)
		var spans []span
		for _, r := range got {
			spans = append(spans, span{r.addr, r.qty, len(r.tags)})
		}
		if len(spans) != len(c.want) {
			t.Errorf("%s: got %v, want %v", c.name, spans, c.want)
			continue
		}
		for i := range spans {
			if spans[i] != c.want[i] {
				t.Errorf("%s: got %v, want %v", c.name, spans, c.want)
				break
			}
		}
	}
}

func TestPlanBits(t *testing.T) {
	var tags []Tag
	for a := range 4500 {
		tags = append(tags, Tag{Name: "c", Table: Coil, Address: a})
	}
	got := plan(tags, 0, MaxReadRegisters, MaxReadBits)
	if len(got) != 3 || got[0].qty != 2000 || got[1].qty != 2000 || got[2].qty != 500 {
		t.Fatalf("4500 coils planned as %d reads", len(got))
	}
}

func TestPlanEveryTagOnce(t *testing.T) {
	var tags []Tag
	for i := range 300 {
		tags = append(tags, Tag{Address: (i * 7919) % 1000, Type: []Type{Uint16, Float32, Float64}[i%3]})
	}
	seen := make([]int, len(tags))
	for _, r := range plan(tags, 5, MaxReadRegisters, MaxReadBits) {
		if r.qty > MaxReadRegisters {
			t.Fatalf("read of %d registers", r.qty)
		}
		for _, ti := range r.tags {
			seen[ti]++
			if tg := tags[ti]; tg.Address < r.addr || tg.Address+tg.width() > r.addr+r.qty {
				t.Fatalf("tag at %d (%d wide) outside read %d+%d", tg.Address, tg.width(), r.addr, r.qty)
			}
		}
	}
	for i, n := range seen {
		if n != 1 {
			t.Fatalf("tag %d planned %d times", i, n)
		}
	}
}

// FuzzConfig decodes arbitrary JSON as a Config: Validate must never panic,
// and a configuration it accepts must plan every tag exactly once, within the
// protocol limits.
func FuzzConfig(f *testing.F) {
	f.Add(`{"Name":"b","Address":"h:502","Devices":[{"UnitID":1,"Tags":[{"Name":"t","Type":"float32","Order":"cdab","Address":65534}]}]}`)
	f.Add(`{"Name":"b","Address":"h:502","MaxGap":3,"Devices":[{"Tags":[{"Name":"a","Address":1},{"Name":"b","Address":5,"Type":"int64"},{"Name":"c","Table":"coil","Address":9}]}]}`)
	f.Add(`{"Name":"b","Address":"h:502","MaxRegisters":2,"Devices":[{"Tags":[{"Name":"s","Type":"string","Length":3}]}]}`)
	f.Fuzz(func(t *testing.T, doc string) {
		var c Config
		if json.Unmarshal([]byte(doc), &c) != nil {
			return
		}
		c.OnText = func(string, string, time.Time) {}
		if c.Validate() != nil {
			return
		}
		s, err := New(c)
		if err != nil {
			t.Fatalf("New refused what Validate accepted: %v", err)
		}
		seen := make(map[string]int)
		for _, r := range s.Plan() {
			limit := c.maxRegisters()
			if r.Table.isBits() {
				limit = c.maxBits()
			}
			if int(r.Quantity) > limit || int(r.Address)+int(r.Quantity) > 65536 {
				t.Fatalf("read %+v breaks the limits", r)
			}
			for _, name := range r.Tags {
				seen[name]++
			}
		}
		for _, d := range c.Devices {
			for _, tag := range d.Tags {
				if seen[tag.Name] != 1 {
					t.Fatalf("tag %q planned %d times", tag.Name, seen[tag.Name])
				}
			}
		}
	})
}
