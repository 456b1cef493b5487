package postgres

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"math"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/greenlang/gl001/erp"
	"github.com/greenlang/gl001/units"
)

var kWh = units.MustParse("kWh")

// kwhText returns q in kWh as numeric text: exact when q is in kWh or in a
// unit that is a power of ten of it (Wh, MWh, GWh), else through float64.
func kwhText(q erp.Quantity) (string, error) {
	u := q.Unit
	if u.IsZero() {
		var err error
		if u, err = units.Parse(q.Code); err != nil {
			return "", fmt.Errorf("unit %q is unknown", q.Code)
		}
	}
	c, err := units.NewConverter(u, kWh)
	if err != nil {
		return "", fmt.Errorf("unit %s is not an energy", u)
	}
	scale, offset := c.Affine()
	if offset == 0 {
		for k := -12; k <= 12; k++ {
			if scale == math.Pow10(k) {
				return fmt.Sprintf("%de%d", q.Value.Coefficient(), k-q.Value.Scale()), nil
			}
		}
	}
	return strconv.FormatFloat(c.Convert(q.Value.Float64()), 'g', -1, 64), nil
}

// RecordError names an ERP record [Historian.StoreEnergy] skipped. It
// matches [ErrBadRecord].
type RecordError struct {
	Source erp.Source
	Reason string
}

// Error names the record and the reason.
func (e *RecordError) Error() string {
	return fmt.Sprintf("postgres: ERP energy record %s/%s/%q skipped: %s", e.Source.System, e.Source.Entity, e.Source.Key, e.Reason)
}

// Is reports whether target is ErrBadRecord.
func (e *RecordError) Is(target error) bool { return target == ErrBadRecord }

// StoreEnergy stores ERP energy records, normalised to kWh, keyed on their
// source (system, entity, key): storing a record again changes nothing, and
// a record whose Changed time is not older than the stored one's replaces
// it (an ERP correction); an older one is ignored. All storable records are
// written in one statement; records that cannot be stored are skipped and
// reported as *RecordError values joined in the error. stored counts the
// rows inserted or changed (0 when every record was already there).
func (h *Historian) StoreEnergy(ctx context.Context, records ...erp.EnergyRecord) (stored int, err error) {
	var (
		bad                                          []error
		systems, entities, keys, plants, meters, ccs []string
		kwhs, quantities                             []string
		starts, ends                                 []time.Time
		changed                                      []*time.Time
		seen                                         = map[erp.Source]int{}
	)
	for _, r := range records {
		reject := func(reason string) { bad = append(bad, &RecordError{Source: r.Source, Reason: reason}) }
		if r.Source.Key == "" {
			reject("no source key")
			continue
		}
		if !textOK(r.Source.System) || !textOK(r.Source.Entity) || !textOK(r.Source.Key) || !textOK(r.Plant) || !textOK(r.Meter) || !textOK(r.CostCenter) {
			reject("text is not valid UTF-8 or holds a NUL byte")
			continue
		}
		if r.Period.End.Before(r.Period.Start) || r.Period.Start.IsZero() {
			reject("period is empty or ends before it starts")
			continue
		}
		kwh, err := kwhText(r.Quantity)
		if err != nil {
			reject(err.Error())
			continue
		}
		if i, dup := seen[r.Source]; dup {
			// The same key twice in one call: keep the later change, as
			// the table would.
			if changed[i] == nil || !r.Changed.Before(*changed[i]) {
				plants[i], meters[i], ccs[i], kwhs[i], quantities[i] = r.Plant, r.Meter, r.CostCenter, kwh, r.Quantity.String()
				starts[i], ends[i], changed[i] = r.Period.Start, r.Period.End, timePtr(r.Changed)
			}
			continue
		}
		seen[r.Source] = len(keys)
		systems = append(systems, r.Source.System)
		entities = append(entities, r.Source.Entity)
		keys = append(keys, r.Source.Key)
		plants = append(plants, r.Plant)
		meters = append(meters, r.Meter)
		ccs = append(ccs, r.CostCenter)
		kwhs = append(kwhs, kwh)
		quantities = append(quantities, r.Quantity.String())
		starts = append(starts, r.Period.Start)
		ends = append(ends, r.Period.End)
		changed = append(changed, timePtr(r.Changed))
	}
	if len(keys) > 0 {
		tag, err := h.pool.Exec(ctx, h.sql(`INSERT INTO {s}.erp_energy
			(system, entity, key, plant, meter, cost_center, kwh, quantity, period_start, period_end, changed)
			SELECT s, e, k, p, m, c, w::numeric, q, ps, pe, ch FROM unnest($1::text[], $2::text[], $3::text[], $4::text[],
				$5::text[], $6::text[], $7::text[], $8::text[], $9::timestamptz[], $10::timestamptz[], $11::timestamptz[])
				AS u(s, e, k, p, m, c, w, q, ps, pe, ch)
			ON CONFLICT (system, entity, key) DO UPDATE SET plant = EXCLUDED.plant, meter = EXCLUDED.meter,
				cost_center = EXCLUDED.cost_center, kwh = EXCLUDED.kwh, quantity = EXCLUDED.quantity,
				period_start = EXCLUDED.period_start, period_end = EXCLUDED.period_end,
				changed = EXCLUDED.changed, stored = now()
			WHERE ({s}.erp_energy.changed IS NULL OR EXCLUDED.changed IS NULL OR {s}.erp_energy.changed <= EXCLUDED.changed)
				AND ({s}.erp_energy.plant, {s}.erp_energy.meter, {s}.erp_energy.cost_center, {s}.erp_energy.kwh,
					{s}.erp_energy.quantity, {s}.erp_energy.period_start, {s}.erp_energy.period_end, {s}.erp_energy.changed)
				IS DISTINCT FROM (EXCLUDED.plant, EXCLUDED.meter, EXCLUDED.cost_center, EXCLUDED.kwh,
					EXCLUDED.quantity, EXCLUDED.period_start, EXCLUDED.period_end, EXCLUDED.changed)`),
			systems, entities, keys, plants, meters, ccs, kwhs, quantities, starts, ends, changed)
		if err != nil {
			return 0, errors.Join(append([]error{h.classify("store energy", err)}, bad...)...)
		}
		stored = int(tag.RowsAffected())
	}
	return stored, errors.Join(bad...)
}

