package auth

import (
	"context"
	"crypto/rsa"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sync/singleflight"
)

const (
	// DefaultFetchTimeout bounds one JWKS request, including requests that
	// wait for it on the lazy first fetch.
	DefaultFetchTimeout = 3 * time.Second
	// DefaultMinRefreshInterval is how often an unknown kid may trigger a
	// refetch: enough to pick up a rotation at once, too rare for garbage
	// kids to turn into load on the account service.
	DefaultMinRefreshInterval = 10 * time.Second
	// DefaultRetryInterval spaces attempts while no JWKS was ever fetched,
	// so a verifier started before the account service catches up quickly.
	DefaultRetryInterval = time.Second
	// DefaultRefreshInterval is Run's period.
	DefaultRefreshInterval = 5 * time.Minute

	maxJWKSBytes = 1 << 20
)

// RemoteConfig configures a RemoteVerifier.
type RemoteConfig struct {
	VerifierConfig
	JWKSURL    string       // required, http or https
	HTTPClient *http.Client // nil means a client on http.DefaultTransport
	// Zero durations take the Default* values of the same name.
	FetchTimeout       time.Duration
	MinRefreshInterval time.Duration // between unknown-kid refetches
	RetryInterval      time.Duration // between attempts while no JWKS is held
	RefreshInterval    time.Duration // Run's period
	Logger             *slog.Logger  // fetch failures at Warn; nil discards
}

// RemoteVerifier verifies tokens against a JWKS fetched over HTTP. Nothing is
// fetched until the first token needs a key, so it can be created before the
// issuer is up; after one successful fetch it keeps the last good key set for
// as long as refreshes fail. Safe for concurrent use.
type RemoteVerifier struct {
	v      *verifier
	cfg    RemoteConfig
	client *http.Client
	log    *slog.Logger

	keys atomic.Pointer[map[string]*rsa.PublicKey]
	sf   singleflight.Group

	mu          sync.Mutex
	lastAttempt time.Time
	lastErr     error
	// inflight is closed when the fetch that created it ends; a rate-limited
	// caller waits on it rather than failing while another fetch is under way.
	inflight chan struct{}
	// sleep waits d or until ctx ends (false); a test seam.
	sleep func(ctx context.Context, d time.Duration) bool
}

// NewRemoteVerifier validates cfg; it does no I/O.
func NewRemoteVerifier(cfg RemoteConfig) (*RemoteVerifier, error) {
	if err := cfg.normalize(); err != nil {
		return nil, err
	}
	u, err := url.Parse(cfg.JWKSURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("auth: JWKS URL %q is not an absolute http(s) URL", cfg.JWKSURL)
	}
	setDefault(&cfg.FetchTimeout, DefaultFetchTimeout)
	setDefault(&cfg.MinRefreshInterval, DefaultMinRefreshInterval)
	setDefault(&cfg.RetryInterval, DefaultRetryInterval)
	setDefault(&cfg.RefreshInterval, DefaultRefreshInterval)
	r := &RemoteVerifier{cfg: cfg, client: cfg.HTTPClient, log: cfg.Logger, sleep: sleepCtx}
	if r.client == nil {
		r.client = &http.Client{}
	}
	if r.log == nil {
		r.log = slog.New(slog.DiscardHandler)
	}
	r.v = newVerifier(cfg.VerifierConfig)
	r.v.current = r.current
	r.v.lookup = r.lookup
	return r, nil
}

func setDefault(d *time.Duration, def time.Duration) {
	if *d <= 0 {
		*d = def
	}
}

// Verify implements Verifier.
func (r *RemoteVerifier) Verify(ctx context.Context, token string) (Principal, error) {
	return r.v.verify(ctx, token)
}

func (r *RemoteVerifier) current(kid string) *rsa.PublicKey {
	if keys := r.keys.Load(); keys != nil {
		return (*keys)[kid]
	}
	return nil
}

var errRateLimited = errors.New("auth: JWKS refresh rate limited")

func (r *RemoteVerifier) lookup(ctx context.Context, kid string) (*rsa.PublicKey, error) {
	if k := r.current(kid); k != nil {
		return k, nil
	}
	err := r.refresh(ctx, false)
	// Look again whatever refresh said: a concurrent fetch may have brought
	// the key even when this call was rate limited.
	if k := r.current(kid); k != nil {
		return k, nil
	}
	// No keys at all and the last attempt, moments ago, failed: typically
	// this service started before the issuer, which may be up by now. Refusing
	// would fail the first requests after start-up (make run's walk-through
	// did, 0.4 s after the account service came up); wait for the attempt the
	// retry interval allows, at most one RetryInterval, and make it.
	if errors.Is(err, errRateLimited) && r.keys.Load() == nil && r.sleep(ctx, r.untilRetry()) {
		err = r.refresh(ctx, false)
		if k := r.current(kid); k != nil {
			return k, nil
		}
	}
	if errors.Is(err, errRateLimited) {
		if r.keys.Load() != nil {
			return nil, ErrUnknownKey
		}
		// No keys at all: report why the last attempt failed, if it did.
		r.mu.Lock()
		if r.lastErr != nil {
			err = r.lastErr
		}
		r.mu.Unlock()
	}
	if err != nil {
		return nil, &UnavailableError{
			Detail: "token verification keys unavailable",
			Err:    errors.Join(ErrKeysUnavailable, err),
		}
	}
	return nil, ErrUnknownKey
}

