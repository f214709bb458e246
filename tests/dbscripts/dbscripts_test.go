package dbscripts

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/ihr-go/ihr/pkg/testkit"
)

// run runs scripts/db/<name> with args in dir (the test's working directory
// if ""), with extra environment variables, and returns its combined output.
// IHR_DATABASE_URL points nowhere, so only the --database-url flags count.
func run(t *testing.T, dir string, env []string, name string, args ...string) (string, error) {
	t.Helper()
	cmd := exec.Command(filepath.Join(testkit.RepoRoot(t), "scripts/db", name), args...)
	cmd.Dir = dir
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "IHR_") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(cmd.Env, "IHR_DATABASE_URL=postgres://nobody@127.0.0.1:1/none")
	cmd.Env = append(cmd.Env, env...)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// script runs scripts/db/<name> with args.
func script(t *testing.T, name string, args ...string) (string, error) {
	t.Helper()
	return run(t, "", nil, name, args...)
}

// mustScript runs scripts/db/<name> with args and fails the test if it fails.
func mustScript(t *testing.T, name string, args ...string) string {
	t.Helper()
	out, err := script(t, name, args...)
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return out
}

// refused checks that a script run failed and said want.
func refused(t *testing.T, what, out string, err error, want string) {
	t.Helper()
	if err == nil || !strings.Contains(out, want) {
		t.Errorf("%s: want a failure saying %q, got err=%v\n%s", what, want, err, out)
	}
}

func migrationsDir(t *testing.T) string {
	return filepath.Join(testkit.RepoRoot(t), "scripts/db/migrations")
}

// migrationNames lists the repository's migrations (NNNN_name) in order.
func migrationNames(t *testing.T) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(migrationsDir(t), "*.up.sql"))
	if err != nil || len(files) < 8 {
		t.Fatalf("found %d migrations (%v)", len(files), err)
	}
	names := make([]string, len(files))
	for i, f := range files {
		names[i] = strings.TrimSuffix(filepath.Base(f), ".up.sql")
	}
	return names
}

// The reference schema has 22 data tables and 4 legacy user tables.
const ihrTables = 26

func countIHRTables(t *testing.T, db string) int {
	return testkit.Scalar[int](t, db, `SELECT count(*) FROM pg_tables WHERE schemaname = 'public' AND tablename LIKE 'ihr\_%'`)
}

func ledgerRows(t *testing.T, db string) int {
	return testkit.Scalar[int](t, db, "SELECT count(*) FROM schema_migrations")
}

// migrationsCopy copies the migrations to a temporary directory the test may edit.
func migrationsCopy(t *testing.T) string {
	t.Helper()
	dst := t.TempDir()
	entries, err := os.ReadDir(migrationsDir(t))
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(migrationsDir(t), e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		write(t, filepath.Join(dst, e.Name()), string(b))
	}
	return dst
}

func write(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

var statusLine = regexp.MustCompile(`^(\d{4})  (\S+) +(applied \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC|pending)$`)

// status runs migrate.sh status and returns each migration's state
// ("applied" or "pending") by name, checking the output's shape.
func status(t *testing.T, db string) map[string]string {
	t.Helper()
	out := mustScript(t, "migrate.sh", "--database-url", db, "status")
	states := map[string]string{}
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		m := statusLine.FindStringSubmatch(l)
		if m == nil {
			t.Fatalf("status line %q does not read 'NNNN  name  applied DATE|pending'", l)
		}
		if v, _ := strconv.Atoi(m[1]); !strings.HasPrefix(m[2], m[1]) || v == 0 {
			t.Errorf("status line %q: version and name disagree", l)
		}
		states[m[2]], _, _ = strings.Cut(m[3], " ")
	}
	return states
}

