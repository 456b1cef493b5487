package erptest

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"net/http"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/greenlang/gl001/erp"
)

// WorkdayConfig configures a WorkdayServer. Zero values take the defaults noted.
type WorkdayConfig struct {
	// Tenant is the tenant name in every path. Default "gl001".
	Tenant string
	// Username and Password are the integration system user accepted in the
	// WS-Security UsernameToken (as Username@Tenant). Defaults "isu_gl001"
	// and "wd-pass-for-tests".
	Username, Password string
	// ClientID, ClientSecret and RefreshToken are what the OAuth token
	// endpoint accepts for the refresh-token grant. Defaults "gl001-api",
	// "api-secret-for-tests" and "rt-initial-for-tests".
	ClientID, ClientSecret, RefreshToken string
	// RotateRefreshTokens makes every refresh issue a new refresh token and
	// invalidate the one used.
	RotateRefreshTokens bool
	// APIKey, if set, is accepted in the X-API-Key header.
	APIKey string
	// TokenTTL is the lifetime of access tokens. Default 1 h.
	TokenTTL time.Duration
}

// WorkdaySupplierInvoice is one supplier invoice as the fake stores it.
type WorkdaySupplierInvoice struct {
	ID, WID       string // Supplier_Invoice_ID and its WID
	Number        string
	Company       string // Company_Reference_ID
	Supplier      string // Supplier_ID
	SupplierName  string
	Currency      string
	Date          time.Time // invoice date (its day counts)
	Amount        string    // Control_Amount_Total, decimal text
	Memo          string
	CostCenter    string // Cost_Center_Reference_ID of the lines
	Quantity      string // of the single line, decimal text; "" for none
	UnitOfMeasure string // UN/CEFACT code of the line quantity, e.g. "KWH"
	// Entered is when the invoice was entered; zero means when it was put.
	// Requests with an earlier As_Of_Entry_DateTime do not see it.
	Entered time.Time
}

// WorkdayJournalLine is one line of a WorkdayJournal.
type WorkdayJournalLine struct {
	Account       string // Ledger_Account_ID
	Debit, Credit string // decimal text; empty for none
	Memo          string
	CostCenter    string
}

// WorkdayJournal is one journal entry as the fake stores it.
type WorkdayJournal struct {
	WID, Number string
	Company     string
	Currency    string
	Date        time.Time // accounting date
	Lines       []WorkdayJournalLine
	Entered     time.Time
}

// WorkdayReport is a custom report served by Reports-as-a-Service.
type WorkdayReport struct {
	Entries []Row
	// DateField is compared with the FromParam and ToParam prompts
	// (inclusive dates); PlantField with PlantParam.
	DateField, FromParam, ToParam string
	PlantField, PlantParam        string
}

type wdDoc struct {
	date    time.Time
	company string
	entered time.Time
	xml     []byte
}

// WorkdayServer is Workday over HTTPS: Web Services (SOAP 1.1, encoding/xml)
// at /ccx/service/<tenant>/<Service>/<version> with a WS-Security
// UsernameToken or a bearer token (reports take a bearer token, the API
// key, or the integration user over HTTP Basic), Get_Supplier_Invoices
// (Resource_Management) and Get_Journals (Financial_Management) paged by
// Response_Filter Page and Count (at most 999) as of As_Of_Entry_DateTime,
// with Response_Results; Reports-as-a-Service at
// /ccx/service/customreport2/<tenant>/<owner>/<report>?format=json
// answering {"Report_Entry":[..]}; an OAuth refresh-token endpoint at
// /ccx/oauth2/<tenant>/token that can rotate refresh tokens; SOAP faults for
// bad credentials and bad requests; and the fault injection of Server.
type WorkdayServer struct {
	fake
	cfg WorkdayConfig

	docs    map[string][]wdDoc // operation -> documents
	reports map[string]WorkdayReport
	refresh map[string]bool
	onPage  func(op string, page int)
	rotated []string
}

