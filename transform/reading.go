package transform

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/greenlang/gl001/scada"
	"github.com/greenlang/gl001/units"
)

// ErrBadReading is matched by every error of [ParseRawReading] and
// [RawReadingFromMap]: the raw reading is malformed. Not retryable: the same
// input fails the same way.
var ErrBadReading = errors.New("transform: malformed raw reading")

// FieldError reports which field of a raw reading is malformed and why. It
// matches [ErrBadReading]. Field is "" when the reading as a whole is
// malformed (not a JSON object, too large).
type FieldError struct {
	Field   string // "sensor_id", "value", "unit", "timestamp" or "calibration_factor"
	Problem string // e.g. "missing", "not a number"
	Err     error  // the underlying error, if any
}

func (e *FieldError) Error() string {
	msg := "transform: malformed raw reading"
	if e.Field != "" {
		msg += ": field " + strconv.Quote(e.Field)
	}
	msg += ": " + e.Problem
	if e.Err != nil {
		msg += ": " + e.Err.Error()
	}
	return msg
}

// Is reports whether target is ErrBadReading.
func (e *FieldError) Is(target error) bool { return target == ErrBadReading }

// Unwrap returns the underlying error.
func (e *FieldError) Unwrap() error { return e.Err }

// Bounds on raw readings.
const (
	MaxRawReadingSize = 64 << 10 // bytes of JSON
	maxSensorIDLen    = 256
	maxUnitLen        = 64
)

// RawReading is one sensor reading as a caller outside the point pipeline
// hands it around: a JSON object or map with sensor_id, value, unit,
// timestamp and calibration_factor.
type RawReading struct {
	SensorID          string    // required, non-empty
	Value             float64   // required, finite
	Unit              string    // "" when not given
	Timestamp         time.Time // zero when not given
	CalibrationFactor float64   // 0 when not given (no calibration)
}

