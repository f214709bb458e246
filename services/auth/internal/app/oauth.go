package app

import (
	"cmp"
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/ihr-go/ihr/pkg/apierr"
	"github.com/ihr-go/ihr/pkg/authn"
)

// TokenRequest is a request to the OAuth2 token endpoint (RFC 6749 §4.3,
// §4.4, §6), its client authenticated by HTTP Basic or the form.
type TokenRequest struct {
	GrantType    string
	Username     string
	Password     string
	RefreshToken string
	Scope        string
	ClientID     string
	ClientSecret string
}

// oauthError is an error of RFC 6749 §5.2: its code is the error member.
func oauthError(kind apierr.Kind, code, description string) *apierr.Error {
	return apierr.New(kind, code, description)
}

var errClient = oauthError(apierr.Unauthenticated, "invalid_client", "Unknown client, wrong secret or revoked client")

// Token answers the token endpoint.
func (s *Service) Token(ctx context.Context, a Actor, req TokenRequest) (Tokens, error) {
	switch req.GrantType {
	case "password":
		if req.Username == "" || req.Password == "" {
			return Tokens{}, oauthError(apierr.Invalid, "invalid_request", "username and password are required")
		}
		u, err := s.checkPassword(ctx, a, req.Username, req.Password)
		if err != nil {
			return Tokens{}, asGrantError(err)
		}
		scopes, err := narrow(authn.Grants(u.Role), req.Scope)
		if err != nil {
			return Tokens{}, err
		}
		if scopes == nil {
			return s.issue(ctx, u, uuid.NewString())
		}
		access, err := s.sign(grantee{subject: u.Subject(), role: u.Role, scopes: scopes, version: u.TokenVersion})
		return Tokens{AccessToken: access, TokenType: "Bearer", ExpiresIn: int(s.Config.AccessTTL.Seconds()), Scope: authn.FormatScope(scopes)}, err
	case "refresh_token":
		if req.RefreshToken == "" {
			return Tokens{}, oauthError(apierr.Invalid, "invalid_request", "refresh_token is required")
		}
		t, err := s.Refresh(ctx, a, req.RefreshToken)
		return t, asGrantError(err)
	case "client_credentials":
		c, err := s.client(ctx, req.ClientID, req.ClientSecret)
		if err != nil {
			return Tokens{}, err
		}
		scopes, err := narrow(c.Scopes, req.Scope)
		if err != nil {
			return Tokens{}, err
		}
		if scopes == nil {
			scopes = c.Scopes
		}
		access, err := s.sign(grantee{subject: "client:" + c.ID, role: c.Role, scopes: scopes, datasets: c.Datasets, owner: c.owner()})
		if err != nil {
			return Tokens{}, err
		}
		s.audit(ctx, a, "client_token", "client:"+c.ID, nil)
		return Tokens{AccessToken: access, TokenType: "Bearer", ExpiresIn: int(s.Config.AccessTTL.Seconds()), Scope: authn.FormatScope(scopes)}, nil
	case "":
		return Tokens{}, oauthError(apierr.Invalid, "invalid_request", "grant_type is required")
	}
	return Tokens{}, oauthError(apierr.Invalid, "unsupported_grant_type", "grant_type is password, refresh_token or client_credentials")
}

// asGrantError turns the errors of a login or refresh into those of RFC
// 6749 (a wrong password is an invalid grant; a lockout stays a 429, a
// busy service a 503).
func asGrantError(err error) error {
	var e *apierr.Error
	if !errors.As(err, &e) || e.Kind == apierr.RateLimited || e.Kind == apierr.Internal || e.Kind == apierr.Unavailable {
		return err
	}
	return oauthError(apierr.Invalid, "invalid_grant", e.Message)
}

// narrow checks a requested scope against granted (nil: none asked).
func narrow(granted []authn.Permission, scope string) ([]authn.Permission, error) {
	asked := authn.ParseScope(scope)
	for _, p := range asked {
		if !slices.Contains(granted, p) {
			return nil, oauthError(apierr.Invalid, "invalid_scope", "Not granted: "+string(p))
		}
	}
	return asked, nil
}

