package security

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/ihr-go/ihr/pkg/authn"
	"github.com/ihr-go/ihr/pkg/testkit"
)

const hegemonyBin = `{"af":4,"timebin":"2026-12-01T10:15:00Z","run_id":"%s","rows":[{"originasn":2497,"asn":2497,"hege":1}]}`

func TestAttacks(t *testing.T) {
	s := newStack(t)
	admin := s.admin("root@example.org")
	carol := s.user("carol@example.org", "carol's password").Str("access_token")
	carolID := testkit.Scalar[int](t, s.db, `SELECT id::int FROM auth_users WHERE email = 'carol@example.org'`)
	rows := func() int { return testkit.Scalar[int](t, s.db, `SELECT count(*)::int FROM ihr_hegemony`) }

	// A pipeline key for hegemony only.
	key := s.gw(http.StatusCreated, "POST", "/ihr/api/auth/api-keys", admin,
		map[string]any{"name": "hegemony pipeline", "role": "pipeline", "datasets": []string{"hegemony"}}).Str("secret")
	if !strings.HasPrefix(key, "ihr_k") {
		t.Fatalf("key %q", key)
	}
	s.keep(key)
	s.gw(http.StatusAccepted, "POST", "/ihr/api/ingest/hegemony", key, fmt.Sprintf(hegemonyBin, "by-key"))
	testkit.Eventually(t, "the bin ingested with the key", func() bool { return rows() == 1 })

	t.Run("forged tokens", func(t *testing.T) {
		kid, priv := s.signer()
		sign := func(c *authn.Claims, kid string, key ed25519.PrivateKey) string {
			tok, err := authn.Sign(c, kid, key)
			if err != nil {
				t.Fatal(err)
			}
			return tok
		}
		good := sign(claims(fmt.Sprintf("user:%d", carolID), authn.User, 0), kid, priv)
		s.gw(http.StatusOK, "GET", "/ihr/api/users/me", good, nil) // the real key signs what the auth service would

		var set authn.JWKS
		_ = json.Unmarshal([]byte(s.gw(http.StatusOK, "GET", "/ihr/api/auth/.well-known/jwks.json", "", nil).Raw), &set)
		pub, _ := base64.RawURLEncoding.DecodeString(set.Keys[0].X)
		hs := jwt.NewWithClaims(jwt.SigningMethodHS256, claims(fmt.Sprintf("user:%d", carolID), authn.Admin, 0))
		hs.Header["kid"] = kid
		hsToken, _ := hs.SignedString(pub)
		parts := strings.Split(good, ".")
		b64 := base64.RawURLEncoding
		none, _ := json.Marshal(map[string]string{"alg": "none", "typ": "JWT", "kid": kid})
		adminClaims := claims(fmt.Sprintf("user:%d", carolID), authn.Admin, 0)
		tampered, _ := json.Marshal(adminClaims)
		expired, early, wrongIss, wrongAud := claims("user:1", authn.Admin, 0), claims("user:1", authn.Admin, 0), claims("user:1", authn.Admin, 0), claims("user:1", authn.Admin, 0)
		expired.ExpiresAt = jwt.NewNumericDate(time.Now().Add(-time.Minute))
		early.NotBefore = jwt.NewNumericDate(time.Now().Add(time.Hour))
		wrongIss.Issuer = "https://evil.example"
		wrongAud.Audience = jwt.ClaimStrings{"another-api"}
		_, other, _ := ed25519.GenerateKey(rand.Reader)
		for name, tok := range map[string]string{
			"alg none":                  b64.EncodeToString(none) + "." + parts[1] + ".",
			"HS256 keyed by public key": hsToken,
			"expired":                   sign(expired, kid, priv),
			"not yet valid":             sign(early, kid, priv),
			"wrong issuer":              sign(wrongIss, kid, priv),
			"wrong audience":            sign(wrongAud, kid, priv),
			"tampered payload":          parts[0] + "." + b64.EncodeToString(tampered) + "." + parts[2],
			"unknown kid":               sign(adminClaims, "made-up-kid", priv),
			"another key":               sign(adminClaims, kid, other),
		} {
			for _, target := range []struct{ base, method, path string }{
				{s.gateway, "GET", "/ihr/api/users/me"},
				{s.gateway, "GET", "/ihr/api/users"},
				{s.gateway, "POST", "/ihr/api/ingest/hegemony"},
				{s.ingestion, "POST", "/ihr/api/ingest/hegemony"}, // the service checks again
				{s.auth, "GET", "/ihr/api/users"},
			} {
				var body any
				if target.method == "POST" {
					body = fmt.Sprintf(hegemonyBin, "forged")
				}
				if r := s.do(target.method, target.base, target.path, tok, body); r.Status != http.StatusUnauthorized || r.Header.Get("WWW-Authenticate") == "" {
					t.Errorf("%s on %s %s%s: %d %s", name, target.method, target.base, target.path, r.Status, r.Raw)
				}
			}
		}
	})

	t.Run("roles reaching beyond themselves", func(t *testing.T) {
		for _, c := range []struct {
			method, path string
			body         any
		}{
			{"GET", "/ihr/api/users", nil},
			{"PATCH", fmt.Sprintf("/ihr/api/users/%d", carolID), map[string]string{"role": "admin"}},
			{"POST", "/ihr/api/auth/introspect", url.Values{"token": {carol}}},
			{"POST", "/ihr/api/auth/clients", map[string]any{"name": "mine"}},
			{"POST", "/ihr/api/auth/signing-keys/rotate", nil},
			{"POST", "/ihr/api/ingest/hegemony", fmt.Sprintf(hegemonyBin, "by-user")},
		} {
			s.gw(http.StatusForbidden, c.method, c.path, carol, c.body)
		}
		// A user's key may not claim another role.
		s.gw(http.StatusForbidden, "POST", "/ihr/api/auth/api-keys", carol, map[string]any{"name": "escalate", "role": "admin"})
		s.gw(http.StatusBadRequest, "POST", "/ihr/api/auth/api-keys", carol, map[string]any{"name": "escalate", "scopes": []string{"ingest"}})
		// The pipeline key: another dataset, and accounts.
		s.gw(http.StatusForbidden, "POST", "/ihr/api/ingest/atlas_delay", key, `{"af":4,"timebin":"2026-12-01T10:00:00Z","run_id":"x","rows":[]}`)
		if r := s.do("POST", s.ingestion, "/ihr/api/ingest/atlas_delay", key, `{}`); r.Status != http.StatusForbidden {
			t.Errorf("the pipeline key on another dataset, at ingestion itself: %d %s", r.Status, r.Raw)
		}
		s.gw(http.StatusForbidden, "GET", "/ihr/api/users", key, nil)
		s.gw(http.StatusForbidden, "GET", "/ihr/api/users/me", key, nil)
		if role := testkit.Scalar[string](t, s.db, `SELECT role FROM auth_users WHERE id = $1`, carolID); role != "user" || rows() != 1 {
			t.Errorf("after the refusals: carol is %s, %d hegemony rows", role, rows())
		}
	})

	t.Run("a revoked API key within a second", func(t *testing.T) {
		id := authn.KeyID(key)
		s.gw(http.StatusNoContent, "DELETE", "/ihr/api/auth/api-keys/"+id, admin, nil)
		took := within(t, time.Second, "the gateway refusing the revoked key", func() bool {
			return s.do("POST", s.gateway, "/ihr/api/ingest/hegemony", key, fmt.Sprintf(hegemonyBin, "revoked")).Status == http.StatusUnauthorized
		})
		t.Logf("the gateway refused the revoked key %s after the revocation", took.Round(time.Millisecond))
		within(t, time.Second, "ingestion refusing the revoked key", func() bool {
			return s.do("POST", s.ingestion, "/ihr/api/ingest/hegemony", key, fmt.Sprintf(hegemonyBin, "revoked")).Status == http.StatusUnauthorized
		})
	})

	t.Run("a refresh token replayed revokes the login", func(t *testing.T) {
		login := s.login("carol@example.org", "carol's password")
		rotated := s.gw(http.StatusOK, "POST", "/ihr/api/users/refresh", "", map[string]string{"refresh_token": login.Str("refresh_token")})
		s.keep(rotated.Str("access_token"), rotated.Str("refresh_token"))
		access := rotated.Str("access_token")
		s.gw(http.StatusOK, "GET", "/ihr/api/users/me", access, nil)
		s.gw(http.StatusUnauthorized, "POST", "/ihr/api/users/refresh", "", map[string]string{"refresh_token": login.Str("refresh_token")})
		took := within(t, time.Second, "the gateway refusing the login's access token", func() bool {
			return s.do("GET", s.gateway, "/ihr/api/networks/?number=2497", access, nil).Status == http.StatusUnauthorized
		})
		t.Logf("the replayed login's access token refused %s after the replay", took.Round(time.Millisecond))
		s.gw(http.StatusUnauthorized, "POST", "/ihr/api/users/refresh", "", map[string]string{"refresh_token": rotated.Str("refresh_token")})
	})

	t.Run("SQL-looking input in every field", func(t *testing.T) {
		before := testkit.Scalar[string](t, s.db, `SELECT (SELECT count(*) FROM auth_users) || '/' || (SELECT count(*) FROM auth_api_keys) || '/' ||
			(SELECT count(*) FROM auth_monitored_asns) || '/' || (SELECT count(*) FROM ihr_hegemony)`)
		sql := []string{`' OR '1'='1`, `'; DROP TABLE auth_users; --`, `1; DELETE FROM ihr_hegemony`, `" OR ""="`, `\x27 UNION SELECT password_hash FROM auth_users --`}
		for i, v := range sql {
			victim := fmt.Sprintf("victim%d@example.org", i) // failed logins lock an address: one each
			// A wrong current password counts towards carol's lockout (IHR_AUTH_LOCK_AFTER=3).
			wrongCurrent := http.StatusForbidden
			if i >= 3 {
				wrongCurrent = http.StatusTooManyRequests
			}
			for _, c := range []struct {
				status       int
				method, path string
				token        string
				body         any
			}{
				{400, "POST", "/ihr/api/users/register", "", map[string]string{"email": v, "password": v + v}},
				{400, "POST", "/ihr/api/users/register", "", map[string]string{"email": v + "@example.org", "password": v}},
				{401, "POST", "/ihr/api/users/login", "", map[string]string{"email": v, "password": v}},
				{401, "POST", "/ihr/api/users/login", "", map[string]string{"email": victim, "password": v}},
				{400, "POST", "/ihr/api/users/confirm", "", map[string]string{"code": v}},
				{401, "POST", "/ihr/api/users/refresh", "", map[string]string{"refresh_token": v}},
				{400, "POST", "/ihr/api/users/password/reset", "", map[string]string{"code": v, "password": "a long new password"}},
				{400, "POST", "/ihr/api/users/password/forgot", "", map[string]string{"email": v}},
				{400, "POST", "/ihr/api/users/email/confirm", "", map[string]string{"code": v}},
				{400, "PUT", "/ihr/api/users/me/monitored-asns", carol, `{"monitored_asns":[{"asn":"` + strings.ReplaceAll(v, `"`, `\"`) + `"}]}`},
				{wrongCurrent, "POST", "/ihr/api/users/me/email", carol, map[string]string{"password": v, "new_email": "new@example.org"}},
				{400, "POST", "/ihr/api/auth/token", "", url.Values{"grant_type": {v}}},
				{400, "POST", "/ihr/api/auth/token", "", url.Values{"grant_type": {"password"}, "username": {victim}, "password": {v}}},
				{401, "POST", "/ihr/api/auth/token", "", url.Values{"grant_type": {"client_credentials"}, "client_id": {v}, "client_secret": {v}}},
				{200, "POST", "/ihr/api/auth/revoke", "", url.Values{"token": {v}}},
				{200, "POST", "/ihr/api/auth/introspect", admin, url.Values{"token": {v}}},
				{404, "DELETE", "/ihr/api/auth/api-keys/" + url.PathEscape(v), admin, nil},
				{404, "DELETE", "/ihr/api/auth/clients/" + url.PathEscape(v), admin, nil},
				{404, "GET", "/ihr/api/users/" + url.PathEscape(v), admin, nil},
				{400, "GET", "/ihr/api/users?role=" + url.QueryEscape(v), admin, nil},
				{400, "GET", "/ihr/api/users?after=" + url.QueryEscape(v), admin, nil},
				{401, "GET", "/ihr/api/users/me", v, nil},
				{401, "POST", "/ihr/api/ingest/hegemony", "ihr_" + v + "_" + v, fmt.Sprintf(hegemonyBin, "sql")},
			} {
				if r := s.do(c.method, s.gateway, c.path, c.token, c.body); r.Status != c.status {
					t.Errorf("%s %s with %q: %d %s, want %d", c.method, c.path, v, r.Status, r.Raw, c.status)
				}
			}
			// Values stored as they are: a key named with SQL, and an address search.
			named := s.gw(http.StatusCreated, "POST", "/ihr/api/auth/api-keys", admin, map[string]any{"name": v, "scopes": []string{"stream"}})
			if k, _ := named.Body["api_key"].(map[string]any); k["name"] != v {
				t.Errorf("a key named %q came back as %v", v, k["name"])
			}
			if r := s.gw(http.StatusOK, "GET", "/ihr/api/users?email="+url.QueryEscape(v), admin, nil); r.Body["count"] != 0.0 {
				t.Errorf("an address search for %q found %v", v, r.Body["count"])
			}
		}
		after := testkit.Scalar[string](t, s.db, `SELECT (SELECT count(*) FROM auth_users) || '/' || (SELECT count(*) - $1 FROM auth_api_keys) || '/' ||
			(SELECT count(*) FROM auth_monitored_asns) || '/' || (SELECT count(*) FROM ihr_hegemony)`, len(sql))
		if after != before {
			t.Errorf("accounts/keys/monitored/rows went from %s to %s", before, after)
		}
	})

	t.Run("no secret in any log", s.assertNoSecretInLogs)
}

