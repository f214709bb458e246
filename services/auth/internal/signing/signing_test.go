package signing_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/ihr-go/ihr/pkg/authn"
	"github.com/ihr-go/ihr/pkg/testkit"
	"github.com/ihr-go/ihr/services/auth/internal/signing"
	"github.com/ihr-go/ihr/services/auth/internal/store"
	"github.com/jackc/pgx/v5/pgxpool"
)

func newStore(t *testing.T) *store.Postgres {
	t.Helper()
	pool, err := pgxpool.New(context.Background(), testkit.NewDB(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	return &store.Postgres{Pool: pool}
}

func kidOf(t *testing.T, token string) string {
	t.Helper()
	tok, _, err := jwt.NewParser().ParseUnverified(token, &authn.Claims{})
	if err != nil {
		t.Fatal(err)
	}
	return tok.Header["kid"].(string)
}

func claims() *authn.Claims {
	now := time.Now()
	return &authn.Claims{RegisteredClaims: jwt.RegisteredClaims{Issuer: "ihr", Subject: "user:1", Audience: jwt.ClaimStrings{authn.Audience},
		ExpiresAt: jwt.NewNumericDate(now.Add(time.Minute)), IssuedAt: jwt.NewNumericDate(now), ID: "j"}, Role: authn.User}
}

// TestRotation: the first key signs at once; a rotated-in key is published
// for the overlap before it signs; the old one stays published while its
// tokens live; a second replica adds no key of its own.
func TestRotation(t *testing.T) {
	st := newStore(t)
	secret := []byte("a secret of more than thirty-two characters")
	k := &signing.Keys{Store: st, Secret: secret, Rotate: time.Hour, Overlap: 300 * time.Millisecond, TokenTTL: time.Minute}
	ctx := context.Background()
	if err := k.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	first, err := k.Sign(claims())
	if err != nil {
		t.Fatal(err)
	}
	v := &authn.TokenVerifier{Keys: k, Issuer: "ihr"}
	if _, err := v.Verify(ctx, first); err != nil {
		t.Fatalf("a token of the first key: %v", err)
	}
	replica := &signing.Keys{Store: st, Secret: secret, Rotate: time.Hour, Overlap: time.Minute, TokenTTL: time.Minute}
	if err := replica.Refresh(ctx); err != nil || len(replica.JWKS().Keys) != 1 {
		t.Fatalf("a second replica: %v, %d keys", err, len(replica.JWKS().Keys))
	}

	next, err := k.RotateNow(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if n := len(k.JWKS().Keys); n != 2 {
		t.Fatalf("%d keys published during the overlap, want the old and the new", n)
	}
	during, _ := k.Sign(claims())
	if kidOf(t, during) == next {
		t.Error("the new key signs before the overlap passed")
	}
	testkit.Eventually(t, "the new key signing", func() bool { tok, _ := k.Sign(claims()); return kidOf(t, tok) == next })
	if _, err := v.Verify(ctx, first); err != nil {
		t.Errorf("a token of the retired key, still alive: %v", err)
	}

	// Sealed at rest: the seed is not in the database as it is, and opens
	// only with the secret.
	if n := testkit.Scalar[int](t, testkitDB(st), `SELECT count(*)::int FROM auth_signing_keys WHERE sealed AND length(private_key) > 32`); n != 2 {
		t.Errorf("%d sealed keys, want 2", n)
	}
	for _, s := range [][]byte{nil, []byte("another secret of more than thirty-two characters")} {
		wrong := &signing.Keys{Store: st, Secret: s, Rotate: time.Hour, TokenTTL: time.Minute}
		if err := wrong.Refresh(ctx); err == nil || !strings.Contains(err.Error(), "IHR_AUTH_KEY_SECRET") {
			t.Errorf("keys opened with secret %q: %v", s, err)
		}
	}
}

// testkitDB returns the database URL of st's pool.
func testkitDB(st *store.Postgres) string { return st.Pool.Config().ConnString() }
