package pgload_test

import (
	"context"
	"slices"
	"testing"

	"github.com/ihr-go/ihr/pkg/testkit"
	"github.com/ihr-go/ihr/services/ihrctl/internal/demodata"
	"github.com/ihr-go/ihr/services/ihrctl/internal/pgload"
	"github.com/jackc/pgx/v5"
)

func connect(t *testing.T, dbURL string) *pgx.Conn {
	t.Helper()
	conn, err := pgx.Connect(context.Background(), dbURL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	return conn
}

func smallTables(t *testing.T, seed uint64) []demodata.Table {
	t.Helper()
	tables, err := demodata.Generate(demodata.Options{Scale: "small", Seed: seed})
	if err != nil {
		t.Fatal(err)
	}
	return tables
}

func TestLoadCopiesEveryRowAndMovesSequences(t *testing.T) {
	t.Parallel()
	db := testkit.NewDB(t)
	ctx := context.Background()
	conn := connect(t, db)
	tables := smallTables(t, 1)

	if empty, err := pgload.Empty(ctx, conn, tables); err != nil || !empty {
		t.Fatalf("new database: empty %v, %v", empty, err)
	}
	reported := 0
	counts, err := pgload.Load(ctx, conn, tables, false, func(n int) { reported += n })
	if err != nil {
		t.Fatal(err)
	}
	var total int64
	for i, tb := range tables {
		total += counts[i]
		if n := testkit.Scalar[int64](t, db, "SELECT count(*) FROM "+pgx.Identifier{tb.Name}.Sanitize()); n != counts[i] || n == 0 {
			t.Errorf("%s holds %d rows, Load reported %d", tb.Name, n, counts[i])
		}
		if tb.Serial == "" {
			continue
		}
		// the next id the sequence hands out is free
		q := "SELECT nextval(pg_get_serial_sequence($1, 'id')) > (SELECT max(id) FROM " + pgx.Identifier{tb.Name}.Sanitize() + ")"
		if !testkit.Scalar[bool](t, db, q, tb.Name) {
			t.Errorf("%s: the id sequence is behind the loaded ids", tb.Name)
		}
	}
	if int64(reported) != total || total != pgload.Count(tables) {
		t.Errorf("progress reported %d rows, loaded %d, Count says %d", reported, total, pgload.Count(tables))
	}
	if empty, err := pgload.Empty(ctx, conn, tables); err != nil || empty {
		t.Errorf("loaded database: empty %v, %v", empty, err)
	}
}

func TestFailedLoadLeavesNothing(t *testing.T) {
	t.Parallel()
	db := testkit.NewDB(t)
	conn := connect(t, db)
	tables := smallTables(t, 1)[:2]
	// a country code longer than varchar(4) fails the second table
	tables[1].Rows = func(yield func([]any) bool) { yield([]any{"TOOLONG", "Nowhere", false, false}) }

	if _, err := pgload.Load(context.Background(), conn, tables, false, nil); err == nil {
		t.Fatal("a bad row was accepted")
	}
	if n := testkit.Scalar[int64](t, db, "SELECT count(*) FROM ihr_asn"); n != 0 {
		t.Errorf("a failed load left %d networks behind", n)
	}
}

func TestReplaceKeepsTheLegacyUsers(t *testing.T) {
	t.Parallel()
	db := testkit.NewDB(t)
	ctx := context.Background()
	conn := connect(t, db)
	if _, err := pgload.Load(ctx, conn, smallTables(t, 1), false, nil); err != nil {
		t.Fatal(err)
	}
	testkit.Exec(t, db, "INSERT INTO ihr_ihruser (id, password, is_superuser, email, is_active) VALUES (1, 'x', false, 'op@example.org', true)")
	testkit.Exec(t, db, "INSERT INTO ihr_monitoredasn (notifylevel, asn_id, user_id) VALUES (10, 2497, 1)")
	before := testkit.Scalar[string](t, db, "SELECT md5(string_agg(h::text, '' ORDER BY id)) FROM ihr_hegemony h")

	tables := smallTables(t, 2)
	if _, err := pgload.Load(ctx, conn, tables, true, nil); err != nil {
		t.Fatalf("replace: %v", err)
	}
	if after := testkit.Scalar[string](t, db, "SELECT md5(string_agg(h::text, '' ORDER BY id)) FROM ihr_hegemony h"); after == before {
		t.Error("replace kept the old hegemony rows")
	}
	if n := testkit.Scalar[int64](t, db, "SELECT count(*) FROM ihr_monitoredasn"); n != 1 {
		t.Errorf("replace removed the users' monitored networks (%d left)", n)
	}

	// a monitored network the demo data does not have: the load is refused as a whole
	testkit.Exec(t, db, "INSERT INTO ihr_asn VALUES (64999, 'AS64999 private', false, false, false)")
	testkit.Exec(t, db, "INSERT INTO ihr_monitoredasn (notifylevel, asn_id, user_id) VALUES (10, 64999, 1)")
	if _, err := pgload.Load(ctx, conn, tables, true, nil); err == nil {
		t.Fatal("replace dropped a network a user monitors")
	}
	asns := testkit.Scalar[[]int64](t, db, "SELECT array_agg(number) FROM ihr_asn")
	if !slices.Contains(asns, 64999) {
		t.Error("the refused replace was not rolled back")
	}
}
