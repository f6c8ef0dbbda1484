package app

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/progressive-overload/po/services/challenge/internal/domain"
)

// The commands below apply the account service's events (docs/conventions.md).
// They run inside a transaction they do not own: the event consumer's, which
// records the message in its inbox in the same transaction, so a redelivered
// message changes nothing twice. Hence they take the repository bound to that
// transaction and, instead of invalidating the cache themselves, return what
// they made stale for DropStale once the consumer has committed.

// Status reasons the events leave on the challenges they close.
const (
	ReasonUserDeleted   = "user deleted"
	ReasonUserSuspended = "user suspended"
)

// ErrWrongOwner: an event names a challenge together with a user who does
// not own it. The event is wrong, and replaying it cannot make it right.
var ErrWrongOwner = errors.New("the challenge belongs to another user")

// TxRepository is the challenge database inside a transaction the caller
// owns and commits.
type TxRepository interface {
	// UpdateChallenge locks the challenge and lets fn change it, then stores
	// the result; ErrNotFound when there is no such challenge. An error from
	// fn is returned and nothing is stored.
	UpdateChallenge(ctx context.Context, id int64, fn func(c *domain.Challenge) error) (*domain.Challenge, error)
	// TransitionUserChallenges applies t, in one statement, to the
	// challenges of userID that t moves.
	TransitionUserChallenges(ctx context.Context, userID int64, t domain.BulkTransition) (UserChallenges, error)
	// SetUserProfile stores what p carries of the user's profile as of
	// asOf unless a newer one is stored, and reports whether the stored
	// profile changed.
	SetUserProfile(ctx context.Context, userID int64, p ProfileUpdate, asOf time.Time) (bool, error)
	// UserChallengeIDs lists the ids of the user's challenges.
	UserChallengeIDs(ctx context.Context, userID int64) ([]int64, error)

	// ParticipantOf locks the place whose participation is challengeID;
	// nil when the challenge is not a participation.
	ParticipantOf(ctx context.Context, challengeID int64) (*domain.Participant, error)
	// UserParticipants locks the user's places that are on a board
	// (pending or active), with their groups.
	UserParticipants(ctx context.Context, userID int64) ([]GroupPlace, error)
	// SaveParticipant stores a place's status and left_at.
	SaveParticipant(ctx context.Context, p domain.Participant) error
	// CloseUserGroups closes joining of the groups userID owns.
	CloseUserGroups(ctx context.Context, userID int64, now time.Time) error
}

// GroupPlace is a participant with their group.
type GroupPlace struct {
	Group       *domain.Group
	Participant domain.Participant
}

// ProfileUpdate is what an account event says of a user's profile; an
// empty member says nothing (the stored one stays, or is the default for a
// new row: UTC, no display name).
type ProfileUpdate struct {
	TimeZone    string
	DisplayName string
}

// UserChallenges is what TransitionUserChallenges found: the ids of all the
// user's challenges, and of those it changed.
type UserChallenges struct {
	All     []int64
	Changed []int64
}

// Stale names cached reads that a command changed the source of. Dropping
// them before the commit would let a concurrent read cache the old rows
// again, so the caller passes them to DropStale after its commit.
type Stale struct {
	UserLogs []int64    // users whose first page of logs is stale
	Progress []int64    // challenges whose progress is stale
	Boards   []BoardRef // leaderboard entries to bring in step with MySQL
}

// Empty reports whether nothing is stale.
func (s Stale) Empty() bool {
	return len(s.UserLogs) == 0 && len(s.Progress) == 0 && len(s.Boards) == 0
}

// DropStale invalidates s. Call it only after the transaction that made s
// stale has committed. Failures are logged: the write stands, and the cache
// retries and bounds staleness by its TTL.
func (a *Application) DropStale(ctx context.Context, s Stale) {
	keys := make([]StaleKey, 0, 2*len(s.UserLogs)+len(s.Progress))
	for _, id := range s.UserLogs {
		pages := a.userLogsKeys(id)
		keys = append(keys, pages[:]...)
	}
	for _, id := range s.Progress {
		keys = append(keys, StaleKey{a.progress, progressKey(id)})
	}
	a.drop(ctx, keys...)
	for _, b := range s.Boards {
		a.refreshBoard(ctx, b.GroupID, b.UserID)
	}
}

