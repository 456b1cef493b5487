package postgres

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/greenlang/gl001/scada"
	"github.com/greenlang/gl001/scada/buffer"
	"github.com/greenlang/gl001/scada/forward"
)

// Historian stores points and ERP energy in PostgreSQL and answers queries
// on them. It is a [forward.Target] and a [forward.Resumer]. All methods are
// safe for concurrent use.
type Historian struct {
	cfg         Config
	pool        *pgxpool.Pool
	log         *slog.Logger
	secret      string
	schemaIdent string

	mu         sync.Mutex
	tags       map[string]tagRow // by name
	partitions map[time.Time]bool

	closed atomic.Bool
	stats  struct {
		batches, points, duplicates, sanitized, rejected, failures atomic.Uint64
	}
	lastErr atomic.Pointer[string]
}

var (
	_ forward.Target  = (*Historian)(nil)
	_ forward.Resumer = (*Historian)(nil)
)

type tagRow struct {
	id           int32
	unit, source string
}

// New connects, creates or migrates the schema (see [SchemaVersion]) and
// checks its tables. It fails with [ErrConfig] for a bad Config, and with an
// error matching [ErrConnection], [ErrAuth] or [ErrSchema] when the
// database cannot be used; the password never appears in the error.
func New(ctx context.Context, cfg Config) (*Historian, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	pc, err := cfg.poolConfig()
	if err != nil {
		return nil, err
	}
	pc.MaxConns = cfg.MaxConns
	if cfg.StatementTimeout > 0 {
		pc.ConnConfig.RuntimeParams["statement_timeout"] = fmt.Sprint(cfg.StatementTimeout.Milliseconds())
	}
	pc.ConnConfig.RuntimeParams["timezone"] = "UTC"
	if pc.ConnConfig.RuntimeParams["application_name"] == "" {
		pc.ConnConfig.RuntimeParams["application_name"] = "gl001-historian"
	}
	h := &Historian{
		cfg:         cfg,
		log:         cfg.Logger,
		secret:      pc.ConnConfig.Password,
		schemaIdent: pgx.Identifier{cfg.Schema}.Sanitize(),
		tags:        map[string]tagRow{},
		partitions:  map[time.Time]bool{},
	}
	if h.log == nil {
		h.log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	pool, err := pgxpool.NewWithConfig(ctx, pc)
	if err != nil {
		return nil, h.classify("connect", err)
	}
	h.pool = pool
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, h.classify("connect", err)
	}
	if err := h.migrate(ctx); err != nil {
		pool.Close()
		return nil, err
	}
	if days, err := h.Partitions(ctx); err == nil {
		for _, d := range days {
			h.partitions[d] = true
		}
	}
	return h, nil
}

// Close closes the connections. Later calls return [scada.ErrClosed].
func (h *Historian) Close() error {
	if h.closed.Swap(true) {
		return scada.ErrClosed
	}
	h.pool.Close()
	return nil
}

func (h *Historian) classify(op string, err error) error { return classify(op, err, h.secret) }

// Stats is a snapshot of the counters of a [Historian], since New.
type Stats struct {
	Batches    uint64 // Send calls that committed
	Points     uint64 // points stored
	Duplicates uint64 // points dropped because the stream position showed them stored
	// Sanitized counts points whose tag, unit or source was not valid UTF-8
	// or held a NUL byte, which PostgreSQL text cannot store: they were
	// stored with each bad byte replaced by U+FFFD.
	Sanitized uint64
	// Rejected counts points whose time PostgreSQL cannot hold in a daily
	// partition (before year 1 or after 9999): they were not stored, and
	// the stream position moved past them.
	Rejected  uint64
	Failures  uint64 // Send calls that failed
	LastError string // the last failure of Send or Resume, password removed; "" if none
}

// Stats returns the counters.
func (h *Historian) Stats() Stats {
	s := Stats{
		Batches: h.stats.batches.Load(), Points: h.stats.points.Load(),
		Duplicates: h.stats.duplicates.Load(), Sanitized: h.stats.sanitized.Load(),
		Rejected: h.stats.rejected.Load(), Failures: h.stats.failures.Load(),
	}
	if p := h.lastErr.Load(); p != nil {
		s.LastError = *p
	}
	return s
}

// Resume returns the offset after the last point of s the historian holds.
func (h *Historian) Resume(ctx context.Context, s forward.Stream) (buffer.Offset, bool, error) {
	if h.closed.Load() {
		return 0, false, scada.ErrClosed
	}
	var next int64
	err := h.pool.QueryRow(ctx, h.sql(`SELECT next FROM {s}.streams WHERE edge = $1 AND buffer = $2`), s.Edge, s.Buffer).Scan(&next)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, false, nil
	}
	if err != nil {
		err = h.explain(ctx, "resume", h.classify("resume", err))
		h.failed(err, "resume", "edge", s.Edge, "buffer", s.Buffer)
		return 0, false, err
	}
	return buffer.Offset(next), true, nil
}

