package auth

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// jwksServer is a stand-in for the account service's JWKS endpoint whose
// document and health the test controls.
type jwksServer struct {
	srv     *httptest.Server
	fetches atomic.Int64
	body    atomic.Pointer[[]byte]
	status  atomic.Int64
	hits    chan struct{}
	// block, when set, holds requests until closed or the client gives up.
	block atomic.Pointer[chan struct{}]
}

func newJWKSServer(t *testing.T, ks *KeySet) *jwksServer {
	t.Helper()
	s := &jwksServer{hits: make(chan struct{}, 64)}
	s.status.Store(http.StatusOK)
	if ks != nil {
		s.publish(ks)
	}
	s.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.fetches.Add(1)
		select {
		case s.hits <- struct{}{}:
		default:
		}
		if b := s.block.Load(); b != nil {
			select {
			case <-*b:
			case <-r.Context().Done():
				return
			}
		}
		w.WriteHeader(int(s.status.Load()))
		if body := s.body.Load(); body != nil {
			_, _ = w.Write(*body)
		}
	}))
	t.Cleanup(s.srv.Close)
	return s
}

func (s *jwksServer) publish(ks *KeySet) {
	b := ks.JWKS()
	s.body.Store(&b)
}

func (s *jwksServer) serve(status int, body string) {
	b := []byte(body)
	s.body.Store(&b)
	s.status.Store(int64(status))
}

