package coord_test

import (
	"testing"

	"go.uber.org/goleak"

	"github.com/greenlang/gl001/coord"
	"github.com/greenlang/gl001/coord/bustest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestLocalBusConformance(t *testing.T) {
	bustest.TestBus(t, func(t *testing.T) coord.Bus {
		b, err := coord.NewLocalBus(coord.LocalBusConfig{})
		if err != nil {
			t.Fatal(err)
		}
		return b
	})
}
