package adapters

import (
	"context"
	"database/sql"
	"encoding/hex"
	"fmt"
	"strings"
	"time"

	entsql "entgo.io/ent/dialect/sql"

	ent "github.com/progressive-overload/po/ent/challenge"
	"github.com/progressive-overload/po/ent/challenge/challengegroup"
	"github.com/progressive-overload/po/ent/challenge/groupinvite"
	"github.com/progressive-overload/po/ent/challenge/groupparticipant"
	"github.com/progressive-overload/po/ent/challenge/workoutlog"
	"github.com/progressive-overload/po/services/challenge/internal/app"
	"github.com/progressive-overload/po/services/challenge/internal/domain"
)

// onBoard are the statuses of the participants on a group's board.
var onBoard = []groupparticipant.Status{groupparticipant.StatusPending, groupparticipant.StatusActive}

func (r *Repository) CreateGroup(ctx context.Context, g *domain.Group,
	participation func(g *domain.Group) (*domain.Challenge, error),
	announce func(*domain.Challenge) []domain.Event,
) (*domain.Challenge, domain.Participant, error) {
	var (
		c *domain.Challenge
		p domain.Participant
	)
	stored := *g
	err := r.inTx(ctx, func(tx *ent.Tx) error {
		// A retried transaction (a deadlock victim) starts from the
		// unstored group again.
		attempt := *g
		plan := attempt.Plan()
		prog := plan.Spec().Progression
		row, err := tx.ChallengeGroup.Create().
			SetOwnerID(attempt.OwnerID()).
			SetTitle(attempt.Title()).
			SetExercise(plan.Exercise()).
			SetUnit(challengegroup.Unit(plan.Unit())).
			SetStartValue(plan.StartValue()).
			SetIncrement(plan.Increment()).
			SetIncrementEvery(plan.IncrementEvery()).
			SetSessionsPerWeek(plan.SessionsPerWeek()).
			SetWeeks(plan.Weeks()).
			SetProgression(challengegroup.Progression(prog.Type)).
			SetDeloadAfter(prog.DeloadAfter).
			SetDeloadPercent(prog.DeloadPercent).
			SetMinReps(prog.MinReps).
			SetMaxReps(prog.MaxReps).
			SetStartDate(plan.StartDate().Time()).
			SetJoiningOpen(attempt.JoiningOpen()).
			SetCreatedAt(attempt.CreatedAt()).
			SetUpdatedAt(attempt.UpdatedAt()).
			Save(ctx)
		if err != nil {
			return fmt.Errorf("insert group: %w", err)
		}
		if err := attempt.AssignID(row.ID); err != nil {
			return err
		}
		if c, err = participation(&attempt); err != nil {
			return err
		}
		if p, err = insertParticipation(ctx, tx, &attempt, c); err != nil {
			return err
		}
		stored = attempt
		return enqueue(ctx, tx, announce(c))
	})
	if err != nil {
		return nil, domain.Participant{}, err
	}
	*g = stored
	r.notify()
	return c, p, nil
}

// insertParticipation stores c, a new participation of g, and its place.
func insertParticipation(ctx context.Context, tx *ent.Tx, g *domain.Group, c *domain.Challenge) (domain.Participant, error) {
	if err := insertChallenge(ctx, tx, c); err != nil {
		return domain.Participant{}, err
	}
	p, err := domain.NewParticipant(g, c, c.CreatedAt())
	if err != nil {
		return domain.Participant{}, err
	}
	_, err = tx.GroupParticipant.Create().
		SetGroupID(p.GroupID()).
		SetUserID(p.UserID()).
		SetChallengeID(p.ChallengeID()).
		SetStatus(groupparticipant.Status(p.Status())).
		SetJoinedAt(p.JoinedAt()).
		Save(ctx)
	if err != nil {
		return domain.Participant{}, fmt.Errorf("insert participant: %w", err)
	}
	return p, nil
}

