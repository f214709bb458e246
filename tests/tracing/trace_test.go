// Package tracing checks that one request, and one published bin, each
// make one trace across the real binaries: the services export their spans
// over OTLP to a receiver in the test, which puts the trees back together.
package tracing

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/ihr-go/ihr/pkg/config"
	"github.com/ihr-go/ihr/pkg/events"
	"github.com/ihr-go/ihr/pkg/natsx"
	"github.com/ihr-go/ihr/pkg/popularity"
	"github.com/ihr-go/ihr/pkg/publish"
	"github.com/ihr-go/ihr/pkg/testkit"
	"github.com/redis/go-redis/v9"
	"go.opentelemetry.io/otel/propagation"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
)

const window = "originasn=2497&af=4&timebin__gte=2026-12-02T06:00:00Z&timebin__lte=2026-12-02T07:00:00Z&ordering=asn"

func TestTraces(t *testing.T) {
	rec := newReceiver(t)
	db := testkit.NewDB(t)
	testkit.Exec(t, db, `INSERT INTO ihr_asn VALUES (2497, 'IIJ', true, false, true)`)
	env := testkit.With(testkit.ServiceEnv(t, db), map[string]string{
		"OTEL_EXPORTER_OTLP_ENDPOINT": rec.URL,
		"OTEL_BSP_SCHEDULE_DELAY":     "100", // ms: spans reach the receiver soon
		"IHR_WARM_DEBOUNCE":           "100ms",
	})
	query := testkit.StartBinary(t, "query", env)
	testkit.StartBinary(t, "ingestion", env)
	testkit.StartBinary(t, "cachewarmer", testkit.With(env, map[string]string{"IHR_QUERY_URL": query}))
	gateway := testkit.StartBinary(t, "gateway", testkit.With(env, map[string]string{"IHR_QUERY_URL": query,
		"IHR_AUTH_URL": "http://" + testkit.FreeAddr(t), "IHR_INGESTION_URL": "http://" + testkit.FreeAddr(t)}))

	t.Run("request", func(t *testing.T) {
		// The gateway starts the trace; its span names the path asked.
		path := "/ihr/api/hegemony/"
		resp, err := http.Get(gateway + path + "?" + window)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("GET %s: %d", path, resp.StatusCode)
		}
		var tr tree
		testkit.Eventually(t, "the request's spans from the gateway, the query service, PostgreSQL and Redis", func() bool {
			root, ok := rec.find(func(s span) bool {
				return s.Service == "ihr-gateway" && s.Kind == "SERVER" && s.Attrs["url.path"] == path && s.Parent == ""
			})
			if !ok {
				return false
			}
			tr = newTree(rec.trace(root.TraceID))
			return tr.has(isServer("ihr-query")) && tr.has(isDB("ihr-query", "postgresql")) && tr.has(isDB("ihr-query", "redis"))
		})
		gw := tr.one(t, func(s span) bool { return s.Service == "ihr-gateway" && s.Kind == "SERVER" })
		client := tr.one(t, func(s span) bool { return s.Service == "ihr-gateway" && s.Kind == "CLIENT" })
		q := tr.one(t, isServer("ihr-query"))
		tr.under(t, client, gw)
		tr.parentIs(t, q, client) // the query service continues the gateway's call
		tr.under(t, tr.first(t, isDB("ihr-query", "postgresql")), q)
		tr.under(t, tr.first(t, isDB("ihr-query", "redis")), q)
		t.Logf("request trace %s:\n%s", gw.TraceID, tr)
	})

	t.Run("ingest", func(t *testing.T) {
		// The popularity the request above recorded reaches Redis, so the
		// warm run after the bin has that request to make again.
		opts, err := redis.ParseURL(env["IHR_REDIS_URL"])
		if err != nil {
			t.Fatal(err)
		}
		rdb := redis.NewClient(opts)
		t.Cleanup(func() { rdb.Close() })
		ranking := &popularity.Recorder{Redis: rdb, Prefix: env["IHR_CACHE_PREFIX"]}
		testkit.Eventually(t, "the request's popularity in Redis", func() bool {
			top, fromRedis := ranking.Top(context.Background(), 10, time.Now())
			return fromRedis && len(top) > 0
		})

		// The test is the pipeline: its spans are recorded here.
		spans := tracetest.NewSpanRecorder()
		tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(spans))
		bus, err := natsx.Connect(context.Background(), config.NATS{URL: env["IHR_NATS_URL"], Prefix: env["IHR_NATS_PREFIX"]},
			false, "trace-test", slog.New(slog.NewTextHandler(io.Discard, nil)))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(bus.Close)
		pub := &publish.Publisher{Bus: bus, Tracer: tp.Tracer("pipeline"), Propagator: propagation.TraceContext{},
			Producer: events.Producer{Name: "trace-test"}}
		ctx, root := tp.Tracer("pipeline").Start(context.Background(), "pipeline bin")
		timebin := time.Date(2026, 12, 2, 6, 15, 0, 0, time.UTC)
		if _, err := pub.Bin(ctx, events.Hegemony.NewBin(4, timebin, "trace-1"), []events.HegemonyRow{{OriginASN: 2497, ASN: 2497, Hege: 1}}); err != nil {
			t.Fatal(err)
		}
		root.End()
		traceID := root.SpanContext().TraceID().String()
		var binPublish span
		for _, s := range spans.Ended() {
			if s.SpanKind().String() == "producer" && strings.HasSuffix(s.Name(), ".bin") {
				binPublish = span{SpanID: s.SpanContext().SpanID().String(), Name: s.Name()}
			}
		}
		if binPublish.SpanID == "" {
			t.Fatal("the publisher made no span of the bin message")
		}

		var tr tree
		testkit.Eventually(t, "the bin's spans from ingestion, the caches and the warmer", func() bool {
			tr = newTree(rec.trace(traceID))
			return tr.has(isCopy) && tr.has(isPublish("ihr-ingestion", ".ihr.results.hegemony")) &&
				tr.has(isProcess("ihr-query", ".ihr.results.hegemony")) && tr.has(isProcess("ihr-gateway", ".ihr.results.hegemony")) &&
				tr.has(isWarm) && tr.has(func(s span) bool { return isServer("ihr-query")(s) && tr.below(s, isWarm) })
		})
		consume := tr.one(t, isProcess("ihr-ingestion", ".ihr.ingest.hegemony.bin"))
		if consume.Parent != binPublish.SpanID {
			t.Errorf("ingestion's %s is not a child of the pipeline's span publishing the bin message %s", consume, binPublish.SpanID)
		}
		tr.under(t, tr.first(t, isCopy), consume)
		results := tr.one(t, isPublish("ihr-ingestion", ".ihr.results.hegemony"))
		tr.under(t, results, consume)
		for _, svc := range []string{"ihr-query", "ihr-gateway", "ihr-cachewarmer"} {
			tr.parentIs(t, tr.one(t, isProcess(svc, ".ihr.results.hegemony")), results)
		}
		tr.parentIs(t, tr.one(t, isWarm), tr.one(t, isProcess("ihr-cachewarmer", ".ihr.results.hegemony")))
		// The warm run asks the query service again, which reads the database.
		rewarm := tr.first(t, func(s span) bool { return isServer("ihr-query")(s) && tr.below(s, isWarm) })
		tr.under(t, tr.first(t, func(s span) bool { return isDB("ihr-query", "postgresql")(s) && tr.below(s, isWarm) }), rewarm)
		t.Logf("ingest trace %s:\n%s", traceID, tr)
	})
}

func isServer(service string) func(span) bool {
	return func(s span) bool { return s.Service == service && s.Kind == "SERVER" }
}

func isDB(service, system string) func(span) bool {
	return func(s span) bool {
		return s.Service == service && (s.Attrs["db.system.name"] == system || s.Attrs["db.system"] == system)
	}
}

func isCopy(s span) bool {
	return s.Service == "ihr-ingestion" && strings.HasPrefix(s.Name, "copy_from ")
}

func isWarm(s span) bool { return s.Service == "ihr-cachewarmer" && s.Name == "warm run" }

func isPublish(service, subject string) func(span) bool {
	return func(s span) bool {
		return s.Service == service && s.Kind == "PRODUCER" && strings.HasSuffix(s.Name, subject)
	}
}

func isProcess(service, subject string) func(span) bool {
	return func(s span) bool {
		return s.Service == service && s.Kind == "CONSUMER" && strings.HasSuffix(s.Name, subject)
	}
}
