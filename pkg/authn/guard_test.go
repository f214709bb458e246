package authn

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
)

type fakeVerifier map[string]Principal

func (f fakeVerifier) Verify(_ context.Context, cred string) (Principal, error) {
	switch cred {
	case "down":
		return Principal{}, fmt.Errorf("%w: auth service unreachable", ErrUnavailable)
	}
	if p, ok := f[cred]; ok {
		return p, nil
	}
	return Principal{}, errors.New("unknown token")
}

func TestGuard(t *testing.T) {
	v := fakeVerifier{
		"user":     {Subject: "user:2", Role: User},
		"admin":    {Subject: "user:1", Role: Admin},
		"pipeline": {Subject: "client:c", Role: Pipeline, Datasets: []string{"hegemony"}},
		"readkey":  {Subject: "key:k", Role: Pipeline, Scopes: []Permission{}, Datasets: []string{"hegemony"}},
	}
	var reached Principal
	h := Identify(v, Authorize(Routes, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { reached = FromContext(r.Context()) })))
	for _, c := range []struct {
		method, path, auth string
		status             int
	}{
		{"GET", "/ihr/api/hegemony/?originasn=2497", "", 200},
		{"GET", "/ihr/api/hegemony/", "Bearer user", 200},
		{"GET", "/ihr/api/hegemony/", "Bearer forged", 401}, // a bad token is refused even where none is needed
		{"GET", "/ihr/api/hegemony/", "Basic dXNlcjpwYXNz", 200},
		{"GET", "/ihr/api/hegemony/", "Bearer down", 503},
		{"POST", "/ihr/api/users/login", "", 200},
		{"GET", "/ihr/api/users/me", "", 401},
		{"GET", "/ihr/api/users/me", "Bearer user", 200},
		{"GET", "/ihr/api/users/me", "Bearer pipeline", 403},
		{"GET", "/ihr/api/users", "Bearer user", 403},
		{"GET", "/ihr/api/users/5", "Bearer user", 403},
		{"PATCH", "/ihr/api/users/5", "Bearer user", 403},
		{"GET", "/ihr/api/users", "Bearer admin", 200},
		{"POST", "/ihr/api/auth/introspect", "Bearer user", 403},
		{"POST", "/ihr/api/auth/signing-keys/rotate", "Bearer user", 403},
		{"POST", "/ihr/api/ingest/hegemony", "", 401},
		{"POST", "/ihr/api/ingest/hegemony", "Bearer user", 403},
		{"POST", "/ihr/api/ingest/hegemony", "Bearer pipeline", 200},
		{"POST", "/ihr/api/ingest/hegemony/", "Bearer pipeline", 200},
		{"POST", "/ihr/api/ingest/atlas_delay", "Bearer pipeline", 403}, // another dataset
		{"POST", "/ihr/api/ingest/atlas_delay/", "Bearer pipeline", 403},
		{"POST", "/ihr/api/ingest/hegemony", "Bearer readkey", 403}, // no ingest scope
		{"POST", "/ihr/api/ingest/atlas_delay", "Bearer admin", 200},
	} {
		req := httptest.NewRequest(c.method, c.path, nil)
		if c.auth != "" {
			req.Header.Set("Authorization", c.auth)
		}
		w := httptest.NewRecorder()
		reached = Principal{Subject: "none"}
		h.ServeHTTP(w, req)
		if w.Code != c.status {
			t.Errorf("%s %s %q: %d %s, want %d", c.method, c.path, c.auth, w.Code, w.Body, c.status)
		}
		if (w.Code == 200) != (reached.Subject != "none") {
			t.Errorf("%s %s %q: reached the handler %v with status %d", c.method, c.path, c.auth, reached.Subject != "none", w.Code)
		}
		if w.Code == 401 && w.Header().Get("WWW-Authenticate") == "" {
			t.Errorf("%s %s %q: 401 without a challenge", c.method, c.path, c.auth)
		}
	}
}

// TestIdentifyKeepsTheRoute: the pattern a mux behind Identify matched
// reaches the request the handler in front of it passed on, where the
// request metrics read their route label, credentials or not.
func TestIdentifyKeepsTheRoute(t *testing.T) {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /ihr/api/ingest/{dataset}", func(http.ResponseWriter, *http.Request) {})
	h := Identify(fakeVerifier{"pipeline": {Subject: "client:c", Role: Pipeline}}, Authorize(Routes, mux))
	for _, auth := range []string{"", "Bearer pipeline", "Bearer forged"} {
		r := httptest.NewRequest("POST", "/ihr/api/ingest/hegemony", nil)
		if auth != "" {
			r.Header.Set("Authorization", auth)
		}
		h.ServeHTTP(httptest.NewRecorder(), r)
		want := "POST /ihr/api/ingest/{dataset}" // the route table's pattern, matched by Authorize
		if r.Pattern != want {
			t.Errorf("Authorization %q: route %q, want %q", auth, r.Pattern, want)
		}
	}
}
