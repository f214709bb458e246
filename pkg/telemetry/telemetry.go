// Package telemetry sets up what every service reports about itself: JSON
// logs that carry the trace and span ids, OpenTelemetry traces (exported over
// OTLP when OTEL_EXPORTER_OTLP_ENDPOINT is set) and metrics served in the
// Prometheus format at /metrics.
package telemetry

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"

	"github.com/ihr-go/ihr/pkg/config"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	otelprom "go.opentelemetry.io/otel/exporters/prometheus"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/propagation"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"
)

// Telemetry holds a service's logger, tracer and meter providers.
type Telemetry struct {
	Logger     *slog.Logger
	Tracers    trace.TracerProvider
	Meters     metric.MeterProvider
	Propagator propagation.TextMapPropagator
	registry   *prometheus.Registry
	shutdown   []func(context.Context) error
	logs       *logBuffer
}

// Setup builds the telemetry of a service from the common configuration.
// Logs go to w as JSON, gathered into fewer writes (see logBuffer).
func Setup(ctx context.Context, c config.Common, w io.Writer) (*Telemetry, error) {
	buf := &logBuffer{w: w}
	t := &Telemetry{
		Logger:     newLogger(w, c.LogLevel, buf).With("service", c.ServiceName),
		Propagator: propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{}),
		registry:   prometheus.NewRegistry(),
		logs:       buf,
	}
	res, err := resource.Merge(resource.Default(), resource.NewSchemaless(semconv.ServiceName(c.ServiceName)))
	if err != nil {
		return nil, fmt.Errorf("telemetry resource: %w", err)
	}

	// Spans nobody exports are not recorded: recording one per request cost
	// as much as answering a cached one. They still get ids, which logs carry.
	ratio := c.SampleRatio
	if c.OTLPEndpoint == "" {
		ratio = 0
	}
	opts := []sdktrace.TracerProviderOption{
		sdktrace.WithResource(res),
		sdktrace.WithSampler(sdktrace.ParentBased(sdktrace.TraceIDRatioBased(ratio))),
	}
	if c.OTLPEndpoint != "" {
		// The exporter reads OTEL_EXPORTER_OTLP_* itself (endpoint, headers, TLS).
		exp, err := otlptracehttp.New(ctx)
		if err != nil {
			return nil, fmt.Errorf("otlp trace exporter: %w", err)
		}
		opts = append(opts, sdktrace.WithBatcher(exp))
	}
	tp := sdktrace.NewTracerProvider(opts...)
	t.Tracers = tp
	t.shutdown = append(t.shutdown, tp.Shutdown)

	t.registry.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	exporter, err := otelprom.New(otelprom.WithRegisterer(t.registry), otelprom.WithoutScopeInfo())
	if err != nil {
		return nil, fmt.Errorf("prometheus exporter: %w", err)
	}
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithResource(res), sdkmetric.WithReader(exporter))
	t.Meters = mp
	t.shutdown = append(t.shutdown, mp.Shutdown)
	return t, nil
}

// MetricsHandler serves the Prometheus metrics of this process.
func (t *Telemetry) MetricsHandler() http.Handler {
	return promhttp.HandlerFor(t.registry, promhttp.HandlerOpts{Registry: t.registry})
}

// Shutdown flushes pending spans and logs and stops the providers.
func (t *Telemetry) Shutdown(ctx context.Context) error {
	var errs []error
	for _, f := range t.shutdown {
		errs = append(errs, f(ctx))
	}
	t.logs.Flush()
	return errors.Join(errs...)
}
