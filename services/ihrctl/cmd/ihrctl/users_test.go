package main

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/ihr-go/ihr/pkg/testkit"
)

// login logs in through the auth service and returns the status and body.
func login(t *testing.T, auth, email, password string) (int, map[string]any) {
	t.Helper()
	r := testkit.Request(t, "POST", auth+"/ihr/api/users/login", "", map[string]string{"email": email, "password": password})
	return r.Status, r.Body
}

// TestImportLegacyAccounts imports Django accounts: they log in with their
// old passwords, re-hashed to argon2id then; the import runs again safely.
func TestImportLegacyAccounts(t *testing.T) {
	t.Parallel()
	db := testkit.NewDB(t)
	// Hashes made by Python's hashlib.pbkdf2_hmac, as Django's PBKDF2PasswordHasher does.
	testkit.Exec(t, db, `INSERT INTO ihr_asn (number, name, tartiflette, disco, ashash) VALUES (2497, 'IIJ', true, true, true), (174, 'COGENT', true, true, true)`)
	testkit.Exec(t, db, `INSERT INTO ihr_ihruser (id, password, last_login, is_superuser, email, is_active) VALUES
		(11, 'pbkdf2_sha256$260000$Zx3aB9qLmN0pQr1s$rzUaEwqzVvagBun/NyYl/M1eTrGKuFUSrFewn4L8OQc=', '2023-05-01T00:00:00Z', false, 'legacy@example.org', true),
		(12, 'pbkdf2_sha256$720000$s4lt$2JzrWte5gkllJysm6rutcclL2BXPGd8ckcDK30lvwMA=', NULL, true, 'Old.Admin@example.org', true),
		(13, '!unusable', NULL, false, 'never-activated@example.org', false)`)
	testkit.Exec(t, db, `INSERT INTO ihr_monitoredasn (notifylevel, asn_id, user_id) VALUES (10, 2497, 11), (3, 174, 11), (5, 2497, 11), (7, 174, 12)`)
	flags := []string{"--database-url", db}

	dry, _, err := ihrctlSplit(t, append([]string{"users", "import-legacy", "--dry-run"}, flags...)...)
	if err != nil || !strings.Contains(dry, "would import 3 accounts (1 admins) and 3 monitored networks") {
		t.Fatalf("dry run: %v %s", err, dry)
	}
	if n := testkit.Scalar[int](t, db, `SELECT count(*)::int FROM auth_users`); n != 0 {
		t.Fatalf("the dry run wrote %d accounts", n)
	}
	out, _, err := ihrctlSplit(t, append([]string{"users", "import-legacy"}, flags...)...)
	if err != nil || !strings.Contains(out, "imported 3 accounts (1 admins) and 3 monitored networks; 0 accounts skipped") {
		t.Fatalf("import: %v %s", err, out)
	}
	again, _, _ := ihrctlSplit(t, append([]string{"users", "import-legacy"}, flags...)...)
	if !strings.Contains(again, "imported 0 accounts (0 admins) and 0 monitored networks; 3 accounts skipped") {
		t.Errorf("a second import: %s", again)
	}
	if got := testkit.Scalar[string](t, db, `SELECT string_agg(a.asn || ':' || a.notify_level, ',' ORDER BY a.user_id, a.asn)
		FROM auth_monitored_asns a`); got != "174:0,2497:10,174:5" {
		t.Errorf("monitored networks %s (the first row of a pair, levels to the nearest of 0, 5, 10)", got)
	}

	auth := testkit.StartBinary(t, "auth", testkit.ServiceEnv(t, db))
	if code, body := login(t, auth, "legacy@example.org", "correct horse battery staple"); code != http.StatusOK || body["access_token"] == nil {
		t.Fatalf("legacy login: %d %v", code, body)
	}
	if h := testkit.Scalar[string](t, db, `SELECT password_hash FROM auth_users WHERE legacy_id = 11`); !strings.HasPrefix(h, "$argon2id$") {
		t.Errorf("the legacy hash was not replaced: %s", h)
	}
	if code, _ := login(t, auth, "legacy@example.org", "correct horse battery staple"); code != http.StatusOK {
		t.Errorf("login with the re-hashed password: %d", code)
	}
	if code, _ := login(t, auth, "old.admin@example.org", "pässwörd-ünïcode"); code != http.StatusOK {
		t.Errorf("the superuser's login: %d", code)
	}
	if code, body := login(t, auth, "never-activated@example.org", "anything at all"); code != http.StatusUnauthorized {
		t.Errorf("an unusable legacy password: %d %v", code, body)
	}
	if role := testkit.Scalar[string](t, db, `SELECT role || '/' || status FROM auth_users WHERE legacy_id = 12`); role != "admin/active" {
		t.Errorf("the superuser became %s", role)
	}
}

