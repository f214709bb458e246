// Package passwords hashes passwords with argon2id and verifies them, and
// verifies the pbkdf2_sha256 hashes of accounts imported from the legacy
// Django API, which are replaced by argon2id at their first login.
package passwords

import (
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"

	"golang.org/x/crypto/argon2"
)

// The argon2id cost: OWASP's recommendation of 19 MiB, two passes, one
// lane (tens of milliseconds a hash).
const (
	memory  = 19 * 1024
	passes  = 2
	lanes   = 1
	saltLen = 16
	keyLen  = 32
)

// Bounds of a new password. The upper one keeps hashing cheap to ask for.
const (
	MinLength = 10
	MaxLength = 256
)

// ErrWeak is a password refused by Check.
var ErrWeak = errors.New("password too weak")

// Check says why password cannot be chosen, or nil.
func Check(password string) error {
	n := utf8.RuneCountInString(password)
	switch {
	case !utf8.ValidString(password):
		return fmt.Errorf("%w: not valid UTF-8", ErrWeak)
	case n < MinLength:
		return fmt.Errorf("%w: at least %d characters", ErrWeak, MinLength)
	case len(password) > MaxLength:
		return fmt.Errorf("%w: at most %d bytes", ErrWeak, MaxLength)
	}
	return nil
}

// Hash returns the argon2id hash of password in the PHC string format.
func Hash(password string) string {
	salt := make([]byte, saltLen)
	_, _ = rand.Read(salt)
	return phc(salt, argon2.IDKey([]byte(password), salt, passes, memory, lanes, keyLen), memory, passes, lanes)
}

func phc(salt, key []byte, m, t uint32, p uint8) string {
	b64 := base64.RawStdEncoding
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, m, t, p, b64.EncodeToString(salt), b64.EncodeToString(key))
}

// Verify reports whether password matches hash, and whether hash should be
// replaced by a new Hash (a legacy hash, or weaker parameters than today's).
// A malformed hash matches nothing.
func Verify(hash, password string) (ok, rehash bool) {
	if len(password) > MaxLength {
		return false, false
	}
	switch {
	case strings.HasPrefix(hash, "$argon2id$"):
		return verifyArgon2(hash, password)
	case strings.HasPrefix(hash, "pbkdf2_sha256$"):
		return verifyDjango(hash, password), true
	}
	return false, false
}

func verifyArgon2(hash, password string) (ok, rehash bool) {
	parts := strings.Split(hash, "$") // "", argon2id, v=19, m=..,t=..,p=.., salt, key
	if len(parts) != 6 || parts[2] != "v="+strconv.Itoa(argon2.Version) {
		return false, false
	}
	var m, t uint32
	var p uint8
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &m, &t, &p); err != nil || m == 0 || t == 0 || p == 0 || m > 1<<20 || t > 16 {
		return false, false
	}
	salt, err1 := base64.RawStdEncoding.DecodeString(parts[4])
	key, err2 := base64.RawStdEncoding.DecodeString(parts[5])
	if err1 != nil || err2 != nil || len(key) == 0 {
		return false, false
	}
	got := argon2.IDKey([]byte(password), salt, t, m, p, uint32(len(key)))
	return subtle.ConstantTimeCompare(got, key) == 1, m < memory || t < passes
}

// verifyDjango checks Django's pbkdf2_sha256$<iterations>$<salt>$<base64 key>.
func verifyDjango(hash, password string) bool {
	parts := strings.Split(hash, "$")
	if len(parts) != 4 {
		return false
	}
	iter, err := strconv.Atoi(parts[1])
	if err != nil || iter < 1 || iter > 10_000_000 {
		return false
	}
	key, err := base64.StdEncoding.DecodeString(parts[3])
	if err != nil || len(key) == 0 {
		return false
	}
	got, err := pbkdf2.Key(sha256.New, password, []byte(parts[2]), iter, len(key))
	return err == nil && subtle.ConstantTimeCompare(got, key) == 1
}

// dummy is hashed against when there is no account, so that an unknown
// e-mail takes as long to refuse as a wrong password.
var dummy = phc(make([]byte, saltLen), make([]byte, keyLen), memory, passes, lanes)

// Waste spends the time of a Verify that fails.
func Waste(password string) { Verify(dummy, password) }