func TestUpStatusDownUp(t *testing.T) {
	t.Parallel()
	db := testkit.NewEmptyDB(t)
	names := migrationNames(t)

	for name, state := range status(t, db) {
		if state != "pending" {
			t.Errorf("before any up, %s is %s", name, state)
		}
	}
	if n := testkit.Scalar[int](t, db, "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'"); n != 0 {
		t.Errorf("status on a new database created %d tables", n)
	}

	out := mustScript(t, "migrate.sh", "--database-url", db, "up", "2")
	if want := "applied " + names[0] + "\napplied " + names[1] + "\n"; !strings.Contains(out, want) || strings.Count(out, "applied ") != 2 {
		t.Errorf("up 2 said:\n%s", out)
	}
	states := status(t, db)
	for i, name := range names {
		if want := map[bool]string{true: "applied", false: "pending"}[i < 2]; states[name] != want {
			t.Errorf("after up 2, %s is %q, want %s", name, states[name], want)
		}
	}

	mustScript(t, "migrate.sh", "--database-url", db, "up")
	states = status(t, db)
	if len(states) != len(names) {
		t.Errorf("status lists %d migrations, want %d", len(states), len(names))
	}
	for _, name := range names {
		if states[name] != "applied" {
			t.Errorf("after up, %s is %q", name, states[name])
		}
		b, err := os.ReadFile(filepath.Join(migrationsDir(t), name+".up.sql"))
		if err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256(b)
		if got := testkit.Scalar[string](t, db, "SELECT checksum FROM schema_migrations WHERE name = $1", name); got != hex.EncodeToString(sum[:]) {
			t.Errorf("%s: recorded checksum %s is not the sha256 of its up file", name, got)
		}
	}
	if n := countIHRTables(t, db); n != ihrTables {
		t.Fatalf("%d ihr_* tables after up, want %d", n, ihrTables)
	}

	out = mustScript(t, "migrate.sh", "--database-url", db, "down", "1")
	if want := "reverted " + names[len(names)-1]; strings.TrimSpace(out) != want {
		t.Errorf("down 1 said %q, want %q", out, want)
	}
	mustScript(t, "migrate.sh", "--database-url", db, "down", strconv.Itoa(len(names)+5))
	if n := countIHRTables(t, db); n != 0 {
		t.Fatalf("%d ihr_* tables left after down to zero", n)
	}
	if n := ledgerRows(t, db); n != 0 {
		t.Fatalf("schema_migrations holds %d rows after down to zero", n)
	}
	left := testkit.Scalar[string](t, db, `SELECT coalesce(string_agg(relname, ', '), '') FROM pg_class c
		JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'public' AND relname NOT LIKE 'schema\_migrations%'`)
	if left != "" {
		t.Errorf("down to zero left %s behind", left)
	}

	mustScript(t, "migrate.sh", "--database-url", db, "up")
	if n := countIHRTables(t, db); n != ihrTables {
		t.Fatalf("%d ihr_* tables after up again", n)
	}
	if out := mustScript(t, "migrate.sh", "--database-url", db, "up"); strings.Contains(out, "applied") {
		t.Fatalf("an up with nothing pending applied something:\n%s", out)
	}
	if out := mustScript(t, "migrate.sh", "--database-url", db, "verify"); !strings.Contains(out, "match") {
		t.Errorf("verify said %q", out)
	}
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
	// The reference's counts (26 tables, 168 columns, 33 constraints, 64 indexes including
	// the primary keys, 25 sequences): the query misses nothing obvious.
	for _, kind := range []string{": kind ", " column ", " constraint ", " index ", " sequence "} {
		n := 0
		for _, f := range want {
			n += strings.Count(f, kind)
		}
		if min := map[string]int{": kind ": 26, " column ": 168, " constraint ": 33, " index ": 64, " sequence ": 25}[kind]; n < min {
			t.Errorf("the reference catalog has %d facts of kind %q, want at least %d", n, kind, min)
		}
	}
	if d := diff(want, got); d != "" {
		t.Fatalf("the migrated schema differs from %s:\n%s", ref, d)
	}

	// The comparison would see a change: each edit below must show up, and
	// our own ihrx_ indexes must not.
	for _, c := range []struct{ sql, want string }{
		{"CREATE INDEX ihrx_hegemony_test ON ihr_hegemony (af)", ""},
		{"CREATE TABLE other_table (id int)", ""},
		{"CREATE INDEX other_hegemony_test ON ihr_hegemony (af)", "+ table ihr_hegemony index other_hegemony_test"},
		{"ALTER TABLE ihr_hegemony_prefix ALTER COLUMN descr TYPE varchar(65)", "+ table ihr_hegemony_prefix column descr: #11 character varying(65) not null"},
		{"ALTER TABLE ihr_delay_alarms ALTER COLUMN msm_prb_ids SET NOT NULL", "- table ihr_delay_alarms column msm_prb_ids: #9 jsonb null"},
		{"ALTER TABLE ihr_disco_probes DROP CONSTRAINT fk_disco_probes_event_id", "- table ihr_disco_probes constraint fk_disco_probes_event_id"},
		{"ALTER SEQUENCE ihr_asn_number_seq AS integer", "- table ihr_asn sequence ihr_asn_number_seq: owned by number, bigint"},
		{"ALTER TABLE ihr_country ADD COLUMN extra int", "+ table ihr_country column extra"},
	} {
		testkit.Exec(t, migrated, c.sql)
		got, err := catalog(ctx, migrated)
		if err != nil {
			t.Fatal(err)
		}
		d := diff(want, got)
		if c.want == "" && d != "" {
			t.Errorf("after %s the comparison must still pass:\n%s", c.sql, d)
		}
		if c.want != "" && !strings.Contains(d, c.want) {
			t.Errorf("after %s the diff must show %q:\n%s", c.sql, c.want, d)
		}
	}
}

