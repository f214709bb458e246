package telemetry

import (
	"sync"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
)

// AttrSets makes the attribute option of each label value once: on a hot
// path (every request), building it per measurement cost more than the
// measurement. Label values must come from a small set (routes, tiers).
type AttrSets[K comparable] struct {
	// Make returns the attributes of k.
	Make func(k K) []attribute.KeyValue
	m    sync.Map
}

// Of returns the option that records with k's attributes.
func (a *AttrSets[K]) Of(k K) metric.MeasurementOption {
	if opt, ok := a.m.Load(k); ok {
		return opt.(metric.MeasurementOption)
	}
	opt, _ := a.m.LoadOrStore(k, metric.WithAttributeSet(attribute.NewSet(a.Make(k)...)))
	return opt.(metric.MeasurementOption)
}
