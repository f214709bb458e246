// Package chaos breaks ingestion in the middle of a load — the process
// killed, PostgreSQL cut off, NATS restarted, a cluster node lost, a poison
// batch — and checks that every published row ends up in PostgreSQL exactly
// once, with one ledger entry and one results event per bin.
//
// The tests run the real ingestion binary against the machine's PostgreSQL
// and NATS 2.9 (private nats-server processes where a test stops NATS).
// `go test -short` (make test) uses small loads; make test-chaos the full ones.
package chaos

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/ihr-go/ihr/pkg/config"
	"github.com/ihr-go/ihr/pkg/events"
	"github.com/ihr-go/ihr/pkg/natsx"
	"github.com/ihr-go/ihr/pkg/publish"
	"github.com/ihr-go/ihr/pkg/testkit"
	"github.com/jackc/pgx/v5"
	"github.com/nats-io/nats.go/jetstream"
	"go.opentelemetry.io/otel/propagation"
)

// ingestionBin is the ingestion binary, built once by TestMain: every test
// kills and restarts real processes.
var ingestionBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "ihr-chaos-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	ingestionBin = filepath.Join(dir, "ingestion")
	code := 1
	if out, err := exec.Command("go", "build", "-o", ingestionBin, "github.com/ihr-go/ihr/services/ingestion/cmd/ingestion").CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "build the ingestion binary: %v\n%s", err, out)
	} else {
		code = m.Run()
	}
	os.RemoveAll(dir)
	os.Exit(code)
}

// settle bounds how long a load may take to finish after the last fault. A
// message held by a killed process, or whose acknowledgement was lost, comes
// back only after the consumer's AckWait (30 s), and a bin message waiting
// for it retries on a back-off capped at 30 s.
const settle = 2 * time.Minute

var t0 = time.Date(2026, 11, 2, 0, 0, 0, 0, time.UTC)

// sized picks short under `go test -short` (make test), full otherwise.
func sized[T any](short, full T) T {
	if testing.Short() {
		return short
	}
	return full
}

// load is the bins a test publishes, one run each, and how far publishing got.
type load struct {
	bins      []events.Bin
	rows      [][]events.HegemonyRow
	batchRows int
	published atomic.Int64 // bins whose every message JetStream acknowledged
	failures  atomic.Int64 // publish attempts that failed and were retried
}

// newLoad returns 20k rows (8 bins of 2,500) under -short, 200k (40 bins of
// 5,000) otherwise, in five batches per bin.
func newLoad() *load {
	type size struct{ bins, rowsPerBin, batchRows int }
	s := sized(size{8, 2500, 500}, size{40, 5000, 1000})
	// The same networks in every bin, as in production: each origin
	// depends on itself and three transits.
	rows := make([]events.HegemonyRow, s.rowsPerBin)
	transits := []int64{174, 3356, 2914}
	for i := range rows {
		origin, k := int64(100000+i/4), i%4
		rows[i] = events.HegemonyRow{OriginASN: origin, ASN: origin, Hege: 1}
		if k > 0 {
			rows[i].ASN, rows[i].Hege = transits[k-1], 0.25*float64(k)
		}
	}
	l := &load{batchRows: s.batchRows}
	for i := range s.bins {
		l.bins = append(l.bins, events.Hegemony.NewBin(4, t0.Add(time.Duration(i)*15*time.Minute), "chaos-"+strconv.Itoa(i)))
		l.rows = append(l.rows, rows)
	}
	return l
}

// pace spreads publishing the load over about d, as pipelines produce bins
// over time, so that faults land in the middle of it.
func (l *load) pace(d time.Duration) time.Duration { return d / time.Duration(len(l.bins)) }

// rig is one test's world: a scratch database that the ingestion service
// reaches through a proxy, a NATS namespace, and the producer's connection.
type rig struct {
	t     *testing.T
	db    string            // direct URL, for the checks
	env   map[string]string // the ingestion service's environment
	proxy *testkit.Proxy
	bus   *natsx.Bus
}

