package main

import (
	"bufio"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ihr-go/ihr/pkg/testkit"
	"github.com/pierrec/lz4/v4"
)

// writeHegemonyDumps writes a day of AS hegemony in IHR's dump layout, as
// two files like archive.ihr.live's: the local graphs (.csv.lz4) and the
// global one (.csv.gz). It returns their paths and the total row count.
func writeHegemonyDumps(t *testing.T, dir string, rows int) ([]string, int) {
	t.Helper()
	day := time.Date(2024, 5, 1, 0, 0, 0, 0, time.UTC)
	local := filepath.Join(dir, "ihr_hegemony_ipv4_local_2024-05-01.csv.lz4")
	global := filepath.Join(dir, "ihr_hegemony_ipv4_global_2024-05-01.csv.gz")
	transits := []int{174, 1299, 2914, 3356}
	origins := max(1, rows/96/4) // four rows per origin and bin
	total := 0
	write := func(path string, compress func(io.Writer) io.WriteCloser, each func(w io.Writer, tb string)) {
		f, err := os.Create(path)
		if err != nil {
			t.Fatal(err)
		}
		z := compress(f)
		w := bufio.NewWriterSize(z, 1<<20)
		fmt.Fprintln(w, "timebin,originasn,asn,hege")
		for b := range 96 {
			each(w, day.Add(time.Duration(b)*15*time.Minute).Format("2006-01-02 15:04:05")+"+00")
		}
		if err := errors.Join(w.Flush(), z.Close(), f.Close()); err != nil {
			t.Fatal(err)
		}
	}
	write(local, func(w io.Writer) io.WriteCloser { return lz4.NewWriter(w) }, func(w io.Writer, tb string) {
		for o := range origins {
			origin := 64512 + o
			fmt.Fprintf(w, "%s,%d,%d,1.0\n", tb, origin, origin)
			for k, tr := range transits[:3] {
				fmt.Fprintf(w, "%s,%d,%d,%g\n", tb, origin, tr+o%2, 0.1+0.2*float64(k))
			}
			total += 4
		}
	})
	write(global, func(w io.Writer) io.WriteCloser { return gzip.NewWriter(w) }, func(w io.Writer, tb string) {
		for _, tr := range transits {
			fmt.Fprintf(w, "%s,0,%d,0.%d\n", tb, tr, tr%97)
			total++
		}
	})
	return []string{local, global}, total
}

