// Package replay sends a list of read requests to two deployments of the
// API and reports, per endpoint, whether they answer the same (by
// pkg/parity, as the gateway's shadow traffic judges) and how fast.
package replay

import (
	"bufio"
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"math"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/ihr-go/ihr/pkg/parity"
)

// ReadRequests reads a request list: one path with its query a line
// (`/ihr/api/hegemony/?originasn=2497&af=4`); blank lines and lines
// starting with # are skipped.
func ReadRequests(r io.Reader) ([]string, error) {
	var out []string
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		switch {
		case line == "" || strings.HasPrefix(line, "#"):
			continue
		case !strings.HasPrefix(line, "/") || strings.ContainsAny(line, " \t"):
			return nil, fmt.Errorf("line %d: %q is not a path with its query, such as /ihr/api/networks/?number=2497", n, line)
		}
		out = append(out, line)
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if len(out) == 0 {
		return nil, errors.New("no request in the list")
	}
	return out, nil
}

// Options say what to compare and how.
type Options struct {
	// A and B are the deployments' base URLs (http://gateway:8080).
	A, B     string
	Requests []string
	// Concurrency is how many requests are compared at once (each sent to
	// both deployments together).
	Concurrency int
	// MaxBody is the largest body compared; a larger one is an error.
	MaxBody int
	Client  *http.Client
}

// Report is the comparison of every request.
type Report struct {
	A         string     `json:"a"`
	B         string     `json:"b"`
	Total     Counts     `json:"total"`
	Endpoints []Endpoint `json:"endpoints"`
}

// Counts count requests by how they compared.
type Counts struct {
	Requests int `json:"requests"`
	Equal    int `json:"equal"`
	// Differing answers differ (status or body); StatusMismatches of them
	// by their status.
	Differing        int `json:"differing"`
	StatusMismatches int `json:"status_mismatches"`
	// Errors could not be compared: a deployment did not answer, or sent
	// a body over the limit.
	Errors int `json:"errors"`
}

// Endpoint is the report of one endpoint.
type Endpoint struct {
	Name string `json:"endpoint"`
	Counts
	// Paths are the JSON paths that differ most often (`$.results[*].hege`),
	// each counted once per request.
	Paths    []PathCount `json:"paths,omitempty"`
	Example  *Example    `json:"example,omitempty"`
	LatencyA Latency     `json:"latency_a"`
	LatencyB Latency     `json:"latency_b"`
}

// PathCount is a differing path and the requests it differs in.
type PathCount struct {
	Path     string `json:"path"`
	Requests int    `json:"requests"`
}

// Example is the first differing request of an endpoint, or its first error.
type Example struct {
	Request string        `json:"request"`
	StatusA int           `json:"status_a,omitempty"`
	StatusB int           `json:"status_b,omitempty"`
	Diffs   []parity.Diff `json:"diffs,omitempty"`
	Error   string        `json:"error,omitempty"`
}

// Latency is the time to a whole answer, in milliseconds (answered requests only).
type Latency struct {
	P50 float64 `json:"p50_ms"`
	P99 float64 `json:"p99_ms"`
}

// topPaths is how many of the most frequent differing paths a report names.
const topPaths = 5

// outcome is one request compared.
type outcome struct {
	request      string
	res          parity.Result
	tookA, tookB time.Duration
	errA, errB   error
}

// Run compares every request; it stops early only when ctx is done.
func Run(ctx context.Context, o Options) (*Report, error) {
	outs := make([]outcome, len(o.Requests))
	next := make(chan int)
	var wg sync.WaitGroup
	for range max(1, o.Concurrency) {
		wg.Go(func() {
			for i := range next {
				outs[i] = compare(ctx, o, o.Requests[i])
			}
		})
	}
feed:
	for i := range o.Requests {
		select {
		case next <- i:
		case <-ctx.Done():
			break feed
		}
	}
	close(next)
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return report(o, outs), nil
}

