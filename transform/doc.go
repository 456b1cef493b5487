// Package transform turns raw SCADA points into data GL-001 can trust:
// calibrated, in known units, validated, scored, deduplicated and summarized.
//
// # Pipelines
//
// A [Pipeline] takes a batch of [scada.Point] and returns a batch; every stage
// here is one, and [Chain] composes them:
//
//	cal, _ := transform.NewCalibrator(transform.CalibrateConfig{Tags: factors})
//	conv, _ := transform.NewConverter(transform.ConvertConfig{
//		Dimensions:    transform.EngineeringUnits(),    // °C, kPa, m³/h, kg/h, kWh, kW ...
//		GaugePressure: transform.EngineeringGaugeUnit(), // kPag
//	})
//	val, _ := transform.NewValidator(transform.ValidateConfig{Tags: limits})
//	db, _ := transform.NewDeadband(transform.DeadbandConfig{Default: 0.1})
//	p := transform.Chain(cal, conv, val, db)
//	out, err := p.Process(ctx, batch)
//
// The stages:
//   - [Calibrator]: per-tag factor and offset (the seed's calibration_factor).
//   - [Converter]: to a per-tag target unit or one unit per dimension, through
//     package units; an unknown or unconvertible unit marks the point.
//   - [Validator]: source quality, NaN and infinity, missing or wrong unit,
//     physical range, operating limits, rate of change, flat line, stale,
//     future and missing timestamps; it marks each point's Quality and, through
//     [Validator.Assess], scores it.
//   - [Deadband]: leaves out redeliveries and changes smaller than a deadband,
//     with a heartbeat.
//   - [Aggregator]: count, mean, min, max, last, completeness and score per tag
//     per window, for what goes to agents.
//
// Stages work in place and allocate nothing per point once they have seen a
// tag, so a pipeline keeps up with millions of points per second
// (BenchmarkPipeline).
//
// # Bad data is marked, not dropped
//
// No stage drops a point for being bad and none returns an error for bad data.
// A finding marks the point: its Quality becomes the OPC UA code of its most
// severe finding ([Reason.Quality]), e.g. BadOutOfRange outside the
// instrument's range, UncertainEngineeringUnitsExceeded outside the operating
// limits, UncertainLastUsableValue when stale. Consumers that see only points
// recover the finding with [ReasonOf].
//
// # Scores
//
// A point's score is 0-100 ([Reason.Score]): 0 with any Bad finding (bad
// source quality, not finite, unknown or wrong unit, out of physical range,
// future timestamp), else 100 less a penalty per Uncertain finding: uncertain
// source quality 20, missing unit 15, operating limit 20, rate of change 30,
// flat line 30, stale 40, no timestamp 20. Its [Grade] is Excellent from 95,
// Good from 80, Fair from 60, Poor from 40 and Invalid below. A point's
// findings, score and grade travel beside it in a [Scored], filled by
// [Validator.Assess], so that scada.Point stays small. An [Aggregator]
// window scores its tag's completeness too: missing samples count as 0.
//
// # The seed's transform_sensor_reading
//
// [TransformSensorReading] takes one raw reading, decoded from JSON by
// [ParseRawReading] or from a map by [RawReadingFromMap], and returns it
// calibrated, normalized and scored with its metadata. A malformed raw reading
// gets a *[FieldError] naming the field.
//
// # ERP records
//
// [EnergyNormalizer] brings energy records from any erp.Client to one shape,
// [Energy]: energy in kWh (or a chosen unit), money with its currency as the
// ERP sent it, periods as UTC [start, end), plant codes mapped through the
// caller's table, and the source key kept. It reports duplicates, overlapping
// periods and missing periods per meter as [Issue] values on the record, and
// never drops a record: [EnergyNormalizer.All] wraps an erp.Client stream.
// [RecordNormalizer] does the same for cost records, production and
// maintenance orders (plants mapped, periods in UTC, duplicates reported).
//
// # Agent messages
//
// [PointMessages], [WindowMessages] and [EnergyMessages] format scored points,
// aggregation windows and normalized energy records as coord.Message payloads
// of a documented JSON schema ([SchemaPoints], [PointRecord] ...), splitting
// the records over several messages, never cutting one, so that no payload
// exceeds the configured limit. The parts of one call share a CorrelationID
// and say "part" and "parts".
//
// # Concurrency and state
//
// Every stage is safe for concurrent use. The Validator (rate of change, flat
// line), Deadband and Aggregator keep per-tag state, so feed each tag's points
// in time order; their per-tag state is bounded by MaxTags. Counters are read
// with each stage's Stats method.
package transform
