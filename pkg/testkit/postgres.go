package testkit

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// startPostgres is printed when PostgreSQL does not answer.
const startPostgres = "pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start"

// Database name prefixes. Scratch databases are dropped by their test;
// templates are kept for the next run and replaced when migrations change.
const (
	scratchPrefix  = "ihr_test_"
	templatePrefix = "ihr_tpl_"
	buildPrefix    = "ihr_tplbuild_"
	// keepTemplates is how many templates of other migration versions
	// survive a build: another checkout or a test run that started before
	// an edit may still be cloning them.
	keepTemplates = 3
)

// PostgresURL returns the admin URL of the machine's PostgreSQL
// (IHR_TEST_DATABASE_URL, default the "postgres" database on 127.0.0.1),
// failing the test with the command that starts PostgreSQL when it does not
// answer.
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
		return "(unparsable URL)"
	}
	return u.Redacted()
}

// withDB returns the admin URL pointing at database name.
func withDB(t testing.TB, admin, name string) string {
	t.Helper()
	u, err := url.Parse(admin)
	if err != nil {
		t.Fatalf("bad PostgreSQL URL %s: %v", redacted(admin), err)
	}
	u.Path = "/" + name
	return u.String()
}

func ident(name string) string { return pgx.Identifier{name}.Sanitize() }

// adminExec runs one statement on the admin database.
func adminExec(t testing.TB, admin, sql string) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	conn, err := pgx.Connect(ctx, admin)
	if err != nil {
		return fmt.Errorf("connect %s: %w", redacted(admin), err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, sql); err != nil {
		return fmt.Errorf("%s: %w", sql, err)
	}
	return nil
}

// NewEmptyDB creates a scratch database with no tables (name prefix
// ihr_test_), dropped when the test ends, and returns its URL.
func NewEmptyDB(t testing.TB) string {
	t.Helper()
	admin := PostgresURL(t)
	name := scratchName()
	if err := adminExec(t, admin, "CREATE DATABASE "+ident(name)); err != nil {
		t.Fatal(err)
	}
	dropAtCleanup(t, admin, name)
	return withDB(t, admin, name)
}

// NewDB creates a scratch database holding the migrated schema, cloned from
// a template database built once per version of the migrations, dropped
// when the test ends, and returns its URL.
func NewDB(t testing.TB) string {
	t.Helper()
	admin := PostgresURL(t)
	root := RepoRoot(t)
	name := scratchName()
	for attempt := 0; ; attempt++ {
		tpl := templateDB(t, admin, root, filepath.Join(root, "scripts/db/migrations"), true)
		err := adminExec(t, admin, "CREATE DATABASE "+ident(name)+" TEMPLATE "+ident(tpl))
		var pgErr *pgconn.PgError
		if err != nil && attempt == 0 && errors.As(err, &pgErr) && pgErr.Code == "3D000" {
			// Another checkout dropped our template as stale: build it again.
			templates.Delete(tpl)
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		break
	}
	dropAtCleanup(t, admin, name)
	return withDB(t, admin, name)
}

// scratchName returns a database name no other test uses.
func scratchName() string {
	var b [8]byte
	_, _ = rand.Read(b[:]) // never fails (crypto/rand)
	return scratchPrefix + hex.EncodeToString(b[:])
}

func dropAtCleanup(t testing.TB, admin, name string) {
	t.Cleanup(func() {
		if err := adminExec(t, admin, "DROP DATABASE IF EXISTS "+ident(name)+" WITH (FORCE)"); err != nil {
			t.Errorf("drop scratch database: %v", err)
		}
	})
}

// RepoRoot returns the directory holding go.work, found by walking up from
// the working directory.
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
			t.Fatal("no go.work in the working directory or above it")
		}
		dir = parent
	}
}

// MigrationsHash identifies the repository's migrations: their files and
// the script that applies them.
func MigrationsHash(t testing.TB) string {
	t.Helper()
	root := RepoRoot(t)
	return migrationsHash(t, root, filepath.Join(root, "scripts/db/migrations"))
}

