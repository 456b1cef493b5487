package oracle

import (
	"errors"
	"testing"

	"github.com/greenlang/gl001/erp"
	"github.com/greenlang/gl001/erp/internal/odata"
)

// FuzzOraclePage feeds arbitrary bytes to the page decoder: it must never
// panic, and a page it accepts must have a consistent envelope.
func FuzzOraclePage(f *testing.F) {
	for _, s := range []string{
		`{"items":[{"WorkOrderId":1,"PlannedStartDate":"2024-01-01T08:00:00+00:00"}],"count":1,"hasMore":false,"limit":25,"offset":0,"links":[]}`,
		`{"items":[],"count":0,"hasMore":false,"totalResults":0}`,
		`{"items":[{"WorkOrderId":"a\"b","x":{"y":[1,2]}}],"count":1,"hasMore":true}`,
		`{"items":[{"WorkOrderId":1,}]}`,
		`{"items":[`,
		`{"hasMore":"yes","items":[]}`,
	} {
		f.Add([]byte(s))
	}
	m, err := DefaultMaintenanceFields.Mapping(erp.MappingOptions{})
	if err != nil {
		f.Fatal(err)
	}
	dec := odata.NewDecoder(odata.NewProps(m.Properties()))
	f.Fuzz(func(t *testing.T, body []byte) {
		items := 0
		n, env, err := decodePage(dec, body, func(row erp.Row, _ odata.Entity) error {
			items++
			_, rerr := m.Record(erp.Source{}, row)
			if rerr != nil && !errors.Is(rerr, erp.ErrMalformed) {
				t.Fatalf("record error %v is not ErrMalformed", rerr)
			}
			return nil
		})
		if err != nil {
			if malformed("s", "e", err) == nil || !errors.Is(malformed("s", "e", err), erp.ErrMalformed) {
				t.Fatalf("error %v does not become ErrMalformed", err)
			}
			return
		}
		if n != items || (env.hasMore && n == 0) || !env.seenHasMore {
			t.Fatalf("accepted page: n=%d items=%d env=%+v", n, items, env)
		}
	})
}
