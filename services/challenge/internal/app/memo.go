package app

import "sync"

// Bounds of the memos, a few MiB each: a group, a payload with its view (a
// display name is at most 100 characters) or an owner is at most a few
// hundred bytes.
const (
	boardGroupsMax = 10_000
	entryViewsMax  = 10_000
	ownersMax      = 100_000
)

// memo is a bounded map shared by concurrent readers, for what can be kept
// in memory without ever going stale: values that never change once
// written, or pure functions of their key. Full, it starts over: what is
// read since then comes back with one load each.
type memo[K comparable, V any] struct {
	mu  sync.RWMutex
	max int
	m   map[K]V
}

func newMemo[K comparable, V any](max int) *memo[K, V] {
	return &memo[K, V]{max: max, m: make(map[K]V)}
}

func (m *memo[K, V]) get(k K) (V, bool) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	v, ok := m.m[k]
	return v, ok
}

// getBytes is get for a key held as bytes, without copying them into a
// string for the lookup.
func getBytes[V any](m *memo[string, V], k []byte) (V, bool) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	v, ok := m.m[string(k)]
	return v, ok
}

func (m *memo[K, V]) put(k K, v V) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if len(m.m) >= m.max {
		clear(m.m)
	}
	m.m[k] = v
}
