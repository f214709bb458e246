package main

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/ihr-go/ihr/pkg/authn"
	"github.com/ihr-go/ihr/pkg/service"
	"github.com/ihr-go/ihr/pkg/testkit"
)

// TestDebugWarmIsForAdmins: the warm reports name the most asked queries,
// so /debug/warm needs the ops permission unless IHR_OPS_OPEN.
func TestDebugWarmIsForAdmins(t *testing.T) {
	pub, priv, _ := ed25519.GenerateKey(rand.Reader)
	auth := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == authn.JWKSPath {
			_ = json.NewEncoder(w).Encode(authn.JWKS{Keys: []authn.JWK{authn.NewJWK("k1", pub)}})
		}
	}))
	defer auth.Close()
	q := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	defer q.Close()
	env := testkit.ServiceEnv(t, "")
	delete(env, "IHR_OPS_OPEN")
	env["IHR_QUERY_URL"], env["IHR_AUTH_URL"] = q.URL, auth.URL
	svc := testkit.StartService(t, "cachewarmer", service.Runner(spec()), env)
	token := func(role authn.Role) string {
		now := time.Now()
		tok, err := authn.Sign(&authn.Claims{RegisteredClaims: jwt.RegisteredClaims{Issuer: "ihr", Subject: "user:1", ID: "j",
			Audience: jwt.ClaimStrings{authn.Audience}, ExpiresAt: jwt.NewNumericDate(now.Add(time.Minute)), IssuedAt: jwt.NewNumericDate(now)},
			Role: role}, "k1", priv)
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	for _, c := range []struct {
		token  string
		status int
	}{{"", 401}, {token(authn.User), 403}, {token(authn.Pipeline), 403}, {token(authn.Admin), 200}} {
		if r := testkit.Request(t, "GET", svc.URL+"/debug/warm", c.token, nil); r.Status != c.status {
			t.Errorf("token %.20q: %d %s, want %d", c.token, r.Status, r.Raw, c.status)
		}
	}
}