func TestDiffListsEachDifference(t *testing.T) {
	want := []string{"table a column x: #1 integer not null", "table a column y: #2 text null", "table b: kind r"}
	got := []string{"table a column x: #1 bigint not null", "table a column y: #2 text null", "table c: kind r"}
	const expected = `--- reference (legacy-schema.sql)
+++ migrations
- table a column x: #1 integer not null
+ table a column x: #1 bigint not null
- table b: kind r
+ table c: kind r
(4 difference(s))
`
	if d := diff(want, got); d != expected {
		t.Errorf("diff:\n%s\nwant:\n%s", d, expected)
	}
	if d := diff(want, want); d != "" {
		t.Errorf("equal catalogs must give no diff, got:\n%s", d)
	}
	if d := diff(nil, want); strings.Count(d, "\n+ ") != 3 {
		t.Errorf("an empty reference must list every fact as added:\n%s", d)
	}
}

func TestEditedOrMissingMigrationIsRefused(t *testing.T) {
	t.Parallel()
	db := testkit.NewEmptyDB(t)
	dir := migrationsCopy(t)
	mustScript(t, "migrate.sh", "--database-url", db, "--dir", dir, "up")
	f := filepath.Join(dir, "0002_hegemony.up.sql")
	original, err := os.ReadFile(f)
	if err != nil {
		t.Fatal(err)
	}
	write(t, f, string(original)+"\n-- edited\n")
	for _, cmd := range []string{"up", "verify", "status"} {
		out, err := script(t, "migrate.sh", "--database-url", db, "--dir", dir, cmd)
		refused(t, cmd+" with an edited migration", out, err, "0002_hegemony.up.sql (file edited since it was applied)")
	}
	// IHR_MIGRATIONS_DIR works like --dir.
	out, err := run(t, "", []string{"IHR_MIGRATIONS_DIR=" + dir}, "migrate.sh", "--database-url", db, "verify")
	refused(t, "verify with IHR_MIGRATIONS_DIR", out, err, "0002_hegemony.up.sql (file edited")

	write(t, f, string(original))
	mustScript(t, "migrate.sh", "--database-url", db, "--dir", dir, "verify")
	for _, ext := range []string{".up.sql", ".down.sql"} {
		if err := os.Remove(filepath.Join(dir, "0008_timescaledb"+ext)); err != nil {
			t.Fatal(err)
		}
	}
	for _, cmd := range []string{"up", "verify"} {
		out, err := script(t, "migrate.sh", "--database-url", db, "--dir", dir, cmd)
		refused(t, cmd+" with a missing migration", out, err, "0008_timescaledb.up.sql (file missing)")
	}
	if n := ledgerRows(t, db); n != len(migrationNames(t)) {
		t.Errorf("refused runs changed the ledger: %d rows", n)
	}
}

