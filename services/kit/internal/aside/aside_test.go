package aside

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// A refused admission creates no call and leaves no trace; a reader that
// joins a queued call is not asked, since it adds no load.
func TestBlindGroupAdmit(t *testing.T) {
	var g BlindGroup[int]
	refuse := func() bool { return false }
	if c := g.Do("k", refuse, func() (int, error) { return 1, nil }); c != nil {
		t.Fatal("a refused Do returned a call")
	}
	release := make(chan struct{})
	running := g.Do("k", nil, func() (int, error) { <-release; return 1, nil })
	var asked atomic.Int32
	admit := func() bool { asked.Add(1); return true }
	queued := g.Do("k", admit, func() (int, error) { return 2, nil })
	joined := g.Do("k", refuse, func() (int, error) { return 3, nil })
	if joined != queued || asked.Load() != 1 {
		t.Fatalf("joined %p, queued %p, admit asked %d times; want the queued call, asked once", joined, queued, asked.Load())
	}
	close(release)
	ctx := context.Background()
	if v, err, _ := running.Wait(ctx); v != 1 || err != nil {
		t.Fatalf("running: %d, %v", v, err)
	}
	if v, err, shared := joined.Wait(ctx); v != 2 || err != nil || !shared {
		t.Fatalf("queued: %d, %v, shared %v; want 2, nil, shared", v, err, shared)
	}
}

func TestRetrierPending(t *testing.T) {
	var fail atomic.Bool
	fail.Store(true)
	var sent atomic.Int32
	r := NewRetrier("test write", slog.New(slog.NewTextHandler(io.Discard, nil)), func(_ context.Context, keys []string) error {
		sent.Add(1)
		if fail.Load() {
			return errors.New("down")
		}
		return nil
	})
	defer r.Close()
	if r.Pending("a") || r.Len() != 0 {
		t.Fatal("pending before any Add")
	}
	if !r.Add([]string{"a", "b"}, time.Now().Add(time.Hour)) {
		t.Fatal("Add refused two keys")
	}
	if !r.Pending("a") || !r.Pending("b") || r.Pending("c") || r.Len() != 2 {
		t.Fatalf("pending a=%v b=%v c=%v len=%d", r.Pending("a"), r.Pending("b"), r.Pending("c"), r.Len())
	}
	for sent.Load() == 0 {
		time.Sleep(10 * time.Millisecond)
	}
	if !r.Pending("a") {
		t.Fatal("a failed retry cleared the key")
	}
	fail.Store(false)
	deadline := time.Now().Add(30 * time.Second)
	for r.Len() != 0 {
		if time.Now().After(deadline) {
			t.Fatal("the retry never succeeded")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if r.Pending("a") || r.Pending("b") {
		t.Fatal("still pending after the retry succeeded")
	}
}

func TestRetrierGivesUp(t *testing.T) {
	r := NewRetrier("test write", slog.New(slog.NewTextHandler(io.Discard, nil)), func(context.Context, []string) error {
		return errors.New("down")
	})
	defer r.Close()
	r.Add([]string{"a"}, time.Now().Add(-time.Second))
	deadline := time.Now().Add(30 * time.Second)
	for r.Pending("a") {
		if time.Now().After(deadline) {
			t.Fatal("a key past its give-up time stayed pending")
		}
		time.Sleep(10 * time.Millisecond)
	}
}
