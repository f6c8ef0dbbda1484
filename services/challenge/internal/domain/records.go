package domain

import (
	"cmp"
	"slices"
	"strings"
	"time"
)

// Personal records and weekly history are derived, like Progress, from logs
// alone: they are computed when read (and cached), never stored, so a
// corrected or deleted log changes them by construction.
//
// Records span all of a user's challenges. An exercise is its name compared
// without case ("Back squat" and "back squat" are one exercise) in one unit:
// kilograms and pounds are not compared.

// ExerciseLog is a stored log with its identity and what its challenge says
// about it.
type ExerciseLog struct {
	LogID       int64
	ChallengeID int64
	Exercise    string
	Unit        Unit
	Log         WorkoutLog
}

// ExerciseKey is the name exercises are grouped and looked up by.
func ExerciseKey(name string) string { return strings.ToLower(strings.TrimSpace(name)) }

// RecordSet is the logged set a record was set with.
type RecordSet struct {
	LogID       int64
	ChallengeID int64
	PerformedAt time.Time
	Sets        int
	Reps        int
	Value       float64
}

// E1RMRecord is the best one-rep-max estimate and the set it came from.
type E1RMRecord struct {
	// Estimate is Epley's w × (1 + reps/30), or w for a single (see
	// ComputeProgress), to two decimals.
	Estimate float64
	Set      RecordSet
}

// ExerciseRecords are one exercise's personal records.
type ExerciseRecords struct {
	// Exercise is spelled as in the user's most recent log of it.
	Exercise string
	Unit     Unit
	Logs     int
	// Best is the highest value: the heaviest load for kg and lb, the most
	// reps, seconds or meters in a set otherwise. Ties: more reps, then the
	// earlier set.
	Best RecordSet
	// BestE1RM is nil for units that are not loads.
	BestE1RM *E1RMRecord
	// RepsAtLoad has, for each load lifted (kg, lb), the set with the most
	// reps at it (ties: the earlier), heaviest load first; empty for other
	// units.
	RepsAtLoad []RecordSet
}

// ComputeRecords derives the personal records of every exercise in logs,
// ordered by exercise key, then unit. It reads logs in any order without
// changing them, and ties are broken by time and id, so the answer does not
// depend on that order.
func ComputeRecords(logs []ExerciseLog) []ExerciseRecords {
	type group struct {
		rec    ExerciseRecords
		key    string
		newest *ExerciseLog
		loads  map[int64]RecordSet
	}
	type gkey struct {
		name string
		unit Unit
	}
	groups := map[gkey]*group{}
	for i := range logs {
		l := &logs[i]
		k := gkey{ExerciseKey(l.Exercise), l.Unit}
		g := groups[k]
		set := recordSet(l)
		if g == nil {
			g = &group{key: k.name, rec: ExerciseRecords{Unit: l.Unit, Best: set}, newest: l}
			if l.Unit.IsLoad() {
				g.loads = map[int64]RecordSet{}
			}
			groups[k] = g
		}
		g.rec.Logs++
		if newer(l, g.newest) {
			g.newest = l
		}
		if betterRecord(set, g.rec.Best) {
			g.rec.Best = set
		}
		if !l.Unit.IsLoad() {
			continue
		}
		e := round(epley(set.Value, set.Reps), 2)
		if b := g.rec.BestE1RM; b == nil || e > b.Estimate || (e == b.Estimate && earlier(set, b.Set)) {
			g.rec.BestE1RM = &E1RMRecord{Estimate: e, Set: set}
		}
		load := toUnits(set.Value, 100)
		if cur, ok := g.loads[load]; !ok || set.Reps > cur.Reps || (set.Reps == cur.Reps && earlier(set, cur)) {
			g.loads[load] = set
		}
	}
	out := make([]ExerciseRecords, 0, len(groups))
	keys := make([]string, 0, len(groups))
	for _, g := range groups {
		g.rec.Exercise = g.newest.Exercise
		g.rec.RepsAtLoad = make([]RecordSet, 0, len(g.loads))
		for _, s := range g.loads {
			g.rec.RepsAtLoad = append(g.rec.RepsAtLoad, s)
		}
		slices.SortFunc(g.rec.RepsAtLoad, func(a, b RecordSet) int { return cmp.Compare(b.Value, a.Value) })
		out = append(out, g.rec)
		keys = append(keys, g.key)
	}
	idx := make([]int, len(out))
	for i := range idx {
		idx[i] = i
	}
	slices.SortFunc(idx, func(a, b int) int {
		if c := strings.Compare(keys[a], keys[b]); c != 0 {
			return c
		}
		return strings.Compare(string(out[a].Unit), string(out[b].Unit))
	})
	sorted := make([]ExerciseRecords, len(out))
	for i, j := range idx {
		sorted[i] = out[j]
	}
	return sorted
}