func (r *Repository) GetGroup(ctx context.Context, id int64) (*domain.Group, error) {
	row, err := r.client.ChallengeGroup.Get(ctx, id)
	if err != nil {
		return nil, groupNotFound(err)
	}
	return toGroup(row)
}

func (r *Repository) UpdateGroup(ctx context.Context, id int64, fn func(g *domain.Group) error) (*domain.Group, error) {
	var out *domain.Group
	err := r.inTx(ctx, func(tx *ent.Tx) error {
		row, g, err := lockGroup(ctx, tx.ChallengeGroup, id)
		if err != nil {
			return err
		}
		if err := fn(g); err != nil {
			return err
		}
		if row.JoiningOpen != g.JoiningOpen() || !row.UpdatedAt.Equal(g.UpdatedAt()) {
			err := tx.ChallengeGroup.UpdateOneID(id).
				SetJoiningOpen(g.JoiningOpen()).
				SetUpdatedAt(g.UpdatedAt()).
				Exec(ctx)
			if err != nil {
				return fmt.Errorf("update group %d: %w", id, err)
			}
		}
		out = g
		return nil
	})
	return out, err
}

func lockGroup(ctx context.Context, groups *ent.ChallengeGroupClient, id int64) (*ent.ChallengeGroup, *domain.Group, error) {
	row, err := groups.Query().Where(challengegroup.ID(id)).ForUpdate().Only(ctx)
	if err != nil {
		return nil, nil, groupNotFound(err)
	}
	g, err := toGroup(row)
	return row, g, err
}

func (r *Repository) Participant(ctx context.Context, groupID, userID int64) (*domain.Participant, error) {
	return participant(ctx, r.client.GroupParticipant, groupID, userID)
}

// participant is nil, nil when the user never joined the group.
func participant(ctx context.Context, participants *ent.GroupParticipantClient, groupID, userID int64) (*domain.Participant, error) {
	row, err := participants.Query().
		Where(groupparticipant.GroupID(groupID), groupparticipant.UserID(userID)).
		Only(ctx)
	if ent.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("participant %d of group %d: %w", userID, groupID, err)
	}
	p, err := toParticipant(row)
	return &p, err
}

func (r *Repository) CountOnBoard(ctx context.Context, groupID int64) (int, error) {
	return countOnBoard(ctx, r.client.GroupParticipant, groupID)
}

func countOnBoard(ctx context.Context, participants *ent.GroupParticipantClient, groupID int64) (int, error) {
	n, err := participants.Query().
		Where(groupparticipant.GroupID(groupID), groupparticipant.StatusIn(onBoard...)).
		Count(ctx)
	if err != nil {
		return 0, fmt.Errorf("count participants of group %d: %w", groupID, err)
	}
	return n, nil
}

func (r *Repository) JoinGroup(ctx context.Context, codeHash [32]byte, userID int64,
	fn func(g *domain.Group, inv *domain.Invite, existing *domain.Participant, onBoard int) (*domain.Challenge, error),
	announce func(*domain.Challenge) []domain.Event,
) (*domain.Challenge, domain.Participant, error) {
	var (
		c *domain.Challenge
		p domain.Participant
	)
	err := r.inTx(ctx, func(tx *ent.Tx) error {
		invRow, err := tx.GroupInvite.Query().
			Where(groupinvite.CodeHash(hex.EncodeToString(codeHash[:]))).
			Only(ctx)
		if ent.IsNotFound(err) {
			return app.ErrUnknownCode
		}
		if err != nil {
			return fmt.Errorf("find invite: %w", err)
		}
		inv, err := toInvite(invRow)
		if err != nil {
			return err
		}
		// The group's lock serializes its joins, so the count the caps are
		// checked against holds until the commit.
		_, g, err := lockGroup(ctx, tx.ChallengeGroup, inv.GroupID())
		if err != nil {
			return err
		}
		var existing *domain.Participant
		row, err := tx.GroupParticipant.Query().
			Where(groupparticipant.GroupID(g.ID()), groupparticipant.UserID(userID)).
			Only(ctx)
		switch {
		case err == nil:
			e, err := toParticipant(row)
			if err != nil {
				return err
			}
			existing = &e
		case !ent.IsNotFound(err):
			return fmt.Errorf("participant %d of group %d: %w", userID, g.ID(), err)
		}
		n, err := countOnBoard(ctx, tx.GroupParticipant, g.ID())
		if err != nil {
			return err
		}
		if c, err = fn(g, &inv, existing, n); err != nil {
			return err
		}
		if p, err = insertParticipation(ctx, tx, g, c); err != nil {
			return err
		}
		return enqueue(ctx, tx, announce(c))
	})
	if err != nil {
		return nil, domain.Participant{}, err
	}
	r.notify()
	return c, p, nil
}

