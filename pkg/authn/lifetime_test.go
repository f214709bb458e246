package authn

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// A token that lives longer than any the auth service issues was signed
// elsewhere, with a stolen key: refused.
func TestTokensLivingTooLongAreRefused(t *testing.T) {
	pub, priv, _ := ed25519.GenerateKey(rand.Reader)
	v := &TokenVerifier{Keys: keys{"k1": pub}, Issuer: "ihr", MaxLifetime: time.Hour}
	now := time.Now()
	for _, c := range []struct {
		life time.Duration
		ok   bool
	}{{15 * time.Minute, true}, {time.Hour, true}, {time.Hour + time.Second, false}, {10 * 365 * 24 * time.Hour, false}} {
		claims := claimsAt(now)
		claims.ExpiresAt = jwt.NewNumericDate(now.Add(c.life))
		tok, err := Sign(claims, "k1", priv)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := v.Verify(context.Background(), tok); (err == nil) != c.ok {
			t.Errorf("a token living %s: %v", c.life, err)
		}
	}
}

// A key deleted from the auth service's set stops being trusted once the
// set held is older than MaxAge, even while tokens name it; while the set
// cannot be fetched, the one held goes on serving.
func TestKeySetForgetsDeletedKeys(t *testing.T) {
	pub, _, _ := ed25519.GenerateKey(rand.Reader)
	var deleted, down atomic.Bool
	var fetches atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fetches.Add(1)
		if down.Load() {
			http.Error(w, "down", http.StatusServiceUnavailable)
			return
		}
		set := JWKS{Keys: []JWK{}}
		if !deleted.Load() {
			set.Keys = append(set.Keys, NewJWK("k1", pub))
		}
		_ = json.NewEncoder(w).Encode(set)
	}))
	defer srv.Close()
	ks := NewKeySet(srv.URL, srv.Client())
	ks.Refetch, ks.MaxAge = 0, 50*time.Millisecond
	ctx := context.Background()
	if _, err := ks.Key(ctx, "k1"); err != nil {
		t.Fatal(err)
	}
	down.Store(true)
	waitFor(t, "the set to age", func() bool { return !ks.fresh() })
	if _, err := ks.Key(ctx, "k1"); err != nil {
		t.Errorf("a known key while the auth service is down: %v", err)
	}
	down.Store(false)
	deleted.Store(true)
	waitFor(t, "the deleted key to be refused", func() bool { _, err := ks.Key(ctx, "k1"); return err != nil })
}

func (s *KeySet) fresh() bool { _, ok := s.lookup(""); return ok }

// waitFor polls cond until it holds, failing after 5 s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); !cond(); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within 5 s", what)
		}
	}
}

// Revocations are kept as long as a token they revoke can live, API keys'
// too, and dropping the old ones is not a look at all of them at each Add.
func TestRevocationsOfKeysAgeOut(t *testing.T) {
	v := &Revocations{Keep: time.Hour, pruned: time.Now()} // pruned a moment ago
	old := time.Now().Add(-2 * time.Hour)
	v.Add(Revocation{Kind: "key", ID: "kold", At: old})
	v.Add(Revocation{Kind: "session", ID: "sold", At: old})
	v.Add(Revocation{Kind: "key", ID: "knew", At: time.Now()})
	if !v.Has("key", "kold", 0) || !v.Has("session", "sold", 0) {
		t.Fatal("old revocations were dropped before a minute passed since the last pruning")
	}
	v.mu.Lock()
	v.pruned = time.Now().Add(-pruneEvery)
	v.mu.Unlock()
	v.Add(Revocation{Kind: "user", ID: "7", Version: 2, At: time.Now()})
	for _, c := range []struct {
		kind, id string
		want     bool
	}{{"key", "kold", false}, {"session", "sold", false}, {"key", "knew", true}} {
		if got := v.Has(c.kind, c.id, 0); got != c.want {
			t.Errorf("%s:%s revoked: %v, want %v", c.kind, c.id, got, c.want)
		}
	}
}
