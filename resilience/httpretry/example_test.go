package httpretry_test

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"time"

	"github.com/greenlang/gl001/resilience/httpretry"
)

func ExampleNew() {
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) == 1 {
			w.Header().Set("Retry-After", "0") // also understood: an HTTP-date
			http.Error(w, "throttled", http.StatusTooManyRequests)
			return
		}
		fmt.Fprint(w, `{"value":[]}`)
	}))
	defer srv.Close()

	rt, err := httpretry.New(srv.Client().Transport, httpretry.Config{Name: "sap-prod"})
	if err != nil {
		fmt.Println(err)
		return
	}
	client := &http.Client{Transport: rt, Timeout: 30 * time.Second}
	resp, err := client.Get(srv.URL + "/sap/opu/odata/sap/API_ENERGY")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	fmt.Println(resp.StatusCode, string(body), "after", calls.Load(), "requests")
	// Output: 200 {"value":[]} after 2 requests
}
