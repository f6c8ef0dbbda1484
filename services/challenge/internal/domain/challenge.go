package domain

import (
	"errors"
	"fmt"
	"time"
)

// ErrInvalidUserID: a challenge needs a positive owner id. It is a caller
// bug (the id comes from a verified token), not a client input error.
var ErrInvalidUserID = errors.New("user id must be positive")

// Status is where a challenge is in its life cycle.
type Status string

// The statuses; the strings are the API's and the database's.
const (
	StatusPending   Status = "pending"   // waiting for the account service to vouch for the user
	StatusActive    Status = "active"    // validated, being trained
	StatusRejected  Status = "rejected"  // the account service refused the user; terminal
	StatusCompleted Status = "completed" // the plan was done
	StatusArchived  Status = "archived"  // put away; terminal
)

// transitions is the whole life cycle; anything absent is refused. Each
// method takes one edge: completed → active is Reopen's (a corrected log no
// longer completes the plan), never Activate's, which only answers the
// account service about a pending challenge.
var transitions = map[Status][]Status{
	StatusPending:   {StatusActive, StatusRejected, StatusArchived},
	StatusActive:    {StatusCompleted, StatusArchived},
	StatusCompleted: {StatusActive, StatusArchived},
	StatusRejected:  nil,
	StatusArchived:  nil,
}

// Statuses lists every status in life-cycle order.
func Statuses() []Status {
	return []Status{StatusPending, StatusActive, StatusRejected, StatusCompleted, StatusArchived}
}

// ParseStatus accepts exactly the API spelling.
func ParseStatus(s string) (Status, error) {
	st := Status(s)
	if !st.Valid() {
		return "", fmt.Errorf("unknown status %q: want one of pending, active, rejected, completed, archived", s)
	}
	return st, nil
}

// Valid reports whether s is one of Statuses().
func (s Status) Valid() bool {
	_, ok := transitions[s]
	return ok
}

// CanBecome reports whether the life cycle allows moving from s to to.
func (s Status) CanBecome(to Status) bool {
	for _, t := range transitions[s] {
		if t == to {
			return true
		}
	}
	return false
}

// AcceptsLogs is true while the challenge is being trained: pending counts,
// so a user can start before the account service has answered.
func (s Status) AcceptsLogs() bool { return s == StatusPending || s == StatusActive }

// Terminal reports whether no transition leaves s.
func (s Status) Terminal() bool { return s.Valid() && len(transitions[s]) == 0 }

func (s Status) String() string { return string(s) }

// ArchivableStatuses are the statuses Archive accepts, for a bulk
// "archive this user's challenges" statement that must follow the same rule.
func ArchivableStatuses() []Status {
	var out []Status
	for _, s := range Statuses() {
		if s.CanBecome(StatusArchived) {
			out = append(out, s)
		}
	}
	return out
}

// Challenge is one user's attempt at a plan. Methods that change it refuse
// what the life cycle does not allow and leave it untouched when they do.
type Challenge struct {
	id           int64
	userID       int64
	title        string
	plan         Plan
	status       Status
	statusReason string
	createdAt    time.Time
	updatedAt    time.Time
	groupID      int64 // 0: a challenge of one's own; else a participation of that group
}

// NewChallengeFromSpec starts a pending challenge; the id is assigned by
// storage (AssignID). It validates the title (1..120 characters after
// trimming, one line, valid UTF-8) and the plan together, so a create request
// learns about every invalid field in one response.
func NewChallengeFromSpec(userID int64, title string, spec PlanSpec, now time.Time) (*Challenge, error) {
	if userID <= 0 {
		return nil, ErrInvalidUserID
	}
	var errs fieldErrors
	t, msg := checkLine(title, MaxTitleLen)
	errs.addIf(FieldTitle, msg)
	plan, err := NewPlan(spec)
	if err != nil {
		var ve *ValidationError
		if !errors.As(err, &ve) {
			return nil, err
		}
		errs = append(errs, ve.Fields...)
	}
	if err := errs.err(); err != nil {
		return nil, err
	}
	return newChallenge(userID, t, plan, now), nil
}

func newChallenge(userID int64, title string, plan Plan, now time.Time) *Challenge {
	now = stamp(now)
	return &Challenge{
		userID:    userID,
		title:     title,
		plan:      plan,
		status:    StatusPending,
		createdAt: now,
		updatedAt: now,
	}
}

// stamp keeps what DATETIME(6) keeps (UTC, microseconds), so a challenge
// read back from storage equals the one that was written.
func stamp(t time.Time) time.Time { return t.UTC().Truncate(time.Microsecond) }

