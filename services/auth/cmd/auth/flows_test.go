package main

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/ihr-go/ihr/pkg/testkit"
)

// TestAccountLifecycle walks an account through every flow, the codes
// read from the mails the test SMTP server received.
func TestAccountLifecycle(t *testing.T) {
	t.Parallel()
	r := newRig(t, nil)
	const email, pw = "alice@example.org", "first password 123"

	// Registering twice answers the same; the owner is told by mail.
	first := r.must(http.StatusAccepted, "POST", "/ihr/api/users/register", "", map[string]string{"email": email, "password": pw})
	again := r.must(http.StatusAccepted, "POST", "/ihr/api/users/register", "", map[string]string{"email": "Alice@Example.org", "password": "another password 1"})
	if first.Raw != again.Raw {
		t.Errorf("a taken address answers otherwise: %s vs %s", first.Raw, again.Raw)
	}
	r.smtp.WaitFor(t, func(m testkit.Mail) bool { return strings.Contains(m.Text, "already has one") })
	code := r.mailedCode(email, "Confirm your IHR account")

	// Not confirmed: the right password still cannot log in.
	if res := r.do("POST", "/ihr/api/users/login", "", map[string]string{"email": email, "password": pw}); res.Status != http.StatusForbidden || res.Str("error") != "account_not_confirmed" {
		t.Fatalf("login before confirmation: %d %s", res.Status, res.Raw)
	}
	r.must(http.StatusOK, "POST", "/ihr/api/users/confirm", "", map[string]string{"code": code})
	r.must(http.StatusBadRequest, "POST", "/ihr/api/users/confirm", "", map[string]string{"code": code}) // spent

	login := r.must(http.StatusOK, "POST", "/ihr/api/users/login", "", map[string]string{"email": email, "password": pw})
	access, refresh := login.Str("access_token"), login.Str("refresh_token")
	if login.Str("token_type") != "Bearer" || access == "" || refresh == "" || login.Header.Get("Cache-Control") != "no-store" {
		t.Fatalf("login answer %v %s", login.Header, login.Raw)
	}
	me := r.must(http.StatusOK, "GET", "/ihr/api/users/me", access, nil)
	if me.Str("email") != email || me.Str("role") != "user" || me.Str("status") != "active" {
		t.Errorf("profile %s", me.Raw)
	}

	// Monitored networks, with names, replaced as a set.
	set := r.must(http.StatusOK, "PUT", "/ihr/api/users/me/monitored-asns", access,
		map[string]any{"monitored_asns": []map[string]any{{"asn": 2497, "notify_level": 5}, {"asn": 3356}}})
	if !strings.Contains(set.Raw, `{"asn":2497,"asn_name":"IIJ Internet Initiative Japan Inc.","notify_level":5}`) || !strings.Contains(set.Raw, `{"asn":3356,"asn_name":"LEVEL3","notify_level":10}`) {
		t.Errorf("monitored set %s", set.Raw)
	}
	for _, bad := range []string{
		`{"monitored_asns":[{"asn":64512}]}`,                              // unknown to IHR
		`{"monitored_asns":[{"asn":2497},{"asn":2497}]}`,                  // twice
		`{"monitored_asns":[{"asn":2497,"notify_level":7}]}`,              // no such level
		`{"monitored_asns":[{"asn":-1}]}`,                                 // not an AS number
		`{"monitored_asns":[{"asn":2497}],"extra":1}`,                     // unknown field
		`{"monitored_asns":[{"asn":"2497; DROP TABLE auth_users; --"}]}`,  // not a number
		`{"monitored_asns":[{"asn":2497,"notify_level":"5' OR '1'='1"}]}`, // not a number
	} {
		if res := r.do("PUT", "/ihr/api/users/me/monitored-asns", access, bad); res.Status != http.StatusBadRequest {
			t.Errorf("%s: %d %s", bad, res.Status, res.Raw)
		}
	}
	if n := r.count(`SELECT count(*)::int FROM auth_monitored_asns`); n != 2 {
		t.Errorf("%d monitored rows after refused changes, want the 2 set before", n)
	}

	// Refresh rotates; spending the old token again revokes the whole login.
	next := r.must(http.StatusOK, "POST", "/ihr/api/users/refresh", "", map[string]string{"refresh_token": refresh})
	r.must(http.StatusUnauthorized, "POST", "/ihr/api/users/refresh", "", map[string]string{"refresh_token": refresh})
	r.must(http.StatusUnauthorized, "POST", "/ihr/api/users/refresh", "", map[string]string{"refresh_token": next.Str("refresh_token")})
	r.must(http.StatusUnauthorized, "GET", "/ihr/api/users/me", next.Str("access_token"), nil)
	if n := r.count(`SELECT count(*)::int FROM auth_audit WHERE action = 'refresh_replayed'`); n != 1 {
		t.Errorf("%d replays audited", n)
	}

	// Change password: other logins end, this one goes on with new tokens.
	a := r.must(http.StatusOK, "POST", "/ihr/api/users/login", "", map[string]string{"email": email, "password": pw})
	b := r.must(http.StatusOK, "POST", "/ihr/api/users/login", "", map[string]string{"email": email, "password": pw})
	r.must(http.StatusForbidden, "POST", "/ihr/api/users/me/password", a.Str("access_token"), map[string]string{"current_password": "wrong one 12345", "new_password": "second password 123"})
	r.must(http.StatusBadRequest, "POST", "/ihr/api/users/me/password", a.Str("access_token"), map[string]string{"current_password": pw, "new_password": "short"})
	changed := r.must(http.StatusOK, "POST", "/ihr/api/users/me/password", a.Str("access_token"), map[string]string{"current_password": pw, "new_password": "second password 123"})
	r.must(http.StatusUnauthorized, "GET", "/ihr/api/users/me", b.Str("access_token"), nil)
	r.must(http.StatusUnauthorized, "POST", "/ihr/api/users/refresh", "", map[string]string{"refresh_token": b.Str("refresh_token")})
	r.must(http.StatusUnauthorized, "GET", "/ihr/api/users/me", a.Str("access_token"), nil) // issued before the change
	r.must(http.StatusOK, "GET", "/ihr/api/users/me", changed.Str("access_token"), nil)
	r.must(http.StatusUnauthorized, "POST", "/ihr/api/users/login", "", map[string]string{"email": email, "password": pw})

	// Forgotten password: reset by the mailed code.
	r.must(http.StatusAccepted, "POST", "/ihr/api/users/password/forgot", "", map[string]string{"email": email})
	r.must(http.StatusAccepted, "POST", "/ihr/api/users/password/forgot", "", map[string]string{"email": "nobody@example.org"})
	reset := r.mailedCode(email, "Reset your IHR password")
	r.must(http.StatusNoContent, "POST", "/ihr/api/users/password/reset", "", map[string]string{"code": reset, "password": "third password 123"})
	r.must(http.StatusUnauthorized, "GET", "/ihr/api/users/me", changed.Str("access_token"), nil)
	login = r.must(http.StatusOK, "POST", "/ihr/api/users/login", "", map[string]string{"email": email, "password": "third password 123"})
	access = login.Str("access_token")

	// A new address, confirmed from a mail to it.
	r.register("bob@example.org", "bob's password 123")
	r.must(http.StatusAccepted, "POST", "/ihr/api/users/me/email", access, map[string]string{"password": "third password 123", "new_email": "alice@new.example.org"})
	r.must(http.StatusOK, "POST", "/ihr/api/users/email/confirm", "", map[string]string{"code": r.mailedCode("alice@new.example.org", "Confirm your new e-mail address")})
	if got := r.must(http.StatusOK, "GET", "/ihr/api/users/me", access, nil).Str("email"); got != "alice@new.example.org" {
		t.Errorf("address after the change: %s", got)
	}
	r.must(http.StatusAccepted, "POST", "/ihr/api/users/me/email", access, map[string]string{"password": "third password 123", "new_email": "bob@example.org"})
	r.must(http.StatusConflict, "POST", "/ihr/api/users/email/confirm", "", map[string]string{"code": r.mailedCode("bob@example.org", "Confirm your new e-mail address")})

	// Logout ends this login; deleting the account needs its password.
	second := r.must(http.StatusOK, "POST", "/ihr/api/users/login", "", map[string]string{"email": "alice@new.example.org", "password": "third password 123"})
	r.must(http.StatusNoContent, "POST", "/ihr/api/users/logout", access, nil)
	r.must(http.StatusUnauthorized, "GET", "/ihr/api/users/me", access, nil)
	r.must(http.StatusUnauthorized, "POST", "/ihr/api/users/refresh", "", map[string]string{"refresh_token": login.Str("refresh_token")})
	other := second.Str("access_token")
	r.must(http.StatusForbidden, "DELETE", "/ihr/api/users/me", other, map[string]string{"password": "not it at all"})
	r.must(http.StatusNoContent, "DELETE", "/ihr/api/users/me", other, map[string]string{"password": "third password 123"})
	r.must(http.StatusUnauthorized, "GET", "/ihr/api/users/me", other, nil)
	if n := r.count(`SELECT count(*)::int FROM auth_users WHERE email ILIKE 'alice%'`); n != 0 {
		t.Errorf("%d accounts left after the deletion", n)
	}
	if n := r.count(`SELECT count(*)::int FROM auth_monitored_asns`); n != 0 {
		t.Errorf("%d monitored rows left after the deletion", n)
	}
}

