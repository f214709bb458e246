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
)

// A key rotated in is found by fetching the set again; made-up key ids
// cost one fetch per Refetch, however many tokens name them.
func TestKeySetRefetch(t *testing.T) {
	pub1, _, _ := ed25519.GenerateKey(rand.Reader)
	pub2, _, _ := ed25519.GenerateKey(rand.Reader)
	var fetches atomic.Int32
	var rotated atomic.Bool
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fetches.Add(1)
		set := JWKS{Keys: []JWK{NewJWK("k1", pub1)}}
		if rotated.Load() {
			set.Keys = append(set.Keys, NewJWK("k2", pub2))
		}
		_ = json.NewEncoder(w).Encode(set)
	}))
	defer srv.Close()
	ks := NewKeySet(srv.URL, srv.Client())
	ks.Refetch = 200 * time.Millisecond
	ctx := context.Background()
	if _, err := ks.Key(ctx, "k1"); err != nil || fetches.Load() != 1 {
		t.Fatalf("first key: %v, %d fetches", err, fetches.Load())
	}
	for range 50 {
		if _, err := ks.Key(ctx, "made-up"); err == nil {
			t.Fatal("a made-up kid was found")
		}
	}
	if n := fetches.Load(); n != 1 {
		t.Errorf("%d fetches for made-up kids within Refetch, want none", n-1)
	}
	rotated.Store(true)
	time.Sleep(250 * time.Millisecond) // the refetch interval under test
	if k, err := ks.Key(ctx, "k2"); err != nil || !k.Equal(pub2) || fetches.Load() != 2 {
		t.Errorf("the rotated-in key: %v, %d fetches", err, fetches.Load())
	}
}
