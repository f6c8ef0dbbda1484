package app

import (
	"context"
	"time"
)

// PruneRefreshTokens deletes at most this many tokens per statement and
// refreshPruneMaxChunks statements per call, so a backlog is worked off over
// several calls instead of holding many row locks at once.
const (
	refreshPruneChunk     = 1000
	refreshPruneMaxChunks = 20
)

// PruneRefreshTokens deletes the refresh tokens that expired more than grace
// ago, used, revoked or not, and reports how many it deleted (at most 20,000
// per call: call it periodically).
//
// Such a token can no longer be used: Refresh refuses expired tokens. All its
// row still does is recognise reuse: a spent token presented again revokes its
// family even after it expired, which matters while a later token of that
// family is still alive. Once the row is gone the token is refused as unknown
// instead (401 all the same) and its family is left alone, so grace is how
// long after expiry reuse of a token is still detected. Live tokens and
// tokens expired less than grace ago are kept.
func (s *Service) PruneRefreshTokens(ctx context.Context, grace time.Duration) (int, error) {
	before := s.clock().Add(-grace)
	total := 0
	for range refreshPruneMaxChunks {
		n, err := s.refresh.DeleteExpired(ctx, before, refreshPruneChunk)
		total += n
		if err != nil || n < refreshPruneChunk {
			return total, err
		}
	}
	return total, nil
}