// ParseRawReading decodes a raw reading from a JSON object:
//
//	{"sensor_id": "TT-101", "value": 185.5, "unit": "°F",
//	 "timestamp": "2026-11-27T12:00:00Z", "calibration_factor": 1.02}
//
// sensor_id (a non-empty string) and value (a number) are required. unit is a
// string; timestamp is an RFC 3339 string or a number of Unix seconds;
// calibration_factor is a finite non-zero number. Other fields are ignored. A
// malformed reading returns a *[FieldError] naming the field.
func ParseRawReading(data []byte) (RawReading, error) {
	if len(data) > MaxRawReadingSize {
		return RawReading{}, &FieldError{Problem: fmt.Sprintf("larger than %d bytes", MaxRawReadingSize)}
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(data, &fields); err != nil || fields == nil {
		if err == nil {
			err = errors.New("null")
		}
		return RawReading{}, &FieldError{Problem: "not a JSON object", Err: err}
	}
	get := func(name string) (json.RawMessage, bool) {
		v, ok := fields[name]
		if !ok || bytes.Equal(bytes.TrimSpace(v), []byte("null")) {
			return nil, false
		}
		return v, true
	}
	var raw RawReading
	// sensor_id
	v, ok := get("sensor_id")
	if !ok {
		return RawReading{}, &FieldError{Field: "sensor_id", Problem: "missing"}
	}
	if err := json.Unmarshal(v, &raw.SensorID); err != nil {
		return RawReading{}, &FieldError{Field: "sensor_id", Problem: "not a string"}
	}
	// value
	if v, ok = get("value"); !ok {
		return RawReading{}, &FieldError{Field: "value", Problem: "missing"}
	}
	if raw.Value, ok = jsonNumber(v); !ok {
		return RawReading{}, &FieldError{Field: "value", Problem: "not a finite number"}
	}
	// unit
	if v, ok = get("unit"); ok {
		if err := json.Unmarshal(v, &raw.Unit); err != nil {
			return RawReading{}, &FieldError{Field: "unit", Problem: "not a string"}
		}
	}
	// timestamp
	if v, ok = get("timestamp"); ok {
		var s string
		if json.Unmarshal(v, &s) == nil {
			t, err := time.Parse(time.RFC3339Nano, s)
			if err != nil {
				return RawReading{}, &FieldError{Field: "timestamp", Problem: "not an RFC 3339 time", Err: err}
			}
			raw.Timestamp = t
		} else if secs, ok := jsonNumber(v); ok {
			t, err := unixSeconds(secs)
			if err != nil {
				return RawReading{}, &FieldError{Field: "timestamp", Problem: err.Error()}
			}
			raw.Timestamp = t
		} else {
			return RawReading{}, &FieldError{Field: "timestamp", Problem: "neither an RFC 3339 string nor Unix seconds"}
		}
	}
	// calibration_factor
	if v, ok = get("calibration_factor"); ok {
		if raw.CalibrationFactor, ok = jsonNumber(v); !ok {
			return RawReading{}, &FieldError{Field: "calibration_factor", Problem: "not a finite number"}
		}
		if raw.CalibrationFactor == 0 {
			return RawReading{}, &FieldError{Field: "calibration_factor", Problem: "zero"}
		}
	}
	return raw, raw.check()
}

// jsonNumber decodes a JSON number (not a string) into a finite float64. v is
// one value from a document json.Unmarshal accepted, so it is valid JSON.
func jsonNumber(v json.RawMessage) (float64, bool) {
	v = bytes.TrimSpace(v)
	if len(v) == 0 || v[0] != '-' && (v[0] < '0' || v[0] > '9') {
		return 0, false
	}
	f, err := strconv.ParseFloat(string(v), 64)
	if err != nil || math.IsInf(f, 0) || math.IsNaN(f) {
		return 0, false
	}
	return f, true
}

// unixSeconds converts Unix seconds to a UTC time, refusing what time.Time
// cannot hold exactly enough to be a sensor timestamp.
func unixSeconds(secs float64) (time.Time, error) {
	const limit = 1 << 40 // about 34 800 years
	if math.Abs(secs) >= limit {
		return time.Time{}, errors.New("out of range as Unix seconds")
	}
	whole, frac := math.Modf(secs)
	return time.Unix(int64(whole), int64(frac*1e9)).UTC(), nil
}

// check enforces what both decoders promise.
func (r RawReading) check() error {
	switch {
	case r.SensorID == "":
		return &FieldError{Field: "sensor_id", Problem: "empty"}
	case len(r.SensorID) > maxSensorIDLen:
		return &FieldError{Field: "sensor_id", Problem: fmt.Sprintf("longer than %d bytes", maxSensorIDLen)}
	case !utf8.ValidString(r.SensorID):
		return &FieldError{Field: "sensor_id", Problem: "not valid UTF-8"}
	case len(r.Unit) > maxUnitLen:
		return &FieldError{Field: "unit", Problem: fmt.Sprintf("longer than %d bytes", maxUnitLen)}
	case math.IsNaN(r.Value) || math.IsInf(r.Value, 0):
		return &FieldError{Field: "value", Problem: "not a finite number"}
	case math.IsNaN(r.CalibrationFactor) || math.IsInf(r.CalibrationFactor, 0):
		return &FieldError{Field: "calibration_factor", Problem: "not a finite number"}
	}
	return nil
}

// RawReadingFromMap decodes a raw reading from a map, as a JSON object
// unmarshalled into map[string]any gives it (or as Go code builds it). Numbers
// may be float64, any integer type or json.Number; timestamp may also be a
// time.Time. The rules are those of [ParseRawReading].
func RawReadingFromMap(m map[string]any) (RawReading, error) {
	var raw RawReading
	var ok bool
	switch v := m["sensor_id"].(type) {
	case nil:
		return RawReading{}, &FieldError{Field: "sensor_id", Problem: "missing"}
	case string:
		raw.SensorID = v
	default:
		return RawReading{}, &FieldError{Field: "sensor_id", Problem: "not a string"}
	}
	if m["value"] == nil {
		return RawReading{}, &FieldError{Field: "value", Problem: "missing"}
	}
	if raw.Value, ok = anyNumber(m["value"]); !ok {
		return RawReading{}, &FieldError{Field: "value", Problem: "not a finite number"}
	}
	switch v := m["unit"].(type) {
	case nil:
	case string:
		raw.Unit = v
	default:
		return RawReading{}, &FieldError{Field: "unit", Problem: "not a string"}
	}
	switch v := m["timestamp"].(type) {
	case nil:
	case time.Time:
		raw.Timestamp = v
	case string:
		t, err := time.Parse(time.RFC3339Nano, v)
		if err != nil {
			return RawReading{}, &FieldError{Field: "timestamp", Problem: "not an RFC 3339 time", Err: err}
		}
		raw.Timestamp = t
	default:
		secs, ok := anyNumber(v)
		if !ok {
			return RawReading{}, &FieldError{Field: "timestamp", Problem: "neither an RFC 3339 string nor Unix seconds"}
		}
		t, err := unixSeconds(secs)
		if err != nil {
			return RawReading{}, &FieldError{Field: "timestamp", Problem: err.Error()}
		}
		raw.Timestamp = t
	}
	if v := m["calibration_factor"]; v != nil {
		if raw.CalibrationFactor, ok = anyNumber(v); !ok {
			return RawReading{}, &FieldError{Field: "calibration_factor", Problem: "not a finite number"}
		}
		if raw.CalibrationFactor == 0 {
			return RawReading{}, &FieldError{Field: "calibration_factor", Problem: "zero"}
		}
	}
	return raw, raw.check()
}

func anyNumber(v any) (float64, bool) {
	var f float64
	switch n := v.(type) {
	case float64:
		f = n
	case float32:
		f = float64(n)
	case int:
		f = float64(n)
	case int32:
		f = float64(n)
	case int64:
		f = float64(n)
	case uint32:
		f = float64(n)
	case uint64:
		f = float64(n)
	case json.Number:
		var err error
		if f, err = n.Float64(); err != nil {
			return 0, false
		}
	default:
		return 0, false
	}
	return f, !math.IsNaN(f) && !math.IsInf(f, 0)
}

// ReadingConfig configures [ProcessReading]. The zero value is ready
// to use.
type ReadingConfig struct {
	// Targets is the unit each dimension is normalized to; nil means
	// [EngineeringUnits] (°C, kPa, m³/h, kg/h, kWh, kW ...).
	Targets map[units.Dimension]units.Unit
	// Atmosphere, in Pa, lets gauge pressures become absolute; 0 keeps them gauge.
	Atmosphere float64
	// GaugePressure is the target of gauge pressures when Atmosphere is 0;
	// zero means kPag when Targets is nil, and no conversion otherwise.
	GaugePressure units.Unit
	// Stale and FutureSkew are as in ValidateConfig: 0 means the default, a
	// negative value turns the check off.
	Stale, FutureSkew time.Duration
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Reading is a normalized, scored sensor reading: what [ProcessReading]
// returns. Its JSON form has snake_case fields, like [RawReading]'s.
type Reading struct {
	SensorID     string          `json:"sensor_id"`
	Value        float64         `json:"value"`     // calibrated, in Unit
	Unit         string          `json:"unit"`      // canonical symbol of the target unit (or as given, if not converted)
	Timestamp    time.Time       `json:"timestamp"` // as given; the processing time when none was
	QualityScore float64         `json:"quality_score"`
	Grade        scada.Grade     `json:"grade"`
	Reasons      scada.Reason    `json:"reasons"`
	Quality      scada.Quality   `json:"-"`
	Metadata     ReadingMetadata `json:"metadata"`
}

// ReadingMetadata records how a Reading was derived, so it can be traced.
type ReadingMetadata struct {
	RawValue          float64   `json:"raw_value"`
	RawUnit           string    `json:"raw_unit"`
	CalibrationFactor float64   `json:"calibration_factor"` // 1 when none was given
	CalibratedValue   float64   `json:"calibrated_value"`   // in RawUnit
	Dimension         string    `json:"dimension,omitempty"`
	Quality           string    `json:"quality"` // the OPC UA status code name
	ProcessedAt       time.Time `json:"processed_at"`
}

// ProcessReading is the point pipeline for one reading, without per-tag
// state: it calibrates raw (value × calibration_factor), converts it to its
// dimension's target unit, validates it (unit, timestamp) and scores it, in
// the same arithmetic as [Calibrator], [Converter] and [Validator]. A reading
// with a problem is marked (Reasons, QualityScore, Grade), never refused; the
// error is only for a malformed raw or an invalid cfg. Decode raw with
// [ParseRawReading] or [RawReadingFromMap].
func ProcessReading(raw RawReading, cfg ReadingConfig) (Reading, error) {
	if err := raw.check(); err != nil {
		return Reading{}, err
	}
	targets, gauge := cfg.Targets, cfg.GaugePressure
	if targets == nil {
		targets = engineeringUnits
		if gauge.IsZero() {
			gauge = EngineeringGaugeUnit()
		}
	}
	if err := (ConvertConfig{Dimensions: targets, Atmosphere: cfg.Atmosphere, GaugePressure: gauge}).Validate(); err != nil {
		return Reading{}, err
	}
	now := time.Now
	if cfg.Now != nil {
		now = cfg.Now
	}
	processed := now()
	factor := raw.CalibrationFactor
	if factor == 0 {
		factor = 1
	}

	// The same steps, in the same arithmetic, as Calibrator, Converter and
	// Validator, without their per-tag state.
	calibrated := math.FMA(raw.Value, factor, 0)
	value, unit := calibrated, raw.Unit
	var r scada.Reason
	var dim units.Dimension
	if unit == "" {
		r |= scada.ReasonMissingUnit
	} else if u, err := units.Parse(unit); err != nil {
		r |= scada.ReasonUnit
	} else {
		dim = u.Dimension()
		target, ok := targets[dim]
		if u.IsGauge() && cfg.Atmosphere == 0 && !gauge.IsZero() {
			target, ok = gauge, true
		}
		if ok {
			c, err := units.NewConverter(u, target)
			if errors.Is(err, units.ErrNeedsReference) && cfg.Atmosphere > 0 {
				c, err = units.NewGaugeConverter(u, target, cfg.Atmosphere)
			}
			switch {
			case err == nil:
				value, unit = c.Convert(value), target.Symbol()
			case !errors.Is(err, units.ErrNeedsReference):
				r |= scada.ReasonUnit
			}
		}
	}
	r |= timeReasons(raw.Timestamp, processed.UnixNano(), staleNanos(cfg.Stale), skewNanos(cfg.FutureSkew))
	q := Mark(r, scada.Good)
	score := float64(Score(r))

	out := Reading{
		SensorID: raw.SensorID, Value: value, Unit: unit, Timestamp: raw.Timestamp,
		QualityScore: score, Grade: scada.GradeOf(score), Reasons: r, Quality: q,
		Metadata: ReadingMetadata{
			RawValue: raw.Value, RawUnit: raw.Unit, CalibrationFactor: factor, CalibratedValue: calibrated,
			Quality: q.String(), ProcessedAt: processed,
		},
	}
	if dim != 0 {
		out.Metadata.Dimension = dim.String()
	}
	if out.Timestamp.IsZero() {
		out.Timestamp = processed
	}
	return out, nil
}
