package app

import (
	"context"
	"errors"
	"time"

	"github.com/ihr-go/ihr/pkg/authn"
)

// What the store says when a row is not there, or already is.
var (
	ErrNotFound   = errors.New("not found")
	ErrExists     = errors.New("already exists")
	ErrUnknownASN = errors.New("unknown ASN")
)

// Account statuses.
const (
	Pending  = "pending"
	Active   = "active"
	Disabled = "disabled"
)

// User is an account.
type User struct {
	ID           int64      `json:"id"`
	Email        string     `json:"email"`
	PasswordHash string     `json:"-"`
	Role         authn.Role `json:"role"`
	Status       string     `json:"status"`
	CreatedAt    time.Time  `json:"created_at"`
	ConfirmedAt  *time.Time `json:"confirmed_at"`
	LastLogin    *time.Time `json:"last_login"`
	TokenVersion int        `json:"-"`
	LegacyID     *int64     `json:"legacy_id,omitempty"`
}

// Subject names u in tokens and the audit log.
func (u User) Subject() string { return "user:" + itoa(u.ID) }

// UserChange is what UpdateUser changes (nil fields stay).
type UserChange struct {
	Email        *string
	PasswordHash *string
	Role         *authn.Role
	Status       *string
	// BumpVersion revokes the user's access tokens (authn.Revocation).
	BumpVersion bool
	// LoggedIn sets the last login to now.
	LoggedIn bool
}

// UserFilter selects accounts to list.
type UserFilter struct {
	Role   authn.Role
	Status string
	Email  string // a part of the address
	After  int64  // ids above this one
	Limit  int
}

// Code is a mailed code, as kept.
type Code struct {
	UserID   int64
	Purpose  string
	NewEmail string
}

// The purposes of codes, and how long each is valid.
const (
	ConfirmCode = "confirm"
	ResetCode   = "reset"
	EmailCode   = "email"
)

// RefreshToken is a refresh token's state.
type RefreshToken struct {
	Family    string
	UserID    int64
	ExpiresAt time.Time
	// Used tells that it was spent before this use (a replay).
	Used bool
	// Revoked tells that its login was revoked.
	Revoked bool
}

// APIKey is an API key, without its secret.
type APIKey struct {
	ID        string             `json:"id"`
	Hash      []byte             `json:"-"`
	UserID    int64              `json:"user_id"`
	Name      string             `json:"name"`
	Role      authn.Role         `json:"role"`
	Scopes    []authn.Permission `json:"scopes"`
	Datasets  []string           `json:"datasets"`
	CreatedAt time.Time          `json:"created_at"`
	ExpiresAt *time.Time         `json:"expires_at"`
	LastUsed  *time.Time         `json:"last_used"`
	RevokedAt *time.Time         `json:"revoked_at"`
}

// Client is an OAuth2 client, without its secret.
type Client struct {
	ID         string             `json:"client_id"`
	SecretHash []byte             `json:"-"`
	Name       string             `json:"name"`
	Role       authn.Role         `json:"role"`
	Scopes     []authn.Permission `json:"scopes"`
	Datasets   []string           `json:"datasets"`
	CreatedBy  *int64             `json:"created_by"`
	CreatedAt  time.Time          `json:"created_at"`
	RevokedAt  *time.Time         `json:"revoked_at"`
}

// Monitored is a network a user monitors.
type Monitored struct {
	ASN         int64  `json:"asn"`
	Name        string `json:"asn_name"`
	NotifyLevel int    `json:"notify_level"`
}

// AuditEntry is a line of the audit log.
type AuditEntry struct {
	Actor, Action, Target, IP string
	Detail                    map[string]any
}

// Store keeps the auth service's state.
type Store interface {
	// CreateUser returns ErrExists when the address is taken.
	CreateUser(ctx context.Context, email, passwordHash string, role authn.Role, status string) (User, error)
	UserByEmail(ctx context.Context, email string) (User, error)
	UserByID(ctx context.Context, id int64) (User, error)
	ListUsers(ctx context.Context, f UserFilter) ([]User, error)
	// UpdateUser returns ErrExists when a new address is taken.
	UpdateUser(ctx context.Context, id int64, c UserChange) (User, error)
	DeleteUser(ctx context.Context, id int64) error

	AddCode(ctx context.Context, hash []byte, c Code, expires time.Time) error
	// UseCode spends a code of purpose: ErrNotFound when it is unknown,
	// spent or expired.
	UseCode(ctx context.Context, hash []byte, purpose string) (Code, error)
	// DropCodes spends the unused codes of user for purposes.
	DropCodes(ctx context.Context, user int64, purposes ...string) error
	// MailAllowed records a mail of kind to email unless one went less
	// than every ago, atomically: it reports whether this one may go.
	MailAllowed(ctx context.Context, email, kind string, every time.Duration) (bool, error)

	// LoginAttempt counts an attempt to give the password of email as a
	// failure, atomically, before the password is checked; it returns until
	// when attempts are refused when this one is (zero: check it). From
	// after failures in a row the address is locked for lockFor, doubling
	// at each further failure up to lockMax.
	LoginAttempt(ctx context.Context, email string, after int, lockFor, lockMax time.Duration) (time.Time, error)
	// LoginSucceeded forgets the failures of email.
	LoginSucceeded(ctx context.Context, email string) error

	// AddRefresh stores the first refresh token of a new login.
	AddRefresh(ctx context.Context, hash []byte, family string, userID int64, expires time.Time) error
	// RotateRefresh spends a refresh token and, when it could be spent (not
	// spent before, expired, nor its login revoked), stores next in its
	// login, atomically with respect to RevokeFamily and RevokeFamilies: it
	// returns the token as it was (Used, Revoked tell why it was not
	// spent). ErrNotFound when unknown.
	RotateRefresh(ctx context.Context, hash, next []byte, expires time.Time) (RefreshToken, error)
	// Refresh returns a refresh token's state without spending it.
	Refresh(ctx context.Context, hash []byte) (RefreshToken, error)
	RevokeFamily(ctx context.Context, family string) error
	FamilyRevoked(ctx context.Context, family string) (bool, error)
	// RevokeFamilies revokes the user's logins but except, returning them.
	RevokeFamilies(ctx context.Context, userID int64, except string) ([]string, error)

	AddAPIKey(ctx context.Context, k APIKey) error
	APIKey(ctx context.Context, id string) (APIKey, error)
	// APIKeys lists the keys of user (0: every user's).
	APIKeys(ctx context.Context, user int64) ([]APIKey, error)
	RevokeAPIKey(ctx context.Context, id string) error
	// KeyUsed records a use (at most once a minute per key).
	KeyUsed(ctx context.Context, id string) error

	AddClient(ctx context.Context, c Client) error
	Client(ctx context.Context, id string) (Client, error)
	Clients(ctx context.Context) ([]Client, error)
	RevokeClient(ctx context.Context, id string) error

	Monitored(ctx context.Context, user int64) ([]Monitored, error)
	// SetMonitored replaces the user's set; ErrUnknownASN names a network
	// the database does not know.
	SetMonitored(ctx context.Context, user int64, set []Monitored) error

	Audit(ctx context.Context, e AuditEntry) error

	// MonitoredAlarms returns the alarms of a bin of an alarm dataset that
	// concern networks active users monitor, one per user and network.
	MonitoredAlarms(ctx context.Context, dataset string, af int, timebin time.Time) ([]Alarm, error)
	// Unalerted returns the alarms of ids not mailed to user yet.
	Unalerted(ctx context.Context, user int64, ids []string) ([]string, error)
	MarkAlerted(ctx context.Context, user int64, ids []string) error
}
