package erp

import (
	"errors"
	"fmt"
	"reflect"
	"strings"
	"sync/atomic"
	"time"
)

// Row holds the raw values of one record as a decoder found them, in the
// order of a Mapping's Properties: string contents unescaped, numbers and
// booleans as their literal text, nil when the property was absent or null.
// The byte slices are only valid during the call they are passed to.
type Row [][]byte

// Mapping turns the properties of a system's records into one of the record
// types. System packages build one from the field configuration (EnergyFields,
// ProductionFields ...) and hand its Properties to their decoder.
type Mapping[T any] interface {
	// Properties lists the source property names the mapping reads.
	Properties() []string
	// Record builds a record from a row; src names the system and entity and
	// Record fills in the key. A value that cannot be converted gives an error
	// matching ErrMalformed, naming the property.
	Record(src Source, row Row) (T, error)
}

// TimeFields locate a time in a record: Date is the date or date-time
// property; Time, if set, is a separate time-of-day property added to it
// (SAP splits MsmtRdngDate and MsmtRdngTime, for instance).
type TimeFields struct {
	Date string
	Time string
}

// EnergyFields maps a system's properties to EnergyRecord. Empty names are
// not read. Key lists the properties that form the system's key.
type EnergyFields struct {
	Key        []string
	Plant      string
	Meter      string
	CostCenter string
	// Start and End bound the period. With only End mapped (a meter reading
	// at an instant), the record's period is [End, End).
	Start, End  TimeFields
	Quantity    string
	Unit        string // unit code property
	DefaultUnit string // unit when Unit is unmapped or empty, e.g. "kWh"
	Amount      string
	Currency    string
	Changed     string // last-changed date-time, for incremental retrieval
}

// ProductionFields maps a system's properties to ProductionOrder.
type ProductionFields struct {
	Key                    []string
	Plant                  string
	Order                  string
	Type                   string
	Material               string
	Status                 string
	PlannedStart           TimeFields
	PlannedEnd             TimeFields
	ActualStart, ActualEnd TimeFields
	Quantity               string
	Confirmed              string
	Unit                   string
	DefaultUnit            string
	Changed                string
}

// MaintenanceFields maps a system's properties to MaintenanceOrder.
type MaintenanceFields struct {
	Key                []string
	Plant              string
	Order              string
	Type               string
	Description        string
	Equipment          string
	FunctionalLocation string
	Priority           string
	Status             string
	PlannedStart       TimeFields
	PlannedEnd         TimeFields
	Amount             string
	Currency           string
	Changed            string
}

// CostFields maps a system's properties to CostRecord. Posting is the posting
// date; the record's period is that day, [Posting, Posting+24h).
type CostFields struct {
	Key         []string
	Plant       string
	CostCenter  string
	Account     string
	Description string
	Posting     TimeFields
	Amount      string
	Currency    string
	Quantity    string
	Unit        string
	DefaultUnit string
	Changed     string
}

// MappingOptions apply to every mapping of one system.
type MappingOptions struct {
	// Location interprets date-times that carry no zone (OData V2
	// Edm.DateTime text, plain dates). Nil means UTC.
	Location *time.Location
}

// interned remembers the last value of a repetitive property (plant, meter,
// cost centre, currency), so consecutive records share one string.
type interned struct{ last atomic.Pointer[string] }

func (in *interned) get(b []byte) string {
	if p := in.last.Load(); p != nil && *p == string(b) {
		return *p
	}
	v := string(b)
	in.last.Store(&v)
	return v
}

// unitCache remembers the last unit code a mapping resolved.
type unitCache struct {
	raw string
	q   Quantity
}

// props collects property names and hands out their row index; -1 is "not mapped".
type props struct {
	names []string
	index map[string]int
}

func (p *props) add(name string) int {
	if name == "" {
		return -1
	}
	if p.index == nil {
		p.index = make(map[string]int)
	}
	if i, ok := p.index[name]; ok {
		return i
	}
	p.names = append(p.names, name)
	p.index[name] = len(p.names) - 1
	return len(p.names) - 1
}

type timeIdx struct{ date, tod int }

func (p *props) addTime(f TimeFields) timeIdx {
	return timeIdx{date: p.add(f.Date), tod: p.add(f.Time)}
}

