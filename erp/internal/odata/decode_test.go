package odata

import (
	"errors"
	"strings"
	"testing"

	"github.com/greenlang/gl001/erp"
)

type seen struct {
	rows    [][]string // nil values as "<nil>"
	deleted []string
}

func decodeAll(t testing.TB, body string, props []string) (seen, Meta, error) {
	var s seen
	m, err := NewDecoder(NewProps(props)).Decode([]byte(body), func(row erp.Row, e Entity) error {
		if e.Deleted {
			s.deleted = append(s.deleted, string(e.ID))
			return nil
		}
		r := make([]string, len(row))
		for i, v := range row {
			if v == nil {
				r[i] = "<nil>"
			} else {
				r[i] = string(v)
			}
		}
		s.rows = append(s.rows, r)
		return nil
	})
	return s, m, err
}

func TestDecodeGolden(t *testing.T) {
	props := []string{"ID", "Qty", "When", "Flag"}
	for _, tc := range []struct {
		name, body string
		rows       string // rows joined: fields by "|", rows by ";"
		next       string
		delta      string
		count      int64
		version    int
	}{
		{name: "v2 results",
			body: `{"d":{"results":[{"__metadata":{"uri":"x","type":"T"},"ID":"1","Qty":"12.50","When":"\/Date(1704067200000)\/","Flag":true,"Nav":{"__deferred":{"uri":"y"}}},{"ID":"2","Qty":null,"When":"\/Date(1704067200000+0060)\/"}],"__count":"42","__next":"https://h/s/E?$skiptoken=2"}}`,
			rows: "1|12.50|/Date(1704067200000)/|true;2|<nil>|/Date(1704067200000+0060)/|<nil>",
			next: "https://h/s/E?$skiptoken=2", count: 42, version: 2},
		{name: "v2 bare array", body: `{"d":[{"ID":"a\"b\\c\u00e9\ud83d\ude00"}]}`, rows: "a\"b\\cé😀|<nil>|<nil>|<nil>", count: -1, version: 2},
		{name: "v2 empty last page", body: `{"d":{"results":[]}}`, rows: "", count: -1, version: 2},
		{name: "v4 next after value",
			body: `{"@odata.context":"$metadata#E","@odata.count":7,"value":[{"@odata.etag":"W/\"1\"","ID":"x","Qty":1.5e3,"Flag":false}],"@odata.nextLink":"E?$skiptoken=1"}`,
			rows: "x|1.5e3|<nil>|false", next: "E?$skiptoken=1", count: 7, version: 4},
		{name: "v4 delta with deletions",
			body: `{"value":[{"ID":"1"},{"@odata.context":"https://h/$metadata#E/$deletedEntity","id":"gone-1","reason":"deleted"},{"@removed":{"reason":"deleted"},"ID":"gone-2"}],"@odata.deltaLink":"E?$deltatoken=9"}`,
			rows: "1|<nil>|<nil>|<nil>", delta: "E?$deltatoken=9", count: -1, version: 4},
		{name: "whitespace", body: " \n{ \"value\" : [ { \"ID\" : \"1\" , \"Qty\" : -0.5 } ] } \n", rows: "1|-0.5|<nil>|<nil>", count: -1, version: 4},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, m, err := decodeAll(t, tc.body, props)
			if err != nil {
				t.Fatal(err)
			}
			var rows []string
			for _, r := range s.rows {
				rows = append(rows, strings.Join(r, "|"))
			}
			if got := strings.Join(rows, ";"); got != tc.rows {
				t.Errorf("rows = %q, want %q", got, tc.rows)
			}
			if m.Next != tc.next || m.Delta != tc.delta || m.Count != tc.count || m.Version != tc.version {
				t.Errorf("meta = %+v", m)
			}
			if tc.name == "v4 delta with deletions" && strings.Join(s.deleted, ",") != "gone-1," {
				t.Errorf("deleted = %q", s.deleted)
			}
		})
	}
}

func TestDecodeErrors(t *testing.T) {
	props := []string{"ID"}
	for _, tc := range []struct {
		body, field string
		truncated   bool
	}{
		{`{"d":{"results":[{"ID":"1"},{"ID":"2"`, "d.results[1]", true},
		{`{"value":[{"ID":"1"}`, "value", true},
		{`{"value":[{"ID":12`, "value[0].ID", true},
		{`{"value":[{"ID":"1"}]} trailing`, "page", false},
		{`{"value":[{"ID":tru}]}`, "value[0].ID", false},
		{`{"value":{}}`, "value", false},
		{`{"d":{"__count":"many","results":[]}}`, "d.__count", false},
		{`{"something":"else"}`, "page", false},
		{`[]`, "page", false},
		{``, "page", true},
		{`{"error":{"code":"X","message":"y"}}`, "error", false},
		{`{"value":[` + strings.Repeat("[", 100) + `]}`, "value", false},
	} {
		_, _, err := decodeAll(t, tc.body, props)
		var oe *Error
		if !errors.As(err, &oe) {
			t.Errorf("%q: err = %v, want *Error", tc.body, err)
			continue
		}
		if !strings.HasPrefix(oe.Field, tc.field) {
			t.Errorf("%q: field = %q, want %q", tc.body, oe.Field, tc.field)
		}
		if tc.truncated != errors.Is(err, errTruncated) {
			t.Errorf("%q: truncated = %v (%v)", tc.body, !tc.truncated, err)
		}
	}
}

