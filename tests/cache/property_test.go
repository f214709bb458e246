package cache

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/ihr-go/ihr/pkg/events"
	"github.com/ihr-go/ihr/pkg/testkit"
)

var (
	day0    = time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	origins = []int64{100, 200, 300}
	asns    = []int64{1000, 1001, 1002, 100}
	streams = []string{"100", "200"}
)

func bin(k int) time.Time { return day0.Add(time.Duration(k) * 15 * time.Minute) }

func iso(t time.Time) string { return t.UTC().Format(time.RFC3339) }

// requests is the pool of reads: windows that do and do not cover each
// bin, exact bins, latest bins, reference lists and outages. Each asks for
// a full order, so two correct answers are equal byte for byte.
func requests() []string {
	var rs []string
	windows := [][2]int{{0, 1}, {2, 3}, {0, 5}, {4, 5}}
	for _, o := range origins {
		for _, w := range windows {
			span := "&timebin__gte=" + iso(bin(w[0])) + "&timebin__lte=" + iso(bin(w[1]))
			rs = append(rs, fmt.Sprintf("hegemony/?originasn=%d&af=4%s&ordering=timebin,asn", o, span),
				fmt.Sprintf("hegemony/alarms/?originasn=%d%s&ordering=timebin,asn,af", o, span))
		}
		rs = append(rs, fmt.Sprintf("hegemony/?originasn=%d&af=4&ordering=asn", o), // the latest bin
			fmt.Sprintf("hegemony/?originasn=%d&asn=%d&timebin=%s", o, asns[0], iso(bin(1))))
	}
	for _, a := range asns {
		rs = append(rs, fmt.Sprintf("hegemony/?asn=%d&timebin__gte=%s&timebin__lte=%s&ordering=timebin,originasn", a, iso(bin(0)), iso(bin(5))),
			fmt.Sprintf("hegemony/cones/?asn=%d&af=4&timebin__gte=%s&timebin__lte=%s", a, iso(bin(0)), iso(bin(5))),
			fmt.Sprintf("networks/?number=%d", a))
	}
	rs = append(rs, "networks/?search=100&ordering=number", "networks/?name=net&ordering=number", "hegemony/cones/?af=4&ordering=timebin,asn")
	for _, st := range streams {
		rs = append(rs, "disco/events/?streamname="+st+"&starttime__gte="+iso(bin(0))+"&starttime__lte="+iso(bin(3))+"&ordering=starttime,id",
			"disco/events/?streamname="+st+"&endtime__gte="+iso(bin(0))+"&ordering=id&include_probe_details=false")
	}
	return rs
}

// TestCachedEqualsUncached interleaves random ingests (new bins, re-runs of
// old bins, alarms, disco outages opened, closed and dropped, renamed
// networks) with random reads, and checks every answer of the gateway and
// of the caching query service against the answer of a query service that
// caches nothing, once both caches have applied the changes so far.
func TestCachedEqualsUncached(t *testing.T) {
	s := newStack(t, testkit.ServiceEnv(t, testkit.NewDB(t)))
	steps := 1000
	if testing.Short() {
		steps = 300
	}
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 7))
	pool := requests()
	runs, hits, compared := 0, map[string]int{}, 0
	for step := range steps {
		if rng.IntN(10) < 4 {
			runs++
			a := s.ingest(rng, fmt.Sprintf("p%d-%d", seed%100000, runs))
			s.caughtUp(a.seq)
			continue
		}
		path := "/ihr/api/" + pool[rng.IntN(len(pool))]
		want := get(t, s.plain+path)
		for _, base := range []string{s.gateway, s.query} {
			got := get(t, base+path)
			compared++
			hits[got.from]++
			if got.status != want.status || got.body != want.body {
				t.Fatalf("step %d (seed %d), %s from %s (%s):\n got  %d %s\n want %d %s", step, seed, path, base, got.from,
					got.status, clip(got.body), want.status, clip(want.body))
			}
		}
	}
	t.Logf("%d answers compared after %d ingests; where they came from: %v", compared, runs, hits)
	if cached := hits["edge"] + hits["edge-revalidated"] + hits["l1"] + hits["l2"]; cached < compared/4 {
		t.Errorf("only %d of %d answers came from a cache: the test did not exercise it", cached, compared)
	}
	// What operators watch: hits and misses per tier and endpoint,
	// answers found stale, bytes held, the stream followed.
	_, qm := testkit.Get(t, s.query+"/metrics")
	_, gm := testkit.Get(t, s.gateway+"/metrics")
	for _, want := range []string{`ihr_cache_lookups_total{endpoint="hegemony",tier="l1"}`, `ihr_cache_lookups_total{endpoint="networks",tier="miss"}`,
		`ihr_cache_invalidations_total{endpoint="hegemony",tier="l1"}`, "ihr_cache_bytes ", "ihr_cache_entries ", "ihr_cache_following 1",
		`ihr_cache_fill_seconds_bucket{endpoint="disco/events"`} {
		if !strings.Contains(qm, want) {
			t.Errorf("query service metrics lack %s", want)
		}
	}
	for _, want := range []string{`ihr_edge_lookups_total{result="hit"}`, `ihr_edge_lookups_total{result="revalidated"}`, "ihr_edge_bytes ", "ihr_edge_fetch_seconds_bucket"} {
		if !strings.Contains(gm, want) {
			t.Errorf("gateway metrics lack %s", want)
		}
	}
}

