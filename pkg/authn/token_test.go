package authn

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

type keys map[string]ed25519.PublicKey

func (k keys) Key(_ context.Context, kid string) (ed25519.PublicKey, error) {
	if p, ok := k[kid]; ok {
		return p, nil
	}
	return nil, fmt.Errorf("unknown key %q", kid)
}

func claimsAt(now time.Time) *Claims {
	return &Claims{RegisteredClaims: jwt.RegisteredClaims{Issuer: "ihr", Subject: "user:7", Audience: jwt.ClaimStrings{Audience},
		ExpiresAt: jwt.NewNumericDate(now.Add(15 * time.Minute)), NotBefore: jwt.NewNumericDate(now), IssuedAt: jwt.NewNumericDate(now), ID: "jti-1"},
		Role: User, Session: "s1"}
}

// Forged tokens, each refused: the attacks of the auth issue's acceptance.
func TestTokenAttacks(t *testing.T) {
	pub, priv, _ := ed25519.GenerateKey(rand.Reader)
	_, other, _ := ed25519.GenerateKey(rand.Reader)
	v := &TokenVerifier{Keys: keys{"k1": pub}, Issuer: "ihr", Leeway: 5 * time.Second}
	now := time.Now()
	sign := func(c *Claims, kid string, key ed25519.PrivateKey) string {
		tok, err := Sign(c, kid, key)
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	good := sign(claimsAt(now), "k1", priv)
	if c, err := v.Verify(context.Background(), good); err != nil || c.Principal().Subject != "user:7" || c.Principal().Session != "s1" {
		t.Fatalf("a good token: %v %v", c, err)
	}
	b64 := base64.RawURLEncoding
	header, payload, _ := strings.Cut(good, ".")
	payload = payload[:strings.IndexByte(payload, '.')]
	rawHeader := func(h map[string]any) string { j, _ := json.Marshal(h); return b64.EncodeToString(j) }

	hs := jwt.NewWithClaims(jwt.SigningMethodHS256, claimsAt(now))
	hs.Header["kid"] = "k1"
	hsToken, _ := hs.SignedString([]byte(pub)) // HMAC keyed with the public key
	rsaKey, _ := rsa.GenerateKey(rand.Reader, 2048)
	rs := jwt.NewWithClaims(jwt.SigningMethodRS256, claimsAt(now))
	rs.Header["kid"] = "k1"
	rsToken, _ := rs.SignedString(rsaKey)
	tampered := claimsAt(now)
	tampered.Role = Admin
	tj, _ := json.Marshal(tampered)
	wrongIss, wrongAud, noRole := claimsAt(now), claimsAt(now), claimsAt(now)
	wrongIss.Issuer = "evil"
	wrongAud.Audience = jwt.ClaimStrings{"other-api"}
	noRole.Role = ""
	noExp := claimsAt(now)
	noExp.ExpiresAt = nil

	for name, tok := range map[string]string{
		"alg none":                  rawHeader(map[string]any{"alg": "none", "typ": "JWT", "kid": "k1"}) + "." + payload + ".",
		"alg none, signature kept":  rawHeader(map[string]any{"alg": "none", "kid": "k1"}) + "." + payload + "." + strings.Split(good, ".")[2],
		"HS256 keyed by public key": hsToken,
		"RS256":                     rsToken,
		"expired":                   sign(claimsAt(now.Add(-time.Hour)), "k1", priv),
		"not yet valid":             sign(claimsAt(now.Add(time.Hour)), "k1", priv),
		"wrong issuer":              sign(wrongIss, "k1", priv),
		"wrong audience":            sign(wrongAud, "k1", priv),
		"no role":                   sign(noRole, "k1", priv),
		"no expiry":                 sign(noExp, "k1", priv),
		"tampered payload":          header + "." + b64.EncodeToString(tj) + "." + strings.Split(good, ".")[2],
		"unknown kid":               sign(claimsAt(now), "k2", priv),
		"no kid":                    strings.Replace(good, header, rawHeader(map[string]any{"alg": "EdDSA", "typ": "JWT"}), 1),
		"another key, same kid":     sign(claimsAt(now), "k1", other),
		"garbage":                   "not.a.token",
		"empty":                     "",
	} {
		if c, err := v.Verify(context.Background(), tok); err == nil {
			t.Errorf("%s: accepted as %+v", name, c)
		}
	}
}

func TestScopesAndDatasets(t *testing.T) {
	p := Principal{Subject: "client:c1", Role: Pipeline, Scopes: ParseScope("ingest"), Datasets: []string{"hegemony"}}
	if !p.CanIngest("hegemony") || p.CanIngest("atlas_delay") || p.Can(Account) || !p.Can(Public) {
		t.Errorf("pipeline principal %+v", p)
	}
	readOnly := Principal{Subject: "key:k1", Role: Pipeline, Scopes: []Permission{}, Datasets: []string{"hegemony"}}
	if readOnly.CanIngest("hegemony") {
		t.Error("a key without the ingest scope may ingest")
	}
	admin := Principal{Subject: "user:1", Role: Admin}
	if !admin.CanIngest("anything") || !admin.Can(ManageUsers) {
		t.Error("an admin lacks a permission")
	}
	if (Principal{Role: User}).Can(ManageUsers) || AnonymousPrincipal.Can(Account) {
		t.Error("a permission leaked to a lesser role")
	}
	if FormatScope(ParseScope(" ingest  ops ")) != "ingest ops" || ParseScope("") != nil {
		t.Error("scope round trip")
	}
}

func TestKeyID(t *testing.T) {
	secret := strings.Repeat("aZ0-_", 8) + "abc" // 43 base64url characters
	for key, id := range map[string]string{
		"ihr_k0123456789ab_" + secret:           "k0123456789ab",
		"ihr_k0123456789ab_" + secret + "x":     "",
		"ihr_k0123456789aB_" + secret:           "",
		"ihr_x0123456789ab_" + secret:           "",
		"ihr_k0123456789ab_" + secret[1:]:       "",
		"ihr_k0123456789ab_" + secret[1:] + "=": "",
		"eyJhbGciOiJFZERTQSJ9.e30.sig":          "",
		"":                                      "",
	} {
		if got := KeyID(key); got != id {
			t.Errorf("KeyID(%q) = %q, want %q", key, got, id)
		}
	}
}