// NewWorkdayServer starts a TLS server. Close it when done.
func NewWorkdayServer(cfg WorkdayConfig) *WorkdayServer {
	if cfg.Tenant == "" {
		cfg.Tenant = "gl001"
	}
	if cfg.Username == "" {
		cfg.Username = "isu_gl001"
	}
	if cfg.Password == "" {
		cfg.Password = "wd-pass-for-tests"
	}
	if cfg.ClientID == "" {
		cfg.ClientID = "gl001-api"
	}
	if cfg.ClientSecret == "" {
		cfg.ClientSecret = "api-secret-for-tests"
	}
	if cfg.RefreshToken == "" {
		cfg.RefreshToken = "rt-initial-for-tests"
	}
	if cfg.TokenTTL == 0 {
		cfg.TokenTTL = time.Hour
	}
	s := &WorkdayServer{cfg: cfg, docs: map[string][]wdDoc{}, reports: map[string]WorkdayReport{},
		refresh: map[string]bool{cfg.RefreshToken: true}}
	s.start(s.serve)
	return s
}

// Tenant returns the tenant name.
func (s *WorkdayServer) Tenant() string { return s.cfg.Tenant }

// TokenURL is the OAuth 2.0 token endpoint, /ccx/oauth2/<tenant>/token.
func (s *WorkdayServer) TokenURL() string {
	return s.srv.URL + "/ccx/oauth2/" + s.cfg.Tenant + "/token"
}

// SetPassword changes the accepted password (a rotation).
func (s *WorkdayServer) SetPassword(p string) {
	s.mu.Lock()
	s.cfg.Password = p
	s.mu.Unlock()
}

// OnPage, if set, is called before each SOAP page is served (outside the
// server's lock), to change data between pages.
func (s *WorkdayServer) OnPage(f func(op string, page int)) {
	s.mu.Lock()
	s.onPage = f
	s.mu.Unlock()
}

// RefreshTokens returns the refresh tokens issued by rotation so far.
func (s *WorkdayServer) RefreshTokens() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.rotated)
}

// PutSupplierInvoices stores invoices for Get_Supplier_Invoices.
func (s *WorkdayServer) PutSupplierInvoices(invs ...WorkdaySupplierInvoice) {
	now := time.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, in := range invs {
		if in.Entered.IsZero() {
			in.Entered = now
		}
		s.docs["Get_Supplier_Invoices"] = append(s.docs["Get_Supplier_Invoices"],
			wdDoc{date: in.Date, company: in.Company, entered: in.Entered, xml: SupplierInvoiceXML(in)})
	}
}

// PutJournals stores journal entries for Get_Journals.
func (s *WorkdayServer) PutJournals(js ...WorkdayJournal) {
	now := time.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, j := range js {
		if j.Entered.IsZero() {
			j.Entered = now
		}
		s.docs["Get_Journals"] = append(s.docs["Get_Journals"], wdDoc{date: j.Date, company: j.Company, entered: j.Entered, xml: journalXML(j)})
	}
}

// PutReport publishes a custom report of owner.
func (s *WorkdayServer) PutReport(owner, name string, r WorkdayReport) {
	s.mu.Lock()
	s.reports[owner+"/"+name] = r
	s.mu.Unlock()
}

// WorkdayFault returns a SOAP 1.1 fault envelope as Workday sends it, for
// Fault.Body (with Status 500).
func WorkdayFault(code, message string) string {
	var b bytes.Buffer
	b.WriteString(`<?xml version="1.0" encoding="UTF-8"?><SOAP-ENV:Envelope xmlns:SOAP-ENV="http://schemas.xmlsoap.org/soap/envelope/"><SOAP-ENV:Body><SOAP-ENV:Fault xmlns:wd="urn:com.workday/bsvc"><faultcode>`)
	_ = xml.EscapeText(&b, []byte(code))
	b.WriteString(`</faultcode><faultstring>`)
	_ = xml.EscapeText(&b, []byte(message))
	b.WriteString(`</faultstring>`)
	if strings.Contains(code, "validationError") {
		b.WriteString(`<detail><wd:Validation_Fault><wd:Validation_Error><wd:Message>`)
		_ = xml.EscapeText(&b, []byte(message))
		b.WriteString(`</wd:Message></wd:Validation_Error></wd:Validation_Fault></detail>`)
	}
	b.WriteString(`</SOAP-ENV:Fault></SOAP-ENV:Body></SOAP-ENV:Envelope>`)
	return b.String()
}

