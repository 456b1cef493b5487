package buffer

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/greenlang/gl001/scada"
)

// SyncPolicy says when a [Disk] calls fsync, and so what "durable" means.
// A durable point survives a crash of the process and of the machine (power
// loss); only durable points are readable.
type SyncPolicy int

const (
	// SyncGroupCommit, the default, makes Append and Commit return only after
	// the fsync that covers them. Concurrent callers share one fsync (group
	// commit): while one fsync runs, later appends gather for the next. Every
	// Append that returned nil is durable.
	SyncGroupCommit SyncPolicy = iota
	// SyncInterval makes Append return once the points are encoded in memory;
	// a background loop writes and fsyncs them every SyncInterval (and sooner
	// when MaxPending bytes wait). A crash loses at most the points appended
	// since the last fsync; [Stats].Durable and [Disk.Sync] say
	// which points are safe.
	SyncInterval
)

// String returns "group-commit" or "interval".
func (p SyncPolicy) String() string {
	switch p {
	case SyncGroupCommit:
		return "group-commit"
	case SyncInterval:
		return "interval"
	}
	return fmt.Sprintf("SyncPolicy(%d)", int(p))
}

// DiskConfig configures a [Disk]. Only Dir is required.
type DiskConfig struct {
	// Dir holds the segment files, the consumer cursors and a lock file. It is
	// created if missing. One Disk at a time may open it.
	Dir string
	// SegmentBytes is the size at which the active segment is sealed and a new
	// one started; retention drops whole segments. Zero means
	// DefaultBufferSegmentBytes (64 MiB), or MaxBytes/8 when that is smaller.
	SegmentBytes int64
	// MaxAge drops segments whose newest point was appended longer ago than
	// this, checked on every Append, Read, Scan and Recent and once a minute.
	// Zero means DefaultBufferMaxAge (24 h); negative means no age limit.
	MaxAge time.Duration
	// MaxBytes drops the oldest segments while the segments hold more than
	// this many bytes. The active segment's file runs up to 4 MiB of
	// preallocated zeros past its data, not counted. Zero means
	// DefaultDiskBufferBytes (10 GiB); negative means no cap.
	MaxBytes int64
	// EventSegmentBytes is the segment size of the event log (see
	// [EventLog]). Zero means SegmentBytes or 4 MiB, whichever is smaller.
	EventSegmentBytes int64
	// EventMaxBytes caps the event log's segments like MaxBytes caps the
	// points' (the two caps are separate). Zero means MaxBytes/8; negative
	// means no cap. MaxAge applies to events too.
	EventMaxBytes int64
	// Sync is the fsync policy; the zero value is SyncGroupCommit.
	Sync SyncPolicy
	// SyncInterval is the fsync period of SyncInterval. Zero means
	// DefaultBufferSyncInterval (100 ms).
	SyncInterval time.Duration
	// MaxPending is how many encoded bytes may wait for the disk before Append
	// blocks. Zero means DefaultBufferMaxPending (16 MiB).
	MaxPending int64
	// OnDrop, if set, is called with every drop: retention, corrupt
	// segments quarantined when opening or reading, and points found missing
	// when opening (each reported once). It runs without the
	// buffer's lock held (it may call Stats), on the goroutine that caused the
	// drop, which may be the buffer's sync loop: it must return quickly.
	OnDrop func(DropEvent)
	// Now is the clock for append times, retention and Recent; nil means
	// time.Now.
	Now func() time.Time
	// Logger receives recovery, quarantine and drop reports. Nil discards.
	Logger *slog.Logger
}

// Validate reports every problem of c.
func (c DiskConfig) Validate() error {
	var errs []error
	if c.Dir == "" {
		errs = append(errs, errors.New("buffer: DiskConfig.Dir is required"))
	}
	if c.SegmentBytes < 0 {
		errs = append(errs, fmt.Errorf("buffer: DiskConfig.SegmentBytes is negative (%d)", c.SegmentBytes))
	}
	if capBytes := c.withDefaults().MaxBytes; c.SegmentBytes > 0 && capBytes > 0 && c.SegmentBytes > capBytes/2 {
		errs = append(errs, fmt.Errorf("buffer: DiskConfig.SegmentBytes (%d) must be at most half of MaxBytes (%d)", c.SegmentBytes, capBytes))
	}
	if c.EventSegmentBytes < 0 {
		errs = append(errs, fmt.Errorf("buffer: DiskConfig.EventSegmentBytes is negative (%d)", c.EventSegmentBytes))
	}
	if c.Sync != SyncGroupCommit && c.Sync != SyncInterval {
		errs = append(errs, fmt.Errorf("buffer: DiskConfig.Sync: unknown policy %d", int(c.Sync)))
	}
	if c.SyncInterval < 0 {
		errs = append(errs, fmt.Errorf("buffer: DiskConfig.SyncInterval is negative (%s)", c.SyncInterval))
	}
	if c.MaxPending < 0 {
		errs = append(errs, fmt.Errorf("buffer: DiskConfig.MaxPending is negative (%d)", c.MaxPending))
	}
	return errors.Join(errs...)
}