// Refresh fetches the JWKS now, ignoring the rate limit (concurrent calls
// share one request). On failure the previous keys stay in use.
func (r *RemoteVerifier) Refresh(ctx context.Context) error {
	return r.refresh(ctx, true)
}

func (r *RemoteVerifier) refresh(ctx context.Context, force bool) error {
	// Forced and lazy refreshes are separate flights so a forced one never
	// inherits a lazy one's "rate limited" answer.
	key := "lazy"
	fetchCtx := context.WithoutCancel(ctx)
	if force {
		key = "force"
		fetchCtx = ctx
	}
	ch := r.sf.DoChan(key, func() (any, error) {
		done, wait := r.startAttempt(force)
		if done == nil {
			if wait == nil {
				return nil, errRateLimited
			}
			// Another fetch (a forced refresh, say, at start-up) is under way:
			// its outcome is this caller's outcome too.
			select {
			case <-wait:
			case <-fetchCtx.Done():
				return nil, fetchCtx.Err()
			}
			r.mu.Lock()
			defer r.mu.Unlock()
			return nil, r.lastErr
		}
		// A lazy fetch serves every request waiting on it, so it must not
		// die with whichever request happened to start it.
		fctx, cancel := context.WithTimeout(fetchCtx, r.cfg.FetchTimeout)
		defer cancel()
		err := r.fetch(fctx)
		r.mu.Lock()
		r.lastErr = err
		if r.inflight == done {
			r.inflight = nil
		}
		r.mu.Unlock()
		close(done)
		return nil, err
	})
	select {
	case res := <-ch:
		return res.Err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// untilRetry is how long until startAttempt allows a lazy attempt while no
// keys are held (at most RetryInterval).
func (r *RemoteVerifier) untilRetry() time.Duration {
	r.mu.Lock()
	defer r.mu.Unlock()
	return min(r.cfg.RetryInterval, max(0, r.lastAttempt.Add(r.cfg.RetryInterval).Sub(r.v.now())))
}

func sleepCtx(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// startAttempt applies the rate limit and, when it allows the attempt,
// records it, so failed attempts count too and a down issuer is not hammered.
// An allowed attempt gets done, to close when it ends; a refused one gets the
// in-flight attempt's channel to wait on, or nil when nothing is in flight.
func (r *RemoteVerifier) startAttempt(force bool) (done, wait chan struct{}) {
	now := r.v.now()
	r.mu.Lock()
	defer r.mu.Unlock()
	interval := r.cfg.MinRefreshInterval
	if r.keys.Load() == nil {
		interval = r.cfg.RetryInterval
	}
	if !force && !r.lastAttempt.IsZero() && now.Sub(r.lastAttempt) < interval {
		return nil, r.inflight
	}
	r.lastAttempt = now
	done = make(chan struct{})
	r.inflight = done
	return done, nil
}

func (r *RemoteVerifier) fetch(ctx context.Context) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, r.cfg.JWKSURL, nil)
	if err != nil {
		return fmt.Errorf("auth: JWKS request: %w", err)
	}
	req.Header.Set("Accept", "application/json, application/jwk-set+json")
	resp, err := r.client.Do(req)
	if err != nil {
		r.log.Warn("jwks fetch failed", "url", r.cfg.JWKSURL, "err", err)
		return fmt.Errorf("auth: fetch JWKS: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		r.log.Warn("jwks fetch failed", "url", r.cfg.JWKSURL, "status", resp.StatusCode)
		return fmt.Errorf("auth: fetch JWKS: status %d", resp.StatusCode)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxJWKSBytes+1))
	if err != nil {
		return fmt.Errorf("auth: read JWKS: %w", err)
	}
	if len(body) > maxJWKSBytes {
		return fmt.Errorf("auth: JWKS larger than %d bytes", maxJWKSBytes)
	}
	keys, err := ParseJWKS(body)
	if err != nil {
		r.log.Warn("jwks rejected", "url", r.cfg.JWKSURL, "err", err)
		return err
	}
	// Reusing the previous pointer for an unchanged key keeps cached
	// verifications valid across refreshes (they compare key identity).
	if old := r.keys.Load(); old != nil {
		for kid, k := range keys {
			if prev, ok := (*old)[kid]; ok && prev.Equal(k) {
				keys[kid] = prev
			}
		}
	}
	r.keys.Store(&keys)
	r.log.Debug("jwks refreshed", "url", r.cfg.JWKSURL, "keys", len(keys))
	return nil
}

// Run refreshes the JWKS at start and then every RefreshInterval until ctx
// is done, so keys removed by the issuer stop being accepted even when no
// unknown kid forces a refresh. Optional: without it the verifier still
// fetches lazily. It returns nil when ctx is done.
func (r *RemoteVerifier) Run(ctx context.Context) error {
	t := time.NewTicker(r.cfg.RefreshInterval)
	defer t.Stop()
	for {
		// Failures are logged by fetch and the old keys stay in use.
		_ = r.Refresh(ctx)
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}
