package main

import (
	"net/http"
	"testing"
	"time"

	"github.com/ihr-go/ihr/pkg/service"
	"github.com/ihr-go/ihr/pkg/testkit"
)

// TestNetworkSearchUsesIndexes checks, on a production-sized ihr_asn, that
// searching by number or name reads indexes instead of the whole table.
func TestNetworkSearchUsesIndexes(t *testing.T) {
	db := testkit.NewDB(t)
	testkit.Exec(t, db, `INSERT INTO ihr_asn (number, name, tartiflette, disco, ashash)
		SELECT n, upper(substr(md5(n::text), 1, 8)) || ' ' || substr(md5((n + 1)::text), 1, 12) || ', ' || (ARRAY['US', 'JP', 'DE', 'FR'])[n % 4 + 1],
		       false, false, true FROM generate_series(1, 70000) n`)
	testkit.Exec(t, db, "ANALYZE ihr_asn")
	env := testkit.ServiceEnv(t, db)
	env["IHR_DB_MAX_CONNS"] = "1" // one backend: its statistics arrive all at once
	svc := testkit.StartService(t, "query", service.Runner(spec()), env)
	const seqScans = `SELECT seq_scan::int FROM pg_stat_user_tables WHERE relname = 'ihr_asn'`
	const allScans = `SELECT (seq_scan + coalesce(idx_scan, 0))::int FROM pg_stat_user_tables WHERE relname = 'ihr_asn'`
	before, beforeAll := testkit.Scalar[int](t, db, seqScans), testkit.Scalar[int](t, db, allScans)
	for _, q := range []string{"search=2497&ordering=number", "search=AS2497", "name=c9f0f895", "search=IX45c48"} {
		if code, body := testkit.Get(t, svc.URL+"/ihr/api/networks/?"+q); code != http.StatusOK {
			t.Fatalf("%s: %d %s", q, code, body)
		}
	}
	// A backend reports its statistics when idle, within about 10 s.
	deadline := time.Now().Add(20 * time.Second)
	for testkit.Scalar[int](t, db, allScans) == beforeAll {
		if time.Now().After(deadline) {
			t.Fatal("the searches' table statistics never arrived")
		}
		time.Sleep(100 * time.Millisecond)
	}
	if after := testkit.Scalar[int](t, db, seqScans); after != before {
		t.Errorf("network search scanned ihr_asn %d times", after-before)
	}
}
