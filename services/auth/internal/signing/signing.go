// Package signing keeps the Ed25519 keys that sign access tokens: it makes
// the first one, rotates them on a schedule (or when asked) with an overlap,
// seals their private halves at rest, and publishes the public halves.
//
// A new key is published (JWKS) for Overlap before it signs, so verifiers
// that cached the key set know it by then; a retired key stays published
// until every token it signed has expired.
package signing

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/ihr-go/ihr/pkg/authn"
)

// Stored is a key as the store keeps it.
type Stored struct {
	Kid        string
	Private    []byte // the seed, sealed when Sealed
	Sealed     bool
	Public     ed25519.PublicKey
	ActiveFrom time.Time
	RetiredAt  *time.Time
}

// Store keeps the keys.
type Store interface {
	SigningKeys(ctx context.Context) ([]Stored, error)
	// AddSigningKey adds k and retires the keys still signing at
	// k.ActiveFrom, unless (when !force) a key active from after since
	// exists already: replicas that rotate at once add one key. It
	// reports whether k was added.
	AddSigningKey(ctx context.Context, k Stored, since time.Time, force bool) (bool, error)
	// DropSigningKeys deletes keys retired before t.
	DropSigningKeys(ctx context.Context, before time.Time) error
}

// Keys signs with the current key and publishes the key set.
type Keys struct {
	Store Store
	// Secret seals private keys at rest (AES-256-GCM); nil stores them as they are.
	Secret []byte
	// Rotate is how long a key signs before the next one replaces it.
	Rotate time.Duration
	// Overlap is how long a new key is published before it signs.
	Overlap time.Duration
	// TokenTTL is the longest an access token lives.
	TokenTTL time.Duration

	mu   sync.RWMutex
	keys []key
}

type key struct {
	kid        string
	private    ed25519.PrivateKey
	public     ed25519.PublicKey
	activeFrom time.Time
	retiredAt  *time.Time
}

// Refresh loads the keys (another replica may have rotated), makes the
// first one when there is none and rotates when the newest is due.
func (k *Keys) Refresh(ctx context.Context) error {
	stored, err := k.Store.SigningKeys(ctx)
	if err != nil {
		return err
	}
	newest := time.Time{}
	for _, s := range stored {
		if s.ActiveFrom.After(newest) {
			newest = s.ActiveFrom
		}
	}
	now := time.Now()
	switch {
	case len(stored) == 0:
		_, err = k.addKey(ctx, now, time.Time{}, false) // nobody holds a token yet: no overlap
	case now.Sub(newest) >= k.Rotate:
		_, err = k.addKey(ctx, now.Add(k.Overlap), newest, false)
	default:
		return k.load(stored)
	}
	if err != nil {
		return err
	}
	if err := k.Store.DropSigningKeys(ctx, now.Add(-k.TokenTTL-time.Hour)); err != nil {
		return err
	}
	if stored, err = k.Store.SigningKeys(ctx); err != nil {
		return err
	}
	return k.load(stored)
}

// RotateNow adds a key that signs after the overlap, whatever the schedule.
func (k *Keys) RotateNow(ctx context.Context) (string, error) {
	kid, err := k.addKey(ctx, time.Now().Add(k.Overlap), time.Now(), true)
	if err != nil {
		return "", err
	}
	stored, err := k.Store.SigningKeys(ctx)
	if err != nil {
		return "", err
	}
	return kid, k.load(stored)
}

func (k *Keys) addKey(ctx context.Context, activeFrom, since time.Time, force bool) (string, error) {
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return "", err
	}
	var id [8]byte
	_, _ = rand.Read(id[:])
	s := Stored{Kid: activeFrom.UTC().Format("20060102") + "-" + hex.EncodeToString(id[:]), Public: pub, ActiveFrom: activeFrom, Private: priv.Seed()}
	if k.Secret != nil {
		if s.Private, err = seal(k.Secret, s.Private); err != nil {
			return "", err
		}
		s.Sealed = true
	}
	if _, err := k.Store.AddSigningKey(ctx, s, since, force); err != nil {
		return "", err
	}
	return s.Kid, nil
}

func (k *Keys) load(stored []Stored) error {
	keys := make([]key, 0, len(stored))
	for _, s := range stored {
		seed := s.Private
		if s.Sealed {
			if k.Secret == nil {
				return fmt.Errorf("signing key %s is sealed and IHR_AUTH_KEY_SECRET is not set", s.Kid)
			}
			var err error
			if seed, err = open(k.Secret, s.Private); err != nil {
				return fmt.Errorf("signing key %s: %w (is IHR_AUTH_KEY_SECRET the one it was sealed with?)", s.Kid, err)
			}
		}
		if len(seed) != ed25519.SeedSize {
			return fmt.Errorf("signing key %s: bad seed", s.Kid)
		}
		keys = append(keys, key{kid: s.Kid, private: ed25519.NewKeyFromSeed(seed), public: s.Public, activeFrom: s.ActiveFrom, retiredAt: s.RetiredAt})
	}
	slices.SortFunc(keys, func(a, b key) int { return a.activeFrom.Compare(b.activeFrom) })
	k.mu.Lock()
	k.keys = keys
	k.mu.Unlock()
	return nil
}

// Key returns the public key named kid, for verifying tokens signed here.
func (k *Keys) Key(_ context.Context, kid string) (ed25519.PublicKey, error) {
	k.mu.RLock()
	defer k.mu.RUnlock()
	for _, c := range k.keys {
		if c.kid == kid {
			return c.public, nil
		}
	}
	return nil, fmt.Errorf("unknown key %q", kid)
}

// ErrNoKey means no key signs now (Refresh has not run).
var ErrNoKey = errors.New("no signing key")

// Sign signs claims with the key that signs now.
func (k *Keys) Sign(claims *authn.Claims) (string, error) {
	now := time.Now()
	k.mu.RLock()
	var cur *key
	for i := range k.keys {
		c := &k.keys[i]
		if !c.activeFrom.After(now) && (c.retiredAt == nil || c.retiredAt.After(now)) {
			cur = c
		}
	}
	k.mu.RUnlock()
	if cur == nil {
		return "", ErrNoKey
	}
	return authn.Sign(claims, cur.kid, cur.private)
}

// JWKS is the key set to publish: keys that sign or will, and retired keys
// whose tokens may still be alive.
func (k *Keys) JWKS() authn.JWKS {
	now := time.Now()
	k.mu.RLock()
	defer k.mu.RUnlock()
	set := authn.JWKS{Keys: []authn.JWK{}}
	for _, c := range k.keys {
		if c.retiredAt == nil || now.Sub(*c.retiredAt) < k.TokenTTL {
			set.Keys = append(set.Keys, authn.NewJWK(c.kid, c.public))
		}
	}
	return set
}

func aead(secret []byte) (cipher.AEAD, error) {
	sum := sha256.Sum256(secret)
	block, err := aes.NewCipher(sum[:])
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(block)
}

func seal(secret, plain []byte) ([]byte, error) {
	g, err := aead(secret)
	if err != nil {
		return nil, err
	}
	nonce := make([]byte, g.NonceSize())
	_, _ = rand.Read(nonce)
	return g.Seal(nonce, nonce, plain, nil), nil
}

func open(secret, sealed []byte) ([]byte, error) {
	g, err := aead(secret)
	if err != nil {
		return nil, err
	}
	if len(sealed) < g.NonceSize() {
		return nil, errors.New("sealed key too short")
	}
	return g.Open(nil, sealed[:g.NonceSize()], sealed[g.NonceSize():], nil)
}
