package coord

import (
	"context"
	"testing"
	"time"

	"go.uber.org/goleak"
)

// rejectAll is a Verifier that accepts nothing: enough to run the
// Coordinator's verification workers.
type rejectAll struct{}

func (rejectAll) Verify(string) (Claims, error) { return Claims{}, ErrTampered }

// TestExecutionCleanup checks that an Execute leaves nothing behind: its
// correlation entry is gone after a timeout, a reply arriving afterwards is
// counted late, and its verification workers have stopped.
func TestExecutionCleanup(t *testing.T) {
	for _, signed := range []bool{false, true} {
		t.Run(map[bool]string{false: "unsigned", true: "signed"}[signed], func(t *testing.T) {
			bus, err := NewLocalBus(LocalBusConfig{})
			if err != nil {
				t.Fatal(err)
			}
			defer bus.Close()
			reg, _ := NewRegistry(RegistryConfig{})
			cfg := CoordinatorConfig{Bus: bus, Registry: reg}
			if signed {
				g, err := NewGuard(GuardConfig{Verifier: rejectAll{}})
				if err != nil {
					t.Fatal(err)
				}
				cfg.Guard = g
			}
			c, err := NewCoordinator(cfg)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			if err := reg.Register(AgentInfo{ID: "GL-002"}); err != nil {
				t.Fatal(err)
			}
			// An agent that takes the command but answers only when told.
			held := make(chan Message, 1)
			sub, err := bus.Subscribe(AgentSubject(DefaultPrefix, "GL-002"), func(_ context.Context, m Message) { held <- m })
			if err != nil {
				t.Fatal(err)
			}
			defer sub.Unsubscribe()
			before := goleak.IgnoreCurrent()

			res, err := c.Execute(context.Background(), Command{Name: "ping", Timeout: 50 * time.Millisecond})
			if err != nil {
				t.Fatal(err)
			}
			if len(res.TimedOut) != 1 || !res.Partial {
				t.Fatalf("timed out %v, partial %v", res.TimedOut, res.Partial)
			}
			c.mu.Lock()
			n := len(c.execs)
			c.mu.Unlock()
			if n != 0 {
				t.Fatalf("%d correlation entries left after Execute", n)
			}
			goleak.VerifyNone(t, before)

			cmd := <-held
			if err := bus.Publish(context.Background(), cmd.ReplyTo, Message{
				ID: NewID(), Type: TypeResponse, From: "GL-002", CorrelationID: cmd.CorrelationID, Payload: []byte("1"),
			}); err != nil {
				t.Fatal(err)
			}
			deadline := time.Now().Add(10 * time.Second)
			for c.Stats().Late != 1 {
				if time.Now().After(deadline) {
					t.Fatalf("late reply not counted: %+v", c.Stats())
				}
				time.Sleep(time.Millisecond)
			}
			if st, _ := reg.Get("GL-002"); st.Perf.InFlight != 0 || st.Perf.Failures != 1 {
				t.Errorf("perf after timeout = %+v", st.Perf)
			}
		})
	}
}