// Send stores the points of b and the stream position b.Next() in one
// transaction. Points at offsets below the stored position of b.Stream are
// already stored and dropped, so a batch sent again after a crash, or by a
// second forwarder of the same stream, is stored once. Send returns nil only
// after the commit.
//
// Before the points transaction Send creates, each in a short transaction of
// its own, the tags it has not seen (see [Historian.Tags]) and the daily
// partitions the points fall in; both are harmless without points.
func (h *Historian) Send(ctx context.Context, b forward.Batch) error {
	if h.closed.Load() {
		return scada.ErrClosed
	}
	if len(b.Points) == 0 {
		return nil
	}
	if b.Backfill {
		// The stored position is the end of what the stream holds: a
		// backfill batch comes after batches with higher offsets and would be
		// taken for points already stored. Refuse it, so the Forwarder keeps
		// it in the Buffer, rather than drop it.
		h.stats.failures.Add(1)
		err := fmt.Errorf("%w: a backfill batch (offsets %d to %d): the historian keeps one position per stream, so its Forwarder must run without Config.Backfill", ErrConfig, b.First, b.Next()-1)
		h.failed(err, "send", "edge", b.Stream.Edge, "buffer", b.Stream.Buffer)
		return err
	}
	if err := h.send(ctx, b); err != nil {
		h.stats.failures.Add(1)
		err = h.explain(ctx, "send", err)
		h.failed(err, "send", "edge", b.Stream.Edge, "buffer", b.Stream.Buffer, "first", uint64(b.First), "points", len(b.Points))
		return err
	}
	return nil
}

// failed records err as the last error and logs it.
func (h *Historian) failed(err error, op string, attrs ...any) {
	msg := err.Error()
	h.lastErr.Store(&msg)
	h.log.Warn("postgres: "+op+" failed", append(attrs, "err", msg)...)
}

// explain names the table and column behind a failure that is a schema
// mismatch, or whose cause the server did not name, by comparing the
// tables with what this code expects.
func (h *Historian) explain(ctx context.Context, op string, err error) error {
	var e *Error
	if !errors.As(err, &e) || (e.Kind != nil && e.Kind != ErrSchema) {
		return err
	}
	var se *Error
	if serr := h.CheckSchema(context.WithoutCancel(ctx)); errors.As(serr, &se) && se.Kind == ErrSchema {
		se.Op = op
		se.Code = e.Code
		se.err = e.err
		se.Msg += "; the server said: " + e.Msg
		return se
	}
	return err
}

func (h *Historian) send(ctx context.Context, b forward.Batch) error {
	ids, days, err := h.prepare(ctx, b.Points)
	if err != nil {
		return err
	}
	if err := h.ensurePartitions(ctx, days); err != nil {
		return err
	}
	err = h.sendTx(ctx, b, ids)
	if errors.Is(err, errPartitionGone) {
		// A day's partition went away since it was cached (DropBefore in
		// another process, an operator): create it again and retry once.
		// The transaction rolled back, so nothing is doubled.
		h.mu.Lock()
		for _, d := range days {
			delete(h.partitions, d)
		}
		h.mu.Unlock()
		if err := h.ensurePartitions(ctx, days); err != nil {
			return err
		}
		err = h.sendTx(ctx, b, ids)
	}
	if err != nil {
		return h.classify("send", err)
	}
	return nil
}

// errPartitionGone marks a COPY into a day's partition that no longer
// exists; send creates it again and retries.
var errPartitionGone = errors.New("partition gone")

