// Package payload formats what the point pipeline produces (scored points and
// aggregation windows) as agent messages of a documented JSON schema, for the
// coord bus.
//
// Each payload is the envelope coord.SplitRecords writes, naming its schema
// and part, with one array of records:
//
//	{"schema": "gl001.transform.points/v1", "part": 1, "parts": 1, "points": [
//	  {"tag": "boiler1.steam_temp", "value": 87.34, "unit": "°C", "quality": "Good",
//	   "quality_code": 0, "time": "2026-11-27T12:00:00Z", "score": 100,
//	   "grade": "Excellent", "reasons": []}]}
//
// Records are split over several messages, never cut, so that no payload
// exceeds the configured limit; the parts of one call share a CorrelationID.
// A point's score, grade and findings are those the scoring stage recorded on
// it (scada.Point's Score and Reasons), wherever the point travelled since.
// Values that are not finite are null.
//
// The energy records of package erp/normalize have their own payload there:
// each package formats the data of its own domain.
package payload