// rowReader converts the values of one row, remembering the first error.
type rowReader struct {
	units *atomic.Pointer[unitCache]
	cur   *interned
	names []string
	row   Row
	loc   *time.Location
	err   error
	field string
}

func (r *rowReader) fail(i int, err error) {
	if r.err == nil {
		r.err = err
		r.field = r.names[i]
	}
}

func (r *rowReader) str(i int) string {
	if i < 0 || r.row[i] == nil {
		return ""
	}
	return string(r.row[i])
}

// istr is str for repetitive values, interned in in.
func (r *rowReader) istr(i int, in *interned) string {
	if i < 0 || r.row[i] == nil {
		return ""
	}
	return in.get(r.row[i])
}

func (r *rowReader) time(t timeIdx) time.Time {
	if t.date < 0 || len(r.row[t.date]) == 0 {
		return time.Time{}
	}
	v, err := parseTime(r.row[t.date], r.loc)
	if err != nil {
		r.fail(t.date, err)
		return time.Time{}
	}
	if t.tod >= 0 && len(r.row[t.tod]) > 0 {
		d, err := parseTimeOfDay(r.row[t.tod])
		if err != nil {
			r.fail(t.tod, err)
			return time.Time{}
		}
		// The date carries midnight in the system's zone; add the time of day there.
		v = v.In(r.loc)
		v = time.Date(v.Year(), v.Month(), v.Day(), 0, 0, 0, 0, r.loc).Add(d).UTC()
	}
	return v
}

func (r *rowReader) decimal(i int) Decimal {
	if i < 0 || len(r.row[i]) == 0 {
		return Decimal{}
	}
	d, err := parseDecimal(r.row[i])
	if err != nil {
		r.fail(i, err)
	}
	return d
}

// quantity reads a value and its unit; strict makes a unit package units
// cannot resolve an error (energy must be physical, production may count pieces).
func (r *rowReader) quantity(vi, ui int, def string, strict bool, fields string) Quantity {
	if vi < 0 || len(r.row[vi]) == 0 {
		return Quantity{}
	}
	v := r.decimal(vi)
	var raw []byte
	if ui >= 0 && len(r.row[ui]) > 0 {
		raw = r.row[ui]
	} else {
		raw = []byte(def)
	}
	// Records of one entity mostly share a unit: reuse the last resolution.
	if c := r.units.Load(); c != nil && c.raw == string(raw) {
		return Quantity{Value: v, Unit: c.q.Unit, Code: c.q.Code}
	}
	q, err := newQuantity(v, string(raw))
	if err == nil {
		r.units.Store(&unitCache{raw: string(raw), q: q})
	}
	if err != nil && strict {
		if len(raw) == 0 {
			// Say which setting fixes it, not only what is wrong.
			if ui >= 0 {
				err = fmt.Errorf("%w: the unit property %s is empty in this record; set %s.DefaultUnit for such records", err, r.names[ui], fields)
			} else {
				err = fmt.Errorf("%w: map %s.Unit to the system's unit property, or set %s.DefaultUnit", err, fields, fields)
			}
		}
		if ui >= 0 {
			r.fail(ui, err)
		} else {
			r.fail(vi, err)
		}
	}
	return q
}

func (r *rowReader) money(ai, ci int) Money {
	if ai < 0 || len(r.row[ai]) == 0 {
		return Money{}
	}
	m := Money{Amount: r.decimal(ai)}
	if ci >= 0 {
		m.Currency = strings.ToUpper(strings.TrimSpace(r.cur.get(r.row[ci])))
		if !validCurrency(m.Currency) {
			r.fail(ci, fmt.Errorf("%q is not an ISO 4217 currency code", m.Currency))
		}
	} else {
		r.fail(ai, errors.New("amount without a currency (map the currency property)"))
	}
	return m
}

func (r *rowReader) key(idx []int) string {
	switch len(idx) {
	case 0:
		return ""
	case 1:
		return r.str(idx[0])
	}
	var b strings.Builder
	for n, i := range idx {
		if n > 0 {
			b.WriteByte('/')
		}
		b.Write(r.row[i])
	}
	return b.String()
}

