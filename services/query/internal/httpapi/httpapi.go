// Package httpapi serves the legacy read endpoints over HTTP: it decodes
// the query string, maps errors to the legacy status codes and bodies, and
// streams the pagination envelope and items as they are read.
package httpapi

import (
	"context"
	"encoding/csv"
	"errors"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/ihr-go/ihr/pkg/apierr"
	"github.com/ihr-go/ihr/services/query/internal/answers"
	"github.com/ihr-go/ihr/services/query/internal/docs"
	"github.com/ihr-go/ihr/services/query/internal/endpoint"
	"github.com/ihr-go/ihr/services/query/internal/jsonenc"
	"github.com/ihr-go/ihr/services/query/internal/store"
	"github.com/jackc/pgx/v5/pgconn"
)

// Prefix is where the legacy API lives.
const Prefix = "/ihr/api/"

// flushAt is the buffered size after which items are written out.
const flushAt = 64 << 10

// API serves the endpoints.
type API struct {
	Store    *store.Postgres
	PageSize int
	Log      *slog.Logger
	// OpenAPI is the document served at /ihr/api/openapi.json (and the legacy swagger.json).
	OpenAPI []byte
	// Cache, when set, serves first pages from memory.
	Cache *answers.Cache
	// Lifetimes tell clients and proxies how long answers keep.
	Lifetimes Lifetimes
}

// Handler routes every endpoint, with and without its trailing slash.
func (a *API) Handler(endpoints []*endpoint.Endpoint) http.Handler {
	mux := http.NewServeMux()
	for _, e := range endpoints {
		h := a.serve(e)
		mux.Handle("GET "+Prefix+e.Path+"/", h)
		mux.Handle("GET "+Prefix+e.Path, h)
	}
	doc := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(a.OpenAPI)
	})
	mux.Handle("GET "+Prefix+"openapi.json", doc)
	mux.Handle("GET "+Prefix+"swagger.json", doc)
	docs.Routes(mux, Prefix)
	mux.Handle("/", apierr.NotFoundHandler())
	return mux
}

func (a *API) serve(e *endpoint.Endpoint) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		pairs, err := endpoint.Pairs(r.URL.RawQuery)
		if err != nil {
			a.Fail(w, r, apierr.New(apierr.Invalid, "invalid_query_string", err.Error()))
			return
		}
		q, err := endpoint.Parse(e, pairs)
		if err != nil {
			a.Fail(w, r, legacyError(err))
			return
		}
		h := w.Header()
		h.Set("Cache-Control", a.Lifetimes.CacheControl(q, time.Now()))
		h.Add("Vary", "Accept-Encoding")
		if a.Cache != nil && q.Page == 1 {
			a.Cache.Serve(w, r, q)
			return
		}
		if _, err := a.Render(w, r, q); err != nil {
			a.Fail(w, r, err)
		}
	})
}

// Render writes the answer to q (see answers.Render).
func (a *API) Render(w http.ResponseWriter, r *http.Request, q *endpoint.Query) (answers.Meta, error) {
	pairs, _ := endpoint.Pairs(r.URL.RawQuery) // parsed once already
	page, err := a.Store.Open(r.Context(), q, a.PageSize)
	if err != nil {
		return answers.Meta{}, err
	}
	defer page.Close()
	meta := answers.Meta{Latest: page.Latest, Linked: q.Page > 1 || int64(q.Page)*int64(a.PageSize) < page.Count}
	if q.Format == "csv" {
		err = a.streamCSV(w, r, q, page, pairs)
	} else {
		err = a.stream(w, r, q, page, pairs)
	}
	if err != nil {
		return meta, &answers.Partial{Err: err}
	}
	return meta, nil
}

// stream writes the envelope and the items.
func (a *API) stream(w http.ResponseWriter, r *http.Request, q *endpoint.Query, page *store.Page, pairs []endpoint.Pair) error {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	b := make([]byte, 0, flushAt+4096)
	b = append(b, `{"count":`...)
	b = strconv.AppendInt(b, page.Count, 10)
	b = append(b, `,"next":`...)
	b = link(b, r, pairs, q.Page+1, int64(q.Page)*int64(a.PageSize) < page.Count)
	b = append(b, `,"previous":`...)
	b = link(b, r, pairs, q.Page-1, q.Page > 1)
	b = append(b, `,"results":[`...)
	if pre := page.Prefetched(); len(pre) > 0 {
		// Written as it is: copying it into b would cost as much again.
		if _, err := w.Write(b); err != nil {
			return nil // client gone
		}
		if _, err := w.Write(pre); err != nil {
			return nil
		}
		b = b[:0]
	}
	for first := len(page.Prefetched()) == 0; ; first = false {
		n := len(b)
		if !first {
			b = append(b, ',')
		}
		var ok bool
		var err error
		if b, ok, err = page.Next(b); err != nil {
			return err
		} else if !ok {
			b = b[:n]
			break
		}
		if len(b) >= flushAt {
			if _, err := w.Write(b); err != nil {
				return nil // client gone
			}
			b = b[:0]
		}
	}
	b = append(b, "]}"...)
	_, _ = w.Write(b)
	return nil
}

