package testkit

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

func connect(t testing.TB, dbURL string) (*pgx.Conn, context.Context, func()) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	conn, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		cancel()
		t.Fatalf("connect %s: %v", redacted(dbURL), err)
	}
	return conn, ctx, func() { conn.Close(ctx); cancel() }
}

// Exec runs sql on the database at dbURL, failing the test on error.
func Exec(t testing.TB, dbURL, sql string, args ...any) {
	t.Helper()
	conn, ctx, done := connect(t, dbURL)
	defer done()
	if _, err := conn.Exec(ctx, sql, args...); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
}

// Scalar returns the single value sql selects on the database at dbURL.
func Scalar[T any](t testing.TB, dbURL, sql string, args ...any) T {
	t.Helper()
	conn, ctx, done := connect(t, dbURL)
	defer done()
	var v T
	if err := conn.QueryRow(ctx, sql, args...).Scan(&v); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	return v
}
