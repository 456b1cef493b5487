package postgres

import (
	"context"
	"encoding/binary"
	"fmt"
	"iter"
	"math"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/greenlang/gl001/scada"
)

// Sample is a stored point as a query returns it.
type Sample struct {
	scada.Point             // Unit and Source are the tag's, as last stored
	Grade       scada.Grade // the band of Score; meaningful when Scored
	Stored      time.Time   // when the server committed it (server time)
}

// good is the SQL condition of a Good quality: the severity bits (the top
// two of the status code, stored as a signed integer) are 00.
const good = `(quality >= 0 AND quality < 1073741824)`

// usable is the SQL condition of a point that aggregates take into account.
const usable = `(` + good + ` AND value <> 'NaN' AND value <> 'Infinity' AND value <> '-Infinity')`

// tagIDs resolves tag names to ids, keeping the order of names; unknown
// names are left out.
func (h *Historian) tagIDs(ctx context.Context, names []string) ([]int32, []string, error) {
	rows, err := h.pool.Query(ctx, h.sql(`SELECT t.id, t.name FROM unnest($1::text[]) WITH ORDINALITY AS q(name, ord)
		JOIN {s}.tags t ON md5(t.name) = md5(q.name) AND t.name = q.name ORDER BY q.ord`), names)
	if err != nil {
		return nil, nil, h.classify("query tags", err)
	}
	var ids []int32
	var found []string
	for rows.Next() {
		var id int32
		var n string
		if err := rows.Scan(&id, &n); err != nil {
			rows.Close()
			return nil, nil, h.classify("query tags", err)
		}
		ids = append(ids, id)
		found = append(found, n)
	}
	if err := rows.Err(); err != nil {
		return nil, nil, h.classify("query tags", err)
	}
	return ids, found, nil
}

// stream runs q and yields each row through scan. Breaking out of the
// loop cancels the query.
func stream[T any](ctx context.Context, h *Historian, op, q string, args []any, scan func(pgx.Rows) (T, error), yield func(T, error) bool) bool {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	rows, err := h.pool.Query(ctx, q, args...)
	if err != nil {
		var zero T
		yield(zero, h.classify(op, err))
		return false
	}
	defer rows.Close()
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			var zero T
			yield(zero, h.classify(op, err))
			return false
		}
		if !yield(v, nil) {
			cancel() // stop the server instead of draining the rest
			return false
		}
	}
	if err := rows.Err(); err != nil {
		var zero T
		yield(zero, h.classify(op, err))
		return false
	}
	return true
}

func checkRange(op string, from, to time.Time) error {
	if !from.Before(to) {
		return &Error{Op: op, Msg: fmt.Sprintf("empty range [%s, %s)", from.Format(time.RFC3339Nano), to.Format(time.RFC3339Nano))}
	}
	return nil
}

// sampleOIDs are the types of the columns of a Raw row, in order: time,
// value, quality, score, grade, reasons, stored.
var sampleOIDs = [...]uint32{pgtype.TimestamptzOID, pgtype.Float8OID, pgtype.Int4OID, pgtype.Int2OID,
	pgtype.Int2OID, pgtype.Int4OID, pgtype.TimestamptzOID}

// binaryLayout reports whether rows come in binary format with the types
// oids, which decodeSample reads without pgx's per-column scan plans.
func binaryLayout(fds []pgconn.FieldDescription, oids []uint32) bool {
	if len(fds) != len(oids) {
		return false
	}
	for i, fd := range fds {
		if fd.Format != pgtype.BinaryFormatCode || fd.DataTypeOID != oids[i] {
			return false
		}
	}
	return true
}

// pgEpochMicros is 2000-01-01 UTC, PostgreSQL's epoch, in Unix microseconds.
const pgEpochMicros = 946684800 * 1000000

// binTime decodes a binary timestamptz; ok is false for ±infinity and
// malformed input.
func binTime(b []byte) (time.Time, bool) {
	if len(b) != 8 {
		return time.Time{}, false
	}
	us := int64(binary.BigEndian.Uint64(b))
	if us == math.MaxInt64 || us == math.MinInt64 {
		return time.Time{}, false
	}
	return time.UnixMicro(us + pgEpochMicros).UTC(), true
}

