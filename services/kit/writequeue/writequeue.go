// Package writequeue lines up a process's writes to one database row, so
// that only one of them at a time holds a connection of the pool.
//
// A transaction that locks a row (SELECT … FOR UPDATE) holds its pooled
// connection for as long as it waits for the lock. When many requests write
// the same row at once (one busy user, one group), the waiters can take every
// connection of the pool, and then every other request, reads included,
// waits behind one row: the service collapses on a single hot key. Queued
// here, the waiters hold only a goroutine; the pool serves everyone else,
// and the row's own writes go through one at a time, in arrival order, as
// the row lock would have let them anyway.
//
// The queue of one key is bounded: a write arriving when it is full fails at
// once with ErrBusy (the ports answer 503 with Retry-After), rather than
// waiting behind work that already cannot finish in time.
package writequeue

import (
	"context"
	"errors"
	"sync"
)

// ErrBusy: too many writes of the same key are already waiting.
var ErrBusy = errors.New("too many concurrent writes of the same record")

// DefaultMaxWaiting is the queue bound of a key when New is given 0. A write
// of one row takes a few milliseconds; 64 in line is a fraction of a second
// of work, as far ahead as a client's retry is worth making it wait.
const DefaultMaxWaiting = 64

// Queue serializes work by key. The zero value is not usable; call New.
type Queue[K comparable] struct {
	maxWaiting int
	mu         sync.Mutex
	keys       map[K]*line
}

type line struct {
	turn  chan struct{} // holds a token while a write of the key runs
	count int           // running and waiting, guarded by Queue.mu
}

// New returns a queue that lets at most maxWaiting writes of one key wait
// behind the one that runs (DefaultMaxWaiting when 0 or less).
func New[K comparable](maxWaiting int) *Queue[K] {
	if maxWaiting <= 0 {
		maxWaiting = DefaultMaxWaiting
	}
	return &Queue[K]{maxWaiting: maxWaiting, keys: make(map[K]*line)}
}

// Do runs fn when no other Do of key runs in this process, and returns its
// error. It returns ErrBusy without running fn when maxWaiting writes of key
// are already waiting, and ctx's error if ctx ends while it waits.
func (q *Queue[K]) Do(ctx context.Context, key K, fn func() error) error {
	q.mu.Lock()
	l := q.keys[key]
	if l == nil {
		l = &line{turn: make(chan struct{}, 1)}
		q.keys[key] = l
	}
	if l.count > q.maxWaiting { // one runs, maxWaiting wait
		q.mu.Unlock()
		return ErrBusy
	}
	l.count++
	q.mu.Unlock()
	defer q.leave(key, l)

	// Blocked senders of a channel are woken in the order they blocked,
	// so writes of a key run in their arrival order.
	select {
	case l.turn <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	}
	defer func() { <-l.turn }()
	return fn()
}

func (q *Queue[K]) leave(key K, l *line) {
	q.mu.Lock()
	l.count--
	if l.count == 0 {
		delete(q.keys, key)
	}
	q.mu.Unlock()
}

// Len is how many keys have a write running or waiting, for tests.
func (q *Queue[K]) Len() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.keys)
}
