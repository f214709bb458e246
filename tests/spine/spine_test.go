// Package spine runs the real binaries of the gateway, query and ingestion
// services together and follows AS hegemony both ways: a pipeline publishes
// a bin, a client reads it through the gateway.
package spine

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/ihr-go/ihr/pkg/config"
	"github.com/ihr-go/ihr/pkg/events"
	"github.com/ihr-go/ihr/pkg/natsx"
	"github.com/ihr-go/ihr/pkg/publish"
	"github.com/ihr-go/ihr/pkg/testkit"
	"github.com/nats-io/nats.go/jetstream"
	"go.opentelemetry.io/otel/propagation"
)

func TestHegemonyBothWays(t *testing.T) {
	env := testkit.ServiceEnv(t, testkit.NewDB(t))
	env["IHR_INGEST_OPEN"] = "true"
	query := testkit.StartBinary(t, "query", env)
	ingestion := testkit.StartBinary(t, "ingestion", env)
	gateway := testkit.StartBinary(t, "gateway", testkit.With(env, map[string]string{"IHR_QUERY_URL": query, "IHR_INGESTION_URL": ingestion,
		"IHR_AUTH_URL": "http://" + testkit.FreeAddr(t)}))

	bus, err := natsx.Connect(context.Background(), config.NATS{URL: env["IHR_NATS_URL"], Prefix: env["IHR_NATS_PREFIX"]}, false, "spine", slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	defer bus.Close()
	pub := &publish.Publisher{Bus: bus, Propagator: propagation.TraceContext{}, Producer: events.Producer{Name: "spine-test"}, BatchRows: 2}

	timebin := time.Date(2026, 12, 2, 6, 45, 0, 0, time.UTC)
	rows := []events.HegemonyRow{{OriginASN: 2497, ASN: 2497, Hege: 1}, {OriginASN: 2497, ASN: 3356, Hege: 0.25}, {OriginASN: 2497, ASN: 174, Hege: 1e-05}}
	sent := time.Now()
	if _, err := pub.Bin(context.Background(), events.Hegemony.NewBin(4, timebin, "spine-1"), rows); err != nil {
		t.Fatal(err)
	}
	url := gateway + "/ihr/api/hegemony/?originasn=2497&timebin__gte=2026-12-02T06:45:00Z&timebin__lte=2026-12-02T06:45:00Z&ordering=asn"
	var body string
	for deadline := time.Now().Add(2 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		var code int
		code, body = testkit.Get(t, url)
		if code == 200 && strings.HasPrefix(body, `{"count":3,`) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the bin is not readable through the gateway 2 s after it was published: %s", body)
		}
	}
	t.Logf("published → readable through the gateway in %s", time.Since(sent).Round(time.Millisecond))
	want := `{"count":3,"next":null,"previous":null,"results":[` +
		`{"timebin":"2026-12-02T06:45:00Z","originasn":2497,"asn":174,"hege":1e-05,"af":4,"asn_name":"","originasn_name":""},` +
		`{"timebin":"2026-12-02T06:45:00Z","originasn":2497,"asn":2497,"hege":1.0,"af":4,"asn_name":"","originasn_name":""},` +
		`{"timebin":"2026-12-02T06:45:00Z","originasn":2497,"asn":3356,"hege":0.25,"af":4,"asn_name":"","originasn_name":""}]}`
	if body != want {
		t.Errorf("through the gateway:\n got  %s\n want %s", body, want)
	}

	// One results event, announced with the affected keys.
	s, err := bus.JS.Stream(context.Background(), bus.StreamName(natsx.StreamResults))
	if err != nil {
		t.Fatal(err)
	}
	// It follows the announcement that made the bin readable by a lead.
	var info *jetstream.StreamInfo
	testkit.Eventually(t, "the results event", func() bool {
		info, _ = s.Info(context.Background())
		return info != nil && info.State.Msgs >= 1
	})
	if info.State.Msgs != 1 {
		t.Fatalf("%d results events, want 1", info.State.Msgs)
	}
	m, _ := s.GetMsg(context.Background(), info.State.FirstSeq)
	var res events.Result
	_ = json.Unmarshal(m.Data, &res)
	if fmt.Sprint(res.Keys["originasn"]) != "[2497]" || res.RowCount != 3 {
		t.Errorf("results event %s", m.Data)
	}

	// The query service followed the results stream.
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if _, metrics := testkit.Get(t, query+"/metrics"); strings.Contains(metrics, `ihr_query_results_events_total{dataset="hegemony"} 1`) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the query service did not count the results event")
		}
	}

	// The same through HTTP ingest at the gateway: a re-run replaces the bin.
	post := `{"af":4,"timebin":"2026-12-02T06:45:00Z","run_id":"spine-2","rows":[{"originasn":2497,"asn":2497,"hege":1}]}`
	resp, err := http.Post(gateway+"/ihr/api/ingest/hegemony", "application/json", strings.NewReader(post))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("HTTP ingest through the gateway: %d", resp.StatusCode)
	}
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if _, body = testkit.Get(t, url); strings.HasPrefix(body, `{"count":1,`) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the re-run did not replace the bin: %s", body)
		}
	}
}
