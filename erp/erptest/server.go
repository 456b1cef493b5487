package erptest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Flavour is the wire format a Server speaks.
type Flavour int

const (
	// SAPV2 serves /sap/opu/odata/sap/<SERVICE>/<EntitySet> with OData V2
	// JSON: d.results, __next, __count as a string, /Date(ms)/ dates.
	SAPV2 Flavour = iota
	// SAPV4 serves SAP OData V4: value, @odata.nextLink, @odata.count.
	SAPV4
	// DynamicsWebAPI serves /api/data/v9.2/<entityset>, paging by
	// Prefer: odata.maxpagesize and @odata.nextLink only.
	DynamicsWebAPI
	// DynamicsFO serves Finance & Operations data entities under /data/.
	DynamicsFO
)

func (f Flavour) v2() bool { return f == SAPV2 }

// Config configures a Server. Zero values take the defaults noted.
type Config struct {
	Flavour Flavour
	// ClientID and ClientSecret are what the token endpoint accepts.
	// Defaults "gl001-test" and "s3cret-for-tests".
	ClientID, ClientSecret string
	// APIKey, if set, is accepted in the "APIKey" header instead of a token.
	APIKey string
	// TokenTTL is the lifetime of issued tokens (expires_in). Default 1 h.
	TokenTTL time.Duration
	// MaxPageSize is the server's page limit; more records than that get a
	// next link. Default 100.
	MaxPageSize int
	// ForeignNextHost, if set, makes next links absolute and name this host
	// instead of the server's (as an SAP system behind a web dispatcher does).
	ForeignNextHost string
	// RelativeNext makes V2 next links relative to the service root.
	RelativeNext bool
	// SAPClient, if set, is the only sap-client accepted.
	SAPClient string
	// IgnoreFilter makes the server answer as if no $filter had been sent,
	// as a gateway that drops options it does not know does: every record
	// of the set comes back, whatever the query's range.
	IgnoreFilter bool
}

// Fault is a failure injected into the answers of matching requests.
type Fault struct {
	// Path selects requests whose path contains it; "" matches every
	// request to the data endpoints (never the token endpoint).
	Path string
	// Skip lets that many matching requests through before the fault applies.
	Skip int
	// Times is how many requests get the fault; 0 means 1.
	Times int

	Status     int    // answer with this status (429, 503, 500 ...)
	RetryAfter string // Retry-After header value, e.g. "1"
	Body       string // body to send with Status, or instead of the page
	Truncate   bool   // send the real page cut in half
	// ExpireToken invalidates every token issued so far, so the request
	// fails with 401 and the client must fetch a new one.
	ExpireToken bool
	// TokenEndpoint makes the fault apply to requests to the token endpoint
	// instead of the data endpoints (Status and RetryAfter only).
	TokenEndpoint bool
	// Stall sends the headers and the first half of the page, then waits
	// until the client goes away (or the server closes): a page the client
	// is reading when its context is cancelled.
	Stall bool
	// Stalled, if not nil, is sent one value (without blocking) when a Stall
	// has sent what it sends, so a test can act at that moment.
	Stalled chan<- struct{}
}

// Stats counts what a Server saw.
type Stats struct {
	Requests      int // data requests (not token requests)
	Pages         int // pages served with 200
	TokensIssued  int
	TokenDenied   int
	TokenRequests int // requests to the token endpoint, faults included
	Unauthorized  int // data requests refused with 401
	Faults        int // faults applied
	CSRFFetches   int
	Writes        int
	LastScope     string // scope of the last token request
}

// Request is one request the server received, as sent.
type Request struct {
	Method   string
	Path     string
	RawQuery string
	Header   http.Header
	Body     []byte
}

// Row is one entity: property name to value. Values are sent as
// encoding/json writes them; dates and decimals should already be strings in
// the flavour's format (see the generators).
type Row map[string]any

type set struct {
	key  []string
	rows []Row
	// change log for delta: version per key, deletions.
	version map[string]int
	deleted map[string]int
}

// Server is an ERP system speaking one OData flavour over HTTPS, with an
// OAuth 2.0 token endpoint, paging, $filter, $select, $orderby, change
// tracking, CSRF tokens and fault injection. Use one per test.
type Server struct {
	fake
	cfg Config

	sets     map[string]*set // entity path (service root + set) -> data
	clock    int             // change-tracking version
	csrf     string
	sessions map[string]bool
	writes   [][]byte
}

// NewServer starts a TLS server. Close it when done. Clients reach it with
// the root CAs of Client() or TLSConfig().
func NewServer(cfg Config) *Server {
	if cfg.ClientID == "" {
		cfg.ClientID = "gl001-test"
	}
	if cfg.ClientSecret == "" {
		cfg.ClientSecret = "s3cret-for-tests"
	}
	if cfg.TokenTTL == 0 {
		cfg.TokenTTL = time.Hour
	}
	if cfg.MaxPageSize == 0 {
		cfg.MaxPageSize = 100
	}
	s := &Server{cfg: cfg, sets: map[string]*set{}, sessions: map[string]bool{}}
	s.start(s.serve)
	return s
}

