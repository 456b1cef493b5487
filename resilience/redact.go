package resilience

import (
	"regexp"
	"strings"
)

// Redacted is what [Redact] puts in place of a secret.
const Redacted = "xxxxx"

var (
	// scheme://user:password@host: keep the user, hide the password, like
	// url.URL.Redacted.
	userinfoPassword = regexp.MustCompile(`([A-Za-z][A-Za-z0-9+.\-]*://[^/?#@\s:]*):[^/?#@\s]*@`)
	// key=value pairs and "key": "value" JSON fields whose key names a secret.
	secretParam = regexp.MustCompile(`(?i)((?:password|passwd|pwd|secret|client_secret|token|access_token|refresh_token|api[_-]?key|apikey)"?\s*[=:]\s*"?)([^&\s",;]+)`)
	// HTTP authorization values.
	authHeader = regexp.MustCompile(`(?i)\b(bearer|basic)\s+[A-Za-z0-9._~+/=\-]+`)
)

// Redact returns s with secrets replaced by [Redacted]: the password of any URL
// user info (scheme://user:password@host), the value of key=value and JSON
// fields whose key names a secret (password, secret, token, api_key ...), Bearer
// and Basic credentials, and every occurrence of each of the given secret values
// (empty ones are ignored). Use it on anything that may reach a log or an error
// message.
func Redact(s string, secrets ...string) string {
	for _, v := range secrets {
		if v != "" {
			s = strings.ReplaceAll(s, v, Redacted)
		}
	}
	// The patterns are costly; most messages hold none of their keywords.
	if strings.Contains(s, "@") {
		s = userinfoPassword.ReplaceAllString(s, "${1}:"+Redacted+"@")
	}
	lower := strings.ToLower(s)
	if containsAny(lower, "pass", "pwd", "secret", "token", "key") {
		s = secretParam.ReplaceAllString(s, "${1}"+Redacted)
	}
	if containsAny(lower, "bearer", "basic") {
		s = authHeader.ReplaceAllString(s, "${1} "+Redacted)
	}
	return s
}

func containsAny(s string, subs ...string) bool {
	for _, sub := range subs {
		if strings.Contains(s, sub) {
			return true
		}
	}
	return false
}
