// Package testkit gives integration tests isolated pieces of the machine's
// real services: scratch PostgreSQL databases cloned from a migrated
// template, NATS prefixes, Redis URLs, services started in-process and a
// TCP proxy that cuts a dependency. A missing service fails the test with
// the command that starts it; nothing is ever skipped.
package testkit

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

const startPostgres = "pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start"

// PostgresURL returns the admin URL of the machine's PostgreSQL
// (IHR_TEST_DATABASE_URL, default the "postgres" database on 127.0.0.1),
// failing the test when it does not answer.
func PostgresURL(t testing.TB) string {
	t.Helper()
	u := envOr("IHR_TEST_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, u)
	if err != nil {
		t.Fatalf("PostgreSQL is not reachable at %s (%v); start it with:\n  %s", redacted(u), err, startPostgres)
	}
	conn.Close(ctx)
	return u
}

func redacted(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return raw
	}
	return u.Redacted()
}

// withDB returns admin URL pointing at database name.
func withDB(admin, name string) string {
	u, _ := url.Parse(admin)
	u.Path = "/" + name
	return u.String()
}

// adminExec runs one statement on the admin database.
func adminExec(t testing.TB, admin, sql string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	conn, err := pgx.Connect(ctx, admin)
	if err != nil {
		t.Fatalf("connect %s: %v", redacted(admin), err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, sql); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
}

// NewEmptyDB creates a scratch database with no tables, dropped at the end of the test.
func NewEmptyDB(t testing.TB) string {
	t.Helper()
	return newDB(t, "")
}

// NewDB creates a scratch database holding the migrated schema (cloned from
// a template built once per version of the migrations), dropped at the end of the test.
func NewDB(t testing.TB) string {
	t.Helper()
	return newDB(t, template(t))
}

func newDB(t testing.TB, tpl string) string {
	admin := PostgresURL(t)
	name := "ihr_test_" + Prefix(t)[1:]
	stmt := "CREATE DATABASE " + pgx.Identifier{name}.Sanitize()
	if tpl != "" {
		stmt += " TEMPLATE " + pgx.Identifier{tpl}.Sanitize()
	}
	adminExec(t, admin, stmt)
	t.Cleanup(func() {
		adminExec(t, admin, "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)")
	})
	return withDB(admin, name)
}

// RepoRoot returns the directory holding go.work.
func RepoRoot(t testing.TB) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.work")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("no go.work above the working directory")
		}
		dir = parent
	}
}

// MigrationsHash identifies the current migration files.
func MigrationsHash(t testing.TB) string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(RepoRoot(t), "scripts/db/migrations/*.sql"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no migrations found: %v", err)
	}
	sort.Strings(files)
	h := sha256.New()
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(h, "%s\x00%d\x00", filepath.Base(f), len(b))
		h.Write(b)
	}
	return hex.EncodeToString(h.Sum(nil))[:16]
}

var templates sync.Map // hash → template database name, built in this process

// template returns the name of a database migrated with the current
// migrations, building it with scripts/db/migrate.sh if no test process did
// yet. An advisory lock serialises builders across test processes; the
// template only gets its final name once migrated, so a crash never leaves
// a half-built one behind.
func template(t testing.TB) string {
	t.Helper()
	hash := MigrationsHash(t)
	if name, ok := templates.Load(hash); ok {
		return name.(string)
	}
	admin := PostgresURL(t)
	name, build := "ihr_tpl_"+hash, "ihr_tplbuild_"+hash
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	conn, err := pgx.Connect(ctx, admin)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "SELECT pg_advisory_lock(hashtext($1))", name); err != nil {
		t.Fatal(err)
	}
	defer conn.Exec(ctx, "SELECT pg_advisory_unlock(hashtext($1))", name)

	var exists bool
	if err := conn.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)", name).Scan(&exists); err != nil {
		t.Fatal(err)
	}
	if !exists {
		for _, stmt := range []string{
			"DROP DATABASE IF EXISTS " + build + " WITH (FORCE)",
			"CREATE DATABASE " + build,
		} {
			if _, err := conn.Exec(ctx, stmt); err != nil {
				t.Fatalf("%s: %v", stmt, err)
			}
		}
		cmd := exec.CommandContext(ctx, filepath.Join(RepoRoot(t), "scripts/db/migrate.sh"), "--database-url", withDB(admin, build), "up")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("migrate the template database: %v\n%s", err, out)
		}
		for _, stmt := range []string{
			"ALTER DATABASE " + build + " RENAME TO " + name,
			"ALTER DATABASE " + name + " WITH IS_TEMPLATE true",
		} {
			if _, err := conn.Exec(ctx, stmt); err != nil {
				t.Fatalf("%s: %v", stmt, err)
			}
		}
		dropStaleTemplates(ctx, t, conn, name)
	}
	templates.Store(hash, name)
	return name
}

// dropStaleTemplates removes templates of older migration versions.
func dropStaleTemplates(ctx context.Context, t testing.TB, conn *pgx.Conn, keep string) {
	rows, err := conn.Query(ctx, "SELECT datname FROM pg_database WHERE datname LIKE 'ihr\\_tpl\\_%' AND datname <> $1", keep)
	if err != nil {
		t.Fatal(err)
	}
	stale, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	for _, db := range stale {
		id := pgx.Identifier{db}.Sanitize()
		_, _ = conn.Exec(ctx, "ALTER DATABASE "+id+" WITH IS_TEMPLATE false")
		_, _ = conn.Exec(ctx, "DROP DATABASE IF EXISTS "+id+" WITH (FORCE)")
	}
}