// client authenticates an OAuth2 client.
func (s *Service) client(ctx context.Context, id, secret string) (Client, error) {
	if id == "" || secret == "" {
		return Client{}, errClient
	}
	c, err := s.Store.Client(ctx, id)
	if errors.Is(err, ErrNotFound) {
		return Client{}, errClient
	}
	if err != nil {
		return Client{}, err
	}
	if subtle.ConstantTimeCompare(digest(secret), c.SecretHash) != 1 || c.RevokedAt != nil {
		return Client{}, errClient
	}
	if ok, err := s.creatorHolds(ctx, c); err != nil || !ok {
		return Client{}, cmp.Or(err, error(errClient))
	}
	return c, nil
}

// creatorHolds reports whether the account that made c may still hold it:
// a client acts with its creator's authority as it is now. A client whose
// creator was deleted goes on (nobody's authority was withdrawn).
func (s *Service) creatorHolds(ctx context.Context, c Client) (bool, error) {
	if c.CreatedBy == nil {
		return true, nil
	}
	u, err := s.Store.UserByID(ctx, *c.CreatedBy)
	if errors.Is(err, ErrNotFound) {
		return true, nil
	}
	if err != nil {
		return false, err
	}
	return u.Status == Active && holds(u.Role, c.Role, c.Scopes), nil
}

// owner names the account a client acts for, "" for none.
func (c Client) owner() string {
	if c.CreatedBy == nil {
		return ""
	}
	return "user:" + itoa(*c.CreatedBy)
}

// RevokeToken revokes a refresh token's login or an API key (RFC 7009):
// holding it is the proof. Unknown tokens are no error.
func (s *Service) RevokeToken(ctx context.Context, a Actor, token string) error {
	if token == "" {
		return oauthError(apierr.Invalid, "invalid_request", "token is required")
	}
	if authn.KeyID(token) != "" {
		p, err := s.VerifyAPIKey(ctx, token)
		if err != nil {
			return nil
		}
		id := strings.TrimPrefix(p.Subject, "key:")
		if err := s.Store.RevokeAPIKey(ctx, id); err != nil {
			return err
		}
		s.revoke(ctx, authn.Revocation{Kind: "key", ID: id})
		s.audit(ctx, a, "api_key_revoked", p.Subject, map[string]any{"by": "rfc7009"})
		return nil
	}
	rt, err := s.Store.Refresh(ctx, digest(token))
	if errors.Is(err, ErrNotFound) || err == nil && rt.Revoked {
		return nil
	}
	if err != nil {
		return err
	}
	if err := s.Store.RevokeFamily(ctx, rt.Family); err != nil {
		return err
	}
	s.revoke(ctx, authn.Revocation{Kind: "session", ID: rt.Family})
	s.audit(ctx, a, "logout", "user:"+itoa(rt.UserID), map[string]any{"by": "rfc7009"})
	return nil
}

// Introspection is the answer of RFC 7662.
type Introspection struct {
	Active    bool       `json:"active"`
	TokenType string     `json:"token_type,omitempty"`
	Subject   string     `json:"sub,omitempty"`
	Role      authn.Role `json:"role,omitempty"`
	Scope     string     `json:"scope,omitempty"`
	Datasets  []string   `json:"datasets,omitempty"`
	ClientID  string     `json:"client_id,omitempty"`
	Username  string     `json:"username,omitempty"`
	Expires   int64      `json:"exp,omitempty"`
	IssuedAt  int64      `json:"iat,omitempty"`
	Issuer    string     `json:"iss,omitempty"`
	Session   string     `json:"sid,omitempty"`
}

