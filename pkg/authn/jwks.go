package authn

import (
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"
)

// JWK is a public Ed25519 key as RFC 8037 writes it in a JWKS.
type JWK struct {
	Kty string `json:"kty"` // OKP
	Crv string `json:"crv"` // Ed25519
	X   string `json:"x"`   // the public key, base64url
	Kid string `json:"kid"`
	Alg string `json:"alg"` // EdDSA
	Use string `json:"use"` // sig
}

// JWKS is a key set.
type JWKS struct {
	Keys []JWK `json:"keys"`
}

// NewJWK describes public key pub named kid.
func NewJWK(kid string, pub ed25519.PublicKey) JWK {
	return JWK{Kty: "OKP", Crv: "Ed25519", X: base64.RawURLEncoding.EncodeToString(pub), Kid: kid, Alg: "EdDSA", Use: "sig"}
}

// JWKSPath is where the auth service publishes its keys.
const JWKSPath = "/ihr/api/auth/.well-known/jwks.json"

// KeySet is the auth service's public keys, fetched from its JWKS and kept.
// A token naming a key it does not hold makes it fetch the set again, at
// most once every Refetch (a key rotated in is found at once; a flood of
// tokens with made-up key ids costs one fetch). A set older than MaxAge is
// fetched again at its next use, so that a key deleted there (a leaked one)
// stops being trusted here; while the auth service does not answer, the
// set held goes on serving.
type KeySet struct {
	URL     string
	Client  *http.Client
	Refetch time.Duration
	MaxAge  time.Duration

	mu      sync.Mutex
	keys    map[string]ed25519.PublicKey
	fetched time.Time  // last attempt
	loaded  time.Time  // last success
	fetch   sync.Mutex // one fetch at a time
}

// NewKeySet returns the key set published at url.
func NewKeySet(url string, client *http.Client) *KeySet {
	// MaxAge is the auth service's own Cache-Control for the set.
	return &KeySet{URL: url, Client: client, Refetch: 10 * time.Second, MaxAge: 5 * time.Minute}
}

// Key returns the public key named kid.
func (s *KeySet) Key(ctx context.Context, kid string) (ed25519.PublicKey, error) {
	if k, fresh := s.lookup(kid); k != nil && fresh {
		return k, nil
	}
	// The others then find what the first fetch brought.
	s.fetch.Lock()
	defer s.fetch.Unlock()
	k, fresh := s.lookup(kid)
	if k != nil && fresh {
		return k, nil
	}
	s.mu.Lock()
	recent := time.Since(s.fetched) < s.Refetch && s.keys != nil
	s.mu.Unlock()
	if recent {
		if k != nil {
			return k, nil // stale, and the fetch just tried failed
		}
		return nil, fmt.Errorf("unknown key %q", kid)
	}
	if err := s.Load(ctx); err != nil {
		if k != nil {
			return k, nil
		}
		return nil, err
	}
	if k, _ := s.lookup(kid); k != nil {
		return k, nil
	}
	return nil, fmt.Errorf("unknown key %q", kid)
}

// lookup returns the key named kid and whether the set is fresh.
func (s *KeySet) lookup(kid string) (ed25519.PublicKey, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.keys[kid], s.MaxAge <= 0 || time.Since(s.loaded) < s.MaxAge
}

// Load fetches the key set now.
func (s *KeySet) Load(ctx context.Context) error {
	s.mu.Lock()
	s.fetched = time.Now()
	s.mu.Unlock()
	keys, err := s.get(ctx)
	if err != nil {
		return fmt.Errorf("%w: key set: %v", ErrUnavailable, err)
	}
	s.mu.Lock()
	s.keys, s.loaded = keys, time.Now()
	s.mu.Unlock()
	return nil
}

func (s *KeySet) get(ctx context.Context) (map[string]ed25519.PublicKey, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.URL, nil)
	if err != nil {
		return nil, err
	}
	resp, err := s.Client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%s answered %s", s.URL, resp.Status)
	}
	var set JWKS
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&set); err != nil {
		return nil, err
	}
	keys := map[string]ed25519.PublicKey{}
	for _, k := range set.Keys {
		pub, err := base64.RawURLEncoding.DecodeString(k.X)
		if k.Kty != "OKP" || k.Crv != "Ed25519" || err != nil || len(pub) != ed25519.PublicKeySize || k.Kid == "" {
			continue // not a key we sign with
		}
		keys[k.Kid] = pub
	}
	return keys, nil
}
