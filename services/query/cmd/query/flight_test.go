package main

import (
	"context"
	"strings"
	"sync"
	"testing"

	"github.com/ihr-go/ihr/pkg/service"
	"github.com/ihr-go/ihr/pkg/testkit"
	"github.com/jackc/pgx/v5"
)

// TestConcurrentMissesReadOnce: requests that miss the same answer at once
// wait for one reading of it: the database sees one query, every request
// gets the answer.
func TestConcurrentMissesReadOnce(t *testing.T) {
	db := testkit.NewDB(t)
	testkit.Exec(t, db, `INSERT INTO ihr_asn VALUES (2497, 'IIJ', true, false, true)`)
	svc := testkit.StartService(t, "query", service.Runner(spec()), testkit.ServiceEnv(t, db))
	testkit.Eventually(t, "the cache follows the results stream", func() bool {
		_, body := testkit.Get(t, svc.URL+"/debug/cache")
		return strings.Contains(body, `"ready":true`)
	})
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	tx, err := conn.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(ctx, "LOCK TABLE ihr_asn IN ACCESS EXCLUSIVE MODE"); err != nil {
		t.Fatal(err)
	}
	const n = 10
	var wg sync.WaitGroup
	bodies := make([]string, n)
	for i := range n {
		wg.Go(func() { _, bodies[i] = testkit.Get(t, svc.URL+"/ihr/api/networks/?number=2497") })
	}
	waiting := func() int {
		return testkit.Scalar[int](t, db, `SELECT count(*)::int FROM pg_stat_activity WHERE datname = current_database()
			AND application_name = 'ihr-query' AND wait_event_type = 'Lock'`)
	}
	testkit.Eventually(t, "the ten requests miss, a reading waits for the lock", func() bool {
		_, metrics := testkit.Get(t, svc.URL+"/metrics")
		return waiting() >= 1 && strings.Contains(metrics, `ihr_cache_lookups_total{endpoint="networks",tier="miss"} 10`)
	})
	if w := waiting(); w != 1 {
		t.Errorf("%d readings of one answer wait on the database, want 1", w)
	}
	if err := tx.Rollback(ctx); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	for i, b := range bodies {
		if !strings.HasPrefix(b, `{"count":1,`) {
			t.Errorf("request %d: %.100s", i, b)
		}
	}
}
