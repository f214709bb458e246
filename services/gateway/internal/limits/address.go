package limits

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/ihr-go/ihr/pkg/apierr"
	"github.com/ihr-go/ihr/pkg/authn"
	"github.com/ihr-go/ihr/pkg/ratelimit"
)

// Address limits, per client address and on top of the limits by role,
// the requests that cost a service dearly whoever sends them: a password
// checked (an argon2id hash), a mail sent, an API key not seen yet checked
// (a database lookup). An anonymous client's role limit is generous, as
// it is for reads; these are not.
type Address struct {
	Class   *ratelimit.Class
	Proxies Proxies
	// Applies selects the requests counted; the others pass.
	Applies func(r *http.Request) bool
	// What names the requests counted, for the refusal.
	What string
}

// Wrap limits next.
func (a *Address) Wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !a.Applies(r) {
			next.ServeHTTP(w, r)
			return
		}
		d := a.Class.Allow(a.Proxies.Client(r))
		if d.Allowed {
			next.ServeHTTP(w, r)
			return
		}
		retry := max(seconds(d.RetryAfter), 1)
		w.Header().Set("Retry-After", strconv.FormatInt(retry, 10))
		p := a.Class.Policy()
		apierr.Write(w, apierr.New(apierr.RateLimited, "rate_limited",
			fmt.Sprintf("Too many %s from this address: %s a second, in bursts of up to %d. Retry in %d s.",
				a.What, strconv.FormatFloat(p.Rate, 'f', -1, 64), p.Burst, retry)).
			With("limit", ratelimit.PerSecond.String()).With("retry_after", retry))
	})
}

// CredentialRoutes selects the requests that check a password or mail
// someone, whoever sends them: logins, registrations, password reset
// requests and the OAuth2 token endpoint.
func CredentialRoutes(r *http.Request) bool {
	if r.Method != http.MethodPost {
		return false
	}
	switch strings.TrimSuffix(r.URL.Path, "/") {
	case "/ihr/api/users/login", "/ihr/api/users/register", "/ihr/api/users/password/forgot", "/ihr/api/auth/token":
		return true
	}
	return false
}

// UnknownKeys selects the requests bearing an API key that cached (the
// key client's Cached) has no answer for: checking it costs the auth
// service a lookup, and made-up keys are free to send.
func UnknownKeys(cached func(key string) bool) func(r *http.Request) bool {
	return func(r *http.Request) bool {
		scheme, cred, _ := strings.Cut(r.Header.Get("Authorization"), " ")
		cred = strings.TrimSpace(cred)
		return strings.EqualFold(scheme, "Bearer") && authn.KeyID(cred) != "" && !cached(cred)
	}
}
