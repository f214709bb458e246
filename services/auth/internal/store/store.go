// Package store keeps the auth service's state in PostgreSQL (the auth_*
// tables of migration 0012): the SQL of package app's Store and of
// package signing's.
package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/ihr-go/ihr/pkg/authn"
	"github.com/ihr-go/ihr/services/auth/internal/app"
	"github.com/ihr-go/ihr/services/auth/internal/signing"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Postgres is the store.
type Postgres struct{ Pool *pgxpool.Pool }

var (
	_ app.Store     = (*Postgres)(nil)
	_ signing.Store = (*Postgres)(nil)
)

// notFound turns "no rows" into app.ErrNotFound.
func notFound(err error) error {
	if errors.Is(err, pgx.ErrNoRows) {
		return app.ErrNotFound
	}
	return err
}

func isCode(err error, code string) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && pe.Code == code
}

const userColumns = `id, email, password_hash, role, status, created_at, confirmed_at, last_login, token_version, legacy_id`

func scanUser(row pgx.Row) (app.User, error) {
	var u app.User
	err := row.Scan(&u.ID, &u.Email, &u.PasswordHash, &u.Role, &u.Status, &u.CreatedAt, &u.ConfirmedAt, &u.LastLogin, &u.TokenVersion, &u.LegacyID)
	return u, notFound(err)
}

// CreateUser adds an account.
func (p *Postgres) CreateUser(ctx context.Context, email, hash string, role authn.Role, status string) (app.User, error) {
	u, err := scanUser(p.Pool.QueryRow(ctx, `INSERT INTO auth_users (email, password_hash, role, status) VALUES ($1, $2, $3, $4)
		RETURNING `+userColumns, email, hash, role, status))
	if isCode(err, "23505") {
		return app.User{}, app.ErrExists
	}
	return u, err
}

// UserByEmail finds an account by address, whatever its case.
func (p *Postgres) UserByEmail(ctx context.Context, email string) (app.User, error) {
	return scanUser(p.Pool.QueryRow(ctx, `SELECT `+userColumns+` FROM auth_users WHERE lower(email) = lower($1)`, email))
}

// UserByID finds an account.
func (p *Postgres) UserByID(ctx context.Context, id int64) (app.User, error) {
	return scanUser(p.Pool.QueryRow(ctx, `SELECT `+userColumns+` FROM auth_users WHERE id = $1`, id))
}

// ListUsers lists accounts by id.
func (p *Postgres) ListUsers(ctx context.Context, f app.UserFilter) ([]app.User, error) {
	rows, err := p.Pool.Query(ctx, `SELECT `+userColumns+` FROM auth_users
		WHERE id > $1 AND ($2 = '' OR role = $2) AND ($3 = '' OR status = $3) AND ($4 = '' OR strpos(lower(email), lower($4)) > 0)
		ORDER BY id LIMIT $5`, f.After, string(f.Role), f.Status, f.Email, f.Limit)
	if err != nil {
		return nil, err
	}
	users := []app.User{}
	for rows.Next() {
		u, err := scanUser(rows)
		if err != nil {
			return nil, err
		}
		users = append(users, u)
	}
	return users, rows.Err()
}

// UpdateUser changes an account.
func (p *Postgres) UpdateUser(ctx context.Context, id int64, c app.UserChange) (app.User, error) {
	bump := 0
	if c.BumpVersion {
		bump = 1
	}
	u, err := scanUser(p.Pool.QueryRow(ctx, `UPDATE auth_users SET
			email = coalesce($2, email),
			password_hash = coalesce($3, password_hash),
			role = coalesce($4, role),
			status = coalesce($5, status),
			confirmed_at = CASE WHEN $5 = 'active' THEN coalesce(confirmed_at, now()) ELSE confirmed_at END,
			token_version = token_version + $6,
			last_login = CASE WHEN $7 THEN now() ELSE last_login END
		WHERE id = $1 RETURNING `+userColumns, id, c.Email, c.PasswordHash, (*string)(c.Role), c.Status, bump, c.LoggedIn))
	if isCode(err, "23505") {
		return app.User{}, app.ErrExists
	}
	return u, err
}

