package events_test

import (
	"context"
	"database/sql"
	"sync"
	"testing"
	"time"

	"github.com/progressive-overload/po/services/kit/events"
)

// BenchmarkOutboxThroughput measures events per second from Enqueue (one
// event per committed transaction, 8 writers) through the relay and broker to
// a consumer whose handler does nothing beyond the inbox insert. One op is one
// event; events/s covers enqueue to the last ack.
func BenchmarkOutboxThroughput(b *testing.B) {
	e := newEnv(b)
	opts := e.consumerOptions(e.url)
	opts.Prefetch, opts.Concurrency = 64, 8
	e.startConsumer(opts, func(c *events.Consumer) {
		if err := c.Subscribe("bench", []string{"bench.event"}, func(context.Context, *sql.Tx, events.Event) error { return nil }); err != nil {
			b.Fatal(err)
		}
	})
	relay, _ := e.startRelay(e.publisher(e.url), events.RelayOptions{BatchSize: 200})
	evts := newEvents(b, "bench.event", b.N)
	const writers = 8
	work := make(chan events.Event, len(evts))
	for _, evt := range evts {
		work <- evt
	}
	close(work)

	b.ResetTimer()
	start := time.Now()
	var wg sync.WaitGroup
	for range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for evt := range work {
				tx, err := e.db.Begin()
				if err == nil {
					err = events.Enqueue(context.Background(), tx, evt)
				}
				if err == nil {
					err = tx.Commit()
				}
				if err != nil {
					b.Error(err)
					return
				}
				relay.Notify()
			}
		}()
	}
	wg.Wait()
	enqueued := time.Since(start)
	deadline := time.Now().Add(waitLimit)
	for e.consumed("bench.event", events.ResultOK) < b.N {
		if b.Failed() || time.Now().After(deadline) {
			b.Fatalf("%d of %d events consumed", e.consumed("bench.event", events.ResultOK), b.N)
		}
		time.Sleep(time.Millisecond)
	}
	elapsed := time.Since(start)
	b.StopTimer()
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "events/s")
	b.ReportMetric(float64(b.N)/enqueued.Seconds(), "enqueued/s")
}
