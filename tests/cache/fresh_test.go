package cache

import (
	"encoding/json"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/ihr-go/ihr/pkg/events"
	"github.com/ihr-go/ihr/pkg/testkit"
)

// TestFreshAfterPublish: round after round, a cached window is read, a
// pipeline publishes a new run of a bin in it, and as soon as its results
// event arrives a client asks once through the gateway: the answer must
// hold the new rows, every time. The time from publishing to the fresh
// answer is reported.
func TestFreshAfterPublish(t *testing.T) {
	s := newStack(t, testkit.ServiceEnv(t, testkit.NewDB(t)))
	rounds := 1000
	if testing.Short() {
		rounds = 200
	}
	timebin := time.Date(2026, 12, 2, 6, 45, 0, 0, time.UTC)
	url := s.gateway + "/ihr/api/hegemony/?originasn=2497&af=4&timebin__gte=2026-12-02T06:00:00Z&timebin__lte=2026-12-02T07:00:00Z&ordering=asn"
	hegeOf := func(body string) float64 {
		var page struct {
			Results []struct {
				Hege float64 `json:"hege"`
			} `json:"results"`
		}
		if err := json.Unmarshal([]byte(body), &page); err != nil || len(page.Results) != 1 {
			return -1
		}
		return page.Results[0].Hege
	}
	var took []time.Duration
	stale, cached := 0, 0
	for round := range rounds {
		before := get(t, url) // cached now, or about to be
		if before.from != "miss" {
			cached++
		}
		hege := float64(round+1) / float64(rounds+1)
		start := time.Now()
		s.bin(events.Hegemony, 4, timebin, fmt.Sprintf("fresh-%d", round), []events.HegemonyRow{{OriginASN: 2497, ASN: 2497, Hege: hege}})
		after := get(t, url)
		if got := hegeOf(after.body); got != hege {
			stale++
			t.Errorf("round %d: the first read after the results event holds hege %v, want %v (from %s)", round, got, hege, after.from)
			continue
		}
		took = append(took, time.Since(start))
	}
	slices.Sort(took)
	if len(took) > 0 {
		t.Logf("%d rounds, %d stale answers; publish → fresh answer p50 %v, p99 %v, max %v; %d of the reads before a change came from a cache",
			rounds, stale, took[len(took)/2].Round(time.Millisecond), took[len(took)*99/100].Round(time.Millisecond),
			took[len(took)-1].Round(time.Millisecond), cached)
	}
	if cached < rounds/2 {
		t.Errorf("only %d of %d reads before a change were cached: the test did not exercise the cache", cached, rounds)
	}
}
