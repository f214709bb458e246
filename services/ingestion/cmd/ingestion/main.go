// Command ingestion validates measurement results published by pipelines,
// commits each time bin exactly once and announces it.
package main

import (
	"context"
	"net/http"
	"time"

	"github.com/ihr-go/ihr/pkg/apierr"
	"github.com/ihr-go/ihr/pkg/authn"
	"github.com/ihr-go/ihr/pkg/config"
	"github.com/ihr-go/ihr/pkg/events"
	"github.com/ihr-go/ihr/pkg/natsx"
	"github.com/ihr-go/ihr/pkg/publish"
	"github.com/ihr-go/ihr/pkg/service"
	"github.com/ihr-go/ihr/services/ingestion/internal/consumer"
	"github.com/ihr-go/ihr/services/ingestion/internal/httpingest"
	"github.com/ihr-go/ihr/services/ingestion/internal/ingest"
	"github.com/ihr-go/ihr/services/ingestion/internal/kafkabridge"
	"github.com/ihr-go/ihr/services/ingestion/internal/store"
)

type settings struct {
	db      config.Postgres
	nats    config.NATS
	binWait time.Duration
	ackWait time.Duration
	open    bool
	auth    config.Auth
	maxBody int
	workers int
	kafka   kafkabridge.Config
}

func spec() service.Spec[settings] {
	return service.Spec[settings]{
		Name: "ingestion",
		Addr: ":8082",
		Config: func(e *config.Env) settings {
			return settings{
				db:      config.ReadPostgres(e),
				nats:    config.ReadNATS(e),
				binWait: e.Duration("IHR_INGEST_BIN_WAIT", 10*time.Minute, time.Second, 24*time.Hour),
				ackWait: e.Duration("IHR_INGEST_ACK_WAIT", 30*time.Second, time.Second, 10*time.Minute),
				open:    e.Bool("IHR_INGEST_OPEN", false),
				auth:    config.ReadAuth(e),
				maxBody: e.Int("IHR_INGEST_MAX_BODY", 64<<20, 1024, 1<<30),
				workers: e.Int("IHR_INGEST_WORKERS", 2, 1, 64),
				kafka:   kafkabridge.ReadConfig(e),
			}
		},
		Start: start,
	}
}

func main() { service.Main(spec()) }

func start(ctx context.Context, rt *service.Runtime, s settings) (http.Handler, error) {
	pool, err := rt.Postgres(ctx, s.db)
	if err != nil {
		return nil, err
	}
	bus, err := rt.NATS(ctx, s.nats, true)
	if err != nil {
		return nil, err
	}
	metrics, err := ingest.NewMetrics(rt.Meter("github.com/ihr-go/ihr/services/ingestion"))
	if err != nil {
		return nil, err
	}
	st := store.New(pool)
	tracer := rt.Tracer("github.com/ihr-go/ihr/services/ingestion")
	pub := &consumer.Publisher{Bus: bus, Tracer: tracer, Propagator: rt.HTTP.Propagator}
	svc, err := ingest.New(ctx, st, pub, metrics, rt.Log)
	if err != nil {
		return nil, err
	}
	// One durable consumer per dataset: a flood of one dataset's bins does
	// not hold back the others'.
	routes := map[string]map[string]consumer.Handler{
		events.Disco: {"events": svc.HandleDisco},
		events.Names: {"update": svc.HandleNames},
	}
	holders := map[string]consumer.Holder{}
	for _, d := range events.Datasets() {
		routes[d.Name] = map[string]consumer.Handler{
			"rows": func(ctx context.Context, data []byte) error { return svc.HandleRows(ctx, d, data) },
			"bin":  func(ctx context.Context, data []byte) error { return svc.HandleBin(ctx, d, data) },
		}
		holders[d.Name] = svc.Held(d)
	}
	watch := natsx.Watch{DeadLetters: []string{events.DLQSubject}}
	for name, r := range routes {
		durable := "ingestion-" + name
		watch.Consumers = append(watch.Consumers, natsx.Consumer{Stream: natsx.StreamIngest, Durable: durable})
		c := &consumer.Consumer{
			Bus:        bus,
			Durable:    durable,
			Dataset:    name,
			Routes:     r,
			Holder:     holders[name],
			BinWait:    s.binWait,
			Workers:    s.workers,
			AckWait:    s.ackWait,
			Log:        rt.Log,
			Metrics:    metrics,
			Tracer:     tracer,
			Propagator: rt.HTTP.Propagator,
		}
		rt.Go(func() {
			if err := c.Run(ctx); err != nil {
				rt.Log.Error("ingest consumer stopped", "dataset", name, "err", err)
			}
		})
	}
	if err := bus.Observe(rt.Meter("github.com/ihr-go/ihr/services/ingestion"), watch); err != nil {
		return nil, err
	}
	rt.Go(func() { reportIncomplete(ctx, rt, st, metrics, s.binWait) })
	if s.kafka.Enabled() {
		if err := startBridge(ctx, rt, s.kafka, bus); err != nil {
			return nil, err
		}
	}
	mux := http.NewServeMux()
	(&httpingest.Handler{Publisher: &publish.Publisher{Bus: bus, Tracer: tracer, Propagator: rt.HTTP.Propagator,
		Producer: events.Producer{Name: "http-ingest"}}, MaxBody: int64(s.maxBody)}).Routes(mux)
	mux.Handle("/", apierr.NotFoundHandler())
	if s.open {
		rt.Log.Warn("HTTP ingest is open to anyone (IHR_INGEST_OPEN=true): for a trusted network only")
		return mux, nil
	}
	// Checked at the gateway, and again here.
	return authn.Identify(rt.Credentials(ctx, s.auth, bus), authn.Authorize(authn.Routes, mux)), nil
}

// startBridge consumes IHR's Kafka result topics into the ingest subjects,
// for producers that still publish to Kafka.
func startBridge(ctx context.Context, rt *service.Runtime, cfg kafkabridge.Config, bus *natsx.Bus) error {
	m, err := kafkabridge.NewMetrics(rt.Meter("github.com/ihr-go/ihr/services/ingestion"))
	if err != nil {
		return err
	}
	pub := &publish.Publisher{Bus: bus, Tracer: rt.Tracer("github.com/ihr-go/ihr/services/ingestion"), Propagator: rt.HTTP.Propagator,
		Producer: events.Producer{Name: "kafka-bridge"}}
	b, err := kafkabridge.New(cfg, pub, m, rt.Log)
	if err != nil {
		return err
	}
	rt.Health.Add("kafka", false, b.Probe)
	rt.Go(func() { b.Run(ctx) })
	return nil
}

// reportIncomplete logs and counts, once each, the runs whose batches have
// waited longer than binWait without their bin completing, and drops staged
// batches after a day.
func reportIncomplete(ctx context.Context, rt *service.Runtime, st *store.Postgres, m *ingest.Metrics, binWait time.Duration) {
	service.Every(ctx, min(binWait, time.Minute), func() {
		now := time.Now()
		runs, err := st.ReportIncomplete(ctx, now.Add(-binWait), now.Add(-24*time.Hour))
		if err != nil {
			rt.Log.Warn("check incomplete bins", "err", err)
			return
		}
		for _, r := range runs {
			m.Incomplete(r.Dataset)
			rt.Log.Warn("bin incomplete: its last batches never arrived", "dataset", r.Dataset, "part", r.Part, "af", r.AF,
				"timebin", r.Timebin, "run_id", r.RunID, "batches_staged", r.Batches, "since", r.Since)
		}
	})
}