func timePtr(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

// Meter marks a tag as a cumulative energy counter of a plant: its points
// are readings of a register that only grows (kWh since commissioning),
// which [Historian.Reconcile] turns into energy per day.
type Meter struct {
	Tag   string
	Plant string
	// Unit is the counter's energy unit ("kWh", "MWh", "GJ" ...); empty
	// means the unit of the tag's stored points.
	Unit string
}

// SetMeter records m, replacing what was recorded for its tag. The tag is
// created if it has no points yet.
func (h *Historian) SetMeter(ctx context.Context, m Meter) error {
	if m.Tag == "" || m.Plant == "" || !textOK(m.Tag) || !textOK(m.Plant) {
		return &Error{Op: "set meter", Msg: "tag and plant must be non-empty valid UTF-8 without NUL bytes"}
	}
	unit := m.Unit
	if unit == "" {
		if err := h.pool.QueryRow(ctx, h.sql(`SELECT unit FROM {s}.tags WHERE md5(name) = md5($1) AND name = $1`), m.Tag).Scan(&unit); err != nil {
			if errors.Is(err, pgx.ErrNoRows) {
				return &Error{Op: "set meter", Msg: fmt.Sprintf("tag %q has no points to take its unit from; name Meter.Unit", m.Tag)}
			}
			return h.classify("set meter", err)
		}
	}
	toKWh, err := units.Convert(1, unit, "kWh")
	if err != nil {
		return &Error{Op: "set meter", Msg: fmt.Sprintf("unit %q of tag %q is not an energy", unit, m.Tag)}
	}
	_, err = h.pool.Exec(ctx, h.sql(`WITH t AS (
			INSERT INTO {s}.tags (name) VALUES ($1)
			ON CONFLICT ((md5(name))) DO UPDATE SET name = EXCLUDED.name RETURNING id)
		INSERT INTO {s}.meters (tag_id, plant, to_kwh) SELECT id, $2, $3 FROM t
		ON CONFLICT (tag_id) DO UPDATE SET plant = EXCLUDED.plant, to_kwh = EXCLUDED.to_kwh`), m.Tag, m.Plant, toKWh)
	return h.classify("set meter", err)
}

// Reconciliation compares, for one plant and one day, the energy the ERP
// booked with the energy the plant's meters counted.
type Reconciliation struct {
	Plant string
	Day   time.Time // midnight at the start of the day, in the query's zone

	// ERP is the kWh of the ERP records of the plant overlapping the day,
	// each counted pro rata to the share of its period inside the day (a
	// monthly record contributes a thirtieth to each day of a 30-day month);
	// a reading at an instant counts whole on its day. ERPRecords is how
	// many records contributed.
	ERP        float64
	ERPRecords int64

	// Metered is the kWh the plant's meters counted: the sum of the
	// increments between consecutive Good, finite readings of each counter,
	// each on the day of the later reading. A reading below the previous one
	// is a counter restart from zero: it counts its own value. Meters is
	// how many counters contributed, Readings how many readings.
	Metered  float64
	Meters   int64
	Readings int64
}

// Difference returns Metered - ERP in kWh.
func (r Reconciliation) Difference() float64 { return r.Metered - r.ERP }

// Reconcile yields one Reconciliation per plant and day from from to to,
// rounded out to whole days in the IANA zone tz ("" means UTC), in plant
// and day order, for every day where the ERP or a meter has data. plant ""
// means every plant. A counter's first increment in the range needs its
// last reading of the day before.
func (h *Historian) Reconcile(ctx context.Context, plant string, from, to time.Time, tz string) iter.Seq2[Reconciliation, error] {
	return func(yield func(Reconciliation, error) bool) {
		if err := checkRange("reconcile", from, to); err != nil {
			yield(Reconciliation{}, err)
			return
		}
		if tz == "" {
			tz = "UTC"
		}
		loc, err := time.LoadLocation(tz)
		if err != nil {
			yield(Reconciliation{}, &Error{Op: "reconcile", Msg: fmt.Sprintf("time zone %q: %v", tz, err)})
			return
		}
		y, m, d := from.In(loc).Date()
		first := time.Date(y, m, d, 0, 0, 0, 0, loc)
		y, m, d = to.Add(-time.Nanosecond).In(loc).Date()
		last := time.Date(y, m, d, 0, 0, 0, 0, loc)
		q := h.sql(`WITH days AS (
				SELECT g::date AS day, (g::date)::timestamp AT TIME ZONE $1 AS start,
					((g::date) + 1)::timestamp AT TIME ZONE $1 AS stop
				FROM generate_series($2::date, $3::date, interval '1 day') g),
			erp AS (
				SELECT e.plant, d.day,
					sum(CASE WHEN e.period_end = e.period_start THEN e.kwh
						ELSE e.kwh * (extract(epoch FROM least(e.period_end, d.stop) - greatest(e.period_start, d.start))
							/ extract(epoch FROM e.period_end - e.period_start)) END) AS kwh,
					count(*) AS records
				FROM {s}.erp_energy e JOIN days d
					ON (e.period_start < d.stop AND e.period_end > d.start)
					OR (e.period_start = e.period_end AND e.period_start >= d.start AND e.period_start < d.stop)
				WHERE ($4 = '' OR e.plant = $4)
				GROUP BY e.plant, d.day),
			readings AS (
				SELECT m.plant, m.to_kwh, p.tag_id, p.time, p.value,
					lag(p.value) OVER (PARTITION BY p.tag_id ORDER BY p.time) AS prev
				FROM {s}.meters m JOIN {s}.points p ON p.tag_id = m.tag_id
				WHERE ($4 = '' OR m.plant = $4)
					AND p.time >= (SELECT min(start) FROM days) - interval '1 day'
					AND p.time < (SELECT max(stop) FROM days) AND ` + usable + `),
			metered AS (
				SELECT plant, (time AT TIME ZONE $1)::date AS day,
					sum(CASE WHEN value >= prev THEN value - prev ELSE value END * to_kwh) AS kwh,
					count(DISTINCT tag_id) AS meters, count(*) AS readings
				FROM readings WHERE prev IS NOT NULL AND time >= (SELECT min(start) FROM days)
				GROUP BY plant, day)
			SELECT coalesce(e.plant, s.plant) AS plant, coalesce(e.day, s.day) AS day,
				coalesce(e.kwh, 0)::float8, coalesce(e.records, 0), coalesce(s.kwh, 0), coalesce(s.meters, 0), coalesce(s.readings, 0)
			FROM erp e FULL JOIN metered s ON e.plant = s.plant AND e.day = s.day
			ORDER BY 1, 2`)
		scan := func(rows pgx.Rows) (Reconciliation, error) {
			var r Reconciliation
			var day time.Time
			err := rows.Scan(&r.Plant, &day, &r.ERP, &r.ERPRecords, &r.Metered, &r.Meters, &r.Readings)
			r.Day = time.Date(day.Year(), day.Month(), day.Day(), 0, 0, 0, 0, loc)
			return r, err
		}
		stream(ctx, h, "reconcile", q, []any{tz, first.Format(time.DateOnly), last.Format(time.DateOnly), plant}, scan, yield)
	}
}
