// Package streams subscribes to the gateway's live results streams (SSE and
// WebSocket) on the real binaries: latency from a published bin, resuming
// without loss or repeats, slow subscribers dropped, credentials required.
package streams

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/ihr-go/ihr/pkg/config"
	"github.com/ihr-go/ihr/pkg/events"
	"github.com/ihr-go/ihr/pkg/natsx"
	"github.com/ihr-go/ihr/pkg/publish"
	"github.com/ihr-go/ihr/pkg/testkit"
	"github.com/nats-io/nats.go"
	"go.opentelemetry.io/otel/propagation"
)

// stack is auth, ingestion, query and a gateway whose subscribers may be
// 100 events behind, through a small socket buffer.
type stack struct {
	gateway string
	token   string // a user's access token
	bus     *natsx.Bus
	pub     *publish.Publisher
}

func newStack(t *testing.T) *stack {
	t.Helper()
	db := testkit.NewDB(t)
	testkit.Exec(t, db, `INSERT INTO ihr_asn VALUES (2497, 'IIJ', true, false, true), (174, 'COGENT', true, false, true)`)
	smtp := testkit.SMTP(t)
	env := testkit.ServiceEnv(t, db)
	env["IHR_AUTH_URL"] = testkit.StartBinary(t, "auth", testkit.With(env, map[string]string{"IHR_SMTP_URL": smtp.URL(), "IHR_AUTH_LINK_BASE": "https://ihr.example/account"}))
	testkit.StartBinary(t, "ingestion", env)
	s := &stack{}
	s.gateway = testkit.StartBinary(t, "gateway", testkit.With(env, map[string]string{
		"IHR_QUERY_URL": testkit.StartBinary(t, "query", env), "IHR_INGESTION_URL": "http://" + testkit.FreeAddr(t),
		"IHR_STREAM_CLIENT_BUFFER": "100", "IHR_STREAM_HEARTBEAT": "200ms", "IHR_STREAM_PER_CLIENT": "3", "IHR_STREAM_SOCKET_BUFFER": "65536"}))
	_, login := testkit.SignUp(t, s.gateway, smtp, "subscriber@example.org", "a subscriber's password")
	s.token = login.Str("access_token")
	bus, err := natsx.Connect(context.Background(), config.NATS{URL: env["IHR_NATS_URL"], Prefix: env["IHR_NATS_PREFIX"]},
		false, "stream-test", slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(bus.Close)
	s.bus = bus
	s.pub = &publish.Publisher{Bus: bus, Propagator: propagation.TraceContext{}, Producer: events.Producer{Name: "stream-test"}}
	return s
}

// bin publishes a hegemony bin of origin asn through ingestion.
func (s *stack) bin(t *testing.T, asn int64, timebin time.Time, run string) {
	t.Helper()
	rows := []events.HegemonyRow{{OriginASN: asn, ASN: asn, Hege: 1}}
	if _, err := s.pub.Bin(context.Background(), events.Hegemony.NewBin(4, timebin, run), rows); err != nil {
		t.Fatal(err)
	}
}

// sseEvent is one event of a Server-Sent Events stream.
type sseEvent struct {
	id, kind string
	data     string
	at       time.Time
}

// sse subscribes with query q (and Last-Event-ID lastID when set), and
// returns the events as they come; the channel closes with the stream.
func (s *stack) sse(t *testing.T, ctx context.Context, q, lastID string) (<-chan sseEvent, *http.Response) {
	t.Helper()
	req, _ := http.NewRequestWithContext(ctx, "GET", s.gateway+"/ihr/api/stream?"+q, nil)
	req.Header.Set("Authorization", "Bearer "+s.token)
	if lastID != "" {
		req.Header.Set("Last-Event-ID", lastID)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	out := make(chan sseEvent, 1024)
	if resp.StatusCode != http.StatusOK {
		resp.Body.Close()
		close(out)
		return out, resp
	}
	go func() {
		defer close(out)
		defer resp.Body.Close()
		sc := bufio.NewScanner(resp.Body)
		sc.Buffer(nil, 1<<20)
		var e sseEvent
		for sc.Scan() {
			line := sc.Text()
			switch {
			case line == "":
				if e.kind != "" {
					e.at = time.Now()
					out <- e
				}
				e = sseEvent{}
			case strings.HasPrefix(line, "id: "):
				e.id = line[4:]
			case strings.HasPrefix(line, "event: "):
				e.kind = line[7:]
			case strings.HasPrefix(line, "data: "):
				e.data = line[6:]
			}
		}
	}()
	return out, resp
}

// next returns the next event of kind result, failing after limit.
func next(t *testing.T, c <-chan sseEvent, limit time.Duration) sseEvent {
	t.Helper()
	timeout := time.After(limit)
	for {
		select {
		case e, ok := <-c:
			if !ok {
				t.Fatal("the stream ended")
			}
			if e.kind == "result" {
				return e
			}
		case <-timeout:
			t.Fatalf("no event within %s", limit)
		}
	}
}

// expect reads as many events as runs, and fails unless they are those
// runs' events, each once, in increasing ids after the id after.
func expect(t *testing.T, c <-chan sseEvent, after string, runs ...string) {
	t.Helper()
	prev, _ := strconv.ParseUint(after, 10, 64)
	want := map[string]bool{}
	for _, r := range runs {
		want[r] = true
	}
	for range runs {
		e := next(t, c, 5*time.Second)
		id, _ := strconv.ParseUint(e.id, 10, 64)
		run := runOf(t, e)
		if id <= prev || !want[run] {
			t.Fatalf("event %d (run %s) after %d: want increasing ids, each of %v once", id, run, prev, runs)
		}
		delete(want, run)
		prev = id
	}
	select {
	case e := <-c:
		if e.kind == "result" {
			t.Fatalf("one more event: %s %s", e.id, e.data)
		}
	case <-time.After(300 * time.Millisecond):
	}
}

func runOf(t *testing.T, e sseEvent) string {
	t.Helper()
	var r events.Result
	if err := json.Unmarshal([]byte(e.data), &r); err != nil {
		t.Fatalf("event %q: %v", e.data, err)
	}
	return r.RunID
}

func TestStreams(t *testing.T) {
	s := newStack(t)
	t0 := time.Date(2026, 12, 5, 0, 0, 0, 0, time.UTC)

	t.Run("an unauthorised client is refused", func(t *testing.T) {
		for _, token := range []string{"", "not-a-token", "ihr_k0123456789ab_" + strings.Repeat("A", 43)} {
			req, _ := http.NewRequest("GET", s.gateway+"/ihr/api/stream", nil)
			if token != "" {
				req.Header.Set("Authorization", "Bearer "+token)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusUnauthorized {
				t.Errorf("SSE with %q: %d, want 401", token, resp.StatusCode)
			}
			var h http.Header
			if token != "" {
				h = http.Header{"Authorization": {"Bearer " + token}}
			}
			_, resp, err = websocket.Dial(context.Background(), strings.Replace(s.gateway, "http", "ws", 1)+"/ihr/api/ws", &websocket.DialOptions{HTTPHeader: h})
			if err == nil || resp == nil || resp.StatusCode != http.StatusUnauthorized {
				t.Errorf("WebSocket with %q: %v %v, want 401", token, err, resp)
			}
		}
	})

	t.Run("bad parameters are refused", func(t *testing.T) {
		for _, q := range []string{"dataset=nope", "asn=AS12x", "af=5", "since=-1", "start=yesterday", "since=3&start=2026-12-05T00:00:00Z", "color=red"} {
			_, resp := s.sse(t, context.Background(), q, "")
			if resp.StatusCode != http.StatusBadRequest {
				t.Errorf("%s: %d, want 400", q, resp.StatusCode)
			}
		}
	})

	var lastID string
	t.Run("a subscriber receives a published bin's event within a second", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		got, resp := s.sse(t, ctx, "dataset=hegemony&asn=2497&af=4", "")
		if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "text/event-stream" {
			t.Fatalf("subscribe: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
		}
		s.bin(t, 174, t0, "other-network") // filtered out
		s.bin(t, 2497, t0, "live-1")
		published := time.Now()
		e := next(t, got, 5*time.Second)
		if run := runOf(t, e); run != "live-1" {
			t.Fatalf("first event of run %s, want live-1 (the other network's is filtered out)", run)
		}
		if took := e.at.Sub(published); took > time.Second {
			t.Errorf("the event came %s after the bin was published, want < 1s", took)
		} else {
			t.Logf("the event came %s after the bin was published", took.Round(time.Millisecond))
		}
		lastID = e.id
	})

	t.Run("a subscriber resuming from its last id misses nothing and gets nothing twice", func(t *testing.T) {
		for i := 1; i <= 3; i++ {
			s.bin(t, 2497, t0.Add(time.Duration(i)*15*time.Minute), "missed-"+strconv.Itoa(i))
		}
		s.bin(t, 174, t0.Add(time.Hour), "missed-other")
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		// Bins commit in parallel: their events are in the stream's order.
		got, _ := s.sse(t, ctx, "dataset=hegemony&asn=2497", lastID)
		expect(t, got, lastID, "missed-1", "missed-2", "missed-3")
		s.bin(t, 2497, t0.Add(2*time.Hour), "after-resume")
		expect(t, got, "", "after-resume")
		// From a time: every event stored since.
		from, _ := s.sse(t, ctx, "dataset=hegemony&asn=2497&start="+time.Now().Add(-time.Hour).UTC().Format(time.RFC3339), "")
		expect(t, from, "", "live-1", "missed-1", "missed-2", "missed-3", "after-resume")
	})

	t.Run("a slow WebSocket subscriber is dropped while a fast one keeps receiving", func(t *testing.T) {
		s.quiet(t)
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		fast := s.ws(t, ctx, nil)
		// The slow one reads nothing, through a small receive buffer.
		slow := s.ws(t, ctx, func(_ context.Context, network, addr string) (net.Conn, error) {
			c, err := net.Dial(network, addr)
			if err == nil {
				err = c.(*net.TCPConn).SetReadBuffer(4096)
			}
			return c, err
		})
		defer fast.CloseNow()
		defer slow.CloseNow()
		const n = 400
		received := make(chan []uint64, 1)
		go func() {
			var seqs []uint64
			for len(seqs) < n {
				_, data, err := fast.Read(ctx)
				if err != nil {
					t.Errorf("the fast subscriber: %v", err)
					break
				}
				var m struct {
					Type string `json:"type"`
					Seq  uint64 `json:"seq"`
				}
				if json.Unmarshal(data, &m) == nil && m.Type == "result" {
					seqs = append(seqs, m.Seq)
				}
			}
			received <- seqs
		}()
		first := s.results(t, n)
		var seqs []uint64
		select {
		case seqs = <-received:
		case <-time.After(30 * time.Second):
			t.Fatal("the fast subscriber did not get every event within 30 s")
		}
		for i, seq := range seqs {
			if seq != first+uint64(i) {
				t.Fatalf("the fast subscriber's event %d is %d, want %d (in order, none missed)", i, seq, first+uint64(i))
			}
		}
		if len(seqs) != n {
			t.Fatalf("the fast subscriber got %d events, want %d", len(seqs), n)
		}
		// The slow one, reading at last, finds its stream closed, and why.
		rctx, rcancel := context.WithTimeout(ctx, 10*time.Second)
		defer rcancel()
		var err error
		for err == nil {
			_, _, err = slow.Read(rctx)
		}
		if websocket.CloseStatus(err) != websocket.StatusPolicyViolation || !strings.Contains(err.Error(), "slow_consumer") {
			t.Fatalf("the slow subscriber's stream ended with %v, want a policy violation: slow_consumer", err)
		}
		_, metrics := testkit.Get(t, s.gateway+"/metrics")
		if !strings.Contains(metrics, `ihr_stream_closed_total{reason="slow_consumer",transport="ws"} 1`) {
			t.Errorf("no slow consumer counted:\n%s", grep(metrics, "ihr_stream_"))
		}
	})

	t.Run("the example subscriber prints a network's new dependencies, and resumes", func(t *testing.T) {
		s.quiet(t)
		bin := filepath.Join(t.TempDir(), "subscriber")
		if out, err := exec.Command("go", "build", "-o", bin, "github.com/ihr-go/ihr/examples/subscriber").CombinedOutput(); err != nil {
			t.Fatalf("build the example: %v\n%s", err, out)
		}
		state := filepath.Join(t.TempDir(), "last-event")
		run := func(timebin time.Time, runID string) string {
			t.Helper()
			cmd := exec.Command(bin, "-gateway", s.gateway, "-asn", "2497", "-state", state, "-n", "1")
			cmd.Env = append(os.Environ(), "IHR_TOKEN="+s.token)
			var out strings.Builder
			cmd.Stdout, cmd.Stderr = &out, &out
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			done := make(chan error, 1)
			go func() { done <- cmd.Wait() }()
			// The first run has no state to resume from: it must be subscribed first.
			testkit.Eventually(t, "the example subscribed", func() bool {
				_, metrics := testkit.Get(t, s.gateway+"/metrics")
				return strings.Contains(metrics, `ihr_stream_subscribers{transport="sse"} 1`)
			})
			s.bin(t, 2497, timebin, runID)
			select {
			case err := <-done:
				if err != nil {
					t.Fatalf("the example: %v\n%s", err, out.String())
				}
			case <-time.After(15 * time.Second):
				_ = cmd.Process.Kill()
				t.Fatalf("the example printed no change within 15 s:\n%s", out.String())
			}
			return out.String()
		}
		want := "2026-12-05T06:00:00Z IPv4 AS2497 depends on 1 networks\n  AS2497       IIJ"
		if out := run(t0.Add(6*time.Hour), "example-1"); !strings.HasPrefix(out, want) {
			t.Fatalf("the example printed %q, want it to start with %q", out, want)
		}
		// Stopped, it misses the next bin; started again, it prints it first.
		s.bin(t, 2497, t0.Add(7*time.Hour), "example-2")
		if out := run(t0.Add(8*time.Hour), "example-3"); !strings.HasPrefix(out, "2026-12-05T07:00:00Z IPv4 AS2497") {
			t.Fatalf("resumed, the example printed %q first, want the bin of 07:00 it missed", out)
		}
	})

	t.Run("streams per client are capped", func(t *testing.T) {
		s.quiet(t)
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		for range 3 {
			if _, resp := s.sse(t, ctx, "", ""); resp.StatusCode != http.StatusOK {
				t.Fatalf("stream within the cap: %d", resp.StatusCode)
			}
		}
		if _, resp := s.sse(t, ctx, "", ""); resp.StatusCode != http.StatusTooManyRequests {
			t.Fatalf("a fourth stream: %d, want 429", resp.StatusCode)
		}
	})
}

// quiet waits until the gateway has seen every stream of the subtests
// before end: they count against the cap per client.
func (s *stack) quiet(t *testing.T) {
	t.Helper()
	testkit.Eventually(t, "the streams before closed", func() bool {
		_, metrics := testkit.Get(t, s.gateway+"/metrics")
		for line := range strings.SplitSeq(grep(metrics, "ihr_stream_subscribers{"), "\n") {
			if line != "" && !strings.HasSuffix(line, "} 0") {
				return false
			}
		}
		return true
	})
}

// ws opens a WebSocket subscription to every event, dialling with dial
// when set; the caller closes it.
func (s *stack) ws(t *testing.T, ctx context.Context, dial func(ctx context.Context, network, addr string) (net.Conn, error)) *websocket.Conn {
	t.Helper()
	client := http.DefaultClient
	if dial != nil {
		client = &http.Client{Transport: &http.Transport{DialContext: dial}}
	}
	c, _, err := websocket.Dial(ctx, strings.Replace(s.gateway, "http", "ws", 1)+"/ihr/api/ws",
		&websocket.DialOptions{HTTPClient: client, HTTPHeader: http.Header{"Authorization": {"Bearer " + s.token}}})
	if err != nil {
		t.Fatal(err)
	}
	c.SetReadLimit(1 << 20)
	return c
}

// results publishes n large results events straight on the results
// stream, as ingestion would, 500 a second, and returns the first one's
// sequence.
func (s *stack) results(t *testing.T, n int) uint64 {
	t.Helper()
	keys := make([]int64, events.MaxResultKeys)
	for i := range keys {
		keys[i] = int64(100000 + i)
	}
	var first uint64
	for i := range n {
		r := events.Result{Schema: events.SchemaResults, Bin: events.Hegemony.NewBin(4, time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(i)*15*time.Minute), "flood"),
			Keys: map[string][]int64{"asn": keys, "originasn": {2497}}, RowCount: len(keys), CommittedAt: time.Now().UTC()}
		data, _ := json.Marshal(r)
		msg := &nats.Msg{Subject: s.bus.Subject(events.ResultsSubject(events.Hegemony.Name)), Data: data, Header: nats.Header{}}
		msg.Header.Set(nats.MsgIdHdr, fmt.Sprintf("flood:%d:%d", time.Now().UnixNano(), i))
		ack, err := s.bus.JS.PublishMsg(context.Background(), msg)
		if err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			first = ack.Sequence
		}
		time.Sleep(2 * time.Millisecond)
	}
	return first
}

func grep(text, prefix string) string {
	var out []string
	for line := range strings.SplitSeq(text, "\n") {
		if strings.HasPrefix(line, prefix) {
			out = append(out, line)
		}
	}
	return strings.Join(out, "\n")
}
