package app

import (
	"context"
	"time"

	"github.com/progressive-overload/po/services/kit/retention"
)

// PruneRefreshTokens deletes the refresh tokens that expired more than grace
// ago, used, revoked or not, and reports how many it deleted: a pass of
// kit/retention (chunks of 1,000, at most 20,000 per call: call it
// periodically).
//
// Such a token can no longer be used: Refresh refuses expired tokens. All its
// row still does is recognise reuse: a spent token presented again revokes its
// family even after it expired, which matters while a later token of that
// family is still alive. Once the row is gone the token is refused as unknown
// instead (401 all the same) and its family is left alone, so grace is how
// long after expiry reuse of a token is still detected. Live tokens and
// tokens expired less than grace ago are kept.
func (s *Application) PruneRefreshTokens(ctx context.Context, grace time.Duration) (int64, error) {
	before := s.clock().Add(-grace)
	return retention.Pass(ctx, func(ctx context.Context, limit int) (int64, error) {
		n, err := s.refresh.DeleteExpired(ctx, before, limit)
		return int64(n), err
	})
}
