package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/ihr-go/ihr/pkg/natsx"
	"github.com/ihr-go/ihr/pkg/service"
	"github.com/ihr-go/ihr/pkg/testkit"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/vmihailenco/msgpack/v5"
)

const hegeTopic = "ihr_hegemony"

// kafka is an in-process Kafka cluster holding IHR's v4 hegemony topic in
// two partitions, and a producer shaped like as-hegemony's.
type kafka struct {
	cluster *kfake.Cluster
	prod    *kgo.Client
	// sent counts the messages produced per partition.
	sent [2]int64
}

func newKafka(t *testing.T) *kafka {
	t.Helper()
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(2, hegeTopic))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	// The manual partitioner puts the scopes of every bin on both
	// partitions, so each partition moves past each bin.
	prod, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(prod.Close)
	return &kafka{cluster: c, prod: prod}
}

func (k *kafka) env(idle, group string) map[string]string {
	return map[string]string{"IHR_KAFKA_BROKERS": strings.Join(k.cluster.ListenAddrs(), ","), "IHR_KAFKA_TOPICS": hegeTopic + "=hegemony:4",
		"IHR_KAFKA_IDLE": idle, "IHR_KAFKA_GROUP": group}
}

// scopes are the origins of every bin; scope i goes to partition i%2.
var scopes = []string{"2497", "15169", "7922", "13335", "3356", "-1"}

// rowsPerBin is what a bin stores: per scope, itself and AS174; the third
// message of each scope has hege 0 and is dropped, as IHR's sink did.
const rowsPerBin = 12