func (r *Repository) ChangeParticipant(ctx context.Context, groupID, userID int64,
	fn func(g *domain.Group, p *domain.Participant) error,
) (domain.Participant, error) {
	var out domain.Participant
	err := r.inTx(ctx, func(tx *ent.Tx) error {
		_, g, err := lockGroup(ctx, tx.ChallengeGroup, groupID)
		if err != nil {
			return err
		}
		row, err := tx.GroupParticipant.Query().
			Where(groupparticipant.GroupID(groupID), groupparticipant.UserID(userID)).
			ForUpdate().
			Only(ctx)
		if ent.IsNotFound(err) {
			return app.ErrParticipantNotFound
		}
		if err != nil {
			return fmt.Errorf("participant %d of group %d: %w", userID, groupID, err)
		}
		p, err := toParticipant(row)
		if err != nil {
			return err
		}
		if err := fn(g, &p); err != nil {
			return err
		}
		out = p
		return saveParticipant(ctx, tx.GroupParticipant, p)
	})
	return out, err
}

func saveParticipant(ctx context.Context, participants *ent.GroupParticipantClient, p domain.Participant) error {
	upd := participants.Update().
		Where(groupparticipant.GroupID(p.GroupID()), groupparticipant.UserID(p.UserID())).
		SetStatus(groupparticipant.Status(p.Status()))
	if left := p.LeftAt(); !left.IsZero() {
		upd = upd.SetLeftAt(left)
	} else {
		upd = upd.ClearLeftAt()
	}
	if _, err := upd.Save(ctx); err != nil {
		return fmt.Errorf("update participant %d of group %d: %w", p.UserID(), p.GroupID(), err)
	}
	return nil
}

// UserGroups reads the groups on the (user_id, status) index of the
// participants, then their counts and the user's places: three queries for
// a page.
func (r *Repository) UserGroups(ctx context.Context, userID, beforeID int64, limit int) ([]app.GroupSummary, error) {
	q := r.client.ChallengeGroup.Query().
		Where(challengegroup.HasParticipantsWith(groupparticipant.UserID(userID), groupparticipant.StatusIn(onBoard...)))
	if beforeID > 0 {
		q = q.Where(challengegroup.IDLT(beforeID))
	}
	rows, err := q.Order(challengegroup.ByID(entsql.OrderDesc())).Limit(limit).All(ctx)
	if err != nil {
		return nil, fmt.Errorf("groups of user %d: %w", userID, err)
	}
	if len(rows) == 0 {
		return nil, nil
	}
	ids := make([]int64, len(rows))
	for i, row := range rows {
		ids[i] = row.ID
	}
	var counts []struct {
		GroupID int64 `json:"group_id"`
		Count   int   `json:"count"`
	}
	err = r.client.GroupParticipant.Query().
		Where(groupparticipant.GroupIDIn(ids...), groupparticipant.StatusIn(onBoard...)).
		GroupBy(groupparticipant.FieldGroupID).
		Aggregate(ent.Count()).
		Scan(ctx, &counts)
	if err != nil {
		return nil, fmt.Errorf("count participants: %w", err)
	}
	mine, err := r.client.GroupParticipant.Query().
		Where(groupparticipant.GroupIDIn(ids...), groupparticipant.UserID(userID)).
		All(ctx)
	if err != nil {
		return nil, fmt.Errorf("places of user %d: %w", userID, err)
	}
	countOf := make(map[int64]int, len(counts))
	for _, c := range counts {
		countOf[c.GroupID] = c.Count
	}
	challengeOf := make(map[int64]int64, len(mine))
	for _, p := range mine {
		if p.Status == groupparticipant.StatusPending || p.Status == groupparticipant.StatusActive {
			challengeOf[p.GroupID] = p.ChallengeID
		}
	}
	out := make([]app.GroupSummary, 0, len(rows))
	for _, row := range rows {
		g, err := toGroup(row)
		if err != nil {
			return nil, err
		}
		out = append(out, app.GroupSummary{Group: g, Participants: countOf[row.ID], YourChallengeID: challengeOf[row.ID]})
	}
	return out, nil
}