// UnmarshalChallengeFromDatabase rebuilds a stored challenge. It still
// checks the data: a row that breaks the rules is reported rather than
// turned into an entity that would misbehave later. The error is never a
// *ValidationError, since the fault is the store's, not the client's.
// groupID is 0 for a challenge of one's own, the group's id for a
// participation.
func UnmarshalChallengeFromDatabase(
	id, userID int64, title string, plan Plan,
	status Status, statusReason string, createdAt, updatedAt time.Time, groupID int64,
) (*Challenge, error) {
	var problems []string
	if groupID < 0 {
		problems = append(problems, "group id must not be negative")
	}
	if id <= 0 {
		problems = append(problems, "id must be positive")
	}
	if userID <= 0 {
		problems = append(problems, "user id must be positive")
	}
	t, msg := checkLine(title, MaxTitleLen)
	if msg != "" {
		problems = append(problems, "title "+msg)
	}
	if plan.IsZero() {
		problems = append(problems, "plan is missing")
	}
	if !status.Valid() {
		problems = append(problems, fmt.Sprintf("unknown status %q", status))
	}
	if createdAt.IsZero() || updatedAt.IsZero() {
		problems = append(problems, "timestamps are missing")
	}
	if len(problems) > 0 {
		return nil, fmt.Errorf("stored challenge %d is invalid: %v", id, problems)
	}
	return &Challenge{
		id:           id,
		userID:       userID,
		title:        t,
		plan:         plan,
		status:       status,
		statusReason: cleanReason(statusReason),
		createdAt:    stamp(createdAt),
		updatedAt:    stamp(updatedAt),
		groupID:      groupID,
	}, nil
}

// ID is 0 until storage assigns one.
func (c *Challenge) ID() int64 { return c.id }

// UserID is the owner.
func (c *Challenge) UserID() int64 { return c.userID }

// Title is the trimmed title.
func (c *Challenge) Title() string { return c.title }

// GroupID is the group the challenge is a participation of; 0 for a
// challenge of one's own.
func (c *Challenge) GroupID() int64 { return c.groupID }

// Plan is the challenge's plan; plans do not change once created.
func (c *Challenge) Plan() Plan { return c.plan }

// Status is the current life-cycle status.
func (c *Challenge) Status() Status { return c.status }

// StatusReason explains a rejection or archive; empty otherwise.
func (c *Challenge) StatusReason() string { return c.statusReason }

// CreatedAt is when the challenge was created (UTC).
func (c *Challenge) CreatedAt() time.Time { return c.createdAt }

// UpdatedAt is the last change (UTC); it never moves backwards.
func (c *Challenge) UpdatedAt() time.Time { return c.updatedAt }

// AcceptsLogs is true for pending and active challenges.
func (c *Challenge) AcceptsLogs() bool { return c.status.AcceptsLogs() }

// AssignID records the id storage gave a new challenge; an id is given once.
func (c *Challenge) AssignID(id int64) error {
	if id <= 0 {
		return fmt.Errorf("challenge id must be positive, got %d", id)
	}
	if c.id != 0 {
		return fmt.Errorf("challenge already has id %d", c.id)
	}
	c.id = id
	return nil
}

// Activate: pending → active, once the account service vouched for the user.
// Only from pending: a late answer must not reopen a completed challenge.
func (c *Challenge) Activate(now time.Time) error {
	if c.status != StatusPending {
		return &TransitionError{From: c.status, To: StatusActive}
	}
	return c.moveTo(StatusActive, "", now)
}

// Reject: pending → rejected, with the account service's reason. The reason
// is made to fit (valid UTF-8, one line, ≤ 255 characters) rather than
// refused, so a malformed event cannot keep a challenge pending.
func (c *Challenge) Reject(reason string, now time.Time) error {
	return c.moveTo(StatusRejected, cleanReason(reason), now)
}

// Archive: pending, active or completed → archived, which is terminal.
// Rejected challenges stay rejected so their reason stays visible.
func (c *Challenge) Archive(reason string, now time.Time) error {
	return c.moveTo(StatusArchived, cleanReason(reason), now)
}

// Complete: active → completed, only when the logs complete the plan
// (see Progress.Complete). Progress is computed here rather than taken as
// an argument so a caller cannot complete a challenge on someone else's say.
//
// zone is the user's time zone, which groups logs into sessions.
func (c *Challenge) Complete(logs []WorkoutLog, zone *time.Location, now time.Time) error {
	if !c.status.CanBecome(StatusCompleted) {
		return &TransitionError{From: c.status, To: StatusCompleted}
	}
	if !c.completes(logs, zone, now) {
		return ErrChallengeNotComplete
	}
	return c.moveTo(StatusCompleted, "", now)
}

// MayComplete reports whether any logs could complete c's plan by now, so
// that a new log need not read the others when none could. A session is a
// day (in zone) with a log; a log is never dated before the plan's start
// day in the zone it was logged in, nor later than MaxClockSkew after it
// was logged. So by now there are at most as many sessions as days from
// the start to the day of now+MaxClockSkew; two days more allow for a later
// change of the user's zone (UTC-12 to UTC+14 moves a log's day by up to
// two) and for pods whose clocks disagree by minutes. A plan with more
// sessions than that cannot be complete yet, whatever its logs.
func (c *Challenge) MayComplete(zone *time.Location, now time.Time) bool {
	days := localDay(now.Add(MaxClockSkew), zone) - c.plan.StartDate().dayNumber() + 1
	return int64(c.plan.TotalSessions()) <= days+2
}

