package main

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/ihr-go/ihr/pkg/testkit"
)

// waitCount waits until sql counts want.
func (r *rig) waitCount(want int, sql string, args ...any) {
	r.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for r.count(sql, args...) != want {
		if time.Now().After(deadline) {
			r.t.Fatalf("%s: %d, want %d", sql, r.count(sql, args...), want)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Anyone can make the service mail an address (registering it again,
// asking for a reset, naming it as one's new address): one mail of each
// kind a while, whatever the requests.
func TestMailsToAnAddressAreThrottled(t *testing.T) {
	t.Parallel()
	r := newRig(t, nil)
	access := r.register("alice@example.org", "alice's password 1").Str("access_token")
	for range 3 {
		r.must(http.StatusAccepted, "POST", "/ihr/api/users/register", "", map[string]string{"email": "alice@example.org", "password": "another password 1"})
		r.must(http.StatusAccepted, "POST", "/ihr/api/users/password/forgot", "", map[string]string{"email": "alice@example.org"})
	}
	r.waitCount(3, `SELECT count(*)::int FROM auth_audit WHERE action = 'reset_asked'`)
	if got := r.count(`SELECT count(*)::int FROM auth_audit WHERE action IN ('reset_asked', 'register_taken') AND detail->>'mailed' = 'true'`); got != 2 {
		t.Errorf("%d mails of 6 requests, want 2: one a kind", got)
	}
	if n := r.count(`SELECT count(*)::int FROM auth_codes WHERE purpose = 'reset'`); n != 1 {
		t.Errorf("%d reset codes made, want 1", n)
	}
	r.mailedCode("alice@example.org", "Reset your IHR password")
	r.smtp.WaitFor(t, func(m testkit.Mail) bool { return strings.Contains(m.Text, "already has one") })

	r.must(http.StatusAccepted, "POST", "/ihr/api/users/me/email", access, map[string]string{"password": "alice's password 1", "new_email": "victim@example.org"})
	if res := r.do("POST", "/ihr/api/users/me/email", access, map[string]string{"password": "alice's password 1", "new_email": "Victim@example.org"}); res.Status != http.StatusTooManyRequests || res.Str("error") != "mail_throttled" {
		t.Errorf("a second confirmation to one address: %d %s", res.Status, res.Raw)
	}
}

// A mailed code is for the account as it was: a disabled account stays
// disabled, a new password ends the codes asked before, and after a new
// address the old one's reset codes end and the old address is told.
func TestCodesEndWithWhatTheyWereFor(t *testing.T) {
	t.Parallel()
	r := newRig(t, map[string]string{"IHR_AUTH_MAIL_EVERY": "0s"})

	r.must(http.StatusAccepted, "POST", "/ihr/api/users/register", "", map[string]string{"email": "spam@example.org", "password": "spam password 1"})
	code := r.mailedCode("spam@example.org", "Confirm your IHR account")
	testkit.Exec(t, r.db, `UPDATE auth_users SET status = 'disabled' WHERE email = 'spam@example.org'`)
	r.must(http.StatusForbidden, "POST", "/ihr/api/users/confirm", "", map[string]string{"code": code})
	if n := r.count(`SELECT count(*)::int FROM auth_users WHERE status = 'disabled'`); n != 1 {
		t.Errorf("a confirmation code re-activated a disabled account")
	}

	access := r.register("bea@example.org", "bea's password 12").Str("access_token")
	forgot := func() string {
		r.must(http.StatusAccepted, "POST", "/ihr/api/users/password/forgot", "", map[string]string{"email": "bea@example.org"})
		return r.mailedCode("bea@example.org", "Reset your IHR password")
	}
	first, second := forgot(), forgot()
	r.must(http.StatusNoContent, "POST", "/ihr/api/users/password/reset", "", map[string]string{"code": first, "password": "bea's password 13"})
	r.must(http.StatusBadRequest, "POST", "/ihr/api/users/password/reset", "", map[string]string{"code": second, "password": "bea's password 14"})

	access = r.must(http.StatusOK, "POST", "/ihr/api/users/login", "", map[string]string{"email": "bea@example.org", "password": "bea's password 13"}).Str("access_token")
	reset := forgot()
	r.must(http.StatusAccepted, "POST", "/ihr/api/users/me/email", access, map[string]string{"password": "bea's password 13", "new_email": "bea@new.example.org"})
	r.must(http.StatusOK, "POST", "/ihr/api/users/email/confirm", "", map[string]string{"code": r.mailedCode("bea@new.example.org", "Confirm your new e-mail address")})
	r.must(http.StatusBadRequest, "POST", "/ihr/api/users/password/reset", "", map[string]string{"code": reset, "password": "bea's password 15"})
	notice := r.smtp.WaitFor(t, func(m testkit.Mail) bool {
		return len(m.To) == 1 && m.To[0] == "bea@example.org" && strings.Contains(m.Subject, "address of your IHR account changed")
	})
	if !strings.Contains(notice.Text, "bea@new.example.org") {
		t.Errorf("the notice to the old address does not name the new one:\n%s", notice.Text)
	}
}
