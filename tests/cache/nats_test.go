package cache

import (
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/ihr-go/ihr/pkg/testkit"
)

// TestNATSOutage: while the results stream cannot be followed, no change
// can be announced, so cached answers fall back to a short lifetime
// (IHR_CACHE_FALLBACK_TTL): a change made meanwhile shows once it runs
// out. Reads never fail, readiness says degraded, and once NATS is back
// answers are kept as long as nothing changes again.
func TestNATSOutage(t *testing.T) {
	db := testkit.NewDB(t)
	testkit.Exec(t, db, `INSERT INTO ihr_asn VALUES (2497, 'IIJ', true, false, true)`)
	u, err := url.Parse(testkit.NATSURL(t))
	if err != nil {
		t.Fatal(err)
	}
	proxy := testkit.NewProxy(t, u.Host)
	env := testkit.With(testkit.ServiceEnv(t, db), map[string]string{"IHR_NATS_URL": "nats://" + proxy.Addr(), "IHR_CACHE_FALLBACK_TTL": "1s"})
	query := testkit.StartBinary(t, "query", env)
	testkit.Eventually(t, "the cache follows the results stream", func() bool {
		_, body := testkit.Get(t, query+"/debug/cache")
		return strings.Contains(body, `"ready":true`)
	})
	path := query + "/ihr/api/networks/?number=2497"
	if a := get(t, path); a.from != "miss" {
		t.Fatalf("first read from %s", a.from)
	}
	if a := get(t, path); a.from != "l1" {
		t.Fatalf("second read from %s", a.from)
	}

	proxy.Cut()
	testkit.Eventually(t, "readiness reports NATS down, reads still served", func() bool {
		code, body := testkit.Get(t, query+"/readyz")
		return code == 200 && strings.Contains(body, `"status":"degraded"`) && strings.Contains(body, `"nats":{"status":"down"`)
	})
	testkit.Eventually(t, "the cache knows it does not follow the stream", func() bool {
		_, body := testkit.Get(t, query+"/debug/cache")
		return strings.Contains(body, `"healthy":false`)
	})
	// A change no event announces (the pipelines cannot publish either).
	testkit.Exec(t, db, `UPDATE ihr_asn SET name = 'IIJ renamed' WHERE number = 2497`)
	changed := time.Now()
	testkit.Eventually(t, "the change shows once the fallback lifetime runs out", func() bool {
		a := get(t, path)
		return a.status == 200 && strings.Contains(a.body, "IIJ renamed")
	})
	if waited := time.Since(changed); waited > 10*time.Second {
		t.Errorf("the change took %v to show, with a 1 s fallback lifetime", waited)
	}
	// Answers read during the outage are still kept for that short while.
	get(t, path)
	if a := get(t, path); a.from != "l1" {
		t.Errorf("during the outage an answer just read comes from %s, want l1", a.from)
	}

	proxy.Restore()
	testkit.Eventually(t, "the cache follows the stream again", func() bool {
		_, body := testkit.Get(t, query+"/debug/cache")
		return strings.Contains(body, `"healthy":true`)
	})
	get(t, path)
	// Not waiting for something to happen: letting the answer outlive the
	// fallback lifetime, which it does now because the stream says nothing changed.
	time.Sleep(1500 * time.Millisecond)
	if a := get(t, path); a.from != "l1" || !strings.Contains(a.body, "IIJ renamed") {
		t.Errorf("after the outage: from %s, %s", a.from, clip(a.body))
	}
}
