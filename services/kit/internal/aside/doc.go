// Package aside is the machinery kit/cache and kit/ranking share around a
// Redis that may fail: a breaker that stops asking a Redis that keeps failing,
// a background retrier of writes that failed after their database commit, and
// the group that shares loads among readers that could not read a version.
// It moved here from kit/cache unchanged in behaviour, so that both packages
// keep the same rules.
package aside

import "github.com/redis/go-redis/v9"

// ContextTimeoutEnabled reports whether rdb lets context deadlines bound its
// socket reads: without it a timeout cannot cut off a Redis that accepts
// connections but does not answer.
func ContextTimeoutEnabled(rdb redis.UniversalClient) bool {
	switch r := rdb.(type) {
	case *redis.Client:
		return r.Options().ContextTimeoutEnabled
	case *redis.ClusterClient:
		return r.Options().ContextTimeoutEnabled
	case *redis.Ring:
		return r.Options().ContextTimeoutEnabled
	}
	return true // unknown implementation: nothing to check
}
