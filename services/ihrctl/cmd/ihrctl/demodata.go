package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"time"

	"github.com/ihr-go/ihr/services/ihrctl/internal/demodata"
	"github.com/ihr-go/ihr/services/ihrctl/internal/pgload"
	"github.com/jackc/pgx/v5"
	"github.com/schollz/progressbar/v3"
)

const defaultDatabaseURL = "postgres://postgres@127.0.0.1:5432/ihr?sslmode=disable"

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

func demoData(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("demo-data", flag.ContinueOnError)
	fs.SetOutput(stderr)
	dbURL := fs.String("database-url", envOr("IHR_DATABASE_URL", defaultDatabaseURL), "database to fill (IHR_DATABASE_URL)")
	scale := fs.String("scale", "small", "small (tens of thousands of rows, seconds) or medium (a few million rows)")
	seed := fs.Uint64("seed", 1, "random seed: the same seed gives the same rows")
	end := fs.String("end", demodata.DefaultEnd.Format(time.RFC3339), "last 15-minute time bin (RFC 3339)")
	ifEmpty := fs.Bool("if-empty", false, "do nothing when the database already holds networks")
	replace := fs.Bool("replace", false, "empty the ihr_* data tables first")
	progress := fs.String("progress", "auto", "progress bar: auto (on a terminal), always, never")
	if err := fs.Parse(args); err != nil {
		return err
	}
	endTime, err := time.Parse(time.RFC3339, *end)
	if err != nil {
		return fmt.Errorf("--end: %w", err)
	}
	if !slices.Contains([]string{"auto", "always", "never"}, *progress) {
		return fmt.Errorf("--progress must be auto, always or never")
	}
	tables, err := demodata.Generate(demodata.Options{Scale: *scale, Seed: *seed, End: endTime.UTC()})
	if err != nil {
		return err
	}

	conn, err := pgx.Connect(ctx, *dbURL)
	if err != nil {
		return fmt.Errorf("connect to the database: %w", err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	var hasData bool
	if err := conn.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM ihr_asn)").Scan(&hasData); err != nil {
		return fmt.Errorf("check the schema (run scripts/db/migrate.sh up first): %w", err)
	}
	switch {
	case hasData && *ifEmpty:
		fmt.Fprintln(stdout, "demo data: the database already holds data, nothing loaded")
		return printCounts(ctx, conn, tables, stdout)
	case hasData && !*replace:
		return errors.New("the database already holds data: use --replace to empty it first, or --if-empty")
	}

	start := time.Now()
	counts := pgload.Count(tables)
	var total int64
	for _, n := range counts {
		total += n
	}
	onRows := func(int) {}
	if *progress == "always" || (*progress == "auto" && isTerminal(os.Stderr)) {
		bar := progressbar.NewOptions64(total, progressbar.OptionSetWriter(stderr), progressbar.OptionSetDescription("loading"),
			progressbar.OptionShowCount(), progressbar.OptionThrottle(100*time.Millisecond), progressbar.OptionClearOnFinish())
		onRows = func(n int) { _ = bar.Add(n) }
		defer bar.Finish()
	}
	if err := pgload.Load(ctx, conn, tables, *replace, onRows); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "demo data (%s, seed %d) loaded: %d rows in %s\n", *scale, *seed, total, time.Since(start).Round(time.Millisecond))
	return printCounts(ctx, conn, tables, stdout)
}

func printCounts(ctx context.Context, conn *pgx.Conn, tables []demodata.Table, w io.Writer) error {
	for _, t := range tables {
		var n int64
		if err := conn.QueryRow(ctx, "SELECT count(*) FROM "+pgx.Identifier{t.Name}.Sanitize()).Scan(&n); err != nil {
			return err
		}
		fmt.Fprintf(w, "  %-28s %10d\n", t.Name, n)
	}
	return nil
}

func isTerminal(f *os.File) bool {
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}