// newRig uses the NATS server of nc, or the machine's under a fresh prefix
// when nc.URL is empty.
func newRig(t *testing.T, nc config.NATS) *rig {
	t.Helper()
	u, err := url.Parse(testkit.NewDB(t))
	if err != nil {
		t.Fatal(err)
	}
	r := &rig{t: t, db: u.String(), proxy: testkit.NewProxy(t, u.Host)}
	u.Host = r.proxy.Addr()
	if nc.URL == "" {
		nc.URL, nc.Prefix = testkit.NATSURL(t), testkit.NATSPrefix(t)
	}
	nc.Replicas = max(nc.Replicas, 1)
	r.env = map[string]string{
		"IHR_ENV":              "prod", // no embedded NATS may hide a stopped server
		"IHR_DATABASE_URL":     u.String(),
		"IHR_NATS_URL":         nc.URL,
		"IHR_NATS_PREFIX":      nc.Prefix,
		"IHR_NATS_REPLICAS":    strconv.Itoa(nc.Replicas),
		"IHR_INGESTION_ADDR":   testkit.FreeAddr(t),
		"IHR_SHUTDOWN_TIMEOUT": "10s",
	}
	if r.bus, err = natsx.Connect(context.Background(), nc, false, "chaos-test", slog.New(slog.NewTextHandler(io.Discard, nil))); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(r.bus.Close)
	// A fresh cluster accepts streams only once it has elected its leaders.
	var ensureErr error
	waitFor(t, 30*time.Second, "the IHR streams", func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		ensureErr = r.bus.EnsureStreams(ctx)
		return ensureErr == nil
	}, func() string { return fmt.Sprint(ensureErr) })
	return r
}

// waitFor polls cond until it holds, failing the test after limit with
// what, and why() when given.
func waitFor(t *testing.T, limit time.Duration, what string, cond func() bool, why ...func() string) {
	t.Helper()
	for deadline := time.Now().Add(limit); !cond(); time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			msg := fmt.Sprintf("%s: not reached within %s", what, limit)
			for _, w := range why {
				msg += "; " + w()
			}
			t.Fatal(msg)
		}
	}
}

// committed counts the ledger's runs.
func (r *rig) committed() int {
	return testkit.Scalar[int](r.t, r.db, "SELECT count(*)::int FROM ingest_runs")
}

// publish sends the bins in order, one every `every` at most, each
// retried until JetStream has acknowledged all its messages, as a producer
// must: publish.Publisher does not retry, and a retry sends the same message
// ids, so JetStream drops what it had stored already.
func (r *rig) publish(ctx context.Context, l *load, every time.Duration) error {
	pub := &publish.Publisher{Bus: r.bus, Propagator: propagation.TraceContext{}, Producer: events.Producer{Name: "chaos"}, BatchRows: l.batchRows}
	next := time.Now()
	for i := range l.bins {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(time.Until(next)):
		}
		next = time.Now().Add(every)
		for {
			actx, cancel := context.WithTimeout(ctx, 5*time.Second)
			_, err := pub.Bin(actx, l.bins[i], l.rows[i])
			cancel()
			if err == nil {
				break
			}
			l.failures.Add(1)
			select {
			case <-ctx.Done():
				return fmt.Errorf("bin %d still not stored: %w", i, err)
			case <-time.After(200 * time.Millisecond):
			}
		}
		l.published.Add(1)
	}
	return nil
}

// publishInBackground publishes the whole load in a goroutine, paced over
// about d; the function returned waits for it and fails the test if it gave up.
func (r *rig) publishInBackground(l *load, d time.Duration) (wait func()) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	done := make(chan error, 1)
	go func() { done <- r.publish(ctx, l, l.pace(d)) }()
	var err error
	finish := sync.OnceFunc(func() { err = <-done; cancel() })
	r.t.Cleanup(func() { cancel(); finish() }) // never outlives the test
	return func() {
		r.t.Helper()
		finish()
		if err != nil {
			r.t.Fatalf("publish the load: %v", err)
		}
	}
}

// ingestion is the real ingestion binary, killed and restarted by a test;
// every incarnation appends to one log, shown when the test fails.
type ingestion struct {
	t      *testing.T
	url    string
	env    []string
	logs   *os.File
	cmd    *exec.Cmd
	starts int
}

// startIngestion starts the service and waits until it is ready; it is
// stopped with SIGTERM when the test ends.
func (r *rig) startIngestion() *ingestion {
	r.t.Helper()
	p := &ingestion{t: r.t, url: "http://" + r.env["IHR_INGESTION_ADDR"], env: os.Environ()}
	for k, v := range r.env {
		p.env = append(p.env, k+"="+v)
	}
	var err error
	if p.logs, err = os.Create(filepath.Join(r.t.TempDir(), "ingestion.log")); err != nil {
		r.t.Fatal(err)
	}
	r.t.Cleanup(func() {
		p.stop()
		showTail(r.t, "ingestion", p.logs.Name())
		p.logs.Close()
	})
	p.start()
	return p
}

