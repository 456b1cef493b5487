package coord_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/greenlang/gl001/coord"
)

type item struct {
	N    int    `json:"n"`
	Name string `json:"name"`
}

func TestSplitRecords(t *testing.T) {
	t0 := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	items := make([]item, 60)
	for i := range items {
		items[i] = item{N: i, Name: strings.Repeat("x", i)}
	}
	cfg := coord.SplitConfig{From: "GL-001", To: "GL-002", Type: coord.TypeCommand, MaxPayload: 1024,
		Now: func() time.Time { return t0 }}
	msgs, err := coord.SplitRecords(cfg, "test.items/v1", "items", len(items), func(i int) any { return items[i] })
	if err != nil {
		t.Fatal(err)
	}
	if len(msgs) < 3 {
		t.Fatalf("%d messages for 60 records in 1 KiB each", len(msgs))
	}
	var all []item
	ids := map[string]bool{}
	for i, m := range msgs {
		if len(m.Payload) > cfg.MaxPayload {
			t.Errorf("message %d payload %d bytes > %d", i, len(m.Payload), cfg.MaxPayload)
		}
		if m.From != "GL-001" || m.To != "GL-002" || m.Type != coord.TypeCommand || m.Name != "items" || !m.Time.Equal(t0) {
			t.Errorf("message %d header %+v", i, m)
		}
		if m.CorrelationID != msgs[0].CorrelationID || m.CorrelationID == "" || ids[m.ID] {
			t.Errorf("message %d ids: %q %q", i, m.ID, m.CorrelationID)
		}
		ids[m.ID] = true
		var p struct {
			Schema string `json:"schema"`
			Part   int    `json:"part"`
			Parts  int    `json:"parts"`
			Items  []item `json:"items"`
		}
		if err := json.Unmarshal(m.Payload, &p); err != nil {
			t.Fatal(err)
		}
		if p.Schema != "test.items/v1" || p.Part != i+1 || p.Parts != len(msgs) {
			t.Errorf("message %d envelope %s %d/%d", i, p.Schema, p.Part, p.Parts)
		}
		all = append(all, p.Items...)
	}
	if len(all) != len(items) {
		t.Fatalf("%d records after reassembly", len(all))
	}
	for i, r := range all {
		if r != items[i] {
			t.Errorf("record %d: %+v", i, r)
		}
	}
}

func TestSplitRecordsEdgeCases(t *testing.T) {
	rec := func(s string) func(int) any { return func(int) any { return item{Name: s} } }
	msgs, err := coord.SplitRecords(coord.SplitConfig{From: "GL-001", Name: "summary"}, "s", "items", 0, rec(""))
	if err != nil || len(msgs) != 1 || string(msgs[0].Payload) != `{"schema":"s","part":1,"parts":1,"items":[]}` || msgs[0].Name != "summary" {
		t.Fatalf("empty: %v %v", msgs, err)
	}
	if _, err := coord.SplitRecords(coord.SplitConfig{From: "GL-001", MaxPayload: 2048}, "s", "items", 1, rec(strings.Repeat("x", 3000))); !errors.Is(err, coord.ErrRecordTooLarge) {
		t.Errorf("oversized record: %v", err)
	}
	err = coord.SplitConfig{MaxPayload: 10}.Validate()
	if !errors.Is(err, coord.ErrBadConfig) || !strings.Contains(err.Error(), "From") || !strings.Contains(err.Error(), "MaxPayload") {
		t.Errorf("Validate: %v", err)
	}
	if _, err := coord.SplitRecords(coord.SplitConfig{}, "s", "items", 0, rec("")); err == nil {
		t.Error("missing From accepted")
	}
}

// Records of any type, split into messages of at most MaxPayload bytes.
func ExampleSplitRecords() {
	type reading struct {
		Tag   string  `json:"tag"`
		Value float64 `json:"value"`
	}
	rs := []reading{{"t1", 1.5}, {"t2", 2.5}}
	now := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	msgs, err := coord.SplitRecords(coord.SplitConfig{From: "GL-001", Now: func() time.Time { return now }},
		"example.readings/v1", "readings", len(rs), func(i int) any { return rs[i] })
	if err != nil {
		panic(err)
	}
	fmt.Println(len(msgs), msgs[0].Name, string(msgs[0].Payload))
	// Output:
	// 1 readings {"schema":"example.readings/v1","part":1,"parts":1,"readings":[{"tag":"t1","value":1.5},{"tag":"t2","value":2.5}]}
}