// decodeSample fills s from the binary values of a Raw row (see
// sampleOIDs). It returns false when a value is not what the layout
// promises, and the caller scans the row the general way.
func decodeSample(s *Sample, v [][]byte) bool {
	if len(v) != len(sampleOIDs) || len(v[1]) != 8 || len(v[2]) != 4 || len(v[5]) != 4 ||
		(v[3] != nil && len(v[3]) != 2) || (v[4] != nil && len(v[4]) != 2) {
		return false
	}
	var ok1, ok2 bool
	s.Time, ok1 = binTime(v[0])
	s.Stored, ok2 = binTime(v[6])
	if !ok1 || !ok2 {
		return false
	}
	s.Value = math.Float64frombits(binary.BigEndian.Uint64(v[1]))
	s.Quality = scada.Quality(binary.BigEndian.Uint32(v[2]))
	s.Reasons = scada.Reason(uint16(binary.BigEndian.Uint32(v[5])))
	if v[3] != nil {
		s.Score, s.Scored = uint8(int16(binary.BigEndian.Uint16(v[3]))), true
	}
	if v[4] != nil {
		s.Grade = scada.Grade(int16(binary.BigEndian.Uint16(v[4])))
	}
	return true
}

// scanSample returns the scanner of Raw's rows. Rows in the binary layout
// of sampleOIDs (what pgx asks the server for) are decoded directly, a
// tenth of the client's time per row of pgx's Scan; others (a column
// whose type was changed by hand, say) go through Scan.
func (h *Historian) scanSample(tag, unit, source string) func(pgx.Rows) (Sample, error) {
	layout := 0 // 0 unknown, 1 binary layout, -1 scan
	return func(rows pgx.Rows) (Sample, error) {
		s := Sample{Point: scada.Point{Tag: tag, Unit: unit, Source: source}}
		if layout == 0 {
			layout = -1
			if binaryLayout(rows.FieldDescriptions(), sampleOIDs[:]) {
				layout = 1
			}
		}
		if layout == 1 && decodeSample(&s, rows.RawValues()) {
			return s, nil
		}
		s = Sample{Point: scada.Point{Tag: tag, Unit: unit, Source: source}}
		var q, reasons int32
		var score, grade pgtype.Int2
		if err := rows.Scan(&s.Time, &s.Value, &q, &score, &grade, &reasons, &s.Stored); err != nil {
			return s, err
		}
		fill(&s, q, score, grade, reasons)
		return s, nil
	}
}

func fill(s *Sample, q int32, score, grade pgtype.Int2, reasons int32) {
	s.Quality = scada.Quality(uint32(q))
	s.Reasons = scada.Reason(uint16(reasons))
	if score.Valid {
		s.Score, s.Scored = uint8(score.Int16), true
	}
	if grade.Valid {
		s.Grade = scada.Grade(grade.Int16)
	}
	s.Time = s.Time.UTC()
	s.Stored = s.Stored.UTC()
}

// Raw yields the stored points of tags with from <= Time < to: all points
// of the first tag in time order, then those of the next. Unknown tags yield
// nothing. NaN and ±Inf come back as they were sent; times have microsecond
// precision.
func (h *Historian) Raw(ctx context.Context, tags []string, from, to time.Time) iter.Seq2[Sample, error] {
	return func(yield func(Sample, error) bool) {
		if err := checkRange("raw", from, to); err != nil {
			yield(Sample{}, err)
			return
		}
		metas, err := h.tagMeta(ctx, tags)
		if err != nil {
			yield(Sample{}, err)
			return
		}
		q := h.sql(`SELECT time, value, quality, score, grade, reasons, stored FROM {s}.points
			WHERE tag_id = $1 AND time >= $2 AND time < $3 ORDER BY time`)
		for _, m := range metas {
			if !stream(ctx, h, "raw", q, []any{m.id, from, to}, h.scanSample(m.name, m.unit, m.source), yield) {
				return
			}
		}
	}
}

type tagMeta struct {
	id                 int32
	name, unit, source string
}

