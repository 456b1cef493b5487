package jetstream

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// Defaults of StreamConfig for zero-valued fields.
const (
	DefaultMaxAge     = 7 * 24 * time.Hour
	DefaultDuplicates = 10 * time.Minute
)

// StreamConfig is the stream [EnsureStream] creates or checks.
type StreamConfig struct {
	// Name of the stream. Required.
	Name string
	// Prefix is the subject prefix of the Targets that feed it (default
	// "gl001"); the stream captures <Prefix>.points.>.
	Prefix string
	// Replicas is the number of copies in a cluster (default 1; 3 for
	// production clusters).
	Replicas int
	// MaxAge drops messages older than this (default 7 days).
	MaxAge time.Duration
	// MaxBytes caps the stream's size; the oldest messages go first (zero:
	// no cap).
	MaxBytes int64
	// Duplicates is the duplicate window: a batch sent again within it is
	// dropped by its Nats-Msg-Id (default 10 minutes). It should outlast
	// an edge's restart; see the package documentation.
	Duplicates time.Duration
	// Memory keeps the stream in memory instead of files (tests only:
	// it does not survive a server restart).
	Memory bool
}

// ErrStreamConflict is returned by EnsureStream when a stream of that name
// exists with settings that conflict with the requested ones. Not
// retryable: change the stream or the configuration.
var ErrStreamConflict = errors.New("jetstream: existing stream conflicts")

func (c StreamConfig) withDefaults() StreamConfig {
	if c.Prefix == "" {
		c.Prefix = DefaultPrefix
	}
	if c.Replicas == 0 {
		c.Replicas = 1
	}
	if c.MaxAge == 0 {
		c.MaxAge = DefaultMaxAge
	}
	if c.Duplicates == 0 {
		c.Duplicates = DefaultDuplicates
	}
	return c
}

// Validate reports every problem of c, joined with errors.Join.
func (c StreamConfig) Validate() error {
	var errs []error
	if c.Name == "" || strings.ContainsAny(c.Name, ".*> \t\r\n") {
		errs = append(errs, fmt.Errorf("jetstream: stream name %q is not valid", c.Name))
	}
	if c.Prefix != "" && !validSubjectPrefix(c.Prefix) {
		errs = append(errs, fmt.Errorf("jetstream: Prefix %q is not a subject without wildcards", c.Prefix))
	}
	if c.Replicas < 0 || c.Replicas > 5 {
		errs = append(errs, fmt.Errorf("jetstream: Replicas %d not in 1..5", c.Replicas))
	}
	if c.MaxAge < 0 || c.Duplicates < 0 || c.MaxBytes < 0 {
		errs = append(errs, errors.New("jetstream: MaxAge, MaxBytes and Duplicates must not be negative"))
	}
	if d := c.withDefaults(); d.Duplicates > d.MaxAge {
		errs = append(errs, fmt.Errorf("jetstream: duplicate window %v longer than MaxAge %v", d.Duplicates, d.MaxAge))
	}
	return errors.Join(errs...)
}

// Subjects returns the subject filter the stream captures.
func (c StreamConfig) Subjects() string { return c.withDefaults().Prefix + ".points.>" }

// EnsureStream creates the stream c describes, or checks that the existing
// one matches: it captures the subjects, with the storage, replicas, max
// age and duplicate window asked for. A mismatch is an error matching
// [ErrStreamConflict] that names every conflicting setting; EnsureStream
// never changes an existing stream.
func EnsureStream(ctx context.Context, js jetstream.JetStream, c StreamConfig) (jetstream.Stream, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	c = c.withDefaults()
	storage := jetstream.FileStorage
	if c.Memory {
		storage = jetstream.MemoryStorage
	}
	want := jetstream.StreamConfig{
		Name:        c.Name,
		Description: "gl001 points forwarded from edge Buffers",
		Subjects:    []string{c.Subjects()},
		Storage:     storage,
		Replicas:    c.Replicas,
		MaxAge:      c.MaxAge,
		MaxBytes:    c.MaxBytes,
		Duplicates:  c.Duplicates,
		Retention:   jetstream.LimitsPolicy,
		Discard:     jetstream.DiscardOld,
		AllowDirect: true,
	}
	if want.MaxBytes == 0 {
		want.MaxBytes = -1
	}
	st, err := js.CreateStream(ctx, want)
	if err == nil {
		return st, nil
	}
	if !errors.Is(err, jetstream.ErrStreamNameAlreadyInUse) {
		return nil, fmt.Errorf("jetstream: create stream %s: %w", c.Name, err)
	}
	st, err = js.Stream(ctx, c.Name)
	if err != nil {
		return nil, fmt.Errorf("jetstream: stream %s: %w", c.Name, err)
	}
	got := st.CachedInfo().Config
	var diffs []string
	if !slices.Contains(got.Subjects, want.Subjects[0]) {
		diffs = append(diffs, fmt.Sprintf("subjects %v do not include %s", got.Subjects, want.Subjects[0]))
	}
	if got.Storage != want.Storage {
		diffs = append(diffs, fmt.Sprintf("storage %v, want %v", got.Storage, want.Storage))
	}
	if got.Replicas != want.Replicas {
		diffs = append(diffs, fmt.Sprintf("replicas %d, want %d", got.Replicas, want.Replicas))
	}
	if got.MaxAge != want.MaxAge {
		diffs = append(diffs, fmt.Sprintf("max age %v, want %v", got.MaxAge, want.MaxAge))
	}
	if got.Duplicates != want.Duplicates {
		diffs = append(diffs, fmt.Sprintf("duplicate window %v, want %v", got.Duplicates, want.Duplicates))
	}
	if got.MaxBytes != want.MaxBytes {
		diffs = append(diffs, fmt.Sprintf("max bytes %d, want %d", got.MaxBytes, want.MaxBytes))
	}
	if got.Retention != jetstream.LimitsPolicy {
		diffs = append(diffs, fmt.Sprintf("retention %v, want limits", got.Retention))
	}
	if got.NoAck {
		diffs = append(diffs, "no_ack is set: publishes would not be acknowledged")
	}
	if len(diffs) > 0 {
		return nil, fmt.Errorf("%w: stream %s: %s", ErrStreamConflict, c.Name, strings.Join(diffs, "; "))
	}
	return st, nil
}