func (r *Repository) AddInvite(ctx context.Context, inv domain.Invite) (domain.Invite, error) {
	hash := inv.CodeHash()
	create := r.client.GroupInvite.Create().
		SetGroupID(inv.GroupID()).
		SetCodeHash(hex.EncodeToString(hash[:])).
		SetCreatedAt(inv.CreatedAt())
	if e := inv.ExpiresAt(); !e.IsZero() {
		create = create.SetExpiresAt(e)
	}
	if m := inv.MaxParticipants(); m > 0 {
		create = create.SetMaxParticipants(m)
	}
	row, err := create.Save(ctx)
	if err != nil {
		return domain.Invite{}, fmt.Errorf("insert invite: %w", err)
	}
	return inv.WithID(row.ID), nil
}

func (r *Repository) Invites(ctx context.Context, groupID, beforeID int64, limit int) ([]domain.Invite, error) {
	q := r.client.GroupInvite.Query().Where(groupinvite.GroupID(groupID))
	if beforeID > 0 {
		q = q.Where(groupinvite.IDLT(beforeID))
	}
	rows, err := q.Order(groupinvite.ByID(entsql.OrderDesc())).Limit(limit).All(ctx)
	if err != nil {
		return nil, fmt.Errorf("invites of group %d: %w", groupID, err)
	}
	out := make([]domain.Invite, 0, len(rows))
	for _, row := range rows {
		inv, err := toInvite(row)
		if err != nil {
			return nil, err
		}
		out = append(out, inv)
	}
	return out, nil
}

func (r *Repository) ChangeInvite(ctx context.Context, groupID, inviteID int64, fn func(inv *domain.Invite) error) (domain.Invite, error) {
	var out domain.Invite
	err := r.inTx(ctx, func(tx *ent.Tx) error {
		row, err := tx.GroupInvite.Query().
			Where(groupinvite.ID(inviteID), groupinvite.GroupID(groupID)).
			ForUpdate().
			Only(ctx)
		if ent.IsNotFound(err) {
			return app.ErrInviteNotFound
		}
		if err != nil {
			return fmt.Errorf("invite %d: %w", inviteID, err)
		}
		inv, err := toInvite(row)
		if err != nil {
			return err
		}
		if err := fn(&inv); err != nil {
			return err
		}
		out = inv
		if r := inv.RevokedAt(); !r.IsZero() && row.RevokedAt == nil {
			if err := tx.GroupInvite.UpdateOneID(inviteID).SetRevokedAt(r).Exec(ctx); err != nil {
				return fmt.Errorf("revoke invite %d: %w", inviteID, err)
			}
		}
		return nil
	})
	return out, err
}

