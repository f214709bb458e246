package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/ihr-go/ihr/services/ihrctl/internal/replay"
)

func compareCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("compare --a URL --b URL --requests FILE [--concurrency N] [--json]",
		"Sends every request of FILE (one path with its query a line, # for comments, - for standard\n"+
			"input) to both deployments, compares the answers as the gateway's shadow traffic does\n"+
			"(docs/migration.md) and reports, per endpoint: requests, equal, differing (with the JSON\n"+
			"paths that differ most often), status mismatches, errors, and each side's p50 and p99.\n"+
			"Exits non-zero when any request differs or fails.", stderr)
	a := fs.String("a", "", "base URL of the first deployment, e.g. http://127.0.0.1:8080")
	b := fs.String("b", "", "base URL of the second deployment (the legacy API's root, or another gateway)")
	requests := fs.String("requests", "", "the request list")
	concurrency := fs.Int("concurrency", 4, "requests compared at once (each sent to both deployments together)")
	timeout := fs.Duration("timeout", time.Minute, "longest wait for one answer")
	maxBody := fs.Int("max-body", 64<<20, "largest answer compared, in bytes")
	asJSON := fs.Bool("json", false, "one JSON object instead of tables")
	if err := fs.Parse(args); err != nil {
		return err
	}
	var errs []error
	for _, f := range []struct{ name, v string }{{"--a", *a}, {"--b", *b}} {
		if u, err := url.Parse(f.v); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			errs = append(errs, fmt.Errorf("%s %q: want an http or https URL, such as http://127.0.0.1:8080", f.name, f.v))
		}
	}
	if *requests == "" {
		errs = append(errs, errors.New("--requests: the request list is required"))
	}
	if *concurrency < 1 || *timeout <= 0 || *maxBody < 1 {
		errs = append(errs, errors.New("--concurrency, --timeout and --max-body must be positive"))
	}
	if len(errs) > 0 {
		fs.Usage()
		return errors.Join(errs...)
	}
	list, err := readRequestList(*requests)
	if err != nil {
		return err
	}
	client := &http.Client{Timeout: *timeout, Transport: &http.Transport{Proxy: http.ProxyFromEnvironment,
		MaxIdleConnsPerHost: *concurrency, IdleConnTimeout: 30 * time.Second}}
	defer client.CloseIdleConnections()
	r, err := replay.Run(ctx, replay.Options{A: *a, B: *b, Requests: list, Concurrency: *concurrency, MaxBody: *maxBody, Client: client})
	if err != nil {
		return err
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(r); err != nil {
			return err
		}
	} else {
		printReport(stdout, r)
	}
	if t := r.Total; t.Differing+t.Errors > 0 {
		return fmt.Errorf("%d of %d requests differ, %d failed", t.Differing, t.Requests, t.Errors)
	}
	return nil
}

func readRequestList(path string) ([]string, error) {
	in := io.Reader(os.Stdin)
	if path != "-" {
		f, err := os.Open(path)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		in = f
	}
	list, err := replay.ReadRequests(in)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return list, nil
}

func printReport(w io.Writer, r *replay.Report) {
	t := r.Total
	fmt.Fprintf(w, "a: %s\nb: %s\n%d requests: %d equal, %d differing (%d by status), %d errors\n\n",
		r.A, r.B, t.Requests, t.Equal, t.Differing, t.StatusMismatches, t.Errors)
	tw := tabwriter.NewWriter(w, 2, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "endpoint\trequests\tequal\tdiffering\tstatus\terrors\ta p50 ms\ta p99 ms\tb p50 ms\tb p99 ms\t")
	for _, e := range r.Endpoints {
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%d\t%d\t%.1f\t%.1f\t%.1f\t%.1f\t\n", e.Name, e.Requests, e.Equal, e.Differing,
			e.StatusMismatches, e.Errors, e.LatencyA.P50, e.LatencyA.P99, e.LatencyB.P50, e.LatencyB.P99)
	}
	_ = tw.Flush()
	for _, e := range r.Endpoints {
		if e.Example == nil {
			continue
		}
		fmt.Fprintf(w, "\n%s, what differs most:\n", e.Name)
		for _, p := range e.Paths {
			fmt.Fprintf(w, "  %s  (%d of %d requests)\n", p.Path, p.Requests, e.Requests)
		}
		x := e.Example
		fmt.Fprintf(w, "  e.g. %s", x.Request)
		switch {
		case x.Error != "":
			fmt.Fprintf(w, ": %s\n", strings.ReplaceAll(x.Error, "\n", "; "))
		default:
			fmt.Fprintf(w, " (status a %d, b %d)\n", x.StatusA, x.StatusB)
			for _, d := range x.Diffs {
				fmt.Fprintf(w, "    %s: a %s, b %s\n", d.Path, d.A, d.B)
			}
		}
	}
}
