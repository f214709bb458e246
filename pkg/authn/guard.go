package authn

import (
	"context"
	"errors"
	"net/http"
	"strings"

	"github.com/ihr-go/ihr/pkg/apierr"
)

// Verifier turns a credential (an access token or an API key) into the
// principal it stands for.
type Verifier interface {
	Verify(ctx context.Context, credential string) (Principal, error)
}

// ErrUnavailable wraps the errors of a verifier that could not tell
// whether a credential is valid (the auth service down): the request gets
// 503, not 401. Every other error refuses the credential.
var ErrUnavailable = errors.New("credentials cannot be checked")

type credErrKey struct{}

// Identify finds who a request acts as, from its Authorization header
// ("Bearer <access token or API key>"), and passes it on in the request's
// context (FromContext). A request without a Bearer credential is anonymous
// (other schemes are for the endpoints that read them themselves: client
// authentication at the token endpoint); one whose credential fails is
// refused by Authorize, after Identify, so that a rate limit between the
// two can count it.
func Identify(v Verifier, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		scheme, cred, _ := strings.Cut(r.Header.Get("Authorization"), " ")
		if !strings.EqualFold(scheme, "Bearer") {
			next.ServeHTTP(w, r)
			return
		}
		ctx := r.Context()
		if p, err := v.Verify(ctx, strings.TrimSpace(cred)); err != nil {
			ctx = context.WithValue(ctx, credErrKey{}, err)
		} else {
			ctx = WithPrincipal(ctx, p)
		}
		rc := r.WithContext(ctx)
		next.ServeHTTP(w, rc)
		// The route a mux further in matched is set on the copy; the
		// request metrics read it from the request they passed on.
		r.Pattern = rc.Pattern
	})
}

// Authorize lets a request through when the principal Identify found has
// the permission its route needs (routes not listed are public), and answers
// 401 or 403 otherwise. A route needing Ingest also needs its {dataset}.
func Authorize(routes []Route, next http.Handler) http.Handler {
	// Requests no guarded route can match (nearly all: the reads) skip
	// the route lookup, which allocates.
	guarded := map[string][]string{} // method: static path prefixes
	for _, rt := range routes {
		if rt.Permission != Public {
			prefix, _, _ := strings.Cut(rt.Path(), "{")
			guarded[rt.Method()] = append(guarded[rt.Method()], prefix)
		}
	}
	mux := http.NewServeMux()
	for _, rt := range routes {
		perm := rt.Permission
		mux.HandleFunc(rt.Pattern, func(w http.ResponseWriter, r *http.Request) {
			if allowed(w, r, perm) {
				next.ServeHTTP(w, r)
			}
		})
	}
	public := func(w http.ResponseWriter, r *http.Request) {
		if allowed(w, r, Public) {
			next.ServeHTTP(w, r)
		}
	}
	mux.HandleFunc("/", public)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		method := r.Method
		if method == http.MethodHead {
			method = http.MethodGet
		}
		for _, p := range guarded[method] {
			if strings.HasPrefix(r.URL.Path, p) {
				mux.ServeHTTP(w, r)
				return
			}
		}
		public(w, r)
	})
}

// allowed answers the request and returns false when it may not go on.
func allowed(w http.ResponseWriter, r *http.Request, perm Permission) bool {
	if err, ok := r.Context().Value(credErrKey{}).(error); ok {
		if errors.Is(err, ErrUnavailable) {
			apierr.Write(w, apierr.Wrap(apierr.Unavailable, "auth_unavailable", "Credentials cannot be checked now, try again later", err))
		} else {
			Unauthorized(w, true, "The credentials of this request are not valid: "+err.Error())
		}
		return false
	}
	p := FromContext(r.Context())
	ok := p.Can(perm)
	if ok && perm == Ingest {
		ok = p.CanIngest(r.PathValue("dataset"))
	}
	switch {
	case ok:
		return true
	case p.Role == Anonymous:
		Unauthorized(w, false, "This endpoint needs credentials: Authorization: Bearer <access token or API key>")
	default:
		apierr.Write(w, apierr.New(apierr.Forbidden, "forbidden", "Your role ("+string(p.Role)+") may not do this"))
	}
	return false
}

// Unauthorized answers 401 with the WWW-Authenticate challenge of RFC 6750;
// invalid tells that credentials were given and refused.
func Unauthorized(w http.ResponseWriter, invalid bool, message string) {
	challenge := `Bearer realm="ihr"`
	code := "unauthenticated"
	if invalid {
		challenge += `, error="invalid_token"`
		code = "invalid_token"
	}
	w.Header().Set("WWW-Authenticate", challenge)
	apierr.Write(w, apierr.New(apierr.Unauthenticated, code, message))
}