func recordSet(l *ExerciseLog) RecordSet {
	return RecordSet{
		LogID: l.LogID, ChallengeID: l.ChallengeID, PerformedAt: l.Log.performedAt,
		Sets: l.Log.sets, Reps: l.Log.reps, Value: l.Log.value,
	}
}

// earlier orders sets by time, then id: the first to set a record keeps it.
func earlier(a, b RecordSet) bool {
	if !a.PerformedAt.Equal(b.PerformedAt) {
		return a.PerformedAt.Before(b.PerformedAt)
	}
	return a.LogID < b.LogID
}

// betterRecord is betterSet (value, then reps, then earlier) with the id as
// the last tie-break.
func betterRecord(a, b RecordSet) bool {
	if a.Value != b.Value {
		return a.Value > b.Value
	}
	if a.Reps != b.Reps {
		return a.Reps > b.Reps
	}
	return earlier(a, b)
}

func newer(a, b *ExerciseLog) bool {
	if !a.Log.performedAt.Equal(b.Log.performedAt) {
		return a.Log.performedAt.After(b.Log.performedAt)
	}
	return a.LogID > b.LogID
}

// WeekStats is what one week's logs add up to.
type WeekStats struct {
	// WeekStart is the Monday (UTC) the week starts on.
	WeekStart Date
	Logs      int
	Sets      int
	// Volume is Σ sets × reps × value, to two decimals: the tonnage for kg
	// and lb, the total reps, seconds or meters otherwise (their reps are 1).
	Volume float64
	// BestE1RM is the week's best Epley estimate; nil for units that are not
	// loads.
	BestE1RM *float64
}

// WeeklyHistory groups logs of one unit into weeks, newest week first; weeks
// without logs are left out. Logs may come in any order.
func WeeklyHistory(unit Unit, logs []WorkoutLog) []WeekStats {
	byWeek := map[int64]*WeekStats{}
	for i := range logs {
		l := &logs[i]
		w := weekStartDay(dayNumber(l.performedAt))
		s := byWeek[w]
		if s == nil {
			s = &WeekStats{WeekStart: DateOf(time.Unix(w*secondsPerDay, 0))}
			byWeek[w] = s
		}
		s.Logs++
		s.Sets += l.sets
		s.Volume += float64(l.sets*l.reps) * l.value
		if unit.IsLoad() {
			e := epley(l.value, l.reps)
			if s.BestE1RM == nil {
				s.BestE1RM = &e
			} else {
				*s.BestE1RM = max(*s.BestE1RM, e)
			}
		}
	}
	out := make([]WeekStats, 0, len(byWeek))
	for _, s := range byWeek {
		s.Volume = round(s.Volume, 2)
		if s.BestE1RM != nil {
			*s.BestE1RM = round(*s.BestE1RM, 2)
		}
		out = append(out, *s)
	}
	slices.SortFunc(out, func(a, b WeekStats) int { return b.WeekStart.Compare(a.WeekStart) })
	return out
}

// weekStartDay is the day number of the Monday on or before day; day 0,
// 1970-01-01, was a Thursday.
func weekStartDay(day int64) int64 {
	offset := (day + 3) % 7
	if offset < 0 {
		offset += 7
	}
	return day - offset
}
