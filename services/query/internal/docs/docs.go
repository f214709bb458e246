// Package docs serves the API's documentation page: Swagger UI (vendored
// from npm's swagger-ui-dist by scripts/dev/update-swagger-ui.sh) embedded
// in the binary, so it works offline, on the OpenAPI document at
// /ihr/api/openapi.json.
package docs

import (
	"embed"
	"io/fs"
	"net/http"
)

//go:embed index.html init.js swagger-ui
var files embed.FS

// Routes serves the page at prefix+"docs" and its assets under prefix+"docs/".
func Routes(mux *http.ServeMux, prefix string) {
	assets, _ := fs.Sub(files, "swagger-ui")
	mux.Handle("GET "+prefix+"docs", file("index.html", "text/html; charset=utf-8"))
	mux.Handle("GET "+prefix+"docs/{$}", http.RedirectHandler(prefix+"docs", http.StatusMovedPermanently))
	mux.Handle("GET "+prefix+"docs/init.js", file("init.js", "text/javascript; charset=utf-8"))
	mux.Handle("GET "+prefix+"docs/", http.StripPrefix(prefix+"docs/", cached(http.FileServerFS(assets))))
}

// file serves one of our own embedded files.
func file(name, contentType string) http.Handler {
	b, err := files.ReadFile(name)
	if err != nil {
		panic(err) // embedded at build time: cannot happen
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", contentType)
		_, _ = w.Write(b)
	})
}

// cached lets browsers keep the versioned assets for a day.
func cached(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "public, max-age=86400")
		h.ServeHTTP(w, r)
	})
}
