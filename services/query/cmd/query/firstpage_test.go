package main

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/ihr-go/ihr/pkg/service"
	"github.com/ihr-go/ihr/pkg/testkit"
)

type envelope struct {
	Count    int64             `json:"count"`
	Next     *string           `json:"next"`
	Previous *string           `json:"previous"`
	Results  []json.RawMessage `json:"results"`
}

func getPage(t *testing.T, url string) envelope {
	t.Helper()
	code, body := testkit.Get(t, url)
	var e envelope
	if err := json.Unmarshal([]byte(body), &e); code != 200 || err != nil {
		t.Fatalf("%s: %d %v %.300s", url, code, err, body)
	}
	return e
}

// TestFirstPages: a first page is read before it is counted. Its count and
// links must hold whether it fits the held-back buffer or not, and whether
// it spans pages with or without an order asked for.
func TestFirstPages(t *testing.T) {
	db := testkit.NewDB(t)
	// 12,000 rows of about 150 bytes: over the 1 MiB held back.
	testkit.Exec(t, db, `INSERT INTO ihr_asn VALUES (2497, 'IIJ Internet Initiative Japan Inc.', true, false, true);
		INSERT INTO ihr_asn SELECT n, 'AS' || n, false, false, true FROM generate_series(100000, 111999) n;
		INSERT INTO ihr_hegemony (timebin, hege, af, asn_id, originasn_id)
		SELECT '2026-11-30T00:00:00Z', 0.5, 4, n, 2497 FROM generate_series(100000, 111999) n`)
	env := testkit.ServiceEnv(t, db)
	env["IHR_PAGE_SIZE"] = "20000"
	big := testkit.StartService(t, "query", service.Runner(spec()), env)
	env["IHR_PAGE_SIZE"] = "5000"
	paged := testkit.StartService(t, "query", service.Runner(spec()), env)
	env["IHR_PAGE_SIZE"], env["IHR_DB_MAX_CONNS"] = "20000", "2"
	narrow := testkit.StartService(t, "query", service.Runner(spec()), env)
	q := "/ihr/api/hegemony/?originasn=2497&timebin=2026-11-30T00:00:00Z"

	all := getPage(t, big.URL+q)
	if all.Count != 12000 || len(all.Results) != 12000 || all.Next != nil {
		t.Fatalf("one page over the buffer: count %d, %d results, next %v", all.Count, len(all.Results), all.Next)
	}
	// More such pages at once than the pool has connections: each holds
	// one while it counts, which must not wait on the others.
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			if code, body := testkit.Get(t, narrow.URL+q); code != 200 || !strings.HasPrefix(body, `{"count":12000,`) {
				t.Errorf("concurrent page: %d %.100s", code, body)
			}
		})
	}
	wg.Wait()

	seen := map[string]bool{}
	for _, r := range all.Results {
		seen[string(r)] = true
	}
	if len(seen) != 12000 {
		t.Errorf("%d distinct results of 12000", len(seen))
	}

	for _, order := range []string{"", "&ordering=-asn"} {
		var got []string
		for page := 1; page <= 3; page++ {
			e := getPage(t, paged.URL+q+order+fmt.Sprintf("&page=%d", page))
			if e.Count != 12000 || (page < 3) != (e.Next != nil) || (page > 1) != (e.Previous != nil) {
				t.Fatalf("order %q page %d: count %d, next %v, previous %v", order, page, e.Count, e.Next, e.Previous)
			}
			for _, r := range e.Results {
				got = append(got, string(r))
			}
		}
		slices.Sort(got)
		if len(slices.Compact(got)) != 12000 {
			t.Errorf("order %q: the three pages hold %d distinct results of 12000: pages overlap", order, len(slices.Compact(got)))
		}
	}
}