func (s *WorkdayServer) serve(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == "/ccx/oauth2/"+s.cfg.Tenant+"/token" {
		s.token(w, r)
		return
	}
	body, f := s.record(r)

	report, isReport := strings.CutPrefix(r.URL.Path, "/ccx/service/customreport2/"+s.cfg.Tenant+"/")
	if isReport {
		if !s.bearerOK(r) {
			s.mu.Lock()
			s.stats.Unauthorized++
			s.mu.Unlock()
			w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token"`)
			writeJSONError(w, http.StatusUnauthorized, "invalid_token", "Unauthorized")
			return
		}
		if f != nil && f.Status != 0 {
			writeFault(w, f, false)
			return
		}
		page, status, msg := s.report(report, r)
		if status != 0 {
			writeJSONError(w, status, "", msg)
			return
		}
		s.servePage(w, r, f, page, "application/json")
		return
	}
	svc, ok := strings.CutPrefix(r.URL.Path, "/ccx/service/"+s.cfg.Tenant+"/")
	if !ok || r.Method != http.MethodPost {
		http.Error(w, "not found", http.StatusNotFound)
		return
	}
	var req wdRequest
	if err := xml.Unmarshal(body, &req); err != nil {
		soapFault(w, "SOAP-ENV:Client", "Invalid SOAP request: "+err.Error())
		return
	}
	tok := req.Header.Security.UsernameToken
	s.mu.Lock()
	userOK := tok.Username == s.cfg.Username+"@"+s.cfg.Tenant && tok.Password == s.cfg.Password
	s.mu.Unlock()
	if !userOK && !s.bearerOK(r) {
		s.mu.Lock()
		s.stats.Unauthorized++
		s.mu.Unlock()
		if tok.Username == "" && r.Header.Get("Authorization") != "" {
			// A bearer token alone that is expired or unknown: HTTP 401.
			w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token"`)
			http.Error(w, "Unauthorized", http.StatusUnauthorized)
			return
		}
		soapFault(w, "SOAP-ENV:Client.authenticationError", "invalid username or password")
		return
	}
	if f != nil && f.Status != 0 {
		writeFault(w, f, true)
		return
	}
	page, code, msg := s.soap(svc, &req)
	if code != "" {
		soapFault(w, code, msg)
		return
	}
	s.servePage(w, r, f, page, "text/xml; charset=utf-8")
}

func writeFault(w http.ResponseWriter, f *Fault, soap bool) {
	if f.RetryAfter != "" {
		w.Header().Set("Retry-After", f.RetryAfter)
	}
	switch {
	case f.Body != "":
		if strings.HasPrefix(f.Body, "<") {
			w.Header().Set("Content-Type", "text/xml; charset=utf-8")
		}
		w.WriteHeader(f.Status)
		_, _ = w.Write([]byte(f.Body))
	case soap && f.Status == http.StatusInternalServerError:
		soapFault(w, "SOAP-ENV:Server.processingError", "An internal error occurred")
	default:
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.WriteHeader(f.Status)
		_, _ = w.Write([]byte(http.StatusText(f.Status)))
	}
}

func soapFault(w http.ResponseWriter, code, msg string) {
	w.Header().Set("Content-Type", "text/xml; charset=utf-8")
	w.WriteHeader(http.StatusInternalServerError)
	_, _ = w.Write([]byte(WorkdayFault(code, msg)))
}

func writeJSONError(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]string{"error": code, "message": msg})
}

func (s *WorkdayServer) bearerOK(r *http.Request) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cfg.APIKey != "" && r.Header.Get("X-API-Key") == s.cfg.APIKey {
		return true
	}
	if u, p, ok := r.BasicAuth(); ok {
		return u == s.cfg.Username+"@"+s.cfg.Tenant && p == s.cfg.Password
	}
	return s.bearerValid(r)
}

