package erptest

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

func oracleToken(t *testing.T, s *OracleServer) string {
	t.Helper()
	req, _ := http.NewRequest("POST", s.TokenURL(), strings.NewReader(url.Values{"grant_type": {"client_credentials"}, "scope": {"x"}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(s.ClientID(), "s3cret-for-tests")
	resp, err := s.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&tok); err != nil || tok.AccessToken == "" {
		t.Fatalf("token: %v", err)
	}
	return tok.AccessToken
}

func oracleGet(t *testing.T, s *OracleServer, path, token string) (int, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest("GET", s.URL()+path, nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	return doJSON(t, s.Client(), req)
}

// doJSON sends req with hc and returns the status and the JSON object
// answered (nil if the body is not one).
func doJSON(t *testing.T, hc *http.Client, req *http.Request) (int, map[string]any) {
	t.Helper()
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var m map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&m)
	return resp.StatusCode, m
}

func TestOracleWireFormat(t *testing.T) {
	s := NewOracleServer(OracleConfig{})
	defer s.Close()
	s.Put("meterReadings", []string{"MeterReadingId"}, OracleMeterReadings(600, time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC), "M1")...)
	tok := oracleToken(t, s)
	p := s.ResourcePath("meterReadings")

	status, page := oracleGet(t, s, p+"?limit=1000&totalResults=true&onlyData=true", tok)
	if status != 200 || len(page["items"].([]any)) != 499 || page["hasMore"] != true || page["limit"].(float64) != 499 || page["totalResults"].(float64) != 600 {
		t.Errorf("capped page: %d %v %v %v", status, page["count"], page["hasMore"], page["limit"])
	}
	if _, ok := page["items"].([]any)[0].(map[string]any)["links"]; ok {
		t.Errorf("links with onlyData=true")
	}
	_, page = oracleGet(t, s, p+"?offset=499&limit=499&fields=MeterReadingId,ReadingValue", tok)
	item := page["items"].([]any)[0].(map[string]any)
	if page["hasMore"] != false || page["count"].(float64) != 101 || len(item) != 3 { // two fields and links
		t.Errorf("last page: %v %v %v", page["hasMore"], page["count"], item)
	}
	if _, ok := page["totalResults"]; ok {
		t.Errorf("totalResults without asking")
	}
	q := url.Values{"q": {"ReadingDate>='2024-01-02T00:00:00Z';ReadingDate<'2024-01-02T03:00:00Z';MeterCode='EM-M1-1'"}, "orderBy": {"MeterReadingId:desc"}}
	_, page = oracleGet(t, s, p+"?"+q.Encode(), tok)
	items := page["items"].([]any)
	if len(items) != 3 || items[0].(map[string]any)["MeterReadingId"].(float64) <= items[2].(map[string]any)["MeterReadingId"].(float64) {
		t.Errorf("q and orderBy: %v", items)
	}
	if status, _ := oracleGet(t, s, p+"?q=Nope='x'", tok); status != 400 {
		t.Errorf("unknown attribute: %d", status)
	}
	if status, _ := oracleGet(t, s, p, ""); status != 401 {
		t.Errorf("no token: %d", status)
	}
	if status, _ := oracleGet(t, s, s.ResourcePath("nothing"), tok); status != 404 {
		t.Errorf("unknown resource: %d", status)
	}
	s.Inject(Fault{Status: 429, RetryAfter: "3"})
	if status, _ := oracleGet(t, s, p, tok); status != 429 {
		t.Errorf("fault: %d", status)
	}
}

func TestParseOracleQ(t *testing.T) {
	conds, err := parseOracleQ("A='x;y';B>=5;C<>true;D<'2024-01-01';E=plain")
	if err != nil || len(conds) != 5 || *conds[0].str != "x;y" || conds[1].op != "ge" || *conds[1].num != 5 ||
		conds[2].op != "ne" || !*conds[2].boolean || conds[3].tm == nil || *conds[4].str != "plain" {
		t.Fatalf("conds = %+v, %v", conds, err)
	}
	for _, bad := range []string{"A", "='x'", "A='x", "A=two words"} {
		if _, err := parseOracleQ(bad); err == nil {
			t.Errorf("parseOracleQ(%q) succeeded", bad)
		}
	}
}
