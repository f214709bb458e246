package authn

import (
	"context"
	"encoding/json"
	"log/slog"
	"sync"
	"time"

	"github.com/ihr-go/ihr/pkg/natsx"
	"github.com/nats-io/nats.go/jetstream"
)

// RevokedSubject carries revocations, on the IHR_AUTH stream.
const RevokedSubject = "ihr.auth.revoked"

// SchemaRevoked is the schema of a Revocation.
const SchemaRevoked = "ihr.auth.revoked/v1"

// Revocation tells the gateway and the services that credentials stopped
// being valid: the access tokens of a login ("session": its refresh token
// family), of an OAuth2 client ("client") or an API key ("key"), for good;
// or the access tokens of a user ("user") issued before its token version
// became Version (disabled, deleted, another role, a new password). Versions
// rather than times: tokens carry their issue time in whole seconds.
type Revocation struct {
	Schema  string    `json:"schema"`
	Kind    string    `json:"kind"`
	ID      string    `json:"id"`
	Version int       `json:"version,omitempty"`
	At      time.Time `json:"at"`
}

// Revocations holds the revocations of the last Keep, the longest an access
// token lives: older ones no longer matter. API keys' too: the auth service
// refuses a revoked key itself, and answers about keys are kept far less
// long (KeyClient.KeyTTL), and dropped at once by OnRevoke.
type Revocations struct {
	Keep time.Duration
	// OnRevoke, when set, is called with each revocation added, for the
	// answers kept elsewhere (KeyClient.Forget) to drop what it revokes.
	OnRevoke func(Revocation)

	mu      sync.RWMutex
	revoked map[string]Revocation // by kind:id
	pruned  time.Time             // when the old ones were last dropped
}

// pruneEvery is how often Add drops the old revocations: a look at every
// one, under the lock the requests' checks wait for.
const pruneEvery = time.Minute

// Add records r.
func (v *Revocations) Add(r Revocation) {
	k := r.Kind + ":" + r.ID
	v.mu.Lock()
	if v.revoked == nil {
		v.revoked = map[string]Revocation{}
	}
	if old, ok := v.revoked[k]; !ok || r.Version > old.Version {
		v.revoked[k] = r
	}
	if now := time.Now(); now.Sub(v.pruned) >= min(pruneEvery, v.Keep) {
		v.pruned = now
		for k, old := range v.revoked {
			if now.Sub(old.At) > v.Keep {
				delete(v.revoked, k)
			}
		}
	}
	v.mu.Unlock()
	if v.OnRevoke != nil {
		v.OnRevoke(r)
	}
}

// Has reports whether the credentials kind id, at token version version
// (users only), were revoked.
func (v *Revocations) Has(kind, id string, version int) bool {
	if id == "" {
		return false
	}
	v.mu.RLock()
	r, ok := v.revoked[kind+":"+id]
	v.mu.RUnlock()
	return ok && (kind != "user" || version < r.Version)
}

// Follow applies the revocations published on the bus, from those of the
// last Keep on, until ctx is done; it follows again after failures.
func (v *Revocations) Follow(ctx context.Context, bus *natsx.Bus, log *slog.Logger) {
	natsx.Retry(ctx, log, "follow revocations", func(ctx context.Context) error { return v.follow(ctx, bus, log) })
}

func (v *Revocations) follow(ctx context.Context, bus *natsx.Bus, log *slog.Logger) error {
	start := time.Now().Add(-v.Keep)
	cons, err := bus.JS.OrderedConsumer(ctx, bus.StreamName(natsx.StreamAuth), jetstream.OrderedConsumerConfig{
		FilterSubjects: []string{bus.Subject(RevokedSubject)},
		DeliverPolicy:  jetstream.DeliverByStartTimePolicy,
		OptStartTime:   &start,
	})
	if err != nil {
		return err
	}
	return natsx.ConsumeUntil(ctx, cons, func(m jetstream.Msg) {
		var r Revocation
		if err := json.Unmarshal(m.Data(), &r); err != nil || r.Schema != SchemaRevoked || r.Kind == "" || r.ID == "" {
			log.Warn("undecodable revocation", "subject", m.Subject())
			return
		}
		v.Add(r)
	})
}

// Publish publishes r on the bus and returns once the stream stored it.
func Publish(ctx context.Context, bus *natsx.Bus, r Revocation) error {
	data, err := json.Marshal(r)
	if err != nil {
		return err
	}
	_, err = bus.JS.Publish(ctx, bus.Subject(RevokedSubject), data)
	return err
}
