package redisx

import (
	"context"
	"testing"

	"github.com/ihr-go/ihr/pkg/testkit"
	metricnoop "go.opentelemetry.io/otel/metric/noop"
	"go.opentelemetry.io/otel/trace/noop"
)

func TestProbe(t *testing.T) {
	for _, tc := range []struct {
		url  string
		isUp bool
	}{
		{testkit.RedisURL(t), true},
		{"redis://" + testkit.FreeAddr(t) + "/0", false},
	} {
		c, err := Open(tc.url, noop.NewTracerProvider(), metricnoop.NewMeterProvider())
		if err != nil {
			t.Fatal(err)
		}
		err = Probe(c)(context.Background())
		c.Close()
		if (err == nil) != tc.isUp {
			t.Errorf("%s: probe error %v, want up=%v", tc.url, err, tc.isUp)
		}
	}
	if _, err := Open("http://nope", noop.NewTracerProvider(), metricnoop.NewMeterProvider()); err == nil {
		t.Error("non-redis URL accepted")
	}
}
