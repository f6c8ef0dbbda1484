package app

import (
	"bytes"
	"context"
	"errors"
	"strconv"

	"github.com/progressive-overload/po/services/challenge/internal/domain"
)

// GetChallenge returns one challenge the actor may see.
func (a *Application) GetChallenge(ctx context.Context, actor Actor, id int64) (*domain.Challenge, error) {
	c, err := a.repo.GetChallenge(ctx, id)
	if err != nil {
		return nil, err
	}
	if !actor.CanAccess(c.UserID()) {
		return nil, ErrForbidden
	}
	return c, nil
}

// ListChallenges selects challenges, newest first.
type ListChallenges struct {
	UserID *int64  // admin: only this user's; user: must be themselves
	Status *string // nil: any
	Limit  *int
	Cursor string
}

// ChallengePage is one page of challenges; NextCursor is "" on the last page.
type ChallengePage struct {
	Items      []*domain.Challenge
	NextCursor string
}

// ListChallenges returns the actor's challenges, or anyone's for an admin.
func (a *Application) ListChallenges(ctx context.Context, actor Actor, q ListChallenges) (ChallengePage, error) {
	var invalid []domain.FieldError
	limit, err := pageSize(q.Limit)
	invalid = appendFieldErrors(invalid, err)
	before, err := DecodeChallengeCursor(q.Cursor)
	invalid = appendFieldErrors(invalid, err)
	f := ChallengeFilter{BeforeID: before, Limit: limit + 1}
	if q.Status != nil {
		st, err := domain.ParseStatus(*q.Status)
		if err != nil {
			invalid = append(invalid, domain.FieldError{Field: "status", Message: "must be one of pending, active, rejected, completed, archived"})
		}
		f.Status = st
	}
	if len(invalid) > 0 {
		return ChallengePage{}, &domain.ValidationError{Fields: invalid}
	}
	switch {
	case q.UserID != nil && !actor.CanAccess(*q.UserID):
		return ChallengePage{}, ErrForbidden
	case q.UserID != nil:
		f.UserID = *q.UserID
	case !actor.Admin:
		f.UserID = actor.UserID
	}
	rows, err := a.repo.ListChallenges(ctx, f)
	if err != nil {
		return ChallengePage{}, err
	}
	p := ChallengePage{Items: rows}
	if len(rows) > limit {
		p.Items = rows[:limit]
		p.NextCursor = EncodeChallengeCursor(p.Items[limit-1].ID())
	}
	return p, nil
}

func appendFieldErrors(to []domain.FieldError, err error) []domain.FieldError {
	var ve *domain.ValidationError
	if errors.As(err, &ve) {
		to = append(to, ve.Fields...)
	}
	return to
}

// UserLogs is the hot read: one user's logs across challenges, newest first,
// as the JSON of a WorkoutLogList. The first page, whatever its size, is a
// slice of one of the user's two cached first pages (firstpage.go); later
// pages come from the database.
func (a *Application) UserLogs(ctx context.Context, actor Actor, userID int64, limit *int, cursor string) ([]byte, error) {
	if !actor.CanAccess(userID) {
		return nil, ErrForbidden
	}
	n, err := pageSize(limit)
	if err != nil {
		return nil, err
	}
	after, err := DecodeLogCursor(cursor)
	if err != nil {
		return nil, err
	}
	if after == nil {
		size := firstPageSize(n)
		entry, err := a.logs.Get(ctx, userLogsKey(userID, size), func(ctx context.Context) ([]byte, error) {
			rows, err := a.repo.UserLogs(ctx, userID, nil, size+1)
			if err != nil {
				return nil, err
			}
			return encodeFirstPage(rows, size)
		})
		if err != nil {
			return nil, err
		}
		return sliceFirstPage(entry, n, size)
	}
	rows, err := a.repo.UserLogs(ctx, userID, after, n+1)
	if err != nil {
		return nil, err
	}
	return encodeLogPage(logPage(rows, n))
}

// ChallengeLogs is one challenge's logs, newest first, as the JSON of a
// WorkoutLogList.
func (a *Application) ChallengeLogs(ctx context.Context, actor Actor, challengeID int64, limit *int, cursor string) ([]byte, error) {
	n, err := pageSize(limit)
	if err != nil {
		return nil, err
	}
	after, err := DecodeLogCursor(cursor)
	if err != nil {
		return nil, err
	}
	if _, err := a.GetChallenge(ctx, actor, challengeID); err != nil {
		return nil, err
	}
	rows, err := a.repo.ChallengeLogs(ctx, challengeID, after, n+1)
	if err != nil {
		return nil, err
	}
	return encodeLogPage(logPage(rows, n))
}

// Progress is a challenge's progress as the JSON of a Progress, cached.
//
// The cached value starts with the owner's id and a newline, so a hit is
// authorized without a database read.
func (a *Application) Progress(ctx context.Context, actor Actor, challengeID int64) ([]byte, error) {
	if challengeID <= 0 {
		return nil, ErrNotFound
	}
	b, err := a.progress.Get(ctx, progressKey(challengeID), func(ctx context.Context) ([]byte, error) {
		c, logs, err := a.repo.ChallengeWithLogs(ctx, challengeID)
		if err != nil {
			return nil, err
		}
		zone, err := a.repo.UserTimeZone(ctx, c.UserID())
		if err != nil {
			return nil, err
		}
		body, err := encode(NewProgressView(c, logs, zone, a.now()))
		if err != nil {
			return nil, err
		}
		out := strconv.AppendInt(make([]byte, 0, 24+len(body)), c.UserID(), 10)
		out = append(out, '\n')
		return append(out, body...), nil
	})
	if err != nil {
		return nil, err
	}
	owner, body, ok := splitOwner(b)
	if !ok {
		// Only this code writes these keys; anything else is a bug.
		return nil, errors.New("progress cache value without owner")
	}
	if !actor.CanAccess(owner) {
		return nil, ErrForbidden
	}
	return body, nil
}

func splitOwner(b []byte) (int64, []byte, bool) {
	i := bytes.IndexByte(b, '\n')
	if i <= 0 {
		return 0, nil, false
	}
	var owner int64
	for _, ch := range b[:i] {
		if ch < '0' || ch > '9' {
			return 0, nil, false
		}
		owner = owner*10 + int64(ch-'0')
	}
	return owner, b[i+1:], true
}
