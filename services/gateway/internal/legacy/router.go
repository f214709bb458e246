package legacy

import (
	"math/rand/v2"
	"net/http"
	"time"

	"github.com/ihr-go/ihr/pkg/parity"
)

// Labels of requests whose endpoint is not named in metrics (any path
// could be, and each would make a series).
const (
	unserved = "unserved" // an endpoint we do not serve
	other    = "other"    // before the list of endpoints we serve is known
)

// Router sends each request under /ihr/api/ to ours or to the legacy API
// (or to both) by the routing in force.
type Router struct {
	Ours, Legacy http.Handler
	// Routing returns the routing in force (Watcher.Routing).
	Routing func() *Routing
	Served  *Served
	Compare *Comparer
	Metrics *Metrics
}

func (x *Router) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	name := parity.Endpoint(r.URL.Path)
	if own(name) {
		x.Ours.ServeHTTP(w, r)
		return
	}
	cfg := x.Routing()
	mode, label := x.mode(cfg, name)
	compared := r.Method == http.MethodGet && (mode == Shadow || mode == LegacyPrimary) && sampled(cfg.Fraction())
	switch {
	case compared:
		x.compare(w, r, label, mode)
	case mode == Ours || mode == Shadow:
		x.Ours.ServeHTTP(w, r)
	default:
		x.Metrics.legacyAnswered(r.Context(), label)
		x.Legacy.ServeHTTP(w, r)
	}
}

// mode is the mode of endpoint name, and its label in metrics.
func (x *Router) mode(cfg *Routing, name string) (Mode, string) {
	if m, ok := cfg.Endpoints[name]; ok {
		return m, name
	}
	switch served, known := x.Served.Lookup(name); {
	case served:
		return cfg.Default, name
	case known:
		return Legacy, unserved
	}
	return cfg.Default, other
}

func sampled(fraction float64) bool {
	return fraction >= 1 || fraction > 0 && rand.Float64() < fraction
}

// compare serves the client from the primary side of mode, keeping a copy
// of the answer, then has the answers compared in the background.
func (x *Router) compare(w http.ResponseWriter, r *http.Request, endpoint string, mode Mode) {
	primary := x.Ours
	if mode == LegacyPrimary {
		primary = x.Legacy
		x.Metrics.legacyAnswered(r.Context(), endpoint)
	}
	if !x.Compare.take(r.Context(), endpoint) {
		primary.ServeHTTP(w, r)
		return
	}
	handed := false
	defer func() {
		if !handed { // the answer was cut short (a panic goes on up): no comparison
			x.Compare.give()
		}
	}()
	t := &tee{ResponseWriter: w, max: x.Compare.cfg.MaxBody}
	start := time.Now()
	primary.ServeHTTP(t, r)
	if mode == LegacyPrimary {
		x.Metrics.legacyTook(r.Context(), endpoint, time.Since(start))
	}
	handed = true
	x.Compare.start(r, endpoint, mode, answer{status: t.status, coding: t.coding, body: t.body, over: t.over})
}
