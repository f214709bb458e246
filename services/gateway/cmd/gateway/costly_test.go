package main

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
)

// Logins, registrations, reset requests and the token endpoint cost a
// password hash or a mail whoever sends them: one address gets few of
// them, whatever its role's limit, and reads are not counted with them.
func TestCredentialRoutesAreLimitedPerAddress(t *testing.T) {
	b := newBackend(t)
	gw := startGuarded(t, b, map[string]string{"IHR_RATE_CREDENTIALS_SECOND": "0.01", "IHR_RATE_CREDENTIALS_BURST": "3"})
	paths := []string{"/ihr/api/users/login", "/ihr/api/users/register", "/ihr/api/users/password/forgot", "/ihr/api/auth/token", "/ihr/api/users/login/"}
	got := map[int]int{}
	var refused *http.Response
	var body string
	for i := range 10 {
		resp, s := do(t, "POST", gw.URL+paths[i%len(paths)], strings.NewReader(`{}`), "Content-Type", "application/json")
		if resp.StatusCode == http.StatusOK {
			<-b.bodies
		} else {
			refused, body = resp, s
		}
		got[resp.StatusCode]++
	}
	if got[http.StatusOK] != 3 || got[http.StatusTooManyRequests] != 7 {
		t.Fatalf("10 logins and the like from one address, a burst of 3: %v", got)
	}
	var e map[string]any
	if err := json.Unmarshal([]byte(body), &e); err != nil || e["error"] != "rate_limited" || refused.Header.Get("Retry-After") == "" ||
		!strings.Contains(e["message"].(string), "from this address") {
		t.Errorf("the refusal: %v %s", refused.Header, body)
	}
	if resp, _ := do(t, "GET", gw.URL+"/ihr/api/networks/", nil); resp.StatusCode != http.StatusOK {
		t.Errorf("a read after the logins were refused: %d", resp.StatusCode)
	}
	if resp, _ := do(t, "POST", gw.URL+"/ihr/api/users/password/reset", strings.NewReader(`{}`)); resp.StatusCode != http.StatusOK {
		t.Errorf("a route that checks a mailed code, not a password: %d", resp.StatusCode)
	} else {
		<-b.bodies
	}
}

// Made-up API keys cost the auth service a lookup each: one address gets
// few of them checked, before the gateway asks.
func TestUnknownKeysAreLimitedPerAddress(t *testing.T) {
	b := newBackend(t)
	var checks atomic.Int64
	auth := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/internal/api-keys/verify" {
			checks.Add(1)
			w.WriteHeader(http.StatusUnauthorized)
		}
	}))
	defer auth.Close()
	gw := startGuarded(t, b, map[string]string{"IHR_AUTH_URL": auth.URL, "IHR_RATE_KEY_CHECKS_SECOND": "0.01", "IHR_RATE_KEY_CHECKS_BURST": "5"})
	got := map[int]int{}
	for range 50 {
		var id [6]byte
		_, _ = rand.Read(id[:])
		resp, _ := do(t, "GET", gw.URL+"/ihr/api/hegemony/", nil, "Authorization", "Bearer ihr_k"+hex.EncodeToString(id[:])+"_"+strings.Repeat("A", 43))
		got[resp.StatusCode]++
	}
	if n := checks.Load(); n != 5 || got[http.StatusUnauthorized] != 5 || got[http.StatusTooManyRequests] != 45 {
		t.Errorf("50 made-up keys from one address, 5 checks allowed: %d checks, answers %v", n, got)
	}
}

// The auth service is told the client's address as the gateway found it
// (through trusted proxies, whatever the client wrote), for its audit log.
func TestAuthIsToldTheClientAddress(t *testing.T) {
	seen := make(chan string, 4)
	auth := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/healthz" {
			seen <- r.Header.Get("X-Real-Ip")
		}
	}))
	defer auth.Close()
	for _, c := range []struct {
		trusted, xff, realIP, want string
	}{
		{"127.0.0.1", "203.0.113.5", "", "203.0.113.5"},         // behind a load balancer
		{"", "203.0.113.5", "198.51.100.66", "127.0.0.1"},       // no proxy trusted: neither header believed
		{"127.0.0.1", "2001:db8:1:2::9", "", "2001:db8:1:2::9"}, // an IPv6 client: whole, not its /64
	} {
		gw := startGuarded(t, newBackend(t), map[string]string{"IHR_AUTH_URL": auth.URL, "IHR_TRUSTED_PROXIES": c.trusted})
		h := []string{"X-Forwarded-For", c.xff}
		if c.realIP != "" {
			h = append(h, "X-Real-Ip", c.realIP)
		}
		do(t, "POST", gw.URL+"/ihr/api/users/login", strings.NewReader(`{}`), h...)
		if got := <-seen; got != c.want {
			t.Errorf("trusted %q, X-Forwarded-For %q: the auth service was told %q, want %q", c.trusted, c.xff, got, c.want)
		}
	}
}
