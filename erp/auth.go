package erp

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/greenlang/gl001/resilience"
)

// SecretProvider supplies a secret (a client secret, an API key, a
// password). The client asks once, caches the answer, and asks again whenever
// the system rejects the secret, so a rotated key is picked up without a
// restart. Implementations must be safe for concurrent use.
type SecretProvider interface {
	Secret(ctx context.Context) (string, error)
}

// SecretFunc adapts a function to SecretProvider.
type SecretFunc func(ctx context.Context) (string, error)

// Secret calls f.
func (f SecretFunc) Secret(ctx context.Context) (string, error) { return f(ctx) }

// EnvSecret reads the secret from the environment variable name each time it
// is asked (SAP_CLIENT_SECRET, DYNAMICS_CLIENT_SECRET ...). An unset or empty
// variable is an error naming the variable, never its value.
func EnvSecret(name string) SecretProvider {
	return SecretFunc(func(context.Context) (string, error) {
		v := os.Getenv(name)
		if v == "" {
			return "", fmt.Errorf("erp: environment variable %s is not set", name)
		}
		return v, nil
	})
}

// Auth is how a system authenticates requests: ClientCredentials, APIKey,
// Basic or TokenSource. A nil Auth sends no credentials.
type Auth interface {
	validate() error
	build(hc *http.Client, system string) authenticator
}

// authenticator is the runtime side of an Auth.
type authenticator interface {
	// authenticate adds credentials to req.
	authenticate(ctx context.Context, req *http.Request) error
	// reject reports that the credentials set on req were refused (401);
	// the next authenticate obtains fresh ones.
	reject(req *http.Request)
	// secrets returns the secrets and tokens currently held, for redaction.
	secrets() []string
}

// cachedSecret asks a provider once and again after a rejection. One caller
// at a time asks the provider; the others wait for its answer as long as
// their contexts allow.
type cachedSecret struct {
	p      SecretProvider
	mu     sync.Mutex
	val    string
	valid  bool
	asking chan struct{} // closed when the caller asking the provider is done; nil if none
}

func (c *cachedSecret) get(ctx context.Context) (string, error) {
	for {
		c.mu.Lock()
		if c.valid {
			v := c.val
			c.mu.Unlock()
			return v, nil
		}
		if ch := c.asking; ch != nil {
			c.mu.Unlock()
			select {
			case <-ch:
				continue // cached now, or that caller failed: look again
			case <-ctx.Done():
				return "", ctx.Err()
			}
		}
		ch := make(chan struct{})
		c.asking = ch
		c.mu.Unlock()

		v, err := c.p.Secret(ctx)
		if err == nil && v == "" {
			err = errors.New("erp: secret provider returned an empty secret")
		}
		c.mu.Lock()
		c.asking = nil
		if err == nil {
			c.val, c.valid = v, true
		}
		c.mu.Unlock()
		close(ch)
		if err != nil {
			return "", err
		}
		return v, nil
	}
}

// rejectValue forgets v if it is still the cached secret, so the provider is asked again.
func (c *cachedSecret) rejectValue(v string) {
	c.mu.Lock()
	if c.valid && c.val == v {
		c.valid = false
	}
	c.mu.Unlock()
}

func (c *cachedSecret) current() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.valid {
		return c.val
	}
	return ""
}

// APIKey sends a key in a request header (SAP API Business Hub uses
// "APIKey"; many gateways use "X-API-Key", the default).
type APIKey struct {
	Header string         // header name; default "X-API-Key"
	Key    SecretProvider // required
}

func (a APIKey) validate() error {
	if a.Key == nil {
		return errors.New("APIKey.Key is required")
	}
	return nil
}

func (a APIKey) build(*http.Client, string) authenticator {
	h := a.Header
	if h == "" {
		h = "X-API-Key"
	}
	return &keyAuth{header: http.CanonicalHeaderKey(h), s: cachedSecret{p: a.Key}}
}

type keyAuth struct {
	header string
	s      cachedSecret
}

func (k *keyAuth) authenticate(ctx context.Context, req *http.Request) error {
	v, err := k.s.get(ctx)
	if err != nil {
		return err
	}
	req.Header.Set(k.header, v)
	return nil
}

func (k *keyAuth) reject(req *http.Request) { k.s.rejectValue(req.Header.Get(k.header)) }
func (k *keyAuth) secrets() []string        { return []string{k.s.current()} }

// Basic sends HTTP Basic credentials. Allowed only when configured
// explicitly; prefer ClientCredentials.
type Basic struct {
	User     string
	Password SecretProvider
}

func (b Basic) validate() error {
	var errs []error
	if b.User == "" {
		errs = append(errs, errors.New("Basic.User is required"))
	}
	if b.Password == nil {
		errs = append(errs, errors.New("Basic.Password is required"))
	}
	return errors.Join(errs...)
}

func (b Basic) build(*http.Client, string) authenticator {
	return &basicAuth{user: b.User, s: cachedSecret{p: b.Password}}
}

type basicAuth struct {
	user string
	s    cachedSecret
}

