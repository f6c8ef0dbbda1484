package aside

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/progressive-overload/po/services/kit/backoff"
)

const (
	retryFirst      = 50 * time.Millisecond
	retryMax        = 2 * time.Second
	retryMaxPending = 10000
)

// Retrier re-sends writes that failed after their database commit (kit/cache's
// invalidations, kit/ranking's board drops) until Redis takes them or until their
// give-up time, after which the TTL has made them moot. Its goroutine exists only
// while something is pending, so a healthy process has none.
type Retrier struct {
	what    string // "cache invalidation": the logs' subject
	log     *slog.Logger
	send    func(ctx context.Context, keys []string) error
	mu      sync.Mutex
	pending map[string]pendingKey
	count   atomic.Int64 // len(pending), read without the lock by Pending
	seq     uint64
	running bool
	closed  bool
	stop    chan struct{}
	wg      sync.WaitGroup
}

type pendingKey struct {
	giveUp time.Time
	seq    uint64 // which add queued it last, so a success only clears what it covered
}

// NewRetrier returns a Retrier that calls send with the pending keys, all of
// them in one call, until it returns nil. what names the writes in its logs.
func NewRetrier(what string, log *slog.Logger, send func(ctx context.Context, keys []string) error) *Retrier {
	return &Retrier{
		what:    what,
		log:     log,
		send:    send,
		pending: make(map[string]pendingKey),
		stop:    make(chan struct{}),
	}
}

// Add queues keys and reports whether all of them fit.
func (r *Retrier) Add(keys []string, giveUp time.Time) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return false
	}
	r.seq++
	all := true
	for _, k := range keys {
		if _, ok := r.pending[k]; !ok && len(r.pending) >= retryMaxPending {
			all = false
			continue
		}
		r.pending[k] = pendingKey{giveUp: giveUp, seq: r.seq}
	}
	r.count.Store(int64(len(r.pending)))
	if !r.running {
		r.running = true
		r.wg.Add(1)
		go r.run()
	}
	return all
}

// Pending reports whether key waits for a retry. With nothing pending it costs
// one atomic load.
func (r *Retrier) Pending(key string) bool {
	if r.count.Load() == 0 {
		return false
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	_, ok := r.pending[key]
	return ok
}

// Len is how many keys wait for a retry.
func (r *Retrier) Len() int { return int(r.count.Load()) }

func (r *Retrier) run() {
	defer r.wg.Done()
	t := time.NewTimer(retryFirst)
	defer t.Stop()
	delays := backoff.Backoff{Min: retryFirst, Max: retryMax}
	failures := 0
	for {
		select {
		case <-r.stop:
			return
		case <-t.C:
		}
		keys, seqs := r.snapshot(time.Now())
		if keys == nil {
			return
		}
		if err := r.send(context.Background(), keys); err != nil {
			failures++
			r.log.Debug(r.what+" retry failed", "keys", len(keys), "err", err)
		} else {
			r.clear(keys, seqs)
			failures = 0
			r.log.Info(r.what+" retry succeeded", "keys", len(keys))
		}
		t.Reset(delays.Delay(failures))
	}
}

// snapshot drops keys past their give-up time and returns the rest; nil means
// nothing is left and the goroutine has been marked as gone.
func (r *Retrier) snapshot(now time.Time) ([]string, []uint64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	keys := make([]string, 0, len(r.pending))
	seqs := make([]uint64, 0, len(r.pending))
	for k, p := range r.pending {
		if now.After(p.giveUp) {
			delete(r.pending, k)
			continue
		}
		keys = append(keys, k)
		seqs = append(seqs, p.seq)
	}
	r.count.Store(int64(len(r.pending)))
	if len(keys) == 0 {
		r.running = false
		return nil, nil
	}
	return keys, seqs
}

func (r *Retrier) clear(keys []string, seqs []uint64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for i, k := range keys {
		if p, ok := r.pending[k]; ok && p.seq == seqs[i] {
			delete(r.pending, k)
		}
	}
	r.count.Store(int64(len(r.pending)))
}

// Close stops the retries and waits for the goroutine to end; what is still
// pending is dropped (later Adds are refused).
func (r *Retrier) Close() {
	r.mu.Lock()
	if !r.closed {
		r.closed = true
		close(r.stop)
	}
	r.mu.Unlock()
	r.wg.Wait()
}
