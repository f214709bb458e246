// Package legacy lets the gateway move clients from the legacy IHR API to
// ours without downtime: endpoints we do not serve go to the legacy API
// unchanged, and each endpoint we serve is routed by a configuration that
// reloads without a restart: ours, legacy, or one of them answering while
// the other is asked the same GET in the background and both answers are
// compared (pkg/parity), counted and sampled in the logs.
package legacy

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"os"
	"os/signal"
	"slices"
	"strings"
	"sync/atomic"
	"syscall"
	"time"
)

// Mode says which API answers an endpoint's clients.
type Mode string

// The routing modes.
const (
	// Ours: our services answer.
	Ours Mode = "ours"
	// Legacy: the legacy API answers (the request is proxied unchanged).
	Legacy Mode = "legacy"
	// Shadow: ours answers; a GET is also sent to the legacy API in the
	// background and the answers compared.
	Shadow Mode = "shadow"
	// LegacyPrimary: the legacy API answers; ours is asked in the
	// background and the answers compared.
	LegacyPrimary Mode = "legacy-primary"
)

var modes = []Mode{Ours, Legacy, Shadow, LegacyPrimary}

func (m Mode) valid() bool { return slices.Contains(modes, m) }

// own are the paths under /ihr/api/ that document our API rather than
// serve data: always ours, whatever the routing says (the gateway's
// Content-Security-Policy of the docs page is made for our page).
func own(name string) bool {
	return name == "openapi.json" || name == "swagger.json" || name == "docs" || strings.HasPrefix(name, "docs/")
}

// Routing is a routing configuration, as the routing file holds it:
//
//	{"default": "shadow", "shadow_fraction": 0.1,
//	 "endpoints": {"hegemony/cones": "legacy-primary", "link/delay": "legacy"}}
//
// Endpoints are named as in paths, without /ihr/api/ and slashes.
type Routing struct {
	// Default is the mode of the endpoints we serve that Endpoints does not name.
	Default Mode `json:"default"`
	// ShadowFraction is the part of the GETs of shadow and legacy-primary
	// endpoints that are compared (0 to 1); IHR_SHADOW_FRACTION when unset.
	ShadowFraction *float64 `json:"shadow_fraction"`
	// Endpoints are the modes of single endpoints. An endpoint we do not
	// serve goes to the legacy API whatever it says here.
	Endpoints map[string]Mode `json:"endpoints"`
}

// Fraction is the shadow fraction in force.
func (r *Routing) Fraction() float64 { return *r.ShadowFraction }

// DefaultRouting is the routing without a file: every endpoint we serve is ours.
func DefaultRouting(fraction float64) *Routing {
	return &Routing{Default: Ours, ShadowFraction: &fraction, Endpoints: map[string]Mode{}}
}

// ParseRouting reads a routing file's content (JSON); fraction is the
// shadow fraction when the file sets none. Every problem is reported, each
// naming what it is about.
func ParseRouting(data []byte, fraction float64) (*Routing, error) {
	d := json.NewDecoder(bytes.NewReader(data))
	d.DisallowUnknownFields()
	var r Routing
	if err := d.Decode(&r); err != nil {
		return nil, fmt.Errorf("not a routing object (default, shadow_fraction, endpoints): %w", err)
	}
	if _, err := d.Token(); err != io.EOF {
		return nil, errors.New("more than one JSON value")
	}
	var errs []error
	if r.Default == "" {
		r.Default = Ours
	}
	if !r.Default.valid() {
		errs = append(errs, fmt.Errorf("default: %q is not one of %s", r.Default, modeList()))
	}
	if r.ShadowFraction == nil {
		r.ShadowFraction = &fraction
	} else if f := *r.ShadowFraction; !(f >= 0 && f <= 1) {
		errs = append(errs, fmt.Errorf("shadow_fraction: %v is not between 0 and 1", f))
	}
	endpoints := make(map[string]Mode, len(r.Endpoints))
	for _, key := range slices.Sorted(maps.Keys(r.Endpoints)) {
		m := r.Endpoints[key]
		name := strings.Trim(strings.TrimPrefix(key, "/ihr/api/"), "/")
		switch {
		case name == "" || strings.ContainsAny(name, "?# \t"):
			errs = append(errs, fmt.Errorf("endpoints: %q does not name an endpoint (such as hegemony/alarms)", key))
		case own(name):
			errs = append(errs, fmt.Errorf("endpoints: %q is the API's documentation, always ours", key))
		case !m.valid():
			errs = append(errs, fmt.Errorf("endpoints: %q: %q is not one of %s", key, m, modeList()))
		case endpoints[name] != "" && endpoints[name] != m:
			errs = append(errs, fmt.Errorf("endpoints: %q is named twice with different modes", name))
		default:
			endpoints[name] = m
		}
	}
	r.Endpoints = endpoints
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return &r, nil
}