// TestLoginBruteForce: failures in a row lock an address for a while,
// known or not, with the same answers; unknown addresses cost the same
// time as wrong passwords.
func TestLoginBruteForce(t *testing.T) {
	s := newStack(t)
	s.user("dana@example.org", "dana's real password")
	attempt := func(email, password string) (reply, time.Duration) {
		start := time.Now()
		r := s.do("POST", s.gateway, "/ihr/api/users/login", "", map[string]string{"email": email, "password": password})
		return r, time.Since(start)
	}
	var known, unknown []time.Duration
	for i := range 3 { // IHR_AUTH_LOCK_AFTER
		k, dk := attempt("dana@example.org", fmt.Sprintf("guess %d", i))
		u, du := attempt("nobody@example.org", fmt.Sprintf("guess %d", i))
		if k.Status != http.StatusUnauthorized || k.Raw != u.Raw || k.Status != u.Status {
			t.Fatalf("attempt %d: known %d %s, unknown %d %s", i, k.Status, k.Raw, u.Status, u.Raw)
		}
		known, unknown = append(known, dk), append(unknown, du)
	}
	slices.Sort(known)
	slices.Sort(unknown)
	if ratio := float64(unknown[1]) / float64(known[1]); math.Abs(math.Log(ratio)) > math.Log(3) {
		t.Errorf("median time of a wrong password %s, of an unknown address %s: the timing tells them apart", known[1], unknown[1])
	}
	t.Logf("median wrong password %s, unknown address %s", known[1], unknown[1])

	// Locked now, both: even the right password waits.
	k, _ := attempt("dana@example.org", "dana's real password")
	u, _ := attempt("nobody@example.org", "anything")
	if k.Status != http.StatusTooManyRequests || u.Status != http.StatusTooManyRequests || k.Header.Get("Retry-After") == "" ||
		k.Str("error") != u.Str("error") {
		t.Fatalf("locked: known %d %s, unknown %d %s", k.Status, k.Raw, u.Status, u.Raw)
	}
	within(t, 10*time.Second, "the lock to end", func() bool {
		r, _ := attempt("dana@example.org", "dana's real password")
		return r.Status == http.StatusOK
	})
	if n := testkit.Scalar[int](t, s.db, `SELECT count(*)::int FROM auth_audit WHERE action = 'login_failed'`); n < 6 {
		t.Errorf("%d failed logins audited, want 6", n)
	}
}
