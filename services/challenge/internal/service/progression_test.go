package service_test

import (
	"net/http"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/progressive-overload/po/services/challenge/api/client"
)

// logOn logs one session of value × reps on day (1-based from the plan's
// 2026-01-05 start) at 18:00 UTC.
func (h *harness) logOn(t *testing.T, token string, challengeID int64, day int, value float64, reps int) {
	t.Helper()
	when := time.Date(2026, 1, 4+day, 18, 0, 0, 0, time.UTC)
	r := h.Do(t, "POST", "/challenges/"+strconv.FormatInt(challengeID, 10)+"/logs", token, map[string]any{
		"performedAt": when.Format(time.RFC3339), "sets": 5, "reps": reps, "value": value,
	})
	if r.Status != http.StatusCreated {
		t.Fatalf("log day %d: %d %s", day, r.Status, r.Body)
	}
}

func (h *harness) progress(t *testing.T, token string, challengeID int64) client.Progress {
	t.Helper()
	var p client.Progress
	h.Do(t, "GET", "/challenges/"+strconv.FormatInt(challengeID, 10)+"/progress", token, nil).
		Expect(t, http.StatusOK).Decode(t, &p)
	return p
}

// StrongLifts through the API: stored, read back, replayed from MySQL with
// the next target and its reason, through the cache's invalidation.
func TestLinearProgressionEndToEnd(t *testing.T) {
	h := newHarness(t)
	tok := h.user(t, 601)
	body := squatBody()
	body["weeks"] = 12
	body["progression"] = map[string]any{"type": "linear", "deloadAfter": 3, "deloadPercent": 10}
	var c challengeJSON
	h.Do(t, "POST", "/challenges", tok, body).Expect(t, http.StatusCreated).Decode(t, &c)
	if c.Progression.Type != client.Linear || *c.Progression.DeloadAfter != 3 || *c.Progression.DeloadPercent != 10 ||
		c.Progression.MinReps != nil || c.Progression.MaxReps != nil {
		t.Fatalf("created progression %+v", c.Progression)
	}
	var again challengeJSON
	h.Do(t, "GET", "/challenges/"+strconv.FormatInt(c.Id, 10), tok, nil).Decode(t, &again)
	if !slices.Equal([]any{again.Progression.Type, *again.Progression.DeloadAfter, *again.Progression.DeloadPercent},
		[]any{client.Linear, int32(3), int32(10)}) {
		t.Fatalf("stored progression %+v", again.Progression)
	}

	p := h.progress(t, tok, c.Id)
	if *p.NextTarget != 60 || *p.NextReason != client.Start || p.Progression != client.Linear || p.NextReps != nil {
		t.Fatalf("fresh: next %v %v", *p.NextTarget, *p.NextReason)
	}
	for _, step := range []struct {
		day    int
		value  float64
		target float64
		reason client.ProgressReason
		misses int
	}{
		{1, 60, 62.5, client.IncreaseAfterMetTarget, 0},
		{3, 62.5, 65, client.IncreaseAfterMetTarget, 0},
		{5, 60, 65, client.RepeatAfterMissedTarget, 1},
		{8, 60, 65, client.RepeatAfterMissedTarget, 2},
		{10, 60, 57.5, client.DeloadAfterFailures, 3}, // 65 × 0.9 = 58.5 → 57.5
		{12, 57.5, 60, client.IncreaseAfterMetTarget, 0},
	} {
		h.logOn(t, tok, c.Id, step.day, step.value, 5)
		p := h.progress(t, tok, c.Id)
		if *p.NextTarget != step.target || *p.NextReason != step.reason || p.MissesInARow != step.misses {
			t.Fatalf("after day %d: next %v (%s), %d misses; want %v (%s), %d",
				step.day, *p.NextTarget, *p.NextReason, p.MissesInARow, step.target, step.reason, step.misses)
		}
	}
}

func TestDoubleProgressionEndToEnd(t *testing.T) {
	h := newHarness(t)
	tok := h.user(t, 602)
	body := squatBody()
	body["exercise"], body["startValue"], body["increment"] = "Dumbbell curl", 12.5, 2.5
	body["progression"] = map[string]any{"type": "double", "minReps": 8, "maxReps": 9}
	var c challengeJSON
	h.Do(t, "POST", "/challenges", tok, body).Expect(t, http.StatusCreated).Decode(t, &c)
	if p := h.progress(t, tok, c.Id); *p.NextReps != 8 || *p.NextTarget != 12.5 {
		t.Fatalf("fresh: %v × %v", *p.NextTarget, *p.NextReps)
	}
	h.logOn(t, tok, c.Id, 1, 12.5, 8)
	if p := h.progress(t, tok, c.Id); *p.NextReps != 9 || *p.NextTarget != 12.5 || *p.NextReason != client.RepsUpInsideRange {
		t.Fatalf("after 8 reps: %v × %v (%s)", *p.NextTarget, *p.NextReps, *p.NextReason)
	}
	h.logOn(t, tok, c.Id, 3, 12.5, 9)
	if p := h.progress(t, tok, c.Id); *p.NextReps != 8 || *p.NextTarget != 15 || *p.NextReason != client.LoadUpRepsReset {
		t.Fatalf("after 9 reps: %v × %v (%s)", *p.NextTarget, *p.NextReps, *p.NextReason)
	}
}