func mustRemote(t *testing.T, s *jwksServer, clk *clock, cacheSize int) *RemoteVerifier {
	t.Helper()
	r, err := NewRemoteVerifier(RemoteConfig{
		VerifierConfig: VerifierConfig{Issuer: testIssuer, Audience: testAudience, Now: clk.Now, CacheSize: cacheSize},
		JWKSURL:        s.srv.URL + JWKSPath,
		HTTPClient:     s.srv.Client(),
	})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func verifyOK(t *testing.T, v Verifier, tok string, wantID int64) {
	t.Helper()
	p, err := v.Verify(context.Background(), tok)
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	if p.UserID != wantID {
		t.Fatalf("user %d, want %d", p.UserID, wantID)
	}
}

func expectFetches(t *testing.T, s *jwksServer, want int64) {
	t.Helper()
	if got := s.fetches.Load(); got != want {
		t.Fatalf("%d JWKS fetches, want %d", got, want)
	}
}

func TestRemoteFetchesLazily(t *testing.T) {
	clk := newClock()
	ks := mustKeySet(t, key(0))
	s := newJWKSServer(t, ks)
	r := mustRemote(t, s, clk, 0)
	expectFetches(t, s, 0)

	signer := mustSigner(t, ks, clk.Now)
	verifyOK(t, r, mustSign(t, signer, 1, RoleUser), 1)
	expectFetches(t, s, 1)
	verifyOK(t, r, mustSign(t, signer, 2, RoleAdmin), 2)
	expectFetches(t, s, 1)
}

func TestRemoteRefreshesOnUnknownKid(t *testing.T) {
	clk := newClock()
	before := mustKeySet(t, key(0))
	after := mustKeySet(t, key(1), key(0))
	s := newJWKSServer(t, before)
	r := mustRemote(t, s, clk, 0)
	oldTok := mustSign(t, mustSigner(t, before, clk.Now), 1, RoleUser)
	verifyOK(t, r, oldTok, 1)

	s.publish(after)
	clk.Advance(DefaultMinRefreshInterval)
	newTok := mustSign(t, mustSigner(t, after, clk.Now), 2, RoleUser)
	verifyOK(t, r, newTok, 2)
	expectFetches(t, s, 2)
	verifyOK(t, r, oldTok, 1)
	expectFetches(t, s, 2)
}

func TestRemoteUnknownKidRefreshIsRateLimited(t *testing.T) {
	clk := newClock()
	ks := mustKeySet(t, key(0))
	s := newJWKSServer(t, ks)
	r := mustRemote(t, s, clk, 0)
	verifyOK(t, r, mustSign(t, mustSigner(t, ks, clk.Now), 1, RoleUser), 1)

	stranger := mustSigner(t, mustKeySet(t, key(2)), clk.Now)
	unknown := mustSign(t, stranger, 9, RoleUser)
	expectRejected(t, r, unknown, ErrUnknownKey)
	expectFetches(t, s, 1) // the first fetch just happened

	clk.Advance(DefaultMinRefreshInterval - time.Nanosecond)
	expectRejected(t, r, unknown, ErrUnknownKey)
	expectFetches(t, s, 1)

	clk.Advance(time.Nanosecond)
	expectRejected(t, r, unknown, ErrUnknownKey)
	expectFetches(t, s, 2)

	// A burst of unknown kids once the interval has passed costs one fetch.
	clk.Advance(DefaultMinRefreshInterval)
	var wg sync.WaitGroup
	for range 16 {
		wg.Go(func() {
			_, _ = r.Verify(context.Background(), unknown)
		})
	}
	wg.Wait()
	expectFetches(t, s, 3)
}

func TestRemoteKeepsWorkingWhenIssuerGoesDown(t *testing.T) {
	clk := newClock()
	ks := mustKeySet(t, key(0))
	s := newJWKSServer(t, ks)
	r := mustRemote(t, s, clk, -1) // no token cache: every call needs the keys
	signer := mustSigner(t, ks, clk.Now)
	verifyOK(t, r, mustSign(t, signer, 1, RoleUser), 1)

	s.srv.Close()
	verifyOK(t, r, mustSign(t, signer, 2, RoleUser), 2)

	// An unknown kid now triggers a fetch that fails: that is our outage,
	// not the client's fault.
	clk.Advance(DefaultMinRefreshInterval)
	unknown := mustSign(t, mustSigner(t, mustKeySet(t, key(2)), clk.Now), 9, RoleUser)
	_, err := r.Verify(context.Background(), unknown)
	var ue *UnavailableError
	if !errors.As(err, &ue) || ue.StatusCode() != http.StatusServiceUnavailable || !errors.Is(err, ErrKeysUnavailable) {
		t.Fatalf("unknown kid while issuer down: %T %v", err, err)
	}
	if err := r.Refresh(context.Background()); err == nil {
		t.Fatal("Refresh against a closed server succeeded")
	}
	verifyOK(t, r, mustSign(t, signer, 3, RoleUser), 3)
}

func TestRemoteStartsBeforeIssuer(t *testing.T) {
	clk := newClock()
	ks := mustKeySet(t, key(0))
	s := newJWKSServer(t, nil)
	s.serve(http.StatusServiceUnavailable, "starting")
	r := mustRemote(t, s, clk, 0)
	tok := mustSign(t, mustSigner(t, ks, clk.Now), 1, RoleUser)

	for range 2 {
		_, err := r.Verify(context.Background(), tok)
		var ue *UnavailableError
		if !errors.As(err, &ue) || !errors.Is(err, ErrKeysUnavailable) || errors.Is(err, ErrUnauthorized) {
			t.Fatalf("before issuer is up: %T %v", err, err)
		}
		if !strings.Contains(errors.Unwrap(err).Error(), "status 503") {
			t.Fatalf("cause %v does not explain the failure", errors.Unwrap(err))
		}
	}
	expectFetches(t, s, 1) // the retry interval spaces attempts

	s.publish(ks)
	s.status.Store(http.StatusOK)
	clk.Advance(DefaultRetryInterval)
	verifyOK(t, r, tok, 1)
	expectFetches(t, s, 2)
}

func TestRemoteDropsTokensOfRemovedKeys(t *testing.T) {
	clk := newClock()
	both := mustKeySet(t, key(1), key(0))
	s := newJWKSServer(t, both)
	r := mustRemote(t, s, clk, 0) // token cache on
	oldTok := mustSign(t, mustSigner(t, mustKeySet(t, key(0)), clk.Now), 1, RoleUser)
	newTok := mustSign(t, mustSigner(t, both, clk.Now), 2, RoleUser)
	verifyOK(t, r, oldTok, 1)
	verifyOK(t, r, newTok, 2)
	kept := r.current(both.SigningKeyID())

	s.publish(mustKeySet(t, key(1)))
	if err := r.Refresh(context.Background()); err != nil {
		t.Fatal(err)
	}
	expectRejected(t, r, oldTok, ErrUnknownKey)
	// An unchanged key keeps its identity, so its cached tokens stay valid.
	if r.current(both.SigningKeyID()) != kept {
		t.Fatal("refresh replaced an unchanged key")
	}
	if e, ok := r.v.cache.get(newTok); !ok || e.key != kept {
		t.Fatal("token of a kept key fell out of the cache")
	}
	verifyOK(t, r, newTok, 2)
}

func TestRemoteRejectsBadDocumentsAndKeepsKeys(t *testing.T) {
	clk := newClock()
	ks := mustKeySet(t, key(0))
	s := newJWKSServer(t, ks)
	r := mustRemote(t, s, clk, -1)
	signer := mustSigner(t, ks, clk.Now)
	verifyOK(t, r, mustSign(t, signer, 1, RoleUser), 1)

	for name, body := range map[string]string{
		"not json":  "{",
		"no keys":   `{"keys":[]}`,
		"oversized": `{"keys":[],"pad":"` + strings.Repeat("x", maxJWKSBytes) + `"}`,
	} {
		s.serve(http.StatusOK, body)
		if err := r.Refresh(context.Background()); err == nil {
			t.Fatalf("%s: Refresh succeeded", name)
		}
		verifyOK(t, r, mustSign(t, signer, 2, RoleUser), 2)
	}
}

func TestRemoteFetchTimeout(t *testing.T) {
	clk := newClock()
	ks := mustKeySet(t, key(0))
	s := newJWKSServer(t, ks)
	release := make(chan struct{})
	s.block.Store(&release)
	t.Cleanup(func() { close(release) })
	r, err := NewRemoteVerifier(RemoteConfig{
		VerifierConfig: VerifierConfig{Issuer: testIssuer, Audience: testAudience, Now: clk.Now},
		JWKSURL:        s.srv.URL,
		HTTPClient:     s.srv.Client(),
		FetchTimeout:   50 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	_, err = r.Verify(context.Background(), mustSign(t, mustSigner(t, ks, clk.Now), 1, RoleUser))
	if !errors.Is(err, context.DeadlineExceeded) || !errors.Is(err, ErrKeysUnavailable) {
		t.Fatalf("hung issuer: %v", err)
	}
}

func TestRemoteWaiterCanGiveUp(t *testing.T) {
	clk := newClock()
	ks := mustKeySet(t, key(0))
	s := newJWKSServer(t, ks)
	release := make(chan struct{})
	s.block.Store(&release)
	r := mustRemote(t, s, clk, 0)
	tok := mustSign(t, mustSigner(t, ks, clk.Now), 1, RoleUser)

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		_, err := r.Verify(ctx, tok)
		done <- err
	}()
	<-s.hits // the fetch is in flight
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled waiter: %v", err)
	}
	// The fetch outlives the request that started it and still lands.
	close(release)
	clk.Advance(DefaultRetryInterval)
	verifyOK(t, r, tok, 1)
}

func TestRemoteRunRefreshesPeriodically(t *testing.T) {
	clk := newClock()
	ks := mustKeySet(t, key(0))
	s := newJWKSServer(t, ks)
	r, err := NewRemoteVerifier(RemoteConfig{
		VerifierConfig:  VerifierConfig{Issuer: testIssuer, Audience: testAudience, Now: clk.Now},
		JWKSURL:         s.srv.URL,
		HTTPClient:      s.srv.Client(),
		RefreshInterval: time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	for range 3 {
		<-s.hits
	}
	// Keys arrived without any token asking for them.
	if r.current(ks.SigningKeyID()) == nil {
		t.Fatal("Run did not load the keys")
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run: %v", err)
	}
}

func TestNewRemoteVerifierValidates(t *testing.T) {
	base := VerifierConfig{Issuer: "i", Audience: "a"}
	for _, u := range []string{"", "jwks.json", "ftp://x/jwks", "http://", "://bad"} {
		if _, err := NewRemoteVerifier(RemoteConfig{VerifierConfig: base, JWKSURL: u}); err == nil {
			t.Errorf("URL %q accepted", u)
		}
	}
	if _, err := NewRemoteVerifier(RemoteConfig{JWKSURL: "http://x/jwks"}); err == nil {
		t.Error("missing issuer and audience accepted")
	}
}

// A request arriving while a forced refresh (the one run at start-up) is still
// fetching must wait for that fetch instead of being refused by the rate limit
// and answered 503 while no keys are loaded yet.
func TestRemoteLazyWaitsForForcedRefreshInFlight(t *testing.T) {
	clk := newClock()
	ks := mustKeySet(t, key(0))
	s := newJWKSServer(t, ks)
	release := make(chan struct{})
	s.block.Store(&release)
	r := mustRemote(t, s, clk, 0)
	tok := mustSign(t, mustSigner(t, ks, clk.Now), 1, RoleUser)

	refreshed := make(chan error, 1)
	go func() { refreshed <- r.Refresh(context.Background()) }()
	<-s.hits // the forced fetch is in flight and holds the rate limit

	verified := make(chan error, 1)
	go func() {
		_, err := r.Verify(context.Background(), tok)
		verified <- err
	}()
	// Give the request time to reach the rate limit while the fetch is held;
	// before the fix it failed right there, so releasing late exposes it.
	time.Sleep(100 * time.Millisecond)
	close(release)
	if err := <-refreshed; err != nil {
		t.Fatalf("Refresh: %v", err)
	}
	if err := <-verified; err != nil {
		t.Fatalf("Verify during an in-flight refresh: %v", err)
	}
	if n := s.fetches.Load(); n != 1 {
		t.Fatalf("fetches = %d, want 1 (the waiting request must not fetch again)", n)
	}
}

// The issuer comes up just after this service's first attempt failed: a request
// inside the retry interval waits for the next allowed attempt instead of being
// refused, and is verified.
func TestRemoteFirstRequestWaitsForTheIssuer(t *testing.T) {
	clk := newClock()
	ks := mustKeySet(t, key(0))
	s := newJWKSServer(t, nil)
	s.serve(http.StatusServiceUnavailable, "starting")
	r := mustRemote(t, s, clk, 0)
	var slept []time.Duration
	r.sleep = func(_ context.Context, d time.Duration) bool {
		slept = append(slept, d)
		clk.Advance(d)
		return true
	}
	if err := r.Refresh(context.Background()); err == nil {
		t.Fatal("Refresh against a starting issuer succeeded")
	}
	s.publish(ks)
	s.status.Store(http.StatusOK)
	clk.Advance(DefaultRetryInterval / 4)
	verifyOK(t, r, mustSign(t, mustSigner(t, ks, clk.Now), 1, RoleUser), 1)
	if len(slept) != 1 || slept[0] != DefaultRetryInterval*3/4 {
		t.Fatalf("slept %v, want once for the rest of the retry interval (%v)", slept, DefaultRetryInterval*3/4)
	}
	expectFetches(t, s, 2)
}
