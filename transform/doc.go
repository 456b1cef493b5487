// Package transform turns raw SCADA points into data a process-heat
// orchestrator can trust: calibrated, in known units, validated, scored,
// deduplicated and summarized. It does that one job; ERP records are
// normalized by package erp/normalize, and the point payloads for agents are
// built by package transform/payload.
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
// A Pipeline is a scada.Processor: give it to a scada.Collector as its
// Processor, and the Collector runs it once per batch and retries only the
// delivery of its output when the Sink fails. Stages that keep state (the
// Validator's history, the Deadband) must not run again on a redelivered
// batch: a Deadband leaves a redelivery out as a duplicate.
//
// The stages:
//   - [Calibrator]: per-tag factor and offset.
//   - [Converter]: to a per-tag target unit or one unit per dimension, through
//     package units; an unknown or unconvertible unit marks the point.
//   - [Validator]: the scoring stage. Source quality, NaN and infinity,
//     missing or wrong unit, physical range, operating limits, rate of
//     change, flat line, stale, future and missing timestamps; it records
//     each point's findings and score on the point and marks its Quality.
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
// severe finding ([Mark]), e.g. BadOutOfRange outside the instrument's range,
// UncertainEngineeringUnitsExceeded outside the operating limits,
// UncertainLastUsableValue when stale.
//
// # Scores
//
// The Validator records on each point every finding (Point.Reasons, a
// scada.Reason), its 0-100 score (Point.Score, see [Score]) and sets
// Point.Scored. These fields travel with the point through every Buffer and
// wire format, so every consumer reads the score the edge computed: a point
// both past its operating limit and stale scores 40, although its Quality
// code (UncertainLastUsableValue) names only the staleness. [PointScore]
// reads them, and falls back to what the code stands for ([ReasonOf]) for a
// point no stage scored.
//
// The score is 0 with any Bad finding (bad source quality, not finite,
// unknown or wrong unit, out of physical range, future timestamp), else 100
// less a penalty per Uncertain finding: uncertain source quality 20, missing
// unit 15, operating limit 20, rate of change 30, flat line 30, stale 40, no
// timestamp 20. Its grade (scada.GradeOf) is Excellent from 95, Good from 80,
// Fair from 60, Poor from 40 and Invalid below. The findings, their names and
// the grades are package scada's vocabulary; the penalties and the codes they
// mark are this package's policy. An [Aggregator] window scores its tag's
// completeness too: missing samples count as 0.
//
// # One reading at a time
//
// [ProcessReading] runs the same steps on one reading without per-tag state,
// for callers that hand readings around as JSON objects or maps rather than
// points: decode it with [ParseRawReading] or [RawReadingFromMap], and get it
// back calibrated, normalized and scored with its metadata. A malformed raw
// reading gets a *[FieldError] naming the field.
//
// # Concurrency and state
//
// Every stage is safe for concurrent use. The Validator (rate of change, flat
// line), Deadband and Aggregator keep per-tag state, so feed each tag's points
// in time order; their per-tag state is bounded by MaxTags. Counters are read
// with each stage's Stats method.
package transform