// Introspect tells what a token is and whether it is active, from the
// store's state (not only its signature): a disabled account's tokens are
// inactive at once.
func (s *Service) Introspect(ctx context.Context, token string) (Introspection, error) {
	inactive := Introspection{}
	if token == "" {
		return inactive, oauthError(apierr.Invalid, "invalid_request", "token is required")
	}
	if authn.KeyID(token) != "" {
		p, err := s.VerifyAPIKey(ctx, token)
		if err != nil {
			return inactive, nil
		}
		return Introspection{Active: true, TokenType: "api_key", Subject: p.Subject, Role: p.Role, Scope: authn.FormatScope(p.Scopes), Datasets: p.Datasets}, nil
	}
	if claims, err := s.Access.Verify(ctx, token); err == nil {
		return s.introspectAccess(ctx, claims)
	}
	rt, err := s.Store.Refresh(ctx, digest(token))
	if errors.Is(err, ErrNotFound) || err == nil && (rt.Used || rt.Revoked || time.Now().After(rt.ExpiresAt)) {
		return inactive, nil
	}
	if err != nil {
		return inactive, err
	}
	u, err := s.Store.UserByID(ctx, rt.UserID)
	if err != nil || u.Status != Active {
		return inactive, nil
	}
	return Introspection{Active: true, TokenType: "refresh_token", Subject: u.Subject(), Role: u.Role, Username: u.Email,
		Expires: rt.ExpiresAt.Unix(), Session: rt.Family}, nil
}

func (s *Service) introspectAccess(ctx context.Context, c *authn.Claims) (Introspection, error) {
	out := Introspection{Active: true, TokenType: "access_token", Subject: c.Subject, Role: c.Role, Scope: c.Scope, Datasets: c.Datasets,
		Expires: c.ExpiresAt.Unix(), IssuedAt: c.IssuedAt.Unix(), Issuer: c.Issuer, Session: c.Session}
	kind, id, _ := strings.Cut(c.Subject, ":")
	switch kind {
	case "user":
		n, _ := strconv.ParseInt(id, 10, 64)
		u, err := s.Store.UserByID(ctx, n)
		if errors.Is(err, ErrNotFound) {
			return Introspection{}, nil
		}
		if err != nil {
			return Introspection{}, err
		}
		revoked := false
		if c.Session != "" {
			if revoked, err = s.Store.FamilyRevoked(ctx, c.Session); err != nil {
				return Introspection{}, err
			}
		}
		if u.Status != Active || c.Version < u.TokenVersion || revoked {
			return Introspection{}, nil
		}
		out.Username = u.Email
	case "client":
		cl, err := s.Store.Client(ctx, id)
		if errors.Is(err, ErrNotFound) || err == nil && cl.RevokedAt != nil {
			return Introspection{}, nil
		}
		if err != nil {
			return Introspection{}, err
		}
		if ok, err := s.creatorHolds(ctx, cl); err != nil || !ok {
			return Introspection{}, err
		}
		out.ClientID = cl.ID
	}
	return out, nil
}

// Authenticate returns the principal of a credential, checked against the
// store: a disabled account's tokens, a revoked login's or client's, are
// refused here at once.
func (s *Service) Authenticate(ctx context.Context, cred string) (authn.Principal, error) {
	if authn.KeyID(cred) != "" {
		p, err := s.VerifyAPIKey(ctx, cred)
		if err != nil && !errors.Is(err, ErrKey) {
			err = fmt.Errorf("%w: %v", authn.ErrUnavailable, err)
		}
		return p, err
	}
	claims, err := s.Access.Verify(ctx, cred)
	if err != nil {
		return authn.Principal{}, err
	}
	in, err := s.introspectAccess(ctx, claims)
	if err != nil {
		return authn.Principal{}, fmt.Errorf("%w: %v", authn.ErrUnavailable, err)
	}
	if !in.Active {
		return authn.Principal{}, errors.New("access token revoked")
	}
	return claims.Principal(), nil
}

// RotateSigningKey starts a new signing key.
func (s *Service) RotateSigningKey(ctx context.Context, a Actor) (string, error) {
	kid, err := s.Signer.RotateNow(ctx)
	if err == nil {
		s.audit(ctx, a, "signing_key_rotated", kid, nil)
	}
	return kid, err
}
