package app

import (
	"context"
	"encoding/hex"
	"errors"
	"net/mail"
	"strconv"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/google/uuid"
	"github.com/ihr-go/ihr/pkg/apierr"
	"github.com/ihr-go/ihr/pkg/authn"
	"github.com/ihr-go/ihr/pkg/passwords"
)

// ConfirmTTL is how long a registration waits for its confirmation.
const ConfirmTTL = confirmTTL

// How long mailed codes are valid.
const (
	confirmTTL = 24 * time.Hour
	resetTTL   = time.Hour
	emailTTL   = 24 * time.Hour
)

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// hours says d, a whole number of hours, in words.
func hours(d time.Duration) string {
	if n := int64(d / time.Hour); n != 1 {
		return itoa(n) + " hours"
	}
	return "an hour"
}

var (
	errCredentials  = apierr.New(apierr.Unauthenticated, "invalid_credentials", "Wrong e-mail address or password")
	errInvalidGrant = apierr.New(apierr.Unauthenticated, "invalid_grant", "The refresh token is unknown, expired, revoked or already used")
	errCode         = apierr.New(apierr.Invalid, "invalid_code", "The code is unknown, expired or already used")
	errPassword     = apierr.New(apierr.Forbidden, "wrong_password", "The password is wrong")
)

// address checks and normalises an e-mail address: a bare address, at
// most 254 bytes, without spaces around.
func address(raw string) (string, error) {
	a := strings.TrimSpace(raw)
	parsed, err := mail.ParseAddress(a)
	if err != nil || parsed.Address != a || len(a) > 254 || strings.ContainsAny(a, "\r\n") {
		return "", invalid("invalid_email", "Not an e-mail address: give a bare address such as name@example.org")
	}
	return a, nil
}

func weak(err error) *apierr.Error { return invalid("weak_password", err.Error()) }

// Register creates a pending account and mails its confirmation code. It
// answers the same whether the address was free or not, so that nobody
// learns which addresses have accounts; the owner of a taken address is
// told by mail instead.
func (s *Service) Register(ctx context.Context, a Actor, email, password string) error {
	email, err := address(email)
	if err != nil {
		return err
	}
	if err := passwords.Check(password); err != nil {
		return weak(err)
	}
	h, err := s.hash(ctx, password)
	if err != nil {
		return err
	}
	u, err := s.Store.CreateUser(ctx, email, h, authn.User, Pending)
	if errors.Is(err, ErrExists) {
		ok, err := s.Store.MailAllowed(ctx, email, "register_taken", s.Config.MailEvery)
		s.audit(ctx, a, "register_taken", email, map[string]any{"mailed": ok})
		if err != nil || !ok {
			return err
		}
		return s.Mail.Send(ctx, Mail{ID: "taken:" + secret(), Kind: "register_taken", To: email, Subject: "Your IHR account",
			Text: "Someone, perhaps you, tried to create an IHR account with this address, which already has one.\n" +
				"If you forgot its password, you can reset it.\n\nIf it was not you, there is nothing to do.\n"})
	}
	if err != nil {
		return err
	}
	s.audit(ctx, a, "register", u.Subject(), nil)
	return s.mailCode(ctx, u, ConfirmCode, email, "", confirmTTL)
}

// mailCode stores a code for u and mails it to to.
func (s *Service) mailCode(ctx context.Context, u User, purpose, to, newEmail string, ttl time.Duration) error {
	code := secret()
	if err := s.Store.AddCode(ctx, digest(code), Code{UserID: u.ID, Purpose: purpose, NewEmail: newEmail}, time.Now().Add(ttl)); err != nil {
		return err
	}
	var subject, page, what string
	switch purpose {
	case ConfirmCode:
		subject, page, what = "Confirm your IHR account", "confirm", "To confirm your IHR account"
	case ResetCode:
		subject, page, what = "Reset your IHR password", "reset-password", "To choose a new password for your IHR account"
	default:
		subject, page, what = "Confirm your new e-mail address", "confirm-email", "To use this address for your IHR account"
	}
	text := what + ", open this link within " + hours(ttl) + ":\n\n" + s.Config.LinkBase + "/" + page + "?code=" + code +
		"\n\nor give this code: " + code + "\n\nIf you did not ask for it, ignore this message.\n"
	// The id names the code without giving it away (it is logged and sent in headers).
	return s.Mail.Send(ctx, Mail{ID: purpose + ":" + hex.EncodeToString(digest(code)[:12]), Kind: purpose, To: to, Subject: subject, Text: text})
}

