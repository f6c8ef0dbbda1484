package app

import (
	"encoding/json"
	"time"

	"github.com/progressive-overload/po/services/challenge/internal/domain"
)

// The read models below are what the cached reads return, already encoded
// as the API's JSON (api/openapi.yaml: WorkoutLogList, Progress): the cache
// stores response bodies so a hit costs no decoding or encoding at all.

// LogView is a stored workout log as the API shows it.
type LogView struct {
	ID          int64     `json:"id"`
	ChallengeID int64     `json:"challengeId"`
	UserID      int64     `json:"userId"`
	PerformedAt time.Time `json:"performedAt"`
	Sets        int       `json:"sets"`
	Reps        int       `json:"reps"`
	Value       float64   `json:"value"`
	Note        string    `json:"note,omitempty"`
	CreatedAt   time.Time `json:"createdAt"`
}

// LogPage is one page of logs.
type LogPage struct {
	Items      []LogView `json:"items"`
	NextCursor *string   `json:"nextCursor"`
}

// logPage trims the extra row a page query fetched (limit+1) into the cursor.
func logPage(rows []LogView, limit int) LogPage {
	p := LogPage{Items: rows}
	if len(rows) > limit {
		p.Items = rows[:limit]
		last := p.Items[limit-1]
		c := EncodeLogCursor(LogCursor{PerformedAt: last.PerformedAt, ID: last.ID})
		p.NextCursor = &c
	}
	if p.Items == nil {
		p.Items = []LogView{}
	}
	return p
}

// SetView is the best set of a challenge.
type SetView struct {
	Value       float64   `json:"value"`
	Reps        int       `json:"reps"`
	PerformedAt time.Time `json:"performedAt"`
}

// ProgressView is a challenge's plan against its logs (see domain.Progress).
type ProgressView struct {
	ChallengeID           int64     `json:"challengeId"`
	UserID                int64     `json:"userId"`
	Status                string    `json:"status"`
	Exercise              string    `json:"exercise"`
	Unit                  string    `json:"unit"`
	Progression           string    `json:"progression"`
	StartDate             string    `json:"startDate"`
	EndDate               string    `json:"endDate"`
	StartValue            float64   `json:"startValue"`
	PeakTarget            float64   `json:"peakTarget"`
	SessionsDone          int       `json:"sessionsDone"`
	SessionsPlanned       int       `json:"sessionsPlanned"`
	SessionsPlannedToDate int       `json:"sessionsPlannedToDate"`
	AdherencePercent      float64   `json:"adherencePercent"`
	TargetsMet            int       `json:"targetsMet"`
	CurrentStreak         int       `json:"currentStreak"`
	MissesInARow          int       `json:"missesInARow"`
	BestSet               *SetView  `json:"bestSet"`
	EstimatedOneRepMax    *float64  `json:"estimatedOneRepMax"`
	NextSession           *int      `json:"nextSession"`
	NextTarget            *float64  `json:"nextTarget"`
	NextReps              *int      `json:"nextReps"`
	NextReason            *string   `json:"nextReason"`
	Complete              bool      `json:"complete"`
	AsOf                  time.Time `json:"asOf"`
}

// NewProgressView computes the progress of c from its logs at now, sessions
// grouped by day in zone (the user's).
func NewProgressView(c *domain.Challenge, logs []domain.WorkoutLog, zone *time.Location, now time.Time) ProgressView {
	plan := c.Plan()
	p := c.Progress(logs, zone, now)
	v := ProgressView{
		ChallengeID:           c.ID(),
		UserID:                c.UserID(),
		Status:                string(c.Status()),
		Exercise:              plan.Exercise(),
		Unit:                  string(plan.Unit()),
		Progression:           string(plan.Progression()),
		StartDate:             plan.StartDate().String(),
		EndDate:               plan.EndDate().String(),
		StartValue:            plan.StartValue(),
		PeakTarget:            plan.Peak(),
		SessionsDone:          p.SessionsDone,
		SessionsPlanned:       p.SessionsPlanned,
		SessionsPlannedToDate: p.SessionsPlannedToDate,
		AdherencePercent:      p.AdherencePercent,
		TargetsMet:            p.TargetsMet,
		CurrentStreak:         p.CurrentStreak,
		MissesInARow:          p.MissesInARow,
		EstimatedOneRepMax:    p.EstimatedOneRepMax,
		NextTarget:            p.NextTarget,
		NextReps:              p.NextReps,
		Complete:              p.Complete,
		AsOf:                  now.UTC().Truncate(time.Second),
	}
	if p.BestSet != nil {
		v.BestSet = &SetView{Value: p.BestSet.Value, Reps: p.BestSet.Reps, PerformedAt: p.BestSet.PerformedAt}
	}
	if p.NextSession > 0 {
		n := p.NextSession
		v.NextSession = &n
	}
	if p.NextReason != "" {
		r := string(p.NextReason)
		v.NextReason = &r
	}
	return v
}

func encode(v any) ([]byte, error) { return json.Marshal(v) }
