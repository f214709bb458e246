package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ihr-go/ihr/pkg/config"
	"github.com/ihr-go/ihr/pkg/events"
	"github.com/ihr-go/ihr/pkg/natsx"
	"github.com/ihr-go/ihr/pkg/publish"
	"github.com/ihr-go/ihr/pkg/service"
	"github.com/ihr-go/ihr/pkg/testkit"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.opentelemetry.io/otel/propagation"
)

// rig is an ingestion service on a scratch database and NATS prefix, and a
// producer publishing to it.
type rig struct {
	db    string
	env   map[string]string
	bus   *natsx.Bus
	pub   *publish.Publisher
	proxy *testkit.Proxy
}

func newRig(t *testing.T, extra map[string]string) *rig {
	t.Helper()
	u, _ := url.Parse(testkit.NewDB(t))
	proxy := testkit.NewProxy(t, u.Host)
	db := u.String()
	u.Host = proxy.Addr()
	env := testkit.ServiceEnv(t, u.String())
	for k, v := range extra {
		env[k] = v
	}
	bus, err := natsx.Connect(context.Background(), config.NATS{URL: env["IHR_NATS_URL"], Prefix: env["IHR_NATS_PREFIX"]}, false, "test", slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(bus.Close)
	if err := bus.EnsureStreams(context.Background()); err != nil {
		t.Fatal(err)
	}
	return &rig{db: db, env: env, bus: bus, proxy: proxy,
		pub: &publish.Publisher{Bus: bus, Propagator: propagation.TraceContext{}, Producer: events.Producer{Name: "test"}, BatchRows: 3}}
}

func (r *rig) start(t *testing.T) *testkit.Service {
	return testkit.StartService(t, "ingestion", service.Runner(spec()), r.env)
}

var t0 = time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)

func hegemonyRows(origins ...int64) []events.HegemonyRow {
	var rows []events.HegemonyRow
	for _, o := range origins {
		rows = append(rows, events.HegemonyRow{OriginASN: o, ASN: o, Hege: 1},
			events.HegemonyRow{OriginASN: o, ASN: 3356, Hege: 0.25}, events.HegemonyRow{OriginASN: o, ASN: 174, Hege: 1e-05})
	}
	return rows
}

func (r *rig) count(t *testing.T, where string) int {
	return testkit.Scalar[int](t, r.db, "SELECT count(*)::int FROM ihr_hegemony WHERE "+where)
}

// results returns the results events stored in the results stream, in order.
func (r *rig) results(t *testing.T) []events.Result {
	t.Helper()
	ctx := context.Background()
	s, err := r.bus.JS.Stream(ctx, r.bus.StreamName(natsx.StreamResults))
	if err != nil {
		t.Fatal(err)
	}
	info, _ := s.Info(ctx)
	var out []events.Result
	for seq := info.State.FirstSeq; seq <= info.State.LastSeq && info.State.Msgs > 0; seq++ {
		m, err := s.GetMsg(ctx, seq)
		if err != nil {
			continue
		}
		res, err := events.DecodeResult(m.Data)
		if err != nil {
			t.Fatalf("results event %d: %v", seq, err)
		}
		out = append(out, *res)
	}
	return out
}

// dlq returns the dead-lettered messages' reasons.
func (r *rig) dlq(t *testing.T) []string {
	t.Helper()
	ctx := context.Background()
	s, err := r.bus.JS.Stream(ctx, r.bus.StreamName(natsx.StreamDLQ))
	if err != nil {
		t.Fatal(err)
	}
	info, _ := s.Info(ctx)
	var out []string
	for seq := info.State.FirstSeq; seq <= info.State.LastSeq && info.State.Msgs > 0; seq++ {
		if m, err := s.GetMsg(ctx, seq); err == nil {
			out = append(out, m.Header.Get("Ihr-Error"))
		}
	}
	return out
}

