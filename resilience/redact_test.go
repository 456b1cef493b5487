package resilience

import (
	"strings"
	"testing"
)

func TestRedact(t *testing.T) {
	for _, c := range []struct {
		in, want string
		secrets  []string
	}{
		{in: `dial opc.tcp://operator:s3cr3t@10.0.0.5:4840: refused`, want: `dial opc.tcp://operator:xxxxx@10.0.0.5:4840: refused`},
		{in: `Get "https://u:p%40ss@erp.example/odata?$top=5": EOF`, want: `Get "https://u:xxxxx@erp.example/odata?$top=5": EOF`},
		{in: `mqtt://broker:1883 down`, want: `mqtt://broker:1883 down`},
		{in: `POST /token client_secret=abc123&grant_type=client_credentials`, want: `POST /token client_secret=xxxxx&grant_type=client_credentials`},
		{in: `{"password": "hunter2", "user": "bob"}`, want: `{"password": "xxxxx", "user": "bob"}`},
		{in: `Authorization: Bearer eyJhbGciOi.J9.x-y`, want: `Authorization: Bearer xxxxx`},
		{in: `login failed for key K-77-SECRET`, secrets: []string{"K-77-SECRET", ""}, want: `login failed for key xxxxx`},
		{in: `nothing to hide`, want: `nothing to hide`},
	} {
		got := Redact(c.in, c.secrets...)
		if got != c.want {
			t.Errorf("Redact(%q) = %q, want %q", c.in, got, c.want)
		}
		for _, s := range append(c.secrets, "s3cr3t", "hunter2", "abc123", "p%40ss") {
			if s != "" && strings.Contains(got, s) {
				t.Errorf("Redact(%q) leaks %q", c.in, s)
			}
		}
	}
}