func (r *rowReader) done(src Source) error {
	if r.err == nil {
		return nil
	}
	return &MalformedError{System: src.System, Entity: src.Entity, Key: src.Key, Field: r.field, Offset: -1, Err: r.err}
}

func (p *props) keys(names []string) []int {
	idx := make([]int, 0, len(names))
	for _, n := range names {
		if n != "" {
			idx = append(idx, p.add(n))
		}
	}
	return idx
}

// missing builds the error of a mapping that lacks required settings, naming
// each; nil if none is missing.
func missing(typ string, names ...string) error {
	if len(names) == 0 {
		return nil
	}
	return fmt.Errorf("%w: %s is partial: %s not set (a mapping is used as given, never merged with a system's defaults; leave it entirely empty for the defaults)",
		ErrConfig, typ, typ+"."+strings.Join(names, ", "+typ+"."))
}

func hasKey(key []string) bool {
	for _, k := range key {
		if k != "" {
			return true
		}
	}
	return false
}

// IsZero reports whether f maps nothing: a system package then uses its
// default mapping. A mapping with any field set is used as given.
func (f EnergyFields) IsZero() bool { return reflect.ValueOf(f).IsZero() }

// IsZero reports whether f maps nothing (see EnergyFields.IsZero).
func (f ProductionFields) IsZero() bool { return reflect.ValueOf(f).IsZero() }

// IsZero reports whether f maps nothing (see EnergyFields.IsZero).
func (f MaintenanceFields) IsZero() bool { return reflect.ValueOf(f).IsZero() }

// IsZero reports whether f maps nothing (see EnergyFields.IsZero).
func (f CostFields) IsZero() bool { return reflect.ValueOf(f).IsZero() }

// Validate reports the settings f lacks, all named in one error matching
// ErrConfig: Key, Quantity, a time (End.Date or Start.Date) and a unit (Unit
// or DefaultUnit).
func (f EnergyFields) Validate() error {
	var m []string
	if !hasKey(f.Key) {
		m = append(m, "Key")
	}
	if f.Start.Date == "" && f.End.Date == "" {
		m = append(m, "End.Date (or Start.Date)")
	}
	if f.Quantity == "" {
		m = append(m, "Quantity")
	}
	if f.Unit == "" && f.DefaultUnit == "" {
		m = append(m, "Unit (or DefaultUnit)")
	}
	return missing("EnergyFields", m...)
}

// Validate reports the settings f lacks: Key and PlannedStart.Date.
func (f ProductionFields) Validate() error {
	var m []string
	if !hasKey(f.Key) {
		m = append(m, "Key")
	}
	if f.PlannedStart.Date == "" {
		m = append(m, "PlannedStart.Date")
	}
	return missing("ProductionFields", m...)
}

// Validate reports the settings f lacks: Key and PlannedStart.Date.
func (f MaintenanceFields) Validate() error {
	var m []string
	if !hasKey(f.Key) {
		m = append(m, "Key")
	}
	if f.PlannedStart.Date == "" {
		m = append(m, "PlannedStart.Date")
	}
	return missing("MaintenanceFields", m...)
}

// Validate reports the settings f lacks: Key, Posting.Date, Amount and
// Currency.
func (f CostFields) Validate() error {
	var m []string
	if !hasKey(f.Key) {
		m = append(m, "Key")
	}
	if f.Posting.Date == "" {
		m = append(m, "Posting.Date")
	}
	if f.Amount == "" {
		m = append(m, "Amount")
	}
	if f.Amount != "" && f.Currency == "" {
		m = append(m, "Currency")
	}
	return missing("CostFields", m...)
}

// Mapping compiles f. It fails, naming them, if settings are missing (see
// Validate).
func (f EnergyFields) Mapping(o MappingOptions) (Mapping[EnergyRecord], error) {
	if err := f.Validate(); err != nil {
		return nil, err
	}
	m := &energyMapping{loc: o.Location, defUnit: f.DefaultUnit}
	p := &m.p
	m.key = p.keys(f.Key)
	m.plant, m.meter, m.cc = p.add(f.Plant), p.add(f.Meter), p.add(f.CostCenter)
	m.start, m.end = p.addTime(f.Start), p.addTime(f.End)
	m.qty, m.unit = p.add(f.Quantity), p.add(f.Unit)
	m.amount, m.cur = p.add(f.Amount), p.add(f.Currency)
	m.changed = p.add(f.Changed)
	return m, nil
}

