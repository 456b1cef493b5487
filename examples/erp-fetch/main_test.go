package main

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// The example reads every system from its fake, waits out SAP's 429 by
// itself, and stops.
func Example() {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := run(ctx, os.Stdout); err != nil {
		fmt.Println(err)
	}
	// Output:
	// sap-s4        energy: 24 readings, 3240.0 kWh; first MP-1010-1 2026-03-02 00:00:00 123.5 kWh (100023)
	// oracle-fusion energy: 24 readings, 2952.0 kWh; first EM-M1-1 2026-03-02 00:00:00 111.5 kWh (300100190000011)
	// sap-s4        order 1000000 FG-STEAM-0 from 2026-03-02 06:00:00, 1200.000 TO
	// sap-s4        order 1000001 FG-STEAM-1 from 2026-03-03 06:00:00, 1200.000 TO
	// sap-s4        order 1000002 FG-STEAM-2 from 2026-03-04 06:00:00, 1200.000 TO
	// workday       costs: 3 supplier invoices, 3003.75 USD
	// workday       production: not supported: true
	// sap-s4        2 requests, 1 throttled and retried after Retry-After
	// cap-energy    energy: 3 of 3 readings, 247.5 kWh
}
