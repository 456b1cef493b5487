package payload_test

import (
	"fmt"
	"time"

	"github.com/greenlang/gl001/coord"
	"github.com/greenlang/gl001/scada"
	"github.com/greenlang/gl001/transform/payload"
)

func ExamplePoints() {
	now := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	points := []scada.Point{{Tag: "boiler1.steam_temp", Value: 87.34, Unit: "°C", Quality: scada.Good, Time: now,
		Scored: true, Score: 100}}
	msgs, err := payload.Points(points, coord.SplitConfig{From: "GL-001", To: "GL-002", Now: func() time.Time { return now }})
	if err != nil {
		panic(err)
	}
	fmt.Println(len(msgs), msgs[0].From, "->", msgs[0].To, msgs[0].Name)
	fmt.Println(string(msgs[0].Payload))
	// Output:
	// 1 GL-001 -> GL-002 points
	// {"schema":"gl001.transform.points/v1","part":1,"parts":1,"points":[{"tag":"boiler1.steam_temp","value":87.34,"unit":"°C","quality":"Good","quality_code":0,"time":"2026-11-27T12:00:00Z","score":100,"grade":"Excellent","reasons":[]}]}
}
