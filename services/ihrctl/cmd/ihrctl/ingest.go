package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/ihr-go/ihr/services/ihrctl/internal/ingeststatus"
)

func ingestCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	return dispatch(ctx, "ihrctl ingest", map[string]command{
		"status": {"committed bins, staged runs, consumer lag and DLQ depth", ingestStatus},
	}, args, stdout, stderr)
}

func ingestStatus(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("ingest status [--json]",
		"Per dataset and address family, from the ledger: the newest committed time bin, bins\n"+
			"committed in the last hour and day, rows committed in the last hour and the rate over\n"+
			"the last five minutes, runs replaced by a re-run, runs staged but not committed.\n"+
			"From JetStream: each ingest consumer's lag (messages not delivered yet), messages\n"+
			"awaiting acknowledgement and redeliveries, and the number of dead letters.", stderr)
	conn := addConnFlags(fs, true)
	asJSON := fs.Bool("json", false, "one JSON object instead of tables")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %v", fs.Args())
	}
	db, err := conn.connectDB(ctx)
	if err != nil {
		return err
	}
	defer db.Close(context.WithoutCancel(ctx))
	bus, err := conn.connectNATS(ctx, stderr)
	if err != nil {
		return err
	}
	defer bus.Close()
	report, err := ingeststatus.Collect(ctx, db, bus)
	if err != nil {
		return err
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(report)
	}
	return writeStatus(stdout, report)
}

// writeStatus writes the report as two tables and a line.
func writeStatus(w io.Writer, r ingeststatus.Report) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "DATASET\tAF\tNEWEST BIN\tBINS 1H\tBINS 24H\tROWS 1H\tROWS/S 5M\tREPLACED\tSTAGED RUNS\tOLDEST STAGED")
	for _, b := range r.Bins {
		fmt.Fprintf(tw, "%s\t%d\t%s\t%d\t%d\t%d\t%.1f\t%d\t%d\t%s\n", b.Dataset, b.AF, timeOrDash(b.NewestTimebin),
			b.Bins1h, b.Bins24h, b.Rows1h, b.RowsPerSecond5m, b.RunsReplaced, b.StagedRuns, timeOrDash(b.OldestStagedAt))
	}
	if len(r.Bins) == 0 {
		fmt.Fprintln(tw, "(nothing committed or staged yet)")
	}
	fmt.Fprintln(tw) // an empty line ends the first table's columns
	fmt.Fprintln(tw, "CONSUMER\tDATASET\tLAG\tACK PENDING\tREDELIVERED")
	for _, c := range r.Consumers {
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%d\n", c.Name, c.Dataset, c.Pending, c.AckPending, c.Redelivered)
	}
	if len(r.Consumers) == 0 {
		fmt.Fprintln(tw, "(no ingest consumer: has the ingestion service ever started?)")
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	_, err := fmt.Fprintf(w, "\ndead letters: %d (ihrctl dlq ls)\n", r.DLQMessages)
	return err
}

func timeOrDash(t *time.Time) string {
	if t == nil {
		return "-"
	}
	return t.UTC().Format(time.RFC3339)
}
