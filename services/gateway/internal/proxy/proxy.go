// Package proxy forwards public requests to the internal service that owns
// them, keeping the request id and trace context.
package proxy

import (
	"log/slog"
	"net/http"
	"net/http/httputil"
	"net/url"

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
	return &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
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
		},
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