// token answers the refresh-token grant.
func (s *WorkdayServer) token(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil || r.Method != http.MethodPost {
		http.Error(w, "bad token request", http.StatusBadRequest)
		return
	}
	id, secret, _ := r.BasicAuth()
	s.mu.Lock()
	defer s.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	deny := func(code, desc string) {
		s.stats.TokenDenied++
		w.WriteHeader(http.StatusBadRequest)
		_ = json.NewEncoder(w).Encode(map[string]string{"error": code, "error_description": desc})
	}
	switch {
	case id != s.cfg.ClientID || secret != s.cfg.ClientSecret:
		deny("invalid_client", "Invalid client credentials")
		return
	case r.PostForm.Get("grant_type") != "refresh_token":
		deny("unsupported_grant_type", "Only refresh_token is supported")
		return
	case !s.refresh[r.PostForm.Get("refresh_token")]:
		deny("invalid_grant", "Invalid refresh token")
		return
	}
	rt := r.PostForm.Get("refresh_token")
	if s.cfg.RotateRefreshTokens {
		delete(s.refresh, rt)
		rt = "rt-" + newToken()
		s.refresh[rt] = true
		s.rotated = append(s.rotated, rt)
	}
	tok := s.issue(s.cfg.TokenTTL)
	_ = json.NewEncoder(w).Encode(map[string]any{"access_token": tok, "token_type": "Bearer",
		"expires_in": int(s.cfg.TokenTTL / time.Second), "refresh_token": rt})
}

// wdRequest is what the fake reads of a Get_... request.
type wdRequest struct {
	Header struct {
		Security struct {
			UsernameToken struct {
				Username string `xml:"Username"`
				Password string `xml:"Password"`
			} `xml:"UsernameToken"`
		} `xml:"Security"`
	} `xml:"Header"`
	Body struct {
		Op struct {
			XMLName  xml.Name
			Version  string `xml:"version,attr"`
			Criteria struct {
				Elems []wdElem `xml:",any"`
			} `xml:"Request_Criteria"`
			Filter struct {
				AsOf  string `xml:"As_Of_Entry_DateTime"`
				Page  string `xml:"Page"`
				Count string `xml:"Count"`
			} `xml:"Response_Filter"`
		} `xml:",any"`
	} `xml:"Body"`
}

type wdElem struct {
	XMLName xml.Name
	Text    string `xml:",chardata"`
	IDs     []struct {
		Type  string `xml:"type,attr"`
		Value string `xml:",chardata"`
	} `xml:"ID"`
}

var wdServices = map[string]string{"Get_Supplier_Invoices": "Resource_Management", "Get_Journals": "Financial_Management"}

