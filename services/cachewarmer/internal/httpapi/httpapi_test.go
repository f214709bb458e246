package httpapi

import (
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/ihr-go/ihr/services/cachewarmer/internal/warm"
)

func TestDebugWarm(t *testing.T) {
	h := Handler(func() []warm.Run {
		return []warm.Run{{Trigger: warm.TriggerEvent, Outcome: warm.RunDone, Counts: map[warm.Outcome]int{warm.Warmed: 1},
			Keys: []warm.KeyResult{{Key: "networks/?number=2497", Outcome: warm.Warmed, Status: 200, Cache: "miss", Millis: 1.5}}}}
	})
	for _, tc := range []struct {
		method, path string
		status       int
		body         string
	}{
		{"GET", "/debug/warm", 200, `"keys":[{"key":"networks/?number=2497","outcome":"warmed","status":200,"x_cache":"miss","latency_ms":1.5}]`},
		{"GET", "/debug/warm", 200, `"trigger":"event","duration_seconds":0,"outcome":"done"`},
		{"POST", "/debug/warm", 404, ""}, // read-only
		{"GET", "/ihr/api/networks/", 404, `"error":"not_found"`},
	} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(tc.method, tc.path, nil))
		if rec.Code != tc.status || !strings.Contains(rec.Body.String(), tc.body) {
			t.Errorf("%s %s: %d %s, want %d with %s", tc.method, tc.path, rec.Code, rec.Body, tc.status, tc.body)
		}
	}
}
