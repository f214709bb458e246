// Package headers adds the gateway's security headers to every answer and
// answers CORS for the origins configured.
//
// Every value is made once: on the hot path (an answer from the edge
// cache) setting a header is one map assignment of a shared slice.
package headers

import (
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// The Content-Security-Policy of the API's own answers (JSON, CSV, errors):
// nothing in them may load or run anything, nor be framed.
const apiPolicy = "default-src 'none'; frame-ancestors 'none'"

// DocsPolicy is the Content-Security-Policy of the documentation page (Swagger
// UI, served by the query service from services/query/internal/docs): its
// scripts, stylesheet and images from the gateway, the OpenAPI document and
// "Try it out" fetched from it, and nothing else. The page has no inline
// script and one inline style block (hiding Swagger UI's top bar), allowed
// by its hash; Swagger UI's icons are data: images in its stylesheet, and
// the styles it sets as it renders go through the DOM, which CSP allows.
// TestDocsPolicyFitsThePage checks it against the page.
const DocsPolicy = "default-src 'none'; script-src 'self'; style-src 'self' 'sha256-lXHfUx0H2B83j6FCvFDUPqbmT98UHaF7omKv1dBVICo='; " +
	"img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

// The CORS answer: what browsers may send and read. No credentials:
// tokens go in the Authorization header, never in cookies.
const (
	allowMethods  = "GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS"
	allowHeaders  = "Authorization, Content-Type, If-None-Match, X-Request-Id"
	exposeHeaders = "ETag, RateLimit-Limit, RateLimit-Remaining, RateLimit-Reset, Retry-After, X-Request-Id, X-Total-Count, X-Cache, Content-Disposition"
	maxAge        = "600"
)

// Config says which headers to send.
type Config struct {
	// HSTS is the max-age of Strict-Transport-Security, sent on answers
	// to HTTPS requests (see secure); 0 sends none.
	HSTS time.Duration
	// Origins are the origins browsers may read answers from (the CORS
	// allow list), or "*" for any.
	Origins []string
	// Docs is the path of the documentation page: it and what is under it
	// get DocsPolicy.
	Docs string
}

// ParseOrigins reads IHR_CORS_ORIGINS: "*", or a comma-separated list of
// origins such as https://ihr.live or http://localhost:5173.
func ParseOrigins(s string) ([]string, error) {
	var out []string
	for o := range strings.SplitSeq(s, ",") {
		o = strings.TrimSpace(o)
		switch {
		case o == "":
			continue
		case o == "*":
			out = append(out, o)
			continue
		}
		u, err := url.Parse(o)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil ||
			u.Path != "" || u.RawQuery != "" || u.Fragment != "" {
			return nil, fmt.Errorf("%q is not an origin such as https://ihr.live (scheme, host, optional port; no path)", o)
		}
		out = append(out, strings.ToLower(o))
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no origin given: use * for any")
	}
	if len(out) > 1 && contains(out, "*") {
		return nil, fmt.Errorf("* allows every origin: list no other with it")
	}
	return out, nil
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// Headers is the middleware.
type Headers struct {
	docs    string
	any     bool                // every origin may read
	origins map[string][]string // else the ones that may, each its own Access-Control-Allow-Origin value

	nosniff, referrer, hsts, api, docsCSP []string
	star, expose, vary                    []string
	methods, allowed, age                 []string
}

// New returns the middleware of cfg.
//
// Referrer-Policy is no-referrer rather than strict-origin-when-cross-origin
// (browsers' default): nothing the gateway serves links anywhere a referrer
// would help (the docs page calls the API on its own origin), and a
// referrer would only tell others that someone read the IHR API.
func New(cfg Config) *Headers {
	one := func(v string) []string { return []string{v} }
	x := &Headers{docs: cfg.Docs, origins: map[string][]string{},
		nosniff: one("nosniff"), referrer: one("no-referrer"), api: one(apiPolicy), docsCSP: one(DocsPolicy),
		star: one("*"), expose: one(exposeHeaders), vary: one("Origin"),
		methods: one(allowMethods), allowed: one(allowHeaders), age: one(maxAge)}
	if cfg.HSTS > 0 {
		x.hsts = one("max-age=" + strconv.FormatInt(int64(cfg.HSTS/time.Second), 10))
	}
	for _, o := range cfg.Origins {
		if o == "*" {
			x.any = true
		}
		x.origins[o] = one(o)
	}
	return x
}

// Wrap adds the headers to next's answers and answers CORS preflights
// itself (they reach nothing behind the gateway, and count against no
// limit: a browser sends them before the requests that do).
func (x *Headers) Wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h["X-Content-Type-Options"] = x.nosniff
		h["Referrer-Policy"] = x.referrer
		if x.hsts != nil && secure(r) {
			h["Strict-Transport-Security"] = x.hsts
		}
		if x.isDocs(r.URL.Path) {
			h["Content-Security-Policy"] = x.docsCSP
		} else {
			h["Content-Security-Policy"] = x.api
		}
		allowed := x.cors(h, r)
		if r.Method == http.MethodOptions && r.Header.Get("Access-Control-Request-Method") != "" && r.Header.Get("Origin") != "" {
			// A preflight: an origin not allowed gets no CORS headers, which the browser reads as a refusal.
			if allowed {
				h["Access-Control-Allow-Methods"] = x.methods
				h["Access-Control-Allow-Headers"] = x.allowed
				h["Access-Control-Max-Age"] = x.age
			}
			w.WriteHeader(http.StatusNoContent)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// secure reports whether r came over HTTPS: to the gateway, or to the
// proxy in front (X-Forwarded-Proto). RFC 6797 forbids sending
// Strict-Transport-Security over plain HTTP, where browsers ignore it.
func secure(r *http.Request) bool {
	if r.TLS != nil {
		return true
	}
	proto := r.Header["X-Forwarded-Proto"]
	return len(proto) > 0 && strings.EqualFold(strings.TrimSpace(proto[0]), "https")
}

// cors sets the CORS headers of an answer to r and reports whether its
// origin may read it. Every answer says Vary: Origin, since what it says
// of CORS depends on it. With every origin allowed, every answer carries
// Access-Control-Allow-Origin: * (a cache that ignores Vary still gives
// browsers a body they may read), and those to browsers (with an Origin)
// the list of headers scripts may read, which only browsers heed: each
// header costs every answer (see the edge's serve).
func (x *Headers) cors(h http.Header, r *http.Request) bool {
	// Set, not added: nothing set Vary before, and a handler that adds
	// to it appends to a copy (the shared slice has no room to spare).
	h["Vary"] = x.vary
	origin := r.Header["Origin"]
	if x.any {
		h["Access-Control-Allow-Origin"] = x.star
		if len(origin) > 0 {
			h["Access-Control-Expose-Headers"] = x.expose
		}
		return true
	}
	if len(origin) != 1 {
		return false
	}
	v, ok := x.origins[strings.ToLower(origin[0])]
	if !ok {
		return false
	}
	h["Access-Control-Allow-Origin"] = v
	h["Access-Control-Expose-Headers"] = x.expose
	return true
}

func (x *Headers) isDocs(path string) bool {
	return strings.HasPrefix(path, x.docs) && (len(path) == len(x.docs) || path[len(x.docs)] == '/')
}
