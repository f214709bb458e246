package authn

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// keyServer stands in for the auth service's key check: answer tells what
// to say of a key; every check is counted.
type keyServer struct {
	srv    *httptest.Server
	checks atomic.Int64
}

func newKeyServer(t *testing.T, answer func(key string, w http.ResponseWriter)) *keyServer {
	s := &keyServer{}
	s.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var b struct{ Key string }
		_ = json.NewDecoder(r.Body).Decode(&b)
		s.checks.Add(1)
		answer(b.Key, w)
	}))
	t.Cleanup(s.srv.Close)
	return s
}

func (s *keyServer) client() *KeyClient {
	return &KeyClient{URL: s.srv.URL, Client: s.srv.Client(), KeyTTL: 30 * time.Second}
}

// key makes a well-formed key of id (12 hex digits) and a secret letter.
func key(id string, secret byte) string {
	return APIKeyPrefix + "k" + id + "_" + strings.Repeat(string(secret), 43)
}

func valid(w http.ResponseWriter, expires time.Time) {
	_ = json.NewEncoder(w).Encode(Principal{Subject: "key:k1", Role: User, Scopes: []Permission{Stream}, Expires: expires})
}

// Concurrent checks of one key ask the auth service once.
func TestKeyChecksOfOneKeyAskOnce(t *testing.T) {
	release := make(chan struct{})
	s := newKeyServer(t, func(_ string, w http.ResponseWriter) { <-release; valid(w, time.Time{}) })
	c := s.client()
	k := key("000000000001", 'a')
	var wg sync.WaitGroup
	for range 20 {
		wg.Go(func() {
			if _, err := c.Verify(context.Background(), k); err != nil {
				t.Error(err)
			}
		})
	}
	for deadline := time.Now().Add(5 * time.Second); !c.Cached(k); time.Sleep(time.Millisecond) { // the first check is in flight
		if time.Now().After(deadline) {
			t.Fatal("no check started")
		}
	}
	close(release)
	wg.Wait()
	if n := s.checks.Load(); n != 1 {
		t.Errorf("20 concurrent checks of one key asked %d times", n)
	}
}

// A key id the auth service does not know is refused a while whatever its
// secret; a wrong secret of a known id refuses that key only.
func TestUnknownKeyIDsAreRefusedWithoutAsking(t *testing.T) {
	s := newKeyServer(t, func(k string, w http.ResponseWriter) {
		w.WriteHeader(http.StatusUnauthorized)
		code := "invalid_token"
		if strings.HasPrefix(k, APIKeyPrefix+"k0000000000ff") {
			code = UnknownKeyCode
		}
		_ = json.NewEncoder(w).Encode(map[string]string{"error": code})
	})
	c := s.client()
	for _, secret := range []byte("abcdef") {
		if _, err := c.Verify(context.Background(), key("0000000000ff", secret)); err == nil {
			t.Fatal("an unknown key was taken")
		}
	}
	if n := s.checks.Load(); n != 1 {
		t.Errorf("6 secrets of one unknown id asked %d times, want 1", n)
	}
	for _, secret := range []byte("ab") {
		_, _ = c.Verify(context.Background(), key("000000000001", secret))
	}
	if n := s.checks.Load(); n != 3 {
		t.Errorf("2 wrong secrets of a known id asked %d times in all, want 3: one refusal must not refuse the key's owner", n)
	}
}

// A full cache drops the least recently used answer, not every answer.
func TestKeyAnswersDropTheLeastRecentlyUsed(t *testing.T) {
	s := newKeyServer(t, func(_ string, w http.ResponseWriter) { valid(w, time.Time{}) })
	c := s.client()
	c.MaxAnswers = 2
	k1, k2, k3 := key("000000000001", 'a'), key("000000000002", 'a'), key("000000000003", 'a')
	for _, k := range []string{k1, k2, k1, k3} {
		if _, err := c.Verify(context.Background(), k); err != nil {
			t.Fatal(err)
		}
	}
	if !c.Cached(k1) || c.Cached(k2) || !c.Cached(k3) || s.checks.Load() != 3 {
		t.Errorf("after k1 k2 k1 k3 with room for 2: cached %v %v %v, %d checks; want k1 and k3 kept, 3 checks",
			c.Cached(k1), c.Cached(k2), c.Cached(k3), s.checks.Load())
	}
}

