package legacy

import (
	"context"
	"errors"
	"time"

	"github.com/ihr-go/ihr/pkg/telemetry"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
)

// Outcomes of a comparison (ihr_shadow_requests_total's outcome).
const (
	Equal       = "equal"
	Mismatch    = "mismatch"
	LegacyError = "legacy_error" // the legacy API failed: no answer, or a 5xx
	Timeout     = "timeout"      // the background side did not answer in time
	Dropped     = "dropped"      // every comparison slot was busy: not compared
	Skipped     = "skipped"      // nothing to compare: a body over the limit, a 304, an unknown encoding
)

// Metrics are the migration's instruments.
type Metrics struct {
	shadow, mismatch, legacy, reloads metric.Int64Counter
	legacyTime                        metric.Float64Histogram
	outcomes                          telemetry.AttrSets[[2]string]
	endpoints                         telemetry.AttrSets[string]
	applied                           telemetry.AttrSets[bool]
}

// NewMetrics registers the instruments on m.
func NewMetrics(m metric.Meter) (*Metrics, error) {
	x := &Metrics{}
	var errs [5]error
	x.shadow, errs[0] = m.Int64Counter("ihr_shadow_requests", metric.WithDescription(
		"Requests compared with the other API in the background (shadow and legacy-primary endpoints), by endpoint and outcome: "+
			"equal, mismatch, legacy_error, timeout, dropped (no free slot), skipped (nothing to compare)."))
	x.mismatch, errs[1] = m.Int64Counter("ihr_shadow_mismatch", metric.WithDescription(
		"Comparisons where our answer and the legacy API's differ (status or body), by endpoint."))
	x.legacyTime, errs[2] = m.Float64Histogram("ihr_shadow_legacy_seconds", metric.WithDescription(
		"Time the legacy API took to answer a compared request (in the background for shadow endpoints, to the client for legacy-primary ones)."),
		metric.WithUnit("s"), metric.WithExplicitBucketBoundaries(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30))
	x.legacy, errs[3] = m.Int64Counter("ihr_legacy_requests", metric.WithDescription(
		"Requests the legacy API answered for clients, by endpoint (unserved: endpoints we do not serve)."))
	x.reloads, errs[4] = m.Int64Counter("ihr_routing_reloads", metric.WithDescription(
		"Reloads of the routing file, by outcome: applied, or refused (the routing before it stays)."))
	x.outcomes.Make = func(k [2]string) []attribute.KeyValue {
		return []attribute.KeyValue{attribute.String("endpoint", k[0]), attribute.String("outcome", k[1])}
	}
	x.endpoints.Make = func(e string) []attribute.KeyValue { return []attribute.KeyValue{attribute.String("endpoint", e)} }
	x.applied.Make = func(ok bool) []attribute.KeyValue {
		if ok {
			return []attribute.KeyValue{attribute.String("outcome", "applied")}
		}
		return []attribute.KeyValue{attribute.String("outcome", "refused")}
	}
	return x, errors.Join(errs[:]...)
}

func (x *Metrics) outcome(ctx context.Context, endpoint, outcome string) {
	x.shadow.Add(ctx, 1, x.outcomes.Of([2]string{endpoint, outcome}))
	if outcome == Mismatch {
		x.mismatch.Add(ctx, 1, x.endpoints.Of(endpoint))
	}
}

func (x *Metrics) legacyAnswered(ctx context.Context, endpoint string) {
	x.legacy.Add(ctx, 1, x.endpoints.Of(endpoint))
}

func (x *Metrics) legacyTook(ctx context.Context, endpoint string, d time.Duration) {
	x.legacyTime.Record(ctx, d.Seconds(), x.endpoints.Of(endpoint))
}

// Reloaded counts a reload of the routing file (Watcher.OnReload).
func (x *Metrics) Reloaded(applied bool) {
	x.reloads.Add(context.Background(), 1, x.applied.Of(applied))
}
