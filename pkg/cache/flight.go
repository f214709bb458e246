package cache

import "golang.org/x/sync/singleflight"

// Flight runs one call per key for every concurrent caller of it: one
// reading of an answer for all the requests that miss it at once.
type Flight[T any] struct{ g singleflight.Group }

// Do runs fn, or waits for the run in flight for key, and returns its
// value; led is true for the caller that ran it (singleflight's own
// "shared" flag is true for that caller too once others joined).
func (f *Flight[T]) Do(key string, fn func() T) (v T, led bool) {
	r, _, _ := f.g.Do(key, func() (any, error) {
		led = true
		return fn(), nil
	})
	return r.(T), led
}