func TestBadArgumentsAndFilesAreRefused(t *testing.T) {
	t.Parallel()
	db := testkit.NewEmptyDB(t)
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"up", "0"}, "positive"},
		{[]string{"up", "1", "2"}, "at most one argument"},
		{[]string{"down"}, "down N"},
		{[]string{"down", "x"}, "down N"},
		{[]string{"status", "x"}, "no argument"},
		{[]string{"sideways"}, "unknown command sideways"},
		{[]string{"--nope", "up"}, "unknown option --nope"},
		{nil, "missing command"},
		{[]string{"--dir", "/nonexistent", "up"}, "no migrations directory /nonexistent"},
	} {
		out, err := script(t, "migrate.sh", append([]string{"--database-url", db}, c.args...)...)
		refused(t, "migrate.sh "+strings.Join(c.args, " "), out, err, c.want)
	}

	missingDown := migrationsCopy(t)
	os.Remove(filepath.Join(missingDown, "0003_delay_forwarding.down.sql"))
	out, err := script(t, "migrate.sh", "--database-url", db, "--dir", missingDown, "up")
	refused(t, "up with a missing down file", out, err, "0003_delay_forwarding.down.sql")

	duplicate := migrationsCopy(t)
	write(t, filepath.Join(duplicate, "0003_again.up.sql"), "SELECT 1;\n")
	write(t, filepath.Join(duplicate, "0003_again.down.sql"), "SELECT 1;\n")
	out, err = script(t, "migrate.sh", "--database-url", db, "--dir", duplicate, "up")
	refused(t, "up with two migrations of one version", out, err, "share the version(s) 3")

	badName := migrationsCopy(t)
	write(t, filepath.Join(badName, "12-Oops.up.sql"), "SELECT 1;\n")
	out, err = script(t, "migrate.sh", "--database-url", db, "--dir", badName, "up")
	refused(t, "up with a badly named file", out, err, "bad migration file name")

	if n := testkit.Scalar[int](t, db, "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'"); n != 0 {
		t.Errorf("refused runs created %d tables", n)
	}
}

func TestFailingMigrationChangesNothing(t *testing.T) {
	t.Parallel()
	db := testkit.NewEmptyDB(t)
	dir := migrationsCopy(t)
	write(t, filepath.Join(dir, "0099_broken.up.sql"), "CREATE TABLE ihrx_half_done (id int);\nSELECT 1/0;\n")
	write(t, filepath.Join(dir, "0099_broken.down.sql"), "DROP TABLE ihrx_half_done;\n")
	write(t, filepath.Join(dir, "0100_after.up.sql"), "CREATE TABLE ihrx_after (id int);\n")
	write(t, filepath.Join(dir, "0100_after.down.sql"), "DROP TABLE ihrx_after;\n")
	out, err := script(t, "migrate.sh", "--database-url", db, "--dir", dir, "up")
	refused(t, "up with a failing migration", out, err, "division by zero")
	for _, table := range []string{"ihrx_half_done", "ihrx_after"} {
		if n := testkit.Scalar[int](t, db, "SELECT count(*) FROM pg_tables WHERE tablename = $1", table); n != 0 {
			t.Errorf("the failed run left table %s behind", table)
		}
	}
	if n := testkit.Scalar[int](t, db, "SELECT count(*) FROM schema_migrations WHERE version >= 99"); n != 0 {
		t.Error("the failing migration, or one after it, was recorded")
	}
	if n := ledgerRows(t, db); n != len(migrationNames(t)) {
		t.Errorf("the migrations before it: %d applied, want %d", n, len(migrationNames(t)))
	}
}