func (c DiskConfig) withDefaults() DiskConfig {
	if c.MaxAge == 0 {
		c.MaxAge = DefaultBufferMaxAge
	}
	if c.MaxBytes == 0 {
		c.MaxBytes = DefaultDiskBufferBytes
	}
	if c.SegmentBytes == 0 {
		c.SegmentBytes = DefaultBufferSegmentBytes
		if c.MaxBytes > 0 {
			c.SegmentBytes = min(c.SegmentBytes, max(c.MaxBytes/8, 1))
		}
	}
	if c.SyncInterval == 0 {
		c.SyncInterval = DefaultBufferSyncInterval
	}
	if c.MaxPending == 0 {
		c.MaxPending = DefaultBufferMaxPending
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c
}

// diskOp is one step of file work for the sync loop, done in queue order.
type diskOp struct {
	seg    *segment
	create bool   // create the file first (data starts with the header)
	data   []byte // bytes to append
	seal   bool   // data ends with the trailer: fsync and close after writing
	final  bool   // the seal of Close: write the final durable mark after the fsync
	remove bool   // delete the file (retention)

	durCount uint64 // the segment's durable state once this op is synced
	durEnd   int64
	mark     Offset // create: the durable mark the header holds
}

// Disk is a [Buffer] that keeps its log in segmented append-only files in
// a directory, so it survives a crash of the process or the machine.
//
// # Layout and encoding
//
// Segments are named by the offset of their first point
// (00000000000000000000.seg); each record in them is one appended batch (at
// most 4096 points) with a CRC32-C checksum. Points are encoded compactly:
// tags, units, sources and qualities are interned per segment; timestamps are
// stored as the difference from the tag's predicted next time (delta of
// delta), so steady sampling costs no bytes; values with a decimal resolution
// are stored as the change of their scaled integer, other values XOR the
// tag's previous value. Smoothly changing data takes 2 to 3 bytes a point.
//
// # Durability and recovery
//
// See [SyncPolicy] for when a point is durable. The header of the active
// segment holds a durable mark: the offset before which every point was
// fsynced. Each group commit writes the mark of the one before it into the
// same file (no extra fsync), a pause in appends of 20 ms writes the latest
// one, and Close writes the end of the log.
//
// Reopening a directory after a crash checks the last segment record by
// record. Damage past the durable mark is a torn tail (records never reported
// durable): it is cut off and the cut bytes are counted in [Stats].Truncated.
// Damage to records before the mark, or in a segment sealed with its trailer,
// is damage to durable points: the segment is renamed aside with a ".corrupt"
// suffix (quarantined, kept as evidence), the records before the damage stay
// readable in a sealed copy, and the points from the damage on are reported
// as dropped (DropCorrupt) with a *[CorruptError] naming the file and byte
// offset. Only the last group commit before a crash is not covered by a mark
// on disk: a bad record there (a crash and a disk fault at once) is taken for
// a torn tail. Sealed segments are checked when read; the last one when
// opening; damage found when reading quarantines the whole segment.
//
// Offsets are never given out twice for points a reader could have seen:
// the log resumes at the highest end that anything in the directory shows
// (the segments, the durable mark, the state record kept in cursors.log, the
// consumer cursors). Offsets between the oldest retained point and that end
// that no segment holds, and that were not reported before, are reported
// once when opening: DropCorrupt for a quarantined segment (a bad header, a
// header whose offset disagrees with the file name, a segment of another
// buffer), DropMissing for a deleted segment or something that is not a file
// in its place (moved aside with a ".missing" suffix). The state record then
// lists them, so the next open is quiet. Only offsets of a torn tail, which no
// reader ever saw, are given out again.
//
// The identity of the log (see [Disk.ID]) is in buffer.id and in every
// segment header: a deleted buffer.id is restored from the headers and
// counted in [Stats].Faults. A deleted cursors.log loses the cursors: every
// consumer starts again at the oldest retained point, and the fault is
// logged and counted in Stats.Faults.
//
// A failed write or fsync is sticky: the Append or Commit waiting for it and
// every later one return the error (wrapping the operating system's, so
// errors.Is(err, syscall.ENOSPC) works), because after a failed fsync the
// state of the file is unknown. Reads go on. Close and reopen the directory
// to recover what was durable.
//
// Consumer cursors are kept in cursors.log beside the segments and made
// durable by the same group commit as the points.
//
// # Events
//
// The event log (see [EventLog]) lives in the subdirectory "events", in its
// own segment files (*.evs, one record per AppendEvents batch with a CRC32-C
// checksum) and a state file holding the event cursors. AppendEvents returns
// once its record is fsynced, whatever the Sync policy (concurrent appenders
// share fsyncs); CommitEvents rewrites the state file atomically. Reopening
// checks every event record: a bad record at the end of the newest segment is
// cut as a torn tail (counted in [EventStats].Truncated, and reported as
// DropCorrupt if the state file shows those events were durable), a bad
// record in an older segment quarantines it like a point segment. Retention
// uses MaxAge and EventMaxBytes, whole event segments at a time
// (EventSegmentBytes).
type Disk struct {
	cfg  DiskConfig
	dir  string
	ev   *diskEvents
	id   string
	idb  [segIDLen]byte
	log  *slog.Logger
	lock *os.File

	mu       sync.Mutex
	closed   bool
	failed   error // the first I/O error of the sync loop; appends fail after it
	segs     []*segment
	next     Offset
	durable  Offset
	cursors  map[string]Offset
	readers  map[string]*segReader
	readErr  map[string]error // a corruption found after a Read returned points
	ops      []diskOp
	curBuf   []byte // cursor records waiting for the sync loop
	pending  int64  // bytes in ops
	gen      uint64 // generation of the ops being gathered
	synced   uint64 // last generation made durable
	queued   uint64 // generation of the last queued op
	notify   chan struct{}
	free     [][]byte
	encCache *segEncoder
	bytes    int64

	appended, batches, syncs, rejected uint64
	dropped                            DropCounts
	droppedBytes, truncated            int64
	quarantined                        []string
	faults                             Faults
	lost                               []span // offsets reported lost, for the state record

	kick chan struct{}
	quit chan struct{}
	done chan struct{}

	// Owned by the sync loop.
	files   map[*segment]*segFile
	zeros   []byte
	curFile *segFile // cursors.log, preallocated like a segment
	markSeg *segment // the newest segment: its header holds the durable mark

	markDelay time.Duration
}

var _ Buffer = (*Disk)(nil)

// OpenDisk opens the buffer in cfg.Dir, creating it if needed, and
// recovers from a crash: see [Disk]. Corrupt segments found while
// opening are quarantined and reported to OnDrop; they do not fail the open.
func OpenDisk(cfg DiskConfig) (*Disk, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	if err := os.MkdirAll(cfg.Dir, 0o755); err != nil {
		return nil, fmt.Errorf("buffer: disk: %w", err)
	}
	lock, err := lockDir(cfg.Dir)
	if err != nil {
		return nil, err
	}
	b := &Disk{
		cfg: cfg, dir: cfg.Dir, log: cfg.Logger, lock: lock, markDelay: markDelay,
		readers: make(map[string]*segReader),
		readErr: make(map[string]error),
		notify:  make(chan struct{}),
		gen:     1,
		kick:    make(chan struct{}, 1),
		quit:    make(chan struct{}),
		done:    make(chan struct{}),
		files:   make(map[*segment]*segFile),
	}
	events, err := b.recover()
	if err == nil {
		// Retention before the first append: what expired while the buffer
		// was closed goes now. The cursor log, rewritten with the state after
		// it, is durable before the files go.
		events = append(events, b.retainLocked(b.cfg.Now())...)
		b.curBuf = nil
		err = b.writeCursorLog()
	}
	if err == nil {
		err = b.write(b.ops, nil, nil, logState{}, 0, false)
		b.ops = nil
	}
	if err == nil {
		err = b.startActive()
	}
	if err == nil {
		var evDrops []DropEvent
		b.ev, evDrops, err = openDiskEvents(cfg, cfg.Dir, b.idb, b.report)
		events = append(events, evDrops...)
	}
	if err != nil {
		for _, f := range b.files {
			f.f.Close()
		}
		if b.curFile != nil {
			b.curFile.f.Close()
		}
		unlockDir(lock)
		return nil, err
	}
	b.report(events)
	go b.syncLoop()
	return b, nil
}

// startActive creates the segment new points go to, synchronously.
func (b *Disk) startActive() error {
	if n := len(b.segs); n > 0 && b.segs[n-1].meta.count == 0 && b.segs[n-1].base == b.next {
		// An empty sealed segment with the same name: replace it.
		s := b.segs[n-1]
		if err := os.Remove(filepath.Join(b.dir, s.name)); err != nil {
			return fmt.Errorf("buffer: disk: %w", err)
		}
		b.bytes -= s.bytes
		b.segs = b.segs[:n-1]
	}
	s := b.newSegment()
	f, err := os.OpenFile(filepath.Join(b.dir, s.name), os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err == nil {
		_, err = f.Write(appendSegHeader(nil, s.base, b.idb, b.durable))
		if err == nil {
			err = f.Sync()
		}
		if err == nil {
			err = syncDir(b.dir)
		}
		if err != nil {
			f.Close()
		}
	}
	if err != nil {
		return fmt.Errorf("buffer: disk: starting a segment: %w", err)
	}
	s.durEnd = segHeaderSize
	b.files[s] = &segFile{f: f, wpos: segHeaderSize, alloc: segHeaderSize, mark: b.durable}
	b.markSeg = s
	b.segs = append(b.segs, s)
	b.bytes += s.bytes
	return nil
}

func (b *Disk) newSegment() *segment {
	enc := b.encCache
	if enc == nil {
		enc = newSegEncoder()
	} else {
		b.encCache = nil
		enc.reset()
	}
	return &segment{name: segName(b.next), base: b.next, bytes: segHeaderSize, enc: enc}
}

func (b *Disk) active() *segment { return b.segs[len(b.segs)-1] }

// opFor returns the op that gathers data for the active segment.
func (b *Disk) opFor(s *segment) *diskOp {
	if n := len(b.ops); n > 0 && b.ops[n-1].seg == s && !b.ops[n-1].seal && !b.ops[n-1].remove {
		return &b.ops[n-1]
	}
	var buf []byte
	if n := len(b.free); n > 0 {
		buf, b.free = b.free[n-1][:0], b.free[:n-1]
	}
	b.ops = append(b.ops, diskOp{seg: s, data: buf, durCount: s.meta.count, durEnd: s.bytes})
	return &b.ops[len(b.ops)-1]
}

// rollLocked seals the active segment and starts the next one.
func (b *Disk) rollLocked() {
	s := b.active()
	op := b.opFor(s)
	op.data = appendTrailer(op.data, s.meta)
	op.seal = true
	s.sealed = true
	s.bytes += trailerSize
	b.bytes += trailerSize
	b.pending += trailerSize
	b.encCache, s.enc = s.enc, nil

	n := b.newSegment()
	b.segs = append(b.segs, n)
	b.ops = append(b.ops, diskOp{seg: n, create: true, data: appendSegHeader(nil, n.base, b.idb, b.durable), durEnd: segHeaderSize, mark: b.durable})
	b.bytes += n.bytes
	b.pending += n.bytes
	b.queued = b.gen
}

// Deliver appends batch, so a Disk can be the Sink of a Collector.
func (b *Disk) Deliver(ctx context.Context, batch []scada.Point) error {
	_, err := b.Append(ctx, batch)
	return err
}

// Append implements [Buffer]. With SyncGroupCommit it returns after the fsync
// that covers the batch; if ctx ends first it returns ctx.Err(), and the batch,
// already appended, still becomes durable.
func (b *Disk) Append(ctx context.Context, batch []scada.Point) (Offset, error) {
	if err := checkBatch(batch); err != nil {
		b.mu.Lock()
		b.rejected++
		b.mu.Unlock()
		return 0, err
	}
	b.mu.Lock()
	for {
		if b.closed {
			b.mu.Unlock()
			return 0, scada.ErrClosed
		}
		if b.failed != nil {
			err := b.failed
			b.mu.Unlock()
			return 0, err
		}
		if b.pending < b.cfg.MaxPending || len(batch) == 0 {
			break
		}
		ch := b.notify
		b.mu.Unlock()
		b.wake()
		if err := waitCh(ctx, ch); err != nil {
			return 0, err
		}
		b.mu.Lock()
	}
	first := b.next
	if len(batch) == 0 {
		b.mu.Unlock()
		return first, nil
	}
	now := b.cfg.Now()
	ns := now.UnixNano()
	for len(batch) > 0 {
		chunk := batch[:min(len(batch), maxRecordPoints)]
		batch = batch[len(chunk):]
		s := b.active()
		op := b.opFor(s)
		before := len(op.data)
		op.data = s.enc.appendRecord(op.data, uint64(b.next-s.base), ns, chunk)
		n := int64(len(op.data) - before)
		s.meta.add(ns, chunk)
		s.bytes += n
		b.bytes += n
		b.pending += n
		b.next += Offset(len(chunk))
		op.durCount, op.durEnd = s.meta.count, s.bytes
		if s.bytes >= b.cfg.SegmentBytes {
			b.rollLocked()
		}
	}
	b.appended += uint64(b.next - first)
	b.batches++
	b.queued = b.gen
	gen := b.gen
	events := b.retainLocked(now)
	urgent := b.cfg.Sync == SyncGroupCommit || b.pending >= b.cfg.MaxPending
	b.mu.Unlock()
	b.report(events)
	if !urgent {
		return first, nil
	}
	b.wake()
	if b.cfg.Sync != SyncGroupCommit {
		return first, nil
	}
	return first, b.waitSynced(ctx, gen)
}

func (b *Disk) wake() {
	select {
	case b.kick <- struct{}{}:
	default:
	}
}

// waitSynced waits until generation gen is durable.
func (b *Disk) waitSynced(ctx context.Context, gen uint64) error {
	for {
		b.mu.Lock()
		if b.synced >= gen {
			b.mu.Unlock()
			return nil
		}
		if b.failed != nil {
			err := b.failed
			b.mu.Unlock()
			return err
		}
		ch := b.notify
		b.mu.Unlock()
		if err := waitCh(ctx, ch); err != nil {
			return err
		}
	}
}

// Sync makes every point appended and every cursor committed before the call
// durable, and waits for it. It is how a SyncInterval buffer confirms a batch.
func (b *Disk) Sync(ctx context.Context) error {
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return scada.ErrClosed
	}
	gen := b.queued
	b.mu.Unlock()
	b.wake()
	return b.waitSynced(ctx, gen)
}

// markDelay is how long the sync loop waits, once appends stop, before it
// writes the durable mark of the last group commit into the active
// segment's header with an fsync of its own. While appends go on, each group
// commit carries the mark of the one before at no extra cost.
// A variable so that tests can hold the mark back, as a crash at the wrong
// moment would.
var markDelay = 20 * time.Millisecond

// syncLoop writes queued ops, fsyncs and publishes the durable state; it is
// the only goroutine that writes files after OpenDisk returns.
func (b *Disk) syncLoop() {
	defer close(b.done)
	var tick <-chan time.Time
	if b.cfg.Sync == SyncInterval {
		t := time.NewTicker(b.cfg.SyncInterval)
		defer t.Stop()
		tick = t.C
	}
	retain := time.NewTicker(time.Minute)
	defer retain.Stop()
	markTimer := time.NewTimer(b.markDelay)
	markTimer.Stop()
	defer markTimer.Stop()
	for {
		quitting, markOnly := false, false
		select {
		case <-b.kick:
		case <-tick:
		case <-b.quit:
			quitting = true
		case <-retain.C:
			b.mu.Lock()
			events := b.retainLocked(b.cfg.Now())
			b.mu.Unlock()
			b.report(events)
		case <-markTimer.C:
			markOnly = true
		}
		if b.round(markOnly, quitting) {
			markTimer.Reset(b.markDelay)
		}
		if quitting {
			b.closeFiles()
			return
		}
	}
}

// round does one group commit. markOnly asks for the durable mark to be
// written even if nothing else is; final is the last round, on Close. It
// reports whether the mark in the active segment's header is behind.
func (b *Disk) round(markOnly, final bool) bool {
	b.mu.Lock()
	ops, curs := b.ops, b.curBuf
	b.ops, b.curBuf = nil, nil
	gen := b.gen
	b.gen++
	b.pending = 0
	var snapshot map[string]Offset
	var st logState
	if len(curs) > 0 && b.curFile.wpos+int64(len(curs)) > cursorCompactBytes {
		snapshot = make(map[string]Offset, len(b.cursors))
		for k, v := range b.cursors {
			snapshot[k] = v
		}
		st = b.stateLocked(b.durable)
	}
	failed := b.failed
	mark, next := b.durable, b.next
	b.mu.Unlock()

	var err error
	if failed == nil && (len(ops) > 0 || len(curs) > 0 || markOnly || final) {
		err = b.write(ops, curs, snapshot, st, mark, markOnly)
		if err == nil && final {
			// Everything is durable now: say so in the header of an active
			// segment that Close did not seal (it holds no points).
			err = b.finalMark(next)
		}
	}

	b.mu.Lock()
	if err != nil && b.failed == nil {
		b.failed = fmt.Errorf("buffer: disk: %w", err)
		b.log.Error("buffer: disk buffer write failed; appends fail from now on", "err", err)
	}
	if err == nil && failed == nil {
		for _, op := range ops {
			if op.remove {
				continue
			}
			op.seg.durCount, op.seg.durEnd = op.durCount, op.durEnd
			b.durable = max(b.durable, op.seg.base+Offset(op.durCount))
		}
		if len(ops) > 0 || len(curs) > 0 {
			b.syncs++
		}
	}
	if err == nil && failed == nil {
		b.synced = gen
	}
	for _, op := range ops {
		if cap(op.data) <= 4<<20 && len(b.free) < 4 && !op.create && !op.seal {
			b.free = append(b.free, op.data[:0])
		}
	}
	behind := false
	if sf := b.files[b.markSeg]; sf != nil && b.failed == nil {
		behind = sf.mark < b.durable
	}
	close(b.notify)
	b.notify = make(chan struct{})
	b.mu.Unlock()
	return behind
}

// finalMark writes next as the durable mark of the active segment, if it is
// still open, and fdatasyncs it. Only after everything is durable, on Close.
func (b *Disk) finalMark(next Offset) error {
	sf := b.files[b.markSeg]
	if sf == nil || sf.mark >= next {
		return nil
	}
	if _, err := sf.f.WriteAt(appendMark(nil, next), segMarkAt); err != nil {
		return err
	}
	sf.mark = next
	return fdatasync(sf.f)
}

// segFile is a segment (or the cursor log) open for writing. The file is extended with zeros
// ahead of the data (preallocated) in steps, so that most group commits
// overwrite blocks that already exist and need only fdatasync, not a journal
// commit of the file's size. Sealing cuts the zeros off.
type segFile struct {
	f     *os.File
	wpos  int64  // where the next record goes
	alloc int64  // file size, zeros from wpos on
	meta  bool   // the size changed since the last sync: full fsync needed
	mark  Offset // the durable mark in the header (segments only)
}

// preallocStep returns how far ahead of the data a segment file is extended.
func (b *Disk) preallocStep() int64 {
	return min(max(b.cfg.SegmentBytes/4, 64<<10), 4<<20)
}

// writeAt writes data at sf's write position, first extending the file with
// zeros to the next multiple of step if data would pass its end.
func (b *Disk) writeAt(sf *segFile, data []byte, step int64) error {
	if end := sf.wpos + int64(len(data)); end > sf.alloc {
		want := (end + step - 1) / step * step
		if b.zeros == nil {
			b.zeros = make([]byte, 64<<10)
		}
		for sf.alloc < want {
			n := min(int64(len(b.zeros)), want-sf.alloc)
			if _, err := sf.f.WriteAt(b.zeros[:n], sf.alloc); err != nil {
				return err
			}
			sf.alloc += n
		}
		sf.meta = true
	}
	if _, err := sf.f.WriteAt(data, sf.wpos); err != nil {
		return err
	}
	sf.wpos += int64(len(data))
	return nil
}

// write does the file work of one round: ops in order, then the cursor
// records (the whole cursor log when snapshot is set, with st as its state),
// then the durable mark into the active segment's header when that file is
// written anyway (or force is set), then one fdatasync per file written.
// When the round removes segments (retention), the cursor records (whose
// state says so) are made durable first, so that a crash cannot leave a
// segment gone without the record that explains it.
func (b *Disk) write(ops []diskOp, curs []byte, snapshot map[string]Offset, st logState, mark Offset, force bool) error {
	dirty := make(map[*segFile]bool)
	dirSync := false
	if len(curs) > 0 && slices.ContainsFunc(ops, func(op diskOp) bool { return op.remove }) {
		if err := b.writeCursors(curs, snapshot, st, dirty); err != nil {
			return err
		}
		if dirty[b.curFile] {
			if err := b.syncFile(b.curFile); err != nil {
				return err
			}
			delete(dirty, b.curFile)
		}
		curs = nil
	}
	for _, op := range ops {
		path := filepath.Join(b.dir, op.seg.name)
		if op.remove {
			if sf := b.files[op.seg]; sf != nil {
				sf.f.Close()
				delete(b.files, op.seg)
			}
			if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
				return err
			}
			dirSync = true
			continue
		}
		sf := b.files[op.seg]
		if op.create {
			f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
			if err != nil {
				return err
			}
			sf = &segFile{f: f, meta: true, mark: op.mark}
			b.files[op.seg] = sf
			b.markSeg = op.seg
			dirSync = true
		}
		if sf == nil {
			return fmt.Errorf("segment %s is not open for writing", op.seg.name)
		}
		if err := b.writeAt(sf, op.data, b.preallocStep()); err != nil {
			return err
		}
		if op.seal {
			delete(dirty, sf)
			delete(b.files, op.seg)
			err := sf.f.Truncate(sf.wpos)
			if err == nil {
				err = sf.f.Sync()
			}
			if err == nil && op.final && op.seg == b.markSeg {
				// Close: every point is durable now. Say so in the header,
				// so that damage found on the next open is not taken for a
				// torn tail.
				if _, err = sf.f.WriteAt(appendMark(nil, op.seg.end()), segMarkAt); err == nil {
					err = fdatasync(sf.f)
				}
			}
			if cerr := sf.f.Close(); err == nil {
				err = cerr
			}
			if err != nil {
				return err
			}
			continue
		}
		dirty[sf] = true
	}
	if len(curs) > 0 {
		if err := b.writeCursors(curs, snapshot, st, dirty); err != nil {
			return err
		}
	}
	if sf := b.files[b.markSeg]; sf != nil && sf.mark < mark && (force || dirty[sf]) {
		if _, err := sf.f.WriteAt(appendMark(nil, mark), segMarkAt); err != nil {
			return err
		}
		sf.mark = mark
		dirty[sf] = true
	}
	for sf := range dirty {
		if err := b.syncFile(sf); err != nil {
			return err
		}
	}
	if dirSync {
		return syncDir(b.dir)
	}
	return nil
}

