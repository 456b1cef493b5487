package erp

import (
	"context"
	"iter"
	"time"
)

// Client is one ERP system. Each method streams the records matching q page
// by page: a year of hourly records never sits in memory at once, and
// breaking out of the range loop stops the paging (no further request is
// sent).
//
// A record the system sent but that could not be decoded is yielded as a
// zero record with an error matching ErrMalformed, and the stream goes on. Any
// other error (a refused request, an exhausted retry budget, a cancelled
// context, a page that cannot be decoded) is yielded once and ends the stream.
type Client interface {
	Energy(ctx context.Context, q Query) iter.Seq2[EnergyRecord, error]
	Production(ctx context.Context, q Query) iter.Seq2[ProductionOrder, error]
	Maintenance(ctx context.Context, q Query) iter.Seq2[MaintenanceOrder, error]
	Costs(ctx context.Context, q Query) iter.Seq2[CostRecord, error]
}

// Query selects records.
type Query struct {
	// From and To bound the records' time field as the half-open interval
	// [From, To). A zero From means no lower bound, a zero To no upper bound.
	// Which field is compared depends on the record type and the system's
	// field mapping (the reading time for energy, the planned start for orders,
	// the posting date for costs).
	From, To time.Time
	// Plant restricts the records to one plant (SAP plant, Dynamics site or
	// legal entity ...). Empty means every plant.
	Plant string
	// Filters are further conditions, all of which must hold. Property names
	// are the system's own.
	Filters []Filter
	// PageSize is the number of records asked for per request; zero means the
	// client's configured page size (1000 for the OData clients). Servers
	// may send fewer. ServerPageSize leaves the page size to the server where
	// the protocol allows it (OData: no $top, the server's own next links);
	// any other negative value is refused with ErrBadRequest.
	PageSize int
	// OnTotal, if set, asks the system for the total number of records that
	// match the query ($inlinecount or $count in OData, totalResults in
	// Oracle REST, Total_Results in Workday) and is called with it once, as
	// soon as the system reports it: before the first record when the count
	// precedes the records on the wire (OData), after the first page's
	// records otherwise. It is the system's count, before the client drops
	// records outside [From, To). Counting may cost the system a second
	// query.
	OnTotal func(total int64)
}

// ServerPageSize as Query.PageSize, or as the PageSize of a client's
// configuration, sends no page size and follows the pages the server makes.
const ServerPageSize = -1

// Contains reports whether t lies in q's [From, To); a zero bound does not
// bound.
func (q Query) Contains(t time.Time) bool {
	if !q.From.IsZero() && t.Before(q.From) {
		return false
	}
	return q.To.IsZero() || t.Before(q.To)
}

// Bounded reports whether q has a lower or an upper time bound.
func (q Query) Bounded() bool { return !q.From.IsZero() || !q.To.IsZero() }

// RangeTime returns the time of rec that Query.From and Query.To bound: the
// start of an energy record's period (the reading instant of a meter
// reading), the planned start of a production or maintenance order, the
// posting day of a cost record. It is zero when the system sent none.
func RangeTime[T Record](rec T) time.Time {
	switch r := any(rec).(type) {
	case EnergyRecord:
		return r.Period.Start
	case ProductionOrder:
		return r.Planned.Start
	case MaintenanceOrder:
		return r.Planned.Start
	case CostRecord:
		return r.Period.Start
	}
	return time.Time{}
}

// KeepInRange passes on the records and errors of seq, but drops every
// record whose RangeTime lies outside q's [From, To) (a record without a
// time too, when q is bounded), calling dropped for each. Every client
// applies it, so a server that ignored or rounded a bound never hands the
// caller a record the query excludes.
func KeepInRange[T Record](q Query, seq iter.Seq2[T, error], dropped func(T)) iter.Seq2[T, error] {
	if !q.Bounded() {
		return seq
	}
	return func(yield func(T, error) bool) {
		for rec, err := range seq {
			if err == nil {
				if t := RangeTime(rec); t.IsZero() || !q.Contains(t) {
					if dropped != nil {
						dropped(rec)
					}
					continue
				}
			}
			if !yield(rec, err) {
				return
			}
		}
	}
}

// Op is a comparison in a Filter.
type Op string

// The comparisons a Filter can make.
const (
	Eq Op = "eq"
	Ne Op = "ne"
	Gt Op = "gt"
	Ge Op = "ge"
	Lt Op = "lt"
	Le Op = "le"
)

// Filter is one condition on a property of the system's records, such as
// {Property: "ManufacturingOrderType", Op: erp.Eq, Value: "YP01"}. Value may be
// a string, bool, any integer or float type, Decimal or time.Time; the system
// package writes it as the right literal.
type Filter struct {
	Property string
	Op       Op
	Value    any
}

// Period is the half-open time interval [Start, End) in UTC. A reading taken
// at an instant, with no interval of its own, has Start == End.
type Period struct {
	Start, End time.Time
}

// Contains reports whether t lies in [Start, End).
func (p Period) Contains(t time.Time) bool {
	return !t.Before(p.Start) && t.Before(p.End)
}

// Duration returns End - Start.
func (p Period) Duration() time.Duration { return p.End.Sub(p.Start) }

// Source identifies where a record came from, so it can be traced back: the
// system name from the configuration, the entity set or resource, and the
// system's own key (for composite keys, the key properties joined by "/").
type Source struct {
	System string // e.g. "sap-prod"
	Entity string // e.g. "A_ProductionOrder_2"
	Key    string // e.g. "1000123"
}

// EnergyRecord is energy consumed (or a meter reading) over a period.
type EnergyRecord struct {
	Source     Source
	Plant      string
	Meter      string // meter or measuring point
	CostCenter string
	Period     Period
	Quantity   Quantity // the energy, e.g. 1520.5 kWh
	Cost       Money    // zero if the system gives no cost
	Changed    time.Time
}

// ProductionOrder is a planned or released production (manufacturing) order.
type ProductionOrder struct {
	Source    Source
	Plant     string
	Order     string // order number as the business knows it
	Type      string // order type, e.g. "PP01"
	Material  string
	Status    string
	Planned   Period   // planned start and end
	Actual    Period   // actual start and end; zero times while unknown
	Quantity  Quantity // total quantity to produce
	Confirmed Quantity // yield confirmed so far
	Changed   time.Time
}

// MaintenanceOrder is a planned or running maintenance order.
type MaintenanceOrder struct {
	Source             Source
	Plant              string
	Order              string
	Type               string
	Description        string
	Equipment          string
	FunctionalLocation string
	Priority           string
	Status             string
	Planned            Period
	Cost               Money // estimated or planned cost; zero if not given
	Changed            time.Time
}

// CostRecord is a posted cost: a journal entry line, an invoice line.
type CostRecord struct {
	Source      Source
	Plant       string
	CostCenter  string
	Account     string
	Description string
	Period      Period   // a posting date d is [d, d+24h)
	Amount      Money    // in the company code or transaction currency, as mapped
	Quantity    Quantity // quantity posted with the amount, if any
	Changed     time.Time
}
