package main

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/ihr-go/ihr/pkg/testkit"
	"github.com/ihr-go/ihr/services/ihrctl/internal/demodata"
	"github.com/jackc/pgx/v5"
)

func ihrctl(t *testing.T, args ...string) (string, error) {
	t.Helper()
	out, errOut, err := ihrctlSplit(t, args...)
	return out + errOut, err
}

func load(t *testing.T, args ...string) string {
	t.Helper()
	start := time.Now()
	out, err := ihrctl(t, append([]string{"demo-data", "--progress", "never"}, args...)...)
	if err != nil {
		t.Fatalf("ihrctl %v: %v\n%s", args, err, out)
	}
	t.Logf("ihrctl demo-data %v: %s", args, time.Since(start).Round(time.Millisecond))
	return out
}

func tableNames(t *testing.T) []string {
	t.Helper()
	tables, err := demodata.Generate(demodata.Options{Scale: "small"})
	if err != nil {
		t.Fatal(err)
	}
	names := make([]string, len(tables))
	for i, tb := range tables {
		names[i] = tb.Name
	}
	return names
}

// checksums returns an md5 of every demo table's content, in a fixed row order.
func checksums(t *testing.T, dbURL string) map[string]string {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	sums := map[string]string{}
	for _, name := range tableNames(t) {
		var sum string
		q := "SELECT coalesce(md5(string_agg(t::text, '|' ORDER BY t::text)), '') FROM " + pgx.Identifier{name}.Sanitize() + " t"
		if err := conn.QueryRow(ctx, q).Scan(&sum); err != nil {
			t.Fatal(err)
		}
		sums[name] = sum
	}
	return sums
}

// references are the legacy schema's links between tables, most of which
// have no foreign key: every row must find the row it refers to.
var references = []struct{ table, column, refTable, refColumn string }{
	{"ihr_hegemony", "asn_id", "ihr_asn", "number"},
	{"ihr_hegemony", "originasn_id", "ihr_asn", "number"},
	{"ihr_hegemonycone", "asn_id", "ihr_asn", "number"},
	{"ihr_hegemony_alarms", "asn_id", "ihr_asn", "number"},
	{"ihr_hegemony_alarms", "originasn_id", "ihr_asn", "number"},
	{"ihr_hegemony_country", "asn_id", "ihr_asn", "number"},
	{"ihr_hegemony_country", "country_id", "ihr_country", "code"},
	{"ihr_hegemony_prefix", "asn_id", "ihr_asn", "number"},
	{"ihr_hegemony_prefix", "originasn_id", "ihr_asn", "number"},
	{"ihr_hegemony_prefix", "country_id", "ihr_country", "code"},
	{"ihr_delay", "asn_id", "ihr_asn", "number"},
	{"ihr_forwarding", "asn_id", "ihr_asn", "number"},
	{"ihr_delay_alarms", "asn_id", "ihr_asn", "number"},
	{"ihr_forwarding_alarms", "asn_id", "ihr_asn", "number"},
	{"ihr_delay_alarms_msms", "alarm_id", "ihr_delay_alarms", "id"},
	{"ihr_forwarding_alarms_msms", "alarm_id", "ihr_forwarding_alarms", "id"},
	{"ihr_atlas_delay", "startpoint_id", "ihr_atlas_location", "id"},
	{"ihr_atlas_delay", "endpoint_id", "ihr_atlas_location", "id"},
	{"ihr_atlas_delay_alarms", "startpoint_id", "ihr_atlas_location", "id"},
	{"ihr_atlas_delay_alarms", "endpoint_id", "ihr_atlas_location", "id"},
	{"ihr_disco_probes", "event_id", "ihr_disco_events", "id"},
	{"ihr_metis_atlas_selection", "asn_id", "ihr_asn", "number"},
	{"ihr_metis_atlas_deployment", "asn_id", "ihr_asn", "number"},
	{"ihr_tr_hegemony", "origin_id", "ihr_tr_hegemony_identifier", "id"},
	{"ihr_tr_hegemony", "dependency_id", "ihr_tr_hegemony_identifier", "id"},
}