// TokenURL is the OAuth 2.0 token endpoint.
func (s *Server) TokenURL() string { return s.srv.URL + "/oauth/token" }

// ClientID returns the accepted client ID.
func (s *Server) ClientID() string { return s.cfg.ClientID }

// SetClientSecret rotates the accepted client secret.
func (s *Server) SetClientSecret(secret string) {
	s.mu.Lock()
	s.cfg.ClientSecret = secret
	s.mu.Unlock()
}

// SetAPIKey rotates the accepted API key.
func (s *Server) SetAPIKey(key string) {
	s.mu.Lock()
	s.cfg.APIKey = key
	s.mu.Unlock()
}

// Put stores rows in the entity set at path (e.g.
// "/sap/opu/odata/sap/API_PRODUCTION_ORDER_2_SRV/A_ProductionOrder_2"),
// keyed by the key properties, replacing rows with the same key. Every row
// put is a change for change tracking.
func (s *Server) Put(path string, key []string, rows ...Row) {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.sets[path]
	if st == nil {
		st = &set{key: key, version: map[string]int{}, deleted: map[string]int{}}
		s.sets[path] = st
	}
	for _, r := range rows {
		s.clock++
		k := st.keyOf(r)
		delete(st.deleted, k)
		st.version[k] = s.clock
		if i := slices.IndexFunc(st.rows, func(x Row) bool { return st.keyOf(x) == k }); i >= 0 {
			st.rows[i] = r
		} else {
			st.rows = append(st.rows, r)
		}
	}
}

// Delete removes the row with the given key (key values joined by "/").
func (s *Server) Delete(path, key string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.sets[path]
	if st == nil {
		return
	}
	st.rows = slices.DeleteFunc(st.rows, func(x Row) bool { return st.keyOf(x) == key })
	s.clock++
	delete(st.version, key)
	st.deleted[key] = s.clock
}

func (st *set) keyOf(r Row) string {
	parts := make([]string, len(st.key))
	for i, k := range st.key {
		parts[i] = fmt.Sprint(r[k])
	}
	return strings.Join(parts, "/")
}

// ExpireCSRF invalidates the CSRF token, so the next write gets 403 Required.
func (s *Server) ExpireCSRF() {
	s.mu.Lock()
	s.csrf = ""
	s.mu.Unlock()
}

// Writes returns the bodies of the writes accepted.
func (s *Server) Writes() [][]byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.writes)
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == "/oauth/token" {
		s.mu.Lock()
		id, secret := s.cfg.ClientID, s.cfg.ClientSecret
		s.mu.Unlock()
		s.clientCredentials(w, r, id, secret, s.cfg.TokenTTL, true)
		return
	}
	body, f := s.record(r)
	if !s.authorised(r) {
		s.mu.Lock()
		s.stats.Unauthorized++
		s.mu.Unlock()
		w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token"`)
		s.odataError(w, http.StatusUnauthorized, "401", "The access token is missing, invalid or expired.")
		return
	}
	if f != nil && f.Status != 0 {
		if f.RetryAfter != "" {
			w.Header().Set("Retry-After", f.RetryAfter)
		}
		if f.Body != "" {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(f.Status)
			_, _ = w.Write([]byte(f.Body))
			return
		}
		s.odataError(w, f.Status, strconv.Itoa(f.Status), http.StatusText(f.Status))
		return
	}
	if s.cfg.SAPClient != "" && (s.cfg.Flavour == SAPV2 || s.cfg.Flavour == SAPV4) {
		if r.URL.Query().Get("sap-client") != s.cfg.SAPClient {
			s.odataError(w, http.StatusBadRequest, "/IWFND/MED/170", "sap-client missing or wrong")
			return
		}
	}
	if r.Method != http.MethodGet {
		s.write(w, r, body)
		return
	}
	if r.Header.Get("X-CSRF-Token") == "Fetch" {
		s.fetchCSRF(w)
		return
	}
	page, status, msg := s.page(r)
	if status != 0 {
		s.odataError(w, status, strconv.Itoa(status), msg)
		return
	}
	if !s.cfg.Flavour.v2() {
		w.Header().Set("OData-Version", "4.0")
	}
	s.servePage(w, r, f, page, "application/json")
}

func (s *Server) authorised(r *http.Request) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cfg.APIKey != "" && r.Header.Get("APIKey") == s.cfg.APIKey {
		return true
	}
	return s.bearerValid(r)
}