// DeleteUser deletes an account and everything of it.
func (p *Postgres) DeleteUser(ctx context.Context, id int64) error {
	_, err := p.Pool.Exec(ctx, `DELETE FROM auth_users WHERE id = $1`, id)
	return err
}

// AddCode stores a mailed code.
func (p *Postgres) AddCode(ctx context.Context, hash []byte, c app.Code, expires time.Time) error {
	_, err := p.Pool.Exec(ctx, `INSERT INTO auth_codes (hash, user_id, purpose, new_email, expires_at) VALUES ($1, $2, $3, nullif($4, ''), $5)`,
		hash, c.UserID, c.Purpose, c.NewEmail, expires)
	return err
}

// UseCode spends a code.
func (p *Postgres) UseCode(ctx context.Context, hash []byte, purpose string) (app.Code, error) {
	c := app.Code{Purpose: purpose}
	var newEmail *string
	err := p.Pool.QueryRow(ctx, `UPDATE auth_codes SET used_at = now()
		WHERE hash = $1 AND purpose = $2 AND used_at IS NULL AND expires_at > now() RETURNING user_id, new_email`, hash, purpose).
		Scan(&c.UserID, &newEmail)
	if newEmail != nil {
		c.NewEmail = *newEmail
	}
	return c, notFound(err)
}

// DropCodes spends the unused codes of a user for purposes.
func (p *Postgres) DropCodes(ctx context.Context, user int64, purposes ...string) error {
	_, err := p.Pool.Exec(ctx, `UPDATE auth_codes SET used_at = now() WHERE user_id = $1 AND purpose = ANY($2) AND used_at IS NULL`, user, purposes)
	return err
}

// MailAllowed records a mail of kind to email unless one went less than
// every ago, atomically: it reports whether this one may go.
func (p *Postgres) MailAllowed(ctx context.Context, email, kind string, every time.Duration) (bool, error) {
	err := p.Pool.QueryRow(ctx, `INSERT INTO auth_mail_throttle AS t (email, kind, sent_at) VALUES (lower($1), $2, now())
		ON CONFLICT (email, kind) DO UPDATE SET sent_at = now() WHERE t.sent_at <= now() - $3::float8 * interval '1 second'
		RETURNING true`, email, kind, every.Seconds()).Scan(new(bool))
	if errors.Is(err, pgx.ErrNoRows) {
		return false, nil
	}
	return err == nil, err
}

// LoginAttempt counts an attempt to give the password of email as a
// failure, before the password is checked, in one statement: parallel
// guesses each count, and none is checked once the address is locked. From
// the after-th failure in a row, the address is locked for lockFor,
// doubling each time, up to lockMax. It returns, when this attempt is
// refused, until when (zero: check the password).
func (p *Postgres) LoginAttempt(ctx context.Context, email string, after int, lockFor, lockMax time.Duration) (time.Time, error) {
	var failures int
	err := p.Pool.QueryRow(ctx, `INSERT INTO auth_login_failures AS f (email, failures, locked_until, updated_at)
		VALUES (lower($1), 1, CASE WHEN $2::int <= 1 THEN now() + least($3::float8, $4::float8) * interval '1 second' END, now())
		ON CONFLICT (email) DO UPDATE SET failures = f.failures + 1, updated_at = now(),
			locked_until = CASE WHEN f.failures + 1 >= $2::int
				THEN now() + least($3::float8 * power(2, f.failures + 1 - $2::int), $4::float8) * interval '1 second' END
		WHERE f.locked_until IS NULL OR f.locked_until <= now()
		RETURNING failures`, email, after, lockFor.Seconds(), lockMax.Seconds()).Scan(&failures)
	if !errors.Is(err, pgx.ErrNoRows) {
		return time.Time{}, err
	}
	var until *time.Time // locked: the row was left as it was
	err = p.Pool.QueryRow(ctx, `SELECT locked_until FROM auth_login_failures WHERE email = lower($1)`, email).Scan(&until)
	if err != nil && !errors.Is(err, pgx.ErrNoRows) {
		return time.Time{}, err
	}
	if until == nil || until.Before(time.Now()) {
		return time.Now().Add(time.Second), nil // unlocked or forgotten meanwhile: try again
	}
	return *until, nil
}

