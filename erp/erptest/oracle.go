package erptest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/greenlang/gl001/erp"
)

// OracleConfig configures an OracleServer. Zero values take the defaults noted.
type OracleConfig struct {
	// ClientID and ClientSecret are what the token endpoint accepts.
	// Defaults "gl001-test" and "s3cret-for-tests".
	ClientID, ClientSecret string
	// BasicUser and BasicPassword, if set, are accepted as HTTP Basic
	// credentials on the REST resources.
	BasicUser, BasicPassword string
	// TokenTTL is the lifetime of issued tokens. Default 1 h.
	TokenTTL time.Duration
	// Version is the resource version served. Default "11.13.18.05".
	Version string
	// MaxLimit caps the limit parameter silently, as Fusion does (a limit
	// of 1000 gets 499 items and still says hasMore). Default 499.
	MaxLimit int
	// DefaultLimit applies when no limit is sent. Default 25.
	DefaultLimit int
}

// OracleServer is Oracle Fusion Cloud's REST API over HTTPS: resources at
// /fscmRestApi/resources/<version>/<name> answering
// {"items":[..],"count":..,"hasMore":..,"limit":..,"offset":..,"links":[..]}
// (totalResults on request), the q parameter (Attr='x';Attr>=..), finder=,
// fields=, onlyData=, orderBy=, limit and offset with the limit capped
// silently, an identity-domain token endpoint at /oauth2/v1/token issuing
// client-credentials tokens, optional HTTP Basic, and the same fault
// injection as Server. Use one per test.
type OracleServer struct {
	fake
	cfg OracleConfig

	sets map[string]*set // resource name -> data
}

// NewOracleServer starts a TLS server. Close it when done.
func NewOracleServer(cfg OracleConfig) *OracleServer {
	if cfg.ClientID == "" {
		cfg.ClientID = "gl001-test"
	}
	if cfg.ClientSecret == "" {
		cfg.ClientSecret = "s3cret-for-tests"
	}
	if cfg.TokenTTL == 0 {
		cfg.TokenTTL = time.Hour
	}
	if cfg.Version == "" {
		cfg.Version = "11.13.18.05"
	}
	if cfg.MaxLimit == 0 {
		cfg.MaxLimit = 499
	}
	if cfg.DefaultLimit == 0 {
		cfg.DefaultLimit = 25
	}
	s := &OracleServer{cfg: cfg, sets: map[string]*set{}}
	s.start(s.serve)
	return s
}

// IdentityDomain is the identity domain's URL (the same server).
func (s *OracleServer) IdentityDomain() string { return s.srv.URL }

// TokenURL is the OAuth 2.0 token endpoint, <identity domain>/oauth2/v1/token.
func (s *OracleServer) TokenURL() string { return s.srv.URL + "/oauth2/v1/token" }

// ResourcePath returns the path of a resource, /fscmRestApi/resources/<version>/<name>.
func (s *OracleServer) ResourcePath(name string) string {
	return "/fscmRestApi/resources/" + s.cfg.Version + "/" + name
}

// ClientID returns the accepted client ID.
func (s *OracleServer) ClientID() string { return s.cfg.ClientID }

// Put stores rows in the resource name, keyed by the key attributes,
// replacing rows with the same key.
func (s *OracleServer) Put(name string, key []string, rows ...Row) {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.sets[name]
	if st == nil {
		st = &set{key: key, version: map[string]int{}, deleted: map[string]int{}}
		s.sets[name] = st
	}
	for _, r := range rows {
		k := st.keyOf(r)
		if i := slices.IndexFunc(st.rows, func(x Row) bool { return st.keyOf(x) == k }); i >= 0 {
			st.rows[i] = r
		} else {
			st.rows = append(st.rows, r)
		}
	}
}

