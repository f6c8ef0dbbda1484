package writequeue_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/progressive-overload/po/services/kit/writequeue"
)

// Writes of one key never overlap; writes of different keys do.
func TestOneKeyAtATime(t *testing.T) {
	q := writequeue.New[int64](200)
	var running [2]atomic.Int32
	var overlapped, together atomic.Bool
	var wg sync.WaitGroup
	for i := range 200 {
		key := int64(i % 2)
		wg.Go(func() {
			err := q.Do(context.Background(), key, func() error {
				if running[key].Add(1) > 1 {
					overlapped.Store(true)
				}
				if running[1-key].Load() > 0 {
					together.Store(true)
				}
				time.Sleep(100 * time.Microsecond)
				running[key].Add(-1)
				return nil
			})
			if err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if overlapped.Load() {
		t.Error("two writes of one key ran at once")
	}
	if !together.Load() {
		t.Error("writes of two keys never ran at once")
	}
	if n := q.Len(); n != 0 {
		t.Errorf("%d keys left after every write ended", n)
	}
}

// Writes of a key run in the order they arrived.
func TestArrivalOrder(t *testing.T) {
	q := writequeue.New[string](0)
	release := make(chan struct{})
	started := make(chan struct{})
	go q.Do(context.Background(), "k", func() error { close(started); <-release; return nil })
	<-started
	var order []int
	var mu sync.Mutex
	var wg sync.WaitGroup
	for i := range 10 {
		wg.Go(func() {
			_ = q.Do(context.Background(), "k", func() error { mu.Lock(); order = append(order, i); mu.Unlock(); return nil })
		})
		waitFor(t, func() bool { return waiting(q) == i+2 })
	}
	close(release)
	wg.Wait()
	for i, v := range order {
		if v != i {
			t.Fatalf("order %v, want arrival order", order)
		}
	}
}

// waiting is how many writes of "k" run or wait, read through ErrBusy's
// bound: a queue of bound n refuses the (n+2)th.
func waiting(q *writequeue.Queue[string]) int { return writequeue.Count(q, "k") }

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not reached in 5s")
		}
		time.Sleep(time.Millisecond)
	}
}

// A full queue refuses at once, without running the write; a place frees
// when a waiter gives up.
func TestFullQueueIsBusy(t *testing.T) {
	q := writequeue.New[string](2)
	release := make(chan struct{})
	go q.Do(context.Background(), "k", func() error { <-release; return nil })
	waitFor(t, func() bool { return writequeue.Count(q, "k") == 1 })
	ctx, cancel := context.WithCancel(context.Background())
	errs := make(chan error, 2)
	for i := range 2 {
		go func() { errs <- q.Do(ctx, "k", func() error { return nil }) }()
		waitFor(t, func() bool { return writequeue.Count(q, "k") == i+2 })
	}
	ran := false
	if err := q.Do(context.Background(), "k", func() error { ran = true; return nil }); !errors.Is(err, writequeue.ErrBusy) || ran {
		t.Fatalf("third waiter: err %v, ran %v; want ErrBusy, not run", err, ran)
	}
	if err := q.Do(context.Background(), "other", func() error { return nil }); err != nil {
		t.Fatalf("another key: %v", err)
	}
	cancel()
	for range 2 {
		if err := <-errs; !errors.Is(err, context.Canceled) {
			t.Errorf("waiter whose context ended: %v", err)
		}
	}
	done := make(chan error)
	go func() { done <- q.Do(context.Background(), "k", func() error { return nil }) }()
	waitFor(t, func() bool { return writequeue.Count(q, "k") == 2 })
	close(release)
	if err := <-done; err != nil {
		t.Fatalf("waiter after the others gave up: %v", err)
	}
	if n := q.Len(); n != 0 {
		t.Errorf("%d keys left", n)
	}
}

// fn's error is Do's; a panic in fn frees the key.
func TestErrorAndPanic(t *testing.T) {
	q := writequeue.New[int](0)
	boom := errors.New("boom")
	if err := q.Do(context.Background(), 1, func() error { return boom }); err != boom {
		t.Fatalf("err %v", err)
	}
	func() {
		defer func() { _ = recover() }()
		_ = q.Do(context.Background(), 1, func() error { panic("x") })
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := q.Do(ctx, 1, func() error { return nil }); err != nil {
		t.Fatalf("after a panic: %v", err)
	}
}
