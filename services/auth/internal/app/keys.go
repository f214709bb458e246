package app

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/ihr-go/ihr/pkg/apierr"
	"github.com/ihr-go/ihr/pkg/authn"
	"github.com/ihr-go/ihr/pkg/events"
)

// KeyRequest asks for an API key or an OAuth2 client.
type KeyRequest struct {
	Name string     `json:"name"`
	Role authn.Role `json:"role"`
	// Scopes narrow the role's permissions; absent, all those a key may hold.
	Scopes   []authn.Permission `json:"scopes"`
	Datasets []string           `json:"datasets"`
	// ExpiresInDays: absent or 0, a year.
	ExpiresInDays int `json:"expires_in_days"`
}

// NewKey is a key or client just made: its secret is shown this once.
type NewKey struct {
	Secret string  `json:"secret"`
	APIKey *APIKey `json:"api_key,omitempty"`
	Client *Client `json:"client,omitempty"`
}

// Keys act for scripts and pipelines, not for an account: they never hold
// Account.
func keyPermissions(r authn.Role) []authn.Permission {
	var out []authn.Permission
	for _, p := range authn.Grants(r) {
		if p != authn.Public && p != authn.Account {
			out = append(out, p)
		}
	}
	return out
}

// grant checks what a key of req may do, asked by caller p.
func grant(p authn.Principal, req *KeyRequest) error {
	if n := utf8.RuneCountInString(strings.TrimSpace(req.Name)); n == 0 || n > 100 {
		return invalid("invalid_name", "name: 1 to 100 characters")
	}
	req.Name = strings.TrimSpace(req.Name)
	if req.Role == "" {
		req.Role = p.Role
	}
	if !req.Role.Valid() || req.Role == authn.Anonymous {
		return invalid("invalid_role", "role is user, pipeline or admin")
	}
	if req.Role != p.Role && p.Role != authn.Admin {
		return apierr.New(apierr.Forbidden, "role_not_allowed", "Only admins give keys another role than their own")
	}
	allowed := keyPermissions(req.Role)
	if req.Scopes == nil {
		req.Scopes = allowed
	}
	for _, s := range req.Scopes {
		if !slices.Contains(allowed, s) {
			return invalid("invalid_scope", "A key of role "+string(req.Role)+" may hold only: "+authn.FormatScope(allowed))
		}
	}
	if len(req.Datasets) > 0 && !slices.Contains(req.Scopes, authn.Ingest) {
		return invalid("invalid_datasets", "datasets go with the ingest scope")
	}
	for _, d := range req.Datasets {
		if _, ok := events.Lookup(d); !ok {
			return invalid("unknown_dataset", "No binned dataset is called "+strconv.Quote(d))
		}
	}
	if req.ExpiresInDays < 0 || req.ExpiresInDays > 3650 {
		return invalid("invalid_expiry", "expires_in_days: 1 to 3650")
	}
	if req.ExpiresInDays == 0 {
		req.ExpiresInDays = 365
	}
	return nil
}

// randomID is a public id: prefix and 12 hex digits.
func randomID(prefix string) string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return prefix + hex.EncodeToString(b[:])
}