func (h *Historian) tagMeta(ctx context.Context, names []string) ([]tagMeta, error) {
	rows, err := h.pool.Query(ctx, h.sql(`SELECT t.id, t.name, t.unit, t.source FROM unnest($1::text[]) WITH ORDINALITY AS q(name, ord)
		JOIN {s}.tags t ON md5(t.name) = md5(q.name) AND t.name = q.name ORDER BY q.ord`), names)
	if err != nil {
		return nil, h.classify("query tags", err)
	}
	ms, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (tagMeta, error) {
		var m tagMeta
		err := r.Scan(&m.id, &m.name, &m.unit, &m.source)
		return m, err
	})
	if err != nil {
		return nil, h.classify("query tags", err)
	}
	return ms, nil
}

// Bucket is one time bucket of one tag's points.
type Bucket struct {
	Tag   string
	Start time.Time // the bucket is [Start, Start+Every)
	Count int64     // points in the bucket, whatever their quality
	Good  int64     // points of Good quality
	// Usable counts the points Avg, Min, Max and Last are computed from:
	// Good quality and a finite value. Those four are NaN when it is 0.
	Usable              int64
	Avg, Min, Max, Last float64
}

// GoodShare returns Good/Count, the share of good points in the bucket.
func (b Bucket) GoodShare() float64 {
	if b.Count == 0 {
		return 0
	}
	return float64(b.Good) / float64(b.Count)
}

// Aggregate yields, for each of tags in turn, one Bucket per interval of
// length every (aligned on origin, as PostgreSQL's date_bin does; the zero
// origin means 2000-01-01 UTC) that holds at least one point with
// from <= Time < to, in time order. Buckets without points are not
// yielded: use [Historian.Gaps] to find them.
func (h *Historian) Aggregate(ctx context.Context, tags []string, from, to time.Time, every time.Duration, origin time.Time) iter.Seq2[Bucket, error] {
	return func(yield func(Bucket, error) bool) {
		if err := checkRange("aggregate", from, to); err != nil {
			yield(Bucket{}, err)
			return
		}
		if every < time.Microsecond {
			yield(Bucket{}, &Error{Op: "aggregate", Msg: fmt.Sprintf("bucket width %v is under a microsecond", every)})
			return
		}
		if origin.IsZero() {
			origin = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)
		}
		ids, names, err := h.tagIDs(ctx, tags)
		if err != nil {
			yield(Bucket{}, err)
			return
		}
		// last: the value of the greatest (time, value) pair, which needs no
		// sort inside each bucket (epoch seconds as float8 keep microseconds
		// exact until year 2255).
		q := h.sql(`SELECT date_bin($2 * interval '1 microsecond', time, $3) AS b,
				count(*), count(*) FILTER (WHERE ` + good + `), count(*) FILTER (WHERE ` + usable + `),
				avg(value) FILTER (WHERE ` + usable + `), min(value) FILTER (WHERE ` + usable + `),
				max(value) FILTER (WHERE ` + usable + `),
				(max(ARRAY[extract(epoch FROM time)::float8, value]) FILTER (WHERE ` + usable + `))[2]
			FROM {s}.points WHERE tag_id = $1 AND time >= $4 AND time < $5
			GROUP BY b ORDER BY b`)
		for i, id := range ids {
			tag := names[i]
			scan := func(rows pgx.Rows) (Bucket, error) {
				b := Bucket{Tag: tag}
				var avg, mn, mx, last *float64
				if err := rows.Scan(&b.Start, &b.Count, &b.Good, &b.Usable, &avg, &mn, &mx, &last); err != nil {
					return b, err
				}
				b.Start = b.Start.UTC()
				b.Avg, b.Min, b.Max, b.Last = orNaN(avg), orNaN(mn), orNaN(mx), orNaN(last)
				return b, nil
			}
			if !stream(ctx, h, "aggregate", q, []any{id, every.Microseconds(), origin, from, to}, scan, yield) {
				return
			}
		}
	}
}

func orNaN(p *float64) float64 {
	if p == nil {
		return math.NaN()
	}
	return *p
}

