package writequeue

// Count is how many writes of key run or wait.
func Count[K comparable](q *Queue[K], key K) int {
	q.mu.Lock()
	defer q.mu.Unlock()
	if l := q.keys[key]; l != nil {
		return l.count
	}
	return 0
}
