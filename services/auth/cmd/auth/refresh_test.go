package main

import (
	"fmt"
	"net/http"
	"sync"
	"testing"
)

// refresh spends refresh token rt.
func (r *rig) refresh(rt string) reply {
	r.t.Helper()
	return r.do("POST", "/ihr/api/users/refresh", "", map[string]string{"refresh_token": rt})
}

// Concurrent uses of one refresh token: one wins, the others are replays,
// and the replays revoke the whole login, the winner's new token included.
func TestConcurrentRefreshesRevokeTheWinnerToo(t *testing.T) {
	t.Parallel()
	r := newRig(t, nil)
	for round := range 5 {
		rt := r.register(fmt.Sprintf("u%d@example.org", round), "some password 123").Str("refresh_token")
		out := make([]reply, 8)
		var wg sync.WaitGroup
		for i := range out {
			wg.Go(func() { out[i] = r.refresh(rt) })
		}
		wg.Wait()
		var won []reply
		for _, o := range out {
			switch o.Status {
			case http.StatusOK:
				won = append(won, o)
			case http.StatusUnauthorized:
			default:
				t.Fatalf("round %d: a refresh answered %d %s", round, o.Status, o.Raw)
			}
		}
		if len(won) != 1 {
			t.Fatalf("round %d: %d of %d concurrent refreshes of one token won, want 1", round, len(won), len(out))
		}
		if again := r.refresh(won[0].Str("refresh_token")); again.Status != http.StatusUnauthorized {
			t.Errorf("round %d: the winner's refresh token works after the replays revoked its login: %d", round, again.Status)
		}
	}
}

// A thief refreshing a stolen token in a loop loses the login when its
// owner changes the password, whatever refresh was in flight then.
func TestPasswordChangeEndsALoginRefreshedMeanwhile(t *testing.T) {
	t.Parallel()
	r := newRig(t, nil)
	for round := range 5 {
		email := fmt.Sprintf("v%d@example.org", round)
		password := fmt.Sprintf("victim password %d", round)
		stolen := r.register(email, password).Str("refresh_token")

		var mu sync.Mutex
		latest := stolen
		stop, refreshed := make(chan struct{}), make(chan struct{}, 1)
		var wg sync.WaitGroup
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				mu.Lock()
				cur := latest
				mu.Unlock()
				res := r.refresh(cur)
				if res.Status != http.StatusOK {
					return
				}
				mu.Lock()
				latest = res.Str("refresh_token")
				mu.Unlock()
				select {
				case refreshed <- struct{}{}:
				default:
				}
			}
		})
		<-refreshed // the thief is at work
		a := r.must(http.StatusOK, "POST", "/ihr/api/users/login", "", map[string]string{"email": email, "password": password})
		r.must(http.StatusOK, "POST", "/ihr/api/users/me/password", a.Str("access_token"),
			map[string]string{"current_password": password, "new_password": password + " changed"})
		close(stop)
		wg.Wait()
		if res := r.refresh(latest); res.Status != http.StatusUnauthorized {
			t.Errorf("round %d: the thief's latest refresh token works after the password change: %d", round, res.Status)
		}
	}
}