// ActivateChallenge applies user.validated: the account service vouched for
// the owner, so the pending challenge becomes active.
func (a *Application) ActivateChallenge(ctx context.Context, repo TxRepository, challengeID, userID int64) (Stale, error) {
	stale, err := a.answerValidation(ctx, repo, challengeID, userID, func(c *domain.Challenge) error {
		return c.Activate(a.now())
	})
	if err != nil || len(stale.Progress) == 0 {
		return stale, err
	}
	return a.settleParticipation(ctx, repo, challengeID, stale, JoinValidated, (*domain.Participant).Activate)
}

// RejectChallenge applies user.rejected: the pending challenge becomes
// rejected with the account service's reason.
func (a *Application) RejectChallenge(ctx context.Context, repo TxRepository, challengeID, userID int64, reason string) (Stale, error) {
	stale, err := a.answerValidation(ctx, repo, challengeID, userID, func(c *domain.Challenge) error {
		return c.Reject(reason, a.now())
	})
	if err != nil || len(stale.Progress) == 0 {
		return stale, err
	}
	return a.settleParticipation(ctx, repo, challengeID, stale, JoinRejected, func(p *domain.Participant) error {
		return p.Reject(a.now())
	})
}

// settleParticipation makes the place of a participation follow its
// challenge's validation (pending → active or rejected) in the same
// transaction, and names its board entry for after the commit. A place that
// moved on already (the user left meanwhile) stays as it is.
func (a *Application) settleParticipation(ctx context.Context, repo TxRepository, challengeID int64, stale Stale,
	result string, move func(p *domain.Participant) error,
) (Stale, error) {
	p, err := repo.ParticipantOf(ctx, challengeID)
	if err != nil || p == nil {
		return stale, err
	}
	if err := move(p); err != nil {
		a.log.InfoContext(ctx, "validation answer no longer applies to the participation", "challenge_id", challengeID, "err", err)
		return stale, nil
	}
	if err := repo.SaveParticipant(ctx, *p); err != nil {
		return Stale{}, err
	}
	a.countJoin(result)
	stale.Boards = append(stale.Boards, BoardRef{GroupID: p.GroupID(), UserID: p.UserID()})
	return stale, nil
}

// answerValidation applies the account service's answer about a pending
// challenge. An answer can arrive after the challenge has moved on (its user
// was deleted and it was archived, or it was deleted) and then no longer
// applies: that is the normal outcome of a race between events, not an error,
// since retrying could never change it.
func (a *Application) answerValidation(ctx context.Context, repo TxRepository, challengeID, userID int64,
	move func(c *domain.Challenge) error,
) (Stale, error) {
	changed := false
	_, err := repo.UpdateChallenge(ctx, challengeID, func(c *domain.Challenge) error {
		if c.UserID() != userID {
			return fmt.Errorf("%w: challenge %d is user %d's, the event names user %d", ErrWrongOwner, challengeID, c.UserID(), userID)
		}
		err := move(c)
		if errors.Is(err, domain.ErrInvalidTransition) {
			a.log.InfoContext(ctx, "validation answer no longer applies", "challenge_id", challengeID, "err", err)
			return nil
		}
		changed = err == nil
		return err
	})
	switch {
	case errors.Is(err, ErrNotFound):
		a.log.InfoContext(ctx, "validation answer for a deleted challenge", "challenge_id", challengeID)
		return Stale{}, nil
	case err != nil:
		return Stale{}, err
	case !changed:
		return Stale{}, nil
	}
	// The logs page shows no status, so only the progress changed.
	return Stale{Progress: []int64{challengeID}}, nil
}

// ErrUnknownTimeZone: an event names a zone this build's tz database does
// not know; replaying it cannot help.
var ErrUnknownTimeZone = errors.New("unknown time zone")

