package main

import (
	"encoding/csv"
	"net/http"
	"strings"
	"testing"

	"github.com/ihr-go/ihr/pkg/service"
	"github.com/ihr-go/ihr/pkg/testkit"
)

func TestCSVOutput(t *testing.T) {
	db := testkit.NewDB(t)
	testkit.Exec(t, db, `INSERT INTO ihr_asn VALUES (2497, 'IIJ, "Internet" Initiative', true, false, true), (3356, 'LEVEL3', false, false, true);
		INSERT INTO ihr_hegemony (timebin, hege, af, asn_id, originasn_id) VALUES
		('2026-11-30T00:00:00Z', 1.0, 4, 2497, 2497), ('2026-11-30T00:00:00Z', 1e-05, 4, 3356, 2497), ('2026-11-30T00:15:00Z', 0.5, 4, 3356, 2497)`)
	env := testkit.ServiceEnv(t, db)
	env["IHR_PAGE_SIZE"] = "2"
	svc := testkit.StartService(t, "query", service.Runner(spec()), env)
	resp, err := http.Get(svc.URL + "/ihr/api/hegemony/?originasn=2497&timebin__gte=2026-11-30T00:00:00Z&timebin__lte=2026-11-30T01:00:00Z&ordering=timebin,asn&format=csv")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/csv; charset=utf-8" || resp.Header.Get("X-Total-Count") != "3" {
		t.Fatalf("%d %v", resp.StatusCode, resp.Header)
	}
	if l := resp.Header.Get("Link"); !strings.Contains(l, "format=csv&page=2>; rel=\"next\"") {
		t.Errorf("Link %q", l)
	}
	rows, err := csv.NewReader(resp.Body).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	want := [][]string{
		{"timebin", "originasn", "asn", "hege", "af", "asn_name", "originasn_name"},
		{"2026-11-30T00:00:00Z", "2497", "2497", "1.0", "4", `IIJ, "Internet" Initiative`, `IIJ, "Internet" Initiative`},
		{"2026-11-30T00:00:00Z", "2497", "3356", "1e-05", "4", "LEVEL3", `IIJ, "Internet" Initiative`},
	}
	if len(rows) != len(want) {
		t.Fatalf("rows %q", rows)
	}
	for i := range want {
		if strings.Join(rows[i], "|") != strings.Join(want[i], "|") {
			t.Errorf("row %d: %q, want %q", i, rows[i], want[i])
		}
	}
	if code, body := testkit.Get(t, svc.URL+"/ihr/api/networks/?format=xml"); code != 400 || !strings.Contains(body, "use json or csv") {
		t.Errorf("format=xml: %d %s", code, body)
	}
}