func (p *ingestion) start() {
	p.t.Helper()
	p.starts++
	fmt.Fprintf(p.logs, "--- start %d\n", p.starts)
	cmd := exec.Command(ingestionBin)
	cmd.Env, cmd.Stdout, cmd.Stderr, cmd.SysProcAttr = p.env, p.logs, p.logs, orphanless()
	if err := cmd.Start(); err != nil {
		p.t.Fatal(err)
	}
	p.cmd = cmd
	testkit.WaitStatus(p.t, p.url+"/readyz", http.StatusOK)
}

// kill ends the process with SIGKILL: no shutdown, no last acknowledgement.
func (p *ingestion) kill() {
	_ = p.cmd.Process.Signal(syscall.SIGKILL)
	_ = p.cmd.Wait()
	p.cmd = nil
}

func (p *ingestion) stop() {
	if p.cmd == nil {
		return
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	if err := waitExit(p.cmd, 30*time.Second); err != nil {
		p.t.Errorf("ingestion did not stop cleanly: %v", err)
	}
	p.cmd = nil
}

// orphanless makes a child die with the test process, even when go test's
// timeout kills it before any cleanup runs.
func orphanless() *syscall.SysProcAttr { return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL} }

// waitExit waits for cmd, killing it after limit.
func waitExit(cmd *exec.Cmd, limit time.Duration) error {
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		return err
	case <-time.After(limit):
		_ = cmd.Process.Kill()
		<-done
		return fmt.Errorf("still running after %s: killed", limit)
	}
}

// showTail logs the end of a log file when the test failed.
func showTail(t *testing.T, what, path string) {
	if !t.Failed() {
		return
	}
	b, _ := os.ReadFile(path)
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	t.Logf("%s log, last lines:\n%s", what, strings.Join(lines[max(0, len(lines)-60):], "\n"))
}

// streamMsgs returns every message of one of the IHR streams.
func (r *rig) streamMsgs(name string) []*jetstream.RawStreamMsg {
	r.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s, err := r.bus.JS.Stream(ctx, r.bus.StreamName(name))
	if err != nil {
		r.t.Fatalf("stream %s: %v", name, err)
	}
	info, err := s.Info(ctx)
	if err != nil {
		r.t.Fatalf("stream %s: %v", name, err)
	}
	var out []*jetstream.RawStreamMsg
	for seq := info.State.FirstSeq; info.State.Msgs > 0 && seq <= info.State.LastSeq; seq++ {
		m, err := s.GetMsg(ctx, seq)
		if err != nil {
			r.t.Fatalf("stream %s message %d: %v", name, seq, err)
		}
		out = append(out, m)
	}
	return out
}

