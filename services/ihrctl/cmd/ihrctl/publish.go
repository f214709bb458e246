package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"time"

	"github.com/ihr-go/ihr/pkg/events"
	"github.com/ihr-go/ihr/pkg/publish"
	"go.opentelemetry.io/otel/propagation"
)

// publishCmd simulates a pipeline: it publishes generated hegemony bins
// (batches, then the bin message, with the documented message ids).
// Dumps are published by import.
func publishCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "hegemony" {
		return errors.New("usage: ihrctl publish hegemony --demo [flags] (ihrctl import publishes dumps)")
	}
	fs := newFlagSet("publish hegemony --demo [flags]", "Publishes generated hegemony bins as a pipeline does.", stderr)
	conn := addConnFlags(fs, false)
	demo := fs.Bool("demo", false, "generate bins (required: the only source)")
	bins := fs.Int("bins", 4, "with --demo: how many consecutive 15-minute bins")
	origins := fs.Int("origins", 1000, "with --demo: origin networks per bin (each with itself and three transits)")
	startFlag := fs.String("start", "", "with --demo: first time bin (RFC 3339; default: the bins end at the last full quarter hour)")
	af := fs.Int("af", 4, "address family of the rows: 4 or 6")
	runID := fs.String("run-id", "", "run id (default: demo-<time>)")
	rate := fs.Float64("rate", 0, "bins per second at most (0: as fast as JetStream takes them)")
	batch := fs.Int("batch-rows", events.MaxBatchRows, "rows per batch message")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	if !*demo {
		return errors.New("give --demo (ihrctl import publishes dumps)")
	}
	binRows, err := demoBins(*startFlag, *bins, *origins)
	if err != nil {
		return err
	}
	if *runID == "" {
		*runID = "demo-" + strconv.FormatInt(time.Now().Unix(), 10)
	}

	bus, err := conn.connectStreams(ctx, stderr)
	if err != nil {
		return err
	}
	defer bus.Close()
	pub := &publish.Publisher{Bus: bus, Propagator: propagation.TraceContext{}, BatchRows: *batch,
		Producer: events.Producer{Name: "ihrctl", Host: hostname()}}

	times := make([]time.Time, 0, len(binRows))
	for t := range binRows {
		times = append(times, t)
	}
	slices.SortFunc(times, time.Time.Compare)
	start, rows, msgs := time.Now(), 0, 0
	for i, t := range times {
		if *rate > 0 {
			due := start.Add(time.Duration(float64(i) / *rate * float64(time.Second)))
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(time.Until(due)):
			}
		}
		bin := events.Hegemony.NewBin(*af, t, *runID)
		if err := events.Hegemony.CheckBin(bin); err != nil {
			return err
		}
		receipts, err := pub.Bin(ctx, bin, binRows[t])
		if err != nil {
			return err
		}
		dups := 0
		for _, r := range receipts {
			if r.Duplicate {
				dups++
			}
		}
		rows, msgs = rows+len(binRows[t]), msgs+len(receipts)
		fmt.Fprintf(stdout, "bin %s af %d run %s: %d rows in %d messages (%d already stored)\n",
			t.Format(time.RFC3339), *af, *runID, len(binRows[t]), len(receipts), dups)
	}
	secs := time.Since(start).Seconds()
	fmt.Fprintf(stdout, "published %d bins, %d rows, %d messages in %.2fs (%.0f rows/s)\n", len(times), rows, msgs, secs, float64(rows)/secs)
	return nil
}

func hostname() string {
	h, _ := os.Hostname()
	return h
}

// demoBins generates consecutive bins: every origin depends on itself and
// on three of seven transits.
func demoBins(startFlag string, n, origins int) (map[time.Time][]events.HegemonyRow, error) {
	if n < 1 || origins < 1 {
		return nil, errors.New("--bins and --origins must be at least 1")
	}
	start := time.Now().UTC().Truncate(15 * time.Minute).Add(-time.Duration(n) * 15 * time.Minute)
	if startFlag != "" {
		t, err := time.Parse(time.RFC3339, startFlag)
		if err != nil {
			return nil, fmt.Errorf("--start: %w", err)
		}
		start = t.UTC()
	}
	transits := []int64{174, 1299, 2914, 3257, 3356, 6453, 6939}
	bins := map[time.Time][]events.HegemonyRow{}
	for b := range n {
		t := start.Add(time.Duration(b) * 15 * time.Minute)
		rows := make([]events.HegemonyRow, 0, origins*4)
		for i := range origins {
			o := int64(64512 + i)
			rows = append(rows, events.HegemonyRow{OriginASN: o, ASN: o, Hege: 1})
			for k, tr := range transits[i%4 : i%4+3] {
				hege := 0.1 + 0.25*float64(k) + 0.05*float64((i+b)%5)/5
				rows = append(rows, events.HegemonyRow{OriginASN: o, ASN: tr, Hege: hege})
			}
		}
		bins[t] = rows
	}
	return bins, nil
}
