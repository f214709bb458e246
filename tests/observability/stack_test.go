// Package observability holds the alert rules (deployments/prometheus) and
// the Grafana dashboard (deployments/grafana) to the metrics the real
// services expose: it starts all five binaries, makes them do what every
// metric counts (reads through each cache tier, an ingested bin, a mail, a
// rate-limited client, a Redis outage), scrapes their /metrics and checks
// that each metric an expression names is there, with the labels and label
// values it selects on.
package observability

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ihr-go/ihr/pkg/config"
	"github.com/ihr-go/ihr/pkg/events"
	"github.com/ihr-go/ihr/pkg/natsx"
	"github.com/ihr-go/ihr/pkg/publish"
	"github.com/ihr-go/ihr/pkg/testkit"
	"go.opentelemetry.io/otel/propagation"
)

// exposition is what the services of each job (the Prometheus job: the
// service's name) exposed: per metric name (as in samples: counters with
// _total, histograms as _bucket, _sum and _count), per label, the values seen.
type exposition map[string]map[string]map[string]map[string]bool // job → name → label → value

// add parses a /metrics body into e under job.
func (e exposition) add(job, body string) error {
	if e[job] == nil {
		e[job] = map[string]map[string]map[string]bool{}
	}
	for line := range strings.Lines(body) {
		line = strings.TrimSpace(line)
		if line == "" || line[0] == '#' {
			continue
		}
		end := identEnd(line, 0)
		name := line[:end]
		if name == "" {
			return fmt.Errorf("no metric name in %q", line)
		}
		labels := e[job][name]
		if labels == nil {
			labels = map[string]map[string]bool{}
			e[job][name] = labels
		}
		if end < len(line) && line[end] == '{' {
			ms, _, err := matchers(line, end)
			if err != nil {
				return fmt.Errorf("%q: %w", line, err)
			}
			for _, m := range ms {
				if labels[m.label] == nil {
					labels[m.label] = map[string]bool{}
				}
				labels[m.label][m.value] = true
			}
		}
	}
	return nil
}

// stack is the five services on a scratch database and the machine's Redis
// and NATS, each job's base URLs by name.
type stack struct {
	jobs  map[string][]string
	env   map[string]string
	redis *testkit.Proxy // in front of Redis for one query service and the gateway
	bus   *natsx.Bus
}

func startStack(t *testing.T) *stack {
	t.Helper()
	env := testkit.ServiceEnv(t, testkit.NewDB(t))
	u, err := url.Parse(env["IHR_REDIS_URL"])
	if err != nil {
		t.Fatal(err)
	}
	s := &stack{env: env, redis: testkit.NewProxy(t, u.Host)}
	u.Host = s.redis.Addr()
	cut := map[string]string{"IHR_REDIS_URL": u.String()}

	smtp := testkit.SMTP(t)
	auth := testkit.StartBinary(t, "auth", testkit.With(env, map[string]string{"IHR_SMTP_URL": smtp.URL(), "IHR_AUTH_LINK_BASE": "https://ihr.example/account"}))
	env["IHR_AUTH_URL"] = auth
	// Two query services share Redis: what one read, the other finds there (L2).
	query := testkit.StartBinary(t, "query", testkit.With(env, cut))
	other := testkit.StartBinary(t, "query", env)
	ingestion := testkit.StartBinary(t, "ingestion", env)
	gw := testkit.With(env, map[string]string{"IHR_QUERY_URL": query, "IHR_INGESTION_URL": ingestion})
	gateway := testkit.StartBinary(t, "gateway", testkit.With(gw, cut))
	// A gateway that lets an anonymous client two requests, then refuses.
	strict := testkit.StartBinary(t, "gateway", testkit.With(gw, map[string]string{
		"IHR_RATE_ANONYMOUS_SECOND": "0.1", "IHR_RATE_ANONYMOUS_BURST": "2"}))
	warmer := testkit.StartBinary(t, "cachewarmer", testkit.With(env, map[string]string{"IHR_QUERY_URL": query}))
	s.jobs = map[string][]string{"auth": {auth}, "query": {query, other}, "ingestion": {ingestion},
		"gateway": {gateway, strict}, "cachewarmer": {warmer}}

	s.bus, err = natsx.Connect(context.Background(), config.NATS{URL: env["IHR_NATS_URL"], Prefix: env["IHR_NATS_PREFIX"]}, false,
		"observability-test", slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.bus.Close)
	return s
}