func TestBinIsCommittedOnceAndAnnounced(t *testing.T) {
	t.Parallel()
	r := newRig(t, nil)
	svc := r.start(t)
	ctx := context.Background()
	bin := events.Hegemony.NewBin(4, t0, "run-1")
	rows := hegemonyRows(2497, 15169, 7922) // 9 rows: 3 batches of 3
	start := time.Now()
	if _, err := r.pub.Bin(ctx, bin, rows); err != nil {
		t.Fatal(err)
	}
	testkit.Eventually(t, "the bin's rows", func() bool { return r.count(t, "timebin = '2026-12-01T10:00:00Z'") == 9 })
	t.Logf("bin visible %s after publishing", time.Since(start).Round(time.Millisecond))
	testkit.Eventually(t, "the results event", func() bool { return len(r.results(t)) == 1 })

	res := r.results(t)[0]
	if res.RunID != "run-1" || res.Replaced || res.RowCount != 9 || fmt.Sprint(res.Keys["originasn"]) != "[2497 7922 15169]" ||
		fmt.Sprint(res.Keys["asn"]) != "[174 2497 3356 7922 15169]" {
		t.Errorf("results event %+v", res)
	}
	if n := testkit.Scalar[int](t, r.db, "SELECT conesize FROM ihr_hegemonycone WHERE timebin = $1 AND af = 4 AND asn_id = 3356", t0); n != 3 {
		t.Errorf("cone of AS3356 = %d, want 3", n)
	}

	// The same run again, with fresh message ids so JetStream cannot drop
	// them: the ledger makes it a no-op.
	for i := range 2 {
		publishWithIDs(t, r, bin, rows, fmt.Sprint("replay", i), 1)
	}
	testkit.Eventually(t, "the replays to be consumed", func() bool { return pending(t, r) == 0 })
	if n := r.count(t, "timebin = '2026-12-01T10:00:00Z'"); n != 9 {
		t.Fatalf("%d rows after replaying the run, want 9", n)
	}
	if n := len(r.results(t)); n != 1 {
		t.Errorf("%d results events, want 1", n)
	}

	// A new run replaces the bin.
	if _, err := r.pub.Bin(ctx, events.Hegemony.NewBin(4, t0, "run-2"), hegemonyRows(2497)); err != nil {
		t.Fatal(err)
	}
	testkit.Eventually(t, "the re-run", func() bool { return len(r.results(t)) == 2 })
	if n := r.count(t, "timebin = '2026-12-01T10:00:00Z'"); n != 3 {
		t.Errorf("%d rows after the re-run, want its 3", n)
	}
	re := r.results(t)[1]
	if !re.Replaced || re.PreviousRunID != "run-1" || fmt.Sprint(re.Keys["originasn"]) != "[2497 7922 15169]" {
		t.Errorf("re-run results event %+v: must be replaced and name the old run's keys too", re)
	}

	_, body := testkit.Get(t, svc.URL+"/metrics")
	for _, m := range []struct {
		name string
		want func(float64) bool
	}{
		{`ihr_ingest_newest_bin_timestamp_seconds{af="4",dataset="hegemony"`, func(v float64) bool { return v == float64(t0.Unix()) }},
		{`ihr_ingest_commit_duration_seconds_count{dataset="hegemony"`, func(v float64) bool { return v == 2 }},
		{`ihr_jetstream_consumer_pending{consumer="ingestion-hegemony",stream="IHR_INGEST"}`, func(v float64) bool { return v == 0 }},
		{`ihr_jetstream_consumer_ack_pending{consumer="ingestion-hegemony",stream="IHR_INGEST"}`, func(v float64) bool { return v == 0 }},
		{`ihr_jetstream_consumer_max_ack_pending{consumer="ingestion-hegemony",stream="IHR_INGEST"}`, func(v float64) bool { return v == 1000 }},
		{`ihr_jetstream_consumer_redelivered{consumer="ingestion-hegemony",stream="IHR_INGEST"}`, func(v float64) bool { return v == 0 }},
		{`ihr_jetstream_consumer_pending{consumer="ingestion-disco",stream="IHR_INGEST"}`, func(v float64) bool { return v == 0 }},
		{`ihr_dlq_messages{subject="ihr.dlq.ingest"}`, func(v float64) bool { return v == 0 }},
		{`ihr_ingest_bin_size_seconds{dataset="hegemony"}`, func(v float64) bool { return v == 900 }},
		{`ihr_ingest_bin_size_seconds{dataset="metis_selection"}`, func(v float64) bool { return v == 7*86400 }},
		{`ihr_ingest_messages_total{dataset="hegemony",outcome="acked"`, func(v float64) bool { return v >= 6 }},
		{`ihr_ingest_rows_total{dataset="hegemony"`, func(v float64) bool { return v == 12 }},
	} {
		if v, ok := metricValue(body, m.name); !ok || !m.want(v) {
			t.Errorf("metric %s...: %v (found: %v)", m.name, v, ok)
		}
	}
}

// metricValue reads the value of the first sample whose line starts with prefix.
func metricValue(body, prefix string) (float64, bool) {
	for line := range strings.Lines(body) {
		if strings.HasPrefix(line, prefix) {
			v, err := strconv.ParseFloat(strings.TrimSpace(line[strings.LastIndexByte(line, ' ')+1:]), 64)
			return v, err == nil
		}
	}
	return 0, false
}

