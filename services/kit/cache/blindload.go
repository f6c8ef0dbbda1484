package cache

import (
	"context"
	"sync"
)

// blindGroup shares loads of keys whose version could not be read (Redis failed or
// the breaker is open). Without a version, a reader cannot tell a load that started
// before a write committed from one that started after, and sharing the former with
// a reader whose request came after the write would hand it the old value. So a
// reader here only shares a load that has not started yet: it joins the key's
// queued load if there is one, or queues one behind the load in progress. A key
// then has at most one load running and one waiting, so an outage still costs the
// database one load per key at a time, and every load a reader receives began
// after that reader arrived.
type blindGroup struct {
	mu   sync.Mutex
	keys map[string]*blindKey
}

type blindKey struct {
	running *blindCall
	queued  *blindCall
}

type blindCall struct {
	fn      func() ([]byte, error)
	done    chan struct{}
	val     []byte
	err     error
	readers int // guarded by blindGroup.mu until done is closed
}

// do returns the call whose result the reader of key is to wait for: the key's
// queued call if there is one, else a new call running fn, started now if the
// key is idle or queued behind the running one.
func (g *blindGroup) do(key string, fn func() ([]byte, error)) *blindCall {
	g.mu.Lock()
	if g.keys == nil {
		g.keys = make(map[string]*blindKey)
	}
	k := g.keys[key]
	if k == nil {
		k = &blindKey{}
		g.keys[key] = k
	}
	if c := k.queued; c != nil {
		c.readers++
		g.mu.Unlock()
		return c
	}
	c := &blindCall{fn: fn, done: make(chan struct{}), readers: 1}
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

// run executes c, then whatever was queued behind it, until the key is idle.
func (g *blindGroup) run(key string, k *blindKey, c *blindCall) {
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

// wait returns the call's result, or ctx's error if ctx ends first; shared
// reports whether other readers received the same result.
func (c *blindCall) wait(ctx context.Context) (val []byte, err error, shared bool) {
	select {
	case <-c.done:
		return c.val, c.err, c.readers > 1
	case <-ctx.Done():
		return nil, ctx.Err(), false
	}
}