func (b *basicAuth) authenticate(ctx context.Context, req *http.Request) error {
	v, err := b.s.get(ctx)
	if err != nil {
		return err
	}
	req.SetBasicAuth(b.user, v)
	return nil
}

func (b *basicAuth) reject(req *http.Request) {
	if _, p, ok := req.BasicAuth(); ok {
		b.s.rejectValue(p)
	}
}
func (b *basicAuth) secrets() []string { return []string{b.s.current()} }

// Token is an access token and when it expires.
type Token struct {
	AccessToken string
	Type        string    // "Bearer" if empty
	Expiry      time.Time // zero: does not expire
}

// TokenSource authenticates with bearer tokens that Fetch obtains, for
// grants other than client credentials (a refresh-token grant, for instance).
// Tokens are cached, refreshed before they expire, fetched by one caller at a
// time, and dropped when the system answers 401. Fetch is given the system's
// pooled HTTP client with its TLS policy, the per-attempt Timeout and the
// retry policy of ConnConfig.Retry applied to every request, POSTs included
// (a token grant is safe to repeat), behind a circuit breaker of its own.
type TokenSource struct {
	Fetch func(ctx context.Context, hc *http.Client) (Token, error)
	// RefreshBefore is how long before expiry a token is replaced; default
	// 60 s, and never more than a quarter of the token's lifetime.
	RefreshBefore time.Duration
	// Rejected, if set, is called when the system refused a token Fetch gave,
	// before the next Fetch (to drop a cached refresh token, say).
	Rejected func()
}

func (t TokenSource) validate() error {
	if t.Fetch == nil {
		return errors.New("TokenSource.Fetch is required")
	}
	if t.RefreshBefore < 0 {
		return errors.New("TokenSource.RefreshBefore must not be negative")
	}
	return nil
}

func (t TokenSource) build(hc *http.Client, _ string) authenticator {
	rb := t.RefreshBefore
	if rb == 0 {
		rb = 60 * time.Second
	}
	return &tokenAuth{
		fetch:         func(ctx context.Context) (Token, error) { return t.Fetch(ctx, hc) },
		refreshBefore: rb,
		onReject:      t.Rejected,
		now:           time.Now,
	}
}

// ClientCredentials is the OAuth 2.0 client credentials grant (RFC 6749
// §4.4), as SAP BTP / XSUAA, Azure AD (Dynamics 365) and Oracle IDCS issue
// tokens. The secret comes from Secret, typically EnvSecret("SAP_CLIENT_SECRET").
// If the token endpoint rejects the client, Secret is asked again once.
type ClientCredentials struct {
	TokenURL string         // required, https
	ClientID string         // required
	Secret   SecretProvider // required
	Scopes   []string       // e.g. "https://contoso.crm.dynamics.com/.default"
	// Params are extra form parameters for the token request (e.g. "resource").
	Params url.Values
	// SecretInBody sends client_id and client_secret in the form body instead
	// of the Authorization header.
	SecretInBody bool
	// RefreshBefore: see TokenSource. Default 60 s.
	RefreshBefore time.Duration
}

func (c ClientCredentials) validate() error {
	var errs []error
	if c.TokenURL == "" {
		errs = append(errs, errors.New("ClientCredentials.TokenURL is required"))
	} else if _, err := url.Parse(c.TokenURL); err != nil {
		errs = append(errs, errors.New("ClientCredentials.TokenURL is not a URL"))
	}
	if c.ClientID == "" {
		errs = append(errs, errors.New("ClientCredentials.ClientID is required"))
	}
	if c.Secret == nil {
		errs = append(errs, errors.New("ClientCredentials.Secret is required"))
	}
	if c.RefreshBefore < 0 {
		errs = append(errs, errors.New("ClientCredentials.RefreshBefore must not be negative"))
	}
	return errors.Join(errs...)
}

func (c ClientCredentials) build(hc *http.Client, system string) authenticator {
	secret := &cachedSecret{p: c.Secret}
	style := oauth2.AuthStyleInHeader
	if c.SecretInBody {
		style = oauth2.AuthStyleInParams
	}
	fetchOnce := func(ctx context.Context) (Token, string, error) {
		s, err := secret.get(ctx)
		if err != nil {
			return Token{}, "", &AuthError{System: system, Err: err}
		}
		cc := clientcredentials.Config{
			ClientID: c.ClientID, ClientSecret: s, TokenURL: c.TokenURL,
			Scopes: c.Scopes, EndpointParams: c.Params, AuthStyle: style,
		}
		attempts := new(atomic.Int64) // counted by the attempt timeout, retries included
		tctx := context.WithValue(context.WithValue(ctx, oauth2.HTTPClient, hc), attemptsKey{}, attempts)
		tok, err := cc.Token(tctx)
		if err != nil {
			if ctx.Err() != nil {
				return Token{}, s, ctx.Err()
			}
			return Token{}, s, tokenError(system, err, s, c.TokenURL, int(attempts.Load()))
		}
		return Token{AccessToken: tok.AccessToken, Type: tok.Type(), Expiry: tok.Expiry}, s, nil
	}
	rb := c.RefreshBefore
	if rb == 0 {
		rb = 60 * time.Second
	}
	ta := &tokenAuth{refreshBefore: rb, now: time.Now, extra: secret.current}
	ta.fetch = func(ctx context.Context) (Token, error) {
		tok, used, err := fetchOnce(ctx)
		if err != nil && errors.Is(err, ErrUnauthorized) && used != "" {
			// The endpoint refused this secret: ask the provider again, once.
			secret.rejectValue(used)
			tok, _, err = fetchOnce(ctx)
		}
		return tok, err
	}
	return ta
}

