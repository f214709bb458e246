package main

import (
	"io"
	"net/http"
	"testing"

	"github.com/ihr-go/ihr/pkg/service"
	"github.com/ihr-go/ihr/pkg/testkit"
)

// BenchmarkHeg1d serves bench-queries.md's heg1d from the benchmark
// database (make bench-data) in-process: the service's CPU per answer,
// for profiling (-cpuprofile); make bench-read measures throughput.
func BenchmarkHeg1d(b *testing.B) {
	env := testkit.ServiceEnv(b, "postgres://postgres@127.0.0.1:5432/ihr_bench?sslmode=disable")
	svc := testkit.StartService(b, "query", service.Runner(spec()), env)
	url := svc.URL + "/ihr/api/hegemony/?originasn=2497&timebin__gte=2026-11-25T00:00:00Z&timebin__lte=2026-11-26T00:00:00Z&af=4"
	for b.Loop() {
		resp, err := http.Get(url)
		if err != nil {
			b.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
}