// TestCreateFirstAdmin makes an admin from the command line, then demotes it.
func TestCreateFirstAdmin(t *testing.T) {
	t.Parallel()
	d := newDeployment(t)
	out := d.ok(t, "users", "create", "root@example.org", "--role", "admin", "--database-url", d.db)
	i := strings.Index(out, "password (shown once): ")
	if i < 0 || !strings.Contains(out, "role admin") {
		t.Fatalf("create: %s", out)
	}
	password := strings.TrimSpace(out[i+len("password (shown once): "):])
	if _, _, err := ihrctlSplit(t, "users", "create", "root@example.org", "--database-url", d.db); err == nil || !strings.Contains(err.Error(), "already") {
		t.Errorf("creating it twice: %v", err)
	}
	auth := testkit.StartBinary(t, "auth", testkit.With(testkit.ServiceEnv(t, d.db), map[string]string{"IHR_NATS_PREFIX": d.prefix}))
	code, body := login(t, auth, "root@example.org", password)
	if code != http.StatusOK {
		t.Fatalf("login: %d %v", code, body)
	}
	req, _ := http.NewRequest("GET", auth+"/ihr/api/users", nil)
	req.Header.Set("Authorization", "Bearer "+body["access_token"].(string))
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("the admin lists accounts: %v %v", resp, err)
	}
	// An admin key opens a live stream at a gateway, which checks keys itself
	// and keeps its answers about them for 30 s.
	env := testkit.With(testkit.ServiceEnv(t, d.db), map[string]string{"IHR_NATS_PREFIX": d.prefix, "IHR_AUTH_URL": auth})
	gateway := testkit.StartBinary(t, "gateway", testkit.With(env, map[string]string{"IHR_QUERY_URL": testkit.StartBinary(t, "query", env)}))
	made := testkit.Request(t, "POST", auth+"/ihr/api/auth/api-keys", body["access_token"].(string), map[string]any{"name": "ops", "role": "admin"})
	key, _ := made.Body["secret"].(string)
	if made.Status != http.StatusCreated || key == "" {
		t.Fatalf("the admin's key: %d %v", made.Status, made.Body)
	}
	if code := streamStatus(t, gateway, key); code != http.StatusOK {
		t.Fatalf("the admin's key opens a stream: %d", code)
	}
	demoted := time.Now()
	d.ok(t, "users", "set-role", "root@example.org", "user", "--database-url", d.db)
	// The old token carried the admin role: the auth service refuses it now.
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("the demoted admin's old token: %v %v", resp, err)
	}
	// The gateway drops its answer about the key on the user's revocation,
	// and the auth service refuses an admin key of a mere user.
	testkit.Eventually(t, "the gateway refusing the demoted admin's key", func() bool {
		return streamStatus(t, gateway, key) == http.StatusUnauthorized
	})
	if took := time.Since(demoted); took > 10*time.Second {
		t.Errorf("the demoted admin's key served %v after the demotion (the gateway keeps key checks 30 s)", took.Round(time.Second))
	}
	d.ok(t, "users", "disable", "root@example.org", "--database-url", d.db)
	if code, body := login(t, auth, "root@example.org", password); code != http.StatusForbidden {
		t.Errorf("a disabled account logs in: %d %v", code, body)
	}
}

// streamStatus is the status of a live stream opened at gateway with key.
func streamStatus(t *testing.T, gateway, key string) int {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", gateway+"/ihr/api/stream", nil)
	req.Header.Set("Authorization", "Bearer "+key)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}
