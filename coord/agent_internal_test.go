package coord

import (
	"strconv"
	"testing"
)

// The dedupe memory holds the last n keys and evicts the oldest first,
// growing only as keys arrive.
func TestDedupeEvictsOldest(t *testing.T) {
	d := newDedupe(3)
	if len(d.ring) != 0 || len(d.m) != 0 {
		t.Fatalf("fresh memory holds %d keys, %d entries", len(d.ring), len(d.m))
	}
	for i := range 5 {
		d.put("k"+strconv.Itoa(i), dedupeEntry{payload: []byte(strconv.Itoa(i))})
	}
	d.put("k4", dedupeEntry{payload: []byte("4b")}) // a key seen again is not re-queued
	for i := range 5 {
		e, ok := d.get("k" + strconv.Itoa(i))
		if want := i >= 2; ok != want {
			t.Errorf("k%d remembered = %v, want %v", i, ok, want)
		}
		if ok && i < 4 && string(e.payload) != strconv.Itoa(i) {
			t.Errorf("k%d = %s", i, e.payload)
		}
	}
	if e, _ := d.get("k4"); string(e.payload) != "4b" {
		t.Errorf("k4 = %s, want the latest entry", e.payload)
	}
	if len(d.m) != 3 || len(d.ring) != 3 {
		t.Errorf("memory holds %d entries, ring %d; want 3", len(d.m), len(d.ring))
	}
	d.put("k5", dedupeEntry{})
	if _, ok := d.get("k2"); ok {
		t.Error("k2 not evicted after k5")
	}
}
