package erptest

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func get(t *testing.T, s *Server, path, token string, hdr http.Header) (*http.Response, []byte) {
	t.Helper()
	req, _ := http.NewRequest("GET", s.URL()+path, nil)
	for k, v := range hdr {
		req.Header[k] = v
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := s.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, b
}

func token(t *testing.T, s *Server) string {
	t.Helper()
	resp, err := s.Client().PostForm(s.TokenURL(), url.Values{"grant_type": {"client_credentials"},
		"client_id": {s.ClientID()}, "client_secret": {"s3cret-for-tests"}})
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var tok struct {
		AccessToken string `json:"access_token"`
		ExpiresIn   int    `json:"expires_in"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&tok); err != nil || tok.AccessToken == "" || tok.ExpiresIn != 3600 {
		t.Fatalf("token: %+v, %v", tok, err)
	}
	return tok.AccessToken
}

func TestWireFormats(t *testing.T) {
	start := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	v2 := NewServer(Config{MaxPageSize: 2})
	defer v2.Close()
	v2.Put(SAPProductionPath, []string{"ManufacturingOrder"}, SAPProductionOrders(3, start, "1010")...)
	tok := token(t, v2)

	resp, body := get(t, v2, SAPProductionPath+"?$inlinecount=allpages&$filter=ProductionPlant%20eq%20'1010'", tok, nil)
	var page struct {
		D struct {
			Results []map[string]any `json:"results"`
			Next    string           `json:"__next"`
			Count   string           `json:"__count"`
		} `json:"d"`
	}
	if err := json.Unmarshal(body, &page); err != nil || resp.StatusCode != 200 {
		t.Fatalf("%d %s", resp.StatusCode, body)
	}
	if len(page.D.Results) != 2 || page.D.Count != "3" || !strings.Contains(page.D.Next, "$skiptoken=2") {
		t.Errorf("page = %+v", page.D)
	}
	if !strings.Contains(string(body), `"\/Date(`) && !strings.Contains(string(body), `"/Date(`) {
		t.Errorf("no V2 dates: %s", body)
	}
	if resp, _ := get(t, v2, SAPProductionPath+"?$filter=ProductionPlant+eq+'1010'", tok, nil); resp.StatusCode != 400 {
		t.Errorf("'+' accepted: %d", resp.StatusCode)
	}
	if resp, _ := get(t, v2, SAPProductionPath, "", nil); resp.StatusCode != 401 {
		t.Errorf("no token: %d", resp.StatusCode)
	}
	if resp, body := get(t, v2, SAPProductionPath+"?$filter=MfgOrderPlannedStartDate%20ge%20datetime'2024-01-02T00:00:00'", tok, nil); resp.StatusCode != 200 || strings.Count(string(body), "ManufacturingOrder\"") != 2 {
		t.Errorf("datetime filter: %d %s", resp.StatusCode, body)
	}

	dyn := NewServer(Config{Flavour: DynamicsWebAPI})
	defer dyn.Close()
	dyn.Put(DynamicsWorkOrdersPath, []string{"msdyn_workorderid"}, DynamicsWorkOrders(3, start)...)
	tok = token(t, dyn)
	resp, body = get(t, dyn, DynamicsWorkOrdersPath, tok, http.Header{"Prefer": {"odata.maxpagesize=2"}})
	var v4 map[string]any
	if err := json.Unmarshal(body, &v4); err != nil || resp.Header.Get("OData-Version") != "4.0" {
		t.Fatalf("%s %v", body, resp.Header)
	}
	if vals := v4["value"].([]any); len(vals) != 2 || v4["@odata.nextLink"] == nil {
		t.Errorf("v4 page = %v", v4)
	}
	if resp, _ := get(t, dyn, DynamicsWorkOrdersPath+"?$skip=1", tok, nil); resp.StatusCode != 400 {
		t.Errorf("$skip accepted by Dynamics: %d", resp.StatusCode)
	}
}

func TestParseFilter(t *testing.T) {
	conds, err := parseFilter("(A eq 'it''s and more') and B ge datetime'2024-01-01T00:00:00' and C lt 2024-02-01T00:00:00Z and D gt 1.5M and E eq true")
	if err != nil || len(conds) != 5 || *conds[0].str != "it's and more" || conds[1].tm == nil || conds[2].tm == nil || *conds[3].num != 1.5 || !*conds[4].boolean {
		t.Fatalf("conds = %+v, %v", conds, err)
	}
	for _, bad := range []string{"A eq", "A like 'x'", "A eq 'x", "A eq datetime'x'", "A eq what"} {
		if _, err := parseFilter(bad); err == nil {
			t.Errorf("parseFilter(%q) succeeded", bad)
		}
	}
}