func TestConcurrentRunsApplyEachMigrationOnce(t *testing.T) {
	t.Parallel()
	db := testkit.NewEmptyDB(t)
	const runs = 3
	var wg sync.WaitGroup
	outs := make([]string, runs)
	errs := make([]error, runs)
	for i := range runs {
		wg.Go(func() { outs[i], errs[i] = script(t, "migrate.sh", "--database-url", db, "up") })
	}
	wg.Wait()
	applied := map[string]int{}
	for i := range runs {
		if errs[i] != nil {
			t.Errorf("run %d failed: %v\n%s", i, errs[i], outs[i])
		}
		for _, l := range strings.Split(outs[i], "\n") {
			if name, ok := strings.CutPrefix(l, "applied "); ok {
				applied[name]++
			}
		}
	}
	for _, name := range migrationNames(t) {
		if applied[name] != 1 {
			t.Errorf("%s applied %d times by the concurrent runs, want once", name, applied[name])
		}
	}
	if n := ledgerRows(t, db); n != len(migrationNames(t)) {
		t.Errorf("schema_migrations has %d rows, want %d", n, len(migrationNames(t)))
	}
	if n := countIHRTables(t, db); n != ihrTables {
		t.Errorf("%d ihr_* tables, want %d", n, ihrTables)
	}
}

func TestBackupRestoreRoundTrip(t *testing.T) {
	t.Parallel()
	src := testkit.NewDB(t)
	testkit.Exec(t, src, `INSERT INTO ihr_asn VALUES (2497, 'IIJ Internet Initiative Japan Inc.', true, true, true), (15169, 'GOOGLE', false, true, true);
		INSERT INTO ihr_hegemony (timebin, hege, af, asn_id, originasn_id) VALUES
		('2026-11-30T00:00:00Z', 1.0, 4, 2497, 2497), ('2026-11-30T00:15:00Z', 0.25, 4, 15169, 2497), ('2026-11-30T00:15:00Z', 0.125, 6, 2497, 15169)`)

	// Default output: backups/<database>-<UTC time>.dump under the working directory.
	cwd := t.TempDir()
	out, err := run(t, cwd, nil, "backup.sh", "--database-url", src)
	if err != nil {
		t.Fatalf("backup.sh: %v\n%s", err, out)
	}
	file := filepath.Join(cwd, strings.TrimSpace(out))
	if !regexp.MustCompile(`^backups/ihr_test_\w+-\d{8}T\d{6}Z\.dump$`).MatchString(strings.TrimSpace(out)) {
		t.Errorf("backup.sh wrote %q, want backups/<database>-<UTC time>.dump", out)
	}
	if _, err := os.Stat(file); err != nil {
		t.Fatal(err)
	}
	explicit := filepath.Join(t.TempDir(), "ihr.dump")
	if out := mustScript(t, "backup.sh", "--database-url", src, "--output", explicit); strings.TrimSpace(out) != explicit {
		t.Errorf("backup.sh --output printed %q", out)
	}

	// Into a migrated database holding other rows, which the restore replaces.
	dst := testkit.NewDB(t)
	testkit.Exec(t, dst, "INSERT INTO ihr_asn VALUES (1, 'LEFTOVER', false, false, false)")
	out, err = script(t, "restore.sh", "--database-url", dst, file)
	refused(t, "restore without --yes and without a terminal", out, err, "--yes")
	if n := testkit.Scalar[int](t, dst, "SELECT count(*) FROM ihr_asn"); n != 1 {
		t.Fatal("the refused restore changed the database")
	}
	mustScript(t, "restore.sh", "--database-url", dst, "--yes", file)

	// Into a database that does not exist yet.
	admin := testkit.PostgresURL(t)
	missing := "ihr_test_restore_" + testkit.Prefix(t)[1:]
	t.Cleanup(func() { testkit.Exec(t, admin, "DROP DATABASE IF EXISTS "+missing+" WITH (FORCE)") })
	created := strings.Replace(admin, "/postgres?", "/"+missing+"?", 1)
	mustScript(t, "restore.sh", "--database-url", created, "--yes", explicit)

	const hegemony = `SELECT string_agg(format('%s %s %s %s %s %s', id, timebin, hege, af, asn_id, originasn_id), ';' ORDER BY id) FROM ihr_hegemony`
	const asns = `SELECT string_agg(format('%s %s %s %s %s', number, name, tartiflette, disco, ashash), ';' ORDER BY number) FROM ihr_asn`
	for _, restored := range []string{dst, created} {
		for _, q := range []string{hegemony, asns} {
			if a, b := testkit.Scalar[string](t, src, q), testkit.Scalar[string](t, restored, q); a != b {
				t.Errorf("rows differ after restore:\nsource:   %s\nrestored: %s", a, b)
			}
		}
		// Sequences come back too: the next insert does not collide, and the ledger is intact.
		testkit.Exec(t, restored, "INSERT INTO ihr_hegemony (timebin, hege, af, asn_id, originasn_id) VALUES ('2026-11-30T00:30:00Z', 0.5, 4, 15169, 2497)")
		mustScript(t, "migrate.sh", "--database-url", restored, "verify")
	}

	out, err = script(t, "restore.sh", "--database-url", dst, "--yes", filepath.Join(cwd, "nope.dump"))
	refused(t, "restore of a missing file", out, err, "cannot read")
}