// SetUserProfile applies what an account event (user.validated,
// user.updated) carries of the user's profile as of the event's time: the
// zone that groups the user's sessions and the display name the
// leaderboards show. An event older than the stored profile's changes
// nothing, so two events on different queues cannot leave the older one in
// place; a member the event does not carry stays as it is. When the profile
// changed, every progress of the user is stale (its sessions may regroup)
// and so is their entry on every board they are on (name, sessions).
func (a *Application) SetUserProfile(ctx context.Context, repo TxRepository, userID int64, p ProfileUpdate, asOf time.Time) (Stale, error) {
	if userID <= 0 {
		return Stale{}, fmt.Errorf("%w: %d", domain.ErrInvalidUserID, userID)
	}
	if p.TimeZone != "" {
		if _, err := Zone(p.TimeZone); err != nil {
			return Stale{}, fmt.Errorf("%w: %q", ErrUnknownTimeZone, p.TimeZone)
		}
	}
	p.DisplayName = cleanDisplayName(p.DisplayName)
	// An envelope without a time is older than any other, but not older
	// than the seed of a token's zone, which it should still replace.
	if epoch := time.Unix(0, 0); asOf.Before(epoch) {
		asOf = epoch
	}
	changed, err := repo.SetUserProfile(ctx, userID, p, asOf)
	if err != nil || !changed {
		return Stale{}, err
	}
	ids, err := repo.UserChallengeIDs(ctx, userID)
	if err != nil {
		return Stale{}, err
	}
	places, err := repo.UserParticipants(ctx, userID)
	if err != nil {
		return Stale{}, err
	}
	s := Stale{Progress: ids}
	for _, pl := range places {
		s.Boards = append(s.Boards, BoardRef{GroupID: pl.Participant.GroupID(), UserID: userID})
	}
	return s, nil
}

// cleanDisplayName makes a name from an event fit what the boards show:
// valid UTF-8, one line, trimmed, at most 100 characters. Like a status
// reason it is made to fit rather than refused, so that a malformed event
// cannot hold up the zone it carries too.
func cleanDisplayName(s string) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	s = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return ' '
		}
		return r
	}, s)
	s = strings.TrimSpace(s)
	if utf8.RuneCountInString(s) > maxDisplayName {
		s = strings.TrimSpace(string([]rune(s)[:maxDisplayName]))
	}
	return s
}

// Merge is s and o together.
func (s Stale) Merge(o Stale) Stale {
	return Stale{UserLogs: append(s.UserLogs, o.UserLogs...), Progress: append(s.Progress, o.Progress...),
		Boards: append(s.Boards, o.Boards...)}
}

// ArchiveUserChallenges applies user.deleted: every challenge of the user
// that can be archived is, and every cached read of theirs is dropped, since
// nobody may read them any more.
func (a *Application) ArchiveUserChallenges(ctx context.Context, repo TxRepository, userID int64) (Stale, error) {
	if userID <= 0 {
		return Stale{}, fmt.Errorf("%w: %d", domain.ErrInvalidUserID, userID)
	}
	now := a.now()
	res, err := repo.TransitionUserChallenges(ctx, userID, domain.ArchiveAll(ReasonUserDeleted, now))
	if err != nil {
		return Stale{}, err
	}
	s := Stale{UserLogs: []int64{userID}, Progress: res.All}
	// The user leaves every group, and every board; the groups they own
	// keep going for the others, closed to new members (nobody is left to
	// manage them).
	places, err := repo.UserParticipants(ctx, userID)
	if err != nil {
		return Stale{}, err
	}
	for _, pl := range places {
		p := pl.Participant
		if err := p.Leave(pl.Group, true, now); err != nil {
			return Stale{}, err
		}
		if err := repo.SaveParticipant(ctx, p); err != nil {
			return Stale{}, err
		}
		if a.departures != nil {
			a.departures(DepartureDeleted)
		}
		s.Boards = append(s.Boards, BoardRef{GroupID: p.GroupID(), UserID: userID})
	}
	if err := repo.CloseUserGroups(ctx, userID, now); err != nil {
		return Stale{}, err
	}
	return s, nil
}

// Departure reasons, the "reason" label of challenge_group_departures_total.
const (
	DepartureLeft    = "left"    // the participant left
	DepartureRemoved = "removed" // the owner or an admin removed them
	DepartureDeleted = "deleted" // their account was deleted
)

// RejectPendingForUser applies user.suspended: the user's challenges still
// waiting for validation are rejected; the others stay as they are.
func (a *Application) RejectPendingForUser(ctx context.Context, repo TxRepository, userID int64) (Stale, error) {
	if userID <= 0 {
		return Stale{}, fmt.Errorf("%w: %d", domain.ErrInvalidUserID, userID)
	}
	res, err := repo.TransitionUserChallenges(ctx, userID, domain.RejectAll(ReasonUserSuspended, a.now()))
	if err != nil {
		return Stale{}, err
	}
	s := Stale{Progress: res.Changed}
	// A participation still pending is rejected with its challenge, and
	// leaves its board.
	for _, id := range res.Changed {
		if s, err = a.settleParticipation(ctx, repo, id, s, JoinRejected, func(p *domain.Participant) error {
			return p.Reject(a.now())
		}); err != nil {
			return Stale{}, err
		}
	}
	return s, nil
}