// ingest makes one random change and returns its results event.
func (s *stack) ingest(rng *rand.Rand, run string) announced {
	s.t.Helper()
	k := rng.IntN(6)
	switch op := rng.IntN(10); {
	case op < 5:
		var rows []events.HegemonyRow
		for _, o := range origins {
			for _, a := range asns {
				if rng.IntN(3) > 0 {
					rows = append(rows, events.HegemonyRow{OriginASN: o, ASN: a, Hege: float64(rng.IntN(1000)) / 1000})
				}
			}
		}
		return s.bin(events.Hegemony, 4, bin(k), run, rows)
	case op < 7:
		var rows []events.HegemonyAlarmRow
		for range rng.IntN(3) {
			rows = append(rows, events.HegemonyAlarmRow{OriginASN: origins[rng.IntN(len(origins))], ASN: asns[rng.IntN(len(asns))],
				Deviation: float64(rng.IntN(100))})
		}
		return s.bin(events.HegemonyAlarms, 4+2*rng.IntN(2), bin(k), run, dedupAlarms(rows))
	case op < 9:
		// Each message differs, since de-duplication drops a repeated one:
		// a close or drop only of an open event, a dropped event never
		// opened again (its drop would repeat), measures unique to the run.
		e := events.DiscoEvent{Schema: events.SchemaDisco, StreamType: "asn", StreamName: streams[rng.IntN(len(streams))],
			StartTime: bin(k).Add(time.Duration(rng.IntN(15)) * time.Minute)}
		key := e.Key()
		if s.dropped[key] {
			return s.ingest(rng, run)
		}
		switch unique := time.Duration(len(s.open)+rng.IntN(1e6)) * time.Second; {
		case s.open[key] && rng.IntN(3) == 0:
			e.Op = events.DiscoDrop
			delete(s.open, key)
			s.dropped[key] = true
		case s.open[key]:
			end := bin(k).Add(time.Minute + unique)
			e.Op, e.EndTime = events.DiscoClose, &end
		default:
			level, total, n := unique.Seconds(), int64(10), int64(rng.IntN(5))
			e.Op, e.AvgLevel, e.TotalProbes, e.NbDiscoProbes = events.DiscoOpen, &level, &total, &n
			s.open[key] = true
		}
		if _, err := s.pub.Disco(context.Background(), e); err != nil {
			s.t.Fatal(err)
		}
		return s.next(events.Disco)
	default:
		u := events.NamesUpdate{Schema: events.SchemaNames}
		for _, a := range asns {
			if rng.IntN(2) == 0 {
				u.Networks = append(u.Networks, events.NetworkName{Number: a, Name: fmt.Sprintf("net %d %s", a, run)})
			}
		}
		if len(u.Networks) == 0 {
			u.Networks = []events.NetworkName{{Number: asns[0], Name: "net " + run}}
		}
		if _, err := s.pub.Names(context.Background(), u); err != nil {
			s.t.Fatal(err)
		}
		return s.next(events.Names)
	}
}

// next waits for the next results event of dataset (disco events' and
// names updates' run ids are digests of the message).
func (s *stack) next(dataset string) announced {
	s.t.Helper()
	return s.await(dataset, func(r *events.Result) bool { return r.Dataset == dataset })
}

// dedupAlarms keeps one alarm per (origin, asn), the bin's natural key.
func dedupAlarms(rows []events.HegemonyAlarmRow) []events.HegemonyAlarmRow {
	seen := map[[2]int64]bool{}
	var out []events.HegemonyAlarmRow
	for _, r := range rows {
		if k := [2]int64{r.OriginASN, r.ASN}; !seen[k] {
			seen[k] = true
			out = append(out, r)
		}
	}
	return out
}

func clip(s string) string {
	if len(s) > 600 {
		return s[:600] + "…"
	}
	return strings.TrimSpace(s)
}