// soap answers a Get_... request; a non-empty code is a fault.
func (s *WorkdayServer) soap(svc string, req *wdRequest) ([]byte, string, string) {
	service, version, _ := strings.Cut(svc, "/")
	op, ok := strings.CutSuffix(req.Body.Op.XMLName.Local, "_Request")
	if !ok || wdServices[op] == "" || wdServices[op] != service {
		return nil, "SOAP-ENV:Client.validationError", "Invalid request element " + strconv.Quote(req.Body.Op.XMLName.Local) + " for service " + service
	}
	if !strings.HasPrefix(version, "v") || req.Body.Op.Version != version {
		return nil, "SOAP-ENV:Client.validationError", "Invalid version " + strconv.Quote(req.Body.Op.Version)
	}
	page, count := 1, 100
	var err error
	if v := strings.TrimSpace(req.Body.Op.Filter.Page); v != "" {
		if page, err = strconv.Atoi(v); err != nil || page < 1 {
			return nil, "SOAP-ENV:Client.validationError", "Page Number cannot be zero."
		}
	}
	if v := strings.TrimSpace(req.Body.Op.Filter.Count); v != "" {
		if count, err = strconv.Atoi(v); err != nil || count < 1 || count > 999 {
			return nil, "SOAP-ENV:Client.validationError", "Count must be between 1 and 999"
		}
	}
	asOf := time.Now()
	if v := strings.TrimSpace(req.Body.Op.Filter.AsOf); v != "" {
		if asOf, err = erp.ParseTime(v, time.UTC); err != nil {
			return nil, "SOAP-ENV:Client.validationError", "Invalid As_Of_Entry_DateTime"
		}
	}
	var from, to time.Time
	var company string
	for _, e := range req.Body.Op.Criteria.Elems {
		switch e.XMLName.Local {
		case "Invoice_Date_On_or_After", "Accounting_From_Date":
			from, err = erp.ParseTime(strings.TrimSpace(e.Text), time.UTC)
		case "Invoice_Date_On_or_Before", "Accounting_To_Date":
			to, err = erp.ParseTime(strings.TrimSpace(e.Text), time.UTC)
		case "Company_Reference", "Organization_Reference":
			for _, id := range e.IDs {
				if id.Type == "Company_Reference_ID" {
					company = id.Value
				}
			}
		default:
			return nil, "SOAP-ENV:Client.validationError", "Unsupported criteria element " + e.XMLName.Local
		}
		if err != nil {
			return nil, "SOAP-ENV:Client.validationError", "Invalid date in " + e.XMLName.Local
		}
	}
	s.mu.Lock()
	hook := s.onPage
	s.mu.Unlock()
	if hook != nil {
		hook(op, page)
	}
	s.mu.Lock()
	var docs []wdDoc
	for _, d := range s.docs[op] {
		day := time.Date(d.date.Year(), d.date.Month(), d.date.Day(), 0, 0, 0, 0, time.UTC)
		switch {
		case d.entered.Truncate(time.Millisecond).After(asOf):
		case !from.IsZero() && day.Before(from):
		case !to.IsZero() && day.After(to):
		case company != "" && d.company != company:
		default:
			docs = append(docs, d)
		}
	}
	s.mu.Unlock()
	sort.SliceStable(docs, func(i, j int) bool { return docs[i].date.Before(docs[j].date) })
	total := len(docs)
	pages := (total + count - 1) / count
	start := min((page-1)*count, total)
	end := min(start+count, total)
	var b bytes.Buffer
	b.WriteString(`<?xml version="1.0" encoding="UTF-8"?>` + "\n")
	b.WriteString(`<env:Envelope xmlns:env="http://schemas.xmlsoap.org/soap/envelope/"><env:Body>`)
	fmt.Fprintf(&b, `<wd:%s_Response xmlns:wd="urn:com.workday/bsvc" wd:version="%s">`, op, version)
	fmt.Fprintf(&b, `<wd:Response_Filter><wd:As_Of_Effective_Date>%s</wd:As_Of_Effective_Date><wd:As_Of_Entry_DateTime>%s</wd:As_Of_Entry_DateTime><wd:Page>%d</wd:Page><wd:Count>%d</wd:Count></wd:Response_Filter>`,
		asOf.UTC().Format("2006-01-02-07:00"), asOf.UTC().Format("2006-01-02T15:04:05.000-07:00"), page, count)
	fmt.Fprintf(&b, `<wd:Response_Results><wd:Total_Results>%d</wd:Total_Results><wd:Total_Pages>%d</wd:Total_Pages><wd:Page_Results>%d</wd:Page_Results><wd:Page>%d</wd:Page></wd:Response_Results>`,
		total, pages, end-start, page)
	b.WriteString(`<wd:Response_Data>`)
	for _, d := range docs[start:end] {
		b.Write(d.xml)
	}
	fmt.Fprintf(&b, `</wd:Response_Data></wd:%s_Response></env:Body></env:Envelope>`, op)
	return b.Bytes(), "", ""
}

