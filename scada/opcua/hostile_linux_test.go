//go:build linux

package opcua

import (
	"bufio"
	"fmt"
	"math"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/gopcua/opcua/ua"
)

const hostileChildEnv = "GL001_OPCUA_HOSTILE_CHILD"

// TestHostileArrayLengthKillsTheProcess decodes, in a child process whose
// address space is limited to 1 GiB more than it already uses (as a
// container or ulimit -v limits it), a PublishResponse whose DiagnosticInfos
// length claims the most gopcua accepts (2^31-1 pointers, 16 GiB). Today
// the child does not get an error and does not panic: the Go runtime stops
// it with a fatal, unrecoverable out-of-memory error ("runtime: out of memory:
// cannot allocate 17179869184-byte block"). That is the exposure
// the package doc describes; the parent process never allocates anything.
func TestHostileArrayLengthKillsTheProcess(t *testing.T) {
	if os.Getenv(hostileChildEnv) == "1" {
		hostileChild(t)
		return
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestHostileArrayLengthKillsTheProcess$", "-test.count=1", "-test.v")
	cmd.Env = append(os.Environ(), hostileChildEnv+"=1")
	out, err := cmd.CombinedOutput()
	text := string(out)
	switch {
	case strings.Contains(text, "HOSTILE-LIMIT-FAILED"):
		t.Fatalf("the child could not limit its address space:\n%s", text)
	case strings.Contains(text, "HOSTILE-DECODED"), strings.Contains(text, "HOSTILE-RECOVERED"):
		t.Fatalf("the child survived the 16 GiB claim; gopcua no longer allocates what the wire claims: "+
			"update \"A hostile server\" in doc.go and these tests:\n%s", text)
	case err == nil || !strings.Contains(text, "fatal error") || !strings.Contains(text, "ua.decodeSlice") ||
		!(strings.Contains(text, "out of memory") || strings.Contains(text, "address space collisions")):
		// The race detector's runtime words the same failure "too many
		// address space collisions".
		t.Fatalf("child: %v, want a fatal out-of-memory error in gopcua's decodeSlice:\n%.4000s", err, text)
	}
	for line := range strings.Lines(text) {
		if strings.Contains(line, "out of memory") || strings.Contains(line, "address space collisions") {
			t.Logf("child (%v): %s", err, strings.TrimSpace(line))
		}
	}
}

func hostileChild(t *testing.T) {
	used, err := vmSize()
	if err == nil {
		limit := used + 1<<30
		err = syscall.Setrlimit(syscall.RLIMIT_AS, &syscall.Rlimit{Cur: limit, Max: limit})
	}
	if err != nil {
		fmt.Println("HOSTILE-LIMIT-FAILED", err)
		os.Exit(4)
	}
	b := craftedPublishResponse(t, math.MaxInt32)
	defer func() {
		if v := recover(); v != nil {
			fmt.Println("HOSTILE-RECOVERED", v)
			os.Exit(3)
		}
	}()
	_, err = ua.Decode(b, new(ua.PublishResponse))
	fmt.Println("HOSTILE-DECODED", err)
	os.Exit(0)
}

// vmSize returns the process's current virtual memory size in bytes.
func vmSize() (uint64, error) {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmSize:"); ok {
			kb, err := strconv.ParseUint(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return kb << 10, err
		}
	}
	return 0, fmt.Errorf("no VmSize in /proc/self/status")
}
