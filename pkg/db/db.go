// Package db opens the PostgreSQL connection pool every database-backed
// service uses: traced queries (otelpgx), pool metrics, a server-side
// statement timeout and a readiness probe.
package db

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	"github.com/exaring/otelpgx"
	"github.com/ihr-go/ihr/pkg/config"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"
)

// Open builds a pool for cfg. It does not wait for the server: a service
// starts while PostgreSQL is down and reports it through readiness.
func Open(ctx context.Context, cfg config.Postgres, app string, tp trace.TracerProvider, mp metric.MeterProvider) (*pgxpool.Pool, error) {
	pc, err := pgxpool.ParseConfig(cfg.URL)
	if err != nil {
		return nil, fmt.Errorf("parse IHR_DATABASE_URL %s: %w", config.Redact(cfg.URL), err)
	}
	pc.MaxConns = int32(cfg.MaxConns)
	rp := pc.ConnConfig.RuntimeParams
	// The server cancels statements that run too long, even if the client is gone.
	rp["statement_timeout"] = strconv.FormatInt(cfg.StatementTimeout.Milliseconds(), 10)
	rp["application_name"] = app
	rp["timezone"] = "UTC"
	// Parameters change plans a lot (a network with ten rows or ten million):
	// plan every execution for its values rather than reuse a generic plan.
	rp["plan_cache_mode"] = "force_custom_plan"
	pc.ConnConfig.Tracer = otelpgx.NewTracer(otelpgx.WithTracerProvider(tp), otelpgx.WithMeterProvider(mp),
		otelpgx.WithTrimSQLInSpanName())
	pool, err := pgxpool.NewWithConfig(ctx, pc)
	if err != nil {
		return nil, fmt.Errorf("postgres pool: %w", err)
	}
	if err := otelpgx.RecordStats(pool, otelpgx.WithStatsMeterProvider(mp)); err != nil {
		pool.Close()
		return nil, fmt.Errorf("postgres pool metrics: %w", err)
	}
	return pool, nil
}

// SchemaVersion is the newest migration (scripts/db/migrations) this
// release reads and writes; TestSchemaVersionIsTheNewestMigration keeps it
// so.
const SchemaVersion = 13

// Probe is a readiness check: the server answers, and its schema has every
// migration this release needs. A release started before its migrations
// ran (a rolling deploy, a forgotten migrate) is not ready, rather than
// answering errors; a newer schema is fine (the release before a deploy
// keeps serving while the new one's migrations are applied).
func Probe(pool *pgxpool.Pool) func(context.Context) error {
	return func(ctx context.Context) error {
		var version int64
		err := pool.QueryRow(ctx, "SELECT coalesce(max(version), 0) FROM public.schema_migrations").Scan(&version)
		var pgErr *pgconn.PgError
		switch {
		case errors.As(err, &pgErr) && pgErr.Code == "42P01": // undefined_table
			return errors.New("postgres: no migrations applied: run scripts/db/migrate.sh up")
		case err != nil:
			return fmt.Errorf("postgres: %w", err)
		case version < SchemaVersion:
			return fmt.Errorf("postgres: the schema is at migration %d, this release needs %d: run scripts/db/migrate.sh up", version, SchemaVersion)
		}
		return nil
	}
}