func (s *OracleServer) serve(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == "/oauth2/v1/token" {
		s.clientCredentials(w, r, s.cfg.ClientID, s.cfg.ClientSecret, s.cfg.TokenTTL, false)
		return
	}
	_, f := s.record(r)
	s.mu.Lock()
	ok := s.authorised(r)
	if !ok {
		s.stats.Unauthorized++
	}
	s.mu.Unlock()
	if !ok {
		w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token"`)
		oracleError(w, http.StatusUnauthorized, "", "Unauthorized")
		return
	}
	if f != nil && f.Status != 0 {
		if f.RetryAfter != "" {
			w.Header().Set("Retry-After", f.RetryAfter)
		}
		if f.Body != "" {
			w.WriteHeader(f.Status)
			_, _ = w.Write([]byte(f.Body))
			return
		}
		oracleError(w, f.Status, "", http.StatusText(f.Status))
		return
	}
	if r.Method != http.MethodGet {
		oracleError(w, http.StatusMethodNotAllowed, "", "only GET is served")
		return
	}
	page, status, msg := s.page(r)
	if status != 0 {
		oracleError(w, status, "", msg)
		return
	}
	s.servePage(w, r, f, page, "application/vnd.oracle.adf.resourcecollection+json")
}

func (s *OracleServer) authorised(r *http.Request) bool {
	if u, p, ok := r.BasicAuth(); ok {
		return s.cfg.BasicUser != "" && u == s.cfg.BasicUser && p == s.cfg.BasicPassword
	}
	return s.bearerValid(r)
}

// oracleError writes the Fusion REST error document.
func oracleError(w http.ResponseWriter, status int, code, detail string) {
	w.Header().Set("Content-Type", "application/vnd.oracle.adf.error+json")
	w.WriteHeader(status)
	e := map[string]any{"type": "http://www.w3.org/Protocols/rfc2616/rfc2616-sec10.html#sec10.4.1",
		"title": http.StatusText(status), "status": strconv.Itoa(status), "detail": detail}
	if code != "" {
		e["o:errorCode"] = code
	}
	_ = json.NewEncoder(w).Encode(e)
}

func (s *OracleServer) page(r *http.Request) ([]byte, int, string) {
	prefix := "/fscmRestApi/resources/" + s.cfg.Version + "/"
	name, ok := strings.CutPrefix(r.URL.Path, prefix)
	q := r.URL.Query()
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.sets[name]
	if !ok || st == nil {
		return nil, http.StatusNotFound, "The requested resource " + strconv.Quote(r.URL.Path) + " was not found."
	}
	conds, err := parseOracleQ(q.Get("q"))
	if err != nil {
		return nil, http.StatusBadRequest, "URL request parameter q with value " + strconv.Quote(q.Get("q")) + " is invalid: " + err.Error()
	}
	if f := q.Get("finder"); f != "" {
		fc, err := parseFinder(f)
		if err != nil {
			return nil, http.StatusBadRequest, err.Error()
		}
		conds = append(conds, fc...)
	}
	rows, err := filterRows(st.rows, conds)
	if err != nil {
		return nil, http.StatusBadRequest, err.Error()
	}
	if ob := q.Get("orderBy"); ob != "" {
		type key struct {
			attr string
			desc bool
		}
		var keys []key
		for p := range strings.SplitSeq(ob, ",") {
			a, dir, _ := strings.Cut(p, ":")
			if dir != "" && dir != "asc" && dir != "desc" {
				return nil, http.StatusBadRequest, "orderBy direction " + strconv.Quote(dir) + " is invalid"
			}
			keys = append(keys, key{a, dir == "desc"})
		}
		sort.SliceStable(rows, func(i, j int) bool {
			for _, k := range keys {
				a, b := fmt.Sprint(rows[i][k.attr]), fmt.Sprint(rows[j][k.attr])
				if fa, err1 := strconv.ParseFloat(a, 64); err1 == nil {
					if fb, err2 := strconv.ParseFloat(b, 64); err2 == nil && fa != fb {
						return (fa < fb) != k.desc
					}
				}
				if a != b {
					return (a < b) != k.desc
				}
			}
			return false
		})
	}
	limit := s.cfg.DefaultLimit
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			return nil, http.StatusBadRequest, "limit " + strconv.Quote(v) + " is invalid"
		}
		limit = n
	}
	limit = min(limit, s.cfg.MaxLimit) // silently, as Fusion does
	offset := 0
	if v := q.Get("offset"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return nil, http.StatusBadRequest, "offset " + strconv.Quote(v) + " is invalid"
		}
		offset = n
	}
	total := len(rows)
	offset = min(offset, total)
	end := min(offset+limit, total)
	items := make([]any, 0, end-offset)
	var fields []string
	if f := q.Get("fields"); f != "" {
		fields = strings.Split(f, ",")
	}
	self := s.srv.URL + r.URL.Path
	for _, row := range rows[offset:end] {
		item := make(map[string]any, len(row)+1)
		for k, v := range row {
			if fields == nil || slices.Contains(fields, k) {
				item[k] = v
			}
		}
		for _, f := range fields {
			if _, ok := row[f]; !ok {
				return nil, http.StatusBadRequest, "The attribute " + strconv.Quote(f) + " in fields is not valid for " + name
			}
		}
		if q.Get("onlyData") != "true" {
			item["links"] = []map[string]string{{"rel": "self", "href": self + "/" + url.PathEscape(st.keyOf(row)), "name": name, "kind": "item"}}
		}
		items = append(items, item)
	}
	env := map[string]any{"items": items, "count": len(items), "hasMore": end < total, "limit": limit, "offset": offset,
		"links": []map[string]string{{"rel": "self", "href": self, "name": name, "kind": "collection"}}}
	if q.Get("totalResults") == "true" {
		env["totalResults"] = total
	}
	b, _ := json.Marshal(env)
	return b, 0, ""
}