// BoardMembers reads the members with their profiles and their group's
// unit in one query (a join on the participants' (group_id, user_id)
// index), then every log of their participations in one range scan each on
// (challenge_id, performed_at, id).
func (r *Repository) BoardMembers(ctx context.Context, groupID, userID int64) ([]app.BoardMember, error) {
	q := "SELECT p.user_id, p.challenge_id, p.status, p.joined_at, COALESCE(u.display_name, ''), COALESCE(u.time_zone, ''), g.unit " +
		"FROM group_participants p JOIN challenge_groups g ON g.id = p.group_id " +
		"LEFT JOIN user_profiles u ON u.id = p.user_id " +
		"WHERE p.group_id = ? AND p.status IN ('pending', 'active')"
	args := []any{groupID}
	if userID > 0 {
		q += " AND p.user_id = ?"
		args = append(args, userID)
	}
	rows, err := r.client.QueryContext(ctx, q+" ORDER BY p.id", args...)
	if err != nil {
		return nil, fmt.Errorf("members of group %d: %w", groupID, err)
	}
	members, unit, err := scanMembers(rows, groupID)
	if err != nil || len(members) == 0 {
		return nil, err
	}
	byChallenge := make(map[int64]*app.BoardMember, len(members))
	ids := make([]int64, len(members))
	for i := range members {
		ids[i] = members[i].Participant.ChallengeID()
		byChallenge[ids[i]] = &members[i]
	}
	logs, err := r.client.WorkoutLog.Query().
		Where(workoutlog.ChallengeIDIn(ids...)).
		Select(workoutlog.FieldID, workoutlog.FieldChallengeID, workoutlog.FieldPerformedAt,
			workoutlog.FieldSets, workoutlog.FieldReps, workoutlog.FieldValue).
		Order(workoutlog.ByChallengeID(), workoutlog.ByPerformedAt(), workoutlog.ByID()).
		All(ctx)
	if err != nil {
		return nil, fmt.Errorf("logs of group %d: %w", groupID, err)
	}
	for _, row := range logs {
		// Notes never leave the participant's own reads: not even loaded.
		l, err := domain.UnmarshalWorkoutLogFromDatabase(unit, domain.WorkoutLogSpec{
			PerformedAt: row.PerformedAt, Sets: row.Sets, Reps: row.Reps, Value: row.Value,
		})
		if err != nil {
			return nil, fmt.Errorf("stored log %d is invalid: %v", row.ID, err)
		}
		m := byChallenge[row.ChallengeID]
		m.Logs = append(m.Logs, l)
	}
	return members, nil
}

func scanMembers(rows *sql.Rows, groupID int64) ([]app.BoardMember, domain.Unit, error) {
	defer func() { _ = rows.Close() }()
	var (
		out  []app.BoardMember
		unit domain.Unit
	)
	for rows.Next() {
		var (
			uid, cid     int64
			status, u    string
			joined       time.Time
			name, zone   string
			participated domain.Participant
		)
		if err := rows.Scan(&uid, &cid, &status, &joined, &name, &zone, &u); err != nil {
			return nil, "", fmt.Errorf("members of group %d: %w", groupID, err)
		}
		participated, err := domain.UnmarshalParticipantFromDatabase(groupID, uid, cid, domain.ParticipantStatus(status), joined, nil)
		if err != nil {
			return nil, "", err
		}
		unit = domain.Unit(u)
		out = append(out, app.BoardMember{Participant: participated, DisplayName: name, Zone: zone})
	}
	if err := rows.Err(); err != nil {
		return nil, "", fmt.Errorf("members of group %d: %w", groupID, err)
	}
	return out, unit, nil
}

// --- in the consumer's transaction ---------------------------------------

func (r *TxRepository) ParticipantOf(ctx context.Context, challengeID int64) (*domain.Participant, error) {
	row, err := r.client.GroupParticipant.Query().
		Where(groupparticipant.ChallengeID(challengeID)).
		ForUpdate().
		Only(ctx)
	if ent.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("participant of challenge %d: %w", challengeID, err)
	}
	p, err := toParticipant(row)
	return &p, err
}

