package resilience

import (
	"strings"
	"testing"
)

// BenchmarkRedact is the cost of redacting a typical connection error.
func BenchmarkRedact(b *testing.B) {
	msg := "dial opc.tcp://operator:s3cret@10.0.0.5:4840: connect: connection refused; " + strings.Repeat("retrying ", 4)
	b.ReportAllocs()
	for b.Loop() {
		_ = Redact(msg, "tok-123")
	}
}
