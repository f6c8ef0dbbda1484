package domain

import (
	"errors"
	"fmt"
	"time"
)

// Group challenges: a group has one plan, and each participant trains it in
// a Challenge of their own (a participation), so logs, progress,
// corrections, completion and validation are a challenge's. The group adds
// who takes part (Participant), how they got in (Invite) and a leaderboard
// (Standing, leaderboard.go).

// MaxGroupParticipants bounds a group's pending and active participants,
// the owner included: the leaderboard is rebuilt from MySQL in one pass
// over them and their logs, which must stay a bounded amount of work.
const MaxGroupParticipants = 1000

// Conflicts with a group's state; the HTTP layer answers 409. Each matches
// ErrGroupConflict with errors.Is.
var (
	ErrGroupConflict = errors.New("group conflict")
	// ErrJoiningClosed: the owner (or an admin) closed joining.
	ErrJoiningClosed = fmt.Errorf("%w: joining is closed", ErrGroupConflict)
	// ErrGroupFull: the invite's participant cap or the group's limit is reached.
	ErrGroupFull = fmt.Errorf("%w: the group is full", ErrGroupConflict)
	// ErrAlreadyParticipant: the user is in the group, or was: a
	// participant who left, was removed or rejected cannot come back
	// through a code (their old participation keeps their logs).
	ErrAlreadyParticipant = fmt.Errorf("%w: already a participant of this group", ErrGroupConflict)
	// ErrOwnerCannotLeave: the owner's participation holds the group
	// together (they manage it); they close joining instead of leaving.
	ErrOwnerCannotLeave = fmt.Errorf("%w: the owner cannot leave their own group", ErrGroupConflict)
)

// ErrNotParticipant: the user is not (or no longer) on the group's board:
// they left, were removed or rejected. Answered as a missing participant.
var ErrNotParticipant = errors.New("not a participant of this group")

// ErrInviteNotUsable: the code is revoked or expired. Callers answer it
// exactly as an unknown code, so codes cannot be probed.
var ErrInviteNotUsable = errors.New("invite is revoked or expired")

// Group is a challenge between people: an owner, a title and the plan every
// participant trains from the same start date.
type Group struct {
	id          int64
	ownerID     int64
	title       string
	plan        Plan
	joiningOpen bool
	createdAt   time.Time
	updatedAt   time.Time
}

// NewGroup starts a group owned by ownerID, joining open, validating the
// title and the plan together as NewChallengeFromSpec does (the same
// fields, the same 422).
func NewGroup(ownerID int64, title string, spec PlanSpec, now time.Time) (*Group, error) {
	c, err := NewChallengeFromSpec(ownerID, title, spec, now)
	if err != nil {
		return nil, err
	}
	now = stamp(now)
	return &Group{ownerID: ownerID, title: c.title, plan: c.plan, joiningOpen: true, createdAt: now, updatedAt: now}, nil
}

// UnmarshalGroupFromDatabase rebuilds a stored group, reporting a row that
// breaks the rules (never as a *ValidationError: the fault is the store's).
func UnmarshalGroupFromDatabase(id, ownerID int64, title string, plan Plan, joiningOpen bool, createdAt, updatedAt time.Time) (*Group, error) {
	var problems []string
	if id <= 0 {
		problems = append(problems, "id must be positive")
	}
	if ownerID <= 0 {
		problems = append(problems, "owner id must be positive")
	}
	t, msg := checkLine(title, MaxTitleLen)
	if msg != "" {
		problems = append(problems, "title "+msg)
	}
	if plan.IsZero() {
		problems = append(problems, "plan is missing")
	}
	if createdAt.IsZero() || updatedAt.IsZero() {
		problems = append(problems, "timestamps are missing")
	}
	if len(problems) > 0 {
		return nil, fmt.Errorf("stored group %d is invalid: %v", id, problems)
	}
	return &Group{id: id, ownerID: ownerID, title: t, plan: plan, joiningOpen: joiningOpen,
		createdAt: stamp(createdAt), updatedAt: stamp(updatedAt)}, nil
}

// ID is 0 until storage assigns one.
func (g *Group) ID() int64 { return g.id }

// OwnerID is the user who created the group.
func (g *Group) OwnerID() int64 { return g.ownerID }