func TestDemoDataLoadsConsistentRows(t *testing.T) {
	t.Parallel()
	db := testkit.NewDB(t)
	out := load(t, "--database-url", db)
	if !strings.Contains(out, "loaded:") || !strings.Contains(out, "ihr_hegemony ") || !strings.Contains(out, "total ") {
		t.Errorf("no row counts printed:\n%s", out)
	}
	for name, sum := range checksums(t, db) {
		if sum == "" {
			t.Errorf("%s is empty", name)
		}
	}
	for _, r := range references {
		t.Run(r.table+"."+r.column, func(t *testing.T) {
			q := fmt.Sprintf("SELECT count(*) FROM %s t WHERE NOT EXISTS (SELECT 1 FROM %s r WHERE r.%s = t.%s)",
				r.table, r.refTable, r.refColumn, r.column)
			if n := testkit.Scalar[int64](t, db, q); n != 0 {
				t.Errorf("%d rows of %s refer to no %s", n, r.table, r.refTable)
			}
		})
	}
	for _, q := range []string{
		// joins from hegemony to the networks lose no row
		`SELECT (SELECT count(*) FROM ihr_hegemony) - (SELECT count(*) FROM ihr_hegemony h JOIN ihr_asn a ON a.number = h.asn_id JOIN ihr_asn o ON o.number = h.originasn_id)`,
		`SELECT count(*) FROM ihr_disco_events e WHERE nbdiscoprobes <> (SELECT count(*) FROM ihr_disco_probes p WHERE p.event_id = e.id)`,
		`SELECT count(*) FROM ihr_hegemony WHERE hege <= 0 OR hege > 1 OR (asn_id = originasn_id AND hege <> 1)`,
		`SELECT count(*) FROM ihr_hegemony WHERE extract(epoch FROM timebin)::bigint % 900 <> 0`,
		`SELECT count(*) FROM ihr_atlas_delay d JOIN ihr_atlas_location s ON s.id = d.startpoint_id JOIN ihr_atlas_location e ON e.id = d.endpoint_id WHERE s.af <> e.af`,
		`SELECT count(*) FROM (VALUES (2497), (15169), (13335), (3356), (174), (7922)) k(n) WHERE NOT EXISTS (SELECT 1 FROM ihr_hegemony WHERE originasn_id = k.n)`,
		`SELECT CASE WHEN EXISTS (SELECT 1 FROM ihr_hegemony WHERE originasn_id = 0 AND timebin = '2026-11-30T23:45:00Z' AND af = 6) THEN 0 ELSE 1 END`,
	} {
		if n := testkit.Scalar[int64](t, db, q); n != 0 {
			t.Errorf("%d inconsistent rows: %s", n, q)
		}
	}
	// the sequences follow the explicit ids
	testkit.Exec(t, db, "INSERT INTO ihr_hegemony (timebin, hege, af, asn_id, originasn_id) VALUES ('2026-11-30T23:45:00Z', 0.5, 4, 174, 2497)")
	testkit.Exec(t, db, "INSERT INTO ihr_disco_events (mongoid, streamtype, streamname, starttime, endtime, avglevel, nbdiscoprobes, totalprobes, ongoing) VALUES ('0', 'asn', '2497', now(), now(), 1, 0, 1, false)")

	out, err := ihrctl(t, "demo-data", "--database-url", db, "--if-empty")
	if err != nil || !strings.Contains(out, "nothing loaded") || !strings.Contains(out, "ihr_asn ") {
		t.Errorf("--if-empty on a filled database: %v\n%s", err, out)
	}
	if _, err := ihrctl(t, "demo-data", "--database-url", db); err == nil || !strings.Contains(err.Error(), "--replace") {
		t.Errorf("loading into a filled database must refuse: %v", err)
	}
	if n := testkit.Scalar[int64](t, db, "SELECT count(*) FROM ihr_hegemony WHERE hege = 0.5"); n != 1 {
		t.Errorf("--if-empty or a refused load changed the data (%d marker rows)", n)
	}
}

func TestIfEmptyLoadsAnEmptyDatabase(t *testing.T) {
	t.Parallel()
	db := testkit.NewDB(t)
	load(t, "--database-url", db, "--if-empty")
	if n := testkit.Scalar[int64](t, db, "SELECT count(*) FROM ihr_asn"); n == 0 {
		t.Error("--if-empty did not load an empty database")
	}
}

func TestDemoDataIsDeterministic(t *testing.T) {
	t.Parallel()
	a, b := testkit.NewDB(t), testkit.NewDB(t)
	load(t, "--database-url", a, "--seed", "42")
	load(t, "--database-url", b, "--seed", "42")
	sa, sb := checksums(t, a), checksums(t, b)
	for name := range sa {
		if sa[name] != sb[name] {
			t.Errorf("%s differs between two loads with seed 42", name)
		}
	}
	load(t, "--database-url", b, "--seed", "43", "--replace")
	if checksums(t, b)["ihr_hegemony"] == sa["ihr_hegemony"] {
		t.Error("--replace with another seed left the same hegemony rows")
	}
	load(t, "--database-url", b, "--seed", "42", "--replace")
	if sb := checksums(t, b); sb["ihr_hegemony"] != sa["ihr_hegemony"] {
		t.Error("--replace with seed 42 again did not give the first rows back")
	}
}

func TestBadArguments(t *testing.T) {
	tests := [][]string{
		{"demo-data", "--scale", "huge", "--database-url", "postgres://127.0.0.1:1/x"},
		{"demo-data", "--end", "yesterday"},
		{"demo-data", "--end", "2026-11-30T23:40:00Z", "--database-url", "postgres://127.0.0.1:1/x"},
		{"demo-data", "--progress", "sometimes"},
		{"demo-data", "extra"},
		{"demo-data", "--database-url", "postgres://postgres@127.0.0.1:1/x?connect_timeout=2"},
		{"no-such-command"},
	}
	for _, args := range tests {
		if _, err := ihrctl(t, args...); err == nil {
			t.Errorf("%v accepted", args)
		}
	}
	for _, args := range [][]string{{}, {"help"}, {"demo-data", "-h"}} {
		if out, err := ihrctl(t, args...); err != nil || !strings.Contains(out, "demo-data") {
			t.Errorf("%v: %v\n%s", args, err, out)
		}
	}
}

func TestDatabaseURLDefaults(t *testing.T) {
	tests := []struct{ env, flag, want string }{
		{"", "", defaultDatabaseURL},
		{"postgres://env/db", "", "postgres://env/db"},
		{"postgres://env/db", "postgres://flag/db", "postgres://flag/db"},
	}
	for _, tt := range tests {
		t.Setenv("IHR_DATABASE_URL", tt.env)
		var args []string
		if tt.flag != "" {
			args = []string{"--database-url", tt.flag}
		}
		cfg, err := parseDemoFlags(args, &bytes.Buffer{})
		if err != nil || cfg.databaseURL != tt.want {
			t.Errorf("env %q flag %q: %q, %v; want %q", tt.env, tt.flag, cfg.databaseURL, err, tt.want)
		}
		if !cfg.gen.End.Equal(demodata.DefaultEnd) || cfg.gen.Scale != "small" || cfg.progress != "auto" {
			t.Errorf("defaults: %+v", cfg)
		}
	}
}
