package bench

import (
	"context"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"os"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"
)

// User is a seeded user with a token.
type User struct {
	ID         int64
	Token      string
	Challenges []int64
	header     http.Header // Authorization, shared read-only by every target
}

// AuthHeader returns the user's request header (read-only).
func (u *User) AuthHeader() http.Header {
	if u.header == nil {
		u.header = http.Header{"Authorization": {"Bearer " + u.Token}}
	}
	return u.header
}

// Attack is one open-loop attack: Rate requests per second for Duration,
// whatever the answers' latency (vegeta adds workers when answers are slow,
// up to MaxWorkers).
type Attack struct {
	Name       string
	Rate       float64
	Duration   time.Duration
	Targeter   vegeta.Targeter
	Timeout    time.Duration // per request
	MaxWorkers uint64
	KeepBody   bool                 // keep response bodies for OnResult
	OnResult   func(*vegeta.Result) // called for every result, in one goroutine
	// Abandon, when set, is asked every second about the last second's p99
	// and success; two yeses in a row stop the attack early.
	Abandon     func(p99 time.Duration, okPct float64) bool
	Progress    io.Writer // nil: quiet
	ProgressTTY bool      // rewrite one line instead of printing many
}

// Run carries out a, stopping early (and cleanly) when ctx is cancelled. The
// whole attack is bounded by Duration plus Timeout.
func Run(ctx context.Context, a Attack) Summary {
	if a.Timeout <= 0 {
		a.Timeout = 10 * time.Second
	}
	if a.MaxWorkers == 0 {
		a.MaxWorkers = 4096
	}
	maxBody := int64(0)
	if a.KeepBody {
		maxBody = -1
	}
	// Our own client, so its connections can be closed when the attack
	// ends: every attack has a new one, and idle connections left open
	// would pile up in the server across steps (and count in its memory
	// and file descriptors).
	dialer := &net.Dialer{KeepAlive: 30 * time.Second}
	transport := &http.Transport{
		DialContext:         dialer.DialContext,
		MaxIdleConnsPerHost: int(a.MaxWorkers),
		// Bound open connections too, not only workers: a request that
		// times out closes its connection, and an overloaded server keeps
		// the other end until its handler returns.
		MaxConnsPerHost: int(a.MaxWorkers),
		IdleConnTimeout: 30 * time.Second,
	}
	defer transport.CloseIdleConnections()
	client := &http.Client{Timeout: a.Timeout, Transport: transport}
	atk := vegeta.NewAttacker(
		vegeta.Client(client),
		vegeta.Workers(uint64(min(max(a.Rate/500, 8), 256))),
		vegeta.MaxWorkers(a.MaxWorkers),
		vegeta.MaxBody(maxBody),
		vegeta.Redirects(vegeta.NoFollow),
	)
	pacer := vegeta.ConstantPacer{Freq: int(math.Round(a.Rate)), Per: time.Second}
	if a.Rate < 1 {
		pacer = vegeta.ConstantPacer{Freq: 1, Per: time.Duration(float64(time.Second) / max(a.Rate, 1e-3))}
	}
	rec := NewRecorder(int(a.Rate * a.Duration.Seconds()))
	results := atk.Attack(a.Targeter, pacer, a.Duration, a.Name)

	// Every attack ends by Duration plus Timeout: vegeta stops sending at
	// Duration and no request outlives the client's Timeout. Twice the bench
	// sat idle mid-search without its results channel closing; past this
	// bound the attack is abandoned with what it has, and the goroutines are
	// dumped so the next occurrence says where it was stuck.
	overrun := time.NewTimer(a.Duration + a.Timeout + overrunGrace)
	defer overrun.Stop()
	var window []time.Duration
	var windowOK, windowN int
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	began := time.Now()
	stopped := false
	bad := 0
	progress := func(final bool) {
		slices.Sort(window)
		p99 := Percentile(window, 99)
		ok := 100.0
		if windowN > 0 {
			ok = 100 * float64(windowOK) / float64(windowN)
		}
		if a.Abandon != nil && !final {
			if windowN == 0 { // nothing came back in a whole second
				p99, ok = a.Timeout, 0
			}
			if a.Abandon(p99, ok) {
				bad++
			} else {
				bad = 0
			}
			if bad >= 2 && !stopped {
				stopped = true
				atk.Stop()
			}
		}
		if a.Progress == nil {
			window, windowOK, windowN = window[:0], 0, 0
			return
		}
		line := fmt.Sprintf("  %-28s %5.1fs/%-4s sent %-9s last 1s: %6s/s ok %6s p99 %s",
			a.Name, time.Since(began).Seconds(), a.Duration.String(), FormatInt(int64(rec.Len())),
			FormatInt(int64(windowN)), FormatPct(ok), FormatDuration(p99))
		switch {
		case a.ProgressTTY && !final:
			fmt.Fprintf(a.Progress, "\r%-110s", line)
		case a.ProgressTTY:
			fmt.Fprintf(a.Progress, "\r%-110s\r", "")
		case final:
			// The last partial second says little.
		default:
			fmt.Fprintln(a.Progress, line)
		}
		window, windowOK, windowN = window[:0], 0, 0
	}
	for {
		select {
		case res, ok := <-results:
			if !ok {
				progress(true)
				return rec.Summary(a.Rate)
			}
			rec.Add(res.Timestamp, res.Latency, int(res.Code), res.Error)
			window = append(window, res.Latency)
			windowN++
			if res.Code >= 200 && res.Code < 300 {
				windowOK++
			}
			if a.OnResult != nil {
				a.OnResult(res)
			}
		case <-tick.C:
			progress(false)
		case <-overrun.C:
			atk.Stop()
			go func() { // let vegeta's workers finish their sends, whenever they do
				for range results {
				}
			}()
			msg := "attack overran its bound and was abandoned"
			if path, err := dumpGoroutines(a.Name); err == nil {
				msg += "; goroutines dumped to " + path
			}
			if a.Progress != nil {
				fmt.Fprintf(a.Progress, "\n  %s: %s\n", a.Name, msg)
			}
			sum := rec.Summary(a.Rate)
			if sum.Errors == nil {
				sum.Errors = map[string]int{}
			}
			sum.Errors[msg]++ // shown with the phase's errors; no request is invented
			return sum
		case <-ctx.Done():
			if !stopped {
				stopped = true
				atk.Stop()
			}
		}
	}
}