// Title is the trimmed title; participations carry it too.
func (g *Group) Title() string { return g.title }

// Plan is what every participation trains; it never changes.
func (g *Group) Plan() Plan { return g.plan }

// JoiningOpen reports whether invite codes admit anyone.
func (g *Group) JoiningOpen() bool { return g.joiningOpen }

// CreatedAt is when the group was created (UTC).
func (g *Group) CreatedAt() time.Time { return g.createdAt }

// UpdatedAt is the last change (UTC); it never moves backwards.
func (g *Group) UpdatedAt() time.Time { return g.updatedAt }

// AssignID records the id storage gave a new group; an id is given once.
func (g *Group) AssignID(id int64) error {
	if id <= 0 {
		return fmt.Errorf("group id must be positive, got %d", id)
	}
	if g.id != 0 {
		return fmt.Errorf("group already has id %d", g.id)
	}
	g.id = id
	return nil
}

// IsOwner reports whether userID owns the group.
func (g *Group) IsOwner(userID int64) bool { return userID > 0 && userID == g.ownerID }

// SetJoiningOpen opens or closes joining; it reports whether that changed
// anything.
func (g *Group) SetJoiningOpen(open bool, now time.Time) bool {
	if g.joiningOpen == open {
		return false
	}
	g.joiningOpen = open
	if now = stamp(now); now.After(g.updatedAt) {
		g.updatedAt = now
	}
	return true
}

// NewParticipation is userID's own challenge on the group's plan, start
// date included (a late joiner is behind: that is the point), pending until
// the account service vouches for the user. Its title is the group's.
func (g *Group) NewParticipation(userID int64, now time.Time) (*Challenge, error) {
	if userID <= 0 {
		return nil, ErrInvalidUserID
	}
	if g.id <= 0 {
		return nil, errors.New("the group has no id yet")
	}
	c := newChallenge(userID, g.title, g.plan, now)
	c.groupID = g.id
	return c, nil
}

// CheckJoin says whether userID may join through inv: joining must be open
// (ErrJoiningClosed), the code usable (ErrInviteNotUsable), the user new to
// the group (ErrAlreadyParticipant, whatever the status of their earlier
// participation) and the group below the invite's cap and MaxGroupParticipants
// (ErrGroupFull). onBoard is the group's pending and active participants.
func (g *Group) CheckJoin(inv *Invite, existing *Participant, onBoard int, now time.Time) error {
	if inv == nil || inv.groupID != g.id || !inv.Usable(now) {
		return ErrInviteNotUsable
	}
	if !g.joiningOpen {
		return ErrJoiningClosed
	}
	if existing != nil {
		return ErrAlreadyParticipant
	}
	if onBoard >= MaxGroupParticipants || (inv.maxParticipants > 0 && onBoard >= inv.maxParticipants) {
		return ErrGroupFull
	}
	return nil
}

// ParticipantStatus is where a participation is in the group.
type ParticipantStatus string

// The statuses; the strings are the API's and the database's.
const (
	ParticipantPending  ParticipantStatus = "pending"  // waiting for the account service, like its challenge
	ParticipantActive   ParticipantStatus = "active"   // validated
	ParticipantRejected ParticipantStatus = "rejected" // the account service refused the user; terminal
	ParticipantLeft     ParticipantStatus = "left"     // left, or the account was deleted; terminal
	ParticipantRemoved  ParticipantStatus = "removed"  // removed by the owner or an admin; terminal
)

var participantTransitions = map[ParticipantStatus][]ParticipantStatus{
	ParticipantPending:  {ParticipantActive, ParticipantRejected, ParticipantLeft, ParticipantRemoved},
	ParticipantActive:   {ParticipantLeft, ParticipantRemoved},
	ParticipantRejected: nil,
	ParticipantLeft:     nil,
	ParticipantRemoved:  nil,
}

// ParticipantStatuses lists every status in life-cycle order.
func ParticipantStatuses() []ParticipantStatus {
	return []ParticipantStatus{ParticipantPending, ParticipantActive, ParticipantRejected, ParticipantLeft, ParticipantRemoved}
}

// OnBoardStatuses are the statuses whose participants are on the
// leaderboard, see the group and count towards its caps.
func OnBoardStatuses() []ParticipantStatus {
	return []ParticipantStatus{ParticipantPending, ParticipantActive}
}

