package httpserver

import (
	"errors"
	"fmt"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/progressive-overload/po/services/kit/problem"
)

// Admission control defaults (Options.MaxInFlight, Options.QueueTimeout).
//
// A request waiting deep in a handler for a database connection holds a grown
// goroutine stack (64 KiB once Fiber, ent and database/sql are on it): under
// overload thousands of them, not the heap, are what pushes a pod over its
// memory limit, and every one of them adds to everyone's latency. 256 is four
// times the MySQL pool (kit/mysqldb.MaxOpenConns = 64), so the pool stays busy
// with a queue of ready work behind it, while the deep stacks stay near 16 MiB.
// Cached reads finish in well under a millisecond, so 256 at once is far more
// than two cores keep busy (12,750 requests/s at 1 ms is 13 at once): the
// bound only bites when requests pile up waiting on something.
//
// A request beyond the bound waits in the middleware, on a shallow stack, for
// up to 100 ms: long enough to ride out a burst (with 256 requests of a few
// milliseconds each in flight, a slot frees every ten microseconds or so), yet
// twice the 50 ms p99 bound of the benchmarks (docs/benchmarks.md). A request
// that has waited that long has missed it anyway; a prompt 503 with
// Retry-After serves its client better than a still slower answer.
const (
	DefaultMaxInFlight  = 256
	DefaultQueueTimeout = 100 * time.Millisecond
)

// shedRetryAfter is the Retry-After of a shed request, in seconds: the
// smallest the header can say.
const shedRetryAfter = 1

// handlerIdle is how long a handler goroutine waits for another request
// before it exits. Idle ones take requests in turn, so they stay while traffic
// lasts and go when it falls (and before goleak looks, in tests).
const handlerIdle = 100 * time.Millisecond

// shedKey marks a request refused by admission control (for observe).
type shedKey struct{}

// admission bounds the requests handled at once.
//
// Bounding them is not enough to bound memory: the server runs one goroutine
// per connection, and a connection goroutine that once ran a handler deep
// into ent and database/sql keeps its grown stack, even while it later waits
// in line here; only a garbage collection shrinks it. Under a sustained
// overload every connection's goroutine takes its turn, so every one of them
// ends up with a deep stack. So once the inline slots (see inlineMax) are
// taken, the handlers past this middleware run on at most the rest of
// MaxInFlight handler goroutines, started as needed and reused: only
// they ever grow deep stacks, and the connection goroutines, which wait for
// them, stay shallow however many connections are open. The handoff costs
// about half a microsecond a request (BenchmarkAdmission); in a synthetic
// overload of 4,000 keep-alive connections on handlers 30 KiB deep waiting
// for a 64-slot pool, it took goroutine stacks from 250 MiB to 48 MiB, where
// a plain semaphore (requests inline, waiters in line) left them as they were.
//
// A request hands its fiber.Ctx to an idle handler goroutine through the
// unbuffered channel jobs (a non-blocking send succeeds only if one is
// waiting), starts one if fewer than MaxInFlight run, or else waits for one
// to take it (the runtime queues blocked senders in order) until the queue
// timeout passes. It then waits for its handler to finish: the Ctx is used by
// one goroutine at a time. Nothing is locked across a request, and the fast
// path allocates nothing (jobs are pooled). With no bound (max 0) handlers run
// on the connection goroutine and are only counted, for the in-flight gauge.
type admission struct {
	max int64 // handler goroutines at most; 0: no bound
	// inlineMax requests at a time run on their connection's goroutine, as
	// if there were no admission control: a quarter of MaxInFlight, taken
	// from it. Handing a request to another goroutine wakes that goroutine
	// through the scheduler, a futex call when the cores are idle: in make
	// bench, cached reads at 3,000/s cost 38% more CPU with every request
	// handed over. The deep stacks the handoff avoids only pile up when many
	// requests are in flight at once, by which time the inline slots are
	// taken and the rest go to handler goroutines.
	inlineMax int64
	inline    atomic.Int64
	timeout   time.Duration // <= 0: refuse at once when full
	jobs      chan *job
	workers   atomic.Int64 // handler goroutines running
	active    atomic.Int64 // requests being handled
	queued    atomic.Int64 // requests waiting for a handler goroutine
	shed      prometheus.Counter
}

// job is one request handed to a handler goroutine; done is signalled once
// err or panicked is set.
type job struct {
	c        *fiber.Ctx
	err      error
	panicked *handlerPanic
	done     chan struct{} // capacity 1
}

var jobPool = sync.Pool{New: func() any { return &job{done: make(chan struct{}, 1)} }}

// handlerPanic carries a handler's panic back to the request's goroutine,
// where it is raised again for the recover middleware, with the stack of the
// handler goroutine where it happened. As an error it unwraps to the panic's
// value when that is an error, so a panic with a problem renders as before.
type handlerPanic struct {
	value any
	stack []byte
}

func (p *handlerPanic) Error() string { return fmt.Sprint(p.value) }

func (p *handlerPanic) Unwrap() error {
	err, _ := p.value.(error)
	return err
}

var errHandlerExited = errors.New("handler goroutine exited (runtime.Goexit)")