func (b *Disk) syncFile(sf *segFile) error {
	var err error
	if sf.meta {
		err = sf.f.Sync()
	} else {
		err = fdatasync(sf.f)
	}
	if err == nil {
		sf.meta = false
	}
	return err
}

// writeCursors appends cursor records to the cursor log, or rewrites it
// compactly from snapshot and st.
func (b *Disk) writeCursors(curs []byte, snapshot map[string]Offset, st logState, dirty map[*segFile]bool) error {
	if snapshot == nil {
		if err := b.writeAt(b.curFile, curs, 64<<10); err != nil {
			return err
		}
		dirty[b.curFile] = true
		return nil
	}
	compact := encodeCursors(snapshot, st)
	delete(dirty, b.curFile)
	b.curFile.f.Close()
	b.curFile = nil
	if err := writeFileSync(b.dir, cursorFile, compact); err != nil {
		return err
	}
	f, err := os.OpenFile(filepath.Join(b.dir, cursorFile), os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	b.curFile = &segFile{f: f, wpos: int64(len(compact)), alloc: int64(len(compact))}
	return nil
}

func (b *Disk) closeFiles() {
	for s, sf := range b.files {
		sf.f.Close()
		delete(b.files, s)
	}
	if b.curFile != nil {
		b.curFile.f.Close()
		b.curFile = nil
	}
}

// retainLocked drops whole segments that are too old or over the byte cap.
//
// The state record in the cursor log moves First with it, so that a reopen
// tells these segments from segments deleted behind the buffer's back.
func (b *Disk) retainLocked(now time.Time) (events []DropEvent) {
	removed := false
	defer func() {
		if removed {
			b.curBuf = appendStateRecord(b.curBuf, b.stateLocked(b.durable))
		}
	}()
	cutoff := now.Add(-b.cfg.MaxAge).UnixNano()
	for len(b.segs) > 0 {
		s := b.segs[0]
		var reason DropReason
		switch {
		case s.meta.count == 0 && s.sealed:
		case b.cfg.MaxAge > 0 && s.meta.count > 0 && s.meta.maxAppend < cutoff:
			reason = DropAge
		case b.cfg.MaxBytes > 0 && b.bytes > b.cfg.MaxBytes && s.meta.count > 0:
			reason = DropBytes
		default:
			return events
		}
		if !s.sealed {
			b.rollLocked()
		}
		b.segs = b.segs[1:]
		b.bytes -= s.bytes
		b.ops = append(b.ops, diskOp{seg: s, remove: true})
		removed = true
		b.queued = b.gen
		if reason == 0 {
			continue
		}
		e := DropEvent{
			Reason: reason, From: s.base, To: s.end(), Points: s.meta.count, Bytes: s.bytes,
			Oldest: time.Unix(0, s.meta.minAppend).UTC(), Newest: time.Unix(0, s.meta.maxAppend).UTC(),
			Unread: dropUnread(b.cursors, s.base, s.end()),
		}
		b.dropped.add(reason, e.Points)
		b.droppedBytes += e.Bytes
		events = append(events, e)
	}
	return events
}

func (b *Disk) report(events []DropEvent) { reportDrops(b.log, b.cfg.OnDrop, events) }

func (b *Disk) firstLocked() Offset {
	if len(b.segs) == 0 {
		return b.next
	}
	return b.segs[0].base
}

// segView is what a reader needs of a segment, copied under the lock.
type segView struct {
	seg   *segment
	path  string
	base  Offset
	end   Offset // durable end offset
	limit int64  // durable end of the records in the file
	meta  segMeta
}

func (b *Disk) viewLocked(s *segment) segView {
	return segView{seg: s, path: filepath.Join(b.dir, s.name), base: s.base, end: s.durEndOffset(), limit: s.durEnd, meta: s.meta}
}

// segAtLocked returns the index of the segment holding off or the first one after it.
func (b *Disk) segAtLocked(off Offset) int {
	return sort.Search(len(b.segs), func(i int) bool { return b.segs[i].end() > off })
}

// quarantine takes a corrupt segment out of the log after a read found it bad.
func (b *Disk) quarantine(v segView, ce *CorruptError) {
	b.mu.Lock()
	idx := -1
	for i, s := range b.segs {
		if s == v.seg {
			idx = i
		}
	}
	if idx < 0 || b.closed {
		b.mu.Unlock()
		return
	}
	if idx == len(b.segs)-1 {
		b.rollLocked()
	}
	s := b.segs[idx]
	if err := b.quarantineFile(s.name, ce); err != nil {
		b.log.Error("buffer: disk buffer could not quarantine a corrupt segment", "file", v.path, "err", err)
	}
	b.segs = append(b.segs[:idx:idx], b.segs[idx+1:]...)
	b.bytes -= s.bytes
	// The state record says these offsets are reported, so that a reopen
	// does not report them again.
	b.lost = addSpan(b.lost, span{s.base, s.end()})
	b.curBuf = appendStateRecord(b.curBuf, b.stateLocked(b.durable))
	b.queued = b.gen
	e := DropEvent{
		Reason: DropCorrupt, From: s.base, To: s.end(), Points: s.meta.count, Bytes: s.bytes,
		Oldest: time.Unix(0, s.meta.minAppend).UTC(), Newest: time.Unix(0, s.meta.maxAppend).UTC(),
		Unread: dropUnread(b.cursors, s.base, s.end()), Err: ce,
	}
	b.dropped.add(DropCorrupt, e.Points)
	b.droppedBytes += e.Bytes
	b.mu.Unlock()
	b.report([]DropEvent{e})
}

// seek positions sr (reopened if it cannot get there) at off inside v, and
// returns it with the points from off to the end of its current record.
func seek(sr *segReader, v segView, off Offset) (*segReader, []scada.Point, error) {
	if sr != nil && (sr.path != v.path || sr.base != v.base || off < sr.first) {
		sr.close()
		sr = nil
	}
	if sr == nil {
		var err error
		if sr, err = openSegReader(v.path); err != nil {
			return nil, nil, err
		}
		if sr.base != v.base {
			sr.close()
			return nil, nil, &CorruptError{File: v.path, Reason: "header base offset does not match the file name"}
		}
	}
	for off >= sr.next {
		ok, err := sr.nextRecord(v.limit)
		if err != nil {
			sr.close()
			return nil, nil, err
		}
		if !ok {
			return sr, nil, nil
		}
	}
	sr.i = int(off - sr.first)
	return sr, sr.pts[sr.i:], nil
}

// Read implements [Buffer].
func (b *Disk) Read(ctx context.Context, consumer string, max int) (Batch, error) {
	if err := checkConsumer(consumer); err != nil {
		return Batch{}, err
	}
	if max <= 0 {
		max = DefaultReadMax
	}
	for {
		b.mu.Lock()
		if b.closed {
			b.mu.Unlock()
			return Batch{}, scada.ErrClosed
		}
		events := b.retainLocked(b.cfg.Now())
		if err := b.readErr[consumer]; err != nil {
			delete(b.readErr, consumer)
			b.mu.Unlock()
			b.report(events)
			return Batch{}, err
		}
		cur, ok := b.cursors[consumer]
		if !ok {
			cur = b.firstLocked()
			b.cursors[consumer] = cur
		}
		if v, ok := b.readableLocked(cur); ok {
			sr := b.readers[consumer]
			delete(b.readers, consumer)
			b.mu.Unlock()
			b.report(events)
			batch, err := b.readRun(consumer, sr, v, cur, max)
			if errors.Is(err, os.ErrNotExist) {
				continue // dropped by retention meanwhile: look again
			}
			return batch, err
		}
		ch := b.notify
		b.mu.Unlock()
		b.report(events)
		if err := waitCh(ctx, ch); err != nil {
			return Batch{}, err
		}
	}
}

// readableLocked returns the segment to read from cur, if a durable point at
// or after cur is retained.
func (b *Disk) readableLocked(cur Offset) (segView, bool) {
	if cur >= b.durable {
		return segView{}, false
	}
	i := b.segAtLocked(cur)
	if i == len(b.segs) || b.segs[i].base >= b.durable {
		return segView{}, false
	}
	return b.viewLocked(b.segs[i]), true
}

// readRun reads up to max points for consumer from cur in v and on into the
// segments that follow without a gap, then caches the reader for the
// consumer's next Read.
func (b *Disk) readRun(consumer string, sr *segReader, v segView, cur Offset, max int) (Batch, error) {
	batch, sr, err := b.readFrom(sr, v, cur, max)
	for err == nil && len(batch.Points) > 0 && len(batch.Points) < max {
		next := batch.Next()
		b.mu.Lock()
		v, ok := b.readableLocked(next)
		b.mu.Unlock()
		if !ok || v.base != next {
			break
		}
		var more Batch
		more, sr, err = b.readFrom(sr, v, next, max-len(batch.Points))
		batch.Points = append(batch.Points, more.Points...)
		if len(more.Points) == 0 {
			break
		}
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if err != nil && len(batch.Points) > 0 {
		// Deliver what was read. A corruption is returned by the next Read,
		// which then goes on past the quarantined segment.
		if errors.As(err, new(*CorruptError)) {
			b.readErr[consumer] = err
		}
		err = nil
	}
	if sr != nil && !b.closed && b.readers[consumer] == nil {
		b.readers[consumer] = sr
	} else if sr != nil {
		sr.close()
	}
	return batch, err
}

// readFrom reads up to max points from cur within one segment. A corrupt
// segment is quarantined; the error says where.
func (b *Disk) readFrom(sr *segReader, v segView, cur Offset, max int) (Batch, *segReader, error) {
	var batch Batch
	if cur < v.base {
		batch.Missed, cur = uint64(v.base-cur), v.base
	}
	batch.First = cur
	sr, pts, err := seek(sr, v, cur)
	for err == nil && len(pts) > 0 {
		pts = pts[:min(len(pts), max-len(batch.Points), int(v.end-cur))]
		batch.Points = append(batch.Points, pts...)
		cur += Offset(len(pts))
		if len(batch.Points) >= max || cur >= v.end {
			break
		}
		sr, pts, err = seek(sr, v, cur)
	}
	if err != nil {
		var ce *CorruptError
		if errors.As(err, &ce) {
			b.quarantine(v, ce)
		}
		return batch, nil, err
	}
	return batch, sr, nil
}

// Commit implements [Buffer]. With SyncGroupCommit it returns once the cursor
// is durable.
func (b *Disk) Commit(ctx context.Context, consumer string, next Offset) error {
	return b.setCursor(ctx, consumer, func() (Offset, error) {
		if next > b.next {
			return 0, fmt.Errorf("%w: commit of %d for %q, the log ends at %d", ErrOutOfRange, next, consumer, b.next)
		}
		b.cursors[consumer] = next
		return next, nil
	})
}

// Forget implements [Buffer]. With SyncGroupCommit it returns once the
// removal is durable.
func (b *Disk) Forget(ctx context.Context, consumer string) error {
	return b.setCursor(ctx, consumer, func() (Offset, error) {
		delete(b.cursors, consumer)
		delete(b.readErr, consumer)
		if sr := b.readers[consumer]; sr != nil {
			sr.close()
			delete(b.readers, consumer)
		}
		return forgotten, nil
	})
}

// setCursor runs change under the lock, unless the buffer is closed or has
// failed, and queues the cursor record it returns for cursors.log. With
// SyncGroupCommit it returns once that record is durable.
func (b *Disk) setCursor(ctx context.Context, consumer string, change func() (Offset, error)) error {
	if err := checkConsumer(consumer); err != nil {
		return err
	}
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return scada.ErrClosed
	}
	if b.failed != nil {
		err := b.failed
		b.mu.Unlock()
		return err
	}
	rec, err := change()
	if err != nil {
		b.mu.Unlock()
		return err
	}
	b.curBuf = appendCursorRecord(b.curBuf, consumer, rec)
	b.queued = b.gen
	gen := b.gen
	b.mu.Unlock()
	if b.cfg.Sync != SyncGroupCommit {
		return nil
	}
	b.wake()
	return b.waitSynced(ctx, gen)
}

// views returns the segments to read from off, after retention.
func (b *Disk) views() ([]segView, Offset, error) {
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return nil, 0, scada.ErrClosed
	}
	events := b.retainLocked(b.cfg.Now())
	vs := make([]segView, 0, len(b.segs))
	for _, s := range b.segs {
		if s.durCount > 0 {
			vs = append(vs, b.viewLocked(s))
		}
	}
	first := b.firstLocked()
	b.mu.Unlock()
	b.report(events)
	return vs, first, nil
}

