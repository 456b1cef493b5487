package httpretry

import (
	"io"
	"net/http"
	"testing"
)

// okTransport answers every request with an empty 200, in memory, so the
// benchmark measures the Transport's own cost.
type okTransport struct{}

func (okTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	return &http.Response{StatusCode: 200, Body: http.NoBody, Header: http.Header{}, Request: r}, nil
}

// BenchmarkTransportOverhead is the cost a Transport (retry policy and breaker)
// adds to a request that succeeds at once.
func BenchmarkTransportOverhead(b *testing.B) {
	rt, err := New(okTransport{}, Config{})
	if err != nil {
		b.Fatal(err)
	}
	req, _ := http.NewRequest(http.MethodGet, "http://erp.example/odata/Energy", nil)
	b.ReportAllocs()
	for b.Loop() {
		resp, err := rt.RoundTrip(req)
		if err != nil {
			b.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
}