func newAdmission(opts Options, reg prometheus.Registerer) *admission {
	a := &admission{timeout: opts.QueueTimeout, jobs: make(chan *job)}
	if opts.MaxInFlight > 0 {
		a.inlineMax = int64(opts.MaxInFlight) / 4
		a.max = int64(opts.MaxInFlight) - a.inlineMax
	}
	labels := prometheus.Labels{"service": opts.Service}
	a.shed = prometheus.NewCounter(prometheus.CounterOpts{
		Name:        "http_requests_shed_total",
		Help:        "HTTP requests refused with 503 because the service was handling its maximum (HTTP_MAX_IN_FLIGHT) for longer than HTTP_QUEUE_TIMEOUT.",
		ConstLabels: labels,
	})
	reg.MustRegister(a.shed,
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name:        "http_requests_in_flight",
			Help:        "HTTP requests being handled, platform endpoints (/healthz, /readyz, /metrics) excepted.",
			ConstLabels: labels,
		}, func() float64 { return float64(a.active.Load()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name:        "http_requests_queued",
			Help:        "HTTP requests waiting for one of the HTTP_MAX_IN_FLIGHT slots.",
			ConstLabels: labels,
		}, func() float64 { return float64(a.queued.Load()) }),
	)
	return a
}

// exempt are the platform endpoints, never refused: a refused /readyz would take
// the pod out of its Service just when it is busy, a refused /healthz would have
// it restarted, and a refused /metrics would hide the overload.
func exempt(path string) bool {
	return path == "/healthz" || path == "/readyz" || path == "/metrics"
}

// handle is the middleware. It runs after observe and recover, so refusals are
// counted, logged and rendered like any other error, and a handler's panic
// reaches recover.
func (a *admission) handle(c *fiber.Ctx) error {
	if exempt(c.Path()) {
		return c.Next()
	}
	if a.max == 0 {
		a.active.Add(1)
		defer a.active.Add(-1)
		return c.Next()
	}
	if a.takeInline() {
		a.active.Add(1)
		defer func() {
			a.active.Add(-1)
			a.inline.Add(-1)
		}()
		return c.Next()
	}
	j := jobPool.Get().(*job)
	j.c = c
	select {
	case a.jobs <- j:
	default:
		if a.spawn() {
			go a.work(j)
		} else if !a.wait(j) {
			j.c = nil
			jobPool.Put(j)
			a.shed.Inc()
			c.Locals(shedKey{}, true)
			return problem.Unavailable("the service is at capacity; retry after the Retry-After delay", shedRetryAfter)
		}
	}
	<-j.done
	err, panicked := j.err, j.panicked
	j.c, j.err, j.panicked = nil, nil, nil
	jobPool.Put(j)
	if panicked != nil {
		panic(panicked)
	}
	return err
}

// takeInline reserves one of the inline slots, if one is free.
func (a *admission) takeInline() bool {
	for {
		n := a.inline.Load()
		if n >= a.inlineMax {
			return false
		}
		if a.inline.CompareAndSwap(n, n+1) {
			return true
		}
	}
}

// spawn reserves a handler goroutine if fewer than max run.
func (a *admission) spawn() bool {
	for {
		n := a.workers.Load()
		if n >= a.max {
			return false
		}
		if a.workers.CompareAndSwap(n, n+1) {
			return true
		}
	}
}

// wait offers j to the handler goroutines for up to the queue timeout; false:
// none took it.
func (a *admission) wait(j *job) bool {
	if a.timeout <= 0 {
		return false
	}
	a.queued.Add(1)
	defer a.queued.Add(-1)
	t := time.NewTimer(a.timeout)
	defer t.Stop()
	select {
	case a.jobs <- j:
		return true
	case <-t.C:
		return false
	}
}

// work is a handler goroutine: it runs j, then the jobs it is handed, until
// none comes for handlerIdle.
func (a *admission) work(j *job) {
	idle := time.NewTimer(handlerIdle)
	defer idle.Stop()
	for {
		if !a.run(j) {
			return // runtime.Goexit: the goroutine is ending
		}
		idle.Reset(handlerIdle)
		select {
		case j = <-a.jobs:
		case <-idle.C:
			// A request that found no idle goroutine just now saw this one
			// counted and waits for another, at worst until its queue
			// timeout; only a goroutine idle for handlerIdle gets here, so
			// the others are busy then and the wait is what it would be.
			a.workers.Add(-1)
			return
		}
	}
}

// run handles one request and signals its goroutine, panic or not; false: the
// handler called runtime.Goexit.
func (a *admission) run(j *job) (ok bool) {
	a.active.Add(1)
	defer func() {
		a.active.Add(-1)
		if !ok {
			if v := recover(); v != nil {
				j.panicked = &handlerPanic{value: v, stack: debug.Stack()}
				ok = true
			} else {
				j.err = errHandlerExited
				a.workers.Add(-1)
			}
		}
		j.done <- struct{}{} // j belongs to the request's goroutine from here on
	}()
	j.err = j.c.Next()
	return true
}

// wasShed reports whether admission control refused the request.
func wasShed(c *fiber.Ctx) bool {
	shed, _ := c.Locals(shedKey{}).(bool)
	return shed
}
