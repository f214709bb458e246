// Package upstream asks the query service for answers over HTTP, the way
// the warmer needs them asked: not counted in the popularity ranking,
// conditional on the tag last seen (a fresh answer costs a 304), holding
// the results position the warmer followed, the body read and dropped.
package upstream

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/ihr-go/ihr/pkg/cache"
	"github.com/ihr-go/ihr/services/cachewarmer/internal/warm"
)

// MaxDrain is how much of a body is read before the connection is closed
// instead: past it, a new connection costs less than reading on. Answers
// the query service keeps are much smaller (IHR_CACHE_MAX_ENTRY_BYTES).
const MaxDrain = 16 << 20

// Client asks the query service at Base (e.g. http://127.0.0.1:8081).
type Client struct {
	HTTP *http.Client
	Base *url.URL
}

// Fetch asks for the answer to r.Key.
func (c *Client) Fetch(ctx context.Context, r warm.Request) (warm.Response, error) {
	target, err := c.target(r.Key)
	if err != nil {
		return warm.Response{}, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, target, nil)
	if err != nil {
		return warm.Response{}, err
	}
	// Warming must never make a query look popular.
	req.Header.Set(cache.HeaderCounted, "1")
	if r.ETag != "" {
		req.Header.Set("If-None-Match", r.ETag)
	}
	if r.Stream != "" {
		req.Header.Set(cache.HeaderStream, r.Stream)
		req.Header.Set(cache.HeaderMinSeq, strconv.FormatUint(r.MinSeq, 10))
	}
	resp, err := c.HTTP.Do(req)
	if err != nil {
		return warm.Response{}, err
	}
	defer resp.Body.Close()
	// Reading the body to its end lets the connection serve the next request.
	if _, err := io.CopyN(io.Discard, resp.Body, MaxDrain); err != nil && err != io.EOF {
		return warm.Response{}, fmt.Errorf("read answer: %w", err)
	}
	out := warm.Response{Status: resp.StatusCode, Cache: resp.Header.Get(cache.HeaderCache), ETag: resp.Header.Get("ETag")}
	if out.ETag == "" && resp.StatusCode == http.StatusNotModified {
		out.ETag = r.ETag // a 304 confirms the tag sent
	}
	out.Outcome, out.Overloaded = classify(resp.StatusCode, out.Cache)
	return out, nil
}

// classify tells what an answer says of the cache. X-Cache decides when
// present: a 304 marked miss was read again from the database (and had
// not changed), so it was warmed, not found fresh.
func classify(status int, xcache string) (o warm.Outcome, overloaded bool) {
	switch {
	case status >= http.StatusInternalServerError:
		return warm.Failed, true
	case status != http.StatusNotModified && status/100 != 2:
		return warm.Failed, false
	}
	switch xcache {
	case "l1", "l2", "edge":
		return warm.Fresh, false
	case "miss":
		return warm.Warmed, false
	case "":
		if status == http.StatusNotModified {
			return warm.Fresh, false
		}
	}
	return warm.Bypass, false
}

// target is the URL of key, which must be a query relative to /ihr/api/:
// the ranking is written by other processes, so a key is never trusted to
// stay under that path.
func (c *Client) target(key string) (string, error) {
	u, err := url.Parse(key)
	switch {
	case err != nil, u.Scheme != "", u.Host != "", u.User != nil, u.Fragment != "",
		strings.HasPrefix(u.Path, "/"), slices.Contains(strings.Split(u.Path, "/"), ".."):
		return "", fmt.Errorf("not a query key: %q", key)
	}
	return strings.TrimSuffix(c.Base.String(), "/") + "/ihr/api/" + key, nil
}