func (s *Server) odataError(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	var body any
	if s.cfg.Flavour.v2() {
		body = map[string]any{"error": map[string]any{"code": code, "message": map[string]any{"lang": "en", "value": msg}}}
	} else {
		body = map[string]any{"error": map[string]any{"code": code, "message": msg}}
	}
	_ = json.NewEncoder(w).Encode(body)
}

func (s *Server) fetchCSRF(w http.ResponseWriter) {
	s.mu.Lock()
	if s.csrf == "" {
		s.csrf = newToken()
	}
	tok := s.csrf
	sess := newToken()
	s.sessions[sess] = true
	s.stats.CSRFFetches++
	s.mu.Unlock()
	http.SetCookie(w, &http.Cookie{Name: "SAP_SESSIONID_T01_100", Value: sess, Path: "/"})
	w.Header().Set("X-CSRF-Token", tok)
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write([]byte(`{"d":{"EntitySets":[]}}`))
}

func (s *Server) write(w http.ResponseWriter, r *http.Request, body []byte) {
	c, err := r.Cookie("SAP_SESSIONID_T01_100")
	s.mu.Lock()
	ok := s.csrf != "" && r.Header.Get("X-CSRF-Token") == s.csrf && err == nil && s.sessions[c.Value]
	if ok {
		s.stats.Writes++
		s.writes = append(s.writes, body)
	}
	s.mu.Unlock()
	if !ok {
		w.Header().Set("X-CSRF-Token", "Required")
		s.odataError(w, http.StatusForbidden, "403", "CSRF token validation failed")
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusCreated)
	_, _ = w.Write(body)
}

// page answers a collection GET.
func (s *Server) page(r *http.Request) ([]byte, int, string) {
	q := r.URL.Query()
	dir, name := splitSet(r.URL.Path)
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.sets[r.URL.Path]
	if st == nil {
		return nil, http.StatusNotFound, "Resource not found for segment '" + name + "'"
	}
	if s.cfg.Flavour == DynamicsWebAPI || s.cfg.Flavour == DynamicsFO {
		if q.Has("$skip") {
			return nil, http.StatusBadRequest, "The query parameter $skip is not supported"
		}
	}
	if strings.Contains(r.URL.RawQuery, "+") {
		return nil, http.StatusBadRequest, "Invalid query: '+' is not a valid separator"
	}
	// Delta request: changes since a version.
	if tok := q.Get("$deltatoken"); tok != "" {
		since, err := strconv.Atoi(tok)
		if err != nil {
			return nil, http.StatusBadRequest, "bad delta token"
		}
		return s.delta(st, dir, name, since), 0, ""
	}
	conds, err := parseFilter(q.Get("$filter"))
	if err != nil {
		return nil, http.StatusBadRequest, "Invalid filter expression: " + err.Error()
	}
	if s.cfg.IgnoreFilter {
		conds = nil
	}
	rows, err := filterRows(st.rows, conds)
	if err != nil {
		return nil, http.StatusBadRequest, err.Error()
	}
	if ob := q.Get("$orderby"); ob != "" {
		props := strings.Split(ob, ",")
		sort.SliceStable(rows, func(i, j int) bool {
			for _, p := range props {
				p = strings.TrimSpace(strings.TrimSuffix(p, " asc"))
				a, b := fmt.Sprint(rows[i][p]), fmt.Sprint(rows[j][p])
				if a != b {
					return a < b
				}
			}
			return false
		})
	}
	total := len(rows)
	skip, _ := strconv.Atoi(q.Get("$skiptoken"))
	if v := q.Get("$skip"); v != "" {
		n, _ := strconv.Atoi(v)
		skip += n
	}
	top := -1
	if v := q.Get("$top"); v != "" {
		top, _ = strconv.Atoi(v)
	}
	pageSize := s.cfg.MaxPageSize
	if m := preferMaxPageSize(r.Header.Get("Prefer")); m > 0 && m < pageSize {
		pageSize = m
	}
	skip = min(skip, len(rows))
	rows = rows[skip:]
	limit := len(rows)
	if top >= 0 {
		limit = min(limit, top)
	}
	var next string
	if limit > pageSize {
		// Server-driven paging: the rest behind a next link.
		nq := url.Values{}
		for k, v := range q {
			if k != "$skiptoken" && k != "$skip" && k != "$inlinecount" && k != "$count" {
				nq[k] = v
			}
		}
		if top >= 0 {
			nq.Set("$top", strconv.Itoa(top-pageSize))
		}
		nq.Set("$skiptoken", strconv.Itoa(skip+pageSize))
		next = s.nextLink(dir, name, nq)
		limit = pageSize
	}
	rows = rows[:limit]
	tracked := strings.Contains(r.Header.Get("Prefer"), "odata.track-changes")
	var delta string
	if tracked && next == "" {
		delta = s.linkFor(dir, name, url.Values{"$deltatoken": {strconv.Itoa(s.clock)}})
	}
	count := -1
	if q.Get("$inlinecount") == "allpages" || q.Get("$count") == "true" {
		count = total
	}
	return s.render(dir, name, selectRows(rows, q.Get("$select")), nil, next, delta, count), 0, ""
}