func (s *WorkdayServer) report(path string, r *http.Request) ([]byte, int, string) {
	q := r.URL.Query()
	if q.Get("format") != "json" {
		return nil, http.StatusBadRequest, "format must be json"
	}
	s.mu.Lock()
	rep, ok := s.reports[path]
	s.mu.Unlock()
	if !ok {
		return nil, http.StatusNotFound, "Report " + strconv.Quote(path) + " not found"
	}
	var from, to time.Time
	var err error
	if v := q.Get(rep.FromParam); rep.FromParam != "" && v != "" {
		if from, err = erp.ParseTime(v, time.UTC); err != nil {
			return nil, http.StatusBadRequest, "Invalid date for prompt " + rep.FromParam
		}
	}
	if v := q.Get(rep.ToParam); rep.ToParam != "" && v != "" {
		if to, err = erp.ParseTime(v, time.UTC); err != nil {
			return nil, http.StatusBadRequest, "Invalid date for prompt " + rep.ToParam
		}
	}
	entries := []Row{}
	for _, e := range rep.Entries {
		if rep.PlantParam != "" && q.Get(rep.PlantParam) != "" && fmt.Sprint(e[rep.PlantField]) != q.Get(rep.PlantParam) {
			continue
		}
		if rep.DateField != "" && (!from.IsZero() || !to.IsZero()) {
			d, err := erp.ParseTime(fmt.Sprint(e[rep.DateField]), time.UTC)
			if err != nil {
				return nil, http.StatusInternalServerError, "bad date in report data"
			}
			if (!from.IsZero() && d.Before(from)) || (!to.IsZero() && d.After(to.Add(24*time.Hour-time.Nanosecond))) {
				continue
			}
		}
		entries = append(entries, e)
	}
	b, _ := json.Marshal(map[string]any{"Report_Entry": entries})
	return b, 0, ""
}

func wdDate(t time.Time) string { return t.UTC().Format("2006-01-02") + "-00:00" }

func wdRef(b *bytes.Buffer, elem, descriptor string, ids ...[2]string) {
	b.WriteString(`<wd:` + elem)
	if descriptor != "" {
		b.WriteString(` wd:Descriptor="`)
		_ = xml.EscapeText(b, []byte(descriptor))
		b.WriteString(`"`)
	}
	b.WriteString(`>`)
	for _, id := range ids {
		b.WriteString(`<wd:ID wd:type="` + id[0] + `">`)
		_ = xml.EscapeText(b, []byte(id[1]))
		b.WriteString(`</wd:ID>`)
	}
	b.WriteString(`</wd:` + elem + `>`)
}

func wdText(b *bytes.Buffer, elem, v string) {
	if v == "" {
		return
	}
	b.WriteString(`<wd:` + elem + `>`)
	_ = xml.EscapeText(b, []byte(v))
	b.WriteString(`</wd:` + elem + `>`)
}

// SupplierInvoiceXML renders one <wd:Supplier_Invoice> the way
// Get_Supplier_Invoices returns it.
func SupplierInvoiceXML(in WorkdaySupplierInvoice) []byte {
	var b bytes.Buffer
	b.WriteString(`<wd:Supplier_Invoice>`)
	wdRef(&b, "Supplier_Invoice_Reference", "Supplier Invoice: "+in.Number, [2]string{"WID", in.WID}, [2]string{"Supplier_Invoice_Reference_ID", in.ID})
	b.WriteString(`<wd:Supplier_Invoice_Data>`)
	wdText(&b, "Supplier_Invoice_ID", in.ID)
	wdText(&b, "Submit", "true")
	wdText(&b, "Locked_in_Workday", "false")
	wdText(&b, "Invoice_Number", in.Number)
	wdRef(&b, "Invoice_Document_Status_Reference", "Approved", [2]string{"Document_Status_ID", "Approved"})
	wdRef(&b, "Company_Reference", in.Company, [2]string{"WID", "c0" + in.WID[2:]}, [2]string{"Organization_Reference_ID", in.Company}, [2]string{"Company_Reference_ID", in.Company})
	wdRef(&b, "Currency_Reference", in.Currency, [2]string{"WID", "9e996ffdd3e14da0ba7275d5400bafd4"}, [2]string{"Currency_ID", in.Currency}, [2]string{"Currency_Numeric_Code", "840"})
	wdRef(&b, "Supplier_Reference", in.SupplierName, [2]string{"WID", "5a" + in.WID[2:]}, [2]string{"Supplier_ID", in.Supplier})
	wdText(&b, "Invoice_Date", wdDate(in.Date))
	wdText(&b, "On_Hold", "false")
	wdText(&b, "Control_Amount_Total", in.Amount)
	wdText(&b, "Tax_Amount", "0")
	wdText(&b, "Memo", in.Memo)
	b.WriteString(`<wd:Invoice_Line_Replacement_Data>`)
	wdText(&b, "Line_Order", "1")
	wdText(&b, "Item_Description", in.Memo)
	wdRef(&b, "Spend_Category_Reference", "Utilities", [2]string{"Spend_Category_ID", "SC_UTILITIES"})
	if in.Quantity != "" {
		wdText(&b, "Quantity", in.Quantity)
		wdRef(&b, "Unit_of_Measure_Reference", in.UnitOfMeasure, [2]string{"UN_CEFACT_Common_Code_ID", in.UnitOfMeasure})
	}
	wdText(&b, "Extended_Amount", in.Amount)
	wdRef(&b, "Worktags_Reference", "Spend Category", [2]string{"Spend_Category_ID", "SC_UTILITIES"})
	wdRef(&b, "Worktags_Reference", in.CostCenter, [2]string{"Cost_Center_Reference_ID", in.CostCenter})
	b.WriteString(`</wd:Invoice_Line_Replacement_Data></wd:Supplier_Invoice_Data></wd:Supplier_Invoice>`)
	return b.Bytes()
}

