package chaos

import (
	"context"
	"math/rand/v2"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ihr-go/ihr/pkg/config"
	"github.com/ihr-go/ihr/pkg/events"
	"github.com/ihr-go/ihr/pkg/natsx"
	"github.com/ihr-go/ihr/pkg/testkit"
)

// TestKilledAgainAndAgain kills the ingestion process with SIGKILL at random
// moments of a load, restarting it each time.
func TestKilledAgainAndAgain(t *testing.T) {
	t.Parallel()
	r := newRig(t, config.NATS{})
	l := newLoad()
	kills := sized(3, 10)
	p := r.startIngestion()
	wait := r.publishInBackground(l, time.Duration(kills)*time.Second)
	for i := range kills {
		// A random moment: staging, committing, acknowledging or announcing.
		time.Sleep(time.Duration(100+rand.IntN(600)) * time.Millisecond)
		staged := testkit.Scalar[int](t, r.db, "SELECT count(*)::int FROM ingest_staging")
		committed := r.committed()
		p.kill()
		t.Logf("kill %d: %d of %d bins published, %d committed, %d batches staged", i+1, l.published.Load(), len(l.bins), committed, staged)
		p.start()
	}
	wait()
	r.assertExactlyOnce(l)
}

// TestPostgresCutMidLoad cuts the service off PostgreSQL in the middle of a
// load, through a proxy that also drops the open connections: the
// machine's server is shared by other test packages and stays up.
func TestPostgresCutMidLoad(t *testing.T) {
	t.Parallel()
	r := newRig(t, config.NATS{})
	l := newLoad()
	cuts := sized(1, 3)
	p := r.startIngestion()
	wait := r.publishInBackground(l, time.Duration(cuts)*3*time.Second)
	for c := range cuts {
		// Part of the bins are in, the others arrive during and after the outage.
		mark := (c + 1) * len(l.bins) / (cuts + 2)
		waitFor(t, settle, "bins committed before the cut", func() bool { return r.committed() >= mark })
		before := r.redelivered()
		r.proxy.Cut()
		body := testkit.WaitStatus(t, p.url+"/readyz", http.StatusServiceUnavailable)
		if !strings.Contains(body, `"postgres":{"status":"down"`) {
			t.Errorf("readiness does not blame postgres: %s", body)
		}
		waitFor(t, 30*time.Second, "ingest attempts failing during the outage", func() bool { return r.redelivered() > before })
		t.Logf("cut %d: %d of %d bins published, %d committed, %d messages being retried", c+1, l.published.Load(), len(l.bins), r.committed(), r.redelivered())
		r.proxy.Restore()
		testkit.WaitStatus(t, p.url+"/readyz", http.StatusOK)
	}
	wait()
	r.assertExactlyOnce(l)
}

// redelivered counts the ingest messages delivered more than once, over
// every consumer of the ingest stream.
func (r *rig) redelivered() int {
	r.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s, err := r.bus.JS.Stream(ctx, r.bus.StreamName(natsx.StreamIngest))
	if err != nil {
		r.t.Fatal(err)
	}
	n := 0
	list := s.ListConsumers(ctx)
	for c := range list.Info() {
		n += c.NumRedelivered
	}
	if err := list.Err(); err != nil {
		r.t.Fatal(err)
	}
	return n
}

// faultMidLoad publishes l in the background and runs fault once a third of
// it is published and a bin committed, so that bins are in flight on both
// sides of the fault. It returns the function that waits for the publisher.
func (r *rig) faultMidLoad(l *load, fault func()) (wait func()) {
	r.t.Helper()
	wait = r.publishInBackground(l, 6*time.Second)
	waitFor(r.t, time.Minute, "a third of the load published and a bin committed", func() bool {
		return int(l.published.Load()) >= len(l.bins)/3 && r.committed() > 0
	})
	if int(l.published.Load()) == len(l.bins) {
		r.t.Fatal("the whole load was published before the fault: slow the publisher down")
	}
	fault()
	return wait
}