// publishWithIDs publishes a bin whose message ids carry a suffix, as a
// producer retrying after the de-duplication window would.
func publishWithIDs(t *testing.T, r *rig, bin events.Bin, rows []events.HegemonyRow, suffix string, batches int) {
	t.Helper()
	send := func(subject, id string, v any) {
		data, _ := json.Marshal(v)
		msg := &nats.Msg{Subject: r.bus.Subject(subject), Data: data, Header: nats.Header{}}
		msg.Header.Set(jetstream.MsgIDHeader, id+":"+suffix)
		if _, err := r.bus.JS.PublishMsg(context.Background(), msg); err != nil {
			t.Fatal(err)
		}
	}
	send(events.RowsSubject("hegemony"), bin.MsgID(0), events.Rows[events.HegemonyRow]{BatchHeader: events.BatchHeader{Schema: events.SchemaRows, Bin: bin}, Rows: rows})
	send(events.BinSubject("hegemony"), bin.MsgID(-1), events.BinComplete{Schema: events.SchemaBin, Bin: bin, BatchCount: batches, RowCount: len(rows) * batches})
}

// pending is the number of ingest messages not acknowledged yet.
func pending(t *testing.T, r *rig) uint64 {
	t.Helper()
	c, err := r.bus.JS.Consumer(context.Background(), r.bus.StreamName(natsx.StreamIngest), "ingestion-hegemony")
	if err != nil {
		return 1
	}
	info, err := c.Info(context.Background())
	if err != nil {
		return 1
	}
	return info.NumPending + uint64(info.NumAckPending)
}

func TestInvalidBatchGoesToTheDLQ(t *testing.T) {
	t.Parallel()
	r := newRig(t, nil)
	svc := r.start(t)
	bad := hegemonyRows(2497)
	bad[1].Hege = 1.7
	if _, err := r.pub.Bin(context.Background(), events.Hegemony.NewBin(4, t0, "bad"), bad); err != nil {
		t.Fatal(err)
	}
	// The consumer keeps going: a valid bin behind it is committed.
	if _, err := r.pub.Bin(context.Background(), events.Hegemony.NewBin(4, t0.Add(15*time.Minute), "good"), hegemonyRows(2497)); err != nil {
		t.Fatal(err)
	}
	testkit.Eventually(t, "the valid bin", func() bool { return r.count(t, "true") == 3 })
	testkit.Eventually(t, "the dead letter", func() bool { return len(r.dlq(t)) > 0 })
	if reason := r.dlq(t)[0]; !strings.Contains(reason, "hege must be between 0 and 1, got 1.7") {
		t.Errorf("DLQ reason %q", reason)
	}
	if n := r.count(t, "timebin = '2026-12-01T10:00:00Z'"); n != 0 {
		t.Errorf("%d rows of the invalid bin written", n)
	}
	_, body := testkit.Get(t, svc.URL+"/metrics")
	if v, ok := metricValue(body, `ihr_dlq_messages{subject="ihr.dlq.ingest"}`); !ok || v != float64(len(r.dlq(t))) {
		t.Errorf("ihr_dlq_messages: %v (found: %v), want the %d dead letters", v, ok, len(r.dlq(t)))
	}
}

func TestIncompleteBinIsInvisibleAndReported(t *testing.T) {
	t.Parallel()
	r := newRig(t, map[string]string{"IHR_INGEST_BIN_WAIT": "2s"})
	svc := r.start(t)
	bin := events.Hegemony.NewBin(6, t0, "partial")
	rows := hegemonyRows(2497, 15169)
	// batch 0 of 2, then the bin message: batch 1 never arrives
	publishWithIDs(t, r, bin, rows[:3], "x", 2)
	testkit.Eventually(t, "the incomplete bin to be given up", func() bool {
		return len(r.dlq(t)) > 0 && strings.Contains(svc.Logs(), "its last batches never arrived")
	})
	if reason := r.dlq(t)[0]; !strings.Contains(reason, "incomplete") {
		t.Errorf("DLQ reason %q", reason)
	}
	if n := r.count(t, "true"); n != 0 {
		t.Errorf("%d rows of an incomplete bin are visible", n)
	}
	_, metrics := testkit.Get(t, svc.URL+"/metrics")
	if !strings.Contains(metrics, `ihr_ingest_incomplete_bins_total{dataset="hegemony"`) {
		t.Errorf("no incomplete-bin metric:\n%s", metrics)
	}
}