// LoginSucceeded forgets the failures of email.
func (p *Postgres) LoginSucceeded(ctx context.Context, email string) error {
	_, err := p.Pool.Exec(ctx, `DELETE FROM auth_login_failures WHERE email = lower($1)`, email)
	return err
}

// AddRefresh stores a refresh token.
func (p *Postgres) AddRefresh(ctx context.Context, hash []byte, family string, user int64, expires time.Time) error {
	_, err := p.Pool.Exec(ctx, `INSERT INTO auth_refresh_tokens (hash, family, user_id, expires_at) VALUES ($1, $2, $3, $4)`, hash, family, user, expires)
	return err
}

// refreshLock is the class of the advisory locks that serialise what
// happens to one login (refresh token family): a rotation, a revocation.
const refreshLock = 0x7e_f5e5

// lockFamily takes the lock of a login until tx ends.
func lockFamily(ctx context.Context, tx pgx.Tx, family string) error {
	_, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1, hashtext($2))`, refreshLock, family)
	return err
}

// refreshState reads a refresh token as it is; Revoked tells that it or
// any token of its login was revoked.
const refreshState = `SELECT t.family::text, t.user_id, t.expires_at, t.used_at IS NOT NULL,
		EXISTS (SELECT FROM auth_refresh_tokens f WHERE f.family = t.family AND f.revoked_at IS NOT NULL)
	FROM auth_refresh_tokens t WHERE t.hash = $1`

func scanRefresh(row pgx.Row) (app.RefreshToken, error) {
	var t app.RefreshToken
	err := row.Scan(&t.Family, &t.UserID, &t.ExpiresAt, &t.Used, &t.Revoked)
	return t, notFound(err)
}

// RotateRefresh spends a refresh token and stores its successor in the same
// login, in one transaction under the login's lock: of concurrent uses one
// spends it and the others find it spent, and no successor is stored in a
// login revoked before, or revoked after without it.
func (p *Postgres) RotateRefresh(ctx context.Context, hash, next []byte, expires time.Time) (app.RefreshToken, error) {
	var t app.RefreshToken
	err := pgx.BeginFunc(ctx, p.Pool, func(tx pgx.Tx) error {
		var family string
		if err := tx.QueryRow(ctx, `SELECT family::text FROM auth_refresh_tokens WHERE hash = $1`, hash).Scan(&family); err != nil {
			return notFound(err)
		}
		if err := lockFamily(ctx, tx, family); err != nil {
			return err
		}
		var err error
		if t, err = scanRefresh(tx.QueryRow(ctx, refreshState, hash)); err != nil {
			return err
		}
		if t.Used || t.Revoked || !time.Now().Before(t.ExpiresAt) {
			return nil
		}
		if _, err := tx.Exec(ctx, `UPDATE auth_refresh_tokens SET used_at = now() WHERE hash = $1`, hash); err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `INSERT INTO auth_refresh_tokens (hash, family, user_id, expires_at) VALUES ($1, $2, $3, $4)`, next, t.Family, t.UserID, expires)
		return err
	})
	return t, err
}

// Refresh returns a refresh token's state.
func (p *Postgres) Refresh(ctx context.Context, hash []byte) (app.RefreshToken, error) {
	return scanRefresh(p.Pool.QueryRow(ctx, refreshState, hash))
}

// RevokeFamily revokes a login, under its lock.
func (p *Postgres) RevokeFamily(ctx context.Context, family string) error {
	return pgx.BeginFunc(ctx, p.Pool, func(tx pgx.Tx) error {
		if err := lockFamily(ctx, tx, family); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `UPDATE auth_refresh_tokens SET revoked_at = now() WHERE family = $1 AND revoked_at IS NULL`, family)
		return err
	})
}

// FamilyRevoked reports whether a login was revoked.
func (p *Postgres) FamilyRevoked(ctx context.Context, family string) (bool, error) {
	var revoked bool
	err := p.Pool.QueryRow(ctx, `SELECT EXISTS (SELECT FROM auth_refresh_tokens WHERE family = $1 AND revoked_at IS NOT NULL)`, family).Scan(&revoked)
	return revoked, err
}

// RevokeFamilies revokes a user's logins but except, each under its lock
// (taken in order: two revocations never wait for each other), so that a
// rotation in progress either ends before, its successor revoked too, or
// finds its login revoked.
func (p *Postgres) RevokeFamilies(ctx context.Context, user int64, except string) ([]string, error) {
	var families []string
	err := pgx.BeginFunc(ctx, p.Pool, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, `SELECT DISTINCT family::text FROM auth_refresh_tokens
			WHERE user_id = $1 AND revoked_at IS NULL AND family::text <> $2 AND expires_at > now() ORDER BY 1`, user, except)
		if err != nil {
			return err
		}
		if families, err = pgx.CollectRows(rows, pgx.RowTo[string]); err != nil {
			return err
		}
		for _, f := range families {
			if err := lockFamily(ctx, tx, f); err != nil {
				return err
			}
		}
		_, err = tx.Exec(ctx, `UPDATE auth_refresh_tokens SET revoked_at = now() WHERE family::text = ANY($1) AND revoked_at IS NULL`, families)
		return err
	})
	return families, err
}

const keyColumns = `id, hash, user_id, name, role, scopes, datasets, created_at, expires_at, last_used, revoked_at`

func scanKey(row pgx.Row) (app.APIKey, error) {
	var k app.APIKey
	var scopes []string
	err := row.Scan(&k.ID, &k.Hash, &k.UserID, &k.Name, &k.Role, &scopes, &k.Datasets, &k.CreatedAt, &k.ExpiresAt, &k.LastUsed, &k.RevokedAt)
	k.Scopes = permissions(scopes)
	return k, notFound(err)
}

func permissions(s []string) []authn.Permission {
	out := make([]authn.Permission, len(s))
	for i, p := range s {
		out[i] = authn.Permission(p)
	}
	return out
}

func strs(ps []authn.Permission) []string {
	out := make([]string, len(ps))
	for i, p := range ps {
		out[i] = string(p)
	}
	return out
}

// AddAPIKey stores a key.
func (p *Postgres) AddAPIKey(ctx context.Context, k app.APIKey) error {
	_, err := p.Pool.Exec(ctx, `INSERT INTO auth_api_keys (id, hash, user_id, name, role, scopes, datasets, created_at, expires_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`, k.ID, k.Hash, k.UserID, k.Name, k.Role, strs(k.Scopes), k.Datasets, k.CreatedAt, k.ExpiresAt)
	return err
}

// APIKey finds a key.
func (p *Postgres) APIKey(ctx context.Context, id string) (app.APIKey, error) {
	return scanKey(p.Pool.QueryRow(ctx, `SELECT `+keyColumns+` FROM auth_api_keys WHERE id = $1`, id))
}

// APIKeys lists the keys of a user (0: all).
func (p *Postgres) APIKeys(ctx context.Context, user int64) ([]app.APIKey, error) {
	rows, err := p.Pool.Query(ctx, `SELECT `+keyColumns+` FROM auth_api_keys WHERE $1 = 0 OR user_id = $1 ORDER BY created_at, id`, user)
	if err != nil {
		return nil, err
	}
	keys := []app.APIKey{}
	for rows.Next() {
		k, err := scanKey(rows)
		if err != nil {
			return nil, err
		}
		keys = append(keys, k)
	}
	return keys, rows.Err()
}

// RevokeAPIKey revokes a key.
func (p *Postgres) RevokeAPIKey(ctx context.Context, id string) error {
	_, err := p.Pool.Exec(ctx, `UPDATE auth_api_keys SET revoked_at = coalesce(revoked_at, now()) WHERE id = $1`, id)
	return err
}

// KeyUsed records a key's use, at most once a minute.
func (p *Postgres) KeyUsed(ctx context.Context, id string) error {
	_, err := p.Pool.Exec(ctx, `UPDATE auth_api_keys SET last_used = now()
		WHERE id = $1 AND (last_used IS NULL OR last_used < now() - interval '1 minute')`, id)
	return err
}

const clientColumns = `id, secret_hash, name, role, scopes, datasets, created_by, created_at, revoked_at`

func scanClient(row pgx.Row) (app.Client, error) {
	var c app.Client
	var scopes []string
	err := row.Scan(&c.ID, &c.SecretHash, &c.Name, &c.Role, &scopes, &c.Datasets, &c.CreatedBy, &c.CreatedAt, &c.RevokedAt)
	c.Scopes = permissions(scopes)
	return c, notFound(err)
}

// AddClient stores an OAuth2 client.
func (p *Postgres) AddClient(ctx context.Context, c app.Client) error {
	_, err := p.Pool.Exec(ctx, `INSERT INTO auth_clients (id, secret_hash, name, role, scopes, datasets, created_by, created_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`, c.ID, c.SecretHash, c.Name, c.Role, strs(c.Scopes), c.Datasets, c.CreatedBy, c.CreatedAt)
	return err
}

// Client finds an OAuth2 client.
func (p *Postgres) Client(ctx context.Context, id string) (app.Client, error) {
	return scanClient(p.Pool.QueryRow(ctx, `SELECT `+clientColumns+` FROM auth_clients WHERE id = $1`, id))
}

// Clients lists the OAuth2 clients.
func (p *Postgres) Clients(ctx context.Context) ([]app.Client, error) {
	rows, err := p.Pool.Query(ctx, `SELECT `+clientColumns+` FROM auth_clients ORDER BY created_at, id`)
	if err != nil {
		return nil, err
	}
	clients := []app.Client{}
	for rows.Next() {
		c, err := scanClient(rows)
		if err != nil {
			return nil, err
		}
		clients = append(clients, c)
	}
	return clients, rows.Err()
}

// RevokeClient revokes an OAuth2 client.
func (p *Postgres) RevokeClient(ctx context.Context, id string) error {
	_, err := p.Pool.Exec(ctx, `UPDATE auth_clients SET revoked_at = coalesce(revoked_at, now()) WHERE id = $1`, id)
	return err
}

// Monitored lists the networks a user monitors, with their names.
func (p *Postgres) Monitored(ctx context.Context, user int64) ([]app.Monitored, error) {
	rows, err := p.Pool.Query(ctx, `SELECT m.asn, coalesce(a.name, ''), m.notify_level FROM auth_monitored_asns m
		LEFT JOIN ihr_asn a ON a.number = m.asn WHERE m.user_id = $1 ORDER BY m.asn`, user)
	if err != nil {
		return nil, err
	}
	set := []app.Monitored{}
	for rows.Next() {
		var m app.Monitored
		if err := rows.Scan(&m.ASN, &m.Name, &m.NotifyLevel); err != nil {
			return nil, err
		}
		set = append(set, m)
	}
	return set, rows.Err()
}

// SetMonitored replaces the networks a user monitors, in one transaction.
func (p *Postgres) SetMonitored(ctx context.Context, user int64, set []app.Monitored) error {
	asns := make([]int64, len(set))
	levels := make([]int16, len(set))
	for i, m := range set {
		asns[i], levels[i] = m.ASN, int16(m.NotifyLevel)
	}
	return pgx.BeginFunc(ctx, p.Pool, func(tx pgx.Tx) error {
		var unknown *int64
		if err := tx.QueryRow(ctx, `SELECT min(x) FROM unnest($1::bigint[]) x WHERE NOT EXISTS (SELECT FROM ihr_asn WHERE number = x)`, asns).Scan(&unknown); err != nil {
			return err
		}
		if unknown != nil {
			return fmt.Errorf("%w: AS%d is not a network IHR knows", app.ErrUnknownASN, *unknown)
		}
		if _, err := tx.Exec(ctx, `DELETE FROM auth_monitored_asns WHERE user_id = $1`, user); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `INSERT INTO auth_monitored_asns (user_id, asn, notify_level) SELECT $1, a, l FROM unnest($2::bigint[], $3::smallint[]) AS t(a, l)`,
			user, asns, levels)
		return err
	})
}

// Audit appends to the audit log.
func (p *Postgres) Audit(ctx context.Context, e app.AuditEntry) error {
	detail := e.Detail
	if detail == nil {
		detail = map[string]any{}
	}
	_, err := p.Pool.Exec(ctx, `INSERT INTO auth_audit (actor, action, target, ip, detail) VALUES ($1, $2, nullif($3, ''), nullif($4, ''), $5)`,
		e.Actor, e.Action, e.Target, e.IP, detail)
	return err
}

// SigningKeys lists the signing keys.
func (p *Postgres) SigningKeys(ctx context.Context) ([]signing.Stored, error) {
	rows, err := p.Pool.Query(ctx, `SELECT kid, private_key, sealed, public_key, active_from, retired_at FROM auth_signing_keys ORDER BY active_from`)
	if err != nil {
		return nil, err
	}
	var keys []signing.Stored
	for rows.Next() {
		var k signing.Stored
		if err := rows.Scan(&k.Kid, &k.Private, &k.Sealed, &k.Public, &k.ActiveFrom, &k.RetiredAt); err != nil {
			return nil, err
		}
		keys = append(keys, k)
	}
	return keys, rows.Err()
}

// signingLock serialises key rotations across replicas.
const signingLock = 0x1a7_5e11

// AddSigningKey adds a key and retires those it replaces.
func (p *Postgres) AddSigningKey(ctx context.Context, k signing.Stored, since time.Time, force bool) (bool, error) {
	added := false
	err := pgx.BeginFunc(ctx, p.Pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, signingLock); err != nil {
			return err
		}
		if !force {
			var newer bool
			if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT FROM auth_signing_keys WHERE active_from > $1)`, since).Scan(&newer); err != nil || newer {
				return err
			}
		}
		if _, err := tx.Exec(ctx, `UPDATE auth_signing_keys SET retired_at = $1 WHERE retired_at IS NULL OR retired_at > $1`, k.ActiveFrom); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `INSERT INTO auth_signing_keys (kid, alg, private_key, sealed, public_key, active_from) VALUES ($1, 'EdDSA', $2, $3, $4, $5)`,
			k.Kid, k.Private, k.Sealed, []byte(k.Public), k.ActiveFrom)
		added = err == nil
		return err
	})
	return added, err
}

