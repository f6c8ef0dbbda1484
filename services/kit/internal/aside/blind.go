package aside

import (
	"context"
	"sync"
)

// BlindGroup shares loads of keys whose version could not be read (Redis failed or
// the breaker is open). Without a version, a reader cannot tell a load that started
// before a write committed from one that started after, and sharing the former with
// a reader whose request came after the write would hand it the old value. So a
// reader here only shares a load that has not started yet: it joins the key's
// queued load if there is one, or queues one behind the load in progress. A key
// then has at most one load running and one waiting, so an outage still costs the
// database one load per key at a time, and every load a reader receives began
// after that reader arrived.
type BlindGroup[T any] struct {
	mu   sync.Mutex
	keys map[string]*blindKey[T]
}

type blindKey[T any] struct {
	running *BlindCall[T]
	queued  *BlindCall[T]
}

// BlindCall is one load of a BlindGroup, shared by the readers that wait for it.
type BlindCall[T any] struct {
	fn      func() (T, error)
	done    chan struct{}
	val     T
	err     error
	readers int // guarded by BlindGroup.mu until done is closed
}

// Do returns the call whose result the reader of key is to wait for: the key's
// queued call if there is one, else a new call running fn, started now if the
// key is idle or queued behind the running one.
//
// admit, when not nil, is asked (under the group's lock) before a new call is
// created; if it refuses, Do returns nil and nothing runs. A reader that joins
// a queued call is not asked: it adds no load.
func (g *BlindGroup[T]) Do(key string, admit func() bool, fn func() (T, error)) *BlindCall[T] {
	g.mu.Lock()
	if g.keys == nil {
		g.keys = make(map[string]*blindKey[T])
	}
	k := g.keys[key]
	if c := k.queuedCall(); c != nil {
		c.readers++
		g.mu.Unlock()
		return c
	}
	if admit != nil && !admit() {
		g.mu.Unlock()
		return nil
	}
	if k == nil {
		k = &blindKey[T]{}
		g.keys[key] = k
	}
	c := &BlindCall[T]{fn: fn, done: make(chan struct{}), readers: 1}
	if k.running != nil {
		k.queued = c
		g.mu.Unlock()
		return c
	}
	k.running = c
	g.mu.Unlock()
	go g.run(key, k, c)
	return c
}

func (k *blindKey[T]) queuedCall() *BlindCall[T] {
	if k == nil {
		return nil
	}
	return k.queued
}

// run executes c, then whatever was queued behind it, until the key is idle.
func (g *BlindGroup[T]) run(key string, k *blindKey[T], c *BlindCall[T]) {
	for c != nil {
		c.val, c.err = c.fn()
		g.mu.Lock()
		close(c.done)
		c, k.queued = k.queued, nil
		k.running = c
		if c == nil {
			delete(g.keys, key)
		}
		g.mu.Unlock()
	}
}

// Wait returns the call's result, or ctx's error if ctx ends first; shared
// reports whether other readers received the same result.
func (c *BlindCall[T]) Wait(ctx context.Context) (val T, err error, shared bool) {
	select {
	case <-c.done:
		return c.val, c.err, c.readers > 1
	case <-ctx.Done():
		var zero T
		return zero, ctx.Err(), false
	}
}