// streamCSV writes a page as CSV: a header row, then a row per result.
// The total count and the neighbouring pages travel in headers.
func (a *API) streamCSV(w http.ResponseWriter, r *http.Request, q *endpoint.Query, page *store.Page, pairs []endpoint.Pair) error {
	h := w.Header()
	h.Set("Content-Type", "text/csv; charset=utf-8")
	h.Set("Content-Disposition", `attachment; filename="`+strings.ReplaceAll(q.Endpoint.Path, "/", "_")+`.csv"`)
	h.Set("X-Total-Count", strconv.FormatInt(page.Count, 10))
	var links []string
	if int64(q.Page)*int64(a.PageSize) < page.Count {
		links = append(links, "<"+pageURL(r, pairs, q.Page+1)+`>; rel="next"`)
	}
	if q.Page > 1 {
		links = append(links, "<"+pageURL(r, pairs, q.Page-1)+`>; rel="prev"`)
	}
	if len(links) > 0 {
		h.Set("Link", strings.Join(links, ", "))
	}
	w.WriteHeader(http.StatusOK)
	cw := csv.NewWriter(w)
	fields := q.Endpoint.Fields
	header := make([]string, len(fields))
	for i, f := range fields {
		header[i] = f.Name
	}
	_ = cw.Write(header)
	record := make([]string, len(fields))
	for {
		ok, err := page.NextRecord(record)
		if err != nil {
			return err
		}
		if !ok {
			break
		}
		if err := cw.Write(record); err != nil {
			return nil // client gone
		}
	}
	cw.Flush()
	return nil
}

// Fail answers err: validation errors in their legacy shapes, statement
// timeouts as 504; a failure after part of the answer was sent cuts the
// response short.
func (a *API) Fail(w http.ResponseWriter, r *http.Request, err error) {
	ctx := r.Context()
	w.Header().Set("Cache-Control", "no-store")
	var partial *answers.Partial
	if errors.As(err, &partial) {
		// The client must never take a cut answer for a complete one.
		a.Log.ErrorContext(ctx, "response aborted", "err", partial.Err)
		panic(http.ErrAbortHandler)
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == "57014" || errors.Is(err, context.DeadlineExceeded) {
		apierr.Write(w, apierr.Wrap(apierr.Timeout, "query_timeout", "The request took too long", err))
		return
	}
	if ctx.Err() != nil {
		return // the client went away
	}
	var api *apierr.Error
	if !errors.As(err, &api) {
		a.Log.ErrorContext(ctx, "query failed", "err", err)
	}
	apierr.Write(w, err)
}

// legacyError gives validation errors the bodies legacy clients know.
func legacyError(err error) error {
	var unknown *endpoint.UnknownParams
	var types endpoint.TypeErrors
	var rule *endpoint.RuleError
	var order *endpoint.OrderingError
	switch {
	case errors.As(err, &unknown):
		return &apierr.Error{Kind: apierr.Invalid, Code: "invalid_query_params",
			Body: map[string]any{"error": "invalid_query_params", "unexpected": unknown.Unexpected, "allowed": unknown.Allowed}}
	case errors.As(err, &types):
		return &apierr.Error{Kind: apierr.Unprocessable, Code: "validation_error", Body: map[string]any{"detail": types}}
	case errors.As(err, &rule):
		return &apierr.Error{Kind: apierr.Invalid, Code: "invalid_request", Body: map[string]string{"detail": rule.Detail}}
	case errors.As(err, &order):
		return apierr.New(apierr.Invalid, "invalid_ordering", "Unknown ordering fields: "+strings.Join(order.Unexpected, ", ")).
			With("unexpected", order.Unexpected).With("allowed", order.Allowed)
	}
	return err
}

// link appends the URL of another page (or null): the request's own URL
// with every parameter kept in order and page set, built with the public
// scheme and host a proxy reports.
func link(b []byte, r *http.Request, pairs []endpoint.Pair, page int, ok bool) []byte {
	if !ok {
		return append(b, "null"...)
	}
	return jsonenc.String(b, pageURL(r, pairs, page))
}

// pageURL is the request's URL for another page.
func pageURL(r *http.Request, pairs []endpoint.Pair, page int) string {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	if p := r.Header.Get("X-Forwarded-Proto"); p == "http" || p == "https" {
		scheme = p
	}
	host := r.Host
	if h := r.Header.Get("X-Forwarded-Host"); h != "" {
		host, _, _ = strings.Cut(h, ",")
	}
	var sb strings.Builder
	sb.WriteString(scheme + "://" + strings.TrimSpace(host) + r.URL.Path + "?")
	replaced := false
	for i, p := range pairs {
		if i > 0 {
			sb.WriteByte('&')
		}
		v := p.Value
		if p.Key == "page" {
			v, replaced = strconv.Itoa(page), true
		}
		sb.WriteString(jsonenc.QuotePlus(p.Key) + "=" + jsonenc.QuotePlus(v))
	}
	if !replaced {
		if len(pairs) > 0 {
			sb.WriteByte('&')
		}
		sb.WriteString("page=" + strconv.Itoa(page))
	}
	return sb.String()
}
