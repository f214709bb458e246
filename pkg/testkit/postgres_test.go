package testkit

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
)

// dbName returns the database a postgres:// URL names.
func dbName(t *testing.T, u string) string {
	t.Helper()
	i, j := strings.LastIndex(u, "/"), strings.Index(u, "?")
	if i < 0 || j < i {
		t.Fatalf("unexpected URL %s", u)
	}
	return u[i+1 : j]
}

func databaseExists(t *testing.T, name string) bool {
	return Scalar[bool](t, PostgresURL(t), "SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)", name)
}

func TestNewDBHasTheSchemaAndIsDropped(t *testing.T) {
	t.Parallel()
	var name string
	t.Run("scratch", func(t *testing.T) {
		u := NewDB(t)
		name = dbName(t, u)
		if !strings.HasPrefix(name, "ihr_test_") {
			t.Errorf("scratch database %s lacks the ihr_test_ prefix", name)
		}
		if n := Scalar[int](t, u, `SELECT count(*) FROM pg_tables WHERE schemaname = 'public' AND tablename LIKE 'ihr\_%'`); n < 26 {
			t.Errorf("scratch database has %d ihr_* tables, want at least 26", n)
		}
		files, _ := filepath.Glob(filepath.Join(RepoRoot(t), "scripts/db/migrations/*.up.sql"))
		if n := Scalar[int](t, u, "SELECT count(*) FROM schema_migrations"); n != len(files) {
			t.Errorf("schema_migrations has %d rows, want %d (one per migration)", n, len(files))
		}
	})
	if databaseExists(t, name) {
		t.Errorf("database %s survived its test", name)
	}
}

func TestNewEmptyDBHasNoTablesAndIsDropped(t *testing.T) {
	t.Parallel()
	var name string
	t.Run("scratch", func(t *testing.T) {
		u := NewEmptyDB(t)
		name = dbName(t, u)
		if n := Scalar[int](t, u, "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'"); n != 0 {
			t.Errorf("empty database has %d tables", n)
		}
	})
	if databaseExists(t, name) {
		t.Errorf("database %s survived its test", name)
	}
}

func TestScratchDatabasesAreIsolated(t *testing.T) {
	t.Parallel()
	a, b := NewDB(t), NewDB(t)
	if a == b {
		t.Fatal("two scratch databases share a name")
	}
	Exec(t, a, "INSERT INTO ihr_country VALUES ('XX', 'Nowhere', false, false)")
	if n := Scalar[int](t, b, "SELECT count(*) FROM ihr_country"); n != 0 {
		t.Errorf("a row written to one scratch database shows in another")
	}
}

func TestRepoRoot(t *testing.T) {
	root := RepoRoot(t)
	for _, f := range []string{"go.work", "scripts/db/migrate.sh"} {
		if _, err := os.Stat(filepath.Join(root, f)); err != nil {
			t.Errorf("RepoRoot %s: %v", root, err)
		}
	}
}

// TestTemplateFollowsMigrations builds a template from an edited copy of
// the migrations, from several goroutines at once (each with its own
// session, as separate test processes would): one build, one name, the
// edited schema, nothing left under the build name.
func TestTemplateFollowsMigrations(t *testing.T) {
	t.Parallel()
	admin, root := PostgresURL(t), RepoRoot(t)
	src := filepath.Join(root, "scripts/db/migrations")
	dir := t.TempDir()
	entries, err := os.ReadDir(src)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(src, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, e.Name()), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// A unique comment gives this run its own template, whatever runs beside it.
	up := "-- " + scratchName() + "\nCREATE TABLE ihr_testkit_extra (id int);\n"
	if err := os.WriteFile(filepath.Join(dir, "9999_testkit_extra.up.sql"), []byte(up), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "9999_testkit_extra.down.sql"), []byte("DROP TABLE ihr_testkit_extra;\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	hash := migrationsHash(t, root, dir)
	if hash == MigrationsHash(t) {
		t.Fatal("editing the migrations did not change their hash")
	}
	want := templatePrefix + hash
	t.Cleanup(func() {
		templates.Delete(want)
		conn, ctx, done := connect(t, admin)
		defer done()
		if err := dropTemplate(ctx, conn, want); err != nil {
			t.Error(err)
		}
	})

	var mu sync.Mutex
	names := map[string]bool{}
	t.Run("build", func(t *testing.T) {
		for range 3 {
			t.Run("builder", func(t *testing.T) {
				t.Parallel()
				name := templateDB(t, admin, root, dir, false)
				mu.Lock()
				names[name] = true
				mu.Unlock()
			})
		}
	})
	if len(names) != 1 || !names[want] {
		t.Fatalf("concurrent builds returned %v, want only %s", names, want)
	}
	tpl := withDB(t, admin, want)
	if n := Scalar[int](t, tpl, "SELECT count(*) FROM pg_tables WHERE tablename = 'ihr_testkit_extra'"); n != 1 {
		t.Error("the template lacks the table of the added migration")
	}
	if n := Scalar[int](t, tpl, "SELECT count(*) FROM schema_migrations WHERE version = 9999"); n != 1 {
		t.Errorf("the added migration was recorded %d times", n)
	}
	if databaseExists(t, buildPrefix+hash) {
		t.Error("the build database outlived the build")
	}
	if !Scalar[bool](t, admin, "SELECT datistemplate FROM pg_database WHERE datname = $1", want) {
		t.Error("the template is not marked as a template")
	}
}

// fatalRecorder is a testing.TB whose Fatal stops only the calling goroutine
// and keeps the message, to check what a failing helper says.
type fatalRecorder struct {
	testing.TB
	msg string
}

func (r *fatalRecorder) Helper() {}

func (r *fatalRecorder) Fatalf(format string, args ...any) {
	r.msg = fmt.Sprintf(format, args...)
	runtime.Goexit()
}

func TestMissingPostgresFailsWithStartCommand(t *testing.T) {
	t.Setenv("IHR_TEST_DATABASE_URL", "postgres://postgres@127.0.0.1:1/postgres?sslmode=disable&connect_timeout=2")
	r := &fatalRecorder{TB: t}
	done := make(chan string, 1)
	go func() {
		defer func() { done <- r.msg }()
		PostgresURL(r)
	}()
	if msg := <-done; !strings.Contains(msg, "pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start") {
		t.Errorf("PostgresURL with no server said %q, want the start command", msg)
	}
}