func TestInitCreatesRoleAndDatabaseIdempotently(t *testing.T) {
	t.Parallel()
	admin := testkit.PostgresURL(t)
	token := testkit.Prefix(t)[1:]
	role, name := "ihr_test_role_"+token, "ihr_test_init_"+token
	t.Cleanup(func() {
		testkit.Exec(t, admin, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)")
		testkit.Exec(t, admin, "DROP ROLE IF EXISTS "+role)
	})
	url := strings.Replace(strings.Replace(admin, "/postgres?", "/"+name+"?", 1), "://postgres@", "://"+role+":s3cret@", 1)
	for range 2 {
		if out := mustScript(t, "init.sh", "--database-url", url); !strings.Contains(out, "database "+name+" ready") {
			t.Errorf("init.sh said %q", out)
		}
	}
	if got := testkit.Scalar[string](t, admin, "SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = $1", name); got != role {
		t.Errorf("database %s is owned by %q, want %s", name, got, role)
	}
	if !testkit.Scalar[bool](t, admin, "SELECT rolcanlogin AND rolpassword IS NOT NULL FROM pg_authid WHERE rolname = $1", role) {
		t.Errorf("role %s cannot log in or has no password", role)
	}
	// The new role can use its database, so migrate.sh works right after init.sh.
	mustScript(t, "migrate.sh", "--database-url", url, "up", "1")
}

func TestResetRecreatesAndMigrates(t *testing.T) {
	t.Parallel()
	db := testkit.NewDB(t)
	testkit.Exec(t, db, "INSERT INTO ihr_country VALUES ('XX', 'Nowhere', false, false); CREATE TABLE junk (id int)")

	out, err := run(t, "", []string{"IHR_ENV=prod"}, "reset.sh", "--database-url", db, "--yes")
	refused(t, "reset with IHR_ENV=prod", out, err, "IHR_ENV=prod")
	out, err = script(t, "reset.sh", "--database-url", db)
	refused(t, "reset without --yes and without a terminal", out, err, "--yes")
	out, err = script(t, "reset.sh", "--database-url", strings.Replace(db, "/ihr_test_", "/postgres?x=", 1), "--yes")
	refused(t, "reset of the maintenance database", out, err, "refusing")
	if n := testkit.Scalar[int](t, db, "SELECT count(*) FROM ihr_country"); n != 1 {
		t.Fatal("a refused reset changed the database")
	}

	mustScript(t, "reset.sh", "--database-url", db, "--yes")
	if n := testkit.Scalar[int](t, db, "SELECT count(*) FROM ihr_country"); n != 0 {
		t.Error("reset kept the rows")
	}
	if n := testkit.Scalar[int](t, db, "SELECT count(*) FROM pg_tables WHERE tablename = 'junk'"); n != 0 {
		t.Error("reset kept a table")
	}
	if n := ledgerRows(t, db); n != len(migrationNames(t)) {
		t.Errorf("after reset %d migrations applied, want %d", n, len(migrationNames(t)))
	}
}

