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

// TestLoadBalancedAvoidsAgentsThatTimeOutOrFailFast: an agent whose requests
// only ever time out, and one that fails at once, must not rank above one
// that answers slowly but surely.
func TestLoadBalancedAvoidsAgentsThatTimeOutOrFailFast(t *testing.T) {
	reg, err := NewRegistry(RegistryConfig{})
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"GL-010", "GL-011", "GL-012"} {
		_ = reg.Register(AgentInfo{ID: id})
	}
	for range 10 {
		reg.begin("GL-010")
		reg.finish("GL-010", 2*time.Second, false) // timed out
		reg.begin("GL-011")
		reg.finish("GL-011", time.Millisecond, false) // failed at once
		reg.begin("GL-012")
		reg.finish("GL-012", 80*time.Millisecond, true) // slow but sure
	}
	c := &Coordinator{cfg: CoordinatorConfig{Registry: reg}}
	got, _ := c.selectTargets(&Command{Name: "x", Strategy: LoadBalanced})
	if !slices.Equal(got, []string{"GL-012"}) {
		t.Errorf("load balanced picked %v, want [GL-012]", got)
	}
	st, _ := reg.Get("GL-010")
	if st.Perf.Latency < time.Second {
		t.Errorf("an agent that only timed out has latency %v; its waits must count", st.Perf.Latency)
	}
}
