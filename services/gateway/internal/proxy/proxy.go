// Package proxy forwards public requests to the internal service that owns
// them, keeping the request id and trace context.
package proxy

import (
	"log/slog"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"slices"
	"strings"

	"github.com/ihr-go/ihr/pkg/apierr"
	"github.com/ihr-go/ihr/pkg/cache"
	"github.com/ihr-go/ihr/services/gateway/internal/limits"
)

// gatewayHeaders are the answer headers only the gateway sets (canonical names).
var gatewayHeaders = []string{"X-Request-Id", "X-Content-Type-Options", "Referrer-Policy", "Strict-Transport-Security",
	"Content-Security-Policy", "Access-Control-Allow-Origin", "Access-Control-Expose-Headers",
	"Access-Control-Allow-Methods", "Access-Control-Allow-Headers", "Access-Control-Max-Age", "Access-Control-Allow-Credentials"}

// New returns a reverse proxy to target. Requests go through transport (an
// instrumented one propagates the trace context); X-Forwarded-* headers are
// set so upstream builds absolute links with the public host and scheme.
// The services' internal X-Ihr-* headers are dropped both ways, unless
// internal: the gateway's cache in front then speaks them and drops them.
func New(target *url.URL, transport http.RoundTripper, log *slog.Logger, internal bool) http.Handler {
	return build(target, transport, log, internal, func(pr *httputil.ProxyRequest) {
		if !internal {
			cache.DropInternal(pr.Out.Header)
		}
		pr.SetURL(target)
		pr.Out.Host = pr.In.Host
		pr.SetXForwarded()
		// A client-supplied proto or host from a trusted front proxy wins.
		if p := pr.In.Header.Get("X-Forwarded-Proto"); p != "" {
			pr.Out.Header.Set("X-Forwarded-Proto", p)
		}
		if h := pr.In.Header.Get("X-Forwarded-Host"); h != "" {
			pr.Out.Header.Set("X-Forwarded-Host", h)
		}
	})
}

// Legacy returns a reverse proxy to the legacy API at target: the request
// goes as the client sent it (see ToLegacy), the answer comes back as the
// legacy API wrote it (links included: rewriting them would mean holding
// and parsing answers of hundreds of megabytes), but for the headers only
// the gateway sets, and X-Cache: legacy tells who answered.
func Legacy(target *url.URL, transport http.RoundTripper, log *slog.Logger) http.Handler {
	p := build(target, transport, log, false, func(pr *httputil.ProxyRequest) { ToLegacy(target, pr.In, pr.Out) })
	gateway := p.ModifyResponse
	p.ModifyResponse = func(res *http.Response) error {
		res.Header.Set("X-Cache", "legacy")
		return gateway(res)
	}
	return p
}

// ToLegacy points out, a copy of in, at the legacy API at target (its path
// prefixed to in's). The Host is the legacy API's own: Django refuses
// hosts outside its ALLOWED_HOSTS, and with USE_X_FORWARDED_HOST it would
// check a forwarded host too, so none is sent; its links then name its
// own host, which serves them. The client's address and scheme are
// forwarded. Our bearer credentials (access tokens, API keys) never leave
// for the legacy API; its own scheme ("Token ...") passes.
func ToLegacy(target *url.URL, in, out *http.Request) {
	out.URL.Scheme, out.URL.Host = target.Scheme, target.Host
	out.URL.Path = strings.TrimSuffix(target.Path, "/") + in.URL.Path
	out.URL.RawPath = ""
	if in.URL.RawPath != "" { // keep the client's escapes (%2F is not /)
		out.URL.RawPath = strings.TrimSuffix(target.EscapedPath(), "/") + in.URL.RawPath
	}
	out.URL.RawQuery = in.URL.RawQuery
	out.Host = ""
	cache.DropInternal(out.Header)
	if a := out.Header.Get("Authorization"); len(a) >= 7 && strings.EqualFold(a[:7], "bearer ") {
		out.Header.Del("Authorization")
	}
	out.Header.Del("X-Forwarded-Host")
	if ip, _, err := net.SplitHostPort(in.RemoteAddr); err == nil {
		prior := in.Header.Values("X-Forwarded-For")
		out.Header.Set("X-Forwarded-For", strings.Join(append(slices.Clip(prior), ip), ", "))
	}
	if in.Header.Get("X-Forwarded-Proto") == "" {
		proto := "http"
		if in.TLS != nil {
			proto = "https"
		}
		out.Header.Set("X-Forwarded-Proto", proto)
	}
}

// build makes a reverse proxy with the gateway's handling of answers and failures.
func build(target *url.URL, transport http.RoundTripper, log *slog.Logger, internal bool, rewrite func(*httputil.ProxyRequest)) *httputil.ReverseProxy {
	return &httputil.ReverseProxy{
		Rewrite:   rewrite,
		Transport: transport,
		// The gateway sets the request id, the security and the CORS headers
		// itself; upstream's copies would repeat them.
		ModifyResponse: func(res *http.Response) error {
			for _, k := range gatewayHeaders {
				delete(res.Header, k) // canonical already
			}
			if !internal {
				cache.DropInternal(res.Header)
			}
			return nil
		},
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			if r.Context().Err() != nil {
				return // the client left: nothing failed, and nobody reads an answer
			}
			if tooLarge := limits.TooLargeError(err); tooLarge != nil {
				apierr.Write(w, tooLarge) // the body was cut at the gateway's limit: upstream saw it fail
				return
			}
			log.WarnContext(r.Context(), "upstream failed", "upstream", target.Host, "err", err)
			apierr.Write(w, apierr.Wrap(apierr.Unavailable, "upstream_unavailable",
				"The service behind this endpoint is unavailable, try again later", err))
		},
	}
}