func modeList() string {
	s := make([]string, len(modes))
	for i, m := range modes {
		s[i] = string(m)
	}
	return strings.Join(s, ", ")
}

// Watcher holds the routing in force: the routing file's, read again when
// it changes (its modification time, size or inode, polled) or on SIGHUP.
// A file that does not parse is refused with a log line, and the routing
// before it stays.
type Watcher struct {
	path     string
	fraction float64
	log      *slog.Logger
	// OnReload, when set, is told of each reload: applied or refused.
	OnReload func(applied bool)

	cur  atomic.Pointer[Routing]
	seen os.FileInfo
}

// NewWatcher reads the routing file at path (none when empty: the default
// routing); fraction is IHR_SHADOW_FRACTION. An unreadable or invalid file
// is an error: a gateway must not start on a routing nobody meant.
func NewWatcher(path string, fraction float64, log *slog.Logger) (*Watcher, error) {
	w := &Watcher{path: path, fraction: fraction, log: log}
	if path == "" {
		w.cur.Store(DefaultRouting(fraction))
		return w, nil
	}
	r, info, err := w.read()
	if err != nil {
		return nil, err
	}
	w.cur.Store(r)
	w.seen = info
	return w, nil
}

// Routing is the routing in force.
func (w *Watcher) Routing() *Routing { return w.cur.Load() }

func (w *Watcher) read() (*Routing, os.FileInfo, error) {
	info, err := os.Stat(w.path)
	if err != nil {
		return nil, nil, fmt.Errorf("routing file: %w", err)
	}
	r, err := w.parse()
	return r, info, err
}

func (w *Watcher) parse() (*Routing, error) {
	data, err := os.ReadFile(w.path)
	if err != nil {
		return nil, fmt.Errorf("routing file: %w", err)
	}
	r, err := ParseRouting(data, w.fraction)
	if err != nil {
		return nil, fmt.Errorf("routing file %s: %w", w.path, err)
	}
	return r, nil
}

// Run follows the routing file until ctx is done: polled every poll, and
// read at once on SIGHUP.
func (w *Watcher) Run(ctx context.Context, poll time.Duration) {
	if w.path == "" {
		return
	}
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	tick := time.NewTicker(poll)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-hup:
			w.check(true, "SIGHUP")
		case <-tick.C:
			w.check(false, "file changed")
		}
	}
}

// check reads the file again when forced or when it was written, replaced
// or removed since last seen. Each version that is refused (a missing file
// too) is said once, not at every poll.
func (w *Watcher) check(force bool, why string) {
	info, err := os.Stat(w.path)
	if err != nil {
		if force || w.seen != nil {
			w.refuse(why, fmt.Errorf("routing file: %w", err))
		}
		w.seen = nil
		return
	}
	if !force && w.seen != nil && os.SameFile(w.seen, info) && w.seen.ModTime().Equal(info.ModTime()) && w.seen.Size() == info.Size() {
		return
	}
	w.seen = info
	r, err := w.parse()
	if err != nil {
		w.refuse(why, err)
		return
	}
	w.cur.Store(r)
	w.log.Info("routing file applied", "why", why, "default", r.Default, "shadow_fraction", r.Fraction(), "endpoints", r.Endpoints)
	if w.OnReload != nil {
		w.OnReload(true)
	}
}

func (w *Watcher) refuse(why string, err error) {
	w.log.Error("routing file refused: the routing before it stays", "why", why, "err", err)
	if w.OnReload != nil {
		w.OnReload(false)
	}
}
