package authn

import (
	"bytes"
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

// KeyClient checks API keys with the auth service, keeping answers a short
// while: a valid key for KeyTTL (a revocation event drops it at once), a
// refused one for a few seconds (so a client retrying a bad key does not
// reach the auth service at every request).
type KeyClient struct {
	URL    string // the auth service's base URL
	Client *http.Client
	KeyTTL time.Duration

	mu      sync.Mutex
	answers map[[sha256.Size]byte]keyAnswer
}

type keyAnswer struct {
	p     Principal
	err   error
	until time.Time
}

// maxKeyAnswers bounds the answers kept; past it they are all dropped.
const maxKeyAnswers = 10000

// Verify returns the principal of API key key.
func (c *KeyClient) Verify(ctx context.Context, key string) (Principal, error) {
	h := sha256.Sum256([]byte(key))
	c.mu.Lock()
	a, ok := c.answers[h]
	c.mu.Unlock()
	if ok && time.Now().Before(a.until) {
		return a.p, a.err
	}
	p, err := c.ask(ctx, key)
	if errors.Is(err, ErrUnavailable) {
		return p, err
	}
	ttl := c.KeyTTL
	if err != nil {
		ttl = min(ttl, 5*time.Second)
	}
	c.mu.Lock()
	if c.answers == nil || len(c.answers) >= maxKeyAnswers {
		c.answers = map[[sha256.Size]byte]keyAnswer{}
	}
	c.answers[h] = keyAnswer{p, err, time.Now().Add(ttl)}
	c.mu.Unlock()
	return p, err
}

// Forget drops what is kept of the key with id.
func (c *KeyClient) Forget(id string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for h, a := range c.answers {
		if a.p.Subject == "key:"+id {
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
