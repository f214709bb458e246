package cache

import (
	"net/http"
	"strings"
)

// Headers between the query service and the gateway's edge cache. The
// gateway drops every X-Ihr-* header a client sends and every one it
// receives before answering, so they never cross the public edge.
const (
	// HeaderSeq (answer) is the stream position through which the answer is known fresh.
	HeaderSeq = "X-Ihr-Seq"
	// HeaderStream (answer) names the results stream the position refers to.
	HeaderStream = "X-Ihr-Stream"
	// HeaderFeeds (answer) lists the datasets whose changes can alter the answer.
	HeaderFeeds = "X-Ihr-Feeds"
	// HeaderKey (answer) is the query's canonical key.
	HeaderKey = "X-Ihr-Key"
	// HeaderMinSeq (request) asks for an answer holding every change up to this position.
	HeaderMinSeq = "X-Ihr-Min-Seq"
	// HeaderCounted (request) says the query's popularity was counted already.
	HeaderCounted = "X-Ihr-Counted"
	// HeaderCache (answer, public) says where the answer came from: edge
	// or edge-revalidated (the gateway), l1 or l2 (the query service), miss
	// (read from the database, and cached), uncacheable (read from the
	// database: too large to keep, or a page linking to others) or bypass
	// (the cache was not usable).
	HeaderCache = "X-Cache"
)

// internalPrefix starts the headers that stay between services.
const internalPrefix = "X-Ihr-"

// Internal reports whether the header named name (canonical) is internal.
func Internal(name string) bool { return strings.HasPrefix(name, internalPrefix) }

// DropInternal removes the internal headers from h.
func DropInternal(h http.Header) {
	for k := range h {
		if Internal(k) {
			delete(h, k)
		}
	}
}

// NoCache reports whether a request asks to be answered from the origin
// (Cache-Control: no-cache, a browser's reload): it is read again, and the
// new answer kept.
func NoCache(h http.Header) bool {
	return strings.Contains(strings.ToLower(h.Get("Cache-Control")), "no-cache")
}
