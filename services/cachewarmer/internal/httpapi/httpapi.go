// Package httpapi serves the cache warmer's own routes.
package httpapi

import (
	"encoding/json"
	"net/http"

	"github.com/ihr-go/ihr/pkg/apierr"
	"github.com/ihr-go/ihr/services/cachewarmer/internal/warm"
)

// Handler serves GET /debug/warm, the reports of the last warm runs, newest
// first, for operators (they name the most asked queries: the service's
// main guards it with authn.Ops); every other path is 404.
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
