package main

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/ihr-go/ihr/pkg/testkit"
)

// userID is the id of the account of access token token.
func (r *rig) userID(token string) int64 {
	r.t.Helper()
	return int64(r.must(http.StatusOK, "GET", "/ihr/api/users/me", token, nil).Body["id"].(float64))
}

// active tells whether the auth service takes token (an access token or an
// API key), asked through introspection by admin.
func (r *rig) active(admin, token string) bool {
	r.t.Helper()
	return r.must(http.StatusOK, "POST", "/ihr/api/auth/introspect", admin, url.Values{"token": {token}}).Body["active"] == true
}

// clientToken runs the client_credentials grant.
func (r *rig) clientToken(id, secret string) reply {
	r.t.Helper()
	return r.do("POST", "/ihr/api/auth/token", "", url.Values{"grant_type": {"client_credentials"}, "client_id": {id}, "client_secret": {secret}})
}

// A demoted admin's keys and clients stop with its role: those the new role
// does not cover are revoked, and none of them changes its owner's account.
func TestDemotionEndsTheKeysAndClientsItMade(t *testing.T) {
	t.Parallel()
	r := newRig(t, nil)
	root := r.admin("root@example.org")
	mallory := r.admin("mallory@example.org")
	id := r.userID(mallory)
	adminKey := r.must(http.StatusCreated, "POST", "/ihr/api/auth/api-keys", mallory, map[string]any{"name": "mine"}).Str("secret")
	streamKey := r.must(http.StatusCreated, "POST", "/ihr/api/auth/api-keys", mallory,
		map[string]any{"name": "live", "role": "user", "scopes": []string{"stream"}}).Str("secret")
	c := r.must(http.StatusCreated, "POST", "/ihr/api/auth/clients", mallory, map[string]any{"name": "pipeline", "datasets": []string{"hegemony"}})
	clientID, clientSecret := c.Body["client"].(map[string]any)["client_id"].(string), c.Str("secret")
	r.must(http.StatusOK, "POST", "/ihr/api/auth/token", "", url.Values{"grant_type": {"client_credentials"}, "client_id": {clientID}, "client_secret": {clientSecret}})

	// While admin, the key may not change its owner's account either.
	if res := r.do("PATCH", fmt.Sprintf("/ihr/api/users/%d", id), adminKey, map[string]any{"status": "disabled"}); res.Status != http.StatusForbidden || res.Str("error") != "own_account" {
		t.Fatalf("an admin key disabling its owner: %d %s", res.Status, res.Raw)
	}

	r.must(http.StatusOK, "PATCH", fmt.Sprintf("/ihr/api/users/%d", id), root, map[string]any{"role": "user"})
	r.must(http.StatusUnauthorized, "GET", "/ihr/api/users", adminKey, nil)
	r.must(http.StatusUnauthorized, "PATCH", fmt.Sprintf("/ihr/api/users/%d", id), adminKey, map[string]any{"role": "admin"})
	if n := r.count(`SELECT count(*)::int FROM auth_users WHERE id = $1 AND role = 'user'`, id); n != 1 {
		t.Fatalf("the demoted account's role changed back")
	}
	if res := r.clientToken(clientID, clientSecret); res.Status != http.StatusUnauthorized {
		t.Errorf("the client of a demoted admin: %d %s", res.Status, res.Raw)
	}
	if n := r.count(`SELECT count(*)::int FROM auth_api_keys WHERE user_id = $1 AND revoked_at IS NOT NULL`, id); n != 1 {
		t.Errorf("%d keys revoked at the demotion, want the admin one", n)
	}
	if n := r.count(`SELECT count(*)::int FROM auth_clients WHERE id = $1 AND revoked_at IS NOT NULL`, clientID); n != 1 {
		t.Errorf("the client of the demoted admin is not revoked")
	}
	if !r.active(root, streamKey) {
		t.Errorf("a key the new role covers was refused")
	}
}

