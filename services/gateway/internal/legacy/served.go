package legacy

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	"github.com/ihr-go/ihr/pkg/parity"
)

// Served knows which endpoints our API serves: the paths of the OpenAPI
// document the query service builds from its endpoint declarations, so
// the gateway keeps no list of its own that could drift. It is read at
// start and again every so often (a deploy of the query service may add
// endpoints).
type Served struct {
	// DocURL is the query service's OpenAPI document.
	DocURL string
	Client *http.Client
	Log    *slog.Logger

	names atomic.Pointer[map[string]bool]
}

// maxDoc bounds the document read (ours is some 100 kB).
const maxDoc = 16 << 20

// Lookup reports whether we serve the endpoint name, and whether the list
// is known at all (not before the query service first answered).
func (s *Served) Lookup(name string) (served, known bool) {
	m := s.names.Load()
	if m == nil {
		return false, false
	}
	return (*m)[name], true
}

// Refresh reads the document again.
func (s *Served) Refresh(ctx context.Context) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.DocURL, nil)
	if err != nil {
		return err
	}
	res, err := s.Client.Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return fmt.Errorf("%s answers %d", s.DocURL, res.StatusCode)
	}
	doc, err := io.ReadAll(io.LimitReader(res.Body, maxDoc))
	if err != nil {
		return err
	}
	names, err := Endpoints(doc)
	if err != nil {
		return fmt.Errorf("%s: %w", s.DocURL, err)
	}
	s.names.Store(&names)
	return nil
}

// Run refreshes the list every `every` until ctx is done; until it is
// first known, it tries every second.
func (s *Served) Run(ctx context.Context, every time.Duration) {
	wait := time.Second
	if s.names.Load() != nil {
		wait = every
	}
	t := time.NewTimer(wait)
	defer t.Stop()
	failing := false
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		rctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		err := s.Refresh(rctx)
		cancel()
		switch {
		case err == nil:
			failing, wait = false, every
		case ctx.Err() != nil:
			return
		case !failing: // once per outage
			failing = true
			s.Log.Warn("the list of endpoints we serve could not be read; the one before stays", "err", err)
		}
		t.Reset(wait)
	}
}

// Endpoints returns the endpoint names of an OpenAPI document's paths
// under /ihr/api/ (`/ihr/api/hegemony/alarms/` is `hegemony/alarms`).
// Paths with parameters (`users/{id}`) belong to the services the gateway
// routes before this list is asked, and are left out.
func Endpoints(doc []byte) (map[string]bool, error) {
	var d struct {
		Paths map[string]json.RawMessage `json:"paths"`
	}
	if err := json.Unmarshal(doc, &d); err != nil {
		return nil, fmt.Errorf("not an OpenAPI document: %w", err)
	}
	names := map[string]bool{}
	for p := range d.Paths {
		if name := parity.Endpoint(p); name != p && name != "" && !strings.Contains(name, "{") {
			names[name] = true
		}
	}
	if len(names) == 0 {
		return nil, errors.New("the OpenAPI document lists no endpoint under /ihr/api/")
	}
	return names, nil
}
