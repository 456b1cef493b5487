//go:build unix

package buffer

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/greenlang/gl001/scada"
)

// killChildEnv names the directory the child process appends to; set only in
// the child.
const killChildEnv = "GL001_BUFFER_KILL_CHILD_DIR"

// TestDiskBufferSurvivesSIGKILL runs a child process (this test binary again)
// with two goroutines appending batches of points and a third delivering
// batches of events, each printing an acknowledgement ("ack WRITER SEQ N")
// once its Append or DeliverEvents has returned, that is once the fsync
// covering the batch is done. The parent kills the child with SIGKILL
// mid-stream, reopens the directory, and checks that every acknowledged point
// and event is there, in order, exactly once.
func TestDiskBufferSurvivesSIGKILL(t *testing.T) {
	if dir := os.Getenv(killChildEnv); dir != "" {
		killChild(dir)
		return
	}
	for round := range 3 {
		t.Run(fmt.Sprintf("round%d", round), func(t *testing.T) {
			dir := t.TempDir()
			acked := runAndKill(t, dir, 150+100*round)
			b := openDisk(t, DiskConfig{Dir: dir})
			st := b.Stats()
			t.Logf("acknowledged %v points; recovered %d, cut %d torn bytes, %d segments", acked, st.Next, st.Truncated, st.Segments)
			first, got, missed := scanAll(t, b, 0)
			if first != 0 || missed != 0 || Offset(len(got)) != st.Next || len(st.Quarantined) != 0 {
				t.Fatalf("Scan: first %d, %d points, %d missed; Next %d; quarantined %v", first, len(got), missed, st.Next, st.Quarantined)
			}
			// Each writer's values count up from 0 in log order: no point lost,
			// repeated or reordered, and at least the acknowledged ones.
			var seen [2]int
			for i, p := range got {
				w := 0
				if p.Tag[1] == '1' {
					w = 1
				}
				if p.Value != float64(seen[w]) {
					t.Fatalf("offset %d: writer %d value %v, want %d", i, w, p.Value, seen[w])
				}
				seen[w]++
			}
			for w := range seen {
				if seen[w] < acked[w] {
					t.Fatalf("writer %d: %d points recovered, %d acknowledged", w, seen[w], acked[w])
				}
			}
			// The events count up from 0 too.
			est := b.EventStats()
			t.Logf("acknowledged %d events; recovered %d, cut %d torn bytes, %d segments", acked[2], est.Next, est.Truncated, est.Segments)
			if est.First != 0 || est.Durable != est.Next || est.Dropped.Total() != 0 || len(est.Quarantined) != 0 {
				t.Fatalf("EventStats after recovery: %+v", est)
			}
			n := 0
			for Offset(n) < est.Next {
				eb, err := b.ReadEvents(readTimeout(t), "check", 500)
				if err != nil || eb.First != Offset(n) || eb.Missed != 0 {
					t.Fatalf("ReadEvents at %d: First %d, Missed %d, %v", n, eb.First, eb.Missed, err)
				}
				for _, ev := range eb.Events {
					if ev.Fields["seq"] != float64(n) || ev.Message != "e"+strconv.Itoa(n) {
						t.Fatalf("event offset %d: seq %v, message %q", n, ev.Fields["seq"], ev.Message)
					}
					n++
				}
				if err := b.CommitEvents(context.Background(), "check", eb.Next()); err != nil {
					t.Fatal(err)
				}
			}
			if n < acked[2] {
				t.Fatalf("%d events recovered, %d acknowledged", n, acked[2])
			}
			if off, err := b.AppendEvents(context.Background(), []scada.Event{{Message: "after"}}); err != nil || off != est.Next {
				t.Fatalf("AppendEvents after recovery at %d (%v), want %d", off, err, est.Next)
			}
			// The recovered log takes appends at the right offset.
			if off := mustAppend(t, b, []scada.Point{{Tag: "after", Value: 1}}); off != st.Next {
				t.Fatalf("Append after recovery at %d, want %d", off, st.Next)
			}
		})
	}
}