// A key acts with its owner's role as it is now, even when the role
// changed without the service (ihrctl, SQL) and nothing was revoked.
func TestKeysFollowTheirOwnersRole(t *testing.T) {
	t.Parallel()
	r := newRig(t, nil)
	root := r.admin("root@example.org")
	ops := r.admin("ops@example.org")
	key := r.must(http.StatusCreated, "POST", "/ihr/api/auth/api-keys", ops, map[string]any{"name": "ops"}).Str("secret")
	r.must(http.StatusOK, "GET", "/ihr/api/users", key, nil)
	testkit.Exec(t, r.db, `UPDATE auth_users SET role = 'pipeline' WHERE email = 'ops@example.org'`)
	r.must(http.StatusUnauthorized, "GET", "/ihr/api/users", key, nil)
	if r.active(root, key) {
		t.Errorf("introspection calls the key of a demoted admin active")
	}
	testkit.Exec(t, r.db, `UPDATE auth_users SET role = 'admin' WHERE email = 'ops@example.org'`)
	r.must(http.StatusOK, "GET", "/ihr/api/users", key, nil)
}

// A password reset is how an account is taken back: the keys made while
// someone else may have held it end.
func TestPasswordResetRevokesKeys(t *testing.T) {
	t.Parallel()
	r := newRig(t, nil)
	root := r.admin("root@example.org")
	access := r.register("dave@example.org", "dave's password 1").Str("access_token")
	key := r.must(http.StatusCreated, "POST", "/ihr/api/auth/api-keys", access, map[string]any{"name": "live"}).Str("secret")
	r.must(http.StatusAccepted, "POST", "/ihr/api/users/password/forgot", "", map[string]string{"email": "dave@example.org"})
	code := r.mailedCode("dave@example.org", "Reset your IHR password")
	r.must(http.StatusNoContent, "POST", "/ihr/api/users/password/reset", "", map[string]string{"code": code, "password": "dave's password 2"})
	if r.active(root, key) {
		t.Errorf("a key made before the reset still works")
	}
}

// A key or client never gets more than the credential that made it: not
// a scope it was not given, nor another role without users:manage.
func TestKeysGetNoMoreThanTheirMaker(t *testing.T) {
	t.Parallel()
	r := newRig(t, nil)
	admin := r.admin("root@example.org")
	narrow := r.must(http.StatusCreated, "POST", "/ihr/api/auth/api-keys", admin, map[string]any{"name": "rotation bot", "scopes": []string{"keys:manage"}}).Str("secret")
	r.must(http.StatusForbidden, "GET", "/ihr/api/users", narrow, nil)

	for _, c := range []struct {
		body   map[string]any
		status int
		error  string
	}{
		{map[string]any{"name": "x", "role": "admin", "scopes": []string{"users:manage"}}, http.StatusForbidden, "scope_not_allowed"},
		{map[string]any{"name": "x", "role": "pipeline", "datasets": []string{"hegemony"}}, http.StatusForbidden, "role_not_allowed"},
		{map[string]any{"name": "x", "role": "admin", "scopes": []string{}}, http.StatusBadRequest, "invalid_scope"},
	} {
		if res := r.do("POST", "/ihr/api/auth/clients", narrow, c.body); res.Status != c.status || res.Str("error") != c.error {
			t.Errorf("a keys:manage key asking for a client %v: %d %s, want %d %s", c.body, res.Status, res.Raw, c.status, c.error)
		}
	}
	// Asking for nothing in particular gives what the maker holds.
	c := r.must(http.StatusCreated, "POST", "/ihr/api/auth/clients", narrow, map[string]any{"name": "same", "role": "admin"})
	client := c.Body["client"].(map[string]any)
	tok := r.clientToken(client["client_id"].(string), c.Str("secret"))
	if tok.Status != http.StatusOK || tok.Str("scope") != "keys:manage" {
		t.Fatalf("the client's token: %d %s", tok.Status, tok.Raw)
	}
	r.must(http.StatusForbidden, "GET", "/ihr/api/users", tok.Str("access_token"), nil)

	// A token of the password grant narrowed to some scopes makes keys of those only.
	form := func(scope string) url.Values {
		return url.Values{"grant_type": {"password"}, "username": {"root@example.org"}, "password": {"admin password 0123"}, "scope": {scope}}
	}
	account := r.must(http.StatusOK, "POST", "/ihr/api/auth/token", "", form("account")).Str("access_token")
	if res := r.do("POST", "/ihr/api/auth/api-keys", account, map[string]any{"name": "x"}); res.Status != http.StatusBadRequest || res.Str("error") != "invalid_scope" {
		t.Errorf("an account-only token making a key: %d %s", res.Status, res.Raw)
	}
	streaming := r.must(http.StatusOK, "POST", "/ihr/api/auth/token", "", form("account stream")).Str("access_token")
	k := r.must(http.StatusCreated, "POST", "/ihr/api/auth/api-keys", streaming, map[string]any{"name": "x"})
	if got := fmt.Sprint(k.Body["api_key"].(map[string]any)["scopes"]); got != "[stream]" {
		t.Errorf("a key made by an account+stream token holds %s", got)
	}
	r.must(http.StatusForbidden, "GET", "/ihr/api/users", k.Str("secret"), nil)

	// Users give their own role only.
	user := r.register("erin@example.org", "erin's password 1").Str("access_token")
	if res := r.do("POST", "/ihr/api/auth/api-keys", user, map[string]any{"name": "x", "role": "pipeline"}); res.Status != http.StatusForbidden || !strings.Contains(res.Raw, "role_not_allowed") {
		t.Errorf("a user asking for a pipeline key: %d %s", res.Status, res.Raw)
	}
}

