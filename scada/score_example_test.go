package scada_test

import (
	"encoding/json"
	"fmt"

	"github.com/greenlang/gl001/scada"
)

// A consumer reads the assessment the edge recorded on a point: the score,
// its grade and every finding, where the quality code names only the most
// severe one.
func ExampleGradeOf() {
	p := scada.Point{Tag: "boiler1.steam_temp", Value: 251, Unit: "°C", Quality: scada.UncertainLastUsableValue,
		Scored: true, Score: 40, Reasons: scada.ReasonLimit | scada.ReasonStale}
	fmt.Println(p.Quality, p.Score, scada.GradeOf(float64(p.Score)), p.Reasons)
	b, _ := json.Marshal(struct {
		Grade   scada.Grade  `json:"grade"`
		Reasons scada.Reason `json:"reasons"`
	}{scada.GradeOf(float64(p.Score)), p.Reasons})
	fmt.Println(string(b))
	// Output:
	// UncertainLastUsableValue 40 Poor limit|stale
	// {"grade":"Poor","reasons":["limit","stale"]}
}
