package main

import (
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ihr-go/ihr/pkg/testkit"
)

// TestMetrics: the service reports its mail queue and alarm consumers,
// its dead letters, the mails sent, and the route of a request that
// carries credentials (not "unmatched").
func TestMetrics(t *testing.T) {
	t.Parallel()
	r := newRig(t, nil)
	access := r.register("carol@example.org", "carol's password 123").Str("access_token")
	r.must(http.StatusOK, "GET", "/ihr/api/users/me", access, nil)

	want := []string{
		`ihr_jetstream_consumer_pending{consumer="auth-email",stream="IHR_TASKS"} 0`,
		`ihr_jetstream_consumer_ack_pending{consumer="auth-email",stream="IHR_TASKS"} 0`,
		`ihr_jetstream_consumer_redelivered{consumer="auth-email",stream="IHR_TASKS"} 0`,
		`ihr_jetstream_consumer_max_ack_pending{consumer="auth-alerts",stream="IHR_RESULTS"} `,
		`ihr_dlq_messages{subject="ihr.dlq.tasks"} 0`,
		`ihr_mail_tasks_total{kind="confirm",outcome="sent"} 1`,
		`http_server_request_duration_seconds_count{http_request_method="GET",http_response_status_code="200",http_route="GET /ihr/api/users/me"} 1`,
	}
	missing := want
	for deadline := time.Now().Add(10 * time.Second); len(missing) > 0 && time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		_, body := testkit.Get(t, r.svc.URL+"/metrics")
		missing = slices.DeleteFunc(slices.Clone(want), func(w string) bool { return strings.Contains(body, w) })
		if len(missing) > 0 && time.Now().Add(50*time.Millisecond).After(deadline) {
			t.Logf("/metrics:\n%s", body)
		}
	}
	for _, m := range missing {
		t.Errorf("/metrics lacks %s", m)
	}
}
