package main

import (
	"fmt"
	"net/http"
	"sync"
	"testing"
)

// statuses sends n requests at once and counts their answers by status.
func (r *rig) statuses(n int, send func(i int) reply) map[int]int {
	r.t.Helper()
	var mu sync.Mutex
	var wg sync.WaitGroup
	got := map[int]int{}
	for i := range n {
		wg.Go(func() {
			res := send(i)
			mu.Lock()
			got[res.Status]++
			mu.Unlock()
		})
	}
	wg.Wait()
	return got
}

// Parallel guesses cannot outrun the lockout: with a lock after 3
// failures, 3 of 60 guesses sent at once are checked, the rest refused.
func TestParallelGuessesStopAtTheLockout(t *testing.T) {
	t.Parallel()
	r := newRig(t, map[string]string{"IHR_AUTH_LOCK_FOR": "60s"})
	r.register("w@example.org", "right password 1")
	got := r.statuses(60, func(i int) reply {
		return r.do("POST", "/ihr/api/users/login", "", map[string]string{"email": "w@example.org", "password": fmt.Sprintf("guess %d xxxxx", i)})
	})
	if got[http.StatusUnauthorized] != 3 || got[http.StatusTooManyRequests] != 57 {
		t.Errorf("60 parallel guesses, lock after 3: %v, want 3 checked (401) and 57 refused (429)", got)
	}
	if res := r.do("POST", "/ihr/api/users/login", "", map[string]string{"email": "W@Example.ORG", "password": "right password 1"}); res.Status != http.StatusTooManyRequests || res.Header.Get("Retry-After") == "" {
		t.Errorf("the right password while locked: %d %v", res.Status, res.Header)
	}
}

// The password asked again before a sensitive change counts towards the
// lockout, as at a login: a stolen access token does not buy guesses.
func TestCurrentPasswordGuessesLockToo(t *testing.T) {
	t.Parallel()
	r := newRig(t, map[string]string{"IHR_AUTH_LOCK_FOR": "60s"})
	const pw = "right password 1"
	access := r.register("x@example.org", pw).Str("access_token")
	for _, c := range []struct {
		method, path string
		body         map[string]string
	}{
		{"POST", "/ihr/api/users/me/password", map[string]string{"current_password": "guess one 12345", "new_password": "new password 123"}},
		{"POST", "/ihr/api/users/me/email", map[string]string{"password": "guess two 12345", "new_email": "y@example.org"}},
		{"DELETE", "/ihr/api/users/me", map[string]string{"password": "guess three 1234"}},
	} {
		r.must(http.StatusForbidden, c.method, c.path, access, c.body)
	}
	if res := r.do("DELETE", "/ihr/api/users/me", access, map[string]string{"password": pw}); res.Status != http.StatusTooManyRequests {
		t.Errorf("the right password after 3 wrong ones: %d %s, want 429", res.Status, res.Raw)
	}
	r.must(http.StatusTooManyRequests, "POST", "/ihr/api/users/login", "", map[string]string{"email": "x@example.org", "password": pw})
}

// Password hashes are bounded: past the slots and their short wait, a
// request is refused at once, 503 with Retry-After, instead of taking
// another 19 MiB.
func TestPasswordHashesAreBounded(t *testing.T) {
	t.Parallel()
	r := newRig(t, map[string]string{"IHR_AUTH_HASH_CONCURRENCY": "1", "IHR_AUTH_HASH_WAIT": "0s", "IHR_AUTH_LOCK_AFTER": "100"})
	var mu sync.Mutex
	var busy []reply
	got := r.statuses(40, func(i int) reply {
		res := r.do("POST", "/ihr/api/users/login", "", map[string]string{"email": fmt.Sprintf("x%d@example.org", i), "password": "whatever 1234"})
		if res.Status == http.StatusServiceUnavailable {
			mu.Lock()
			busy = append(busy, res)
			mu.Unlock()
		}
		return res
	})
	if len(busy) == 0 || got[http.StatusUnauthorized]+len(busy) != 40 {
		t.Fatalf("40 concurrent logins with one hashing slot: %v, want 401s and some 503s only", got)
	}
	if b := busy[0]; b.Str("error") != "busy" || b.Header.Get("Retry-After") != "1" {
		t.Errorf("a busy refusal: %v %s", b.Header, b.Raw)
	}
}
