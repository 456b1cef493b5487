package main

import (
	"io"
	"log"
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	// gopcua's server package, inside the OPC UA simulator, writes to the
	// standard library's global logger.
	log.SetOutput(io.Discard)
	goleak.VerifyTestMain(m)
}