// compare sends one request to both deployments at once.
func compare(ctx context.Context, o Options, request string) outcome {
	out := outcome{request: request}
	var a, b parity.Answer
	done := make(chan struct{})
	go func() {
		defer close(done)
		b, out.tookB, out.errB = fetch(ctx, o, o.B, request)
	}()
	a, out.tookA, out.errA = fetch(ctx, o, o.A, request)
	<-done
	if out.errA == nil && out.errB == nil {
		out.res = parity.Compare(a, b)
	}
	return out
}

func fetch(ctx context.Context, o Options, base, request string) (parity.Answer, time.Duration, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimSuffix(base, "/")+request, nil)
	if err != nil {
		return parity.Answer{}, 0, err
	}
	start := time.Now()
	res, err := o.Client.Do(req)
	if err != nil {
		return parity.Answer{}, 0, err
	}
	defer res.Body.Close()
	body, err := io.ReadAll(io.LimitReader(res.Body, int64(o.MaxBody)+1))
	took := time.Since(start)
	switch {
	case err != nil:
		return parity.Answer{}, 0, err
	case len(body) > o.MaxBody:
		return parity.Answer{}, 0, fmt.Errorf("body over %d bytes: not compared", o.MaxBody)
	}
	return parity.Answer{Status: res.StatusCode, Body: body}, took, nil
}

// report sums the outcomes up by endpoint.
func report(o Options, outs []outcome) *Report {
	type acc struct {
		Endpoint
		paths        map[string]int
		tookA, tookB []time.Duration
	}
	by := map[string]*acc{}
	r := &Report{A: o.A, B: o.B}
	for _, out := range outs {
		path, _, _ := strings.Cut(out.request, "?")
		name := parity.Endpoint(path)
		e := by[name]
		if e == nil {
			e = &acc{Endpoint: Endpoint{Name: name}, paths: map[string]int{}}
			by[name] = e
		}
		e.Requests++
		if out.errA == nil {
			e.tookA = append(e.tookA, out.tookA)
		}
		if out.errB == nil {
			e.tookB = append(e.tookB, out.tookB)
		}
		switch {
		case out.errA != nil || out.errB != nil:
			e.Errors++
			if e.Example == nil {
				e.Example = &Example{Request: out.request, Error: errors.Join(side("a", out.errA), side("b", out.errB)).Error()}
			}
		case out.res.Equal():
			e.Equal++
		default:
			e.Differing++
			if out.res.StatusA != out.res.StatusB {
				e.StatusMismatches++
			}
			for _, p := range out.res.Patterns {
				e.paths[p]++
			}
			if e.Example == nil || e.Example.Error != "" {
				e.Example = &Example{Request: out.request, StatusA: out.res.StatusA, StatusB: out.res.StatusB, Diffs: out.res.Diffs}
			}
		}
	}
	for _, name := range slices.Sorted(maps.Keys(by)) {
		e := by[name]
		for p, n := range e.paths {
			e.Paths = append(e.Paths, PathCount{p, n})
		}
		slices.SortFunc(e.Paths, func(x, y PathCount) int { return cmp.Or(y.Requests-x.Requests, strings.Compare(x.Path, y.Path)) })
		e.Paths = e.Paths[:min(len(e.Paths), topPaths)]
		e.LatencyA, e.LatencyB = latency(e.tookA), latency(e.tookB)
		r.Endpoints = append(r.Endpoints, e.Endpoint)
		r.Total.Requests += e.Requests
		r.Total.Equal += e.Equal
		r.Total.Differing += e.Differing
		r.Total.StatusMismatches += e.StatusMismatches
		r.Total.Errors += e.Errors
	}
	return r
}

func side(name string, err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("%s: %w", name, err)
}

// latency is the nearest-rank p50 and p99 of ds.
func latency(ds []time.Duration) Latency {
	if len(ds) == 0 {
		return Latency{}
	}
	slices.Sort(ds)
	rank := func(p float64) float64 {
		i := int(math.Ceil(p*float64(len(ds)))) - 1
		return float64(ds[max(i, 0)].Microseconds()) / 1000
	}
	return Latency{P50: rank(0.50), P99: rank(0.99)}
}
