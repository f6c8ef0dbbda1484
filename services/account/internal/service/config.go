package service

import (
	"errors"
	"math"
	"time"

	"github.com/progressive-overload/po/services/kit/config"
	"github.com/progressive-overload/po/services/kit/platform"

	"github.com/progressive-overload/po/services/account/internal/adapters"
)

// Config is the service's environment (docs/conventions.md): the platform's
// and the account service's own.
type Config struct {
	platform.Config
	RedisKeyPrefix      string
	JWTSigningKeyFile   string
	JWTPreviousKeyFiles []string
	AccessTokenTTL      time.Duration
	RefreshTokenTTL     time.Duration
	RefreshFamilyMaxAge time.Duration // absolute lifetime of a sign-in; caps RefreshTokenTTL when smaller
	AdminEmail          string
	AdminPassword       string
	LoginMaxFailures    int
	LoginLockout        time.Duration
	Argon2              adapters.Argon2Params
	// Refresh tokens are kept this long after they expired (LoadConfig
	// never returns zero, which would keep them forever).
	ExpiredRefreshTokenRetention time.Duration
}

var defaults = platform.Defaults{HTTPAddr: ":3000", DatabaseURL: "root@tcp(127.0.0.1:3306)/po_account"}

// LoadConfig reads the configuration of `account serve` and reports every
// invalid variable at once.
func LoadConfig(env *config.Env) (Config, error) {
	c := Config{Config: platform.Load(env, defaults)}
	c.RedisKeyPrefix = env.String("REDIS_KEY_PREFIX", "po:account:")
	c.JWTSigningKeyFile = env.Required("JWT_SIGNING_KEY_FILE")
	c.JWTPreviousKeyFiles = env.List("JWT_PREVIOUS_KEY_FILES")
	c.AccessTokenTTL = env.Duration("ACCESS_TOKEN_TTL", 15*time.Minute, time.Minute, 24*time.Hour)
	c.RefreshTokenTTL = env.Duration("REFRESH_TOKEN_TTL", 720*time.Hour, time.Second, 8760*time.Hour)
	c.RefreshFamilyMaxAge = env.Duration("REFRESH_FAMILY_MAX_AGE", 2160*time.Hour, time.Hour, math.MaxInt64)
	c.ExpiredRefreshTokenRetention = env.Duration("EXPIRED_REFRESH_TOKEN_RETENTION", 24*time.Hour, time.Hour, 8760*time.Hour)
	c.AdminEmail = env.String("ADMIN_EMAIL", "")
	c.AdminPassword = env.String("ADMIN_PASSWORD", "")
	c.LoginMaxFailures = env.Int("LOGIN_MAX_FAILURES", 5, 1, 1000)
	c.LoginLockout = env.Duration("LOGIN_LOCKOUT", 15*time.Minute, time.Second, 24*time.Hour)
	d := adapters.DefaultArgon2Params
	c.Argon2 = adapters.Argon2Params{
		MemoryKiB:   uint32(env.Int("PASSWORD_HASH_MEMORY_KIB", int(d.MemoryKiB), adapters.MinArgon2MemoryKiB, adapters.MaxArgon2MemoryKiB)),
		Iterations:  uint32(env.Int("PASSWORD_HASH_ITERATIONS", int(d.Iterations), 1, adapters.MaxArgon2Iterations)),
		Parallelism: uint8(env.Int("PASSWORD_HASH_PARALLELISM", int(d.Parallelism), 1, 16)),
	}
	var errs []error
	if err := env.Err(); err != nil {
		errs = append(errs, err)
	}
	if (c.AdminEmail == "") != (c.AdminPassword == "") {
		errs = append(errs, errors.New("ADMIN_EMAIL and ADMIN_PASSWORD: set both or neither"))
	}
	if err := c.Argon2.Validate(); err != nil {
		errs = append(errs, errors.New("PASSWORD_HASH_*: "+err.Error()))
	}
	return c, errors.Join(errs...)
}

// LoadMigrateConfig reads what `account migrate` needs: the database and logging.
func LoadMigrateConfig(env *config.Env) (Config, error) {
	return Config{Config: platform.LoadMigrate(env, defaults)}, env.Err()
}
