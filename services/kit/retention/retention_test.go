package retention_test

import (
	"context"
	"errors"
	"testing"

	"github.com/progressive-overload/po/services/kit/retention"
)

func TestPassStopsAtAShortChunkAnErrorOrTheCap(t *testing.T) {
	ctx := context.Background()
	// A backlog of 2.5 chunks: two full chunks, then a short one ends the pass.
	left := int64(2*retention.Chunk + retention.Chunk/2)
	calls := 0
	n, err := retention.Pass(ctx, func(_ context.Context, limit int) (int64, error) {
		calls++
		d := min(left, int64(limit))
		left -= d
		return d, nil
	})
	if err != nil || n != 2*retention.Chunk+retention.Chunk/2 || calls != 3 {
		t.Fatalf("backlog: %d deleted in %d calls, %v", n, calls, err)
	}

	boom := errors.New("boom")
	calls = 0
	n, err = retention.Pass(ctx, func(context.Context, int) (int64, error) {
		calls++
		if calls == 2 {
			return 7, boom
		}
		return retention.Chunk, nil
	})
	if !errors.Is(err, boom) || n != retention.Chunk+7 || calls != 2 {
		t.Fatalf("failure: %d deleted in %d calls, %v", n, calls, err)
	}

	calls = 0
	n, err = retention.Pass(ctx, func(context.Context, int) (int64, error) {
		calls++
		return retention.Chunk, nil
	})
	if err != nil || calls != retention.MaxChunks || n != retention.MaxChunks*retention.Chunk {
		t.Fatalf("endless backlog: %d deleted in %d calls, %v", n, calls, err)
	}
}