// scan yields the records of the segments in vs from off, with gaps as Missed.
// Corrupt segments are quarantined and yielded as errors; the scan goes on.
func (b *Disk) scan(ctx context.Context, vs []segView, first, off Offset, yield func(Batch, error) bool) {
	var missed uint64
	if off < first {
		missed, off = uint64(first-off), first
	}
	for _, v := range vs {
		if v.end <= off {
			continue
		}
		if v.base > off {
			missed += uint64(v.base - off)
			off = v.base
		}
		sr, pts, err := seek(nil, v, off)
		for err == nil && len(pts) > 0 {
			if err := ctx.Err(); err != nil {
				sr.close()
				yield(Batch{}, err)
				return
			}
			pts = pts[:min(len(pts), int(v.end-off))]
			if !yield(Batch{First: off, Points: pts, Missed: missed}, nil) {
				sr.close()
				return
			}
			missed = 0
			off += Offset(len(pts))
			if off >= v.end {
				break
			}
			sr, pts, err = seek(sr, v, off)
		}
		if sr != nil {
			sr.close()
		}
		if err != nil {
			var ce *CorruptError
			if errors.Is(err, os.ErrNotExist) {
				// Dropped by retention while we read.
				missed += uint64(v.end - off)
				off = v.end
				continue
			}
			if !errors.As(err, &ce) {
				yield(Batch{}, err)
				return
			}
			b.quarantine(v, ce)
			if !yield(Batch{}, err) {
				return
			}
			missed += uint64(v.end - off)
			off = v.end
		}
	}
}