// parseOracleQ reads the q syntax of REST framework version 1: conditions
// Attr op value joined by ";", op one of = <> > >= < <=, values 'quoted'
// (strings, dates, date-times) or bare (numbers, true, false).
func parseOracleQ(q string) ([]cond, error) {
	if strings.TrimSpace(q) == "" {
		return nil, nil
	}
	var out []cond
	for _, part := range splitOutsideQuotes(q, ';') {
		i := strings.IndexAny(part, "=<>")
		if i <= 0 {
			return nil, fmt.Errorf("cannot read %q", part)
		}
		attr := strings.TrimSpace(part[:i])
		rest := part[i:]
		var op string
		for _, o := range []struct{ sym, op string }{{"<>", "ne"}, {">=", "ge"}, {"<=", "le"}, {"=", "eq"}, {">", "gt"}, {"<", "lt"}} {
			if strings.HasPrefix(rest, o.sym) {
				op, rest = o.op, rest[len(o.sym):]
				break
			}
		}
		c := cond{prop: attr, op: op}
		v := strings.TrimSpace(rest)
		switch {
		case strings.HasPrefix(v, "'"):
			if len(v) < 2 || !strings.HasSuffix(v, "'") {
				return nil, fmt.Errorf("unterminated value in %q", part)
			}
			v = v[1 : len(v)-1]
			if t, err := erp.ParseTime(v, time.UTC); err == nil {
				c.tm = &t
			} else {
				c.str = &v
			}
		case v == "true" || v == "false":
			b := v == "true"
			c.boolean = &b
		default:
			n, err := strconv.ParseFloat(v, 64)
			if err != nil {
				// Unquoted strings are allowed when they hold no spaces.
				if v == "" || strings.ContainsAny(v, " '") {
					return nil, fmt.Errorf("bad value in %q", part)
				}
				c.str = &v
			} else {
				c.num = &n
			}
		}
		out = append(out, c)
	}
	return out, nil
}