// exercise makes the services do what their metrics count.
func (s *stack) exercise(t *testing.T) {
	t.Helper()
	gateway, strict, query, other := s.jobs["gateway"][0], s.jobs["gateway"][1], s.jobs["query"][0], s.jobs["query"][1]

	// A bin ingested from NATS, as a pipeline does.
	pub := &publish.Publisher{Bus: s.bus, Propagator: propagation.TraceContext{}, Producer: events.Producer{Name: "observability-test"}, BatchRows: 2}
	timebin := time.Date(2026, 12, 2, 6, 45, 0, 0, time.UTC)
	rows := []events.HegemonyRow{{OriginASN: 2497, ASN: 2497, Hege: 1}, {OriginASN: 2497, ASN: 3356, Hege: 0.25}}
	if _, err := pub.Bin(context.Background(), events.Hegemony.NewBin(4, timebin, "observability-1"), rows); err != nil {
		t.Fatal(err)
	}
	read := "/ihr/api/hegemony/?originasn=2497&timebin__gte=2026-12-02T06:45:00Z&timebin__lte=2026-12-02T06:45:00Z"
	testkit.Eventually(t, "the bin through the gateway", func() bool {
		code, body := testkit.Get(t, gateway+read)
		return code == http.StatusOK && strings.HasPrefix(body, `{"count":2,`)
	})
	// The edge cache, then the query service's memory (L1).
	for _, base := range []string{gateway, gateway, query} {
		if code, body := testkit.Get(t, base+read); code != http.StatusOK {
			t.Fatalf("%s%s: %d %s", base, read, code, body)
		}
	}
	// Redis (L2): what one query service read, once it is there, the
	// other finds. (Not a read of the new bin: until the other has the
	// bin's results event, it takes such an answer for stale.)
	shared := "/ihr/api/networks/?number=15169"
	before := s.answersInRedis(t)
	if code, body := testkit.Get(t, query+shared); code != http.StatusOK {
		t.Fatalf("%s%s: %d %s", query, shared, code, body)
	}
	testkit.Eventually(t, "the answer in Redis", func() bool { return s.answersInRedis(t) > before })
	if code, body := testkit.Get(t, other+shared); code != http.StatusOK {
		t.Fatalf("%s%s: %d %s", other, shared, code, body)
	}
	if code, _ := testkit.Get(t, gateway+"/ihr/api/no-such-endpoint/"); code != http.StatusNotFound {
		t.Errorf("an unknown endpoint answers %d", code)
	}

	// A mail: the confirmation of an account.
	if r := testkit.Request(t, "POST", gateway+"/ihr/api/users/register", "", map[string]string{"email": "obs@example.org", "password": "a long enough password"}); r.Status != http.StatusAccepted {
		t.Fatalf("register: %d %s", r.Status, r.Raw)
	}

	// A client over its limit.
	refused := false
	for range 10 {
		if code, _ := testkit.Get(t, strict+"/ihr/api/networks/?number=2497"); code == http.StatusTooManyRequests {
			refused = true
			break
		}
	}
	if !refused {
		t.Error("the strict gateway never refused")
	}

	// Redis gone: the query service's shared tier fails, the gateway's
	// daily counts are not taken.
	s.redis.Cut()
	testkit.Get(t, query+"/ihr/api/networks/?number=2497")
	testkit.Get(t, gateway+"/ihr/api/networks/?number=3356")
	testkit.Get(t, s.jobs["cachewarmer"][0]+"/debug/warm")
	testkit.Get(t, s.jobs["ingestion"][0]+"/ihr/api/ingest/")
	testkit.Get(t, s.jobs["auth"][0]+"/ihr/api/users/me")
}

// answersInRedis counts the answers kept in Redis.
func (s *stack) answersInRedis(t *testing.T) int {
	t.Helper()
	out, err := exec.Command("redis-cli", "-u", s.env["IHR_REDIS_URL"], "--scan", "--pattern", s.env["IHR_CACHE_PREFIX"]+"a:*").Output()
	if err != nil {
		t.Fatalf("redis-cli: %v", err)
	}
	return len(strings.Fields(string(out)))
}

// scrape reads every service's /metrics.
func (s *stack) scrape(t *testing.T) exposition {
	t.Helper()
	e := exposition{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for job, bases := range s.jobs {
		for _, base := range bases {
			wg.Go(func() {
				code, body := testkit.Get(t, base+"/metrics")
				mu.Lock()
				defer mu.Unlock()
				if code != http.StatusOK {
					t.Errorf("%s/metrics: %d", base, code)
					return
				}
				if err := e.add(job, body); err != nil {
					t.Errorf("%s/metrics: %v", base, err)
				}
			})
		}
	}
	wg.Wait()
	return e
}