// Scan implements [Buffer].
func (b *Disk) Scan(ctx context.Context, from Offset) iter.Seq2[Batch, error] {
	return func(yield func(Batch, error) bool) {
		vs, first, err := b.views()
		if err != nil {
			yield(Batch{}, err)
			return
		}
		b.scan(ctx, vs, first, from, yield)
	}
}

// Recent implements [Buffer]. Segments whose newest point time is older than
// the window are skipped without reading them.
func (b *Disk) Recent(ctx context.Context, window time.Duration) iter.Seq2[scada.Point, error] {
	return func(yield func(scada.Point, error) bool) {
		vs, _, err := b.views()
		if err != nil {
			yield(scada.Point{}, err)
			return
		}
		cutoff := b.cfg.Now().Add(-window).UnixNano()
		keep := vs[:0]
		for _, v := range vs {
			if v.meta.maxTime >= cutoff {
				keep = append(keep, v)
			}
		}
		if len(keep) == 0 {
			return
		}
		b.scan(ctx, keep, keep[0].base, keep[0].base, func(batch Batch, err error) bool {
			if err != nil {
				return yield(scada.Point{}, err)
			}
			for _, p := range batch.Points {
				if timeKey(p.Time) >= cutoff && !yield(p, nil) {
					return false
				}
			}
			return true
		})
	}
}