// sendTx runs the transaction of send: the stream position and the points.
func (h *Historian) sendTx(ctx context.Context, b forward.Batch, ids []int32) error {
	tx, err := h.pool.Begin(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback(context.WithoutCancel(ctx))

	// One round trip: make sure the stream has a row, lock it until commit
	// (a second forwarder of the same stream waits here, then sees the new
	// position), read the position, and move it to the batch's end. The
	// position and the points commit or roll back together.
	var next int64
	q := &pgx.Batch{}
	q.Queue(h.sql(`INSERT INTO {s}.streams (edge, buffer, next) VALUES ($1, $2, 0)
		ON CONFLICT (edge, buffer) DO NOTHING`), b.Stream.Edge, b.Stream.Buffer)
	q.Queue(h.sql(`SELECT next FROM {s}.streams WHERE edge = $1 AND buffer = $2 FOR UPDATE`),
		b.Stream.Edge, b.Stream.Buffer).QueryRow(func(row pgx.Row) error { return row.Scan(&next) })
	q.Queue(h.sql(`UPDATE {s}.streams SET next = greatest(next, $3), updated = now() WHERE edge = $1 AND buffer = $2`),
		b.Stream.Edge, b.Stream.Buffer, int64(b.Next()))
	if err := tx.SendBatch(ctx, q).Close(); err != nil {
		return err
	}
	skip := 0
	if buffer.Offset(next) > b.First {
		skip = int(min(uint64(buffer.Offset(next)-b.First), uint64(len(b.Points))))
	}
	if skip == len(b.Points) {
		h.stats.duplicates.Add(uint64(skip))
		return nil // all stored already; nothing to commit
	}
	rows, rejected := sortRows(b.Points[skip:], ids[skip:])
	n := 0
	for len(rows) > 0 {
		// One COPY per day, straight into the day's partition: no routing
		// through the parent. The rows go in (tag, time) order, so each tag's
		// index entries land on one leaf page after the other and its heap
		// rows sit together (see sortRows).
		d := time.Unix(rows[0].day, 0).UTC()
		end := 1
		for end < len(rows) && rows[end].day == rows[0].day {
			end++
		}
		part := pgx.Identifier{h.cfg.Schema, partitionName(d)}
		c, err := tx.CopyFrom(ctx, part, pointColumns, &pointSource{rows: rows[:end]})
		if err != nil {
			var pgErr *pgconn.PgError
			if errors.As(err, &pgErr) && pgErr.Code == "42P01" {
				return fmt.Errorf("%w: %w", errPartitionGone, err)
			}
			// Name the partition: a full disk, say, names only a file.
			err = h.classify("send", err)
			if e := (*Error)(nil); errors.As(err, &e) && e.Table == "" {
				e.Table = h.cfg.Schema + "." + partitionName(d)
			}
			return err
		}
		n += int(c)
		rows = rows[end:]
	}
	if err := tx.Commit(ctx); err != nil {
		return h.classify("send commit", err)
	}
	h.stats.batches.Add(1)
	h.stats.points.Add(uint64(n))
	h.stats.duplicates.Add(uint64(skip))
	h.stats.rejected.Add(uint64(rejected))
	return nil
}

var pointColumns = []string{"tag_id", "time", "value", "quality", "score", "grade", "reasons"}

// copyRow is a point ready for COPY.
type copyRow struct {
	day int64 // Unix seconds of the UTC midnight starting its day
	id  int32
	i   int32 // position in the batch
	p   *scada.Point
}

// sortRows returns the points that can be stored (a tag id other than 0)
// in (day, tag, time) order, points of equal time in batch order, and how
// many it left out. The forwarder's batches interleave every tag of the
// plant; in this order a COPY touches the (tag_id, time) index one tag at
// a time (the leaf pages it needs stay in the CPU's cache and the server's
// buffers), and a tag's points of one batch share heap pages, which a Raw
// query of that tag reads fewer of. The points themselves are not moved:
// the batch belongs to the caller.
func sortRows(points []scada.Point, ids []int32) ([]copyRow, int) {
	rows := make([]copyRow, 0, len(points))
	for i := range points {
		if ids[i] == 0 {
			continue
		}
		rows = append(rows, copyRow{day: day(points[i].Time).Unix(), id: ids[i], i: int32(i), p: &points[i]})
	}
	slices.SortFunc(rows, func(a, b copyRow) int {
		if a.day != b.day {
			return cmp.Compare(a.day, b.day)
		}
		if a.id != b.id {
			return cmp.Compare(a.id, b.id)
		}
		if c := a.p.Time.Compare(b.p.Time); c != 0 {
			return c
		}
		return cmp.Compare(a.i, b.i)
	})
	return rows, len(points) - len(rows)
}

// pointSource feeds CopyFrom without building rows up front.
type pointSource struct {
	rows []copyRow
	i    int
	row  [7]any
}

func (s *pointSource) Next() bool {
	if s.i < len(s.rows) {
		s.i++
		return true
	}
	return false
}

func (s *pointSource) Values() ([]any, error) {
	r := &s.rows[s.i-1]
	p := r.p
	s.row[0] = r.id
	s.row[1] = p.Time
	s.row[2] = p.Value
	s.row[3] = int32(p.Quality)
	if p.Scored {
		s.row[4] = int16(p.Score)
		s.row[5] = int16(scada.GradeOf(float64(p.Score)))
	} else {
		s.row[4] = nil
		s.row[5] = nil
	}
	s.row[6] = int32(p.Reasons)
	return s.row[:], nil
}

func (s *pointSource) Err() error { return nil }

var (
	minTime = time.Date(1, 1, 2, 0, 0, 0, 0, time.UTC)
	maxTime = time.Date(9999, 12, 31, 0, 0, 0, 0, time.UTC)
)

// prepare resolves the tag ids of points (0 for a point that cannot be
// stored) and lists the days they fall in.
func (h *Historian) prepare(ctx context.Context, points []scada.Point) ([]int32, []time.Time, error) {
	ids := make([]int32, len(points))
	dayset := map[time.Time]bool{}
	var want map[string]tagRow
	h.mu.Lock()
	for i := range points {
		p := &points[i]
		if p.Time.Before(minTime) || !p.Time.Before(maxTime) {
			continue
		}
		dayset[day(p.Time)] = true
		name, unit, src := p.Tag, p.Unit, p.Source
		if !textOK(name) || !textOK(unit) || !textOK(src) {
			name, unit, src = cleanText(name), cleanText(unit), cleanText(src)
			h.stats.sanitized.Add(1)
		}
		if t, ok := h.tags[name]; ok && t.unit == unit && t.source == src {
			ids[i] = t.id
			continue
		}
		if want == nil {
			want = map[string]tagRow{}
		}
		want[name] = tagRow{unit: unit, source: src}
	}
	h.mu.Unlock()
	if len(want) > 0 {
		if err := h.upsertTags(ctx, want); err != nil {
			return nil, nil, err
		}
		h.mu.Lock()
		for i := range points {
			if ids[i] != 0 {
				continue
			}
			p := &points[i]
			if p.Time.Before(minTime) || !p.Time.Before(maxTime) {
				continue
			}
			name := p.Tag
			if !textOK(name) {
				name = cleanText(name)
			}
			ids[i] = h.tags[name].id
		}
		h.mu.Unlock()
	}
	days := slices.SortedFunc(maps.Keys(dayset), func(a, b time.Time) int { return a.Compare(b) })
	return ids, days, nil
}

// upsertTags creates the tags of want or updates their unit and source, and
// caches their ids.
func (h *Historian) upsertTags(ctx context.Context, want map[string]tagRow) error {
	names := slices.Sorted(maps.Keys(want)) // a stable order avoids deadlocks between writers
	units := make([]string, len(names))
	sources := make([]string, len(names))
	for i, n := range names {
		units[i], sources[i] = want[n].unit, want[n].source
	}
	// Tags that exist unchanged are only read: no row lock, no write.
	got := map[string]tagRow{}
	scan := func(rows pgx.Rows, err error) error {
		if err != nil {
			return h.classify("create tags", err)
		}
		for rows.Next() {
			var t tagRow
			var name string
			if err := rows.Scan(&t.id, &name, &t.unit, &t.source); err != nil {
				rows.Close()
				return h.classify("create tags", err)
			}
			got[name] = t
		}
		return h.classify("create tags", rows.Err())
	}
	if err := scan(h.pool.Query(ctx, h.sql(`SELECT id, name, unit, source FROM {s}.tags
		WHERE md5(name) = ANY (SELECT md5(n) FROM unnest($1::text[]) AS n)`), names)); err != nil {
		return err
	}
	var wn, wu, ws []string
	for i, n := range names {
		if t, ok := got[n]; !ok || t.unit != units[i] || t.source != sources[i] {
			wn, wu, ws = append(wn, n), append(wu, units[i]), append(ws, sources[i])
		}
	}
	if len(wn) > 0 {
		if err := scan(h.pool.Query(ctx, h.sql(`INSERT INTO {s}.tags (name, unit, source)
			SELECT * FROM unnest($1::text[], $2::text[], $3::text[])
			ON CONFLICT ((md5(name))) DO UPDATE SET unit = EXCLUDED.unit, source = EXCLUDED.source
			RETURNING id, name, unit, source`), wn, wu, ws)); err != nil {
			return err
		}
	}
	for _, n := range names {
		if got[n].id == 0 {
			return schemaErr("create tags", h.cfg.Schema+".tags", "tag %q got no id", n)
		}
	}
	h.mu.Lock()
	maps.Copy(h.tags, got)
	h.mu.Unlock()
	return nil
}

func textOK(s string) bool { return utf8.ValidString(s) && strings.IndexByte(s, 0) < 0 }

func cleanText(s string) string {
	return strings.ReplaceAll(strings.ToValidUTF8(s, "\uFFFD"), "\x00", "\uFFFD")
}
