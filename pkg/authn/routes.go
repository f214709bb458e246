package authn

import (
	"net/http"
	"strings"
)

// Route is a public route and the permission it needs.
type Route struct {
	// Pattern is a net/http ServeMux pattern: "POST /ihr/api/users/login".
	Pattern    string
	Permission Permission
	// Summary says what it does, for the OpenAPI document.
	Summary string
}

// Method and Path split the pattern.
func (r Route) Method() string { m, _, _ := strings.Cut(r.Pattern, " "); return m }

// Path is the pattern's path.
func (r Route) Path() string { _, p, _ := strings.Cut(r.Pattern, " "); return p }

// Routes is the permission table of every public route but the reads of
// public data (every other GET under /ihr/api/, which anyone may do). The
// gateway and the service behind a route both check it.
var Routes = []Route{
	{"POST /ihr/api/ingest/{dataset}", Ingest, "Ingest one time bin of a dataset (JSON or NDJSON)"},
	{"POST /ihr/api/ingest/{dataset}/", Ingest, "The same, with a trailing slash"},

	{"GET /ihr/api/stream", Stream, "Live results events as Server-Sent Events, filtered and resumable"},
	{"GET /ihr/api/ws", Stream, "Live results events over WebSocket, filtered and resumable"},

	{"GET /ihr/api/auth/.well-known/jwks.json", Public, "The public keys that sign access tokens (JWKS)"},
	{"POST /ihr/api/auth/token", Public, "OAuth2 token endpoint (RFC 6749): password, client_credentials and refresh_token grants"},
	{"POST /ihr/api/auth/revoke", Public, "Revoke a refresh token (RFC 7009)"},
	{"POST /ihr/api/auth/introspect", Introspect, "What a token is and whether it is active (RFC 7662)"},
	{"GET /ihr/api/auth/api-keys", Account, "List one's API keys (admins: every key, or ?user=ID)"},
	{"POST /ihr/api/auth/api-keys", Account, "Create an API key; its secret is shown once"},
	{"DELETE /ihr/api/auth/api-keys/{id}", Account, "Revoke an API key"},
	{"GET /ihr/api/auth/clients", ManageKeys, "List OAuth2 clients"},
	{"POST /ihr/api/auth/clients", ManageKeys, "Create an OAuth2 client for a pipeline; its secret is shown once"},
	{"DELETE /ihr/api/auth/clients/{id}", ManageKeys, "Revoke an OAuth2 client"},
	{"POST /ihr/api/auth/signing-keys/rotate", ManageKeys, "Start signing access tokens with a new key"},

	{"POST /ihr/api/users/register", Public, "Create an account; a confirmation link is mailed"},
	{"POST /ihr/api/users/confirm", Public, "Confirm an account with the mailed code"},
	{"POST /ihr/api/users/login", Public, "Log in: an access token and a refresh token"},
	{"POST /ihr/api/users/refresh", Public, "Trade a refresh token for new tokens (the old one is spent)"},
	{"POST /ihr/api/users/logout", Account, "End this login: its refresh tokens are revoked"},
	{"POST /ihr/api/users/password/forgot", Public, "Mail a password reset link"},
	{"POST /ihr/api/users/password/reset", Public, "Set a new password with the mailed code"},
	{"GET /ihr/api/users/me", Account, "One's profile and monitored networks"},
	{"DELETE /ihr/api/users/me", Account, "Delete one's account (password required)"},
	{"POST /ihr/api/users/me/password", Account, "Change one's password; other logins end"},
	{"POST /ihr/api/users/me/email", Account, "Ask to change one's e-mail; a confirmation link is mailed to the new address"},
	{"POST /ihr/api/users/email/confirm", Public, "Confirm a new e-mail address with the mailed code"},
	{"PUT /ihr/api/users/me/monitored-asns", Account, "Set the networks one monitors and the alarm level worth a mail"},
	{"GET /ihr/api/users", ManageUsers, "List accounts"},
	{"GET /ihr/api/users/{id}", ManageUsers, "One account"},
	{"PATCH /ihr/api/users/{id}", ManageUsers, "Set an account's role or disable it"},
}

// OpsRoutes are the operators' routes, on the services' own ports (the
// gateway routes none of them).
var OpsRoutes = []Route{
	{"GET /debug/cache", Operate, "The query service's caches: entries, freshness, the change log"},
	{"GET /debug/warm", Operate, "The cache warmer's last runs and what they warmed"},
}

// Ops guards h, a service's operators' routes, with the OpsRoutes
// permissions; open lets anyone in (IHR_OPS_OPEN, a developer machine).
func Ops(v Verifier, open bool, h http.Handler) http.Handler {
	if open {
		return h
	}
	return Identify(v, Authorize(OpsRoutes, h))
}