// ID returns the identity of the log in the buffer's directory: created with
// the directory and kept across restarts (in buffer.id and in every segment
// header, so losing the file does not change it), so offsets paired with it
// name one point for good. A directory wiped and opened again is a new log
// with a new ID.
func (b *Disk) ID() string { return b.id }

// Stats implements [Buffer].
func (b *Disk) Stats() Stats {
	b.mu.Lock()
	defer b.mu.Unlock()
	first := b.firstLocked()
	var points uint64
	for _, s := range b.segs {
		points += s.meta.count
	}
	lag := func(from Offset) uint64 {
		var n uint64
		for _, s := range b.segs {
			if lo, hi := max(from, s.base), s.durEndOffset(); hi > lo {
				n += uint64(hi - lo)
			}
		}
		return n
	}
	return Stats{
		First: first, Next: b.next, Durable: b.durable,
		Points: points, Bytes: b.bytes, Segments: len(b.segs),
		Appended: b.appended, Batches: b.batches, Rejected: b.rejected,
		Dropped: b.dropped, DroppedBytes: b.droppedBytes,
		Syncs: b.syncs, Truncated: b.truncated,
		Quarantined: append([]string(nil), b.quarantined...),
		Faults:      b.faults,
		Consumers:   consumerStats(b.cursors, first, lag),
	}
}

// Close implements [Buffer]: it seals the active segment, makes everything
// appended and committed durable, stops the sync loop and releases the
// directory. It returns the first write error the buffer met, if any.
func (b *Disk) Close() error {
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return scada.ErrClosed
	}
	if b.failed == nil && len(b.segs) > 0 {
		if s := b.active(); s.meta.count > 0 {
			op := b.opFor(s)
			op.data = appendTrailer(op.data, s.meta)
			op.seal, op.final = true, true
			s.sealed = true
			s.bytes += trailerSize
		}
	}
	if b.failed == nil {
		b.curBuf = appendStateRecord(b.curBuf, b.stateLocked(b.next))
	}
	b.closed = true
	for name, sr := range b.readers {
		sr.close()
		delete(b.readers, name)
	}
	b.mu.Unlock()
	close(b.quit)
	<-b.done
	evErr := b.ev.close()
	b.mu.Lock()
	err := b.failed
	b.mu.Unlock()
	unlockDir(b.lock)
	if err == nil {
		err = evErr
	}
	return err
}