// CreateAPIKey makes an API key for the caller.
func (s *Service) CreateAPIKey(ctx context.Context, a Actor, req KeyRequest) (NewKey, error) {
	u, err := s.me(ctx, a)
	if err != nil {
		return NewKey{}, err
	}
	if err := grant(a.Principal, &req); err != nil {
		return NewKey{}, err
	}
	id, sec := randomID("k"), secret()
	exp := time.Now().Add(time.Duration(req.ExpiresInDays) * 24 * time.Hour).UTC()
	k := APIKey{ID: id, Hash: digest(sec), UserID: u.ID, Name: req.Name, Role: req.Role, Scopes: req.Scopes,
		Datasets: nonNil(req.Datasets), ExpiresAt: &exp, CreatedAt: time.Now().UTC()}
	if err := s.Store.AddAPIKey(ctx, k); err != nil {
		return NewKey{}, err
	}
	s.audit(ctx, a, "api_key_created", "key:"+id, map[string]any{"role": req.Role, "scopes": req.Scopes, "datasets": req.Datasets})
	return NewKey{Secret: authn.APIKeyPrefix + id + "_" + sec, APIKey: &k}, nil
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// APIKeys lists the caller's keys; admins may list another user's (user
// > 0) or every key (user < 0).
func (s *Service) APIKeys(ctx context.Context, a Actor, user int64) ([]APIKey, error) {
	if user != 0 {
		if !a.Principal.Can(authn.ManageKeys) {
			return nil, apierr.New(apierr.Forbidden, "forbidden", "Only admins list the keys of others")
		}
		return s.Store.APIKeys(ctx, max(user, 0))
	}
	u, err := s.me(ctx, a)
	if err != nil {
		return nil, err
	}
	return s.Store.APIKeys(ctx, u.ID)
}

// RevokeAPIKey revokes a key of the caller's (admins: any key).
func (s *Service) RevokeAPIKey(ctx context.Context, a Actor, id string) error {
	k, err := s.Store.APIKey(ctx, id)
	if errors.Is(err, ErrNotFound) {
		return errNotFound
	}
	if err != nil {
		return err
	}
	if !a.Principal.Can(authn.ManageKeys) && a.Principal.Subject != "user:"+itoa(k.UserID) {
		return errNotFound // not telling that another account's key exists
	}
	if err := s.Store.RevokeAPIKey(ctx, id); err != nil {
		return err
	}
	s.revoke(ctx, authn.Revocation{Kind: "key", ID: id})
	s.audit(ctx, a, "api_key_revoked", "key:"+id, nil)
	return nil
}

// ErrKey is an API key that is unknown, expired or revoked.
var ErrKey = errors.New("unknown, expired or revoked API key")

// VerifyAPIKey returns the principal of an API key (for the gateway and
// the services, through the internal endpoint).
func (s *Service) VerifyAPIKey(ctx context.Context, key string) (authn.Principal, error) {
	id := authn.KeyID(key)
	if id == "" {
		return authn.Principal{}, ErrKey
	}
	k, err := s.Store.APIKey(ctx, id)
	if errors.Is(err, ErrNotFound) {
		return authn.Principal{}, ErrKey
	}
	if err != nil {
		return authn.Principal{}, err
	}
	sec := strings.TrimPrefix(key, authn.APIKeyPrefix+id+"_")
	if subtle.ConstantTimeCompare(digest(sec), k.Hash) != 1 || k.RevokedAt != nil || k.ExpiresAt != nil && time.Now().After(*k.ExpiresAt) {
		return authn.Principal{}, ErrKey
	}
	u, err := s.Store.UserByID(ctx, k.UserID)
	if err != nil || u.Status != Active {
		return authn.Principal{}, ErrKey
	}
	if err := s.Store.KeyUsed(ctx, id); err != nil {
		s.Log.WarnContext(ctx, "record API key use", "key", id, "err", err)
	}
	return authn.Principal{Subject: "key:" + id, Role: k.Role, Scopes: k.Scopes, Datasets: k.Datasets}, nil
}

// CreateClient makes an OAuth2 client (client_credentials), for pipelines.
func (s *Service) CreateClient(ctx context.Context, a Actor, req KeyRequest) (NewKey, error) {
	if req.Role == "" {
		req.Role = authn.Pipeline
	}
	if err := grant(a.Principal, &req); err != nil {
		return NewKey{}, err
	}
	c := Client{ID: randomID("c"), Name: req.Name, Role: req.Role, Scopes: req.Scopes, Datasets: nonNil(req.Datasets), CreatedAt: time.Now().UTC()}
	if u, err := s.me(ctx, a); err == nil {
		c.CreatedBy = &u.ID
	}
	sec := secret()
	c.SecretHash = digest(sec)
	if err := s.Store.AddClient(ctx, c); err != nil {
		return NewKey{}, err
	}
	s.audit(ctx, a, "client_created", "client:"+c.ID, map[string]any{"role": c.Role, "datasets": c.Datasets})
	return NewKey{Secret: sec, Client: &c}, nil
}

// Clients lists the OAuth2 clients.
func (s *Service) Clients(ctx context.Context) ([]Client, error) { return s.Store.Clients(ctx) }

// RevokeClient revokes an OAuth2 client and its access tokens.
func (s *Service) RevokeClient(ctx context.Context, a Actor, id string) error {
	if _, err := s.Store.Client(ctx, id); errors.Is(err, ErrNotFound) {
		return errNotFound
	} else if err != nil {
		return err
	}
	if err := s.Store.RevokeClient(ctx, id); err != nil {
		return err
	}
	s.revoke(ctx, authn.Revocation{Kind: "client", ID: id})
	s.audit(ctx, a, "client_revoked", "client:"+id, nil)
	return nil
}
