package authn

import (
	"bytes"
	"container/list"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"
)

// APIKeyPrefix starts every API key: ihr_<id>_<secret>. It makes keys easy
// to recognise (in a secret scanner, in a leaked file) and tells them from
// access tokens.
const APIKeyPrefix = "ihr_"

// KeyID returns the public id of API key key, or "" when it is not shaped
// as one (ihr_k<12 hex digits>_<43 base64url characters>): a malformed key
// is refused here, without asking the auth service.
func KeyID(key string) string {
	rest, ok := strings.CutPrefix(key, APIKeyPrefix)
	if !ok || len(rest) != 13+1+43 || rest[0] != 'k' || rest[13] != '_' {
		return ""
	}
	id, secret := rest[:13], rest[14:]
	for _, c := range id[1:] {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return ""
		}
	}
	for _, c := range secret {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || c == '-' || c == '_') {
			return ""
		}
	}
	return id
}

// KeyVerifyPath is the auth service's internal endpoint that checks an API
// key: it is not under /ihr/api/, so the gateway never routes to it.
const KeyVerifyPath = "/internal/api-keys/verify"

// UnknownKeyCode is the error code of KeyVerifyPath's 401 for a key whose
// id no key has: every key of that id is refused, whatever its secret.
const UnknownKeyCode = "unknown_key"

// KeyClient checks API keys with the auth service, keeping answers a short
// while: a valid key for KeyTTL (a revocation event drops it at once, and
// never past the key's expiry), a refused one for a few seconds (so a
// client retrying a bad key does not reach the auth service at every
// request), and an unknown key id likewise, whatever the secret sent with
// it. Concurrent checks of one key ask once. The answers kept are bounded,
// the least recently used dropped first.
type KeyClient struct {
	URL    string // the auth service's base URL
	Client *http.Client
	KeyTTL time.Duration
	// MaxAnswers bounds the answers kept (10,000 when 0).
	MaxAnswers int

	mu      sync.Mutex
	answers map[[sha256.Size]byte]*list.Element // of *keyAnswer, in lru
	lru     list.List                           // most recently used first
	flights map[[sha256.Size]byte]*keyFlight
}

type keyAnswer struct {
	h     [sha256.Size]byte
	p     Principal
	err   error
	until time.Time
}

// keyFlight is a check in progress, which concurrent checks of the same
// key wait for.
type keyFlight struct {
	done chan struct{}
	p    Principal
	err  error
}

// refusedTTL is how long a refusal is kept at most.
const refusedTTL = 5 * time.Second

// errUnknownKey is the auth service's answer for a key id no key has.
var errUnknownKey = errors.New("API key unknown, expired or revoked")

// idHash names the answer for every key of id.
func idHash(id string) [sha256.Size]byte { return sha256.Sum256([]byte("id\x00" + id)) }

// Verify returns the principal of API key key.
func (c *KeyClient) Verify(ctx context.Context, key string) (Principal, error) {
	h := sha256.Sum256([]byte(key))
	id := KeyID(key)
	c.mu.Lock()
	if a := c.fresh(h, id); a != nil {
		c.mu.Unlock()
		return a.p, a.err
	}
	if f := c.flights[h]; f != nil {
		c.mu.Unlock()
		select {
		case <-f.done:
			return f.p, f.err
		case <-ctx.Done():
			return Principal{}, fmt.Errorf("%w: %v", ErrUnavailable, ctx.Err())
		}
	}
	f := &keyFlight{done: make(chan struct{})}
	if c.flights == nil {
		c.flights = map[[sha256.Size]byte]*keyFlight{}
	}
	c.flights[h] = f
	c.mu.Unlock()

	// The callers waiting for this check are not bound to this caller.
	f.p, f.err = c.ask(context.WithoutCancel(ctx), key)
	c.mu.Lock()
	delete(c.flights, h)
	if !errors.Is(f.err, ErrUnavailable) {
		now := time.Now()
		until := now.Add(c.KeyTTL)
		if f.err != nil {
			until = now.Add(min(c.KeyTTL, refusedTTL))
		} else if !f.p.Expires.IsZero() && f.p.Expires.Before(until) {
			until = f.p.Expires
		}
		c.put(&keyAnswer{h: h, p: f.p, err: f.err, until: until})
		if errors.Is(f.err, errUnknownKey) && id != "" {
			c.put(&keyAnswer{h: idHash(id), err: f.err, until: until})
		}
	}
	c.mu.Unlock()
	close(f.done)
	return f.p, f.err
}

// Cached reports whether Verify would answer key without asking the auth
// service.
func (c *KeyClient) Cached(key string) bool {
	h := sha256.Sum256([]byte(key))
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.fresh(h, KeyID(key)) != nil || c.flights[h] != nil
}