func TestDecodeKeepsRowsBeforeAnError(t *testing.T) {
	s, _, err := decodeAll(t, `{"value":[{"ID":"1"},{"ID":"2"},{"ID":`, []string{"ID"})
	if err == nil || len(s.rows) != 2 {
		t.Errorf("rows = %v, err = %v", s.rows, err)
	}
}

func TestDecodeMember(t *testing.T) {
	body := `{"items":[{"WorkOrderId":"1","Qty":2},{"WorkOrderId":"2","links":[{"rel":"self"}]}],"count":2,"hasMore":true,"limit":2,"offset":0,"links":[]}`
	other := map[string]string{}
	var ids []string
	n, err := NewDecoder(NewProps([]string{"WorkOrderId"})).DecodeMember([]byte(body), "items", func(row erp.Row, _ Entity) error {
		ids = append(ids, string(row[0]))
		return nil
	}, func(name string, v []byte) { other[name] = string(v) })
	if err != nil || n != 2 || strings.Join(ids, ",") != "1,2" {
		t.Fatalf("n=%d ids=%v err=%v", n, ids, err)
	}
	if other["hasMore"] != "true" || other["count"] != "2" || other["offset"] != "0" {
		t.Errorf("other = %v", other)
	}
	if _, err := NewDecoder(NewProps(nil)).DecodeMember([]byte(`{"Report_Entry":{}}`), "Report_Entry", nil, nil); err == nil {
		t.Error("object accepted as the entity array")
	}
	if _, err := NewDecoder(NewProps(nil)).DecodeMember([]byte(`{"x":1}`), "items", nil, nil); err == nil {
		t.Error("page without the member accepted")
	}
}

func TestParseError(t *testing.T) {
	for body, want := range map[string]string{
		`{"error":{"code":"/IWBEP/CM_MGW_RT/020","message":{"lang":"en","value":"Resource not found"}}}`:                     "/IWBEP/CM_MGW_RT/020|Resource not found",
		`{"error":{"code":"0x80060888","message":"Resource not found for the segment 'x'."}}`:                                "0x80060888|Resource not found for the segment 'x'.",
		`<?xml version="1.0"?><error xmlns="m"><code>SY/530</code><message xml:lang="en">No authorisation</message></error>`: "SY/530|No authorisation",
		`not json`: "|",
	} {
		code, msg := ParseError([]byte(body))
		if got := code + "|" + msg; got != want {
			t.Errorf("ParseError(%s) = %q, want %q", body, got, want)
		}
	}
}

func TestParamsEncode(t *testing.T) {
	var p Params
	p.Add("$filter", "Plant eq 'A B' and X eq 'a&b=c+d#'")
	p.Add("$select", "A,B")
	want := "$filter=Plant%20eq%20'A%20B'%20and%20X%20eq%20'a%26b%3Dc%2Bd%23'&$select=A,B"
	if got := p.Encode(); got != want {
		t.Errorf("Encode = %s\nwant     %s", got, want)
	}
}

func FuzzDecode(f *testing.F) {
	for _, s := range []string{
		`{"d":{"results":[{"ID":"1","Qty":"1.5"}],"__next":"x","__count":"3"}}`,
		`{"d":[{"ID":"\u00e9"}]}`,
		`{"value":[{"ID":"x","Qty":1e3},{"@odata.context":"$deletedEntity","id":"1"}],"@odata.nextLink":"n","@odata.count":2}`,
		`{"value":[{"ID":{"a":[1,2,{"b":null}]},"Qty":"\ud800"}]}`,
		`{"d":{"results":[{"ID":"1"`,
		`{"items":[{"ID":"1"}],"hasMore":false,"count":1}`,
	} {
		f.Add([]byte(s))
	}
	props := NewProps([]string{"ID", "Qty"})
	f.Fuzz(func(t *testing.T, body []byte) {
		n := 0
		m, err := NewDecoder(props).Decode(body, func(row erp.Row, e Entity) error {
			if len(row) != 2 {
				t.Fatalf("row has %d slots", len(row))
			}
			n++
			return nil
		})
		if err == nil && m.Entities != n {
			t.Fatalf("meta says %d entities, callback saw %d", m.Entities, n)
		}
		k := 0
		cnt, err2 := NewDecoder(props).DecodeMember(body, "items", func(erp.Row, Entity) error { k++; return nil }, func(string, []byte) {})
		if err2 == nil && cnt != k {
			t.Fatalf("DecodeMember says %d entities, callback saw %d", cnt, k)
		}
		if err != nil {
			var oe *Error
			if !errors.As(err, &oe) || oe.Offset < 0 || oe.Offset > int64(len(body)) {
				t.Fatalf("error %v is not a located *Error", err)
			}
		}
	})
}
