package db

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/ihr-go/ihr/pkg/config"
	"github.com/ihr-go/ihr/pkg/testkit"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	metricnoop "go.opentelemetry.io/otel/metric/noop"
	"go.opentelemetry.io/otel/trace/noop"
)

func open(t *testing.T, url string, timeout time.Duration) *pgxpool.Pool {
	t.Helper()
	pool, err := Open(context.Background(), config.Postgres{URL: url, MaxConns: 2, StatementTimeout: timeout},
		"db-test", noop.NewTracerProvider(), metricnoop.NewMeterProvider())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	return pool
}

func TestStatementTimeoutIsEnforcedByTheServer(t *testing.T) {
	pool := open(t, testkit.NewEmptyDB(t), 100*time.Millisecond)
	_, err := pool.Exec(context.Background(), "SELECT pg_sleep(2)")
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) || pgErr.Code != "57014" {
		t.Fatalf("want query_canceled (57014), got %v", err)
	}
	if err := Probe(pool)(context.Background()); err != nil {
		t.Fatalf("probe on a live database: %v", err)
	}
	var ok bool
	if err := pool.QueryRow(context.Background(), "SELECT current_setting('application_name') = 'db-test' AND current_setting('TimeZone') = 'UTC'").Scan(&ok); err != nil || !ok {
		t.Errorf("application_name or time zone not set on connections (%v)", err)
	}
}

func TestProbeFailsWhenUnreachable(t *testing.T) {
	pool := open(t, "postgres://postgres@"+testkit.FreeAddr(t)+"/x?connect_timeout=1", time.Second)
	if err := Probe(pool)(context.Background()); err == nil {
		t.Fatal("probe passed with no server")
	}
}

func TestBadURL(t *testing.T) {
	_, err := Open(context.Background(), config.Postgres{URL: "postgres://u:secret@host:notaport/db"}, "x", noop.NewTracerProvider(), metricnoop.NewMeterProvider())
	if err == nil {
		t.Fatal("bad URL accepted")
	}
}