// Reopen: completed → active, only when the logs no longer complete the plan
// (a log that completed it was corrected or deleted). Like Complete it
// computes progress itself, sessions grouped by day in zone. Rejected and
// archived challenges never reopen.
func (c *Challenge) Reopen(logs []WorkoutLog, zone *time.Location, now time.Time) error {
	if c.status != StatusCompleted {
		return &TransitionError{From: c.status, To: StatusActive}
	}
	if c.completes(logs, zone, now) {
		return ErrChallengeStillComplete
	}
	return c.moveTo(StatusActive, "", now)
}

// Resettle makes the status follow the challenge's logs after one of them
// was corrected or deleted, so that completion stays a function of the plan
// and the logs: an active challenge whose logs now complete the plan is
// completed (as a new log would complete it), a completed one whose logs no
// longer do is reopened. Pending challenges are not judged until they are
// active; rejected and archived ones are frozen (ErrChallengeClosed).
// zone is the user's time zone, which groups logs into sessions.
func (c *Challenge) Resettle(logs []WorkoutLog, zone *time.Location, now time.Time) error {
	switch c.status {
	case StatusActive:
		if err := c.Complete(logs, zone, now); err != nil && !errors.Is(err, ErrChallengeNotComplete) {
			return err
		}
	case StatusCompleted:
		if err := c.Reopen(logs, zone, now); err != nil && !errors.Is(err, ErrChallengeStillComplete) {
			return err
		}
	case StatusRejected, StatusArchived:
		return fmt.Errorf("%w: it is %s", ErrChallengeClosed, c.status)
	}
	return nil
}

// CheckCorrection says whether a log of c may be corrected or deleted:
// while the challenge is pending, active or completed (a completed one may
// reopen), never once it is rejected or archived, which are frozen. A
// corrected log, when given, must not predate the plan's start, as CheckLog
// requires of a new one, the day taken in the user's zone (nil is UTC).
func (c *Challenge) CheckCorrection(corrected *WorkoutLog, zone *time.Location) error {
	if c.status.Terminal() {
		return fmt.Errorf("%w: it is %s", ErrChallengeClosed, c.status)
	}
	if corrected != nil && DateIn(corrected.PerformedAt(), zone).Before(c.plan.StartDate()) {
		return (fieldErrors{{
			Field:   FieldPerformedAt,
			Message: "must not be before the challenge's start date " + c.plan.StartDate().String(),
		}}).err()
	}
	return nil
}

// Rename changes the title. Rejected and archived challenges are frozen;
// a completed one may still be renamed, which changes no result.
func (c *Challenge) Rename(title string, now time.Time) error {
	if c.status.Terminal() {
		return fmt.Errorf("%w: it is %s", ErrChallengeClosed, c.status)
	}
	t, msg := checkLine(title, MaxTitleLen)
	if msg != "" {
		return (fieldErrors{{Field: FieldTitle, Message: msg}}).err()
	}
	c.title = t
	c.touch(now)
	return nil
}

// CheckLog says whether log may be added: the challenge must accept logs,
// and the log must not predate the plan's start, since sessions count from
// there. The start date is a day of the user's calendar, so the log's day
// is taken in their zone (nil is UTC): someone east of UTC who starts
// "today" can log this morning.
func (c *Challenge) CheckLog(log WorkoutLog, zone *time.Location) error {
	if !c.AcceptsLogs() {
		return fmt.Errorf("%w: it is %s", ErrChallengeClosed, c.status)
	}
	if DateIn(log.PerformedAt(), zone).Before(c.plan.StartDate()) {
		return (fieldErrors{{
			Field:   FieldPerformedAt,
			Message: "must not be before the challenge's start date " + c.plan.StartDate().String(),
		}}).err()
	}
	return nil
}

// completes is the one completion rule Complete, Reopen and so Resettle
// apply: a pure function of the plan, the logs and the user's zone.
func (c *Challenge) completes(logs []WorkoutLog, zone *time.Location, now time.Time) bool {
	return ComputeProgress(c.plan, logs, zone, now).Complete
}

// Progress is ComputeProgress over the challenge's plan, sessions grouped
// by day in zone.
func (c *Challenge) Progress(logs []WorkoutLog, zone *time.Location, now time.Time) Progress {
	return ComputeProgress(c.plan, logs, zone, now)
}

func (c *Challenge) moveTo(to Status, reason string, now time.Time) error {
	if !c.status.CanBecome(to) {
		return &TransitionError{From: c.status, To: to}
	}
	c.status = to
	c.statusReason = reason
	c.touch(now)
	return nil
}

// touch never moves updatedAt backwards: pods' clocks differ slightly, and
// an update that looks older than the previous one would confuse caches and
// clients ordering by it.
func (c *Challenge) touch(now time.Time) {
	if now = stamp(now); now.After(c.updatedAt) {
		c.updatedAt = now
	}
}