// runAndKill starts the child, kills it after it acknowledged `after` batches,
// and returns how many points each writer (0 and 1) and how many events
// (writer 2) had been acknowledged.
func runAndKill(t *testing.T, dir string, after int) [3]int {
	cmd := exec.Command(os.Args[0], "-test.run=^TestDiskBufferSurvivesSIGKILL$", "-test.count=1")
	cmd.Env = append(os.Environ(), killChildEnv+"="+dir)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var acked [3]int
	batches, killed := 0, false
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) != 4 || f[0] != "ack" {
			continue
		}
		w, err0 := strconv.Atoi(f[1])
		seq, err1 := strconv.Atoi(f[2])
		n, err2 := strconv.Atoi(f[3])
		if err0 != nil || err1 != nil || err2 != nil || w < 0 || w > 2 || seq != acked[w] {
			cmd.Process.Kill()
			cmd.Wait()
			t.Fatalf("child acknowledged %q after %v points", sc.Text(), acked)
		}
		acked[w] += n
		batches++
		if batches == after && !killed {
			// Acknowledgements already in the pipe still count: they were
			// printed after their group commit.
			if err := syscall.Kill(cmd.Process.Pid, syscall.SIGKILL); err != nil {
				t.Fatal(err)
			}
			killed = true
		}
	}
	err = cmd.Wait()
	if !killed {
		t.Fatalf("child ended by itself after %d batches: %v", batches, err)
	}
	if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
		t.Fatalf("child did not die of SIGKILL: %v", err)
	}
	return acked
}

// killChild appends until killed, from two writers so that group commits
// gather batches of both and the kill can land in the middle of a write.
// Writer w's points have tags "wW.N" and values counting up from 0.
func killChild(dir string) {
	b, err := OpenDisk(DiskConfig{Dir: dir, SegmentBytes: 32 << 10, EventSegmentBytes: 16 << 10})
	if err != nil {
		fmt.Fprintln(os.Stderr, "child:", err)
		os.Exit(2)
	}
	ctx := context.Background()
	deadline := time.Now().Add(2 * time.Minute) // never outlive a lost parent
	t0 := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	var mu sync.Mutex
	w := bufio.NewWriter(os.Stdout)
	for writer := range 2 {
		go func() {
			seq := 0
			for i := writer; time.Now().Before(deadline); i++ {
				n := 1 + (i*37)%700
				pts := make([]scada.Point, n)
				for j := range pts {
					v := seq + j
					pts[j] = scada.Point{Tag: "w" + strconv.Itoa(writer) + "." + strconv.Itoa(v%50), Value: float64(v), Unit: "kPa", Time: t0.Add(time.Duration(v) * time.Millisecond), Source: "child"}
				}
				if _, err := b.Append(ctx, pts); err != nil {
					fmt.Fprintln(os.Stderr, "child: append:", err)
					os.Exit(2)
				}
				mu.Lock()
				fmt.Fprintf(w, "ack %d %d %d\n", writer, seq, n)
				w.Flush()
				mu.Unlock()
				seq += n
			}
		}()
	}
	go func() {
		seq := 0
		for i := 0; time.Now().Before(deadline); i++ {
			n := 1 + (i*13)%40
			evs := make([]scada.Event, n)
			for j := range evs {
				v := seq + j
				evs[j] = scada.Event{
					Source: "child", Time: t0.Add(time.Duration(v) * time.Millisecond), EventType: "i=9341",
					SourceNode: "ns=1;s=Boiler1.Temp", Severity: uint16(1 + v%1000), Message: "e" + strconv.Itoa(v),
					ID: []byte(strconv.Itoa(v)), Fields: map[string]any{"seq": float64(v)},
					Condition: &scada.Condition{Name: "HighTemperature", Active: v%2 == 0, Retain: true},
				}
			}
			if err := b.DeliverEvents(ctx, evs); err != nil {
				fmt.Fprintln(os.Stderr, "child: deliver events:", err)
				os.Exit(2)
			}
			mu.Lock()
			fmt.Fprintf(w, "ack 2 %d %d\n", seq, n)
			w.Flush()
			mu.Unlock()
			seq += n
		}
	}()
	time.Sleep(time.Until(deadline))
	os.Exit(3)
}
