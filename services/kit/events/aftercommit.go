package events

import (
	"context"
	"errors"
	"fmt"
	"sync"
)

// AfterCommit registers f to run once the transaction of the Handler that
// was given ctx has committed, and before its message is acknowledged.
//
// It exists for effects that must not be seen before the handler's writes
// are: a cache entry dropped inside the transaction could be filled again
// from the old rows by a read that runs before the commit, and stay stale
// until it expires. Nothing runs when the transaction rolls back (the retry
// registers again) or when the message is a duplicate (nothing changed).
//
// Hooks run on the consumer's worker, in registration order, each with a
// context of its own bounded by HandlerTimeout. The message has committed by
// then, so a hook cannot fail it: it handles its own errors, and a panic is
// logged. A crash between the commit and the hooks loses them; use hooks only
// for effects whose loss is bounded some other way (a cache TTL, a poll).
//
// It returns an error and registers nothing when ctx is not a Handler's, or
// its transaction has already ended.
func AfterCommit(ctx context.Context, f func(ctx context.Context)) error {
	h, _ := ctx.Value(commitHooksKey{}).(*commitHooks)
	if h == nil {
		return errors.New("events: AfterCommit outside a Handler")
	}
	return h.add(f)
}

type commitHooksKey struct{}

type commitHooks struct {
	mu    sync.Mutex
	fs    []func(context.Context)
	ended bool
}

func (h *commitHooks) add(f func(context.Context)) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.ended {
		return errors.New("events: AfterCommit after the handler's transaction ended")
	}
	h.fs = append(h.fs, f)
	return nil
}

// end closes registration and returns what was registered.
func (h *commitHooks) end() []func(context.Context) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.ended = true
	fs := h.fs
	h.fs = nil
	return fs
}

// runCommitHooks runs after a successful commit. The handler's context may be
// about to expire (its deadline covers the commit), and the hooks deserve
// their full time, so each gets a fresh deadline that still carries ctx's
// values.
func (c *Consumer) runCommitHooks(ctx context.Context, sub *subscription, evt Event, h *commitHooks) {
	for _, f := range h.end() {
		func() {
			hctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), c.opts.HandlerTimeout)
			defer cancel()
			defer func() {
				if r := recover(); r != nil {
					c.log.Error("after-commit hook panicked", "queue", sub.queue, "event_id", evt.ID,
						"type", evt.Type, "error", fmt.Sprint(r))
				}
			}()
			f(hctx)
		}()
	}
}
