package store

import (
	"context"
	"testing"
	"time"

	"github.com/ihr-go/ihr/pkg/testkit"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Housekeeping deletes the expired and the stale, and nothing else.
func TestHousekeep(t *testing.T) {
	db := testkit.NewDB(t)
	pool, err := pgxpool.New(context.Background(), db)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	testkit.Exec(t, db, `INSERT INTO auth_users (id, email, password_hash) VALUES (1, 'a@example.org', 'x')`)
	testkit.Exec(t, db, `INSERT INTO auth_codes (hash, user_id, purpose, expires_at) VALUES
		('\x01', 1, 'confirm', now() - interval '2 days'), ('\x02', 1, 'confirm', now() + interval '1 hour')`)
	testkit.Exec(t, db, `INSERT INTO auth_refresh_tokens (hash, family, user_id, expires_at) VALUES
		('\x01', gen_random_uuid(), 1, now() - interval '2 days'), ('\x02', gen_random_uuid(), 1, now() + interval '1 day')`)
	testkit.Exec(t, db, `INSERT INTO auth_login_failures (email, failures, locked_until, updated_at) VALUES
		('old@x', 3, NULL, now() - interval '2 days'), ('locked@x', 9, now() + interval '1 hour', now() - interval '2 days'),
		('recent@x', 1, NULL, now())`)
	// Accounts never confirmed, the audit log and the mails sent, each past its time or not.
	testkit.Exec(t, db, `INSERT INTO auth_users (id, email, password_hash, status, created_at) VALUES
		(2, 'stale@example.org', 'x', 'pending', now() - interval '2 days'), (3, 'new@example.org', 'x', 'pending', now()),
		(4, 'legacy@example.org', 'x', 'pending', now() - interval '2 days')`)
	testkit.Exec(t, db, `UPDATE auth_users SET legacy_id = 4 WHERE id = 4`)
	testkit.Exec(t, db, `INSERT INTO auth_audit (at, actor, action) VALUES (now() - interval '401 days', 'a', 'old'), (now() - interval '399 days', 'a', 'kept')`)
	testkit.Exec(t, db, `INSERT INTO auth_mail_throttle (email, kind, sent_at) VALUES ('a@x', 'reset', now() - interval '6 minutes'), ('b@x', 'reset', now())`)
	n, err := (&Postgres{Pool: pool}).Housekeep(context.Background(), Retention{Pending: 24 * time.Hour, Audit: 400 * 24 * time.Hour, Mail: 5 * time.Minute})
	if err != nil || n != 6 {
		t.Fatalf("housekeeping deleted %d rows (%v), want 6", n, err)
	}
	if got := testkit.Scalar[string](t, db, `SELECT (SELECT string_agg(email, ',' ORDER BY id) FROM auth_users) || '/' ||
		(SELECT string_agg(action, ',') FROM auth_audit) || '/' || (SELECT string_agg(email, ',') FROM auth_mail_throttle)`); got != "a@example.org,new@example.org,legacy@example.org/kept/b@x" {
		t.Errorf("kept %s", got)
	}
	if got := testkit.Scalar[string](t, db, `SELECT (SELECT string_agg(encode(hash, 'hex'), ',') FROM auth_codes) || '/' ||
		(SELECT string_agg(encode(hash, 'hex'), ',') FROM auth_refresh_tokens) || '/' ||
		(SELECT string_agg(email, ',' ORDER BY email) FROM auth_login_failures)`); got != "02/02/locked@x,recent@x" {
		t.Errorf("kept %s", got)
	}
}
