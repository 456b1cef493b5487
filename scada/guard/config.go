package guard

import (
	"errors"
	"fmt"
	"log/slog"
	"math"
	"path"
	"time"

	"github.com/greenlang/gl001/scada"
)

// ErrBadConfig marks a Config that [Config.Validate] rejects.
var ErrBadConfig = errors.New("guard: bad config")

// Limits are the checks for one tag. Min and Max are required (a setpoint
// without a range is not writable through the guard); every other zero
// field means "no such limit" or the documented default.
type Limits struct {
	// Min and Max bound the value, inclusive.
	Min, Max float64
	// MaxStep bounds |value - current value|. Zero: no step limit. A step
	// limit needs a trustworthy current value: when the current quality is
	// not Good the write is refused with BadQuality.
	MaxStep float64
	// MaxRate bounds the rate of change, in units per second: |value -
	// current value| divided by the time since the tag's last write through
	// this guard. Zero: no rate limit. The first write through a guard has
	// no previous write to measure from; MaxStep bounds it.
	MaxRate float64
	// MinInterval is the least time between two writes of the tag (counted
	// from the moment the earlier write was sent). Zero: none.
	MinInterval time.Duration
	// RequireGood refuses the write when the tag's current quality is not
	// Good.
	RequireGood bool
	// Tolerance is how far the read-back value may be from the written one.
	// Zero means 1e-9 of the larger magnitude (a float's rounding, not a
	// device's); set it to the device's resolution, e.g. 0.1 for a register
	// scaled by 0.1, or to its float32 rounding.
	Tolerance float64
	// ConfirmWithin is how long the read-back may take. Zero means 5 s.
	ConfirmWithin time.Duration
}

func (l Limits) confirmWithin() time.Duration {
	if l.ConfirmWithin > 0 {
		return l.ConfirmWithin
	}
	return 5 * time.Second
}

func (l Limits) matches(want, got float64) bool {
	tol := l.Tolerance
	if tol == 0 {
		tol = 1e-9 * max(math.Abs(want), math.Abs(got), 1)
	}
	return math.Abs(want-got) <= tol
}

// Rule grants or denies writes: it matches requesters and tags by
// path.Match patterns ("GL-0*", "boiler1.*"); an empty list matches
// anything. Rules are tried in order and the first that matches decides;
// a write no rule matches is refused. The shape is that of coord.Rule, so
// one policy file can hold both; the requester is the authenticated sender
// of the message that asked for the write (coord.Message.From once the
// signature is verified).
type Rule struct {
	Requesters []string
	Tags       []string
	Deny       bool
}

// Config configures a [Guard].
type Config struct {
	// Writer writes to the device. Required.
	Writer scada.Writer
	// Reader reads the current value before the write and the value after
	// it: the Source itself when it implements scada.Reader, or a [Latest]
	// fed by the Source's stream (then the read-back waits for the
	// subscription to report the value). Required.
	Reader scada.Reader
	// Tags holds the limits of every tag that may be written. A tag not in
	// the map is refused with NotConfigured.
	Tags map[string]Limits
	// Rules say who may write which tag. No rules: nobody may write.
	Rules []Rule
	// DryRun checks and audits every write but sends nothing: the result is
	// DryRun instead of Confirmed.
	DryRun bool
	// Logger receives one audit record per attempt (Info when it
	// succeeded, Warn otherwise). Nil discards.
	Logger *slog.Logger
	// OnAudit, if set, receives every audit record, synchronously, after the
	// attempt (store it: the historian keeps them). It must not block long:
	// the tag's next write waits for it.
	OnAudit func(Record)
	// PollInterval is how often the read-back reads the tag when the Reader
	// cannot wait for a change (it does not implement [Awaiter]). Zero
	// means 50 ms.
	PollInterval time.Duration
}

// Validate checks the config and reports every problem at once.
func (c Config) Validate() error {
	var errs []error
	if c.Writer == nil {
		errs = append(errs, fmt.Errorf("%w: no Writer", ErrBadConfig))
	}
	if c.Reader == nil {
		errs = append(errs, fmt.Errorf("%w: no Reader: the guard needs the current value and a read-back", ErrBadConfig))
	}
	for tag, l := range c.Tags {
		bad := func(f string, a ...any) {
			errs = append(errs, fmt.Errorf("%w: tag %q: %s", ErrBadConfig, tag, fmt.Sprintf(f, a...)))
		}
		if tag == "" {
			bad("empty tag name")
		}
		if !finite(l.Min) || !finite(l.Max) || l.Min > l.Max {
			bad("range [%v, %v] is not a finite range", l.Min, l.Max)
		}
		for name, v := range map[string]float64{"MaxStep": l.MaxStep, "MaxRate": l.MaxRate, "Tolerance": l.Tolerance} {
			if !finite(v) || v < 0 {
				bad("%s %v must be zero or positive", name, v)
			}
		}
		if l.MinInterval < 0 || l.ConfirmWithin < 0 {
			bad("negative duration")
		}
	}
	for i, r := range c.Rules {
		for _, list := range [][]string{r.Requesters, r.Tags} {
			for _, pat := range list {
				if _, err := path.Match(pat, ""); err != nil {
					errs = append(errs, fmt.Errorf("%w: rule %d: pattern %q: %w", ErrBadConfig, i, pat, err))
				}
			}
		}
	}
	if c.PollInterval < 0 {
		errs = append(errs, fmt.Errorf("%w: negative PollInterval", ErrBadConfig))
	}
	return errors.Join(errs...)
}

func finite(f float64) bool { return !math.IsNaN(f) && !math.IsInf(f, 0) }

// allowed reports whether the rules let requester write tag.
func allowed(rules []Rule, requester, tag string) bool {
	for _, r := range rules {
		if matchAny(r.Requesters, requester) && matchAny(r.Tags, tag) {
			return !r.Deny
		}
	}
	return false
}

func matchAny(patterns []string, s string) bool {
	if len(patterns) == 0 {
		return true
	}
	for _, p := range patterns {
		if ok, _ := path.Match(p, s); ok {
			return true
		}
	}
	return false
}
