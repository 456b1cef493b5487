package payload

import (
	"math"
	"time"

	"github.com/greenlang/gl001/coord"
	"github.com/greenlang/gl001/scada"
	"github.com/greenlang/gl001/transform"
)

// Payload schemas: the schema id each payload names, with the field that
// holds its records. The ids are part of the wire format agents read.
const (
	SchemaPoints  = "gl001.transform.points/v1"  // array "points" of PointRecord
	SchemaWindows = "gl001.transform.windows/v1" // array "windows" of WindowRecord
)

// PointRecord is one point in a points payload.
type PointRecord struct {
	Tag         string       `json:"tag"`
	Value       *float64     `json:"value"` // null when not finite
	Unit        string       `json:"unit,omitempty"`
	Quality     string       `json:"quality"`      // the OPC UA status code name
	QualityCode uint32       `json:"quality_code"` // the OPC UA status code
	Time        time.Time    `json:"time"`
	Source      string       `json:"source,omitempty"`
	Score       float64      `json:"score"`
	Grade       scada.Grade  `json:"grade"`
	Reasons     scada.Reason `json:"reasons"`
}

// WindowRecord is one aggregation window in a windows payload.
type WindowRecord struct {
	Tag          string      `json:"tag"`
	Unit         string      `json:"unit,omitempty"`
	Start        time.Time   `json:"start"`
	End          time.Time   `json:"end"`
	Count        int         `json:"count"`
	Valid        int         `json:"valid"`
	Expected     int         `json:"expected,omitempty"`
	Mean         *float64    `json:"mean"` // null when no valid point
	Min          *float64    `json:"min"`
	Max          *float64    `json:"max"`
	Last         *float64    `json:"last"`
	Completeness float64     `json:"completeness"`
	Score        float64     `json:"score"`
	Grade        scada.Grade `json:"grade"`
}

// Finite returns &v, or nil when v is NaN or infinite (null in JSON).
func Finite(v float64) *float64 {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return nil
	}
	return &v
}

// Point returns p's record: its score and findings as the scoring stage
// recorded them on p (see transform.PointScore).
func Point(p scada.Point) PointRecord {
	score, reasons := transform.PointScore(p)
	return PointRecord{
		Tag: p.Tag, Value: Finite(p.Value), Unit: p.Unit, Quality: p.Quality.String(),
		QualityCode: uint32(p.Quality), Time: p.Time, Source: p.Source,
		Score: float64(score), Grade: scada.GradeOf(float64(score)), Reasons: reasons,
	}
}

// Window returns w's record.
func Window(w transform.Window) WindowRecord {
	return WindowRecord{
		Tag: w.Tag, Unit: w.Unit, Start: w.Start, End: w.End, Count: w.Count, Valid: w.Valid, Expected: w.Expected,
		Mean: Finite(w.Mean), Min: Finite(w.Min), Max: Finite(w.Max), Last: Finite(w.Last),
		Completeness: w.Completeness, Score: w.Score, Grade: w.Grade,
	}
}

// Points formats points, scored by the pipeline, as agent messages of schema
// SchemaPoints, split so that no payload exceeds cfg.MaxPayload (see
// coord.SplitRecords).
func Points(points []scada.Point, cfg coord.SplitConfig) ([]coord.Message, error) {
	return coord.SplitRecords(cfg, SchemaPoints, "points", len(points), func(i int) any { return Point(points[i]) })
}

// Windows formats aggregation windows as agent messages of schema
// SchemaWindows, split so that no payload exceeds cfg.MaxPayload.
func Windows(windows []transform.Window, cfg coord.SplitConfig) ([]coord.Message, error) {
	return coord.SplitRecords(cfg, SchemaWindows, "windows", len(windows), func(i int) any { return Window(windows[i]) })
}