// Valid reports whether s is one of ParticipantStatuses().
func (s ParticipantStatus) Valid() bool {
	_, ok := participantTransitions[s]
	return ok
}

// OnBoard is true for pending and active participants.
func (s ParticipantStatus) OnBoard() bool { return s == ParticipantPending || s == ParticipantActive }

// CanBecome reports whether the life cycle allows moving from s to to.
func (s ParticipantStatus) CanBecome(to ParticipantStatus) bool {
	for _, t := range participantTransitions[s] {
		if t == to {
			return true
		}
	}
	return false
}

// Participant is one user's place in a group, tied to their participation
// challenge.
type Participant struct {
	groupID     int64
	userID      int64
	challengeID int64
	status      ParticipantStatus
	joinedAt    time.Time
	leftAt      time.Time // zero while on the board
}

// NewParticipant is a pending participant of g whose participation is the
// stored challenge c.
func NewParticipant(g *Group, c *Challenge, now time.Time) (Participant, error) {
	if c.ID() <= 0 || c.GroupID() != g.ID() || g.ID() <= 0 {
		return Participant{}, fmt.Errorf("challenge %d is not a stored participation of group %d", c.ID(), g.ID())
	}
	return Participant{groupID: g.id, userID: c.UserID(), challengeID: c.ID(), status: ParticipantPending, joinedAt: stamp(now)}, nil
}

// UnmarshalParticipantFromDatabase rebuilds a stored participant.
func UnmarshalParticipantFromDatabase(groupID, userID, challengeID int64, status ParticipantStatus, joinedAt time.Time, leftAt *time.Time) (Participant, error) {
	if groupID <= 0 || userID <= 0 || challengeID <= 0 || !status.Valid() || joinedAt.IsZero() {
		return Participant{}, fmt.Errorf("stored participant %d of group %d is invalid (challenge %d, status %q)", userID, groupID, challengeID, status)
	}
	p := Participant{groupID: groupID, userID: userID, challengeID: challengeID, status: status, joinedAt: stamp(joinedAt)}
	if leftAt != nil {
		p.leftAt = stamp(*leftAt)
	}
	return p, nil
}

// GroupID is the group.
func (p Participant) GroupID() int64 { return p.groupID }

// UserID is the participant.
func (p Participant) UserID() int64 { return p.userID }

// ChallengeID is the participation: the participant's own challenge.
func (p Participant) ChallengeID() int64 { return p.challengeID }

// Status is where the participant is.
func (p Participant) Status() ParticipantStatus { return p.status }

// JoinedAt is when they joined (UTC).
func (p Participant) JoinedAt() time.Time { return p.joinedAt }

// LeftAt is when they left or were removed or rejected; zero while on the board.
func (p Participant) LeftAt() time.Time { return p.leftAt }

// Activate: pending → active, as the participation's challenge is.
func (p *Participant) Activate() error { return p.moveTo(ParticipantActive, time.Time{}) }

// Reject: pending → rejected, as the participation's challenge is.
func (p *Participant) Reject(now time.Time) error { return p.moveTo(ParticipantRejected, now) }

// Leave: the participant leaves (or their account was deleted). The owner
// cannot leave (ErrOwnerCannotLeave) unless their account is gone
// (ownerGone).
func (p *Participant) Leave(g *Group, ownerGone bool, now time.Time) error {
	if g.IsOwner(p.userID) && !ownerGone {
		return ErrOwnerCannotLeave
	}
	return p.moveTo(ParticipantLeft, now)
}

// Remove: the owner or an admin takes someone off the group. The owner
// cannot be removed: they would lose their own group.
func (p *Participant) Remove(g *Group, now time.Time) error {
	if g.IsOwner(p.userID) {
		return ErrOwnerCannotLeave
	}
	return p.moveTo(ParticipantRemoved, now)
}

func (p *Participant) moveTo(to ParticipantStatus, now time.Time) error {
	if !p.status.CanBecome(to) {
		if !p.status.OnBoard() {
			return ErrNotParticipant
		}
		return fmt.Errorf("%w: a %s participant cannot become %s", ErrGroupConflict, p.status, to)
	}
	p.status = to
	if !to.OnBoard() {
		p.leftAt = stamp(now)
	}
	return nil
}