// A plan that follows performance completes once its sessions are done,
// and the challenge becomes completed with the log that does it.
func TestPerformancePlanCompletes(t *testing.T) {
	h := newHarness(t)
	const uid = 603
	tok := h.user(t, uid)
	body := squatBody()
	body["sessionsPerWeek"], body["weeks"] = 2, 1
	body["progression"] = map[string]any{"type": "linear"}
	var c challengeJSON
	h.Do(t, "POST", "/challenges", tok, body).Expect(t, http.StatusCreated).Decode(t, &c)
	h.publishOne(t, accountEvent(t, "user.validated", map[string]any{"challengeId": c.Id, "userId": uid}))
	h.waitSettled(t, "user.validated", "ok", 1)
	h.logOn(t, tok, c.Id, 1, 60, 5)
	h.logOn(t, tok, c.Id, 2, 50, 5) // missed, but the second of two
	p := h.progress(t, tok, c.Id)
	if !p.Complete || p.NextTarget != nil || p.NextReason != nil || p.Status != client.ChallengeStatusCompleted {
		t.Fatalf("after both sessions: complete %v, status %s", p.Complete, p.Status)
	}
}

// The plan as today's clients send it is a fixed one, shown as such.
func TestFixedPlanKeepsItsShape(t *testing.T) {
	h := newHarness(t)
	tok := h.user(t, 604)
	c := h.createChallenge(t, tok)
	if c.Progression.Type != client.Fixed || c.Progression.DeloadAfter != nil || c.Progression.MinReps != nil {
		t.Fatalf("progression %+v", c.Progression)
	}
	h.logOn(t, tok, c.Id, 1, 50, 5) // a miss does not hold a fixed plan back
	if p := h.progress(t, tok, c.Id); *p.NextTarget != 62.5 || *p.NextReason != client.Scheduled || p.MissesInARow != 1 {
		t.Fatalf("next %v (%s)", *p.NextTarget, *p.NextReason)
	}
}

func TestProgressionBadInput(t *testing.T) {
	h := newHarness(t)
	tok := h.user(t, 605)
	for _, tc := range []struct {
		prog   any
		fields []string
	}{
		{map[string]any{"type": "wave"}, []string{"progression.type"}},
		{map[string]any{}, []string{"progression.type"}},
		{"linear", []string{"progression"}},
		{map[string]any{"type": "linear", "deloadAfter": 3}, []string{"progression.deloadPercent"}},
		{map[string]any{"type": "linear", "deloadPercent": 10}, []string{"progression.deloadPercent"}},
		{map[string]any{"type": "linear", "deloadAfter": 3, "deloadPercent": 91}, []string{"progression.deloadPercent"}},
		{map[string]any{"type": "fixed", "minReps": 8}, []string{"progression.minReps"}},
		{map[string]any{"type": "double", "minReps": 12, "maxReps": 8}, []string{"progression.maxReps"}},
		{map[string]any{"type": "double"}, []string{"progression.minReps", "progression.maxReps"}},
		{map[string]any{"type": "double", "minReps": 0, "maxReps": 1001}, []string{"progression.minReps", "progression.maxReps"}},
	} {
		body := squatBody()
		body["progression"] = tc.prog
		r := h.Do(t, "POST", "/challenges", tok, body).Expect(t, http.StatusUnprocessableEntity)
		got, want := r.Fields(t), slices.Clone(tc.fields)
		slices.Sort(got)
		slices.Sort(want)
		if !slices.Equal(got, want) {
			t.Errorf("%v: 422 names %v, want %v (%s)", tc.prog, got, tc.fields, r.Body)
		}
	}
	// Double progression of a distance has no reps to count.
	body := squatBody()
	body["unit"] = "meters"
	body["progression"] = map[string]any{"type": "double", "minReps": 8, "maxReps": 12}
	if got := h.Do(t, "POST", "/challenges", tok, body).Expect(t, http.StatusUnprocessableEntity).Fields(t); !slices.Equal(got, []string{"progression.type"}) {
		t.Errorf("double of meters: %v", got)
	}
}
