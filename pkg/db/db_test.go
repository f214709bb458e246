package db

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
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
	var ok bool
	if err := pool.QueryRow(context.Background(), "SELECT current_setting('application_name') = 'db-test' AND current_setting('TimeZone') = 'UTC'").Scan(&ok); err != nil || !ok {
		t.Errorf("application_name or time zone not set on connections (%v)", err)
	}
}

func TestProbeWantsTheMigrationsOfThisRelease(t *testing.T) {
	ctx := context.Background()
	if err := Probe(open(t, testkit.NewEmptyDB(t), time.Second))(ctx); err == nil || !strings.Contains(err.Error(), "no migrations applied") {
		t.Errorf("probe on an empty database: %v", err)
	}
	url := testkit.NewDB(t)
	probe := Probe(open(t, url, time.Second))
	if err := probe(ctx); err != nil {
		t.Fatalf("probe on a migrated database: %v", err)
	}
	testkit.Exec(t, url, `DELETE FROM schema_migrations WHERE version = $1`, SchemaVersion)
	if err := probe(ctx); err == nil || !strings.Contains(err.Error(), fmt.Sprintf("at migration %d, this release needs %d", SchemaVersion-1, SchemaVersion)) {
		t.Errorf("probe a migration behind: %v", err)
	}
	testkit.Exec(t, url, `INSERT INTO schema_migrations (version, name, checksum) VALUES ($1, 'later', ''), ($2, 'later still', '')`, SchemaVersion, SchemaVersion+1)
	if err := probe(ctx); err != nil {
		t.Errorf("probe a migration ahead (the next release's): %v", err)
	}
}

func TestSchemaVersionIsTheNewestMigration(t *testing.T) {
	files, err := filepath.Glob(filepath.Join(testkit.RepoRoot(t), "scripts/db/migrations/*.up.sql"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no migrations found: %v", err)
	}
	newest, _ := strconv.Atoi(strings.SplitN(filepath.Base(slices.Max(files)), "_", 2)[0])
	if newest != SchemaVersion {
		t.Errorf("the newest migration is %d, SchemaVersion %d: set it to the migration this release needs", newest, SchemaVersion)
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
