// Package httpapi serves the cache warmer's own routes.
package httpapi

import (
	"encoding/json"
	"net/http"

	"github.com/ihr-go/ihr/pkg/apierr"
	"github.com/ihr-go/ihr/services/cachewarmer/internal/warm"
)

// Handler serves GET /debug/warm, the reports of the last warm runs, newest
// first, for operators; every other path is 404.
//
// TODO(auth): admin-only once authentication lands: the reports name the
// most asked queries. Until then the service port must stay internal.
func Handler(runs func() []warm.Run) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /debug/warm", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		_ = json.NewEncoder(w).Encode(struct {
			Runs []warm.Run `json:"runs"`
		}{runs()})
	})
	mux.Handle("/", apierr.NotFoundHandler())
	return mux
}
