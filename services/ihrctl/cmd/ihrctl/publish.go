package main

import (
	"context"
	"crypto/sha256"
	"encoding/csv"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/ihr-go/ihr/pkg/config"
	"github.com/ihr-go/ihr/pkg/events"
	"github.com/ihr-go/ihr/pkg/natsx"
	"github.com/ihr-go/ihr/pkg/publish"
	"go.opentelemetry.io/otel/propagation"
)

// publishCmd simulates a pipeline: it publishes hegemony bins (batches, then
// the bin message, with the documented message ids) read from a CSV dump or
// generated.
func publishCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "hegemony" {
		return errors.New("usage: ihrctl publish hegemony (--from FILE | --demo) [flags]; only hegemony is published for now")
	}
	fs := flag.NewFlagSet("publish hegemony", flag.ContinueOnError)
	fs.SetOutput(stderr)
	natsURL := fs.String("nats-url", "", "NATS server (default $IHR_NATS_URL, else nats://127.0.0.1:4222)")
	prefix := fs.String("nats-prefix", os.Getenv("IHR_NATS_PREFIX"), "subject and stream namespace (IHR_NATS_PREFIX)")
	from := fs.String("from", "", "CSV dump with a header naming timebin, originasn, asn, hege (the daily dumps' format)")
	demo := fs.Bool("demo", false, "generate bins instead of reading a file")
	bins := fs.Int("bins", 4, "with --demo: how many consecutive 15-minute bins")
	origins := fs.Int("origins", 1000, "with --demo: origin networks per bin (each with itself and three transits)")
	startFlag := fs.String("start", "", "with --demo: first time bin (RFC 3339; default: the bins end at the last full quarter hour)")
	af := fs.Int("af", 4, "address family of the rows: 4 or 6")
	runID := fs.String("run-id", "", "run id (default: dump-<file hash> for a file, demo-<time> otherwise)")
	rate := fs.Float64("rate", 0, "bins per second at most (0: as fast as JetStream takes them)")
	batch := fs.Int("batch-rows", events.MaxBatchRows, "rows per batch message")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	if *natsURL == "" {
		*natsURL = os.Getenv("IHR_NATS_URL")
	}
	if *natsURL == "" {
		*natsURL = "nats://127.0.0.1:4222"
	}
	if (*from == "") == !*demo {
		return errors.New("give exactly one of --from FILE and --demo")
	}
	var binRows map[time.Time][]events.HegemonyRow
	var err error
	switch {
	case *demo:
		binRows, err = demoBins(*startFlag, *bins, *origins)
		if *runID == "" {
			*runID = "demo-" + strconv.FormatInt(time.Now().Unix(), 10)
		}
	default:
		binRows, err = readDump(*from)
		if *runID == "" {
			*runID, err = fileRunID(*from, err)
		}
	}
	if err != nil {
		return err
	}

	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	bus, err := natsx.Connect(ctx, config.NATS{URL: *natsURL, Prefix: *prefix}, false, "ihrctl", log)
	if err != nil {
		return err
	}
	defer bus.Close()
	if err := bus.EnsureStreams(ctx); err != nil {
		return err
	}
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

// fileRunID names a file's run after its content, so publishing the same
// dump twice is recognised as the same run.
func fileRunID(path string, err error) (string, error) {
	if err != nil {
		return "", err
	}
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return "dump-" + hex.EncodeToString(h.Sum(nil))[:16], nil
}

// readDump reads a hegemony CSV dump (header: timebin, originasn, asn,
// hege in any order) and groups its rows by time bin.
func readDump(path string) (map[time.Time][]events.HegemonyRow, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	r := csv.NewReader(f)
	header, err := r.Read()
	if err != nil {
		return nil, fmt.Errorf("%s: header: %w", path, err)
	}
	col := map[string]int{}
	for i, h := range header {
		col[strings.TrimSpace(h)] = i
	}
	for _, want := range []string{"timebin", "originasn", "asn", "hege"} {
		if _, ok := col[want]; !ok {
			return nil, fmt.Errorf("%s: no %q column in the header %v", path, want, header)
		}
	}
	bins := map[time.Time][]events.HegemonyRow{}
	for line := 2; ; line++ {
		rec, err := r.Read()
		if errors.Is(err, io.EOF) {
			return bins, nil
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		t, err1 := parseDumpTime(rec[col["timebin"]])
		o, err2 := strconv.ParseInt(rec[col["originasn"]], 10, 64)
		a, err3 := strconv.ParseInt(rec[col["asn"]], 10, 64)
		h, err4 := strconv.ParseFloat(rec[col["hege"]], 64)
		if err := errors.Join(err1, err2, err3, err4); err != nil {
			return nil, fmt.Errorf("%s line %d: %w", path, line, err)
		}
		bins[t] = append(bins[t], events.HegemonyRow{OriginASN: o, ASN: a, Hege: h})
	}
}

// parseDumpTime reads psql's text form of timestamptz ("2024-05-01 00:15:00+00") or RFC 3339.
func parseDumpTime(s string) (time.Time, error) {
	for _, layout := range []string{"2006-01-02 15:04:05-07", "2006-01-02 15:04:05-07:00", time.RFC3339} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, fmt.Errorf("timebin %q is not a time", s)
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
