package cache

import (
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ihr-go/ihr/pkg/events"
	"github.com/ihr-go/ihr/pkg/testkit"
)

// TestMaterializedLatestView: a new bin makes the query services read the
// views of the latest bin they keep ready again, before anyone asks: one
// replica reads it, the other finds it in Redis, and the first request
// after the new data is a hit holding it.
func TestMaterializedLatestView(t *testing.T) {
	view := "hegemony/?af=4&originasn=2497"
	env := testkit.With(testkit.ServiceEnv(t, testkit.NewDB(t)), map[string]string{"IHR_CACHE_MATERIALIZE": view})
	s := newStack(t, env)
	other := testkit.StartBinary(t, "query", env)
	rows := []events.HegemonyRow{{OriginASN: 2497, ASN: 2497, Hege: 1}, {OriginASN: 2497, ASN: 174, Hege: 0.5}}
	first := time.Date(2026, 12, 3, 0, 0, 0, 0, time.UTC)
	s.bin(events.Hegemony, 4, first, "mat-1", rows)
	testkit.Eventually(t, "the view of the first bin is read ahead", func() bool { return materialized(t, s.query)+materialized(t, other) >= 1 })

	before := materialized(t, s.query) + materialized(t, other)
	a := s.bin(events.Hegemony, 4, first.Add(15*time.Minute), "mat-2", rows[:1])
	testkit.Eventually(t, "the view of the new bin is read ahead by one replica", func() bool {
		return materialized(t, s.query)+materialized(t, other) > before
	})
	for _, q := range []string{s.query, other} {
		got := get(t, q+"/ihr/api/"+view)
		if got.from != "l1" && got.from != "l2" {
			t.Errorf("%s: the first read after the new bin comes from %s, want memory or Redis", q, got.from)
		}
		if !strings.Contains(got.body, `"timebin":"2026-12-03T00:15:00Z"`) || !strings.HasPrefix(got.body, `{"count":1,`) {
			t.Errorf("%s: the view does not hold the new bin: %s", q, clip(got.body))
		}
	}
	if q := s.queryState(); q.Position < a.seq {
		t.Errorf("position %d, the change was %d", q.Position, a.seq)
	}
	_, m1 := testkit.Get(t, s.query+"/metrics")
	_, m2 := testkit.Get(t, other+"/metrics")
	if !strings.Contains(m1+m2, `outcome="other_replica"`) {
		t.Error("both replicas read the view: Redis did not share the work")
	}
}

var materializedDone = regexp.MustCompile(`ihr_cache_materializations_total\{[^}]*outcome="done"[^}]*\} (\d+)`)

// materialized is how many views a query service read ahead.
func materialized(t *testing.T, query string) int {
	_, body := testkit.Get(t, query+"/metrics")
	n := 0
	for _, m := range materializedDone.FindAllStringSubmatch(body, -1) {
		v, _ := strconv.Atoi(m[1])
		n += v
	}
	return n
}
