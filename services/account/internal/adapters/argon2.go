// Package adapters implements the app's interfaces: the ent repositories,
// the argon2id password hasher, the Redis login throttle and the JWT issuer.
package adapters

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"runtime"
	"strconv"
	"strings"

	"golang.org/x/crypto/argon2"
)

// Argon2Params are argon2id's cost parameters.
type Argon2Params struct {
	MemoryKiB   uint32 // m
	Iterations  uint32 // t
	Parallelism uint8  // p
}

// DefaultArgon2Params follow OWASP's argon2id minimum (m=19 MiB, t=2, p=1):
// about 50-100 ms per hash on one core, which suits small pods.
var DefaultArgon2Params = Argon2Params{MemoryKiB: 19456, Iterations: 2, Parallelism: 1}

// Bounds on parameters, both configured and read from stored hashes (a
// tampered hash must not make one verification take gigabytes or minutes).
const (
	MinArgon2MemoryKiB  = 8
	MaxArgon2MemoryKiB  = 1 << 20 // 1 GiB
	MaxArgon2Iterations = 64
	argon2SaltLen       = 16
	argon2KeyLen        = 32
)

// Validate reports parameters argon2id cannot run with or that are absurd.
func (p Argon2Params) Validate() error {
	switch {
	case p.Parallelism < 1:
		return errors.New("argon2: parallelism must be at least 1")
	case p.Iterations < 1 || p.Iterations > MaxArgon2Iterations:
		return fmt.Errorf("argon2: iterations must be within [1, %d]", MaxArgon2Iterations)
	case p.MemoryKiB < 8*uint32(p.Parallelism) || p.MemoryKiB < MinArgon2MemoryKiB || p.MemoryKiB > MaxArgon2MemoryKiB:
		return fmt.Errorf("argon2: memory must be within [max(8, 8*parallelism), %d] KiB", MaxArgon2MemoryKiB)
	}
	return nil
}

// ErrUnknownHash: the stored value is not an argon2id PHC string we can read.
var ErrUnknownHash = errors.New("argon2: not an argon2id hash")

// Argon2Hasher hashes passwords with argon2id into PHC strings
// ($argon2id$v=19$m=...,t=...,p=...$salt$hash). At most Slots hashes run at
// once, so memory stays bounded at Slots*m however many sign-ins arrive.
type Argon2Hasher struct {
	params Argon2Params
	slots  chan struct{}
}

// NewArgon2Hasher returns a hasher with params and one slot per CPU.
func NewArgon2Hasher(params Argon2Params) (*Argon2Hasher, error) {
	if err := params.Validate(); err != nil {
		return nil, err
	}
	return &Argon2Hasher{params: params, slots: make(chan struct{}, max(1, runtime.GOMAXPROCS(0)))}, nil
}

func (h *Argon2Hasher) acquire(ctx context.Context) error {
	select {
	case h.slots <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (h *Argon2Hasher) release() { <-h.slots }

// Hash returns password's PHC string with a fresh random salt.
func (h *Argon2Hasher) Hash(ctx context.Context, password string) (string, error) {
	salt := make([]byte, argon2SaltLen)
	_, _ = rand.Read(salt)
	if err := h.acquire(ctx); err != nil {
		return "", err
	}
	defer h.release()
	p := h.params
	key := argon2.IDKey([]byte(password), salt, p.Iterations, p.MemoryKiB, p.Parallelism, argon2KeyLen)
	return encodePHC(p, salt, key), nil
}

// Verify reports whether password matches the PHC string encoded, comparing
// in constant time.
func (h *Argon2Hasher) Verify(ctx context.Context, password, encoded string) (bool, error) {
	p, salt, key, err := decodePHC(encoded)
	if err != nil {
		return false, err
	}
	if err := h.acquire(ctx); err != nil {
		return false, err
	}
	defer h.release()
	got := argon2.IDKey([]byte(password), salt, p.Iterations, p.MemoryKiB, p.Parallelism, uint32(len(key)))
	return subtle.ConstantTimeCompare(got, key) == 1, nil
}

// NeedsRehash reports whether encoded was made with other parameters.
func (h *Argon2Hasher) NeedsRehash(encoded string) bool {
	p, salt, key, err := decodePHC(encoded)
	return err == nil && (p != h.params || len(salt) != argon2SaltLen || len(key) != argon2KeyLen)
}

var b64 = base64.RawStdEncoding

func encodePHC(p Argon2Params, salt, key []byte) string {
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s",
		argon2.Version, p.MemoryKiB, p.Iterations, p.Parallelism, b64.EncodeToString(salt), b64.EncodeToString(key))
}

func decodePHC(encoded string) (Argon2Params, []byte, []byte, error) {
	var p Argon2Params
	parts := strings.Split(encoded, "$")
	// "", "argon2id", "v=19", "m=..,t=..,p=..", salt, hash
	if len(parts) != 6 || parts[0] != "" || parts[1] != "argon2id" || parts[2] != "v="+strconv.Itoa(argon2.Version) {
		return p, nil, nil, ErrUnknownHash
	}
	for _, kv := range strings.Split(parts[3], ",") {
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			return p, nil, nil, ErrUnknownHash
		}
		n, err := strconv.ParseUint(v, 10, 32)
		if err != nil {
			return p, nil, nil, ErrUnknownHash
		}
		switch k {
		case "m":
			p.MemoryKiB = uint32(n)
		case "t":
			p.Iterations = uint32(n)
		case "p":
			if n > 255 {
				return p, nil, nil, ErrUnknownHash
			}
			p.Parallelism = uint8(n)
		default:
			return p, nil, nil, ErrUnknownHash
		}
	}
	if p.Validate() != nil {
		return p, nil, nil, ErrUnknownHash
	}
	salt, err := b64.DecodeString(parts[4])
	if err != nil || len(salt) < 8 || len(salt) > 64 {
		return p, nil, nil, ErrUnknownHash
	}
	key, err := b64.DecodeString(parts[5])
	if err != nil || len(key) < 16 || len(key) > 64 {
		return p, nil, nil, ErrUnknownHash
	}
	return p, salt, key, nil
}
