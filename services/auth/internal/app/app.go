// Package app is what the auth service does, in plain Go: accounts and
// their flows (register, confirm, log in, reset and change passwords and
// e-mail addresses, delete), tokens (access tokens, refresh tokens rotated
// at each use, OAuth2 grants, revocation, introspection), API keys, OAuth2
// clients, monitored networks and the administration of accounts. It
// returns *apierr.Error values; the HTTP transport only encodes them.
package app

import (
	"cmp"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"log/slog"
	"time"

	"github.com/ihr-go/ihr/pkg/apierr"
	"github.com/ihr-go/ihr/pkg/authn"
	"github.com/ihr-go/ihr/pkg/passwords"
)

// Config is the policy of the service.
type Config struct {
	Issuer     string
	AccessTTL  time.Duration
	RefreshTTL time.Duration
	// LinkBase starts the links mailed to users: LinkBase + "/confirm?code=...".
	LinkBase string
	// Lockout: after LockAfter failed logins in a row for an e-mail, logins
	// for it are refused for LockFor, doubling at each further failure up to
	// LockMax.
	LockAfter int
	LockFor   time.Duration
	LockMax   time.Duration
	// MailEvery is the least time between two mails of a kind that anyone
	// can ask for (a taken address, a reset, a new address) to one address.
	MailEvery time.Duration
}

// Signer signs access tokens.
type Signer interface {
	Sign(claims *authn.Claims) (string, error)
	// RotateNow starts a new key, which signs after an overlap.
	RotateNow(ctx context.Context) (string, error)
}

// Mailer queues e-mails.
type Mailer interface {
	Send(ctx context.Context, m Mail) error
}

// Mail is an e-mail to send.
type Mail struct {
	ID      string // de-duplicates a retried send
	Kind    string
	To      string
	Subject string
	Text    string
}

// Events announces revocations to the gateway and the services.
type Events interface {
	Revoked(ctx context.Context, r authn.Revocation) error
}

// AccessVerifier checks access tokens' signature and claims.
type AccessVerifier interface {
	Verify(ctx context.Context, token string) (*authn.Claims, error)
}

// Service is the auth service's use cases.
type Service struct {
	Store Store
	// Passwords hashes and checks passwords, a bounded number at once.
	Passwords *passwords.Gate
	// Later does the work of requests after their answer.
	Later  *Later
	Signer Signer
	Access AccessVerifier
	Mail   Mailer
	Events Events
	Config Config
	Log    *slog.Logger

	retryBase time.Duration // the first wait before a revocation is published again (1 s)
}

// Actor is who asks and from where, for the audit log.
type Actor struct {
	Principal authn.Principal
	IP        string
}

func (a Actor) name() string {
	if a.Principal.Subject == "" {
		return "anonymous"
	}
	return a.Principal.Subject
}

// Tokens are what a login or a refresh gives.
type Tokens struct {
	AccessToken  string `json:"access_token"`
	TokenType    string `json:"token_type"`
	ExpiresIn    int    `json:"expires_in"`
	RefreshToken string `json:"refresh_token,omitempty"`
	Scope        string `json:"scope,omitempty"`
}

// secret returns a random token of 32 bytes, base64url.
func secret() string {
	var b [32]byte
	_, _ = rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// digest is how secrets are stored: their SHA-256 (they carry 256 random
// bits, so a fast hash is enough; passwords use argon2id).
func digest(s string) []byte {
	h := sha256.Sum256([]byte(s))
	return h[:]
}

// audit records an action; a failure to record it is logged, not returned:
// the action happened.
func (s *Service) audit(ctx context.Context, a Actor, action, target string, detail map[string]any) {
	if err := s.Store.Audit(ctx, AuditEntry{Actor: a.name(), Action: action, Target: target, IP: a.IP, Detail: detail}); err != nil {
		s.Log.WarnContext(ctx, "audit", "action", action, "err", err)
	}
}

// revoke announces r. The change it follows is committed, so a failure
// does not fail the request: the announcement is tried again in the
// background, six times over a minute, then logged (the gateway and the
// services would let the tokens it revokes live until they expire).
func (s *Service) revoke(ctx context.Context, r authn.Revocation) {
	r.Schema, r.At = authn.SchemaRevoked, time.Now().UTC()
	err := s.Events.Revoked(ctx, r)
	if err == nil {
		return
	}
	s.Log.WarnContext(ctx, "publish revocation, will retry", "kind", r.Kind, "id", r.ID, "err", err)
	queued := s.Later.do(func(ctx context.Context) {
		delay := cmp.Or(s.retryBase, time.Second)
		for range 6 {
			select {
			case <-ctx.Done():
				return
			case <-time.After(delay):
			}
			if err = s.Events.Revoked(ctx, r); err == nil {
				return
			}
			delay *= 2
		}
		s.Log.ErrorContext(ctx, "publish revocation", "kind", r.Kind, "id", r.ID, "err", err)
	})
	if !queued {
		s.Log.ErrorContext(ctx, "publish revocation: no room to retry", "kind", r.Kind, "id", r.ID, "err", err)
	}
}

var errNotFound = apierr.New(apierr.NotFound, "not_found", "No such resource")

func invalid(code, message string) *apierr.Error { return apierr.New(apierr.Invalid, code, message) }