// parseFinder reads finder=Name;Attr=value,Attr2=value as equality conditions.
func parseFinder(f string) ([]cond, error) {
	name, binds, _ := strings.Cut(f, ";")
	if name == "" {
		return nil, fmt.Errorf("finder %q has no name", f)
	}
	var out []cond
	if binds == "" {
		return nil, nil
	}
	for b := range strings.SplitSeq(binds, ",") {
		a, v, ok := strings.Cut(b, "=")
		if !ok || a == "" {
			return nil, fmt.Errorf("finder binding %q is invalid", b)
		}
		v = strings.Trim(v, "'")
		out = append(out, cond{prop: a, op: "eq", str: &v})
	}
	return out, nil
}

func splitOutsideQuotes(s string, sep byte) []string {
	var parts []string
	in := false
	start := 0
	for i := 0; i < len(s); i++ {
		switch {
		case s[i] == '\'':
			in = !in
		case s[i] == sep && !in:
			parts = append(parts, s[start:i])
			start = i + 1
		}
	}
	return append(parts, s[start:])
}

// OracleMaintenanceWorkOrders returns n maintenance work orders of an
// organization, one starting each day from start, as maintenanceWorkOrders
// sends them.
func OracleMaintenanceWorkOrders(n int, start time.Time, org string) []Row {
	rows := make([]Row, n)
	for i := range rows {
		s := start.Add(time.Duration(i) * 24 * time.Hour).UTC()
		rows[i] = Row{
			"WorkOrderId":           300100180000000 + i,
			"WorkOrderNumber":       "MWO-" + strconv.Itoa(2000+i),
			"WorkOrderDescription":  "Boiler " + strconv.Itoa(i%4+1) + " burner inspection",
			"WorkOrderTypeCode":     "ORA_PREVENTIVE",
			"WorkOrderStatusCode":   "ORA_RELEASED",
			"WorkOrderPriority":     2,
			"OrganizationCode":      org,
			"AssetNumber":           "BOILER-" + strconv.Itoa(i%4+1),
			"PlannedStartDate":      s.Format("2006-01-02T15:04:05+00:00"),
			"PlannedCompletionDate": s.Add(8 * time.Hour).Format("2006-01-02T15:04:05+00:00"),
			"LastUpdateDate":        s.Add(-24 * time.Hour).Format("2006-01-02T15:04:05.000+00:00"),
		}
	}
	return rows
}

// OracleMeterReadings returns n hourly energy meter readings of an
// organization from start (100.5 + i kWh each), as meterReadings sends them.
func OracleMeterReadings(n int, start time.Time, org string) []Row {
	rows := make([]Row, n)
	for i := range rows {
		at := start.Add(time.Duration(i+1) * time.Hour).UTC()
		rows[i] = Row{
			"MeterReadingId":   300100190000000 + i,
			"MeterCode":        "EM-" + org + "-1",
			"AssetNumber":      "SUBSTATION-1",
			"OrganizationCode": org,
			"ReadingDate":      at.Format("2006-01-02T15:04:05+00:00"),
			"ReadingValue":     float64(100+i) + 0.5,
			"UOMCode":          "KWH",
			"LastUpdateDate":   at.Format("2006-01-02T15:04:05.000+00:00"),
		}
	}
	return rows
}

// OracleInvoices returns n Payables invoices for natural gas, one a day from start.
func OracleInvoices(n int, start time.Time) []Row {
	rows := make([]Row, n)
	for i := range rows {
		d := start.Add(time.Duration(i) * 24 * time.Hour).UTC()
		rows[i] = Row{
			"InvoiceId":       300100200000000 + i,
			"InvoiceNumber":   "GAS-" + strconv.Itoa(7000+i),
			"Supplier":        "Northern Gas Supply",
			"Description":     "Natural gas supply",
			"InvoiceDate":     d.Format(time.DateOnly),
			"InvoiceAmount":   float64(1000+i) + 0.10,
			"InvoiceCurrency": "USD",
			"LastUpdateDate":  d.Format("2006-01-02T15:04:05.000+00:00"),
		}
	}
	return rows
}