// Confirm activates the account of a confirmation code.
func (s *Service) Confirm(ctx context.Context, a Actor, code string) (User, error) {
	c, err := s.Store.UseCode(ctx, digest(code), ConfirmCode)
	if errors.Is(err, ErrNotFound) {
		return User{}, errCode
	}
	if err != nil {
		return User{}, err
	}
	u, err := s.Store.UserByID(ctx, c.UserID)
	if err != nil {
		return User{}, err
	}
	// A disabled account stays so, whatever code it still has.
	if u.Status == Disabled {
		return User{}, apierr.New(apierr.Forbidden, "account_disabled", "This account is disabled")
	}
	active := Active
	if u, err = s.Store.UpdateUser(ctx, c.UserID, UserChange{Status: &active}); err != nil {
		return User{}, err
	}
	s.audit(ctx, a, "confirm", u.Subject(), nil)
	return u, nil
}

// Login checks an e-mail address and password and opens a login. Unknown
// addresses cost the same time as wrong passwords and get the same answer;
// failures in a row lock the address for a while, known or not.
func (s *Service) Login(ctx context.Context, a Actor, email, password string) (Tokens, error) {
	u, err := s.checkPassword(ctx, a, email, password)
	if err != nil {
		return Tokens{}, err
	}
	return s.issue(ctx, u, uuid.NewString())
}

// checkPassword is the password part of a login: the active account of
// email, once its password matched (and was re-hashed if it had to be).
func (s *Service) checkPassword(ctx context.Context, a Actor, email, password string) (User, error) {
	email = strings.TrimSpace(email)
	if email == "" || len(email) > 254 || len(password) > passwords.MaxLength {
		return User{}, errCredentials
	}
	u, err := s.Store.UserByEmail(ctx, email)
	known := err == nil
	if err != nil && !errors.Is(err, ErrNotFound) {
		return User{}, err
	}
	ok, rehash, err := s.attempt(ctx, a, email, u.PasswordHash, known, password)
	if err != nil {
		return User{}, err
	}
	if !ok {
		return User{}, errCredentials
	}
	switch u.Status {
	case Pending:
		return User{}, apierr.New(apierr.Forbidden, "account_not_confirmed", "Confirm the account first: the link was mailed at registration")
	case Disabled:
		return User{}, apierr.New(apierr.Forbidden, "account_disabled", "This account is disabled")
	}
	change := UserChange{LoggedIn: true}
	if rehash {
		// Busy: the next login re-hashes it.
		if h, err := s.Passwords.Hash(ctx, password); err == nil {
			change.PasswordHash = &h
		}
	}
	if u, err = s.Store.UpdateUser(ctx, u.ID, change); err != nil {
		return User{}, err
	}
	s.audit(ctx, a, "login", u.Subject(), map[string]any{"rehashed": change.PasswordHash != nil})
	return u, nil
}

// attempt checks password against hash, the password of the account of
// email (known false: there is none, and the time of a failure is spent),
// as one attempt of the lockout: counted before it is checked, so that
// parallel guesses cannot outrun the lock, and forgotten when it matched.
func (s *Service) attempt(ctx context.Context, a Actor, email, hash string, known bool, password string) (ok, rehash bool, err error) {
	until, err := s.Store.LoginAttempt(ctx, email, s.Config.LockAfter, s.Config.LockFor, s.Config.LockMax)
	if err != nil {
		return false, false, err
	}
	if !until.IsZero() {
		return false, false, locked(time.Until(until))
	}
	if known {
		ok, rehash, err = s.Passwords.Verify(ctx, hash, password)
	} else {
		err = s.Passwords.Waste(ctx, password)
	}
	if err != nil {
		return false, false, busy(err)
	}
	if !ok {
		s.audit(ctx, a, "login_failed", strings.ToLower(email), nil)
		return false, false, nil
	}
	return true, rehash, s.Store.LoginSucceeded(ctx, email)
}

