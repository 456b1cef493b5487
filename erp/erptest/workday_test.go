package erptest

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

func soapPost(t *testing.T, s *WorkdayServer, service, body string) (int, string) {
	t.Helper()
	resp, err := s.Client().Post(s.URL()+"/ccx/service/"+s.Tenant()+"/"+service, "text/xml", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func wdEnvelope(user, pass, op, inner string) string {
	return `<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns:bsvc="urn:com.workday/bsvc"><soapenv:Header>` +
		`<wsse:Security xmlns:wsse="http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd"><wsse:UsernameToken>` +
		`<wsse:Username>` + user + `</wsse:Username><wsse:Password>` + pass + `</wsse:Password></wsse:UsernameToken></wsse:Security></soapenv:Header>` +
		`<soapenv:Body><bsvc:` + op + `_Request bsvc:version="v45.0">` + inner + `</bsvc:` + op + `_Request></soapenv:Body></soapenv:Envelope>`
}

func TestWorkdaySOAP(t *testing.T) {
	s := NewWorkdayServer(WorkdayConfig{})
	defer s.Close()
	s.PutSupplierInvoices(WorkdaySupplierInvoices(5, time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC), "GMS_USA")...)
	filter := `<bsvc:Response_Filter><bsvc:Page>2</bsvc:Page><bsvc:Count>2</bsvc:Count></bsvc:Response_Filter>`
	status, body := soapPost(t, s, "Resource_Management/v45.0", wdEnvelope("isu_gl001@gl001", "wd-pass-for-tests", "Get_Supplier_Invoices", filter))
	if status != 200 || !strings.Contains(body, "<wd:Total_Results>5</wd:Total_Results><wd:Total_Pages>3</wd:Total_Pages><wd:Page_Results>2</wd:Page_Results><wd:Page>2</wd:Page>") ||
		strings.Count(body, "<wd:Supplier_Invoice>") != 2 || !strings.Contains(body, "<wd:Supplier_Invoice_ID>SUPPLIER_INVOICE-6-1002</wd:Supplier_Invoice_ID>") {
		t.Errorf("page 2: %d %s", status, body)
	}
	status, body = soapPost(t, s, "Resource_Management/v45.0", wdEnvelope("isu_gl001@gl001", "nope", "Get_Supplier_Invoices", filter))
	if status != 500 || !strings.Contains(body, "<faultcode>SOAP-ENV:Client.authenticationError</faultcode>") {
		t.Errorf("bad password: %d %s", status, body)
	}
	status, body = soapPost(t, s, "Resource_Management/v45.0", wdEnvelope("isu_gl001@gl001", "wd-pass-for-tests", "Get_Supplier_Invoices",
		`<bsvc:Response_Filter><bsvc:Count>1000</bsvc:Count></bsvc:Response_Filter>`))
	if status != 500 || !strings.Contains(body, "Client.validationError") {
		t.Errorf("Count 1000: %d %s", status, body)
	}
	status, body = soapPost(t, s, "Financial_Management/v45.0", wdEnvelope("isu_gl001@gl001", "wd-pass-for-tests", "Get_Supplier_Invoices", ""))
	if status != 500 || !strings.Contains(body, "Client.validationError") {
		t.Errorf("wrong service: %d %s", status, body)
	}
	status, body = soapPost(t, s, "Resource_Management/v45.0", "<not-soap")
	if status != 500 || !strings.Contains(body, "<faultcode>SOAP-ENV:Client</faultcode>") {
		t.Errorf("not SOAP: %d %s", status, body)
	}
}

func TestWorkdayReportAndRefreshRotation(t *testing.T) {
	s := NewWorkdayServer(WorkdayConfig{RotateRefreshTokens: true})
	defer s.Close()
	s.PutReport("ISU", "R", WorkdayReport{Entries: []Row{{"ID": "1", "Day": "2024-01-05-08:00"}, {"ID": "2", "Day": "2024-02-05-08:00"}},
		DateField: "Day", FromParam: "From", ToParam: "To"})
	refresh := func(rt string) (int, map[string]any) {
		req, _ := http.NewRequest("POST", s.TokenURL(), strings.NewReader(url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}}.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.SetBasicAuth("gl001-api", "api-secret-for-tests")
		return doJSON(t, s.Client(), req)
	}
	status, tok := refresh("rt-initial-for-tests")
	if status != 200 || tok["refresh_token"] == "rt-initial-for-tests" {
		t.Fatalf("refresh: %d %v", status, tok)
	}
	if status, m := refresh("rt-initial-for-tests"); status != 400 || m["error"] != "invalid_grant" {
		t.Errorf("reused refresh token: %d %v", status, m)
	}
	req, _ := http.NewRequest("GET", s.URL()+"/ccx/service/customreport2/gl001/ISU/R?format=json&From=2024-01-01&To=2024-01-31", nil)
	req.Header.Set("Authorization", "Bearer "+tok["access_token"].(string))
	resp, err := s.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var rep struct {
		Entries []map[string]string `json:"Report_Entry"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&rep); err != nil || len(rep.Entries) != 1 || rep.Entries[0]["ID"] != "1" {
		t.Errorf("report: %v %+v", err, rep)
	}
}
