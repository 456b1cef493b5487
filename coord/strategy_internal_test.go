package coord

import (
	"slices"
	"testing"
	"time"
)

func TestLoadBalancedPrefersFastReliableIdle(t *testing.T) {
	reg, err := NewRegistry(RegistryConfig{})
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"GL-002", "GL-003", "GL-004", "GL-005"} {
		_ = reg.Register(AgentInfo{ID: id, Capabilities: []string{"steam"}})
	}
	// GL-002 is slow, GL-003 fails, GL-004 is fast and reliable, GL-005 is
	// fast but busy.
	for range 10 {
		reg.begin("GL-002")
		reg.finish("GL-002", 50*time.Millisecond, true)
		reg.begin("GL-003")
		reg.finish("GL-003", time.Millisecond, false)
		reg.begin("GL-004")
		reg.finish("GL-004", time.Millisecond, true)
		reg.begin("GL-005")
		reg.finish("GL-005", time.Millisecond, true)
	}
	for range 5 {
		reg.begin("GL-005")
	}
	c := &Coordinator{cfg: CoordinatorConfig{Registry: reg}}
	got, _ := c.selectTargets(&Command{Name: "x", Strategy: LoadBalanced})
	if !slices.Equal(got, []string{"GL-004"}) {
		t.Errorf("load balanced picked %v, want [GL-004]", got)
	}
	got, _ = c.selectTargets(&Command{Name: "x", Strategy: CapabilityBased, Capability: "steam", Count: 2})
	if !slices.Equal(got, []string{"GL-004", "GL-005"}) {
		t.Errorf("best two by capability = %v", got)
	}
	st, _ := reg.Get("GL-003")
	if st.Perf.SuccessRate > 0.2 || st.Perf.Failures != 10 || st.Perf.Requests != 10 {
		t.Errorf("failing agent perf = %+v", st.Perf)
	}
	st, _ = reg.Get("GL-002")
	if st.Perf.Latency != 50*time.Millisecond || st.Perf.SuccessRate != 1 {
		t.Errorf("slow agent perf = %+v", st.Perf)
	}
}