// TestImportDumps imports a day of hegemony dumps through a real ingestion
// service: every row lands once, an interrupted import resumes, and
// importing the same files again changes nothing. 5 million rows, or
// 200,000 with -short.
func TestImportDumps(t *testing.T) {
	rows := 5_000_000
	if testing.Short() {
		rows = 200_000
	}
	dir := t.TempDir()
	files, total := writeHegemonyDumps(t, dir, rows)
	db := testkit.NewDB(t)
	env := testkit.ServiceEnv(t, db)
	testkit.StartBinary(t, "ingestion", env)
	flags := []string{"--nats-url", env["IHR_NATS_URL"], "--nats-prefix", env["IHR_NATS_PREFIX"], "--state-dir", filepath.Join(dir, "state"), "--progress", "never"}
	args := append(append([]string{"import", "hegemony"}, files...), flags...)

	// Interrupt the first import once some bins are published.
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		defer cancel()
		for ctx.Err() == nil {
			if entries, _ := filepath.Glob(filepath.Join(dir, "state", "import-*.json")); len(entries) > 0 {
				if b, _ := os.ReadFile(entries[0]); strings.Count(string(b), ":") >= 10 {
					return
				}
			}
			time.Sleep(5 * time.Millisecond)
		}
	}()
	var out, errOut strings.Builder
	err := run(ctx, args, &out, &errOut)
	if err == nil || !strings.Contains(err.Error(), "run the same command again to resume") {
		t.Fatalf("interrupted import: %v\n%s%s", err, &out, &errOut)
	}

	start := time.Now()
	o, e, err := ihrctlSplit(t, args...)
	if err != nil {
		t.Fatalf("%v\n%s%s", err, o, e)
	}
	t.Logf("import of %d rows (resumed): %s\n%s%s", total, time.Since(start).Round(time.Millisecond), o, e)
	if !strings.Contains(o, fmt.Sprintf("hegemony: %d rows in 96 bins", total)) || strings.Contains(o, "(0 done before)") ||
		!strings.Contains(e, "publishing: ") || !strings.Contains(e, "rows/s") {
		t.Fatalf("output:\n%s%s", o, e)
	}
	committed := func() bool {
		return testkit.Scalar[int](t, db, "SELECT count(*)::int FROM ingest_runs WHERE dataset = 'hegemony'") == 96
	}
	deadline := time.Now().Add(10 * time.Minute)
	for !committed() {
		if time.Now().After(deadline) {
			t.Fatalf("%d of 96 bins committed after 10 minutes", testkit.Scalar[int](t, db, "SELECT count(*)::int FROM ingest_runs"))
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Logf("all committed %s after the import started", time.Since(start).Round(time.Millisecond))
	check := func(when string) {
		t.Helper()
		if n := testkit.Scalar[int](t, db, "SELECT count(*)::int FROM ihr_hegemony"); n != total {
			t.Errorf("%s: %d rows, want %d", when, n, total)
		}
		if n := testkit.Scalar[int](t, db, "SELECT count(*)::int FROM (SELECT 1 FROM ihr_hegemony GROUP BY timebin, af, originasn_id, asn_id HAVING count(*) > 1) d"); n != 0 {
			t.Errorf("%s: %d duplicated rows", when, n)
		}
		if n := testkit.Scalar[int](t, db, "SELECT count(DISTINCT run_id)::int FROM ingest_runs"); n != 1 {
			t.Errorf("%s: %d runs in the ledger, want the import's one", when, n)
		}
	}
	check("after the import")

	if o, e, err := ihrctlSplit(t, args...); err != nil || !strings.Contains(o, "published 96 bins (0 done before)") {
		t.Fatalf("second import: %v\n%s%s", err, o, e)
	}
	time.Sleep(time.Second) // what it published, if anything, would be committed by now
	check("after importing again")
	if n := testkit.Scalar[int](t, db, "SELECT count(*)::int FROM ingest_runs"); n != 96 {
		t.Errorf("%d ledger entries after importing again", n)
	}
}

func TestImportRefusesBadInput(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "ihr_hegemony_ipv4_local_2024-05-01.csv")
	noAF := filepath.Join(dir, "hegemony.csv")
	misaligned := filepath.Join(dir, "ihr_hegemony_ipv4_x.csv")
	for path, body := range map[string]string{
		bad:        "timebin,originasn,asn,hege\n2024-05-01 00:00:00+00,2497,2497,1.5\n",
		noAF:       "timebin,originasn,asn,hege\n2024-05-01 00:00:00+00,2497,2497,1\n",
		misaligned: "timebin,originasn,asn,hege\n2024-05-01 00:07:00+00,2497,2497,1\n",
	} {
		if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	nats := []string{"--nats-url", testkit.NATSURL(t), "--nats-prefix", testkit.NATSPrefix(t)}
	for args, want := range map[string]string{
		"import":                            "give a dataset",
		"import hegemony":                   "give a dataset",
		"import nothing " + bad:             "unknown dataset",
		"import hegemony " + bad:            "line 2: invalid message: row 0: hege must be between 0 and 1",
		"import hegemony " + noAF:           "give --af",
		"import hegemony " + misaligned:     "not aligned",
		"import hegemony /no/such/file.csv": "no such file",
	} {
		_, e, err := ihrctlSplit(t, append(strings.Fields(args), nats...)...)
		if err == nil || !strings.Contains(err.Error()+e, want) {
			t.Errorf("ihrctl %s: %v, want an error saying %q", args, err, want)
		}
	}
}
