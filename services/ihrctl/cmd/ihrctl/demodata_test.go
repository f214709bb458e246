package main

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/ihr-go/ihr/pkg/testkit"
	"github.com/ihr-go/ihr/services/ihrctl/internal/demodata"
	"github.com/jackc/pgx/v5"
)

func ihrctl(t *testing.T, args ...string) (string, error) {
	t.Helper()
	var out, errOut bytes.Buffer
	err := run(context.Background(), args, &out, &errOut)
	return out.String() + errOut.String(), err
}

// checksums returns an md5 of every demo table's content.
func checksums(t *testing.T, dbURL string) map[string]string {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	tables, _ := demodata.Generate(demodata.Options{Scale: "small"})
	sums := map[string]string{}
	for _, tb := range tables {
		id := pgx.Identifier{tb.Name}.Sanitize()
		var sum string
		q := "SELECT coalesce(md5(string_agg(t::text, '|' ORDER BY t::text)), '') FROM " + id + " t"
		if err := conn.QueryRow(ctx, q).Scan(&sum); err != nil {
			t.Fatal(err)
		}
		sums[tb.Name] = sum
	}
	return sums
}

func TestDemoDataLoadsConsistentRows(t *testing.T) {
	t.Parallel()
	db := testkit.NewDB(t)
	out, err := ihrctl(t, "demo-data", "--database-url", db, "--progress", "never")
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if !strings.Contains(out, "ihr_hegemony ") || !strings.Contains(out, "loaded:") {
		t.Errorf("no row counts printed:\n%s", out)
	}
	for name, sum := range checksums(t, db) {
		if sum == "" {
			t.Errorf("%s is empty", name)
		}
	}
	for _, q := range []string{
		`SELECT count(*) FROM ihr_hegemony h LEFT JOIN ihr_asn a ON a.number = h.asn_id LEFT JOIN ihr_asn o ON o.number = h.originasn_id WHERE a.number IS NULL OR o.number IS NULL`,
		`SELECT count(*) FROM ihr_atlas_delay d LEFT JOIN ihr_atlas_location s ON s.id = d.startpoint_id LEFT JOIN ihr_atlas_location e ON e.id = d.endpoint_id WHERE s.id IS NULL OR e.id IS NULL`,
		`SELECT count(*) FROM ihr_hegemony_country c LEFT JOIN ihr_country k ON k.code = c.country_id WHERE k.code IS NULL`,
		`SELECT count(*) FROM ihr_delay_alarms_msms m LEFT JOIN ihr_delay_alarms a ON a.id = m.alarm_id WHERE a.id IS NULL`,
		`SELECT count(*) FROM ihr_disco_events e WHERE nbdiscoprobes <> (SELECT count(*) FROM ihr_disco_probes p WHERE p.event_id = e.id)`,
	} {
		if n := testkit.Scalar[int64](t, db, q); n != 0 {
			t.Errorf("%d inconsistent rows: %s", n, q)
		}
	}
	// sequences follow the explicit ids
	testkit.Exec(t, db, "INSERT INTO ihr_hegemony (timebin, hege, af, asn_id, originasn_id) VALUES (now(), 0.5, 4, 2497, 2497)")

	out, err = ihrctl(t, "demo-data", "--database-url", db, "--if-empty")
	if err != nil || !strings.Contains(out, "nothing loaded") {
		t.Errorf("--if-empty on a filled database: %v\n%s", err, out)
	}
	if _, err := ihrctl(t, "demo-data", "--database-url", db); err == nil || !strings.Contains(err.Error(), "--replace") {
		t.Errorf("loading into a filled database must refuse: %v", err)
	}
}

func TestDemoDataIsDeterministic(t *testing.T) {
	t.Parallel()
	a, b := testkit.NewDB(t), testkit.NewDB(t)
	for _, db := range []string{a, b} {
		if out, err := ihrctl(t, "demo-data", "--database-url", db, "--seed", "42", "--progress", "never"); err != nil {
			t.Fatalf("%v\n%s", err, out)
		}
	}
	sa, sb := checksums(t, a), checksums(t, b)
	for name := range sa {
		if sa[name] != sb[name] {
			t.Errorf("%s differs between two loads with seed 42", name)
		}
	}
	if out, err := ihrctl(t, "demo-data", "--database-url", b, "--seed", "43", "--replace", "--progress", "never"); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if checksums(t, b)["ihr_hegemony"] == sa["ihr_hegemony"] {
		t.Error("--replace with another seed left the same hegemony rows")
	}
}

func TestBadFlags(t *testing.T) {
	for _, args := range [][]string{
		{"demo-data", "--scale", "huge", "--database-url", "postgres://127.0.0.1:1/x"},
		{"demo-data", "--end", "yesterday"},
		{"demo-data", "--progress", "sometimes"},
		{"no-such-command"},
	} {
		if _, err := ihrctl(t, args...); err == nil {
			t.Errorf("%v accepted", args)
		}
	}
}