// migrationsHash hashes every file of dir (names and contents) and the
// scripts that apply them, so any edit gives a new template.
func migrationsHash(t testing.TB, root, dir string) string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dir, "*.sql"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no migrations in %s (%v)", dir, err)
	}
	sort.Strings(files)
	files = append(files, filepath.Join(root, "scripts/db/migrate.sh"), filepath.Join(root, "scripts/db/lib.sh"))
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

// templates remembers the templates this process built or found (name →
// struct{}), so a test binary takes the build lock once.
var templates sync.Map

// templateDB returns the name of a database migrated with the migrations of
// dir, building it with scripts/db/migrate.sh if no test process did yet.
// A PostgreSQL advisory lock serialises builders across test processes. The
// template is migrated under a temporary name and renamed only once
// migrate.sh succeeded, so its final name always means "complete". With
// prune, templates of other migration versions are dropped (see
// dropStaleTemplates).
func templateDB(t testing.TB, admin, root, dir string, prune bool) string {
	t.Helper()
	hash := migrationsHash(t, root, dir)
	name, build := templatePrefix+hash, buildPrefix+hash
	if _, ok := templates.Load(name); ok {
		return name
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	conn, err := pgx.Connect(ctx, admin)
	if err != nil {
		t.Fatalf("connect %s: %v", redacted(admin), err)
	}
	// Closing the session releases the advisory lock.
	defer conn.Close(context.Background())
	if _, err := conn.Exec(ctx, "SELECT pg_advisory_lock(hashtext($1))", name); err != nil {
		t.Fatalf("lock the template build: %v", err)
	}

	var exists bool
	if err := conn.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)", name).Scan(&exists); err != nil {
		t.Fatal(err)
	}
	if !exists {
		exec1 := func(sql string) {
			t.Helper()
			if _, err := conn.Exec(ctx, sql); err != nil {
				t.Fatalf("%s: %v", sql, err)
			}
		}
		// A build left by a crashed process is incomplete: start again.
		exec1("DROP DATABASE IF EXISTS " + ident(build) + " WITH (FORCE)")
		exec1("CREATE DATABASE " + ident(build))
		cmd := exec.CommandContext(ctx, filepath.Join(root, "scripts/db/migrate.sh"),
			"--database-url", withDB(t, admin, build), "--dir", dir, "up")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("migrate the template database %s: %v\n%s", build, err, out)
		}
		exec1("ALTER DATABASE " + ident(build) + " RENAME TO " + ident(name))
		exec1("ALTER DATABASE " + ident(name) + " WITH IS_TEMPLATE true")
		if prune {
			dropStaleTemplates(ctx, t, conn, name)
		}
	}
	templates.Store(name, struct{}{})
	return name
}

// dropStaleTemplates removes the templates of other migration versions but
// the keepTemplates most recent ones (database OIDs grow with creation).
// Failures only matter to the next build, so they are logged, not fatal.
func dropStaleTemplates(ctx context.Context, t testing.TB, conn *pgx.Conn, keep string) {
	t.Helper()
	rows, err := conn.Query(ctx, `SELECT datname FROM pg_database
		WHERE starts_with(datname, $1) AND datname <> $2 ORDER BY oid::bigint DESC OFFSET $3`,
		templatePrefix, keep, keepTemplates)
	if err != nil {
		t.Logf("list stale templates: %v", err)
		return
	}
	stale, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Logf("list stale templates: %v", err)
		return
	}
	for _, db := range stale {
		if err := dropTemplate(ctx, conn, db); err != nil {
			t.Logf("drop stale template: %v", err)
		}
	}
}

func dropTemplate(ctx context.Context, conn *pgx.Conn, name string) error {
	for _, sql := range []string{
		"ALTER DATABASE " + ident(name) + " WITH IS_TEMPLATE false",
		"DROP DATABASE IF EXISTS " + ident(name) + " WITH (FORCE)",
	} {
		if _, err := conn.Exec(ctx, sql); err != nil && !strings.Contains(err.Error(), "does not exist") {
			return fmt.Errorf("%s: %w", sql, err)
		}
	}
	return nil
}
