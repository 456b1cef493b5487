package postgres_test

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// cpuMeter measures the CPU time the test process and the cluster's server
// processes (the postmaster and its children: backends, WAL writer,
// checkpointer...) spend during a benchmark. On a shared machine the wall
// time depends on the neighbours; CPU time per point much less so.
type cpuMeter struct {
	c                *cluster
	client, server   time.Duration // summed over the measured stretches
	client0, server0 time.Duration
}

// start and stop bracket a measured stretch (where the benchmark's timer
// runs), so making the points does not count.
func (m *cpuMeter) start() {
	m.server0 = m.c.serverCPU() // first: reading /proc is the client's work
	m.client0 = selfCPU()
}

func (m *cpuMeter) stop() {
	m.client += selfCPU() - m.client0
	m.server += m.c.serverCPU() - m.server0
}

// report adds client-ns/point and server-ns/point to b's metrics.
func (m *cpuMeter) report(b *testing.B, points int) {
	b.ReportMetric(float64(m.client.Nanoseconds())/float64(points), "client-ns/point")
	b.ReportMetric(float64(m.server.Nanoseconds())/float64(points), "server-ns/point")
}

func selfCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// serverCPU sums utime and stime of the postmaster and its children from
// /proc (clock ticks of 10 ms; 0 where /proc cannot be read).
func (c *cluster) serverCPU() time.Duration {
	pidFile, err := os.ReadFile(filepath.Join(c.data, "postmaster.pid"))
	if err != nil {
		return 0
	}
	pm := strings.TrimSpace(strings.SplitN(string(pidFile), "\n", 2)[0])
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return 0
	}
	var ticks int64
	for _, e := range ents {
		if _, err := strconv.Atoi(e.Name()); err != nil {
			continue
		}
		stat, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		s := string(stat)
		i := strings.LastIndexByte(s, ')')
		if i < 0 {
			continue
		}
		f := strings.Fields(s[i+1:]) // f[0] state, f[1] ppid, f[11] utime, f[12] stime
		if len(f) < 13 || (e.Name() != pm && f[1] != pm) {
			continue
		}
		u, _ := strconv.ParseInt(f[11], 10, 64)
		st, _ := strconv.ParseInt(f[12], 10, 64)
		ticks += u + st
	}
	return time.Duration(ticks) * 10 * time.Millisecond
}