// busy is the error of a password hash that could not be computed: no
// slot (passwords.ErrBusy) answers 503 at once, to try again shortly.
func busy(err error) error {
	if errors.Is(err, passwords.ErrBusy) {
		return apierr.Wrap(apierr.Unavailable, "busy", "Too many password checks at once: try again in a second", err).With("retry_after", 1)
	}
	return err
}

// hash hashes a new password.
func (s *Service) hash(ctx context.Context, password string) (string, error) {
	h, err := s.Passwords.Hash(ctx, password)
	return h, busy(err)
}

// checkCurrent checks the password of u's owner, asked again before a
// sensitive change, as a login attempt: failures count towards the lockout.
func (s *Service) checkCurrent(ctx context.Context, a Actor, u User, password string) error {
	ok, _, err := s.attempt(ctx, a, u.Email, u.PasswordHash, true, password)
	if err == nil && !ok {
		err = errPassword
	}
	return err
}

func locked(wait time.Duration) *apierr.Error {
	secs := int(max(wait, 0).Seconds()) + 1
	return apierr.New(apierr.RateLimited, "too_many_attempts", "Too many failed logins for this address: try again in "+strconv.Itoa(secs)+" s").
		With("retry_after", secs)
}

// issue opens login family for u: an access token and a first refresh token.
func (s *Service) issue(ctx context.Context, u User, family string) (Tokens, error) {
	refresh := secret()
	if err := s.Store.AddRefresh(ctx, digest(refresh), family, u.ID, time.Now().Add(s.Config.RefreshTTL)); err != nil {
		return Tokens{}, err
	}
	return s.tokens(u, family, refresh)
}

// tokens signs an access token for u in login family, given with refresh.
func (s *Service) tokens(u User, family, refresh string) (Tokens, error) {
	access, err := s.sign(grantee{subject: u.Subject(), role: u.Role, session: family, version: u.TokenVersion})
	if err != nil {
		return Tokens{}, err
	}
	return Tokens{AccessToken: access, TokenType: "Bearer", ExpiresIn: int(s.Config.AccessTTL.Seconds()), RefreshToken: refresh}, nil
}

// grantee is whom an access token is for.
type grantee struct {
	subject  string
	role     authn.Role
	scopes   []authn.Permission
	datasets []string
	session  string
	version  int
	owner    string
}

// sign signs an access token.
func (s *Service) sign(g grantee) (string, error) {
	now := time.Now()
	return s.Signer.Sign(&authn.Claims{
		RegisteredClaims: jwt.RegisteredClaims{Issuer: s.Config.Issuer, Subject: g.subject, Audience: jwt.ClaimStrings{authn.Audience},
			ExpiresAt: jwt.NewNumericDate(now.Add(s.Config.AccessTTL)), NotBefore: jwt.NewNumericDate(now),
			IssuedAt: jwt.NewNumericDate(now), ID: secret()[:22]},
		Role: g.role, Scope: authn.FormatScope(g.scopes), Datasets: g.datasets, Session: g.session, Version: g.version, Owner: g.owner,
	})
}

// Refresh spends a refresh token for new tokens of the same login. A token
// spent twice was stolen or replayed: the whole login is revoked, the
// token its first use gave included.
func (s *Service) Refresh(ctx context.Context, a Actor, token string) (Tokens, error) {
	next := secret()
	rt, err := s.Store.RotateRefresh(ctx, digest(token), digest(next), time.Now().Add(s.Config.RefreshTTL))
	if errors.Is(err, ErrNotFound) {
		return Tokens{}, errInvalidGrant
	}
	if err != nil {
		return Tokens{}, err
	}
	if rt.Used && !rt.Revoked {
		if err := s.Store.RevokeFamily(ctx, rt.Family); err != nil {
			return Tokens{}, err
		}
		s.revoke(ctx, authn.Revocation{Kind: "session", ID: rt.Family})
		s.audit(ctx, a, "refresh_replayed", "user:"+itoa(rt.UserID), map[string]any{"session": rt.Family})
		return Tokens{}, errInvalidGrant
	}
	if rt.Used || rt.Revoked || time.Now().After(rt.ExpiresAt) {
		return Tokens{}, errInvalidGrant
	}
	u, err := s.Store.UserByID(ctx, rt.UserID)
	if errors.Is(err, ErrNotFound) || err == nil && u.Status != Active {
		return Tokens{}, errInvalidGrant
	}
	if err != nil {
		return Tokens{}, err
	}
	return s.tokens(u, rt.Family, next)
}