// shellScripts lists scripts/**/*.sh.
func shellScripts(t *testing.T) []string {
	t.Helper()
	var scripts []string
	err := filepath.WalkDir(filepath.Join(testkit.RepoRoot(t), "scripts"), func(path string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.HasSuffix(path, ".sh") {
			scripts = append(scripts, path)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(scripts) < 7 {
		t.Fatalf("found only %d scripts under scripts/", len(scripts))
	}
	return scripts
}

func TestEveryScriptAnswersHelp(t *testing.T) {
	t.Parallel()
	for _, s := range shellScripts(t) {
		if filepath.Base(s) == "lib.sh" { // sourced by the others, not run
			continue
		}
		out, err := exec.Command(s, "--help").CombinedOutput()
		if err != nil || !strings.Contains(string(out), "Usage:") {
			t.Errorf("%s --help: want exit 0 and a usage text, got err=%v\n%s", s, err, out)
		}
	}
}

func TestShellcheck(t *testing.T) {
	t.Parallel()
	if _, err := exec.LookPath("shellcheck"); err != nil {
		t.Fatal("shellcheck is missing; install it with: apt-get install -y shellcheck")
	}
	cmd := exec.Command("shellcheck", append([]string{"-x"}, shellScripts(t)...)...)
	cmd.Dir = testkit.RepoRoot(t)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Errorf("shellcheck: %v\n%s", err, out)
	}
}

// TestBaselineOnTheLegacySchema takes a database holding the legacy schema
// (as production does), records 0001–0007 without running them, and applies
// the rest on top.
func TestBaselineOnTheLegacySchema(t *testing.T) {
	t.Parallel()
	db := testkit.NewEmptyDB(t)
	ref := filepath.Join(testkit.RepoRoot(t), "..", "shared", "reference", "legacy-schema.sql")
	if out, err := exec.Command("psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-f", ref, db).CombinedOutput(); err != nil {
		t.Fatalf("load %s: %v\n%s", ref, err, out)
	}
	// Running them would fail: their tables exist.
	out, err := script(t, "migrate.sh", "--database-url", db, "up", "1")
	refused(t, "up on the legacy schema", out, err, "already exists")

	names := migrationNames(t)
	out = mustScript(t, "migrate.sh", "--database-url", db, "baseline", "0007")
	if strings.Count(out, "recorded ") != 7 || !strings.Contains(out, "recorded "+names[6]) {
		t.Errorf("baseline 0007 said:\n%s", out)
	}
	for i, name := range names {
		if want := map[bool]string{true: "applied", false: "pending"}[i < 7]; status(t, db)[name] != want {
			t.Errorf("after baseline 7, %s is %s, want %s", name, status(t, db)[name], want)
		}
	}
	mustScript(t, "migrate.sh", "--database-url", db, "up")
	mustScript(t, "migrate.sh", "--database-url", db, "verify")

	out, err = script(t, "migrate.sh", "--database-url", db, "baseline", "3")
	refused(t, "baseline below applied migrations", out, err, "migrations after 3 are applied already")
	for _, bad := range [][]string{{"baseline"}, {"baseline", "x"}, {"baseline", "999"}, {"baseline", "1", "2"}} {
		out, err := script(t, "migrate.sh", append([]string{"--database-url", db}, bad...)...)
		refused(t, strings.Join(bad, " "), out, err, "baseline")
	}
}
