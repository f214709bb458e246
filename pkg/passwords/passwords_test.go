package passwords

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/argon2"
)

func TestArgon2RoundTrip(t *testing.T) {
	h := Hash("correct horse battery staple")
	if !strings.HasPrefix(h, "$argon2id$v=19$m=19456,t=2,p=1$") {
		t.Fatalf("hash %q", h)
	}
	if h == Hash("correct horse battery staple") {
		t.Error("two hashes of one password are equal: no salt")
	}
	if ok, rehash := Verify(h, "correct horse battery staple"); !ok || rehash {
		t.Errorf("the right password: ok %v rehash %v", ok, rehash)
	}
	if ok, _ := Verify(h, "correct horse battery stapler"); ok {
		t.Error("a wrong password matched")
	}
}

// Hashes made by Python's hashlib.pbkdf2_hmac, as Django's PBKDF2PasswordHasher does.
func TestDjangoHashes(t *testing.T) {
	for _, c := range []struct{ hash, password string }{
		{"pbkdf2_sha256$260000$Zx3aB9qLmN0pQr1s$rzUaEwqzVvagBun/NyYl/M1eTrGKuFUSrFewn4L8OQc=", "correct horse battery staple"},
		{"pbkdf2_sha256$720000$s4lt$2JzrWte5gkllJysm6rutcclL2BXPGd8ckcDK30lvwMA=", "pässwörd-ünïcode"},
	} {
		if ok, rehash := Verify(c.hash, c.password); !ok || !rehash {
			t.Errorf("%s: ok %v rehash %v, want a match to re-hash", c.password, ok, rehash)
		}
		if ok, _ := Verify(c.hash, c.password+"x"); ok {
			t.Errorf("%s: a wrong password matched", c.password)
		}
	}
}

func TestMalformedHashesMatchNothing(t *testing.T) {
	for _, h := range []string{"", "plain", "$argon2id$v=19$m=0,t=2,p=1$AAAA$AAAA", "$argon2id$v=18$m=19456,t=2,p=1$AAAA$AAAA",
		"$argon2id$v=19$m=19456,t=2,p=1$!!$AAAA", "pbkdf2_sha256$0$salt$AAAA", "pbkdf2_sha256$x$salt$AAAA",
		"pbkdf2_sha256$1000$salt$", "md5$salt$hash", "!unusable"} {
		if ok, _ := Verify(h, ""); ok {
			t.Errorf("%q matched", h)
		}
	}
}

func TestWeakerArgon2IsRehashed(t *testing.T) {
	salt := []byte("0123456789abcdef")
	weak := phc(salt, argon2.IDKey([]byte("pw-weak-params"), salt, 1, 8*1024, 1, keyLen), 8*1024, 1, 1)
	if ok, rehash := Verify(weak, "pw-weak-params"); !ok || !rehash {
		t.Fatalf("a cheaper argon2id hash: ok %v rehash %v, want a match to re-hash", ok, rehash)
	}
}

func TestCheck(t *testing.T) {
	for pw, ok := range map[string]bool{"short": false, "long enough pw": true, strings.Repeat("a", MaxLength+1): false, "\xff\xfe invalid utf8": false} {
		if got := Check(pw) == nil; got != ok {
			t.Errorf("Check(%.20q) ok %v, want %v", pw, got, ok)
		}
	}
}

// A gate lets n hashes run at once; the next waits its while, then is refused.
func TestGateBoundsHashesAtOnce(t *testing.T) {
	g := NewGate(1, 20*time.Millisecond)
	h, err := g.Hash(context.Background(), "correct horse battery staple")
	if err != nil {
		t.Fatal(err)
	}
	g.slots <- struct{}{} // a hash in progress
	if _, err := g.Hash(context.Background(), "x"); !errors.Is(err, ErrBusy) {
		t.Errorf("Hash with every slot taken: %v, want ErrBusy", err)
	}
	if _, _, err := g.Verify(context.Background(), h, "x"); !errors.Is(err, ErrBusy) {
		t.Errorf("Verify with every slot taken: %v, want ErrBusy", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := (&Gate{slots: g.slots, wait: time.Hour}).Waste(ctx, "x"); !errors.Is(err, context.Canceled) {
		t.Errorf("Waste for a request gone: %v", err)
	}
	<-g.slots // the hash in progress ends
	if ok, _, err := g.Verify(context.Background(), h, "correct horse battery staple"); !ok || err != nil {
		t.Errorf("Verify with a free slot: %v %v", ok, err)
	}
	if len(g.slots) != 0 {
		t.Errorf("%d slots still taken after every hash ended", len(g.slots))
	}
}
