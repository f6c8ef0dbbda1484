package platform_test

import (
	"strings"
	"testing"

	"github.com/progressive-overload/po/services/kit/config"
	"github.com/progressive-overload/po/services/kit/platform"
)

// Every form kit/redisclient reads passes validation; anything else is
// reported at start, as REDIS_URL.
func TestRedisURLForms(t *testing.T) {
	for _, u := range []string{
		"redis://127.0.0.1:6379/0",
		"rediss://user:pw@cache.example:6380/2",
		"redis+cluster://10.0.0.1:6379?addr=10.0.0.2:6379&addr=10.0.0.3:6379",
		"rediss+cluster://:pw@node-0:6379",
		"redis+sentinel://sentinel:26379?master_name=mymaster",
		"rediss+sentinel://sentinel:26379/1?master_name=mymaster&password=pw",
	} {
		env := config.FromMap(map[string]string{"REDIS_URL": u})
		if c := platform.Load(env, platform.Defaults{}); c.RedisURL != u || env.Err() != nil {
			t.Errorf("%s: got %q, %v", u, c.RedisURL, env.Err())
		}
	}
	for _, u := range []string{"http://127.0.0.1:6379", "redis+ring://a:1", "unix:///run/redis.sock", "127.0.0.1:6379"} {
		env := config.FromMap(map[string]string{"REDIS_URL": u})
		platform.Load(env, platform.Defaults{})
		if err := env.Err(); err == nil || !strings.Contains(err.Error(), "REDIS_URL") {
			t.Errorf("%s: accepted (%v)", u, err)
		}
	}
}