// Latest yields the newest stored point of each of tags (of every tag when
// tags is empty), whatever its quality, in tag name order. Tags without
// points are left out.
func (h *Historian) Latest(ctx context.Context, tags ...string) iter.Seq2[Sample, error] {
	return func(yield func(Sample, error) bool) {
		var filter string
		args := []any{}
		if len(tags) > 0 {
			filter = `WHERE md5(t.name) = ANY (SELECT md5(n) FROM unnest($1::text[]) AS n) AND t.name = ANY ($1::text[])`
			args = append(args, tags)
		}
		q := h.sql(`SELECT t.name, t.unit, t.source, p.time, p.value, p.quality, p.score, p.grade, p.reasons, p.stored
			FROM {s}.tags t CROSS JOIN LATERAL (
				SELECT time, value, quality, score, grade, reasons, stored FROM {s}.points
				WHERE tag_id = t.id ORDER BY time DESC LIMIT 1) p ` + filter + ` ORDER BY t.name`)
		scan := func(rows pgx.Rows) (Sample, error) {
			var s Sample
			var qual, reasons int32
			var score, grade pgtype.Int2
			if err := rows.Scan(&s.Tag, &s.Unit, &s.Source, &s.Time, &s.Value, &qual, &score, &grade, &reasons, &s.Stored); err != nil {
				return s, err
			}
			fill(&s, qual, score, grade, reasons)
			return s, nil
		}
		stream(ctx, h, "latest", q, args, scan, yield)
	}
}

// Gap is a stretch of a tag's history without points: no point has
// From < Time < To. From and To are the times of the points around it, or
// the bounds of the query where the history starts late or ends early.
type Gap struct {
	Tag      string
	From, To time.Time
}

// Duration returns To - From.
func (g Gap) Duration() time.Duration { return g.To.Sub(g.From) }

// Gaps yields, in time order, the gaps longer than longer in the history of
// tag within [from, to), counting points of every quality. A tag without
// points in the range, or unknown, yields one gap [from, to).
func (h *Historian) Gaps(ctx context.Context, tag string, from, to time.Time, longer time.Duration) iter.Seq2[Gap, error] {
	return func(yield func(Gap, error) bool) {
		if err := checkRange("gaps", from, to); err != nil {
			yield(Gap{}, err)
			return
		}
		ids, _, err := h.tagIDs(ctx, []string{tag})
		if err != nil {
			yield(Gap{}, err)
			return
		}
		if len(ids) == 0 {
			if to.Sub(from) > longer {
				yield(Gap{Tag: tag, From: from.UTC(), To: to.UTC()}, nil)
			}
			return
		}
		q := h.sql(`SELECT prev, time FROM (
				SELECT lag(time) OVER (ORDER BY time) AS prev, time FROM (
					SELECT $2::timestamptz AS time
					UNION ALL SELECT time FROM {s}.points WHERE tag_id = $1 AND time >= $2 AND time < $3
					UNION ALL SELECT $3::timestamptz) s) w
			WHERE prev IS NOT NULL AND time - prev > $4 * interval '1 microsecond' ORDER BY time`)
		scan := func(rows pgx.Rows) (Gap, error) {
			g := Gap{Tag: tag}
			err := rows.Scan(&g.From, &g.To)
			g.From, g.To = g.From.UTC(), g.To.UTC()
			return g, err
		}
		stream(ctx, h, "gaps", q, []any{ids[0], from, to, longer.Microseconds()}, scan, yield)
	}
}

// Tag is a tag the historian knows.
type Tag struct {
	ID          int32
	Name        string
	Unit        string // the unit of its last stored point
	Source      string // the Source of its last stored point
	Description string
}

// Tags yields the known tags in name order.
func (h *Historian) Tags(ctx context.Context) iter.Seq2[Tag, error] {
	return func(yield func(Tag, error) bool) {
		scan := func(rows pgx.Rows) (Tag, error) {
			var t Tag
			err := rows.Scan(&t.ID, &t.Name, &t.Unit, &t.Source, &t.Description)
			return t, err
		}
		stream(ctx, h, "tags", h.sql(`SELECT id, name, unit, source, description FROM {s}.tags ORDER BY name`), nil, scan, yield)
	}
}

// Describe sets the description of a tag, creating the tag if it has no
// points yet.
func (h *Historian) Describe(ctx context.Context, tag, description string) error {
	if !textOK(tag) || !textOK(description) {
		return &Error{Op: "describe", Msg: "tag or description is not valid UTF-8 or holds a NUL byte"}
	}
	_, err := h.pool.Exec(ctx, h.sql(`INSERT INTO {s}.tags (name, description) VALUES ($1, $2)
		ON CONFLICT ((md5(name))) DO UPDATE SET description = EXCLUDED.description`), tag, description)
	return h.classify("describe", err)
}