type energyMapping struct {
	units                  atomic.Pointer[unitCache]
	in                     [4]interned // plant, meter, cost centre, currency
	p                      props
	loc                    *time.Location
	defUnit                string
	key                    []int
	plant, meter, cc       int
	start, end             timeIdx
	qty, unit, amount, cur int
	changed                int
}

func (m *energyMapping) Properties() []string { return m.p.names }

func (m *energyMapping) Record(src Source, row Row) (EnergyRecord, error) {
	r := rowReader{units: &m.units, cur: &m.in[3], names: m.p.names, row: row, loc: loc(m.loc)}
	src.Key = r.key(m.key)
	e := EnergyRecord{
		Source:     src,
		Plant:      r.istr(m.plant, &m.in[0]),
		Meter:      r.istr(m.meter, &m.in[1]),
		CostCenter: r.istr(m.cc, &m.in[2]),
		Period:     Period{Start: r.time(m.start), End: r.time(m.end)},
		Quantity:   r.quantity(m.qty, m.unit, m.defUnit, true, "EnergyFields"),
		Cost:       r.money(m.amount, m.cur),
		Changed:    r.time(timeIdx{m.changed, -1}),
	}
	if m.start.date < 0 {
		e.Period.Start = e.Period.End
	}
	return e, r.done(src)
}

// Mapping compiles f. It fails, naming them, if settings are missing (see
// Validate).
func (f ProductionFields) Mapping(o MappingOptions) (Mapping[ProductionOrder], error) {
	if err := f.Validate(); err != nil {
		return nil, err
	}
	m := &productionMapping{loc: o.Location, defUnit: f.DefaultUnit}
	p := &m.p
	m.key = p.keys(f.Key)
	m.plant, m.order, m.typ, m.material, m.status = p.add(f.Plant), p.add(f.Order), p.add(f.Type), p.add(f.Material), p.add(f.Status)
	m.ps, m.pe, m.as, m.ae = p.addTime(f.PlannedStart), p.addTime(f.PlannedEnd), p.addTime(f.ActualStart), p.addTime(f.ActualEnd)
	m.qty, m.conf, m.unit = p.add(f.Quantity), p.add(f.Confirmed), p.add(f.Unit)
	m.changed = p.add(f.Changed)
	return m, nil
}

type productionMapping struct {
	units                               atomic.Pointer[unitCache]
	in                                  [4]interned // plant, meter, cost centre, currency
	p                                   props
	loc                                 *time.Location
	defUnit                             string
	key                                 []int
	plant, order, typ, material, status int
	ps, pe, as, ae                      timeIdx
	qty, conf, unit, changed            int
}

func (m *productionMapping) Properties() []string { return m.p.names }

func (m *productionMapping) Record(src Source, row Row) (ProductionOrder, error) {
	r := rowReader{units: &m.units, cur: &m.in[3], names: m.p.names, row: row, loc: loc(m.loc)}
	src.Key = r.key(m.key)
	o := ProductionOrder{
		Source:    src,
		Plant:     r.istr(m.plant, &m.in[0]),
		Order:     r.str(m.order),
		Type:      r.str(m.typ),
		Material:  r.str(m.material),
		Status:    r.str(m.status),
		Planned:   Period{Start: r.time(m.ps), End: r.time(m.pe)},
		Actual:    Period{Start: r.time(m.as), End: r.time(m.ae)},
		Quantity:  r.quantity(m.qty, m.unit, m.defUnit, false, "ProductionFields"),
		Confirmed: r.quantity(m.conf, m.unit, m.defUnit, false, "ProductionFields"),
		Changed:   r.time(timeIdx{m.changed, -1}),
	}
	if o.Order == "" {
		o.Order = src.Key
	}
	return o, r.done(src)
}

