package adapters

import (
	"context"
	"fmt"
	"time"

	ent "github.com/progressive-overload/po/ent/challenge"
	"github.com/progressive-overload/po/services/challenge/internal/app"
)

// UserTimeZone is the zone the user's sessions are grouped in: the copy the
// account service's events keep in user_profiles, UTC for a user none has named (accounts
// from before time zones, whose days were always UTC days).
func (r *Repository) UserTimeZone(ctx context.Context, userID int64) (*time.Location, error) {
	return userTimeZone(ctx, r.client.UserProfile, userID)
}

// userTimeZone is UserTimeZone through profiles, which a transaction may be
// bound to: a transaction that holds a challenge's lock must read the zone
// on its own connection. Asking the pool for a second one while holding the
// lock deadlocked the pool under a hot challenge: every connection held by a
// writer waiting for the lock, the lock's holder waiting for a connection.
func userTimeZone(ctx context.Context, profiles *ent.UserProfileClient, userID int64) (*time.Location, error) {
	row, err := profiles.Get(ctx, userID)
	switch {
	case ent.IsNotFound(err):
		return time.UTC, nil
	case err != nil:
		return nil, fmt.Errorf("time zone of user %d: %w", userID, err)
	}
	loc, err := app.Zone(row.TimeZone)
	if err != nil {
		// Stored from an event this build cannot resolve: UTC rather than no
		// progress at all.
		return time.UTC, nil
	}
	return loc, nil
}

// SeedUserTimeZone records zone for a user no event has named yet (the
// first challenge is created before the account service has answered), with
// the zero as_of so that any event overrides it. An existing row wins.
func (r *Repository) SeedUserTimeZone(ctx context.Context, userID int64, zone string) error {
	_, err := r.client.ExecContext(ctx,
		"INSERT IGNORE INTO user_profiles (id, time_zone, as_of) VALUES (?, ?, ?)",
		userID, zone, time.Unix(0, 0).UTC())
	if err != nil {
		return fmt.Errorf("seed time zone of user %d: %w", userID, err)
	}
	return nil
}