func journalXML(j WorkdayJournal) []byte {
	var b bytes.Buffer
	b.WriteString(`<wd:Journal_Entry>`)
	wdRef(&b, "Journal_Entry_Reference", "Journal: "+j.Number, [2]string{"WID", j.WID})
	b.WriteString(`<wd:Journal_Entry_Data>`)
	wdText(&b, "Journal_Number", j.Number)
	wdRef(&b, "Company_Reference", j.Company, [2]string{"Company_Reference_ID", j.Company})
	wdRef(&b, "Currency_Reference", j.Currency, [2]string{"Currency_ID", j.Currency})
	wdRef(&b, "Ledger_Type_Reference", "Actuals", [2]string{"Ledger_Type_ID", "Actuals"})
	wdText(&b, "Accounting_Date", wdDate(j.Date))
	wdRef(&b, "Journal_Source_Reference", "Manual Journal", [2]string{"Journal_Source_ID", "Manual_Journal"})
	for i, l := range j.Lines {
		b.WriteString(`<wd:Journal_Entry_Line_Data>`)
		wdText(&b, "Line_Order", strconv.Itoa(i+1))
		wdRef(&b, "Ledger_Account_Reference", "", [2]string{"Ledger_Account_ID", l.Account})
		wdText(&b, "Debit_Amount", l.Debit)
		wdText(&b, "Credit_Amount", l.Credit)
		wdRef(&b, "Currency_Reference", j.Currency, [2]string{"Currency_ID", j.Currency})
		wdText(&b, "Memo", l.Memo)
		if l.CostCenter != "" {
			wdRef(&b, "Worktags_Reference", l.CostCenter, [2]string{"Cost_Center_Reference_ID", l.CostCenter})
		}
		b.WriteString(`</wd:Journal_Entry_Line_Data>`)
	}
	b.WriteString(`</wd:Journal_Entry_Data></wd:Journal_Entry>`)
	return b.Bytes()
}

// WorkdaySupplierInvoices returns n natural gas invoices of company, one a
// day from start: invoice i is 1000+i.25 USD for 12500 kWh, cost centre
// CC-UTIL.
func WorkdaySupplierInvoices(n int, start time.Time, company string) []WorkdaySupplierInvoice {
	out := make([]WorkdaySupplierInvoice, n)
	for i := range out {
		out[i] = WorkdaySupplierInvoice{
			ID:     fmt.Sprintf("SUPPLIER_INVOICE-6-%d", 1000+i),
			WID:    fmt.Sprintf("%032x", 0xa1000000+i),
			Number: "GAS-" + strconv.Itoa(7000+i), Company: company, Supplier: "S-100", SupplierName: "Northern Gas & Power",
			Currency: "USD", Date: start.Add(time.Duration(i) * 24 * time.Hour), Amount: strconv.Itoa(1000+i) + ".25",
			Memo: "Natural gas supply", CostCenter: "CC-UTIL", Quantity: "12500", UnitOfMeasure: "KWH",
		}
	}
	return out
}