func (r *TxRepository) UserParticipants(ctx context.Context, userID int64) ([]app.GroupPlace, error) {
	rows, err := r.client.GroupParticipant.Query().
		Where(groupparticipant.UserID(userID), groupparticipant.StatusIn(onBoard...)).
		WithGroup().
		Order(groupparticipant.ByID()).
		ForUpdate().
		All(ctx)
	if err != nil {
		return nil, fmt.Errorf("places of user %d: %w", userID, err)
	}
	out := make([]app.GroupPlace, 0, len(rows))
	for _, row := range rows {
		p, err := toParticipant(row)
		if err != nil {
			return nil, err
		}
		g, err := toGroup(row.Edges.Group)
		if err != nil {
			return nil, err
		}
		out = append(out, app.GroupPlace{Group: g, Participant: p})
	}
	return out, nil
}

func (r *TxRepository) SaveParticipant(ctx context.Context, p domain.Participant) error {
	return saveParticipant(ctx, r.client.GroupParticipant, p)
}

// CloseUserGroups closes joining of the user's groups in one statement;
// updated_at never moves backwards (see TransitionUserChallenges).
func (r *TxRepository) CloseUserGroups(ctx context.Context, userID int64, now time.Time) error {
	_, err := r.tx.ExecContext(ctx,
		"UPDATE challenge_groups SET joining_open = FALSE, updated_at = GREATEST(updated_at, CAST(? AS DATETIME(6))) "+
			"WHERE owner_id = ? AND joining_open",
		now.UTC().Truncate(time.Microsecond), userID)
	if err != nil {
		return fmt.Errorf("close groups of user %d: %w", userID, err)
	}
	return nil
}

// --- rows to the domain ---------------------------------------------------

func groupNotFound(err error) error {
	if ent.IsNotFound(err) {
		return app.ErrGroupNotFound
	}
	return err
}

func toGroup(row *ent.ChallengeGroup) (*domain.Group, error) {
	if row == nil {
		return nil, fmt.Errorf("group not loaded")
	}
	plan, err := domain.NewPlan(domain.PlanSpec{
		Exercise:        row.Exercise,
		Unit:            domain.Unit(row.Unit),
		StartValue:      row.StartValue,
		Increment:       row.Increment,
		IncrementEvery:  row.IncrementEvery,
		SessionsPerWeek: row.SessionsPerWeek,
		Weeks:           row.Weeks,
		StartDate:       domain.DateOf(row.StartDate),
		Progression: domain.ProgressionSpec{
			Type:          domain.ProgressionType(row.Progression),
			DeloadAfter:   row.DeloadAfter,
			DeloadPercent: row.DeloadPercent,
			MinReps:       row.MinReps,
			MaxReps:       row.MaxReps,
		},
	})
	if err != nil {
		return nil, fmt.Errorf("stored group %d has an invalid plan: %v", row.ID, err)
	}
	return domain.UnmarshalGroupFromDatabase(row.ID, row.OwnerID, row.Title, plan, row.JoiningOpen, row.CreatedAt, row.UpdatedAt)
}

func toParticipant(row *ent.GroupParticipant) (domain.Participant, error) {
	return domain.UnmarshalParticipantFromDatabase(row.GroupID, row.UserID, row.ChallengeID,
		domain.ParticipantStatus(row.Status), row.JoinedAt, row.LeftAt)
}

func toInvite(row *ent.GroupInvite) (domain.Invite, error) {
	hash, err := hex.DecodeString(strings.TrimSpace(row.CodeHash))
	if err != nil {
		return domain.Invite{}, fmt.Errorf("stored invite %d has a bad hash", row.ID)
	}
	var expires, revoked time.Time
	if row.ExpiresAt != nil {
		expires = *row.ExpiresAt
	}
	if row.RevokedAt != nil {
		revoked = *row.RevokedAt
	}
	maxP := 0
	if row.MaxParticipants != nil {
		maxP = *row.MaxParticipants
	}
	return domain.UnmarshalInviteFromDatabase(row.ID, row.GroupID, hash, expires, maxP, revoked, row.CreatedAt)
}
