package httpapi

import (
	"net/http/httptest"
	"testing"
)

// The audit log names the client the gateway found, not its own peer.
func TestActorAddress(t *testing.T) {
	for _, c := range []struct {
		name     string
		realIP   string
		xff      string
		expected string
	}{
		{"told by the gateway", "198.51.100.7", "10.0.0.2", "198.51.100.7"},
		{"an IPv6 client", "2001:db8::7", "10.0.0.2", "2001:db8::7"},
		{"an older gateway: X-Forwarded-For", "", "192.0.2.1, 10.0.0.2", "10.0.0.2"},
		{"straight to the service", "", "", "192.0.2.99"},
	} {
		r := httptest.NewRequest("POST", "/ihr/api/users/login", nil)
		r.RemoteAddr = "192.0.2.99:4711"
		if c.realIP != "" {
			r.Header.Set("X-Real-Ip", c.realIP)
		}
		if c.xff != "" {
			r.Header.Set("X-Forwarded-For", c.xff)
		}
		if got := actorOf(r).IP; got != c.expected {
			t.Errorf("%s: %q, want %q", c.name, got, c.expected)
		}
	}
}
