// Package authn is who may do what, for every service: the roles and their
// permissions, the permission each public route needs, the principal a
// request acts as, and the verification of its credentials (access tokens
// signed by the auth service, API keys). The gateway checks a request with
// it, and each service checks it again.
package authn

import (
	"context"
	"slices"
	"strings"
	"time"
)

// Role is what a principal is allowed to be.
type Role string

// The roles. Anonymous is no stored role: a request without credentials.
const (
	Anonymous Role = "anonymous"
	User      Role = "user"
	Pipeline  Role = "pipeline"
	Admin     Role = "admin"
)

// Roles lists the roles, the least powerful first.
var Roles = []Role{Anonymous, User, Pipeline, Admin}

// Valid reports whether r is a role (anonymous included).
func (r Role) Valid() bool { return slices.Contains(Roles, r) }

// Permission is what a route needs.
type Permission string

// The permissions.
const (
	// Public routes need nothing: reads of public data, the token endpoint,
	// registration, the key set.
	Public Permission = "public"
	// Account is acting on one's own account: profile, password, monitored
	// networks, one's own API keys.
	Account Permission = "account"
	// Ingest is publishing measurement results, for the datasets granted.
	Ingest Permission = "ingest"
	// ManageUsers is listing accounts, setting roles, disabling accounts.
	ManageUsers Permission = "users:manage"
	// ManageKeys is managing every API key, OAuth2 client and signing key.
	ManageKeys Permission = "keys:manage"
	// Introspect is asking what a token is (RFC 7662).
	Introspect Permission = "tokens:introspect"
	// Operate is the operators' endpoints: cache debugging, warm runs.
	Operate Permission = "ops"
	// Stream is subscribing to live results (SSE, WebSocket): a connection
	// held open, so for known clients only.
	Stream Permission = "stream"
)

// Permissions lists every permission but Public, which every role has.
var Permissions = []Permission{Account, Ingest, ManageUsers, ManageKeys, Introspect, Operate, Stream}

// grants is the permission table: what each role may do.
var grants = map[Role][]Permission{
	Anonymous: {Public},
	User:      {Public, Account, Stream},
	Pipeline:  {Public, Ingest, Stream},
	Admin:     {Public, Account, Ingest, ManageUsers, ManageKeys, Introspect, Operate, Stream},
}

// Grants returns the permissions of role r.
func Grants(r Role) []Permission { return slices.Clone(grants[r]) }

// Grants reports whether role r has permission p.
func (r Role) Grants(p Permission) bool { return slices.Contains(grants[r], p) }

// Principal is who a request acts as.
type Principal struct {
	// Subject names it: "user:<id>", "client:<id>", "key:<id>", or "" for
	// anonymous requests.
	Subject string `json:"subject"`
	Role    Role   `json:"role"`
	// Scopes narrows the role's permissions (an API key or client granted
	// less than its role); nil means all of them, empty none (so not
	// omitted when empty: it would come back as nil).
	Scopes []Permission `json:"scopes"`
	// Datasets are those a pipeline may ingest (admins may ingest any).
	Datasets []string `json:"datasets,omitempty"`
	// Session is the login an access token belongs to (its refresh token
	// family), so that a logout or a replayed refresh token revokes it.
	Session string `json:"session,omitempty"`
	// Owner is the account an API key or an OAuth2 client acts for
	// ("user:<id>"): what it may do is bounded by that account's role, and
	// checks on "one's own account" apply to it.
	Owner string `json:"owner,omitempty"`
	// Expires is when an API key expires (zero: unknown), so that no cache
	// keeps it past then.
	Expires time.Time `json:"expires,omitzero"`
}

// Account is the account p acts for: its subject for an account's own
// token, its owner for an API key or a client, "" for none.
func (p Principal) Account() string {
	if strings.HasPrefix(p.Subject, "user:") {
		return p.Subject
	}
	return p.Owner
}

// AnonymousPrincipal is a request without credentials.
var AnonymousPrincipal = Principal{Role: Anonymous}

// Can reports whether p has permission perm.
func (p Principal) Can(perm Permission) bool {
	if perm == Public {
		return true
	}
	return p.Role.Grants(perm) && (p.Scopes == nil || slices.Contains(p.Scopes, perm))
}

// CanIngest reports whether p may ingest dataset.
func (p Principal) CanIngest(dataset string) bool {
	return p.Can(Ingest) && (p.Role == Admin || slices.Contains(p.Datasets, dataset))
}

type principalKey struct{}

// WithPrincipal returns ctx carrying p.
func WithPrincipal(ctx context.Context, p Principal) context.Context {
	return context.WithValue(ctx, principalKey{}, p)
}

// FromContext returns the principal ctx carries, anonymous when none.
func FromContext(ctx context.Context) Principal {
	if p, ok := ctx.Value(principalKey{}).(Principal); ok {
		return p
	}
	return AnonymousPrincipal
}