// Logout ends the login of the caller's access token.
func (s *Service) Logout(ctx context.Context, a Actor) error {
	if a.Principal.Session == "" {
		return invalid("no_session", "This credential is not a login (an API key or a client's token): revoke it instead")
	}
	if err := s.Store.RevokeFamily(ctx, a.Principal.Session); err != nil {
		return err
	}
	s.revoke(ctx, authn.Revocation{Kind: "session", ID: a.Principal.Session})
	s.audit(ctx, a, "logout", a.Principal.Subject, nil)
	return nil
}

// ForgotPassword mails a reset code to the account of email, if there is
// one. The answer is the same either way, and so is its time: the account
// is looked up and the code mailed after the answer.
func (s *Service) ForgotPassword(ctx context.Context, a Actor, email string) error {
	email, err := address(email)
	if err != nil {
		return err
	}
	queued := s.Later.do(func(ctx context.Context) {
		if err := s.mailReset(ctx, a, email); err != nil {
			s.Log.WarnContext(ctx, "mail a password reset", "err", err)
		}
	})
	if !queued {
		return apierr.New(apierr.Unavailable, "busy", "Too many requests at once: try again in a second").With("retry_after", 1)
	}
	return nil
}

// mailReset mails a reset code to the account of email, at most once a
// Config.MailEvery.
func (s *Service) mailReset(ctx context.Context, a Actor, email string) error {
	u, err := s.Store.UserByEmail(ctx, email)
	if errors.Is(err, ErrNotFound) || err == nil && u.Status == Disabled {
		s.audit(ctx, a, "reset_unknown", strings.ToLower(email), nil)
		return nil
	}
	if err != nil {
		return err
	}
	ok, err := s.Store.MailAllowed(ctx, u.Email, ResetCode, s.Config.MailEvery)
	s.audit(ctx, a, "reset_asked", u.Subject(), map[string]any{"mailed": ok})
	if err != nil || !ok {
		return err
	}
	return s.mailCode(ctx, u, ResetCode, u.Email, "", resetTTL)
}

// ResetPassword sets a new password with a reset code; every login of the
// account ends. It confirms a pending account too: the code came by mail.
func (s *Service) ResetPassword(ctx context.Context, a Actor, code, password string) error {
	if err := passwords.Check(password); err != nil {
		return weak(err)
	}
	c, err := s.Store.UseCode(ctx, digest(code), ResetCode)
	if errors.Is(err, ErrNotFound) {
		return errCode
	}
	if err != nil {
		return err
	}
	h, err := s.hash(ctx, password)
	if err != nil {
		return err
	}
	change := UserChange{PasswordHash: &h, BumpVersion: true}
	if u, err := s.Store.UserByID(ctx, c.UserID); err == nil && u.Status == Pending {
		active := Active
		change.Status = &active
	}
	u, err := s.Store.UpdateUser(ctx, c.UserID, change)
	if err != nil {
		return err
	}
	if err := s.endLogins(ctx, u, ""); err != nil {
		return err
	}
	// Whoever had the account may have made keys and asked for codes:
	// they end with it.
	if err := s.revokeKeys(ctx, u, true); err != nil {
		return err
	}
	if err := s.Store.DropCodes(ctx, u.ID, ResetCode, EmailCode); err != nil {
		return err
	}
	s.audit(ctx, a, "password_reset", u.Subject(), nil)
	return s.Store.LoginSucceeded(ctx, u.Email) // a locked address opens again
}