// The internal key check tells an unknown key id from a wrong secret, so
// that the gateway refuses every key of an unknown id a while; both are 401.
func TestKeyCheckTellsUnknownKeyIDs(t *testing.T) {
	t.Parallel()
	r := newRig(t, nil)
	access := r.register("fay@example.org", "fay's password 1").Str("access_token")
	key := r.must(http.StatusCreated, "POST", "/ihr/api/auth/api-keys", access, map[string]any{"name": "live"}).Str("secret")
	other := "A" // another last character of the secret
	if strings.HasSuffix(key, other) {
		other = "B"
	}
	wrong := key[:len(key)-1] + other
	for _, c := range []struct{ key, error string }{
		{"ihr_k0123456789ab_" + strings.Repeat("A", 43), "unknown_key"},
		{wrong, "invalid_token"},
	} {
		if res := r.do("POST", "/internal/api-keys/verify", "", map[string]string{"key": c.key}); res.Status != http.StatusUnauthorized || res.Str("error") != c.error {
			t.Errorf("%s: %d %s, want 401 %s", c.key[:18], res.Status, res.Raw, c.error)
		}
	}
	r.must(http.StatusOK, "POST", "/internal/api-keys/verify", "", map[string]string{"key": key})
}

// An account holds a bounded number of live keys.
func TestKeysPerAccountAreBounded(t *testing.T) {
	t.Parallel()
	r := newRig(t, nil)
	access := r.register("gil@example.org", "gil's password 1").Str("access_token")
	var first string
	for i := range 20 {
		k := r.must(http.StatusCreated, "POST", "/ihr/api/auth/api-keys", access, map[string]any{"name": fmt.Sprint("key ", i)})
		if i == 0 {
			first = k.Body["api_key"].(map[string]any)["id"].(string)
		}
	}
	if res := r.do("POST", "/ihr/api/auth/api-keys", access, map[string]any{"name": "one too many"}); res.Status != http.StatusConflict || res.Str("error") != "too_many_keys" {
		t.Fatalf("a 21st key: %d %s", res.Status, res.Raw)
	}
	r.must(http.StatusNoContent, "DELETE", "/ihr/api/auth/api-keys/"+first, access, nil)
	r.must(http.StatusCreated, "POST", "/ihr/api/auth/api-keys", access, map[string]any{"name": "in its place"})
}
