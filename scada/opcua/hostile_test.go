package opcua

import (
	"encoding/binary"
	"runtime"
	"testing"
	"time"

	"github.com/gopcua/opcua/ua"
)

// These tests pin down the exposure the package doc describes under "A
// hostile server": gopcua v0.8.0 allocates whatever an array length on the
// wire claims before it reads a single element. If one of them fails because
// the allocation is gone, a newer gopcua bounds its arrays: update the doc
// (and drop the advice that depends on it) together with these tests.

// craftedPublishResponse returns a PublishResponse as a server sends it, but
// with the length of its last array (DiagnosticInfos, pointers of 8 bytes)
// changed to claim: four bytes differ from a well-formed message.
func craftedPublishResponse(t testing.TB, claim uint32) []byte {
	t.Helper()
	res := &ua.PublishResponse{
		ResponseHeader: &ua.ResponseHeader{
			Timestamp:          time.Date(2026, 12, 6, 0, 0, 0, 0, time.UTC),
			ServiceDiagnostics: &ua.DiagnosticInfo{},
			AdditionalHeader:   ua.NewExtensionObject(nil),
		},
		SubscriptionID:           1,
		AvailableSequenceNumbers: []uint32{7},
		NotificationMessage: &ua.NotificationMessage{
			SequenceNumber: 7,
			PublishTime:    time.Date(2026, 12, 6, 0, 0, 0, 0, time.UTC),
		},
		Results:         []ua.StatusCode{},
		DiagnosticInfos: []*ua.DiagnosticInfo{},
	}
	b, err := ua.Encode(res)
	if err != nil {
		t.Fatal(err)
	}
	// The well-formed message decodes.
	if _, err := ua.Decode(b, new(ua.PublishResponse)); err != nil {
		t.Fatalf("the well-formed PublishResponse does not decode: %v", err)
	}
	if got := binary.LittleEndian.Uint32(b[len(b)-4:]); got != 0 {
		t.Fatalf("the last 4 bytes are %d, want the empty DiagnosticInfos array's length 0", got)
	}
	binary.LittleEndian.PutUint32(b[len(b)-4:], claim)
	return b
}

// TestHostileArrayLengthAllocates decodes a PublishResponse of under a
// hundred bytes whose DiagnosticInfos length claims 8 Mi elements: gopcua
// allocates the 64 MiB the claim asks for before it finds that no element
// follows. The claim is kept at 64 MiB so the test process is never at risk;
// the subprocess test below shows what the largest claim does.
func TestHostileArrayLengthAllocates(t *testing.T) {
	const claim = 8 << 20 // elements; 8 bytes each
	b := craftedPublishResponse(t, claim)
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	_, err := ua.Decode(b, new(ua.PublishResponse))
	runtime.ReadMemStats(&after)
	if err == nil {
		t.Fatal("a PublishResponse claiming 8 Mi diagnostic infos it does not carry decoded without an error")
	}
	allocated := after.TotalAlloc - before.TotalAlloc
	t.Logf("a %d-byte message claiming %d elements: %d MiB allocated, then %v", len(b), claim, allocated>>20, err)
	if allocated < claim*8 {
		t.Fatalf("decoding allocated %d bytes for a claim of %d pointers (%d bytes): gopcua no longer allocates what the wire claims; "+
			"update \"A hostile server\" in doc.go and these tests", allocated, claim, claim*8)
	}
}
