package events_test

import (
	"context"
	"database/sql"
	"errors"
	"log/slog"
	"sync"
	"testing"

	"github.com/progressive-overload/po/services/kit/events"
)

// Hooks run after the commit (another connection already sees the handler's
// write), once per applied message, never for a failed attempt or a
// duplicate; a panicking hook does not stop the consumer.
func TestAfterCommit(t *testing.T) {
	e := newEnv(t)
	var (
		mu       sync.Mutex
		seen     = map[string][]int{} // event id → applied rows visible from outside, per hook run
		attempts = map[string]int{}
	)
	handler := func(ctx context.Context, tx *sql.Tx, evt events.Event) error {
		if err := recordApplied("hooks")(ctx, tx, evt); err != nil {
			return err
		}
		mu.Lock()
		attempts[evt.ID]++
		first := attempts[evt.ID] == 1
		mu.Unlock()
		err := events.AfterCommit(ctx, func(ctx context.Context) {
			// A plain read on another connection sees only committed rows.
			var n int
			if err := e.db.QueryRowContext(ctx, "SELECT COUNT(*) FROM applied WHERE event_id = ?", evt.ID).Scan(&n); err != nil {
				t.Errorf("hook query: %v", err)
			}
			mu.Lock()
			seen[evt.ID] = append(seen[evt.ID], n)
			mu.Unlock()
		})
		if err != nil {
			return err
		}
		switch {
		case evt.Type == "hook.flaky" && first:
			return errors.New("first attempt fails after registering")
		case evt.Type == "hook.panics":
			if err := events.AfterCommit(ctx, func(context.Context) { panic("hook bug") }); err != nil {
				return err
			}
		}
		return nil
	}
	opts := e.consumerOptions(e.url)
	opts.Logger = slog.New(e.logs)
	e.startConsumer(opts, func(c *events.Consumer) {
		if err := c.Subscribe("hooks", []string{"hook.*"}, handler); err != nil {
			t.Fatal(err)
		}
	})
	pub := e.publisher(e.url)
	ok, flaky, panics := newEvents(t, "hook.ok", 1)[0], newEvents(t, "hook.flaky", 1)[0], newEvents(t, "hook.panics", 1)[0]
	ctx := context.Background()
	if err := pub.Publish(ctx, ok, ok, flaky, panics); err != nil {
		t.Fatal(err)
	}
	after := newEvents(t, "hook.ok", 1)[0]
	waitFor(t, func() bool {
		return e.consumed("hook.ok", events.ResultOK)+e.consumed("hook.ok", events.ResultDuplicate) == 2 &&
			e.consumed("hook.flaky", events.ResultOK) == 1 && e.consumed("hook.panics", events.ResultOK) == 1
	}, func() string { return "the messages were not all settled" })
	// The consumer still works after the panicking hook.
	if err := pub.Publish(ctx, after); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool { return e.consumed("hook.ok", events.ResultOK) == 2 },
		func() string { return "the message after the panicking hook was not handled" })

	mu.Lock()
	defer mu.Unlock()
	for _, evt := range []events.Event{ok, flaky, panics, after} {
		if got := seen[evt.ID]; len(got) != 1 || got[0] != 1 {
			t.Errorf("%s: hook runs saw %v applied rows, want one run seeing 1", evt.Type, got)
		}
	}
	if attempts[flaky.ID] != 2 {
		t.Errorf("flaky handled %d times, want 2", attempts[flaky.ID])
	}
	if msgs := e.logs.find(slog.LevelError, "event_id", panics.ID); len(msgs) != 1 {
		t.Errorf("the hook's panic was logged as %q, want one error", msgs)
	}
	if err := events.AfterCommit(ctx, func(context.Context) {}); err == nil {
		t.Error("AfterCommit outside a handler registered a hook")
	}
}