// A key's answer is not kept past the key's expiry.
func TestKeyAnswersEndAtTheKeysExpiry(t *testing.T) {
	expires := time.Now().Add(100 * time.Millisecond)
	s := newKeyServer(t, func(_ string, w http.ResponseWriter) { valid(w, expires) })
	c := s.client()
	k := key("000000000001", 'a')
	if _, err := c.Verify(context.Background(), k); err != nil || !c.Cached(k) {
		t.Fatalf("a valid key: %v, cached %v", err, c.Cached(k))
	}
	deadline := time.Now().Add(5 * time.Second)
	for c.Cached(k) {
		if time.Now().After(deadline) {
			t.Fatal("a key's answer is kept past the key's expiry")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// A key granted no scope comes back from the auth service with none, not
// with every permission of its role.
func TestAKeyWithNoScopeCanDoNothing(t *testing.T) {
	s := newKeyServer(t, func(_ string, w http.ResponseWriter) {
		_ = json.NewEncoder(w).Encode(Principal{Subject: "key:k1", Role: Admin, Scopes: []Permission{}})
	})
	p, err := s.client().Verify(context.Background(), key("000000000001", 'a'))
	if err != nil || p.Can(ManageUsers) || p.Can(Stream) {
		t.Errorf("a key of no scope: %v, may manage users %v", err, p.Can(ManageUsers))
	}
}

// A revoked key, and every key of a revoked user (demoted, disabled: the
// auth service then refuses them), are asked about again at once; the other
// answers kept stay.
func TestRevocationsDropKeptKeyAnswers(t *testing.T) {
	owners := map[string]string{"k000000000001": "user:7", "k000000000002": "user:8", "k000000000003": "user:7"}
	s := newKeyServer(t, func(k string, w http.ResponseWriter) {
		id := KeyID(k)
		_ = json.NewEncoder(w).Encode(Principal{Subject: "key:" + id, Role: User, Owner: owners[id]})
	})
	c := s.client()
	revoked := &Revocations{Keep: time.Hour, OnRevoke: c.Forget}
	keys := []string{key("000000000001", 'a'), key("000000000002", 'b'), key("000000000003", 'c')}
	verifyAll := func() {
		t.Helper()
		for _, k := range keys {
			if _, err := c.Verify(context.Background(), k); err != nil {
				t.Fatal(err)
			}
		}
	}
	verifyAll()
	verifyAll()
	if n := s.checks.Load(); n != 3 {
		t.Fatalf("3 keys checked twice asked %d times, want 3", n)
	}
	for _, step := range []struct {
		r     Revocation
		asked int64 // checks added by verifying the three keys again
	}{
		{Revocation{Kind: "session", ID: "f1"}, 0},
		{Revocation{Kind: "user", ID: "9", Version: 2}, 0},
		{Revocation{Kind: "user", ID: "7", Version: 2}, 2}, // both keys of user 7
		{Revocation{Kind: "key", ID: "k000000000002"}, 1},
	} {
		before := s.checks.Load()
		revoked.Add(Revocation{Schema: SchemaRevoked, Kind: step.r.Kind, ID: step.r.ID, Version: step.r.Version, At: time.Now()})
		verifyAll()
		if got := s.checks.Load() - before; got != step.asked {
			t.Errorf("after revoking %s %s: %d keys asked about again, want %d", step.r.Kind, step.r.ID, got, step.asked)
		}
	}
}
