// Package normalize brings the records of any erp.Client to one shape and
// says what to distrust about them, and formats normalized energy records as
// agent messages.
//
// # Energy
//
// [EnergyNormalizer] turns erp.EnergyRecord values into [Energy]: energy in
// kWh (or a chosen unit), money with its currency as the ERP sent it, periods
// as UTC [start, end), plant codes mapped through the caller's table, and the
// source key kept. It reports duplicates, overlapping periods and missing
// periods per meter as [Issue] values on the record, and never drops a
// record: [EnergyNormalizer.All] wraps an erp.Client stream.
//
// A normalizer remembers each meter's last period and the source keys it has
// seen, so keep one per ERP system for the life of the program: a normalizer
// built per fetch cannot see a duplicate, overlap or gap that spans two
// fetches. What it remembers is bounded (EnergyConfig.MaxSeries).
//
// # Other records
//
// [RecordNormalizer] does the same for cost records, production and
// maintenance orders: plants mapped, periods in UTC, duplicates reported.
//
// # Agent messages
//
// [EnergyMessages] formats normalized energy records as coord.Message
// payloads of schema [SchemaEnergy], one [EnergyEntry] per record, split over
// as many messages as the payload limit needs (coord.SplitRecords).
//
// Normalizers are safe for concurrent use; counters are read with Stats.
package normalize