func TestDatabaseOutageDelaysButLosesNothing(t *testing.T) {
	t.Parallel()
	r := newRig(t, nil)
	r.start(t)
	r.proxy.Cut()
	if _, err := r.pub.Bin(context.Background(), events.Hegemony.NewBin(4, t0, "outage"), hegemonyRows(2497, 7922)); err != nil {
		t.Fatal(err)
	}
	testkit.Eventually(t, "retries during the outage", func() bool {
		c, err := r.bus.JS.Consumer(context.Background(), r.bus.StreamName(natsx.StreamIngest), "ingestion-hegemony")
		if err != nil {
			return false
		}
		info, err := c.Info(context.Background())
		return err == nil && info.NumRedelivered > 0
	})
	if n := r.count(t, "true"); n != 0 {
		t.Fatalf("%d rows written while the database was unreachable?", n)
	}
	r.proxy.Restore()
	testkit.Eventually(t, "the rows after the outage", func() bool { return r.count(t, "true") == 6 })
	testkit.Eventually(t, "every message acknowledged", func() bool { return pending(t, r) == 0 })
	if n := r.count(t, "true"); n != 6 {
		t.Errorf("%d rows, want each of the 6 once", n)
	}
}

// TestKilledBetweenCommitAndAck kills a real ingestion process right after
// its commit is visible, before it can be sure to have acknowledged, then
// starts another: every row is there exactly once.
func TestKilledBetweenCommitAndAck(t *testing.T) {
	t.Parallel()
	r := newRig(t, nil)
	bin := filepath.Join(t.TempDir(), "ingestion")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	env := os.Environ()
	for k, v := range r.env {
		env = append(env, k+"="+v)
	}
	// What the killed instance held comes back after the ack wait.
	env = append(env, "IHR_INGESTION_ADDR="+testkit.FreeAddr(t), "IHR_INGEST_ACK_WAIT=3s")
	run := func() *exec.Cmd {
		cmd := exec.Command(bin)
		cmd.Env = env
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		return cmd
	}

	var rows []events.HegemonyRow
	for o := range int64(4000) {
		rows = append(rows, events.HegemonyRow{OriginASN: 100000 + o, ASN: 3356, Hege: 0.5}, events.HegemonyRow{OriginASN: 100000 + o, ASN: 100000 + o, Hege: 1})
	}
	p := *r.pub
	p.BatchRows = 1000
	if _, err := p.Bin(context.Background(), events.Hegemony.NewBin(4, t0, "crash"), rows); err != nil {
		t.Fatal(err)
	}
	first := run()
	testkit.Eventually(t, "the commit", func() bool {
		return testkit.Scalar[int](t, r.db, "SELECT count(*)::int FROM ingest_runs WHERE run_id = 'crash'") == 1
	})
	first.Process.Signal(syscall.SIGKILL)
	first.Wait()

	second := run()
	t.Cleanup(func() { second.Process.Signal(syscall.SIGTERM); second.Wait() })
	testkit.Eventually(t, "every message acknowledged", func() bool { return pending(t, r) == 0 })
	testkit.Eventually(t, "the results event", func() bool { return len(r.results(t)) == 1 })
	if n := r.count(t, "true"); n != len(rows) {
		t.Errorf("%d rows after the crash, want %d exactly", n, len(rows))
	}
}

// TestLateBinMessage: batches wait in memory for their bin message; when
// it is late they are staged, and the bin still commits once.
func TestLateBinMessage(t *testing.T) {
	t.Parallel()
	r := newRig(t, nil)
	r.start(t)
	ctx := context.Background()
	bin := events.Hegemony.NewBin(4, t0, "late")
	rows := hegemonyRows(2497, 7922) // two batches of 3
	for seq := range 2 {
		if _, err := r.pub.Batch(ctx, bin, seq, rows[seq*3:seq*3+3]); err != nil {
			t.Fatal(err)
		}
	}
	testkit.Eventually(t, "the held batches staged", func() bool {
		return testkit.Scalar[int](t, r.db, "SELECT count(*)::int FROM ingest_staging") == 2
	})
	if _, err := r.pub.Complete(ctx, bin, 2, len(rows)); err != nil {
		t.Fatal(err)
	}
	testkit.Eventually(t, "the late bin committed", func() bool { return r.count(t, "true") == 6 })
	testkit.Eventually(t, "every message acknowledged", func() bool { return pending(t, r) == 0 })
	if n := testkit.Scalar[int](t, r.db, "SELECT count(*)::int FROM ingest_staging"); n != 0 {
		t.Errorf("%d staged batches left after the commit", n)
	}
}
