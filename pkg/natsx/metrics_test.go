package natsx

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/ihr-go/ihr/pkg/config"
	"github.com/ihr-go/ihr/pkg/testkit"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
)

// gauges collects r and returns every int64 gauge point as
// name{attributes} → value.
func gauges(t *testing.T, r sdkmetric.Reader) map[string]int64 {
	t.Helper()
	var rm metricdata.ResourceMetrics
	if err := r.Collect(context.Background(), &rm); err != nil {
		t.Fatal(err)
	}
	out := map[string]int64{}
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			g, ok := m.Data.(metricdata.Gauge[int64])
			if !ok {
				continue
			}
			for _, p := range g.DataPoints {
				key := m.Name + "{"
				for i, kv := range p.Attributes.ToSlice() {
					if i > 0 {
						key += ","
					}
					key += fmt.Sprintf("%s=%s", kv.Key, kv.Value.Emit())
				}
				out[key+"}"] = p.Value
			}
		}
	}
	return out
}

func TestObserveConsumersAndDeadLetters(t *testing.T) {
	b := connect(t, config.NATS{URL: testkit.NATSURL(t), Prefix: testkit.Prefix(t)}, false)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := b.EnsureStreams(ctx); err != nil {
		t.Fatal(err)
	}
	cons, err := b.JS.CreateOrUpdateConsumer(ctx, b.StreamName(StreamIngest), jetstream.ConsumerConfig{
		Durable: "metrics-test", FilterSubject: b.Subject("ihr.ingest.hegemony.>"),
		AckPolicy: jetstream.AckExplicitPolicy, AckWait: time.Minute, MaxAckPending: 50,
	})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 5 {
		if _, err := b.JS.Publish(ctx, b.Subject("ihr.ingest.hegemony.rows"), []byte{byte(i)}); err != nil {
			t.Fatal(err)
		}
	}

	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	defer mp.Shutdown(context.Background())
	if err := b.Observe(mp.Meter("test"), Watch{
		Consumers:   []Consumer{{StreamIngest, "metrics-test"}, {StreamTasks, "not-created-yet"}},
		DeadLetters: []string{"ihr.dlq.ingest", "ihr.dlq.tasks"},
	}); err != nil {
		t.Fatal(err)
	}
	const labels = "{consumer=metrics-test,stream=IHR_INGEST}"
	want := func(what string, expect map[string]int64) {
		t.Helper()
		var got map[string]int64
		ok := func() bool {
			got = gauges(t, reader)
			for k, v := range expect {
				if n, found := got[k]; !found || n != v {
					return false
				}
			}
			return true
		}
		deadline := time.Now().Add(10 * time.Second)
		for !ok() {
			if time.Now().After(deadline) {
				t.Fatalf("%s: got %v, want %v", what, got, expect)
			}
			time.Sleep(20 * time.Millisecond)
		}
		for k := range got {
			if _, expected := expect[k]; !expected {
				t.Errorf("%s: unexpected series %s", what, k)
			}
		}
	}
	want("before delivery", map[string]int64{
		"ihr_jetstream_consumer_pending" + labels:         5,
		"ihr_jetstream_consumer_ack_pending" + labels:     0,
		"ihr_jetstream_consumer_max_ack_pending" + labels: 50,
		"ihr_jetstream_consumer_redelivered" + labels:     0,
		"ihr_dlq_messages{subject=ihr.dlq.ingest}":        0,
		"ihr_dlq_messages{subject=ihr.dlq.tasks}":         0,
	})

	// Some delivered, one of them refused and delivered again; one dead letter.
	batch, err := cons.Fetch(2, jetstream.FetchMaxWait(5*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	var got []jetstream.Msg
	for m := range batch.Messages() {
		got = append(got, m)
	}
	if len(got) != 2 {
		t.Fatalf("fetched %d messages, want 2", len(got))
	}
	if err := got[0].Nak(); err != nil {
		t.Fatal(err)
	}
	// The refusal is asynchronous: messages not delivered yet may come first.
	delivered := int64(2)
	for redelivered := false; !redelivered; {
		again, err := cons.Fetch(1, jetstream.FetchMaxWait(5*time.Second))
		if err != nil {
			t.Fatal(err)
		}
		for m := range again.Messages() {
			meta, err := m.Metadata()
			if err != nil {
				t.Fatal(err)
			}
			if redelivered = meta.NumDelivered == 2; !redelivered {
				delivered++
			}
		}
		if delivered > 5 {
			t.Fatal("the refused message never came back")
		}
	}
	if _, err := b.JS.PublishMsg(ctx, &nats.Msg{Subject: b.Subject("ihr.dlq.ingest"), Data: []byte("x")}); err != nil {
		t.Fatal(err)
	}
	want("after delivery", map[string]int64{
		"ihr_jetstream_consumer_pending" + labels:         5 - delivered,
		"ihr_jetstream_consumer_ack_pending" + labels:     delivered,
		"ihr_jetstream_consumer_max_ack_pending" + labels: 50,
		"ihr_jetstream_consumer_redelivered" + labels:     1,
		"ihr_dlq_messages{subject=ihr.dlq.ingest}":        1,
		"ihr_dlq_messages{subject=ihr.dlq.tasks}":         0,
	})
}

// TestObserveWithoutServer: a collection while NATS is gone reports
// nothing and does not wait.
func TestObserveWithoutServer(t *testing.T) {
	b, err := Connect(context.Background(), config.NATS{URL: testkit.NATSURL(t), Prefix: testkit.Prefix(t)}, false, "natsx-test", quiet)
	if err != nil {
		t.Fatal(err)
	}
	b.Close()
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	defer mp.Shutdown(context.Background())
	if err := b.Observe(mp.Meter("test"), Watch{Consumers: []Consumer{{StreamIngest, "x"}}, DeadLetters: []string{"ihr.dlq.ingest"}}); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if got := gauges(t, reader); len(got) != 0 {
		t.Errorf("reported %v without a server", got)
	}
	if took := time.Since(start); took > time.Second {
		t.Errorf("a collection without a server took %s", took)
	}
}
