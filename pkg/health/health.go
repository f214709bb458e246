// Package health serves /healthz (the process is alive) and /readyz (its
// dependencies answer). A critical dependency that fails makes the service
// not ready (503); a non-critical one (such as Redis, which only speeds
// things up) leaves it ready but "degraded", reported in the body and in the
// ihr_dependency_up metric.
package health

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"sync"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
)

// Check is one dependency probe.
type Check struct {
	Name     string
	Critical bool
	Probe    func(context.Context) error
}

// Status of a dependency or of the whole service.
const (
	StatusOK       = "ok"
	StatusDown     = "down"
	StatusReady    = "ready"
	StatusDegraded = "degraded"
	StatusNotReady = "not_ready"
)

// Result is the outcome of one check.
type Result struct {
	Status   string `json:"status"`
	Critical bool   `json:"critical"`
	Error    string `json:"error,omitempty"`
}

// Report is the body of /readyz.
type Report struct {
	Status string            `json:"status"`
	Checks map[string]Result `json:"checks"`
}

// Checker runs the checks of a service.
type Checker struct {
	mu      sync.Mutex
	checks  []Check
	timeout time.Duration
}

// New returns a Checker whose probes each get timeout.
func New(timeout time.Duration) *Checker { return &Checker{timeout: timeout} }

// Add registers a check.
func (c *Checker) Add(name string, critical bool, probe func(context.Context) error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.checks = append(c.checks, Check{Name: name, Critical: critical, Probe: probe})
}

// Run probes every dependency concurrently.
func (c *Checker) Run(ctx context.Context) Report {
	c.mu.Lock()
	checks := append([]Check(nil), c.checks...)
	c.mu.Unlock()

	results := make([]Result, len(checks))
	var wg sync.WaitGroup
	for i, ch := range checks {
		wg.Go(func() {
			ctx, cancel := context.WithTimeout(ctx, c.timeout)
			defer cancel()
			results[i] = Result{Status: StatusOK, Critical: ch.Critical}
			if err := ch.Probe(ctx); err != nil {
				results[i].Status, results[i].Error = StatusDown, err.Error()
			}
		})
	}
	wg.Wait()

	rep := Report{Status: StatusReady, Checks: make(map[string]Result, len(checks))}
	for i, ch := range checks {
		r := results[i]
		rep.Checks[ch.Name] = r
		switch {
		case r.Status == StatusOK:
		case ch.Critical:
			rep.Status = StatusNotReady
		case rep.Status == StatusReady:
			rep.Status = StatusDegraded
		}
	}
	return rep
}

// Live answers /healthz: the process serves HTTP.
func Live(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{"status": StatusOK})
}

// Ready answers /readyz: 200 when every critical dependency answers, else 503.
func (c *Checker) Ready(w http.ResponseWriter, r *http.Request) {
	rep := c.Run(r.Context())
	status := http.StatusOK
	if rep.Status == StatusNotReady {
		status = http.StatusServiceUnavailable
	}
	writeJSON(w, status, rep)
}

// RegisterMetric exports ihr_dependency_up{dependency,critical} (1 up, 0
// down), probed at each scrape; critical is "true" when the service is not
// ready without the dependency.
func (c *Checker) RegisterMetric(m metric.Meter) error {
	_, err := m.Int64ObservableGauge("ihr_dependency_up",
		metric.WithDescription("Whether a dependency answered its health probe (1) or not (0); critical: the service is not ready without it."),
		metric.WithInt64Callback(func(ctx context.Context, o metric.Int64Observer) error {
			for name, r := range c.Run(ctx).Checks {
				up := int64(0)
				if r.Status == StatusOK {
					up = 1
				}
				o.Observe(up, metric.WithAttributes(attribute.String("dependency", name), attribute.Bool("critical", r.Critical)))
			}
			return nil
		}))
	return err
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// HTTPProbe checks that url answers 2xx: an upstream service's /healthz.
func HTTPProbe(c *http.Client, url string) func(context.Context) error {
	return func(ctx context.Context) error {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return err
		}
		resp, err := c.Do(req)
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode/100 != 2 {
			return fmt.Errorf("%s answered %d", url, resp.StatusCode)
		}
		return nil
	}
}