// endLogins revokes the logins of u but except, and its access tokens
// issued before its token version moved.
func (s *Service) endLogins(ctx context.Context, u User, except string) error {
	families, err := s.Store.RevokeFamilies(ctx, u.ID, except)
	if err != nil {
		return err
	}
	for _, f := range families {
		s.revoke(ctx, authn.Revocation{Kind: "session", ID: f})
	}
	s.revoke(ctx, authn.Revocation{Kind: "user", ID: itoa(u.ID), Version: u.TokenVersion})
	return nil
}

// me returns the caller's account.
func (s *Service) me(ctx context.Context, a Actor) (User, error) {
	kind, id, _ := strings.Cut(a.Principal.Subject, ":")
	n, err := strconv.ParseInt(id, 10, 64)
	if kind != "user" || err != nil {
		return User{}, apierr.New(apierr.Forbidden, "not_a_user", "This credential acts for no account")
	}
	u, err := s.Store.UserByID(ctx, n)
	if errors.Is(err, ErrNotFound) {
		return User{}, apierr.New(apierr.Unauthenticated, "invalid_token", "The account of this credential is gone")
	}
	return u, err
}

// Profile is an account as its owner sees it.
type Profile struct {
	User
	Monitored []Monitored `json:"monitored_asns"`
}

// Me returns the caller's profile.
func (s *Service) Me(ctx context.Context, a Actor) (Profile, error) {
	u, err := s.me(ctx, a)
	if err != nil {
		return Profile{}, err
	}
	m, err := s.Store.Monitored(ctx, u.ID)
	return Profile{User: u, Monitored: m}, err
}

// ChangePassword sets a new password; the caller's other logins end, and
// this one gets new tokens (those issued before are revoked too).
func (s *Service) ChangePassword(ctx context.Context, a Actor, current, password string) (Tokens, error) {
	u, err := s.me(ctx, a)
	if err != nil {
		return Tokens{}, err
	}
	if err := passwords.Check(password); err != nil {
		return Tokens{}, weak(err)
	}
	if err := s.checkCurrent(ctx, a, u, current); err != nil {
		return Tokens{}, err
	}
	h, err := s.hash(ctx, password)
	if err != nil {
		return Tokens{}, err
	}
	if u, err = s.Store.UpdateUser(ctx, u.ID, UserChange{PasswordHash: &h, BumpVersion: true}); err != nil {
		return Tokens{}, err
	}
	session := a.Principal.Session
	if err := s.endLogins(ctx, u, session); err != nil {
		return Tokens{}, err
	}
	if err := s.Store.DropCodes(ctx, u.ID, ResetCode, EmailCode); err != nil {
		return Tokens{}, err
	}
	s.audit(ctx, a, "password_changed", u.Subject(), nil)
	if session == "" {
		session = uuid.NewString()
	}
	return s.issue(ctx, u, session)
}

// RequestEmailChange mails a confirmation code to the new address.
func (s *Service) RequestEmailChange(ctx context.Context, a Actor, password, email string) error {
	u, err := s.me(ctx, a)
	if err != nil {
		return err
	}
	email, err = address(email)
	if err != nil {
		return err
	}
	if err := s.checkCurrent(ctx, a, u, password); err != nil {
		return err
	}
	if strings.EqualFold(email, u.Email) {
		return invalid("same_email", "This is already the account's address")
	}
	ok, err := s.Store.MailAllowed(ctx, email, EmailCode, s.Config.MailEvery)
	if err != nil {
		return err
	}
	if !ok {
		secs := int(s.Config.MailEvery.Seconds())
		return apierr.New(apierr.RateLimited, "mail_throttled", "A confirmation went to this address a short while ago: use it, or ask again in "+strconv.Itoa(secs)+" s").
			With("retry_after", secs)
	}
	s.audit(ctx, a, "email_change_asked", u.Subject(), nil)
	return s.mailCode(ctx, u, EmailCode, email, email, emailTTL)
}

