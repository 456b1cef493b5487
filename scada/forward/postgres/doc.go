// Package postgres is a historian on PostgreSQL: a [forward.Target] that
// stores the points a Forwarder reads from a Buffer, exactly once, the
// queries that read them back, and ERP energy records beside them with the
// query that reconciles the two. It talks to the server through
// github.com/jackc/pgx/v5 and needs PostgreSQL 14 or newer (date_bin).
//
//	h, err := postgres.New(ctx, postgres.Config{
//		DSN: "postgres://historian@db.plant.example/plant?sslmode=verify-full&sslrootcert=/etc/gl001/pg-ca.pem",
//	})
//	...
//	// A Forwarder reading the edge's Buffer calls h.Resume once and h.Send per batch.
//	for s, err := range h.Raw(ctx, []string{"boiler1.steam_temp"}, from, to) { ... }
//
// # Exactly once
//
// A [Historian] is a [forward.Target] and a [forward.Resumer]. Send writes
// the points of a batch with binary COPY and, in the same transaction, the
// position of the batch's stream (edge id and Buffer id) in the streams
// table: the offset after its last point. Before writing, Send locks the
// stream's row and drops the points below the stored position. So a crash
// before COMMIT rolls back points and position together and the batch is
// sent again in full; a crash after COMMIT (even one that kept the
// acknowledgement from the client) leaves a position that makes the
// re-sent batch a no-op. No unique index on the points is needed for this,
// which keeps COPY fast. Resume returns the stored position, so a Forwarder
// that lost its Buffer cursor starts where the historian is.
//
// Two forwarders pointed at one schema: forwarders of different streams
// (other edges, or other Buffers) write side by side and each stream is
// stored exactly once. Two forwarders of the same stream (the same edge
// id and Buffer id, say a standby started by mistake) are serialised by the
// row lock, and each drops what the other stored, so the points are still
// stored once. What the historian cannot see is the same reading reaching
// it through two streams (two edges polling one device): it stores both,
// as two points of the same tag and time.
//
// # Schema
//
// New creates the schema (default "historian") and its tables, and
// migrates them forward: the schema_version table records each applied
// version ([SchemaVersion]), migrations run in one transaction under an
// advisory lock, so processes starting together migrate once, and a
// database newer than the code is refused with [ErrSchema]. New then
// checks the columns the code relies on; a Send that fails on a table
// altered by hand reports the table and column the same way.
//
//	tags        id integer (identity), name text (unique), unit text, source text, description text
//	points      tag_id integer, time timestamptz, value float8, quality integer,
//	            score smallint, grade smallint, reasons integer, stored timestamptz
//	            partitioned by range of time, one partition per UTC day: points_pYYYYMMDD
//	            index (tag_id, time) on every partition
//	streams     edge text, buffer text, next bigint: the stream positions
//	erp_energy  system, entity, key (primary key), plant, meter, cost_center,
//	            period_start, period_end, kwh numeric, quantity text, changed, stored
//	meters      tag_id, plant, to_kwh: the energy counters of each plant
//
// Column by column: time is the source time of the point, stored is the
// server's time of the transaction that committed it. quality is the OPC
// UA status code with its 32 bits kept as a signed integer, so a Good
// point has 0 <= quality < 2^30. score and grade are NULL when no stage
// scored the point; grade is the band of the score, the value of
// scada.Grade (0 Invalid, 1 Poor, 2 Fair, 3 Good, 4 Excellent; see
// scada.GradeOf). reasons holds the scada.Reason bits.
// The unit and source of a tag are those of its last stored point.
//
// Send writes a batch with one binary COPY per day it covers, straight
// into that day's partition (no routing through the parent), its points in
// (tag, time) order: a batch interleaves every tag of the plant, and in
// this order each tag's index entries go to one leaf page after the other
// and its heap rows sit together. A partition dropped behind Send's back
// is created again. The partitions go to the tablespace of the points
// table: ALTER TABLE historian.points SET TABLESPACE ts (and ALTER INDEX
// historian.points_tag_time SET TABLESPACE ts) moves the days to come to
// another disk. A full disk fails Send with [ErrDiskFull] naming the
// partition; nothing is committed and the Buffer keeps the points until
// space is freed.
//
// One partition per day: a day of 1,000 tags at 1 s is 86 million rows,
// several GB with the index, which CLUSTER and DROP handle in one piece;
// queries of hours or days touch one or two partitions; and retention
// works in days. Partitions are created by Send as points for a new day
// arrive. [Historian.DropBefore] drops whole days (retention without
// DELETE or VACUUM), and [Historian.Compact] sorts closed days by tag so a
// tag's day is read from a few pages instead of one page per point.
//
// # Values and text
//
// NaN, +Inf and -Inf are stored as the float8 values NaN, Infinity and
// -Infinity and read back as they were sent: the historian keeps what the
// edge measured, and a NaN a device reported is evidence, not noise. The
// aggregates leave them out (see [Bucket]). -0 is stored as -0.
//
// Times are stored to the microsecond (PostgreSQL's precision; the
// nanoseconds are truncated) and read back in UTC. A point whose time lies
// before year 1 or after 9999 has no daily partition: it is not stored,
// counted in [Stats].Rejected, and the stream moves past it.
//
// Tag names, units and sources are passed as parameters, never spliced
// into SQL, so quotes and semicolons are plain characters. Any valid UTF-8
// is stored, up to the Buffer's limit of 65,535 bytes; tags are unique on
// the digest of their name, so 1,000 characters of CJK text (3,000 bytes,
// more than a btree entry may hold) work like short names. PostgreSQL text
// cannot hold a NUL byte or invalid UTF-8: such bytes are replaced with
// U+FFFD, the point is stored, and [Stats].Sanitized counts it.
//
// # Queries
//
// Every query returns an iter.Seq2 that streams rows from the server;
// breaking out of the loop cancels the query. Ranges are half-open [from,
// to). [Historian.Raw] yields points of one or more tags, [Historian.Aggregate]
// time buckets (date_bin) with avg, min, max, last, count and the share of
// Good points, [Historian.Latest] the newest point of each tag, and
// [Historian.Gaps] the stretches of a tag's history without points.
//
// # Throughput
//
// BenchmarkPostgresTarget writes batches of 10,000 points over 100 tags.
// About two thirds of the server's time per point goes to the (tag_id,
// time) btree, one entry per point, which Raw, Latest and Gaps need; the
// benchmark reports the server's and the client's CPU time per point
// beside points/s, since on a shared machine the wall time says more about
// the neighbours than about the code.
//
// # ERP energy
//
// [Historian.StoreEnergy] stores erp.EnergyRecord values normalised to kWh
// (exactly, as numeric, when the unit is kWh or a power of ten of it),
// keyed on their source (system, entity, key): storing a record twice
// changes nothing, a newer version (by Changed) replaces it. [Historian.SetMeter]
// marks tags as a plant's energy counters, and [Historian.Reconcile] puts
// the ERP's energy next to the metered energy per plant and day.
//
// # Connection and security
//
// Config.DSN is pgx's connection string, a URL or keyword/value pairs. The
// PG* environment variables are read only through [FromEnv]: New refuses a
// DSN that leaves out a key whose variable is set, rather than let the
// environment change it silently. Towards any host but a loopback address
// or a Unix socket New requires sslmode=verify-full (TLS, a certificate
// chain checked against sslrootcert, and the host name checked against the
// certificate); InsecureTLS lowers that on purpose. The password never
// appears in errors, logs or [Stats]: errors are rebuilt from the server's
// message, and any text that still holds the password has it replaced.
//
// # Errors
//
// Failures are *[Error] values that match a sentinel: [ErrConnection]
// (retry), [ErrTimeout] (retry), [ErrStorage] and [ErrDiskFull] (retry
// when space is freed), [ErrAuth] and [ErrSchema] (which also match
// scada.ErrPermanent: an operator must act), [ErrConfig], [ErrBadRecord]. A failed Send committed
// nothing, so the Forwarder keeps the points in its Buffer and sends them
// again.
//
// # Backfill lanes
//
// The historian keeps one position per stream, the end of what it holds, so
// it cannot tell a backfill batch (older offsets sent after newer ones, see
// forward.Backfill) from points it already stored. It refuses such a batch
// with [ErrConfig] and the points stay in the Buffer: run the historian's
// Forwarder without Config.Backfill. A database is not the slow link a
// backfill lane exists for.
package postgres