func preferMaxPageSize(prefer string) int {
	for p := range strings.SplitSeq(prefer, ",") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(p), "odata.maxpagesize="); ok {
			n, _ := strconv.Atoi(v)
			return n
		}
	}
	return 0
}

func (s *Server) delta(st *set, dir, name string, since int) []byte {
	var rows []Row
	for _, row := range st.rows {
		if st.version[st.keyOf(row)] > since {
			rows = append(rows, row)
		}
	}
	var deleted []string
	for k, v := range st.deleted {
		if v > since {
			deleted = append(deleted, k)
		}
	}
	sort.Strings(deleted)
	return s.render(dir, name, rows, deleted, "", s.linkFor(dir, name, url.Values{"$deltatoken": {strconv.Itoa(s.clock)}}), -1)
}

func splitSet(path string) (dir, name string) {
	i := strings.LastIndexByte(path, '/')
	return path[:i+1], path[i+1:]
}

func (s *Server) linkFor(dir, name string, q url.Values) string {
	return s.srv.URL + dir + name + "?" + encodeQuery(q)
}

// encodeQuery writes q as OData servers do: keys sorted, spaces as %20, and
// $ ' ( ) , : left as they are.
func encodeQuery(q url.Values) string {
	keys := make([]string, 0, len(q))
	for k := range q {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for _, k := range keys {
		for _, v := range q[k] {
			if b.Len() > 0 {
				b.WriteByte('&')
			}
			b.WriteString(odataEscape(k))
			b.WriteByte('=')
			b.WriteString(odataEscape(v))
		}
	}
	return b.String()
}

func odataEscape(s string) string {
	e := url.QueryEscape(s)
	e = strings.ReplaceAll(e, "+", "%20")
	for _, c := range []string{"$", "'", "(", ")", ",", ":"} {
		e = strings.ReplaceAll(e, url.QueryEscape(c), c)
	}
	return e
}

func (s *Server) nextLink(dir, name string, q url.Values) string {
	enc := encodeQuery(q)
	switch {
	case s.cfg.ForeignNextHost != "":
		return "https://" + s.cfg.ForeignNextHost + dir + name + "?" + enc
	case s.cfg.RelativeNext:
		return name + "?" + enc
	}
	return s.srv.URL + dir + name + "?" + enc
}

func selectRows(rows []Row, sel string) []Row {
	if sel == "" {
		return rows
	}
	props := strings.Split(sel, ",")
	out := make([]Row, len(rows))
	for i, r := range rows {
		o := make(Row, len(props))
		for _, p := range props {
			if v, ok := r[p]; ok {
				o[p] = v
			}
		}
		out[i] = o
	}
	return out
}

// render writes a page in the server's flavour.
func (s *Server) render(dir, name string, rows []Row, deleted []string, next, delta string, count int) []byte {
	if s.cfg.Flavour.v2() {
		results := make([]Row, len(rows))
		for i, r := range rows {
			o := make(Row, len(r)+1)
			for k, v := range r {
				o[k] = v
			}
			o["__metadata"] = map[string]string{"type": name + "Type", "uri": s.srv.URL + dir + name + "('" + fmt.Sprint(i) + "')"}
			results[i] = o
		}
		d := map[string]any{"results": results}
		if next != "" {
			d["__next"] = next
		}
		if delta != "" {
			d["__delta"] = delta
		}
		if count >= 0 {
			d["__count"] = strconv.Itoa(count)
		}
		b, _ := json.Marshal(map[string]any{"d": d})
		// SAP escapes the slashes of its date literals: "\/Date(1704067200000)\/".
		b = bytes.ReplaceAll(b, []byte(`"/Date(`), []byte(`"\/Date(`))
		return bytes.ReplaceAll(b, []byte(`)/"`), []byte(`)\/"`))
	}
	value := make([]any, 0, len(rows)+len(deleted))
	for _, r := range rows {
		value = append(value, r)
	}
	for _, k := range deleted {
		value = append(value, map[string]any{
			"@odata.context": s.srv.URL + dir + "$metadata#" + name + "/$deletedEntity",
			"id":             k, "reason": "deleted",
		})
	}
	env := map[string]any{"@odata.context": s.srv.URL + dir + "$metadata#" + name, "value": value}
	if next != "" {
		env["@odata.nextLink"] = next
	}
	if delta != "" {
		env["@odata.deltaLink"] = delta
	}
	if count >= 0 {
		env["@odata.count"] = count
	}
	b, _ := json.Marshal(env)
	return b
}