// ConfirmEmail switches an account to the address its code was mailed to.
func (s *Service) ConfirmEmail(ctx context.Context, a Actor, code string) (User, error) {
	c, err := s.Store.UseCode(ctx, digest(code), EmailCode)
	if errors.Is(err, ErrNotFound) {
		return User{}, errCode
	}
	if err != nil {
		return User{}, err
	}
	old, err := s.Store.UserByID(ctx, c.UserID)
	if err != nil {
		return User{}, err
	}
	u, err := s.Store.UpdateUser(ctx, c.UserID, UserChange{Email: &c.NewEmail})
	if errors.Is(err, ErrExists) {
		return User{}, apierr.New(apierr.Conflict, "email_taken", "Another account uses this address now")
	}
	if err != nil {
		return User{}, err
	}
	// Reset codes went to the old address: they no longer name the owner.
	if err := s.Store.DropCodes(ctx, u.ID, ResetCode); err != nil {
		return User{}, err
	}
	s.audit(ctx, a, "email_changed", u.Subject(), nil)
	// The old address is told, in case the change was not its owner's; the
	// change is made, whether the notice could be queued or not.
	if err := s.Mail.Send(ctx, Mail{ID: "email_changed:" + hex.EncodeToString(digest(code)[:12]), Kind: "email_changed", To: old.Email,
		Subject: "The address of your IHR account changed",
		Text: "The address of your IHR account is now " + u.Email + ".\n\n" +
			"If you did not change it, someone else may hold your account: tell the IHR team at once.\n"}); err != nil {
		s.Log.WarnContext(ctx, "tell the old address of a change", "user", u.ID, "err", err)
	}
	return u, nil
}

// DeleteAccount deletes the caller's account, its keys and logins.
func (s *Service) DeleteAccount(ctx context.Context, a Actor, password string) error {
	u, err := s.me(ctx, a)
	if err != nil {
		return err
	}
	if err := s.checkCurrent(ctx, a, u, password); err != nil {
		return err
	}
	keys, err := s.Store.APIKeys(ctx, u.ID)
	if err != nil {
		return err
	}
	families, err := s.Store.RevokeFamilies(ctx, u.ID, "")
	if err != nil {
		return err
	}
	if err := s.Store.DeleteUser(ctx, u.ID); err != nil {
		return err
	}
	for _, f := range families {
		s.revoke(ctx, authn.Revocation{Kind: "session", ID: f})
	}
	for _, k := range keys {
		s.revoke(ctx, authn.Revocation{Kind: "key", ID: k.ID})
	}
	s.revoke(ctx, authn.Revocation{Kind: "user", ID: itoa(u.ID), Version: u.TokenVersion + 1})
	s.audit(ctx, a, "account_deleted", u.Subject(), nil)
	return nil
}

// Notify levels of monitored networks, as the legacy API had them.
var notifyLevels = map[int]bool{0: true, 5: true, 10: true}

// maxMonitored bounds the networks one account monitors.
const maxMonitored = 1000

// SetMonitored replaces the networks the caller monitors.
func (s *Service) SetMonitored(ctx context.Context, a Actor, set []Monitored) ([]Monitored, error) {
	u, err := s.me(ctx, a)
	if err != nil {
		return nil, err
	}
	if len(set) > maxMonitored {
		return nil, invalid("too_many", "At most "+strconv.Itoa(maxMonitored)+" networks")
	}
	seen := map[int64]bool{}
	for _, m := range set {
		switch {
		case m.ASN < 0 || m.ASN > 1<<32-1:
			return nil, invalid("invalid_asn", "Not an AS number: "+itoa(m.ASN))
		case !notifyLevels[m.NotifyLevel]:
			return nil, invalid("invalid_notify_level", "notify_level is 0 (low), 5 (moderate) or 10 (high)")
		case seen[m.ASN]:
			return nil, invalid("duplicate_asn", "AS"+itoa(m.ASN)+" is listed twice")
		}
		seen[m.ASN] = true
	}
	err = s.Store.SetMonitored(ctx, u.ID, set)
	if errors.Is(err, ErrUnknownASN) {
		return nil, invalid("unknown_asn", err.Error())
	}
	if err != nil {
		return nil, err
	}
	s.audit(ctx, a, "monitored_set", u.Subject(), map[string]any{"count": len(set)})
	return s.Store.Monitored(ctx, u.ID)
}