// produceBin sends one 15-minute bin as as-hegemony does: one msgpack
// message per (scope, asn), keyed by scope, the Kafka timestamp the bin.
func (k *kafka) produceBin(t *testing.T, tb time.Time) {
	t.Helper()
	var recs []*kgo.Record
	for i, scope := range scopes {
		origin := scope
		if scope == "-1" {
			origin = "3356" // the global graph's first dependency
		}
		for _, dep := range []struct {
			asn  string
			hege float64
		}{{origin, 1}, {"174", 0.25}, {"6939", 0}} {
			v, err := msgpack.Marshal(map[string]any{"timestamp": tb.Unix(), "scope": scope, "asn": dep.asn, "hege": dep.hege, "nb_peers": 310})
			if err != nil {
				t.Fatal(err)
			}
			recs = append(recs, &kgo.Record{Topic: hegeTopic, Partition: int32(i % 2), Key: []byte(scope), Value: v, Timestamp: tb})
			k.sent[i%2]++
		}
	}
	if err := k.prod.ProduceSync(context.Background(), recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
}

// committed returns the group's committed offsets of the topic, and their metadata.
func (k *kafka) committed(group string) (map[int32]int64, string) {
	info := k.cluster.GroupInfo(group)
	out := map[int32]int64{}
	var meta string
	if info == nil {
		return out, ""
	}
	for p, c := range info.Commits[hegeTopic] {
		out[p], meta = c.Offset, c.Metadata
	}
	return out, meta
}

// binCounts returns the rows per timebin and the number of rows whose key
// (timebin, originasn, asn) appears more than once.
func (r *rig) binCounts(t *testing.T) (string, int) {
	t.Helper()
	counts := testkit.Scalar[string](t, r.db, `SELECT coalesce(string_agg(to_char(timebin AT TIME ZONE 'UTC', 'HH24:MI') || '=' || n, ' ' ORDER BY timebin), '')
		FROM (SELECT timebin, count(*) n FROM ihr_hegemony GROUP BY timebin) c`)
	dups := testkit.Scalar[int](t, r.db, `SELECT count(*)::int FROM (SELECT 1 FROM ihr_hegemony
		GROUP BY timebin, af, originasn_id, asn_id HAVING count(*) > 1) d`)
	return counts, dups
}

// ingestMsgs is the number of messages the ingest stream holds: JetStream
// drops a batch published again under the same run (its message id).
func (r *rig) ingestMsgs(t *testing.T) uint64 {
	t.Helper()
	s, err := r.bus.JS.Stream(context.Background(), r.bus.StreamName(natsx.StreamIngest))
	if err != nil {
		t.Fatal(err)
	}
	info, err := s.Info(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return info.State.Msgs
}

func (r *rig) runs(t *testing.T) int {
	return testkit.Scalar[int](t, r.db, "SELECT count(*)::int FROM ingest_runs WHERE dataset = 'hegemony' AND run_id LIKE 'kafka-%'")
}

// assertBins checks the bins committed from Kafka: each once, each whole.
func assertBins(t *testing.T, r *rig, want string) {
	t.Helper()
	counts, dups := r.binCounts(t)
	if counts != want || dups != 0 {
		t.Errorf("rows per bin %q with %d duplicated keys, want %q and none", counts, dups, want)
	}
	res := r.results(t)
	if len(res) != strings.Count(want, "=") {
		t.Errorf("%d results events, want one per bin", len(res))
	}
	for _, e := range res {
		if e.Replaced || !strings.HasPrefix(e.RunID, "kafka-") || e.RowCount != rowsPerBin {
			t.Errorf("results event %+v", e)
		}
	}
	if n := testkit.Scalar[int](t, r.db, "SELECT count(*)::int FROM ihr_hegemony WHERE originasn_id = 0"); n != 2*strings.Count(want, "=") {
		t.Errorf("%d rows of the global graph (scope -1 → originasn 0), want 2 per bin", n)
	}
}

// TestKafkaBridgeCommitsEachBinOnce runs the real ingestion service on an
// in-process Kafka holding three bins across two partitions.
func TestKafkaBridgeCommitsEachBinOnce(t *testing.T) {
	t.Parallel()
	k := newKafka(t)
	for i := range 3 {
		k.produceBin(t, t0.Add(time.Duration(i)*15*time.Minute))
	}
	r := newRig(t, k.env("1s", ""))
	svc := r.start(t)
	start := time.Now()
	testkit.Eventually(t, "three bins and their results events", func() bool { return r.runs(t) == 3 && len(r.results(t)) == 3 })
	t.Logf("three bins committed %s after start", time.Since(start).Round(time.Millisecond))
	assertBins(t, r, "10:00=12 10:15=12 10:30=12")
	testkit.Eventually(t, "every offset committed", func() bool {
		got, _ := k.committed("ihr-ingestion-bridge")
		return got[0] == k.sent[0] && got[1] == k.sent[1]
	})
	_, metrics := testkit.Get(t, svc.URL+"/metrics")
	for _, want := range []string{`ihr_kafka_bridge_messages_total{`, `ihr_kafka_bridge_bins_total{dataset="hegemony"`,
		`ihr_kafka_bridge_rows_dropped_total{`, `reason="filtered"`, `topic="ihr_hegemony"`} {
		if !strings.Contains(metrics, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
}

// TestKafkaBridgeRestartIsExactlyOnce stops the service once the first bin
// is committed and the second is pending, produces the third while it is
// down, and starts it again: every bin is committed once, and the Kafka
// offsets never passed a bin that was not published. A new consumer group
// then reads the whole topic again: the same runs, so nothing changes.
func TestKafkaBridgeRestartIsExactlyOnce(t *testing.T) {
	t.Parallel()
	k := newKafka(t)
	k.produceBin(t, t0)
	bin1 := k.sent
	k.produceBin(t, t0.Add(15*time.Minute))
	r := newRig(t, nil)
	with := func(env map[string]string) *rig {
		c := *r
		c.env = map[string]string{}
		for k, v := range r.env {
			c.env[k] = v
		}
		for k, v := range env {
			c.env[k] = v
		}
		return &c
	}

	t.Run("before the restart", func(t *testing.T) {
		// A long idle timeout: the second bin stays pending until the stop.
		with(k.env("10m", "")).start(t)
		testkit.Eventually(t, "the first bin and its results event", func() bool { return r.runs(t) == 1 && len(r.results(t)) == 1 })
		assertBins(t, r, "10:00=12")
	})
	got, meta := k.committed("ihr-ingestion-bridge")
	if got[0] != bin1[0] || got[1] != bin1[1] {
		t.Fatalf("committed offsets %v after the first bin, want %v: just past it, not into the pending second bin", got, bin1)
	}
	if meta != "ihr-kafka-bridge/v1 published=2026-12-01T10:00:00Z" {
		t.Errorf("commit metadata %q", meta)
	}

	k.produceBin(t, t0.Add(30*time.Minute))
	t.Run("after the restart", func(t *testing.T) {
		with(k.env("1s", "")).start(t)
		testkit.Eventually(t, "three bins and their results events", func() bool { return r.runs(t) == 3 && len(r.results(t)) == 3 })
		testkit.Eventually(t, "every offset committed", func() bool {
			got, _ := k.committed("ihr-ingestion-bridge")
			return got[0] == k.sent[0] && got[1] == k.sent[1]
		})
	})
	assertBins(t, r, "10:00=12 10:15=12 10:30=12")

	stored := r.ingestMsgs(t)
	t.Run("another group reads it all again", func(t *testing.T) {
		with(k.env("1s", "replay")).start(t)
		testkit.Eventually(t, "the replay group to read everything", func() bool {
			got, _ := k.committed("replay")
			return got[0] == k.sent[0] && got[1] == k.sent[1]
		})
	})
	testkit.Eventually(t, "every ingest message handled", func() bool { return pending(t, r) == 0 })
	if n := r.ingestMsgs(t); n != stored {
		t.Errorf("the replay stored %d new ingest messages: its runs differ from the first ones", n-stored)
	}
	if n := r.runs(t); n != 3 {
		t.Errorf("%d runs after the replay, want the same 3", n)
	}
	assertBins(t, r, "10:00=12 10:15=12 10:30=12")
	if got := fmt.Sprint(k.sent); got != "[27 27]" {
		t.Errorf("sent %s", got)
	}
}

// TestKafkaBridgeWithoutKafka: an unreachable Kafka leaves ingestion ready
// (NATS ingestion goes on) but degraded, and does not hold up shutdown.
func TestKafkaBridgeWithoutKafka(t *testing.T) {
	t.Parallel()
	r := newRig(t, map[string]string{"IHR_KAFKA_BROKERS": testkit.FreeAddr(t)})
	svc := r.start(t)
	body := testkit.WaitStatus(t, svc.URL+"/readyz", http.StatusOK)
	if !strings.Contains(body, `"kafka":{"status":"down","critical":false`) || !strings.Contains(body, `"status":"degraded"`) {
		t.Errorf("readiness %s", body)
	}
}

func TestKafkaBridgeRefusesABadMapping(t *testing.T) {
	t.Parallel()
	env := testkit.ServiceEnv(t, testkit.NewDB(t))
	env["IHR_KAFKA_BROKERS"] = "127.0.0.1:9092"
	env["IHR_KAFKA_TOPICS"] = "ihr_hegemony=hegemony:5"
	err := service.Runner(spec())(context.Background(), func(k string) (string, bool) { v, ok := env[k]; return v, ok }, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "IHR_KAFKA_TOPICS") || !strings.Contains(err.Error(), "af must be 4 or 6") {
		t.Errorf("start with a bad mapping: %v", err)
	}
}
