package adapters

import (
	"context"
	"errors"
	"regexp"
	"strings"
	"testing"
)

func TestArgon2DefaultParameters(t *testing.T) {
	h, err := NewArgon2Hasher(DefaultArgon2Params)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	enc, err := h.Hash(ctx, "correct horse battery")
	if err != nil {
		t.Fatal(err)
	}
	phc := regexp.MustCompile(`^\$argon2id\$v=19\$m=19456,t=2,p=1\$[A-Za-z0-9+/]{22}\$[A-Za-z0-9+/]{43}$`)
	if !phc.MatchString(enc) {
		t.Fatalf("not a PHC argon2id string: %s", enc)
	}
	if ok, err := h.Verify(ctx, "correct horse battery", enc); !ok || err != nil {
		t.Fatalf("right password: %v %v", ok, err)
	}
	if ok, err := h.Verify(ctx, "correct horse batterY", enc); ok || err != nil {
		t.Fatalf("wrong password: %v %v", ok, err)
	}
	again, _ := h.Hash(ctx, "correct horse battery")
	if again == enc {
		t.Fatal("two hashes of one password are equal: no salt?")
	}
	if h.NeedsRehash(enc) {
		t.Fatal("a current hash needs rehashing")
	}
}

func TestArgon2ParametersTravelWithTheHash(t *testing.T) {
	ctx := context.Background()
	cheap, _ := NewArgon2Hasher(Argon2Params{MemoryKiB: 64, Iterations: 1, Parallelism: 1})
	enc, err := cheap.Hash(ctx, "password1")
	if err != nil {
		t.Fatal(err)
	}
	current, _ := NewArgon2Hasher(Argon2Params{MemoryKiB: 128, Iterations: 2, Parallelism: 2})
	if ok, err := current.Verify(ctx, "password1", enc); !ok || err != nil {
		t.Fatalf("a hash made with other parameters no longer verifies: %v %v", ok, err)
	}
	if !current.NeedsRehash(enc) {
		t.Fatal("an old-parameter hash does not need rehashing")
	}
}

func TestArgon2RejectsBadHashes(t *testing.T) {
	h, _ := NewArgon2Hasher(Argon2Params{MemoryKiB: 64, Iterations: 1, Parallelism: 1})
	ctx := context.Background()
	good, _ := h.Hash(ctx, "password1")
	parts := strings.Split(good, "$")
	for _, bad := range []string{
		"", "!deleted", "$argon2i$v=19$m=64,t=1,p=1$" + parts[4] + "$" + parts[5],
		"$argon2id$v=18$m=64,t=1,p=1$" + parts[4] + "$" + parts[5],
		"$argon2id$v=19$m=4294967295,t=1,p=1$" + parts[4] + "$" + parts[5], // 4 TiB
		"$argon2id$v=19$m=64,t=100000,p=1$" + parts[4] + "$" + parts[5],
		"$argon2id$v=19$m=64,t=1,p=0$" + parts[4] + "$" + parts[5],
		"$argon2id$v=19$m=64,t=1,p=1,x=2$" + parts[4] + "$" + parts[5],
		"$argon2id$v=19$m=64,t=1,p=1$!!!$" + parts[5],
		"$argon2id$v=19$m=64,t=1,p=1$" + parts[4] + "$",
		good + "$extra",
	} {
		if ok, err := h.Verify(ctx, "password1", bad); ok || !errors.Is(err, ErrUnknownHash) {
			t.Errorf("Verify(%q) = %v, %v; want ErrUnknownHash", bad, ok, err)
		}
		if h.NeedsRehash(bad) {
			t.Errorf("NeedsRehash(%q) for an unreadable hash", bad)
		}
	}
}

func TestArgon2Validate(t *testing.T) {
	for _, p := range []Argon2Params{
		{MemoryKiB: 19456, Iterations: 0, Parallelism: 1},
		{MemoryKiB: 19456, Iterations: 2, Parallelism: 0},
		{MemoryKiB: 4, Iterations: 2, Parallelism: 1},
		{MemoryKiB: 16, Iterations: 2, Parallelism: 4},
		{MemoryKiB: 1<<20 + 1, Iterations: 2, Parallelism: 1},
	} {
		if _, err := NewArgon2Hasher(p); err == nil {
			t.Errorf("%+v accepted", p)
		}
	}
}

func TestArgon2WaitRespectsContext(t *testing.T) {
	h, _ := NewArgon2Hasher(Argon2Params{MemoryKiB: 64, Iterations: 1, Parallelism: 1})
	for range cap(h.slots) { // every slot busy
		h.slots <- struct{}{}
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := h.Hash(ctx, "password1"); !errors.Is(err, context.Canceled) {
		t.Fatalf("Hash with all slots busy and a cancelled context: %v", err)
	}
}

func FuzzDecodePHC(f *testing.F) {
	h, _ := NewArgon2Hasher(Argon2Params{MemoryKiB: 64, Iterations: 1, Parallelism: 1})
	good, _ := h.Hash(context.Background(), "password1")
	for _, s := range []string{good, "", "$$$$$", "$argon2id$v=19$m=8,t=1,p=1$AAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAA"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		p, salt, key, err := decodePHC(s)
		if err != nil {
			return
		}
		if p.Validate() != nil || len(salt) < 8 || len(key) < 16 {
			t.Fatalf("accepted %q", s)
		}
	})
}