// overrunGrace is how long past Duration+Timeout an attack may take to wind
// down before Run gives up on it.
var overrunGrace = 15 * time.Second

// dumpGoroutines writes every goroutine's stack to a temporary file.
func dumpGoroutines(name string) (string, error) {
	f, err := os.CreateTemp("", "bench-overrun-"+profileSlug(name)+"-*.txt")
	if err != nil {
		return "", err
	}
	err = pprof.Lookup("goroutine").WriteTo(f, 2)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return f.Name(), err
}

// ReadTargeter returns GETs of base+path(user) with the user's token, users
// drawn from z.
func ReadTargeter(base string, path func(id int64) string, users []*User, z *Zipf) vegeta.Targeter {
	urls := make([]string, len(users))
	for i, u := range users {
		u.AuthHeader()
		urls[i] = base + path(u.ID)
	}
	return func(t *vegeta.Target) error {
		i := z.Next()
		t.Method = http.MethodGet
		t.URL = urls[i]
		t.Header = users[i].header
		t.Body = nil
		return nil
	}
}

// LogsPath is the hot read's path.
func LogsPath(id int64) string { return "/challenges/logs/" + strconv.FormatInt(id, 10) }

// CeilingPath returns the path of a ceiling handler ("fixed", "redis", "mysql").
func CeilingPath(kind string) func(id int64) string {
	prefix := "/" + kind + "/"
	return func(id int64) string { return prefix + strconv.FormatInt(id, 10) }
}

// userFromLogsURL reads the user id at the end of a logs URL.
func userFromLogsURL(u string) (int64, bool) {
	i := strings.LastIndexByte(u, '/')
	if i < 0 {
		return 0, false
	}
	id, err := strconv.ParseInt(u[i+1:], 10, 64)
	return id, err == nil
}

// UserSet records which users a targeter drew: a cold cache's first read of
// each is a miss by construction, so the distinct count bounds its hit ratio.
type UserSet struct {
	seen []atomic.Bool
	n    atomic.Int64
}

// NewUserSet is an empty set of users indexed 0..n-1 (the order of the
// users slice a targeter draws from).
func NewUserSet(n int) *UserSet { return &UserSet{seen: make([]atomic.Bool, n)} }

// Watch wraps a read targeter of users: every target's user is added.
func (s *UserSet) Watch(t vegeta.Targeter, users []*User) vegeta.Targeter {
	index := make(map[int64]int, len(users))
	for i, u := range users {
		index[u.ID] = i
	}
	return func(tgt *vegeta.Target) error {
		if err := t(tgt); err != nil {
			return err
		}
		if id, ok := userFromLogsURL(tgt.URL); ok {
			if i, ok := index[id]; ok && !s.seen[i].Swap(true) {
				s.n.Add(1)
			}
		}
		return nil
	}
}

// Count is how many distinct users were drawn.
func (s *UserSet) Count() int { return int(s.n.Load()) }
