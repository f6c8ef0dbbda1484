package service

import (
	"time"

	"github.com/progressive-overload/po/services/kit/cache"
	"github.com/progressive-overload/po/services/kit/config"
	"github.com/progressive-overload/po/services/kit/platform"
)

// Config is the service's environment (docs/conventions.md): the platform's
// and the challenge service's own.
type Config struct {
	platform.Config
	JWKSURL        string
	CacheEnabled   bool
	CacheTTL       time.Duration
	CacheKeyPrefix string
	CacheTimeout   time.Duration
	CacheNearSize  int           // bytes of the in-process tier in front of Redis; 0 turns it off
	CacheNearTTL   time.Duration // how long the in-process tier keeps a value at most
}

var defaults = platform.Defaults{HTTPAddr: ":3001", DatabaseURL: "root@tcp(127.0.0.1:3306)/po_challenge"}

// LoadConfig reads the configuration of `challenge serve` and reports every
// invalid variable at once.
func LoadConfig(env *config.Env) (Config, error) {
	c := Config{
		Config:         platform.Load(env, defaults),
		JWKSURL:        env.URL("JWKS_URL", "http://127.0.0.1:3000/.well-known/jwks.json", "http", "https"),
		CacheEnabled:   env.Bool("CACHE_ENABLED", true),
		CacheTTL:       env.Duration("CACHE_TTL", 30*time.Second, time.Second, 24*time.Hour),
		CacheKeyPrefix: env.String("CACHE_KEY_PREFIX", "po:challenge:"),
		CacheTimeout:   env.Duration("CACHE_TIMEOUT", 50*time.Millisecond, time.Millisecond, 10*time.Second),
		CacheNearSize:  env.Int("CACHE_NEAR_SIZE_MB", 0, 0, 4096) << 20,
		CacheNearTTL:   env.Duration("CACHE_NEAR_TTL", cache.DefaultNearTTL, 10*time.Millisecond, time.Minute),
	}
	return c, env.Err()
}

// LoadMigrateConfig reads what `challenge migrate` needs: the database and logging.
func LoadMigrateConfig(env *config.Env) (Config, error) {
	return Config{Config: platform.LoadMigrate(env, defaults)}, env.Err()
}