// TestOAuthEndpoints: the token endpoint's grants and errors (RFC 6749),
// revocation (RFC 7009), introspection for admins (RFC 7662), clients.
func TestOAuthEndpoints(t *testing.T) {
	t.Parallel()
	r := newRig(t, nil)
	r.register("carol@example.org", "carol password 1")
	admin := r.admin("root@example.org")
	form := func(kv ...string) url.Values {
		v := url.Values{}
		for i := 0; i < len(kv); i += 2 {
			v.Set(kv[i], kv[i+1])
		}
		return v
	}

	tok := r.must(http.StatusOK, "POST", "/ihr/api/auth/token", "", form("grant_type", "password", "username", "carol@example.org", "password", "carol password 1"))
	if tok.Header.Get("Cache-Control") != "no-store" || tok.Str("refresh_token") == "" {
		t.Errorf("password grant %v %s", tok.Header, tok.Raw)
	}
	for _, c := range []struct {
		form   url.Values
		status int
		error  string
	}{
		{form("grant_type", "password", "username", "carol@example.org", "password", "wrong"), 400, "invalid_grant"},
		{form("grant_type", "password", "username", "carol@example.org"), 400, "invalid_request"},
		{form("grant_type", "implicit"), 400, "unsupported_grant_type"},
		{form(), 400, "invalid_request"},
		{form("grant_type", "refresh_token", "refresh_token", "made-up"), 400, "invalid_grant"},
		{form("grant_type", "client_credentials", "client_id", "cnope", "client_secret", "x"), 401, "invalid_client"},
		{form("grant_type", "password", "username", "carol@example.org", "password", "carol password 1", "scope", "ops"), 400, "invalid_scope"},
	} {
		res := r.do("POST", "/ihr/api/auth/token", "", c.form)
		if res.Status != c.status || res.Str("error") != c.error || res.Str("error_description") == "" {
			t.Errorf("%v: %d %s, want %d %s", c.form, res.Status, res.Raw, c.status, c.error)
		}
	}
	rt := r.must(http.StatusOK, "POST", "/ihr/api/auth/token", "", form("grant_type", "refresh_token", "refresh_token", tok.Str("refresh_token")))

	// Introspection is for admins.
	r.must(http.StatusForbidden, "POST", "/ihr/api/auth/introspect", rt.Str("access_token"), form("token", rt.Str("access_token")))
	in := r.must(http.StatusOK, "POST", "/ihr/api/auth/introspect", admin, form("token", rt.Str("access_token")))
	if in.Body["active"] != true || in.Str("username") != "carol@example.org" || in.Str("token_type") != "access_token" {
		t.Errorf("introspection %s", in.Raw)
	}
	// RFC 7009: revoking the refresh token ends the login; unknown tokens are fine.
	r.must(http.StatusOK, "POST", "/ihr/api/auth/revoke", "", form("token", rt.Str("refresh_token")))
	r.must(http.StatusOK, "POST", "/ihr/api/auth/revoke", "", form("token", "never-issued"))
	for _, tk := range []string{rt.Str("access_token"), rt.Str("refresh_token"), "garbage"} {
		if in := r.must(http.StatusOK, "POST", "/ihr/api/auth/introspect", admin, form("token", tk)); in.Raw != `{"active":false}`+"\n" {
			t.Errorf("introspection of a revoked or unknown token: %s", in.Raw)
		}
	}

	// A pipeline client: client_credentials by Basic auth, scoped to its datasets.
	c := r.must(http.StatusCreated, "POST", "/ihr/api/auth/clients", admin, map[string]any{"name": "hegemony pipeline", "datasets": []string{"hegemony"}})
	client := c.Body["client"].(map[string]any)
	id, secret := client["client_id"].(string), c.Str("secret")
	req, _ := http.NewRequest("POST", r.svc.URL+"/ihr/api/auth/token", strings.NewReader("grant_type=client_credentials"))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(id, secret)
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("client_credentials: %v %v", resp, err)
	}
	resp.Body.Close()
	bad := r.do("POST", "/ihr/api/auth/token", "", form("grant_type", "client_credentials", "client_id", id, "client_secret", secret+"x"))
	if bad.Status != http.StatusUnauthorized || bad.Header.Get("WWW-Authenticate") == "" {
		t.Errorf("a wrong client secret: %d %v", bad.Status, bad.Header)
	}
	r.must(http.StatusNoContent, "DELETE", "/ihr/api/auth/clients/"+id, admin, nil)
	r.must(http.StatusUnauthorized, "POST", "/ihr/api/auth/token", "", form("grant_type", "client_credentials", "client_id", id, "client_secret", secret))
}
