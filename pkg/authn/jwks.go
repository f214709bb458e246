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
// tokens with made-up key ids costs one fetch).
type KeySet struct {
	URL     string
	Client  *http.Client
	Refetch time.Duration

	mu      sync.Mutex
	keys    map[string]ed25519.PublicKey
	fetched time.Time  // last attempt
	fetch   sync.Mutex // one fetch at a time
}

// NewKeySet returns the key set published at url.
func NewKeySet(url string, client *http.Client) *KeySet {
	return &KeySet{URL: url, Client: client, Refetch: 10 * time.Second}
}

// Key returns the public key named kid.
func (s *KeySet) Key(ctx context.Context, kid string) (ed25519.PublicKey, error) {
	if k := s.lookup(kid); k != nil {
		return k, nil
	}
	// The others then find what the first fetch brought.
	s.fetch.Lock()
	defer s.fetch.Unlock()
	if k := s.lookup(kid); k != nil {
		return k, nil
	}
	s.mu.Lock()
	recent := time.Since(s.fetched) < s.Refetch && s.keys != nil
	s.mu.Unlock()
	if recent {
		return nil, fmt.Errorf("unknown key %q", kid)
	}
	if err := s.Load(ctx); err != nil {
		return nil, err
	}
	if k := s.lookup(kid); k != nil {
		return k, nil
	}
	return nil, fmt.Errorf("unknown key %q", kid)
}

func (s *KeySet) lookup(kid string) ed25519.PublicKey {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.keys[kid]
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
	s.keys = keys
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