// TestNATSRestartMidLoad stops a private NATS server in the middle of a
// load and starts it again on the same port and store.
func TestNATSRestartMidLoad(t *testing.T) {
	t.Parallel()
	srv := newNATSServer(t, "solo")
	srv.start()
	r := newRig(t, config.NATS{URL: srv.url})
	l := newLoad()
	p := r.startIngestion()
	wait := r.faultMidLoad(l, func() {
		srv.stop()
		body := testkit.WaitStatus(t, p.url+"/readyz", http.StatusServiceUnavailable)
		if !strings.Contains(body, `"nats":{"status":"down"`) {
			t.Errorf("readiness does not blame nats: %s", body)
		}
		// The producer's publishes go unacknowledged: it must retry them.
		waitFor(t, time.Minute, "a publish failing during the outage", func() bool { return l.failures.Load() > 0 })
		t.Logf("NATS down: %d of %d bins published, %d committed", l.published.Load(), len(l.bins), r.committed())
		srv.start()
		testkit.WaitStatus(t, p.url+"/readyz", http.StatusOK)
	})
	wait()
	t.Logf("the publisher retried %d times", l.failures.Load())
	r.assertExactlyOnce(l)
}

// TestClusterNodeLostMidLoad runs the streams with 3 replicas on a three-node
// JetStream cluster and kills the ingest stream's leader in the middle of a
// load.
func TestClusterNodeLostMidLoad(t *testing.T) {
	t.Parallel()
	nodes := startCluster(t, 3)
	r := newRig(t, config.NATS{URL: nodes[0].url, Replicas: 3})
	ctx := context.Background()
	s, err := r.bus.JS.Stream(ctx, r.bus.StreamName(natsx.StreamIngest))
	if err != nil {
		t.Fatal(err)
	}
	l := newLoad()
	r.startIngestion()
	var killed time.Time
	var next int
	wait := r.faultMidLoad(l, func() {
		info, err := s.Info(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if info.Config.Replicas != 3 || info.Cluster == nil {
			t.Fatalf("ingest stream: %d replicas, cluster %+v; want 3 replicas", info.Config.Replicas, info.Cluster)
		}
		i := slices.IndexFunc(nodes, func(n *natsServer) bool { return n.name == info.Cluster.Leader })
		if i < 0 {
			t.Fatalf("ingest stream leader %q is none of the nodes", info.Cluster.Leader)
		}
		// Progress means a bin published after the kill gets committed.
		next = int(l.published.Load()) + 1
		killed = time.Now()
		nodes[i].kill()
		t.Logf("killed the ingest stream's leader %s: %d of %d bins published, %d committed", nodes[i].name, next-1, len(l.bins), r.committed())
	})
	if next >= len(l.bins) {
		t.Fatal("no bin left to publish after the kill: slow the publisher down")
	}
	waitFor(t, 30*time.Second, "a bin published after the kill committed", func() bool {
		return testkit.Scalar[int](t, r.db, "SELECT count(*)::int FROM ingest_runs WHERE timebin >= $1", l.bins[next].Timebin) > 0
	})
	t.Logf("first commit of a bin published after the kill: %s after it", time.Since(killed).Round(100*time.Millisecond))
	wait()
	r.assertExactlyOnce(l)
}

// TestPoisonBatchUnderLoad puts a batch that fails validation in a bin in
// the middle of a load: that batch goes to the DLQ with its reason and id,
// its bin never becomes visible, and the bins after it keep committing.
// (Ingestion's own tests cover one bad bin followed by one good one.)
func TestPoisonBatchUnderLoad(t *testing.T) {
	t.Parallel()
	r := newRig(t, config.NATS{})
	l := newLoad()
	bad := len(l.bins) / 2
	rows := slices.Clone(l.rows[bad])
	rows[2*l.batchRows+7].Hege = 1.7 // in batch 2
	l.rows[bad] = rows
	r.startIngestion()
	if err := r.publish(context.Background(), l, 0); err != nil {
		t.Fatal(err)
	}
	r.assertExactlyOnce(l, bad)

	dl := r.streamMsgs(natsx.StreamDLQ)
	if len(dl) != 1 {
		t.Fatalf("%d dead letters, want 1", len(dl))
	}
	h := dl[0].Header
	if got, want := h.Get("Ihr-Msg-Id"), l.bins[bad].MsgID(2); got != want {
		t.Errorf("Ihr-Msg-Id %q, want %q", got, want)
	}
	if got, want := h.Get("Ihr-Subject"), r.bus.Subject(events.RowsSubject(events.Hegemony.Name)); got != want {
		t.Errorf("Ihr-Subject %q, want %q", got, want)
	}
	if reason := h.Get("Ihr-Error"); !strings.Contains(reason, "hege") || !strings.Contains(reason, "1.7") {
		t.Errorf("Ihr-Error %q does not give the reason (hege 1.7)", reason)
	}
}