// fresh returns the answer kept for the key of hash h and id, nil when
// there is none or it is stale; c.mu is held.
func (c *KeyClient) fresh(h [sha256.Size]byte, id string) *keyAnswer {
	now := time.Now()
	for i, k := range [2][sha256.Size]byte{h, idHash(id)} {
		if i == 1 && id == "" {
			break
		}
		e, ok := c.answers[k]
		if !ok {
			continue
		}
		a := e.Value.(*keyAnswer)
		if now.Before(a.until) {
			c.lru.MoveToFront(e)
			return a
		}
		c.lru.Remove(e)
		delete(c.answers, k)
	}
	return nil
}

// put keeps a, dropping the least recently used answer when full; c.mu is held.
func (c *KeyClient) put(a *keyAnswer) {
	if c.answers == nil {
		c.answers = map[[sha256.Size]byte]*list.Element{}
	}
	if e, ok := c.answers[a.h]; ok {
		e.Value = a
		c.lru.MoveToFront(e)
		return
	}
	limit := c.MaxAnswers
	if limit <= 0 {
		limit = maxKeyAnswers
	}
	for len(c.answers) >= limit {
		oldest := c.lru.Back()
		c.lru.Remove(oldest)
		delete(c.answers, oldest.Value.(*keyAnswer).h)
	}
	c.answers[a.h] = c.lru.PushFront(a)
}

// maxKeyAnswers bounds the answers kept unless MaxAnswers says otherwise.
const maxKeyAnswers = 10000

// Forget drops the answers r makes stale: of the key it revokes, or of
// every key of the user it revokes, whose status or role changed. The auth
// service checks a key against its owner's account as it is now, so the
// next request asks it again; the answers kept would otherwise hold for
// KeyTTL (demoted or disabled with ihrctl, which revokes no key itself).
func (c *KeyClient) Forget(r Revocation) {
	var stale func(Principal) bool
	switch r.Kind {
	case "key":
		stale = func(p Principal) bool { return p.Subject == "key:"+r.ID }
	case "user":
		stale = func(p Principal) bool { return p.Owner == "user:"+r.ID }
	default:
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for h, e := range c.answers {
		if a := e.Value.(*keyAnswer); a.err == nil && stale(a.p) {
			c.lru.Remove(e)
			delete(c.answers, h)
		}
	}
}

func (c *KeyClient) ask(ctx context.Context, key string) (Principal, error) {
	body, _ := json.Marshal(map[string]string{"key": key})
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimSuffix(c.URL, "/")+KeyVerifyPath, bytes.NewReader(body))
	if err != nil {
		return Principal{}, err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.Client.Do(req)
	if err != nil {
		return Principal{}, fmt.Errorf("%w: %v", ErrUnavailable, err)
	}
	defer resp.Body.Close()
	switch resp.StatusCode {
	case http.StatusOK:
		var p Principal
		if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<16)).Decode(&p); err != nil || !p.Role.Valid() || p.Role == Anonymous {
			return Principal{}, fmt.Errorf("%w: an undecodable answer", ErrUnavailable)
		}
		return p, nil
	case http.StatusUnauthorized:
		var e struct {
			Error string `json:"error"`
		}
		if json.NewDecoder(io.LimitReader(resp.Body, 1<<16)).Decode(&e) == nil && e.Error == UnknownKeyCode {
			return Principal{}, errUnknownKey
		}
		return Principal{}, errors.New("API key unknown, expired or revoked")
	default:
		return Principal{}, fmt.Errorf("%w: the auth service answered %s", ErrUnavailable, resp.Status)
	}
}

// Credentials verifies both kinds of credentials, and refuses those
// revoked since they were issued.
type Credentials struct {
	Tokens  *TokenVerifier
	Keys    *KeyClient
	Revoked *Revocations
}

// Verify returns the principal of an access token or API key.
func (c *Credentials) Verify(ctx context.Context, cred string) (Principal, error) {
	if id := KeyID(cred); id != "" {
		if c.Revoked.Has("key", id, 0) {
			return Principal{}, errors.New("API key revoked")
		}
		return c.Keys.Verify(ctx, cred)
	}
	claims, err := c.Tokens.Verify(ctx, cred)
	if err != nil {
		return Principal{}, err
	}
	kind, id, _ := strings.Cut(claims.Subject, ":")
	if c.Revoked.Has("session", claims.Session, 0) || c.Revoked.Has(kind, id, claims.Version) {
		return Principal{}, errors.New("access token revoked")
	}
	return claims.Principal(), nil
}
