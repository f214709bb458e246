package app

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
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

// grant checks what a key of req may do, asked by caller p: never more
// than p itself. Only callers who may manage accounts give another role
// than their own; a caller narrowed to some scopes (a scoped token, an API
// key, a client) gives at most those, and a non-admin only its datasets.
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
	if req.Role != p.Role && !p.Can(authn.ManageUsers) {
		return apierr.New(apierr.Forbidden, "role_not_allowed", "Only credentials that may manage accounts give keys another role than their own")
	}
	ofRole := keyPermissions(req.Role)
	allowed := slices.DeleteFunc(slices.Clone(ofRole), func(s authn.Permission) bool { return !p.Can(s) })
	if req.Scopes == nil {
		req.Scopes = allowed
	}
	if len(req.Scopes) == 0 {
		return invalid("invalid_scope", "A key holds at least one scope; this credential may give: "+formatOrNone(allowed))
	}
	for _, s := range req.Scopes {
		if !slices.Contains(ofRole, s) {
			return invalid("invalid_scope", "A key of role "+string(req.Role)+" may hold only: "+authn.FormatScope(ofRole))
		}
		if !slices.Contains(allowed, s) {
			return apierr.New(apierr.Forbidden, "scope_not_allowed", "This credential may give only: "+formatOrNone(allowed))
		}
	}
	if len(req.Datasets) > 0 && !slices.Contains(req.Scopes, authn.Ingest) {
		return invalid("invalid_datasets", "datasets go with the ingest scope")
	}
	for _, d := range req.Datasets {
		if _, ok := events.Lookup(d); !ok {
			return invalid("unknown_dataset", "No binned dataset is called "+strconv.Quote(d))
		}
		if p.Role != authn.Admin && !slices.Contains(p.Datasets, d) {
			return apierr.New(apierr.Forbidden, "dataset_not_allowed", "This credential may not ingest "+strconv.Quote(d))
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

func formatOrNone(ps []authn.Permission) string {
	if len(ps) == 0 {
		return "nothing"
	}
	return authn.FormatScope(ps)
}

// holds reports whether an account of role owner may hold a key or client
// of role and scopes: those of its own role, or any for an admin. A key
// made before its owner lost a role is refused by it.
func holds(owner, role authn.Role, scopes []authn.Permission) bool {
	if len(scopes) == 0 || role != owner && owner != authn.Admin {
		return false
	}
	for _, s := range scopes {
		if !owner.Grants(s) {
			return false
		}
	}
	return true
}

// accountID is the id of the account p acts for (Principal.Account).
func accountID(p authn.Principal) (int64, bool) {
	id, ok := strings.CutPrefix(p.Account(), "user:")
	n, err := strconv.ParseInt(id, 10, 64)
	return n, ok && err == nil
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
	if err := s.roomForKey(ctx, u); err != nil {
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

// MaxKeys bounds the live (neither revoked nor expired) API keys of an
// account: each is a row and a credential to watch.
const MaxKeys = 20

func (s *Service) roomForKey(ctx context.Context, u User) error {
	keys, err := s.Store.APIKeys(ctx, u.ID)
	if err != nil {
		return err
	}
	live := 0
	for _, k := range keys {
		if k.RevokedAt == nil && (k.ExpiresAt == nil || time.Now().Before(*k.ExpiresAt)) {
			live++
		}
	}
	if live >= MaxKeys {
		return apierr.New(apierr.Conflict, "too_many_keys", "An account holds at most "+strconv.Itoa(MaxKeys)+" live API keys: revoke one first")
	}
	return nil
}

func expires(t *time.Time) time.Time {
	if t == nil {
		return time.Time{}
	}
	return *t
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

// ErrUnknownKey is an API key whose id no key has (an ErrKey): every key
// of that id is refused, whatever its secret.
var ErrUnknownKey = fmt.Errorf("%w: no key has this id", ErrKey)

// VerifyAPIKey returns the principal of an API key (for the gateway and
// the services, through the internal endpoint).
func (s *Service) VerifyAPIKey(ctx context.Context, key string) (authn.Principal, error) {
	id := authn.KeyID(key)
	if id == "" {
		return authn.Principal{}, ErrKey
	}
	k, err := s.Store.APIKey(ctx, id)
	if errors.Is(err, ErrNotFound) {
		return authn.Principal{}, ErrUnknownKey
	}
	if err != nil {
		return authn.Principal{}, err
	}
	sec := strings.TrimPrefix(key, authn.APIKeyPrefix+id+"_")
	if subtle.ConstantTimeCompare(digest(sec), k.Hash) != 1 || k.RevokedAt != nil || k.ExpiresAt != nil && time.Now().After(*k.ExpiresAt) {
		return authn.Principal{}, ErrKey
	}
	// A key acts with its owner's authority as it is now: a disabled or
	// demoted owner's keys stop, whether or not their revocation got out.
	u, err := s.Store.UserByID(ctx, k.UserID)
	if errors.Is(err, ErrNotFound) {
		return authn.Principal{}, ErrKey
	}
	if err != nil {
		return authn.Principal{}, err
	}
	if u.Status != Active || !holds(u.Role, k.Role, k.Scopes) {
		return authn.Principal{}, ErrKey
	}
	if err := s.Store.KeyUsed(ctx, id); err != nil {
		s.Log.WarnContext(ctx, "record API key use", "key", id, "err", err)
	}
	return authn.Principal{Subject: "key:" + id, Role: k.Role, Scopes: k.Scopes, Datasets: k.Datasets, Owner: u.Subject(), Expires: expires(k.ExpiresAt)}, nil
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
	// The client acts with its creator's authority (an admin key's or
	// client's: their owner's).
	if id, ok := accountID(a.Principal); ok {
		c.CreatedBy = &id
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
