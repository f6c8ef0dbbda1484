package ranking

// SetOnJoin lets a test know when a reader has joined (or started) the shared
// load of its board, which is what makes the singleflight tests deterministic.
func SetOnJoin(s *Store, f func()) { s.onJoin = f }

// PendingDrops is how many boards wait for their background drop.
func PendingDrops(s *Store) int { return s.retry.Len() }

// SetBeforeJoin lets a test hold a reader between finding its board missing
// and joining the load of it.
func SetBeforeJoin(s *Store, f func()) { s.beforeJoin = f }
