// Package httpapi is the auth service's HTTP transport: JSON for the account
// flows and the administration, forms for the OAuth2 endpoints (RFC 6749,
// 7009, 7662), the key set, and the internal API key check.
package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"

	"github.com/ihr-go/ihr/pkg/apierr"
	"github.com/ihr-go/ihr/pkg/authn"
	"github.com/ihr-go/ihr/pkg/passwords"
	"github.com/ihr-go/ihr/services/auth/internal/app"
)

// maxBody bounds a request body: the largest is a list of monitored networks.
const maxBody = 256 << 10

// API serves the auth service's routes.
type API struct {
	App  *app.Service
	JWKS func() authn.JWKS
	Log  *slog.Logger
}

// Handler returns the routes, each checked against authn.Routes.
func (a *API) Handler() http.Handler {
	mux := http.NewServeMux()
	for pattern, h := range a.routes() {
		mux.Handle(pattern, h)
	}
	checked := authn.Identify(verifier{a.App}, authn.Authorize(authn.Routes, mux))
	root := http.NewServeMux()
	root.Handle("/ihr/api/", checked)
	root.HandleFunc("POST "+authn.KeyVerifyPath, a.verifyKey)
	return root
}

// Patterns lists the routes served, for the test that holds them to authn.Routes.
func (a *API) Patterns() []string {
	var out []string
	for p := range a.routes() {
		out = append(out, p)
	}
	return out
}

func (a *API) routes() map[string]http.Handler {
	return map[string]http.Handler{
		"GET /ihr/api/auth/.well-known/jwks.json": http.HandlerFunc(a.jwks),
		"POST /ihr/api/auth/token":                http.HandlerFunc(a.token),
		"POST /ihr/api/auth/revoke":               http.HandlerFunc(a.revoke),
		"POST /ihr/api/auth/introspect":           http.HandlerFunc(a.introspect),
		"GET /ihr/api/auth/api-keys":              a.json(a.listKeys),
		"POST /ihr/api/auth/api-keys":             a.json(a.createKey),
		"DELETE /ihr/api/auth/api-keys/{id}":      a.json(a.revokeKey),
		"GET /ihr/api/auth/clients":               a.json(a.listClients),
		"POST /ihr/api/auth/clients":              a.json(a.createClient),
		"DELETE /ihr/api/auth/clients/{id}":       a.json(a.revokeClient),
		"POST /ihr/api/auth/signing-keys/rotate":  a.json(a.rotate),

		"POST /ihr/api/users/register":         a.json(a.register),
		"POST /ihr/api/users/confirm":          a.json(a.confirm),
		"POST /ihr/api/users/login":            a.json(a.login),
		"POST /ihr/api/users/refresh":          a.json(a.refresh),
		"POST /ihr/api/users/logout":           a.json(a.logout),
		"POST /ihr/api/users/password/forgot":  a.json(a.forgot),
		"POST /ihr/api/users/password/reset":   a.json(a.reset),
		"GET /ihr/api/users/me":                a.json(a.me),
		"DELETE /ihr/api/users/me":             a.json(a.deleteMe),
		"POST /ihr/api/users/me/password":      a.json(a.changePassword),
		"POST /ihr/api/users/me/email":         a.json(a.changeEmail),
		"POST /ihr/api/users/email/confirm":    a.json(a.confirmEmail),
		"PUT /ihr/api/users/me/monitored-asns": a.json(a.setMonitored),
		"GET /ihr/api/users":                   a.json(a.listUsers),
		"GET /ihr/api/users/{id}":              a.json(a.user),
		"PATCH /ihr/api/users/{id}":            a.json(a.updateUser),
	}
}

// verifier checks credentials against the store itself: the auth service
// is the authority, so a disabled account or a revoked login is refused
// here at once, events or not.
type verifier struct{ app *app.Service }

func (v verifier) Verify(ctx context.Context, cred string) (authn.Principal, error) {
	return v.app.Authenticate(ctx, cred)
}

// answer is what a JSON handler returns: a status and a value (nil: no body).
type answer struct {
	status int
	value  any
}

// json adapts a JSON handler: errors become the project's JSON errors, and
// answers are never cached (they hold tokens and account data).
func (a *API) json(h func(r *http.Request, actor app.Actor) (answer, error)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		res, err := h(r, actorOf(r))
		if err != nil {
			a.fail(w, r, err)
			return
		}
		if res.value == nil {
			w.WriteHeader(res.status)
			return
		}
		writeJSON(w, res.status, res.value)
	})
}

// fail writes err; internal errors are logged (their cause stays here),
// not the refusals of a busy service (a flood would fill the logs).
func (a *API) fail(w http.ResponseWriter, r *http.Request, err error) {
	e := apierr.From(err)
	if e.Kind == apierr.Internal || e.Kind == apierr.Unavailable && !errors.Is(err, passwords.ErrBusy) {
		a.Log.ErrorContext(r.Context(), "auth request failed", "path", r.URL.Path, "err", err)
	}
	if secs, ok := e.Fields["retry_after"].(int); ok {
		w.Header().Set("Retry-After", strconv.Itoa(secs))
	}
	apierr.Write(w, e)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		apierr.Write(w, err)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(append(b, '\n'))
}

// decode reads a JSON body into v, refusing unknown fields, trailing data
// and bodies over maxBody. The body is read as JSON whatever its declared
// type (curl -d says it is a form): it must parse as the object expected.
func decode(r *http.Request, v any) error {
	dec := json.NewDecoder(http.MaxBytesReader(nil, r.Body, maxBody))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return apierr.New(apierr.TooLarge, "body_too_large", "The body is over "+strconv.Itoa(maxBody)+" bytes")
		}
		if errors.Is(err, io.EOF) {
			return apierr.New(apierr.Invalid, "invalid_body", "The body is empty: it is a JSON object")
		}
		return apierr.New(apierr.Invalid, "invalid_body", "The body is not the JSON object expected: "+err.Error())
	}
	if dec.More() {
		return apierr.New(apierr.Invalid, "invalid_body", "The body holds more than one JSON value")
	}
	return nil
}

// actorOf is the caller: the principal Identify found and the client's
// address (the gateway tells it in X-Real-Ip, its proxies trusted or not;
// else the last X-Forwarded-For entry, the gateway's own peer).
func actorOf(r *http.Request) app.Actor {
	ip := r.RemoteAddr
	if real := strings.TrimSpace(r.Header.Get("X-Real-Ip")); real != "" {
		ip = real
	} else if xff := r.Header.Get("X-Forwarded-For"); xff != "" {
		ip = strings.TrimSpace(xff[strings.LastIndexByte(xff, ',')+1:])
	} else if host, _, err := net.SplitHostPort(ip); err == nil {
		ip = host
	}
	if len(ip) > 64 {
		ip = ip[:64]
	}
	return app.Actor{Principal: authn.FromContext(r.Context()), IP: ip}
}

// pathID reads the {id} of the route as an account id.
func pathID(r *http.Request) (int64, error) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id <= 0 {
		return 0, apierr.New(apierr.NotFound, "not_found", "No such account")
	}
	return id, nil
}
