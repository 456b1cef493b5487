package erptest

import (
	"bytes"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// fake is what every fake ERP server is built on: the TLS listener, the
// access tokens issued, the injected faults, the counters and the request
// log, all guarded by mu. The servers embed it, so its exported methods are
// theirs.
type fake struct {
	srv *httptest.Server

	mu     sync.Mutex
	tokens map[string]time.Time // access token -> expiry
	faults faultQueue
	stats  Stats
	log    []Request

	closing   chan struct{} // closed by Close, to release stalled answers
	closeOnce sync.Once
}

// start serves h over TLS on 127.0.0.1:0.
func (s *fake) start(h http.HandlerFunc) {
	s.tokens = map[string]time.Time{}
	s.closing = make(chan struct{})
	s.srv = httptest.NewUnstartedServer(h)
	s.srv.StartTLS()
}

// URL is the server's base URL, https://127.0.0.1:port.
func (s *fake) URL() string { return s.srv.URL }

// Client returns an *http.Client trusting the server's certificate.
func (s *fake) Client() *http.Client { return s.srv.Client() }

// TLSConfig returns a TLS configuration that trusts the server's
// certificate, for erp.ConnConfig.TLS.
func (s *fake) TLSConfig() *tls.Config {
	pool := x509.NewCertPool()
	pool.AddCert(s.srv.Certificate())
	return &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
}

// Close shuts the server down.
func (s *fake) Close() {
	s.closeOnce.Do(func() { close(s.closing) })
	s.srv.Close()
}

// Inject queues a fault for the data endpoints (never the token endpoint).
func (s *fake) Inject(f Fault) {
	s.mu.Lock()
	s.faults.add(f)
	s.mu.Unlock()
}

// ExpireTokens invalidates every access token issued so far.
func (s *fake) ExpireTokens() {
	s.mu.Lock()
	clear(s.tokens)
	s.mu.Unlock()
}

// Stats returns the counters.
func (s *fake) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.stats
}

// Requests returns the requests to the data endpoints received so far
// (token requests are not logged).
func (s *fake) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.log)
}

// record counts and logs a data request and returns its body and the fault
// to apply to it, if any. A fault that expires tokens has done so on return.
func (s *fake) record(r *http.Request) ([]byte, *Fault) {
	body, _ := readAll(r)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.stats.Requests++
	s.log = append(s.log, Request{Method: r.Method, Path: r.URL.Path, RawQuery: r.URL.RawQuery, Header: r.Header.Clone(), Body: body})
	f := s.faults.next(r.URL.Path, false, &s.stats)
	if f != nil && f.ExpireToken {
		clear(s.tokens)
	}
	return body, f
}

// bearerValid reports whether r carries an unexpired access token; s.mu is
// held.
func (s *fake) bearerValid(r *http.Request) bool {
	tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok {
		return false
	}
	exp, ok := s.tokens[tok]
	return ok && time.Now().Before(exp)
}

// issue creates an access token valid for ttl; s.mu is held.
func (s *fake) issue(ttl time.Duration) string {
	tok := newToken()
	s.tokens[tok] = time.Now().Add(ttl)
	s.stats.TokensIssued++
	return tok
}

// clientCredentials answers a client-credentials token request, with the
// client authenticated by HTTP Basic or in the form. echoScope adds the
// requested scope to the answer, as Microsoft Entra ID does.
func (s *fake) clientCredentials(w http.ResponseWriter, r *http.Request, clientID, clientSecret string, ttl time.Duration, echoScope bool) {
	if err := r.ParseForm(); err != nil || r.Method != http.MethodPost {
		http.Error(w, "bad token request", http.StatusBadRequest)
		return
	}
	id, secret, ok := r.BasicAuth()
	if !ok {
		id, secret = r.PostForm.Get("client_id"), r.PostForm.Get("client_secret")
	} else {
		id, _ = url.QueryUnescape(id)
		secret, _ = url.QueryUnescape(secret)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.stats.TokenRequests++
	if f := s.faults.next(r.URL.Path, true, &s.stats); f != nil && f.Status != 0 {
		if f.RetryAfter != "" {
			w.Header().Set("Retry-After", f.RetryAfter)
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(f.Status)
		_, _ = w.Write([]byte(`{"error":"temporarily_unavailable"}`))
		return
	}
	s.stats.LastScope = r.PostForm.Get("scope")
	w.Header().Set("Content-Type", "application/json")
	if r.PostForm.Get("grant_type") != "client_credentials" || id != clientID || secret != clientSecret {
		s.stats.TokenDenied++
		w.WriteHeader(http.StatusUnauthorized)
		_, _ = w.Write([]byte(`{"error":"invalid_client","error_description":"Client authentication failed."}`))
		return
	}
	ans := map[string]any{
		"access_token": s.issue(ttl), "token_type": "Bearer", "expires_in": int(ttl / time.Second),
	}
	if echoScope {
		ans["scope"] = r.PostForm.Get("scope")
	}
	_ = json.NewEncoder(w).Encode(ans)
}

// servePage writes a page with a 200 and counts it; a fault's Body replaces
// the page, Truncate cuts it in half and Stall sends half and waits for the
// client to go away.
func (s *fake) servePage(w http.ResponseWriter, r *http.Request, f *Fault, page []byte, ctype string) {
	if f != nil && f.Stall {
		w.Header().Set("Content-Type", ctype)
		w.Header().Set("Content-Length", strconv.Itoa(len(page)))
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write(page[:len(page)/2])
		if fl, ok := w.(http.Flusher); ok {
			fl.Flush()
		}
		if f.Stalled != nil {
			select {
			case f.Stalled <- struct{}{}:
			default:
			}
		}
		select {
		case <-r.Context().Done():
		case <-s.closing:
		}
		return
	}
	if f != nil && f.Body != "" {
		page = []byte(f.Body)
	}
	if f != nil && f.Truncate {
		page = page[:len(page)/2]
	}
	s.mu.Lock()
	s.stats.Pages++
	s.mu.Unlock()
	w.Header().Set("Content-Type", ctype)
	_, _ = w.Write(page)
}

// faultQueue holds injected faults; the owner's mutex guards it.
type faultQueue struct{ faults []*Fault }

func (q *faultQueue) add(f Fault) {
	if f.Times == 0 {
		f.Times = 1
	}
	q.faults = append(q.faults, &f)
}

// next returns the fault for a request to path (of the token endpoint if
// token), if any.
func (q *faultQueue) next(path string, token bool, st *Stats) *Fault {
	for i, f := range q.faults {
		if f.TokenEndpoint != token || (f.Path != "" && !strings.Contains(path, f.Path)) {
			continue
		}
		if f.Skip > 0 {
			f.Skip--
			return nil
		}
		f.Times--
		if f.Times <= 0 {
			q.faults = slices.Delete(q.faults, i, i+1)
		}
		st.Faults++
		return f
	}
	return nil
}

func newToken() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

func readAll(r *http.Request) ([]byte, error) {
	if r.Body == nil {
		return nil, nil
	}
	var b bytes.Buffer
	_, err := b.ReadFrom(r.Body)
	return b.Bytes(), err
}