// DropSigningKeys deletes keys retired before t.
func (p *Postgres) DropSigningKeys(ctx context.Context, before time.Time) error {
	_, err := p.Pool.Exec(ctx, `DELETE FROM auth_signing_keys WHERE retired_at < $1`, before)
	return err
}

// MonitoredAlarms returns the alarms of a bin that concern monitored networks.
func (p *Postgres) MonitoredAlarms(ctx context.Context, dataset string, af int, timebin time.Time) ([]app.Alarm, error) {
	var query string
	switch dataset {
	case "hegemony_alarms":
		// An origin's dependency changed: it concerns the origin and the dependency.
		query = `SELECT u.id, u.email, m.notify_level, m.asn,
				'AS' || a.originasn_id || ' depends differently on AS' || a.asn_id || ' (IPv' || a.af || ')', a.deviation,
				'hegemony_alarms:' || a.af || ':' || extract(epoch FROM a.timebin)::bigint || ':' || a.originasn_id || ':' || a.asn_id
			FROM ihr_hegemony_alarms a
			JOIN auth_monitored_asns m ON m.asn IN (a.originasn_id, a.asn_id)
			JOIN auth_users u ON u.id = m.user_id AND u.status = 'active'
			WHERE a.timebin = $1 AND a.af = $2
			ORDER BY u.id, abs(a.deviation) DESC`
	case "atlas_delay_alarms":
		query = `SELECT u.id, u.email, m.notify_level, m.asn,
				'Network delay from ' || s.type || s.af || s.name || ' to ' || e.type || e.af || e.name, a.deviation,
				'atlas_delay_alarms:' || extract(epoch FROM a.timebin)::bigint || ':' || a.startpoint_id || ':' || a.endpoint_id
			FROM ihr_atlas_delay_alarms a
			JOIN ihr_atlas_location s ON s.id = a.startpoint_id
			JOIN ihr_atlas_location e ON e.id = a.endpoint_id
			JOIN auth_monitored_asns m ON (s.type = 'AS' AND s.name = m.asn::text) OR (e.type = 'AS' AND e.name = m.asn::text)
			JOIN auth_users u ON u.id = m.user_id AND u.status = 'active'
			WHERE a.timebin = $1 AND s.af = $2
			ORDER BY u.id, abs(a.deviation) DESC`
	default:
		return nil, fmt.Errorf("no alarms in dataset %q", dataset)
	}
	rows, err := p.Pool.Query(ctx, query, timebin, af)
	if err != nil {
		return nil, err
	}
	var out []app.Alarm
	for rows.Next() {
		var a app.Alarm
		if err := rows.Scan(&a.UserID, &a.Email, &a.Level, &a.ASN, &a.What, &a.Deviation, &a.ID); err != nil {
			return nil, err
		}
		out = append(out, a)
	}
	return out, rows.Err()
}