// assertExactlyOnce waits until every bin of l but the skipped ones is
// committed and announced, then checks that each holds exactly the rows
// published (each once), has one ledger entry and one results event; that
// the skipped bins left nothing visible; that no committed run left staged
// batches behind; and that nothing but batches of skipped bins was
// dead-lettered (an outage must never dead-letter).
func (r *rig) assertExactlyOnce(l *load, skip ...int) {
	t := r.t
	t.Helper()
	want := map[time.Time]int{} // bin → index in l
	for i, b := range l.bins {
		if !slices.Contains(skip, i) {
			want[b.Timebin] = i
		}
	}
	start := time.Now()
	done := func() bool {
		return r.committed() >= len(want) && len(r.streamMsgs(natsx.StreamResults)) >= len(want)
	}
	waitFor(t, settle, fmt.Sprintf("%d bins committed and announced", len(want)), done, func() string {
		return fmt.Sprintf("%d committed, %d results events", r.committed(), len(r.streamMsgs(natsx.StreamResults)))
	})
	t.Logf("waited %s for the last commits and results events", time.Since(start).Round(100*time.Millisecond))

	// Rows, compared one by one with what was published.
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, r.db)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	type key struct{ origin, asn int64 }
	got := map[time.Time]map[key][]float64{}
	rows, err := conn.Query(ctx, "SELECT timebin, originasn_id, asn_id, hege FROM ihr_hegemony WHERE af = 4")
	if err != nil {
		t.Fatal(err)
	}
	var tb time.Time
	var k key
	var hege float64
	if _, err := pgx.ForEachRow(rows, []any{&tb, &k.origin, &k.asn, &hege}, func() error {
		tb = tb.UTC()
		if got[tb] == nil {
			got[tb] = map[key][]float64{}
		}
		got[tb][k] = append(got[tb][k], hege)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	for _, tb := range slices.SortedFunc(maps.Keys(got), time.Time.Compare) {
		i, ok := want[tb]
		if !ok {
			t.Errorf("bin %s holds %d rows, want none (not published, or its run was rejected)", tb.Format(time.RFC3339), len(got[tb]))
			continue
		}
		published := map[key]float64{}
		for _, row := range l.rows[i] {
			published[key{row.OriginASN, row.ASN}] = row.Hege
		}
		missing, dup, wrong, extra := 0, 0, 0, 0
		for k, h := range published {
			switch {
			case len(got[tb][k]) == 0:
				missing++
			case got[tb][k][0] != h:
				wrong++
			}
		}
		for k, hs := range got[tb] {
			dup += len(hs) - 1
			if _, ok := published[k]; !ok {
				extra++
			}
		}
		if missing+dup+wrong+extra > 0 {
			t.Errorf("bin %s: of %d rows published, %d missing, %d duplicated, %d with another hege; %d rows never published",
				tb.Format(time.RFC3339), len(published), missing, dup, wrong, extra)
		}
	}
	for tb := range want {
		if got[tb] == nil {
			t.Errorf("bin %s has no rows", tb.Format(time.RFC3339))
		}
	}

	// The ledger: one run per bin, the one published, with its row count.
	ledger, err := conn.Query(ctx, "SELECT timebin, run_id, row_count FROM ingest_runs WHERE af = 4")
	if err != nil {
		t.Fatal(err)
	}
	runs := map[time.Time][]string{}
	var run string
	var n int
	if _, err := pgx.ForEachRow(ledger, []any{&tb, &run, &n}, func() error {
		runs[tb.UTC()] = append(runs[tb.UTC()], fmt.Sprintf("%s (%d rows)", run, n))
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	for i, b := range l.bins {
		if w := fmt.Sprintf("%s (%d rows)", b.RunID, len(l.rows[i])); !slices.Contains(skip, i) && !slices.Equal(runs[b.Timebin], []string{w}) {
			t.Errorf("bin %s: ledger %v, want [%s]", b.Timebin.Format(time.RFC3339), runs[b.Timebin], w)
		} else if slices.Contains(skip, i) && len(runs[b.Timebin]) > 0 {
			t.Errorf("bin %s: ledger %v, want nothing", b.Timebin.Format(time.RFC3339), runs[b.Timebin])
		}
	}
	var left int
	if err := conn.QueryRow(ctx, `SELECT count(*)::int FROM ingest_staging s JOIN ingest_runs r USING (dataset, af, timebin, run_id)`).Scan(&left); err != nil {
		t.Fatal(err)
	}
	if left > 0 {
		t.Errorf("%d staged batches of committed runs left behind", left)
	}

	// One results event per committed bin, for its run and rows.
	announced := map[time.Time][]string{}
	for _, m := range r.streamMsgs(natsx.StreamResults) {
		res, err := events.DecodeResult(m.Data)
		if err != nil {
			t.Fatalf("results event %d: %v", m.Sequence, err)
		}
		announced[res.Timebin.UTC()] = append(announced[res.Timebin.UTC()], fmt.Sprintf("%s (%d rows)", res.RunID, res.RowCount))
	}
	for tb, i := range want {
		if w := fmt.Sprintf("%s (%d rows)", l.bins[i].RunID, len(l.rows[i])); !slices.Equal(announced[tb], []string{w}) {
			t.Errorf("bin %s: results events %v, want [%s]", tb.Format(time.RFC3339), announced[tb], w)
		}
	}
	if len(announced) != len(want) {
		t.Errorf("results events for %d bins, want %d", len(announced), len(want))
	}

	for _, m := range r.streamMsgs(natsx.StreamDLQ) {
		id := m.Header.Get("Ihr-Msg-Id")
		if !slices.ContainsFunc(skip, func(i int) bool { return strings.HasPrefix(id, runPrefix(l.bins[i])) }) {
			t.Errorf("dead-lettered %s (%s): %s", id, m.Header.Get("Ihr-Subject"), m.Header.Get("Ihr-Error"))
		}
	}
}

// runPrefix is what the message ids of every message of b's run start with.
func runPrefix(b events.Bin) string { return strings.TrimSuffix(b.MsgID(-1), "complete") }
