package main

import (
	"bytes"
	"net/http"
	"regexp"
	"strings"
	"testing"

	"github.com/ihr-go/ihr/pkg/service"
	"github.com/ihr-go/ihr/pkg/testkit"
)

// rig is an auth service on a scratch database, mailing to a test SMTP server.
type rig struct {
	t    *testing.T
	db   string
	smtp *testkit.SMTPServer
	svc  *testkit.Service
	env  map[string]string
	seen [][]byte // mails whose code was taken
}

func (r *rig) used(m testkit.Mail) bool {
	for _, d := range r.seen {
		if bytes.Equal(d, m.Data) {
			return true
		}
	}
	return false
}

func newRig(t *testing.T, more map[string]string) *rig {
	t.Helper()
	r := &rig{t: t, db: testkit.NewDB(t), smtp: testkit.SMTP(t)}
	testkit.Exec(t, r.db, `INSERT INTO ihr_asn (number, name, tartiflette, disco, ashash) VALUES
		(2497, 'IIJ Internet Initiative Japan Inc.', true, true, true), (3356, 'LEVEL3', true, true, true), (15169, 'GOOGLE', true, true, true)`)
	r.env = testkit.With(testkit.ServiceEnv(t, r.db), map[string]string{
		"IHR_SMTP_URL":        r.smtp.URL(),
		"IHR_AUTH_LINK_BASE":  "https://ihr.example/account",
		"IHR_AUTH_LOCK_AFTER": "3",
		"IHR_AUTH_LOCK_FOR":   "2s",
	})
	r.env = testkit.With(r.env, more)
	r.svc = testkit.StartService(t, "auth", service.Runner(spec()), r.env)
	testkit.WaitStatus(t, r.svc.URL+"/readyz", http.StatusOK)
	return r
}

// reply is an answer of the service.
type reply = testkit.Reply

func (r *rig) do(method, path, token string, body any) reply {
	r.t.Helper()
	return testkit.Request(r.t, method, r.svc.URL+path, token, body)
}

// must does the request and fails unless it answers status.
func (r *rig) must(status int, method, path, token string, body any) reply {
	r.t.Helper()
	res := r.do(method, path, token, body)
	if res.Status != status {
		logs := ""
		if res.Status >= 500 {
			logs = "\nlogs:\n" + r.svc.Logs()
		}
		r.t.Fatalf("%s %s: %d %s, want %d%s", method, path, res.Status, res.Raw, status, logs)
	}
	return res
}

var codeInLink = regexp.MustCompile(`\?code=([A-Za-z0-9_-]+)`)

// mailedCode waits for a mail to to whose subject has subject, and returns
// the code of its link.
func (r *rig) mailedCode(to, subject string) string {
	r.t.Helper()
	m := r.smtp.WaitFor(r.t, func(m testkit.Mail) bool {
		return len(m.To) == 1 && m.To[0] == to && strings.Contains(m.Subject, subject) && !r.used(m)
	})
	r.seen = append(r.seen, m.Data)
	got := codeInLink.FindStringSubmatch(m.Text)
	if got == nil || !strings.Contains(m.Text, "https://ihr.example/account/") {
		r.t.Fatalf("no link with a code in the mail %q:\n%s", m.Subject, m.Text)
	}
	return got[1]
}

// register makes an active account and returns its tokens.
func (r *rig) register(email, password string) reply {
	r.t.Helper()
	r.must(http.StatusAccepted, "POST", "/ihr/api/users/register", "", map[string]string{"email": email, "password": password})
	r.must(http.StatusOK, "POST", "/ihr/api/users/confirm", "", map[string]string{"code": r.mailedCode(email, "Confirm your IHR account")})
	return r.must(http.StatusOK, "POST", "/ihr/api/users/login", "", map[string]string{"email": email, "password": password})
}

// admin makes an admin account and returns its access token.
func (r *rig) admin(email string) string {
	r.t.Helper()
	r.register(email, "admin password 0123")
	testkit.Exec(r.t, r.db, `UPDATE auth_users SET role = 'admin' WHERE email = $1`, email)
	return r.must(http.StatusOK, "POST", "/ihr/api/users/login", "", map[string]string{"email": email, "password": "admin password 0123"}).Str("access_token")
}

func (r *rig) count(sql string, args ...any) int {
	r.t.Helper()
	return testkit.Scalar[int](r.t, r.db, sql, args...)
}
