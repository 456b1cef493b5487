package opcua_test

import (
	"testing"
	"time"

	"github.com/greenlang/gl001/scada"
	"github.com/greenlang/gl001/scada/opcua"
	"github.com/greenlang/gl001/scada/scadatest"
	"github.com/greenlang/gl001/scada/sourcetest"
)

// TestConformance runs the suite every scada.Source passes, in subscription
// and in polling mode, against one simulator: building its address space
// takes seconds under the race detector.
func TestConformance(t *testing.T) {
	tags := []string{"Conf.Double", "Conf.Float", "Conf.Int16", "Conf.UInt32", "Conf.Int64"}
	types := []scadatest.OPCUAType{scadatest.OPCUADouble, scadatest.OPCUAFloat, scadatest.OPCUAInt16, scadatest.OPCUAUInt32, scadatest.OPCUAInt64}
	var simTags []scadatest.OPCUATag
	for i, name := range tags {
		simTags = append(simTags, scadatest.OPCUATag{Name: name, Type: types[i], Initial: float64(100 + i)})
	}
	sim := newSim(t, scadatest.OPCUAConfig{Tags: simTags})

	for _, mode := range []struct {
		name string
		poll time.Duration
	}{{"Subscription", 0}, {"Poll", 50 * time.Millisecond}} {
		t.Run(mode.name, func(t *testing.T) {
			sourcetest.TestSource(t, sourcetest.Harness{
				Name: "boilerhouse-opcua",
				Tags: tags,
				New: func(t *testing.T) scada.Source {
					var cfgTags []opcua.Tag
					for _, name := range tags {
						cfgTags = append(cfgTags, opcua.Tag{Name: name, NodeID: sim.NodeID(name)})
					}
					cfg := insecure(sim, cfgTags...)
					cfg.Name = "boilerhouse-opcua"
					cfg.PollInterval = mode.poll
					src, err := opcua.New(cfg)
					if err != nil {
						t.Fatal(err)
					}
					t.Cleanup(func() { src.Close() })
					return src
				},
				Set:   sim.Set,
				Stop:  sim.Stop,
				Start: sim.Start,
				Features: sourcetest.Features{
					// Run delivers BadNoCommunication for every tag when the
					// connection is lost (see the package documentation).
					MarksConnectionLoss: true,
				},
			})
		})
	}
}
