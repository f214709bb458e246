// Package accounts is what operators do to the auth service's accounts
// straight in the database: make the first admin, change a role when no
// admin can log in, and import the accounts of the legacy Django API.
package accounts

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/ihr-go/ihr/pkg/authn"
	"github.com/ihr-go/ihr/pkg/passwords"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// ErrExists is an address that has an account already.
var ErrExists = errors.New("an account uses this address already")

// ErrNotFound is an address without an account.
var ErrNotFound = errors.New("no account uses this address")

// Create makes an active account; it returns the account id.
func Create(ctx context.Context, db *pgx.Conn, email, password string, role authn.Role) (int64, error) {
	if err := passwords.Check(password); err != nil {
		return 0, err
	}
	if !role.Valid() || role == authn.Anonymous {
		return 0, fmt.Errorf("role %q: user, pipeline or admin", role)
	}
	var id int64
	err := db.QueryRow(ctx, `INSERT INTO auth_users (email, password_hash, role, status, confirmed_at) VALUES ($1, $2, $3, 'active', now())
		RETURNING id`, strings.TrimSpace(email), passwords.Hash(password), role).Scan(&id)
	var pe *pgconn.PgError
	if errors.As(err, &pe) && pe.Code == "23505" {
		return 0, ErrExists
	}
	return id, err
}

// Change sets the role or status of the account of email and raises its
// token version, returning the account id and that version (for the
// revocation to publish).
func Change(ctx context.Context, db *pgx.Conn, email string, role authn.Role, status string) (int64, int, error) {
	if role != "" && (!role.Valid() || role == authn.Anonymous) {
		return 0, 0, fmt.Errorf("role %q: user, pipeline or admin", role)
	}
	if status != "" && status != "active" && status != "disabled" {
		return 0, 0, fmt.Errorf("status %q: active or disabled", status)
	}
	var id int64
	var version int
	err := db.QueryRow(ctx, `UPDATE auth_users SET role = coalesce(nullif($2, ''), role), status = coalesce(nullif($3, ''), status),
		token_version = token_version + 1 WHERE lower(email) = lower($1) RETURNING id, token_version`, email, string(role), status).Scan(&id, &version)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, 0, ErrNotFound
	}
	return id, version, err
}

// Report tells what an import did.
type Report struct {
	Users     int // imported
	Admins    int // of which Django superusers, imported as admins
	Skipped   int // already imported, or their address taken
	Monitored int // monitored networks imported
	Legacy    bool
}

// ImportLegacy copies the accounts of the legacy tables ihr_ihruser and
// ihr_monitoredasn, in one transaction: passwords keep their Django hash
// (the auth service re-hashes each at its first login), superusers become
// admins, inactive accounts pending, notification levels the nearest of 0,
// 5, 10. Accounts imported before (by legacy id) or whose address is taken
// are skipped, so it can run again.
func ImportLegacy(ctx context.Context, db *pgx.Conn, dryRun bool) (Report, error) {
	var r Report
	if err := db.QueryRow(ctx, `SELECT to_regclass('ihr_ihruser') IS NOT NULL AND to_regclass('ihr_monitoredasn') IS NOT NULL`).Scan(&r.Legacy); err != nil || !r.Legacy {
		return r, err
	}
	err := pgx.BeginFunc(ctx, db, func(tx pgx.Tx) error {
		err := tx.QueryRow(ctx, `WITH candidates AS (
				SELECT u.* FROM ihr_ihruser u
				WHERE NOT EXISTS (SELECT FROM auth_users a WHERE a.legacy_id = u.id OR lower(a.email) = lower(u.email))
			), inserted AS (
				INSERT INTO auth_users (email, password_hash, role, status, confirmed_at, last_login, legacy_id)
				SELECT email, password, CASE WHEN is_superuser THEN 'admin' ELSE 'user' END,
					CASE WHEN is_active THEN 'active' ELSE 'pending' END,
					CASE WHEN is_active THEN now() END, last_login, id
				FROM candidates ORDER BY id
				RETURNING role
			)
			SELECT count(*), count(*) FILTER (WHERE role = 'admin'), (SELECT count(*) FROM ihr_ihruser) - count(*) FROM inserted`).
			Scan(&r.Users, &r.Admins, &r.Skipped)
		if err != nil {
			return err
		}
		tag, err := tx.Exec(ctx, `INSERT INTO auth_monitored_asns (user_id, asn, notify_level)
			SELECT DISTINCT ON (a.id, m.asn_id) a.id, m.asn_id,
				CASE WHEN m.notifylevel >= 10 THEN 10 WHEN m.notifylevel >= 5 THEN 5 ELSE 0 END
			FROM ihr_monitoredasn m JOIN auth_users a ON a.legacy_id = m.user_id
			ORDER BY a.id, m.asn_id, m.id
			ON CONFLICT (user_id, asn) DO NOTHING`)
		if err != nil {
			return err
		}
		r.Monitored = int(tag.RowsAffected())
		if dryRun {
			return errDryRun
		}
		return nil
	})
	if errors.Is(err, errDryRun) {
		err = nil
	}
	return r, err
}

var errDryRun = errors.New("dry run")
