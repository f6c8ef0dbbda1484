package cache

import "github.com/redis/go-redis/v9"

// RedisOptions are the go-redis options for url the way the services use
// Redis: context deadlines bound socket reads too (or a timeout could not cut
// off a Redis that stopped answering), and a failed command is not retried
// (the caller falls back at once instead of spending its budget on a Redis
// that just failed).
func RedisOptions(url string) (*redis.Options, error) {
	o, err := redis.ParseURL(url)
	if err != nil {
		return nil, err
	}
	o.ContextTimeoutEnabled = true
	o.MaxRetries = -1
	return o, nil
}