// Mapping compiles f. It fails, naming them, if settings are missing (see
// Validate).
func (f MaintenanceFields) Mapping(o MappingOptions) (Mapping[MaintenanceOrder], error) {
	if err := f.Validate(); err != nil {
		return nil, err
	}
	m := &maintenanceMapping{loc: o.Location}
	p := &m.p
	m.key = p.keys(f.Key)
	m.plant, m.order, m.typ, m.desc = p.add(f.Plant), p.add(f.Order), p.add(f.Type), p.add(f.Description)
	m.equip, m.floc, m.prio, m.status = p.add(f.Equipment), p.add(f.FunctionalLocation), p.add(f.Priority), p.add(f.Status)
	m.ps, m.pe = p.addTime(f.PlannedStart), p.addTime(f.PlannedEnd)
	m.amount, m.cur, m.changed = p.add(f.Amount), p.add(f.Currency), p.add(f.Changed)
	return m, nil
}

type maintenanceMapping struct {
	units                     atomic.Pointer[unitCache]
	in                        [4]interned // plant, meter, cost centre, currency
	p                         props
	loc                       *time.Location
	key                       []int
	plant, order, typ, desc   int
	equip, floc, prio, status int
	ps, pe                    timeIdx
	amount, cur, changed      int
}

func (m *maintenanceMapping) Properties() []string { return m.p.names }

func (m *maintenanceMapping) Record(src Source, row Row) (MaintenanceOrder, error) {
	r := rowReader{units: &m.units, cur: &m.in[3], names: m.p.names, row: row, loc: loc(m.loc)}
	src.Key = r.key(m.key)
	o := MaintenanceOrder{
		Source:             src,
		Plant:              r.istr(m.plant, &m.in[0]),
		Order:              r.str(m.order),
		Type:               r.str(m.typ),
		Description:        r.str(m.desc),
		Equipment:          r.str(m.equip),
		FunctionalLocation: r.str(m.floc),
		Priority:           r.str(m.prio),
		Status:             r.str(m.status),
		Planned:            Period{Start: r.time(m.ps), End: r.time(m.pe)},
		Cost:               r.money(m.amount, m.cur),
		Changed:            r.time(timeIdx{m.changed, -1}),
	}
	if o.Order == "" {
		o.Order = src.Key
	}
	return o, r.done(src)
}

// Mapping compiles f. It fails, naming them, if settings are missing (see
// Validate).
func (f CostFields) Mapping(o MappingOptions) (Mapping[CostRecord], error) {
	if err := f.Validate(); err != nil {
		return nil, err
	}
	m := &costMapping{loc: o.Location, defUnit: f.DefaultUnit}
	p := &m.p
	m.key = p.keys(f.Key)
	m.plant, m.cc, m.account, m.desc = p.add(f.Plant), p.add(f.CostCenter), p.add(f.Account), p.add(f.Description)
	m.posting = p.addTime(f.Posting)
	m.amount, m.cur = p.add(f.Amount), p.add(f.Currency)
	m.qty, m.unit, m.changed = p.add(f.Quantity), p.add(f.Unit), p.add(f.Changed)
	return m, nil
}

type costMapping struct {
	units                    atomic.Pointer[unitCache]
	in                       [4]interned // plant, meter, cost centre, currency
	p                        props
	loc                      *time.Location
	defUnit                  string
	key                      []int
	plant, cc, account, desc int
	posting                  timeIdx
	amount, cur, qty, unit   int
	changed                  int
}

func (m *costMapping) Properties() []string { return m.p.names }

func (m *costMapping) Record(src Source, row Row) (CostRecord, error) {
	r := rowReader{units: &m.units, cur: &m.in[3], names: m.p.names, row: row, loc: loc(m.loc)}
	src.Key = r.key(m.key)
	day := r.time(m.posting)
	c := CostRecord{
		Source:      src,
		Plant:       r.istr(m.plant, &m.in[0]),
		CostCenter:  r.istr(m.cc, &m.in[2]),
		Account:     r.str(m.account),
		Description: r.str(m.desc),
		Amount:      r.money(m.amount, m.cur),
		Quantity:    r.quantity(m.qty, m.unit, m.defUnit, false, "CostFields"),
		Changed:     r.time(timeIdx{m.changed, -1}),
	}
	if !day.IsZero() {
		c.Period = Period{Start: day, End: day.Add(24 * time.Hour)}
	}
	return c, r.done(src)
}

func loc(l *time.Location) *time.Location {
	if l == nil {
		return time.UTC
	}
	return l
}
