// Package security attacks the real binaries of the auth, ingestion, query
// and gateway services: forged and revoked credentials, roles reaching
// beyond themselves, brute force, SQL-looking input and rate limits, each
// refused at the gateway and again by the service behind it.
package security

import (
	"crypto/ed25519"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/ihr-go/ihr/pkg/authn"
	"github.com/ihr-go/ihr/pkg/testkit"
)

// stack is the four services on a scratch database, the auth service
// mailing to a test SMTP server.
type stack struct {
	t                               *testing.T
	db                              string
	env                             map[string]string
	smtp                            *testkit.SMTPServer
	auth, ingestion, query, gateway string
	mailsTaken                      int
	logs                            map[string]*testkit.Buffer // by service
	secrets                         []string                   // every password, code, token and key the test used
}

func newStack(t *testing.T) *stack {
	t.Helper()
	s := &stack{t: t, db: testkit.NewDB(t), smtp: testkit.SMTP(t), logs: map[string]*testkit.Buffer{}}
	testkit.Exec(t, s.db, `INSERT INTO ihr_asn (number, name, tartiflette, disco, ashash) VALUES (2497, 'IIJ', true, true, true)`)
	// Debug logs too must not give away a secret.
	s.env = testkit.With(testkit.ServiceEnv(t, s.db), map[string]string{"IHR_LOG_LEVEL": "debug"})
	// In dev mode the signing keys are stored unsealed: the test signs
	// forged tokens with the real key, to show only the forged claim fails.
	s.auth = s.start("auth", testkit.With(s.env, map[string]string{"IHR_ENV": "dev", "IHR_AUTH_KEY_SECRET": "",
		"IHR_SMTP_URL": s.smtp.URL(), "IHR_AUTH_LINK_BASE": "https://ihr.example/account", "IHR_AUTH_LOCK_AFTER": "3", "IHR_AUTH_LOCK_FOR": "2s"}))
	s.env["IHR_AUTH_URL"] = s.auth
	s.ingestion = s.start("ingestion", s.env)
	s.query = s.start("query", s.env)
	s.gateway = s.startGateway(nil)
	return s
}

// start starts a service, keeping its logs.
func (s *stack) start(name string, env map[string]string) string {
	url, logs := testkit.StartBinaryLogs(s.t, name, env)
	s.logs[name+" at "+url] = logs
	return url
}

// startGateway starts a gateway in front of the stack, with more settings.
func (s *stack) startGateway(more map[string]string) string {
	return s.start("gateway", testkit.With(s.env, testkit.With(map[string]string{
		"IHR_QUERY_URL": s.query, "IHR_INGESTION_URL": s.ingestion}, more)))
}

// keep records secrets the logs must not show.
func (s *stack) keep(secrets ...string) { s.secrets = append(s.secrets, secrets...) }

type reply = testkit.Reply

// do sends a request to base+path.
func (s *stack) do(method, base, path, token string, body any) reply {
	s.t.Helper()
	return testkit.Request(s.t, method, base+path, token, body)
}

// gw sends a request through the gateway and fails unless it answers status.
func (s *stack) gw(status int, method, path, token string, body any) reply {
	s.t.Helper()
	r := s.do(method, s.gateway, path, token, body)
	if r.Status != status {
		s.t.Fatalf("%s %s through the gateway: %d %s, want %d", method, path, r.Status, r.Raw, status)
	}
	return r
}

// user registers, confirms (from the mail) and logs in an account.
func (s *stack) user(email, password string) reply {
	s.t.Helper()
	code, login := testkit.SignUp(s.t, s.gateway, s.smtp, email, password)
	s.keep(code, password, login.Str("access_token"), login.Str("refresh_token"))
	return login
}

// login logs an account in, keeping its password and tokens as secrets.
func (s *stack) login(email, password string) reply {
	s.t.Helper()
	r := s.gw(http.StatusOK, "POST", "/ihr/api/users/login", "", map[string]string{"email": email, "password": password})
	s.keep(password, r.Str("access_token"), r.Str("refresh_token"))
	return r
}

// admin makes an admin account and returns its access token.
func (s *stack) admin(email string) string {
	s.t.Helper()
	s.user(email, "the admin's password")
	testkit.Exec(s.t, s.db, `UPDATE auth_users SET role = 'admin' WHERE email = $1`, email)
	return s.login(email, "the admin's password").Str("access_token")
}

// signer returns the auth service's current signing key (unsealed in dev).
func (s *stack) signer() (string, ed25519.PrivateKey) {
	s.t.Helper()
	kid := testkit.Scalar[string](s.t, s.db, `SELECT kid FROM auth_signing_keys WHERE NOT sealed ORDER BY active_from DESC LIMIT 1`)
	seed := testkit.Scalar[[]byte](s.t, s.db, `SELECT private_key FROM auth_signing_keys WHERE kid = $1`, kid)
	return kid, ed25519.NewKeyFromSeed(seed)
}

// claims are those the auth service would sign for subject.
func claims(subject string, role authn.Role, version int) *authn.Claims {
	now := time.Now()
	return &authn.Claims{RegisteredClaims: jwt.RegisteredClaims{Issuer: "ihr", Subject: subject, Audience: jwt.ClaimStrings{authn.Audience},
		ExpiresAt: jwt.NewNumericDate(now.Add(10 * time.Minute)), NotBefore: jwt.NewNumericDate(now), IssuedAt: jwt.NewNumericDate(now),
		ID: "forged-" + now.Format(time.RFC3339Nano)}, Role: role, Version: version}
}

// within polls cond every 20 ms and returns how long it took to hold,
// failing after limit.
func within(t *testing.T, limit time.Duration, what string, cond func() bool) time.Duration {
	t.Helper()
	start := time.Now()
	for !cond() {
		if time.Since(start) > limit {
			t.Fatalf("%s: not within %s", what, limit)
		}
		time.Sleep(20 * time.Millisecond)
	}
	return time.Since(start)
}

// assertNoSecretInLogs fails if a service logged any secret the test used:
// a password, or a token or key whole or in part (a token cut in two is
// still a leak).
func (s *stack) assertNoSecretInLogs(t *testing.T) {
	t.Helper()
	if len(s.secrets) < 5 {
		t.Fatalf("only %d secrets kept: the flows did not run", len(s.secrets))
	}
	requests := 0
	for name, logs := range s.logs {
		text := logs.String()
		requests += strings.Count(text, `"msg":"request"`)
		for _, secret := range s.secrets {
			parts := []string{secret}
			if len(secret) >= 24 {
				parts = append(parts, secret[:len(secret)/2], secret[len(secret)/2:])
			}
			for _, part := range parts {
				if strings.Contains(text, part) {
					t.Errorf("%s logged a secret (%q of %q)", name, part, secret)
				}
			}
		}
	}
	if requests < 100 {
		t.Fatalf("%d requests logged: too few to tell", requests)
	}
}