// Unalerted returns the alarms of ids not mailed to user yet.
func (p *Postgres) Unalerted(ctx context.Context, user int64, ids []string) ([]string, error) {
	rows, err := p.Pool.Query(ctx, `SELECT DISTINCT id FROM unnest($2::text[]) id
		WHERE NOT EXISTS (SELECT FROM auth_alerts_sent s WHERE s.user_id = $1 AND s.alarm = id) ORDER BY id`, user, ids)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, pgx.RowTo[string])
}

// MarkAlerted records alarms mailed to user.
func (p *Postgres) MarkAlerted(ctx context.Context, user int64, ids []string) error {
	_, err := p.Pool.Exec(ctx, `INSERT INTO auth_alerts_sent (user_id, alarm) SELECT $1, unnest($2::text[]) ON CONFLICT DO NOTHING`, user, ids)
	return err
}

// Retention is how long housekeeping keeps what it may delete.
type Retention struct {
	// Pending is how long an account waits for its confirmation.
	Pending time.Duration
	// Audit is how long the audit log is kept.
	Audit time.Duration
	// Mail is the time between two mails of a kind to an address.
	Mail time.Duration
}

// Housekeep deletes what no longer serves: spent or expired codes,
// refresh tokens expired a day ago, failed logins not seen for a day,
// alert records past the time a bin is re-run, accounts never confirmed,
// the audit log past its retention, mails past their throttle. It returns
// the rows deleted.
func (p *Postgres) Housekeep(ctx context.Context, r Retention) (int64, error) {
	var n int64
	for _, q := range []struct {
		sql  string
		args []any
	}{
		{`DELETE FROM auth_codes WHERE expires_at < now() - interval '1 day'`, nil},
		{`DELETE FROM auth_refresh_tokens WHERE expires_at < now() - interval '1 day'`, nil},
		{`DELETE FROM auth_login_failures WHERE updated_at < now() - interval '1 day' AND (locked_until IS NULL OR locked_until < now())`, nil},
		{`DELETE FROM auth_alerts_sent WHERE sent_at < now() - interval '90 days'`, nil},
		// Registering costs nothing: unconfirmed accounts would pile up and keep their addresses.
		{`DELETE FROM auth_users WHERE status = 'pending' AND confirmed_at IS NULL AND legacy_id IS NULL
			AND created_at < now() - $1::float8 * interval '1 second'`, []any{r.Pending.Seconds()}},
		{`DELETE FROM auth_audit WHERE at < now() - $1::float8 * interval '1 second'`, []any{r.Audit.Seconds()}},
		{`DELETE FROM auth_mail_throttle WHERE sent_at < now() - $1::float8 * interval '1 second'`, []any{r.Mail.Seconds()}},
	} {
		tag, err := p.Pool.Exec(ctx, q.sql, q.args...)
		if err != nil {
			return n, err
		}
		n += tag.RowsAffected()
	}
	return n, nil
}
