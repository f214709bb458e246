package main

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/ihr-go/ihr/pkg/service"
	"github.com/ihr-go/ihr/pkg/testkit"
	"github.com/jackc/pgx/v5"
)

// lockNetworks holds an exclusive lock on ihr_asn until the test ends, so
// every query on it waits.
func lockNetworks(t *testing.T, db string) {
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	tx, err := conn.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(ctx, "LOCK TABLE ihr_asn IN ACCESS EXCLUSIVE MODE"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tx.Rollback(ctx); conn.Close(ctx) })
}

func TestStatementTimeoutIs504(t *testing.T) {
	db := testkit.NewDB(t)
	env := testkit.ServiceEnv(t, db)
	env["IHR_DB_STATEMENT_TIMEOUT"] = "200ms"
	svc := testkit.StartService(t, "query", service.Runner(spec()), env)
	lockNetworks(t, db)
	code, body := testkit.Get(t, svc.URL+"/ihr/api/networks/?number=2497")
	if code != http.StatusGatewayTimeout || body != `{"error":"query_timeout","message":"The request took too long"}` {
		t.Fatalf("got %d %s", code, body)
	}
}

func TestClientDisconnectCancelsTheQuery(t *testing.T) {
	db := testkit.NewDB(t)
	svc := testkit.StartService(t, "query", service.Runner(spec()), testkit.ServiceEnv(t, db))
	lockNetworks(t, db)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() {
		req, _ := http.NewRequestWithContext(ctx, "GET", svc.URL+"/ihr/api/networks/?number=2497", nil)
		_, err := http.DefaultClient.Do(req)
		done <- err
	}()
	const waiting = `SELECT count(*)::int FROM pg_stat_activity WHERE datname = current_database()
		AND application_name = 'ihr-query' AND wait_event_type = 'Lock'`
	waitCount := func(want int, what string) {
		deadline := time.Now().Add(10 * time.Second)
		for testkit.Scalar[int](t, db, waiting) != want {
			if time.Now().After(deadline) {
				t.Fatal(what)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	waitCount(1, "the query never reached the database")
	cancel() // the client leaves
	if err := <-done; err == nil {
		t.Fatal("the request was answered despite the lock")
	}
	waitCount(0, "the query is still running after its client left")
	testkit.Eventually(t, "an access log line for the abandoned request", func() bool {
		return strings.Contains(svc.Logs(), `"path":"/ihr/api/networks/"`)
	})
}
