// Package cache tests the caches of the read path on the real binaries:
// the query service's (memory and Redis) and the gateway's, fed by the
// results events ingestion publishes, against a query service that caches
// nothing, on the machine's PostgreSQL, Redis and NATS.
package cache

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"regexp"
	"strconv"
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

// stack is ingestion, a caching query service, one that caches nothing
// (the reference), and a gateway in front of the caching one.
type stack struct {
	t       *testing.T
	env     map[string]string
	db      string
	query   string
	plain   string
	gateway string
	bus     *natsx.Bus
	pub     *publish.Publisher
	results chan announced
	open    map[string]bool // disco events opened and not dropped, by key
	dropped map[string]bool
}

// announced is a results event and its stream sequence.
type announced struct {
	seq uint64
	res *events.Result
}

func newStack(t *testing.T, env map[string]string) *stack {
	t.Helper()
	s := &stack{t: t, env: env, db: env["IHR_DATABASE_URL"], results: make(chan announced, 1024),
		open: map[string]bool{}, dropped: map[string]bool{}}
	s.query = testkit.StartBinary(t, "query", env)
	s.plain = testkit.StartBinary(t, "query", testkit.With(env, map[string]string{"IHR_CACHE": "false"}))
	testkit.StartBinary(t, "ingestion", env)
	s.gateway = testkit.StartBinary(t, "gateway", testkit.With(env, map[string]string{"IHR_QUERY_URL": s.query,
		"IHR_AUTH_URL": "http://" + testkit.FreeAddr(t), "IHR_INGESTION_URL": "http://" + testkit.FreeAddr(t)}))
	bus, err := natsx.Connect(context.Background(), config.NATS{URL: env["IHR_NATS_URL"], Prefix: env["IHR_NATS_PREFIX"]},
		false, "cache-test", slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(bus.Close)
	s.bus = bus
	s.pub = &publish.Publisher{Bus: bus, Propagator: propagation.TraceContext{}, Producer: events.Producer{Name: "cache-test"}}
	cons, err := bus.JS.OrderedConsumer(context.Background(), bus.StreamName(natsx.StreamResults), jetstream.OrderedConsumerConfig{
		FilterSubjects: []string{bus.Subject("ihr.results.>")}})
	if err != nil {
		t.Fatal(err)
	}
	cc, err := cons.Consume(func(m jetstream.Msg) {
		meta, _ := m.Metadata()
		res, err := events.DecodeResult(m.Data())
		if err != nil {
			t.Errorf("results event: %v", err)
			return
		}
		s.results <- announced{meta.Sequence.Stream, res}
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cc.Stop)
	testkit.Eventually(t, "the caches follow the results stream", func() bool { return s.queryState().Ready })
	return s
}

// await returns the next results event that is, failing after 20 s.
func (s *stack) await(what string, is func(*events.Result) bool) announced {
	s.t.Helper()
	timeout := time.After(20 * time.Second)
	for {
		select {
		case a := <-s.results:
			if is(a.res) {
				return a
			}
		case <-timeout:
			s.t.Fatalf("no results event for %s", what)
		}
	}
}

// bin publishes a bin and waits for its results event.
func (s *stack) bin(d *events.Dataset, af int, timebin time.Time, run string, rows any) announced {
	s.t.Helper()
	if _, err := s.pub.Bin(context.Background(), d.NewBin(af, timebin, run), rows); err != nil {
		s.t.Fatal(err)
	}
	return s.await("run "+run, func(r *events.Result) bool { return r.RunID == run })
}

type queryState struct {
	Ready    bool   `json:"ready"`
	Healthy  bool   `json:"healthy"`
	Position uint64 `json:"position"`
}

func (s *stack) queryState() queryState {
	_, body := testkit.Get(s.t, s.query+"/debug/cache")
	var st queryState
	_ = json.Unmarshal([]byte(body), &st)
	return st
}

var edgePosition = regexp.MustCompile(`(?m)^ihr_edge_stream_position(?:\{[^}]*\})? (\d+)`)

func (s *stack) gatewayPosition() uint64 {
	_, body := testkit.Get(s.t, s.gateway+"/metrics")
	m := edgePosition.FindStringSubmatch(body)
	if m == nil {
		return 0
	}
	n, _ := strconv.ParseUint(m[1], 10, 64)
	return n
}

// caughtUp waits until both caches applied the change at seq.
func (s *stack) caughtUp(seq uint64) {
	s.t.Helper()
	testkit.Eventually(s.t, "both caches apply the change", func() bool {
		return s.queryState().Position >= seq && s.gatewayPosition() >= seq
	})
}

// answer is one response.
type answer struct {
	status int
	body   string
	from   string // X-Cache
	etag   string
}

func get(t *testing.T, url string, header ...string) answer {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Accept-Encoding", "identity") // tags as the server made them
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return answer{resp.StatusCode, string(b), resp.Header.Get("X-Cache"), resp.Header.Get("ETag")}
}
