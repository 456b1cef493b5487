//go:build unix

package transform

import "syscall"

// cpuSeconds returns the CPU time (user + system) this process has used. The
// benchmarks report throughput per CPU second too, which the other processes
// on a shared machine do not skew the way they skew wall time.
func cpuSeconds() float64 {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return float64(ru.Utime.Sec+ru.Stime.Sec) + float64(ru.Utime.Usec+ru.Stime.Usec)/1e6
}
