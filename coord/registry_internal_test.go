package coord

import (
	"slices"
	"testing"
)

// TestRegistryListInIDOrder checks the id-ordered index list reads from as
// agents come, re-register and leave in any order.
func TestRegistryListInIDOrder(t *testing.T) {
	r, err := NewRegistry(RegistryConfig{})
	if err != nil {
		t.Fatal(err)
	}
	ids := func() []string {
		var out []string
		for _, a := range r.list() {
			out = append(out, a.ID)
		}
		return out
	}
	for _, id := range []string{"GL-050", "GL-002", "GL-100", "GL-010", "GL-002", "GL-003"} {
		if err := r.Register(AgentInfo{ID: id, Version: "1"}); err != nil {
			t.Fatal(err)
		}
	}
	if got, want := ids(), []string{"GL-002", "GL-003", "GL-010", "GL-050", "GL-100"}; !slices.Equal(got, want) {
		t.Fatalf("list = %v, want %v", got, want)
	}
	r.Deregister("GL-010")
	r.Deregister("GL-100")
	r.Deregister("GL-999")
	if got, want := ids(), []string{"GL-002", "GL-003", "GL-050"}; !slices.Equal(got, want) {
		t.Fatalf("after leaving: list = %v, want %v", got, want)
	}
	if got := r.list()[0]; got.Version != "1" {
		t.Fatalf("list lost the agent info: %+v", got)
	}
}
