package jetstream

import (
	"fmt"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"

	"github.com/greenlang/gl001/scada"
	"github.com/greenlang/gl001/scada/forward"
)

// TestSplit checks split against grouping by a map, for batches of one
// source, of a few in runs and mixed, and of more sources than the linear
// search serves, with names sharing their bytes or not.
func TestSplit(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for k := range 300 {
		nsrc := 1 + r.IntN(4)
		if k%5 == 0 {
			nsrc = 17 + r.IntN(30)
		}
		names := make([]string, nsrc)
		for i := range names {
			names[i] = fmt.Sprintf("plc-%d", i)
		}
		pts := make([]scada.Point, 1+r.IntN(500))
		cur := r.IntN(nsrc)
		for i := range pts {
			if r.IntN(4) == 0 {
				cur = r.IntN(nsrc)
			}
			s := names[cur]
			if r.IntN(5) == 0 {
				s = strings.Clone(s)
			}
			pts[i].Source = s
		}
		got := split(forward.Batch{Points: pts})
		var want []part
		at := map[string]int{}
		for i, p := range pts {
			j, ok := at[p.Source]
			if !ok {
				j = len(want)
				at[p.Source] = j
				want = append(want, part{source: p.Source, sel: []int32{}})
			}
			want[j].sel = append(want[j].sel, int32(i))
		}
		if len(want) == 1 {
			want[0].sel = nil
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("batch %d: split %v, want %v", k, got, want)
		}
	}
}
