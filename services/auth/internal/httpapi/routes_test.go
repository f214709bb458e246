package httpapi

import (
	"slices"
	"strings"
	"testing"

	"github.com/ihr-go/ihr/pkg/authn"
)

// Every route served is in the permission table, and every route of the
// table under /ihr/api/auth/ and /ihr/api/users is served.
func TestRoutesMatchThePermissionTable(t *testing.T) {
	served := (&API{}).Patterns()
	for _, p := range served {
		if !slices.ContainsFunc(authn.Routes, func(r authn.Route) bool { return r.Pattern == p }) {
			t.Errorf("%s is served but not in authn.Routes", p)
		}
	}
	for _, r := range authn.Routes {
		if strings.HasPrefix(r.Path(), "/ihr/api/auth/") || strings.HasPrefix(r.Path(), "/ihr/api/users") {
			if !slices.Contains(served, r.Pattern) {
				t.Errorf("%s is in authn.Routes but not served", r.Pattern)
			}
		}
	}
}
