package authn

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// Claims are those of an access token, signed by the auth service with
// EdDSA (Ed25519), its key named by the kid header.
type Claims struct {
	jwt.RegisteredClaims
	Role Role `json:"role"`
	// Scope lists the permissions granted, space-separated (RFC 8693's
	// scope claim); absent, all of the role's.
	Scope    string   `json:"scope,omitempty"`
	Datasets []string `json:"datasets,omitempty"`
	// Session is the login (refresh token family) the token belongs to.
	Session string `json:"sid,omitempty"`
	// Version is the user's token version when it was issued (Revocation).
	Version int `json:"ver,omitempty"`
	// Owner is the account a client's token acts for (Principal.Owner).
	Owner string `json:"own,omitempty"`
}

// Principal is who the claims stand for.
func (c *Claims) Principal() Principal {
	return Principal{Subject: c.Subject, Role: c.Role, Scopes: ParseScope(c.Scope), Datasets: c.Datasets, Session: c.Session, Owner: c.Owner}
}

// ParseScope reads a space-separated list of permissions; "" is nil (all).
func ParseScope(scope string) []Permission {
	if scope == "" {
		return nil
	}
	var out []Permission
	for s := range strings.FieldsSeq(scope) {
		out = append(out, Permission(s))
	}
	return out
}

// FormatScope writes permissions as a scope claim; nil is "".
func FormatScope(ps []Permission) string {
	s := make([]string, len(ps))
	for i, p := range ps {
		s[i] = string(p)
	}
	return strings.Join(s, " ")
}

// Audience is the audience of every access token.
const Audience = "ihr-api"

// KeySource returns the public key named kid.
type KeySource interface {
	Key(ctx context.Context, kid string) (ed25519.PublicKey, error)
}

// TokenVerifier checks access tokens.
type TokenVerifier struct {
	Keys   KeySource
	Issuer string
	// Leeway absorbs clock differences between the auth service and here.
	Leeway time.Duration
	// MaxLifetime, when set, refuses tokens whose expiry is further than
	// it from their issue: the auth service issues none such, so one was
	// signed with a stolen key.
	MaxLifetime time.Duration
}

// Verify checks the signature (EdDSA only: "none", HMAC and RSA are
// refused, whatever the header says), the key, issuer, audience, expiry,
// not-before and issue times, and the role.
func (v *TokenVerifier) Verify(ctx context.Context, token string) (*Claims, error) {
	var claims Claims
	_, err := jwt.ParseWithClaims(token, &claims, func(t *jwt.Token) (any, error) {
		kid, _ := t.Header["kid"].(string)
		if kid == "" {
			return nil, errors.New("no kid")
		}
		return v.Keys.Key(ctx, kid)
	}, jwt.WithValidMethods([]string{jwt.SigningMethodEdDSA.Alg()}), jwt.WithIssuer(v.Issuer), jwt.WithAudience(Audience),
		jwt.WithExpirationRequired(), jwt.WithIssuedAt(), jwt.WithLeeway(v.Leeway))
	if err != nil {
		if errors.Is(err, ErrUnavailable) {
			return nil, err
		}
		return nil, fmt.Errorf("access token: %w", err)
	}
	if !claims.Role.Valid() || claims.Role == Anonymous || claims.ID == "" || claims.IssuedAt == nil {
		return nil, errors.New("access token: incomplete claims")
	}
	if v.MaxLifetime > 0 && claims.ExpiresAt.Sub(claims.IssuedAt.Time) > v.MaxLifetime {
		return nil, errors.New("access token: lives longer than any the auth service issues")
	}
	return &claims, nil
}

// Sign signs claims with key, named kid: the auth service's side.
func Sign(claims *Claims, kid string, key ed25519.PrivateKey) (string, error) {
	t := jwt.NewWithClaims(jwt.SigningMethodEdDSA, claims)
	t.Header["kid"] = kid
	return t.SignedString(key)
}
