package events

import (
	"sync"

	amqp "github.com/rabbitmq/amqp091-go"
)

// returnKey names a message the way basic.return reports it: the broker
// hands back the properties and routing key but no delivery tag, so the
// message id is what ties a return to its publish.
type returnKey struct{ id, routingKey string }

// returns matches the basic.return frames of one confirm channel with the
// publishes waiting for their confirms.
//
// RabbitMQ sends a message's basic.return before its basic.ack, and the
// client's reader goroutine handles both in that order: by the time a confirm
// is seen, its return has already been handed to in. It may still sit in the
// buffer or be on its way through run, though, so a publisher calls sync
// before asking settle whether its messages came back.
type returns struct {
	in    <-chan amqp.Return
	syncs chan chan struct{}
	done  chan struct{} // closed once in is closed and drained

	mu       sync.Mutex
	inFlight map[returnKey]int // published, outcome not settled yet
	returned map[returnKey]int // of those, how many came back
}

func watchReturns(ch *amqp.Channel) *returns {
	r := &returns{
		// Buffered because the client's reader gives up on a listener that
		// does not take a return within 5s, and that message would then
		// pass as delivered.
		in:       ch.NotifyReturn(make(chan amqp.Return, 64)),
		syncs:    make(chan chan struct{}),
		done:     make(chan struct{}),
		inFlight: map[returnKey]int{},
		returned: map[returnKey]int{},
	}
	go r.run()
	return r
}

func (r *returns) run() {
	defer close(r.done)
	for {
		select {
		case ret, ok := <-r.in:
			if !ok {
				return
			}
			r.record(ret)
		case req := <-r.syncs:
			// select picks among ready cases at random, so returns still
			// buffered when the request came must be taken now.
			open := r.drain()
			close(req)
			if !open {
				return
			}
		}
	}
}

// drain records the returns already buffered and reports whether in is
// still open.
func (r *returns) drain() bool {
	for {
		select {
		case ret, ok := <-r.in:
			if !ok {
				return false
			}
			r.record(ret)
		default:
			return true
		}
	}
}

func (r *returns) record(ret amqp.Return) {
	k := returnKey{ret.MessageId, ret.RoutingKey}
	r.mu.Lock()
	defer r.mu.Unlock()
	// A return nobody waits for belongs to a publish that stopped waiting
	// for its confirm and has already reported that message as failed.
	if r.returned[k] < r.inFlight[k] {
		r.returned[k]++
	}
}

// expect registers messages about to be published; each must be settled.
func (r *returns) expect(keys []returnKey) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, k := range keys {
		r.inFlight[k]++
	}
}

// sync returns once every return that arrived before the confirms seen so
// far is recorded.
func (r *returns) sync() {
	req := make(chan struct{})
	select {
	case r.syncs <- req:
		<-req
	case <-r.done:
	}
}

// settle ends one publish of k and reports whether the broker returned it.
func (r *returns) settle(k returnKey) (returned bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.returned[k] > 0 {
		r.returned[k]--
		returned = true
	}
	if r.inFlight[k]--; r.inFlight[k] <= 0 {
		delete(r.inFlight, k)
		delete(r.returned, k)
	}
	return returned
}
