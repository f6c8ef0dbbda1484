package cache

import (
	"context"
	"encoding/json"
	"errors"
)

// Typed is a Named view whose values are Go values stored as JSON. Prefer Named when
// the value is an HTTP response body: a hit then costs no decoding at all.
type Typed[T any] struct{ n *Named }

// NewTyped wraps n.
func NewTyped[T any](n *Named) Typed[T] { return Typed[T]{n: n} }

// Named returns the underlying view, e.g. for Invalidate.
func (t Typed[T]) Named() *Named { return t.n }

// Get is Named.Get with JSON encoding. A cached value that no longer decodes (the
// type changed across a deploy) is treated as absent: the loader answers instead.
func (t Typed[T]) Get(ctx context.Context, key string, load func(ctx context.Context) (T, error)) (T, error) {
	var v T
	b, err := t.n.Get(ctx, key, func(ctx context.Context) ([]byte, error) {
		v, err := load(ctx)
		if err != nil {
			return nil, err
		}
		return json.Marshal(v)
	})
	if err != nil {
		return v, err
	}
	if err := json.Unmarshal(b, &v); err != nil {
		v, err = load(ctx)
		if errors.Is(err, ErrNotFound) {
			err = ErrNotFound
		}
		return v, err
	}
	return v, nil
}