// tokenError turns an oauth2 error into an *AuthError without the response
// body or anything that could carry the secret.
func tokenError(system string, err error, secret, tokenURL string, attempts int) error {
	var re *oauth2.RetrieveError
	if errors.As(err, &re) {
		ae := &AuthError{System: system, Code: re.ErrorCode}
		if re.Response != nil {
			ae.Status = re.Response.StatusCode
		}
		if re.ErrorDescription != "" {
			ae.Err = errors.New(redact(re.ErrorDescription, secret))
		}
		return ae
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		// Keep the cause (connection refused, TLS) but not the raw URL text,
		// which could carry parameters.
		path := ""
		if u, perr := url.Parse(tokenURL); perr == nil {
			path = u.Path
		}
		return &AuthError{System: system, Err: &UnavailableError{System: system, Method: http.MethodPost,
			Path: path, Attempts: attempts, BreakerOpen: errors.Is(ue.Err, resilience.ErrBreakerOpen),
			Err: errors.New(redact(ue.Err.Error(), secret))}}
	}
	return &AuthError{System: system, Err: errors.New(redact(err.Error(), secret))}
}

// tokenAuth caches a bearer token; one fetch at a time.
type tokenAuth struct {
	fetch         func(ctx context.Context) (Token, error)
	refreshBefore time.Duration
	onReject      func()
	now           func() time.Time
	extra         func() string // another secret to redact, may be nil

	mu        sync.Mutex
	tok       Token
	refreshAt time.Time
	flight    *tokenFlight
}

type tokenFlight struct {
	done chan struct{}
	tok  Token
	err  error
}

func (a *tokenAuth) token(ctx context.Context) (Token, error) {
	for {
		a.mu.Lock()
		if a.tok.AccessToken != "" && (a.refreshAt.IsZero() || a.now().Before(a.refreshAt)) {
			t := a.tok
			a.mu.Unlock()
			return t, nil
		}
		if f := a.flight; f != nil {
			a.mu.Unlock()
			select {
			case <-f.done:
			case <-ctx.Done():
				return Token{}, ctx.Err()
			}
			if f.err != nil && (errors.Is(f.err, context.Canceled) || errors.Is(f.err, context.DeadlineExceeded)) && ctx.Err() == nil {
				continue // the fetching caller gave up; fetch for ourselves
			}
			return f.tok, f.err
		}
		f := &tokenFlight{done: make(chan struct{})}
		a.flight = f
		a.mu.Unlock()

		f.tok, f.err = a.fetch(ctx)
		if f.err == nil && f.tok.AccessToken == "" {
			f.err = &AuthError{Err: errors.New("token endpoint returned an empty access token")}
		}
		a.mu.Lock()
		a.flight = nil
		if f.err == nil {
			a.tok = f.tok
			a.refreshAt = time.Time{}
			if !f.tok.Expiry.IsZero() {
				margin := min(a.refreshBefore, f.tok.Expiry.Sub(a.now())/4)
				a.refreshAt = f.tok.Expiry.Add(-max(margin, 0))
			}
		}
		a.mu.Unlock()
		close(f.done)
		return f.tok, f.err
	}
}

func (a *tokenAuth) authenticate(ctx context.Context, req *http.Request) error {
	t, err := a.token(ctx)
	if err != nil {
		return err
	}
	typ := t.Type
	if typ == "" || strings.EqualFold(typ, "bearer") {
		typ = "Bearer"
	}
	req.Header.Set("Authorization", typ+" "+t.AccessToken)
	return nil
}

func (a *tokenAuth) reject(req *http.Request) {
	h := req.Header.Get("Authorization")
	a.mu.Lock()
	dropped := false
	if a.tok.AccessToken != "" && strings.HasSuffix(h, " "+a.tok.AccessToken) {
		a.tok = Token{}
		dropped = true
	}
	a.mu.Unlock()
	if dropped && a.onReject != nil {
		a.onReject()
	}
}

func (a *tokenAuth) secrets() []string {
	a.mu.Lock()
	s := []string{a.tok.AccessToken}
	a.mu.Unlock()
	if a.extra != nil {
		s = append(s, a.extra())
	}
	return s
}

// redact replaces every occurrence of each non-trivial secret in s.
func redact(s string, secrets ...string) string {
	for _, sec := range secrets {
		if len(sec) >= 4 && strings.Contains(s, sec) {
			s = strings.ReplaceAll(s, sec, "[redacted]")
		}
	}
	return s
}
