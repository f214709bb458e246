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
	"golang.org/x/term"
)

const defaultDatabaseURL = "postgres://postgres@127.0.0.1:5432/ihr?sslmode=disable"

// demoConfig is what the demo-data flags ask for.
type demoConfig struct {
	databaseURL string
	gen         demodata.Options
	ifEmpty     bool
	replace     bool
	progress    string
}

func parseDemoFlags(args []string, stderr io.Writer) (demoConfig, error) {
	fs := flag.NewFlagSet("demo-data", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), `Usage: ihrctl demo-data [flags]

Fills every legacy ihr_* data table of an existing schema with deterministic
demo data: the same seed and flags always give the same rows. Time bins end
at --end, a fixed date by default (not now), so the output never changes.
Refuses to load into a database that holds data unless --replace or --if-empty.

Flags:
`)
		fs.PrintDefaults()
	}
	var c demoConfig
	fs.StringVar(&c.databaseURL, "database-url", "", "database to fill (default $IHR_DATABASE_URL, else "+defaultDatabaseURL+")")
	fs.StringVar(&c.gen.Scale, "scale", "small", "small (3 days, tens of thousands of rows) or medium (14 days, a few million rows)")
	fs.Uint64Var(&c.gen.Seed, "seed", 1, "random seed: the same seed gives the same rows")
	end := fs.String("end", demodata.DefaultEnd.Format(time.RFC3339), "last 15-minute time bin (RFC 3339, UTC)")
	fs.BoolVar(&c.ifEmpty, "if-empty", false, "do nothing (and say so) when the database already holds data")
	fs.BoolVar(&c.replace, "replace", false, "empty the ihr_* data tables first (legacy user tables are kept)")
	fs.StringVar(&c.progress, "progress", "auto", "progress bar on stderr: auto (when stderr is a terminal), always or never")
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	if c.databaseURL == "" {
		c.databaseURL = os.Getenv("IHR_DATABASE_URL")
	}
	if c.databaseURL == "" {
		c.databaseURL = defaultDatabaseURL
	}
	if fs.NArg() > 0 {
		return c, fmt.Errorf("unexpected arguments: %v", fs.Args())
	}
	t, err := time.Parse(time.RFC3339, *end)
	if err != nil {
		return c, fmt.Errorf("--end: %w", err)
	}
	c.gen.End = t.UTC()
	if !slices.Contains(demodata.Scales(), c.gen.Scale) {
		return c, fmt.Errorf("--scale must be one of %v, not %q", demodata.Scales(), c.gen.Scale)
	}
	if !slices.Contains([]string{"auto", "always", "never"}, c.progress) {
		return c, fmt.Errorf("--progress must be auto, always or never, not %q", c.progress)
	}
	return c, nil
}

func demoData(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	cfg, err := parseDemoFlags(args, stderr)
	if err != nil {
		return err
	}
	tables, err := demodata.Generate(cfg.gen)
	if err != nil {
		return err
	}

	conn, err := pgx.Connect(ctx, cfg.databaseURL)
	if err != nil {
		return fmt.Errorf("connect to the database: %w", err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	empty, err := pgload.Empty(ctx, conn, tables)
	if err != nil {
		return fmt.Errorf("check the schema (run scripts/db/migrate.sh up first): %w", err)
	}
	switch {
	case !empty && cfg.ifEmpty:
		fmt.Fprintln(stdout, "demo data: the database already holds data, nothing loaded (--if-empty)")
		return printCounts(ctx, conn, tables, stdout)
	case !empty && !cfg.replace:
		return errors.New("the database already holds data: use --replace to empty the ihr_* data tables first, or --if-empty")
	}

	start := time.Now()
	var progress func(int)
	if showProgress(cfg.progress, stderr) {
		bar := progressbar.NewOptions64(pgload.Count(tables),
			progressbar.OptionSetWriter(stderr),
			progressbar.OptionSetDescription("loading demo data"),
			progressbar.OptionShowCount(),
			progressbar.OptionSetItsString("rows"),
			progressbar.OptionShowIts(),
			progressbar.OptionThrottle(100*time.Millisecond),
			progressbar.OptionClearOnFinish())
		progress = func(n int) { _ = bar.Add(n) }
		defer bar.Finish()
	}
	counts, err := pgload.Load(ctx, conn, tables, cfg.replace, progress)
	if err != nil {
		return err
	}
	var total int64
	for _, n := range counts {
		total += n
	}
	fmt.Fprintf(stdout, "demo data (%s, seed %d, until %s) loaded: %d rows in %s\n", cfg.gen.Scale, cfg.gen.Seed,
		cfg.gen.End.Format(time.RFC3339), total, time.Since(start).Round(time.Millisecond))
	return printCounts(ctx, conn, tables, stdout)
}

// showProgress says whether to draw a progress bar on w.
func showProgress(mode string, w io.Writer) bool {
	switch mode {
	case "always":
		return true
	case "auto":
		f, ok := w.(*os.File)
		return ok && term.IsTerminal(int(f.Fd()))
	}
	return false
}

// printCounts writes the row count of every table, as the database holds them.
func printCounts(ctx context.Context, conn *pgx.Conn, tables []demodata.Table, w io.Writer) error {
	fmt.Fprintf(w, "%-28s %10s\n", "table", "rows")
	var total int64
	for _, t := range tables {
		var n int64
		if err := conn.QueryRow(ctx, "SELECT count(*) FROM "+pgx.Identifier{t.Name}.Sanitize()).Scan(&n); err != nil {
			return fmt.Errorf("count %s: %w", t.Name, err)
		}
		total += n
		fmt.Fprintf(w, "%-28s %10d\n", t.Name, n)
	}
	fmt.Fprintf(w, "%-28s %10d\n", "total", total)
	return nil
}
