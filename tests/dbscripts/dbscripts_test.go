package dbscripts

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/ihr-go/ihr/pkg/testkit"
)

// script runs scripts/db/<name> with args and returns its combined output.
func script(t *testing.T, name string, args ...string) (string, error) {
	t.Helper()
	cmd := exec.Command(filepath.Join(testkit.RepoRoot(t), "scripts/db", name), args...)
	cmd.Env = append(os.Environ(), "IHR_DATABASE_URL=postgres://nobody@127.0.0.1:1/none") // only flags count
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func mustScript(t *testing.T, name string, args ...string) string {
	t.Helper()
	out, err := script(t, name, args...)
	if err != nil {
		t.Fatalf("%s %v: %v\n%s", name, args, err, out)
	}
	return out
}

// migrationCount is the number of migrations in the repository.
func migrationCount(t *testing.T) int {
	files, _ := filepath.Glob(filepath.Join(testkit.RepoRoot(t), "scripts/db/migrations/*.up.sql"))
	return len(files)
}

const countIHRTables = `SELECT count(*)::text FROM pg_tables WHERE schemaname = 'public' AND tablename LIKE 'ihr\_%'`

// migrationsCopy copies the migrations to a temporary directory the test may edit.
func migrationsCopy(t *testing.T) string {
	t.Helper()
	src := filepath.Join(testkit.RepoRoot(t), "scripts/db/migrations")
	dst := t.TempDir()
	entries, err := os.ReadDir(src)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(src, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dst, e.Name()), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dst
}

func TestUpDownUp(t *testing.T) {
	t.Parallel()
	db := testkit.NewEmptyDB(t)
	mustScript(t, "migrate.sh", "--database-url", db, "up")
	status := mustScript(t, "migrate.sh", "--database-url", db, "status")
	if strings.Contains(status, "pending") || !strings.Contains(status, "0001_reference_tables") {
		t.Fatalf("after up, status:\n%s", status)
	}
	if n := testkit.Scalar[string](t, db, countIHRTables); n != "26" {
		t.Fatalf("%s ihr_* tables after up, want 26 (22 data + 4 legacy user tables)", n)
	}
	applied := testkit.Scalar[string](t, db, "SELECT count(*)::text FROM schema_migrations")
	mustScript(t, "migrate.sh", "--database-url", db, "down", applied)
	if n := testkit.Scalar[string](t, db, countIHRTables); n != "0" {
		t.Fatalf("%s ihr_* tables left after down to zero", n)
	}
	if n := testkit.Scalar[string](t, db, "SELECT count(*)::text FROM schema_migrations"); n != "0" {
		t.Fatalf("schema_migrations holds %s rows after down to zero", n)
	}
	mustScript(t, "migrate.sh", "--database-url", db, "up")
	if n := testkit.Scalar[string](t, db, countIHRTables); n != "26" {
		t.Fatalf("%s ihr_* tables after up again", n)
	}
	if out := mustScript(t, "migrate.sh", "--database-url", db, "up"); strings.Contains(out, "applied") {
		t.Fatalf("a second up applied something:\n%s", out)
	}
	mustScript(t, "migrate.sh", "--database-url", db, "verify")
}

func TestSchemaMatchesReference(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	migrated := testkit.NewEmptyDB(t)
	mustScript(t, "migrate.sh", "--database-url", migrated, "up")
	reference := testkit.NewEmptyDB(t)
	ref := filepath.Join(testkit.RepoRoot(t), "..", "shared", "reference", "legacy-schema.sql")
	if out, err := exec.Command("psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-f", ref, reference).CombinedOutput(); err != nil {
		t.Fatalf("load %s: %v\n%s", ref, err, out)
	}
	want, err := catalog(ctx, reference)
	if err != nil {
		t.Fatal(err)
	}
	got, err := catalog(ctx, migrated)
	if err != nil {
		t.Fatal(err)
	}
	if len(want) < 200 {
		t.Fatalf("the reference catalog has only %d facts: the query misses something", len(want))
	}
	if d := diff(want, got); d != "" {
		t.Fatalf("the migrated schema differs from %s:\n%s", ref, d)
	}

	// The comparison ignores our own ihrx_ indexes, and nothing else.
	testkit.Exec(t, migrated, "CREATE INDEX ihrx_hegemony_test ON ihr_hegemony (af)")
	if got, _ = catalog(ctx, migrated); diff(want, got) != "" {
		t.Errorf("an ihrx_ index must be ignored")
	}
	testkit.Exec(t, migrated, "CREATE INDEX other_hegemony_test ON ihr_hegemony (af)")
	if got, _ = catalog(ctx, migrated); !strings.Contains(diff(want, got), "other_hegemony_test") {
		t.Errorf("an extra index on an ihr_ table must be reported")
	}
}

func TestDiffReportsEachSide(t *testing.T) {
	d := diff([]string{"a", "b"}, []string{"b", "c"})
	if !strings.Contains(d, "- reference only:  a") || !strings.Contains(d, "+ migrations only: c") || strings.Contains(d, " b\n") {
		t.Fatalf("diff:\n%s", d)
	}
	if diff([]string{"a"}, []string{"a"}) != "" {
		t.Fatal("equal catalogs must give no diff")
	}
}

func TestEditedMigrationIsRefused(t *testing.T) {
	t.Parallel()
	db := testkit.NewEmptyDB(t)
	dir := migrationsCopy(t)
	mustScript(t, "migrate.sh", "--database-url", db, "--dir", dir, "up")
	f := filepath.Join(dir, "0002_hegemony.up.sql")
	b, _ := os.ReadFile(f)
	if err := os.WriteFile(f, append(b, []byte("\n-- edited\n")...), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, cmd := range []string{"up", "verify", "status"} {
		out, err := script(t, "migrate.sh", "--database-url", db, "--dir", dir, cmd)
		if err == nil || !strings.Contains(out, "0002_hegemony (file edited") {
			t.Errorf("%s with an edited migration: err=%v\n%s", cmd, err, out)
		}
	}
	os.Remove(filepath.Join(dir, "0008_timescaledb.up.sql"))
	os.Remove(filepath.Join(dir, "0008_timescaledb.down.sql"))
	os.WriteFile(f, b, 0o644)
	if out, err := script(t, "migrate.sh", "--database-url", db, "--dir", dir, "verify"); err == nil || !strings.Contains(out, "0008_timescaledb (file missing)") {
		t.Errorf("verify with a missing migration: err=%v\n%s", err, out)
	}
}

func TestFailingMigrationChangesNothing(t *testing.T) {
	t.Parallel()
	db := testkit.NewEmptyDB(t)
	dir := migrationsCopy(t)
	bad := "CREATE TABLE ihrx_half_done (id int);\nSELECT 1/0;\n"
	os.WriteFile(filepath.Join(dir, "0099_broken.up.sql"), []byte(bad), 0o644)
	os.WriteFile(filepath.Join(dir, "0099_broken.down.sql"), []byte("DROP TABLE ihrx_half_done;\n"), 0o644)
	out, err := script(t, "migrate.sh", "--database-url", db, "--dir", dir, "up")
	if err == nil || !strings.Contains(out, "division by zero") {
		t.Fatalf("a failing migration must fail the run: err=%v\n%s", err, out)
	}
	if n := testkit.Scalar[string](t, db, "SELECT count(*)::text FROM pg_tables WHERE tablename = 'ihrx_half_done'"); n != "0" {
		t.Error("the failing migration left a table behind")
	}
	if n := testkit.Scalar[string](t, db, "SELECT count(*)::text FROM schema_migrations WHERE version = 99"); n != "0" {
		t.Error("the failing migration was recorded")
	}
	if n := testkit.Scalar[int](t, db, "SELECT count(*)::int FROM schema_migrations"); n != migrationCount(t) {
		t.Errorf("the migrations before it: %d applied, want %d", n, migrationCount(t))
	}
}

func TestConcurrentRunsApplyEachMigrationOnce(t *testing.T) {
	t.Parallel()
	db := testkit.NewEmptyDB(t)
	var wg sync.WaitGroup
	outs := make([]string, 3)
	errs := make([]error, 3)
	for i := range outs {
		wg.Go(func() { outs[i], errs[i] = script(t, "migrate.sh", "--database-url", db, "up") })
	}
	wg.Wait()
	applied := 0
	for i := range outs {
		if errs[i] != nil {
			t.Errorf("run %d failed: %v\n%s", i, errs[i], outs[i])
		}
		applied += strings.Count(outs[i], "applied ")
	}
	if applied != migrationCount(t) {
		t.Errorf("the runs applied %d migrations in total, want %d (each once)", applied, migrationCount(t))
	}
	if n := testkit.Scalar[string](t, db, countIHRTables); n != "26" {
		t.Errorf("%s ihr_* tables", n)
	}
}

func TestBackupRestoreRoundTrip(t *testing.T) {
	t.Parallel()
	src := testkit.NewDB(t)
	testkit.Exec(t, src, `INSERT INTO ihr_asn VALUES (2497, 'IIJ Internet Initiative Japan Inc.', true, true, true), (15169, 'GOOGLE', false, true, true);
		INSERT INTO ihr_hegemony (timebin, hege, af, asn_id, originasn_id) VALUES
		('2026-11-30T00:00:00Z', 1.0, 4, 2497, 2497), ('2026-11-30T00:15:00Z', 0.25, 4, 15169, 2497)`)
	file := filepath.Join(t.TempDir(), "ihr.dump")
	if out := mustScript(t, "backup.sh", "--database-url", src, "--output", file); strings.TrimSpace(out) != file {
		t.Errorf("backup.sh printed %q", out)
	}
	dst := testkit.NewEmptyDB(t)
	if out, err := script(t, "restore.sh", "--database-url", dst, file); err == nil || !strings.Contains(out, "--yes") {
		t.Errorf("restore without --yes must refuse: %v\n%s", err, out)
	}
	mustScript(t, "restore.sh", "--database-url", dst, "--yes", file)
	const dump = `SELECT string_agg(format('%s %s %s %s %s', timebin, hege, af, asn_id, originasn_id), ';' ORDER BY id) FROM ihr_hegemony`
	if a, b := testkit.Scalar[string](t, src, dump), testkit.Scalar[string](t, dst, dump); a != b {
		t.Errorf("hegemony rows differ after restore:\n%s\n%s", a, b)
	}
	const names = `SELECT string_agg(number || name, ';' ORDER BY number) FROM ihr_asn`
	if a, b := testkit.Scalar[string](t, src, names), testkit.Scalar[string](t, dst, names); a != b {
		t.Errorf("ihr_asn differs after restore:\n%s\n%s", a, b)
	}
	// Sequences come back too: the next insert does not collide.
	testkit.Exec(t, dst, "INSERT INTO ihr_hegemony (timebin, hege, af, asn_id, originasn_id) VALUES ('2026-11-30T00:30:00Z', 0.5, 4, 15169, 2497)")
	mustScript(t, "migrate.sh", "--database-url", dst, "verify")
}

func TestInitCreatesDatabaseIdempotently(t *testing.T) {
	t.Parallel()
	admin := testkit.PostgresURL(t)
	name := "ihr_test_init_" + testkit.Prefix(t)[1:]
	url := strings.Replace(admin, "/postgres?", "/"+name+"?", 1)
	t.Cleanup(func() { testkit.Exec(t, admin, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)") })
	for range 2 {
		mustScript(t, "init.sh", "--database-url", url)
	}
	if got := testkit.Scalar[string](t, admin, "SELECT count(*)::text FROM pg_database WHERE datname = $1", name); got != "1" {
		t.Fatalf("database %s exists %s times", name, got)
	}
}

func TestResetRefusesProduction(t *testing.T) {
	cmd := exec.Command(filepath.Join(testkit.RepoRoot(t), "scripts/db/reset.sh"), "--yes")
	cmd.Env = append(os.Environ(), "IHR_ENV=prod", "IHR_DATABASE_URL=postgres://nobody@127.0.0.1:1/none")
	out, err := cmd.CombinedOutput()
	if err == nil || !strings.Contains(string(out), "IHR_ENV=prod") {
		t.Fatalf("reset.sh with IHR_ENV=prod: err=%v\n%s", err, out)
	}
}

func TestHelpAndShellcheck(t *testing.T) {
	root := testkit.RepoRoot(t)
	scripts, _ := filepath.Glob(filepath.Join(root, "scripts/*/*.sh"))
	if len(scripts) < 7 {
		t.Fatalf("found only %d scripts", len(scripts))
	}
	for _, s := range scripts {
		if filepath.Base(s) == "lib.sh" {
			continue
		}
		out, err := exec.Command(s, "--help").CombinedOutput()
		if err != nil || !strings.Contains(string(out), "Usage:") {
			t.Errorf("%s --help: err=%v\n%s", s, err, out)
		}
	}
	if _, err := exec.LookPath("shellcheck"); err != nil {
		t.Fatal("shellcheck is missing; install it with: apt-get install -y shellcheck")
	}
	args := append([]string{"-x"}, scripts...)
	args = append(args, filepath.Join(root, ".ci/run"))
	if out, err := exec.Command("shellcheck", args...).CombinedOutput(); err != nil {
		t.Errorf("shellcheck:\n%s", out)
	}
}
