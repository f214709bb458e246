package testkit

import (
	"net/http"
	"regexp"
	"strings"
	"testing"
)

var codeInLink = regexp.MustCompile(`\?code=([A-Za-z0-9_-]+)`)

// SignUp registers an account at base (a gateway or the auth service),
// confirms it with the code of the mail smtp received, and logs it in. It
// returns the confirmation code and the login's answer (access_token,
// refresh_token).
func SignUp(t testing.TB, base string, smtp *SMTPServer, email, password string) (string, Reply) {
	t.Helper()
	must := func(status int, path string, body any) Reply {
		t.Helper()
		r := Request(t, "POST", base+path, "", body)
		if r.Status != status {
			t.Fatalf("POST %s: %d %s, want %d", path, r.Status, r.Raw, status)
		}
		return r
	}
	must(http.StatusAccepted, "/ihr/api/users/register", map[string]string{"email": email, "password": password})
	m := smtp.WaitFor(t, func(m Mail) bool {
		return m.To[0] == email && strings.Contains(m.Subject, "Confirm your IHR account")
	})
	code := codeInLink.FindStringSubmatch(m.Text)
	if code == nil {
		t.Fatalf("no code in %s", m.Text)
	}
	must(http.StatusOK, "/ihr/api/users/confirm", map[string]string{"code": code[1]})
	return code[1], must(http.StatusOK, "/ihr/api/users/login", map[string]string{"email": email, "password": password})
}
