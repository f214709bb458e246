package health

import (
	"context"
	"encoding/json"
	"errors"
	"net/http/httptest"
	"testing"
	"time"
)

func probe(err error) func(context.Context) error {
	return func(context.Context) error { return err }
}

func TestReady(t *testing.T) {
	down := errors.New("connection refused")
	tests := []struct {
		name       string
		checks     []Check
		wantCode   int
		wantStatus string
	}{
		{"no checks", nil, 200, StatusReady},
		{"all up", []Check{{"postgres", true, probe(nil)}, {"redis", false, probe(nil)}}, 200, StatusReady},
		{"optional down", []Check{{"postgres", true, probe(nil)}, {"redis", false, probe(down)}}, 200, StatusDegraded},
		{"critical down", []Check{{"postgres", true, probe(down)}, {"redis", false, probe(down)}}, 503, StatusNotReady},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := New(time.Second)
			for _, ch := range tt.checks {
				c.Add(ch.Name, ch.Critical, ch.Probe)
			}
			rec := httptest.NewRecorder()
			c.Ready(rec, httptest.NewRequest("GET", "/readyz", nil))
			var rep Report
			if err := json.Unmarshal(rec.Body.Bytes(), &rep); err != nil {
				t.Fatal(err)
			}
			if rec.Code != tt.wantCode || rep.Status != tt.wantStatus {
				t.Errorf("got %d %s, want %d %s (%s)", rec.Code, rep.Status, tt.wantCode, tt.wantStatus, rec.Body)
			}
			for _, ch := range tt.checks {
				r := rep.Checks[ch.Name]
				if (r.Status == StatusOK) != (ch.Probe(context.Background()) == nil) {
					t.Errorf("check %s reported %+v", ch.Name, r)
				}
			}
		})
	}
}

func TestProbeTimeout(t *testing.T) {
	c := New(20 * time.Millisecond)
	c.Add("slow", true, func(ctx context.Context) error { <-ctx.Done(); return ctx.Err() })
	if rep := c.Run(context.Background()); rep.Status != StatusNotReady {
		t.Fatalf("a probe that never answers must fail: %+v", rep)
	}
}
