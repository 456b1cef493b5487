package workday

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"sync"

	"golang.org/x/oauth2"

	"github.com/greenlang/gl001/erp"
)

// TokenURL returns a tenant's OAuth 2.0 token endpoint,
// <baseURL>/ccx/oauth2/<tenant>/token.
func TokenURL(baseURL, tenant string) string {
	return strings.TrimSuffix(baseURL, "/") + "/ccx/oauth2/" + url.PathEscape(tenant) + "/token"
}

// EnvAPIKey authenticates with the API key in the environment variable
// WORKDAY_API_KEY, sent in header (erp.APIKey's default, X-API-Key, if
// empty). The variable is read again whenever the key is refused, so a
// rotated key is picked up without a restart.
func EnvAPIKey(header string) erp.APIKey {
	return erp.APIKey{Header: header, Key: erp.EnvSecret(APIKeyEnv)}
}

// RefreshGrant is the OAuth 2.0 refresh-token grant of a Workday API client
// (the "Register API Client for Integrations" kind): a long-lived refresh
// token traded for short-lived access tokens. Workday may rotate the refresh
// token on use; the newest one is kept in memory and handed to OnRotate, so
// the caller can persist it.
type RefreshGrant struct {
	TokenURL     string             // required; see TokenURL
	ClientID     string             // required
	ClientSecret erp.SecretProvider // required
	// RefreshToken supplies the initial refresh token (and is asked again
	// when the token endpoint refuses the one in use). Required.
	RefreshToken erp.SecretProvider
	// OnRotate, if set, is called with each new refresh token the endpoint
	// issues. It must not log the token.
	OnRotate func(refreshToken string)
}

// Auth returns the grant as an erp.TokenSource for erp.ConnConfig.Auth.
// Access tokens are cached and replaced before they expire by the shared
// machinery; one refresh runs at a time.
func (g RefreshGrant) Auth() erp.TokenSource {
	st := &refreshState{g: g}
	return erp.TokenSource{Fetch: st.fetch}
}

// Validate reports every problem of g.
func (g RefreshGrant) Validate() error {
	var errs []error
	if g.TokenURL == "" {
		errs = append(errs, errors.New("RefreshGrant.TokenURL is required"))
	}
	if g.ClientID == "" {
		errs = append(errs, errors.New("RefreshGrant.ClientID is required"))
	}
	if g.ClientSecret == nil {
		errs = append(errs, errors.New("RefreshGrant.ClientSecret is required"))
	}
	if g.RefreshToken == nil {
		errs = append(errs, errors.New("RefreshGrant.RefreshToken is required"))
	}
	if err := errors.Join(errs...); err != nil {
		return errors.Join(erp.ErrConfig, err)
	}
	return nil
}

type refreshState struct {
	g  RefreshGrant
	mu sync.Mutex
	rt string // the newest refresh token; "" means ask the provider
}

func (s *refreshState) fetch(ctx context.Context, hc *http.Client) (erp.Token, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.g.ClientSecret == nil || s.g.RefreshToken == nil {
		return erp.Token{}, &erp.AuthError{System: "workday", Err: errors.New("RefreshGrant needs ClientSecret and RefreshToken")}
	}
	for attempt := 0; ; attempt++ {
		fromProvider := s.rt == ""
		if fromProvider {
			rt, err := s.g.RefreshToken.Secret(ctx)
			if err != nil {
				return erp.Token{}, &erp.AuthError{System: "workday", Err: err}
			}
			if rt == "" {
				return erp.Token{}, &erp.AuthError{System: "workday", Err: errors.New("empty refresh token")}
			}
			s.rt = rt
		}
		secret, err := s.g.ClientSecret.Secret(ctx)
		if err != nil {
			return erp.Token{}, &erp.AuthError{System: "workday", Err: err}
		}
		cfg := oauth2.Config{ClientID: s.g.ClientID, ClientSecret: secret,
			Endpoint: oauth2.Endpoint{TokenURL: s.g.TokenURL, AuthStyle: oauth2.AuthStyleInHeader}}
		used := s.rt
		tok, err := cfg.TokenSource(context.WithValue(ctx, oauth2.HTTPClient, hc), &oauth2.Token{RefreshToken: used}).Token()
		if err != nil {
			ae := refreshError(err, used, secret)
			var re *oauth2.RetrieveError
			if errors.As(err, &re) && re.ErrorCode == "invalid_grant" {
				// The refresh token in use was refused (revoked, or a rotation
				// we missed): go back to the provider once.
				s.rt = ""
				if !fromProvider && attempt == 0 {
					continue
				}
			}
			return erp.Token{}, ae
		}
		if tok.RefreshToken != "" && tok.RefreshToken != used {
			s.rt = tok.RefreshToken
			if s.g.OnRotate != nil {
				s.g.OnRotate(tok.RefreshToken)
			}
		}
		return erp.Token{AccessToken: tok.AccessToken, Type: tok.Type(), Expiry: tok.Expiry}, nil
	}
}

// refreshError turns an oauth2 error into an *erp.AuthError that carries
// neither the refresh token nor the client secret.
func refreshError(err error, secrets ...string) error {
	ae := &erp.AuthError{System: "workday"}
	var re *oauth2.RetrieveError
	var ue *url.Error
	switch {
	case errors.As(err, &re):
		ae.Code = re.ErrorCode
		if re.Response != nil {
			ae.Status = re.Response.StatusCode
		}
		if re.ErrorDescription != "" {
			ae.Err = errors.New(redact(re.ErrorDescription, secrets...))
		}
	case errors.As(err, &ue):
		ae.Err = ue.Err
	default:
		ae.Err = errors.New(redact(err.Error(), secrets...))
	}
	return ae
}

func redact(s string, secrets ...string) string {
	for _, sec := range secrets {
		if len(sec) >= 4 {
			s = strings.ReplaceAll(s, sec, "[redacted]")
		}
	}
	return s
}
