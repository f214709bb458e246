package answers

import (
	"encoding/json"
	"net/http"
	"time"
)

// Debug serves what the cache holds and how it follows the results
// stream, for operators (internal port only).
func (c *Cache) Debug() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		top, fromRedis := c.Popular.Top(r.Context(), 20, time.Now())
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{
			"stream":   c.Log.Identity(),
			"position": c.Log.Position(),
			"floor":    c.Log.Floor(),
			"ready":    c.Log.Ready(),
			"healthy":  c.Log.Healthy(),
			"l1":       map[string]int64{"entries": c.L1.Len(), "bytes": c.L1.Bytes(), "evicted": c.L1.Evicted()},
			"popular":  map[string]any{"from_redis": fromRedis, "top": top},
		})
	})
}
