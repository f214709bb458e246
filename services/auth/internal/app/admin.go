package app

import (
	"context"
	"errors"

	"github.com/ihr-go/ihr/pkg/apierr"
	"github.com/ihr-go/ihr/pkg/authn"
)

// maxListed bounds a page of accounts.
const maxListed = 1000

// ListUsers lists accounts, by id, after f.After.
func (s *Service) ListUsers(ctx context.Context, f UserFilter) ([]User, error) {
	if f.Role != "" && (!f.Role.Valid() || f.Role == authn.Anonymous) {
		return nil, invalid("invalid_role", "role is user, pipeline or admin")
	}
	if f.Status != "" && f.Status != Pending && f.Status != Active && f.Status != Disabled {
		return nil, invalid("invalid_status", "status is pending, active or disabled")
	}
	if f.Limit <= 0 || f.Limit > maxListed {
		f.Limit = maxListed
	}
	return s.Store.ListUsers(ctx, f)
}

// User returns one account.
func (s *Service) User(ctx context.Context, id int64) (User, error) {
	u, err := s.Store.UserByID(ctx, id)
	if errors.Is(err, ErrNotFound) {
		return User{}, errNotFound
	}
	return u, err
}

// AccountChange is what an admin may change of an account.
type AccountChange struct {
	Role   *authn.Role `json:"role"`
	Status *string     `json:"status"`
}

// UpdateUser sets an account's role or status; its access tokens issued
// before are revoked, and a disabled account's logins and keys end.
func (s *Service) UpdateUser(ctx context.Context, a Actor, id int64, c AccountChange) (User, error) {
	if c.Role != nil && (!c.Role.Valid() || *c.Role == authn.Anonymous) {
		return User{}, invalid("invalid_role", "role is user, pipeline or admin")
	}
	if c.Status != nil && *c.Status != Active && *c.Status != Disabled {
		return User{}, invalid("invalid_status", "status is active or disabled")
	}
	if c.Role == nil && c.Status == nil {
		return User{}, invalid("nothing_to_change", "Give a role or a status")
	}
	// Through any credential of theirs: their tokens, keys or clients.
	if a.Principal.Account() == "user:"+itoa(id) {
		return User{}, apierr.New(apierr.Forbidden, "own_account", "Admins change other accounts, not their own")
	}
	u, err := s.Store.UpdateUser(ctx, id, UserChange{Role: c.Role, Status: c.Status, BumpVersion: true})
	if errors.Is(err, ErrNotFound) {
		return User{}, errNotFound
	}
	if err != nil {
		return User{}, err
	}
	if u.Status != Disabled {
		// Its logins go on, refreshing into tokens of the new role; the
		// keys and clients it made that the new role does not cover end.
		s.revoke(ctx, authn.Revocation{Kind: "user", ID: itoa(u.ID), Version: u.TokenVersion})
		if err := s.withdraw(ctx, u, false); err != nil {
			return User{}, err
		}
	} else if err := s.disable(ctx, u); err != nil {
		return User{}, err
	}
	s.audit(ctx, a, "account_updated", u.Subject(), map[string]any{"role": u.Role, "status": u.Status})
	return u, nil
}

// disable ends the logins of u and revokes its keys and the clients it made.
func (s *Service) disable(ctx context.Context, u User) error {
	if err := s.withdraw(ctx, u, true); err != nil {
		return err
	}
	return s.endLogins(ctx, u, "")
}

// withdraw revokes the API keys of u and the OAuth2 clients it made: all of
// them, or those its role no longer covers. VerifyAPIKey and the token
// endpoint refuse those already; the revocations tell the gateway and the
// services, which keep keys' answers a while.
func (s *Service) withdraw(ctx context.Context, u User, all bool) error {
	if err := s.revokeKeys(ctx, u, all); err != nil {
		return err
	}
	clients, err := s.Store.Clients(ctx)
	if err != nil {
		return err
	}
	for _, c := range clients {
		if c.RevokedAt != nil || c.CreatedBy == nil || *c.CreatedBy != u.ID || !all && holds(u.Role, c.Role, c.Scopes) {
			continue
		}
		if err := s.Store.RevokeClient(ctx, c.ID); err != nil {
			return err
		}
		s.revoke(ctx, authn.Revocation{Kind: "client", ID: c.ID})
	}
	return nil
}

// revokeKeys revokes the API keys of u: all, or those its role no longer covers.
func (s *Service) revokeKeys(ctx context.Context, u User, all bool) error {
	keys, err := s.Store.APIKeys(ctx, u.ID)
	if err != nil {
		return err
	}
	for _, k := range keys {
		if k.RevokedAt != nil || !all && holds(u.Role, k.Role, k.Scopes) {
			continue
		}
		if err := s.Store.RevokeAPIKey(ctx, k.ID); err != nil {
			return err
		}
		s.revoke(ctx, authn.Revocation{Kind: "key", ID: k.ID})
	}
	return nil
}
