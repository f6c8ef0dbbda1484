package domain

// ProgressionType is how a plan's target moves from one session to the
// next; the strings are the API's and the database's.
type ProgressionType string

const (
	// ProgressionFixed adds Increment every IncrementEvery sessions done,
	// whatever was lifted: the original plan, and the default.
	ProgressionFixed ProgressionType = "fixed"
	// ProgressionLinear adds Increment after IncrementEvery sessions in a
	// row that met their target, repeats the target after a miss, and
	// deloads after DeloadAfter misses in a row (StrongLifts 5×5, Liftosaur's
	// "lp").
	ProgressionLinear ProgressionType = "linear"
	// ProgressionDouble adds a rep after IncrementEvery met sessions in a
	// row until MaxReps, then adds Increment and goes back to MinReps
	// (Liftosaur's "dp", wger's rep ranges); misses and deloads as linear.
	ProgressionDouble ProgressionType = "double"
)

// ProgressionTypes lists every type in a stable order.
func ProgressionTypes() []ProgressionType {
	return []ProgressionType{ProgressionFixed, ProgressionLinear, ProgressionDouble}
}

// Valid reports whether t is one of ProgressionTypes().
func (t ProgressionType) Valid() bool {
	return t == ProgressionFixed || t == ProgressionLinear || t == ProgressionDouble
}

// FollowsPerformance is true for the types whose next target depends on
// whether the previous sessions met theirs.
func (t ProgressionType) FollowsPerformance() bool {
	return t == ProgressionLinear || t == ProgressionDouble
}

func (t ProgressionType) String() string { return string(t) }

// Limits of a progression.
const (
	// MaxDeloadPercent: a deload is a step back, not a restart; beyond 90 %
	// off the target is noise.
	MaxDeloadPercent = 90
)

// ProgressionSpec is the raw progression of a PlanSpec. The zero value is
// the fixed progression, so specs written before progressions existed keep
// their meaning.
type ProgressionSpec struct {
	Type ProgressionType // "" is fixed
	// DeloadAfter is how many sessions in a row may miss their target before
	// the next one is deloaded; 0 never deloads. Linear and double only.
	DeloadAfter int
	// DeloadPercent is taken off the target by a deload, 1..90; set exactly
	// when DeloadAfter is.
	DeloadPercent int
	// MinReps and MaxReps are double progression's rep range.
	MinReps, MaxReps int
}

// checkProgression validates s for a plan in unit, adding what is wrong to
// errs under the API's dotted names, and returns the normalized spec.
func checkProgression(s ProgressionSpec, unit Unit, unitOK bool, errs *fieldErrors) ProgressionSpec {
	if s.Type == "" {
		s.Type = ProgressionFixed
	}
	if !s.Type.Valid() {
		errs.add(FieldProgressionType, "must be one of fixed, linear, double")
		return s
	}
	if s.Type == ProgressionFixed {
		for _, f := range []struct {
			name string
			v    int
		}{
			{FieldDeloadAfter, s.DeloadAfter}, {FieldDeloadPercent, s.DeloadPercent},
			{FieldMinReps, s.MinReps}, {FieldMaxReps, s.MaxReps},
		} {
			if f.v != 0 {
				errs.add(f.name, "only applies to linear and double progressions")
			}
		}
		return s
	}
	errs.addIf(FieldDeloadAfter, checkRange(s.DeloadAfter, 0, MaxTotalSessions))
	switch {
	case s.DeloadAfter > 0:
		errs.addIf(FieldDeloadPercent, checkRange(s.DeloadPercent, 1, MaxDeloadPercent))
	case s.DeloadPercent != 0:
		errs.add(FieldDeloadPercent, "needs deloadAfter")
	}
	if s.Type == ProgressionLinear {
		if s.MinReps != 0 {
			errs.add(FieldMinReps, "only applies to a double progression")
		}
		if s.MaxReps != 0 {
			errs.add(FieldMaxReps, "only applies to a double progression")
		}
		return s
	}
	// Double progression counts reps, which only loads record.
	if unitOK && !unit.IsLoad() {
		errs.add(FieldProgressionType, "double needs a load unit (kg or lb): only loads record reps")
	}
	minMsg := checkRange(s.MinReps, 1, MaxReps)
	errs.addIf(FieldMinReps, minMsg)
	if minMsg == "" {
		errs.addIf(FieldMaxReps, checkRange(s.MaxReps, s.MinReps, MaxReps))
	} else {
		errs.addIf(FieldMaxReps, checkRange(s.MaxReps, 1, MaxReps))
	}
	return s
}

// Reason says why the next session's target is what it is. The strings are
// the API's (Progress.nextReason): clients branch on them.
type Reason string

const (
	// ReasonStart: nothing done yet, the plan's start.
	ReasonStart Reason = "start"
	// ReasonScheduled: a fixed plan's target for that session number.
	ReasonScheduled Reason = "scheduled"
	// ReasonIncreaseAfterMet: the last session met its target (and the ones
	// IncrementEvery asks for before it), so the load goes up.
	ReasonIncreaseAfterMet Reason = "increase_after_met_target"
	// ReasonRepeatAfterMet: the last session met its target, but
	// IncrementEvery asks for more met sessions in a row before the next step.
	ReasonRepeatAfterMet Reason = "repeat_after_met_target"
	// ReasonRepeatAfterMissed: the last session missed its target, which is
	// tried again.
	ReasonRepeatAfterMissed Reason = "repeat_after_missed_target"
	// ReasonDeload: DeloadAfter sessions in a row missed, so the target
	// drops by DeloadPercent (and a double progression's reps go back to
	// MinReps).
	ReasonDeload Reason = "deload_after_failures"
	// ReasonRepsUp: double progression, a rep more at the same load.
	ReasonRepsUp Reason = "reps_up_inside_range"
	// ReasonLoadUpRepsReset: double progression, the top of the rep range
	// was met, so the load goes up and the reps go back to MinReps.
	ReasonLoadUpRepsReset Reason = "load_up_reps_reset"
)

// progression is the state of a plan's target as sessions are done, in the
// plan's integer units. Only linear and double plans use it: a fixed plan's
// target is a function of the session number (Plan.targetUnits).
type progression struct {
	load      int64 // target load (or value) of the next session, units
	reps      int   // double: target reps of the next session
	successes int   // met sessions in a row at the current step
	failures  int   // missed sessions in a row
	reason    Reason
}

func (p *Plan) startProgression() progression {
	return progression{load: p.startUnits, reps: p.minReps, reason: ReasonStart}
}

// meets reports whether a set of value (in units) × reps meets st's target.
func (p *Plan) meets(st *progression, valueUnits int64, reps int) bool {
	if valueUnits < st.load {
		return false
	}
	return p.progression != ProgressionDouble || reps >= st.reps
}

// advance moves st past one session that met its target or not.
func (p *Plan) advance(st *progression, met bool) {
	if !met {
		st.successes = 0
		st.failures++
		if p.deloadAfter > 0 && st.failures >= p.deloadAfter {
			st.load = p.deload(st.load)
			st.reps = p.minReps
			st.failures = 0
			st.reason = ReasonDeload
			return
		}
		st.reason = ReasonRepeatAfterMissed
		return
	}
	st.failures = 0
	st.successes++
	if st.successes < p.incrementEvery {
		st.reason = ReasonRepeatAfterMet
		return
	}
	st.successes = 0
	switch {
	case p.progression == ProgressionDouble && st.reps < p.maxReps:
		st.reps++
		st.reason = ReasonRepsUp
	case p.progression == ProgressionDouble:
		st.load += p.incUnits
		st.reps = p.minReps
		st.reason = ReasonLoadUpRepsReset
	default:
		st.load += p.incUnits
		st.reason = ReasonIncreaseAfterMet
	}
	// A plan's best case is its peak, which validation kept within what a
	// log can record; the guard keeps a target loggable whatever happens.
	st.load = min(st.load, p.peakUnits())
}

// deload takes DeloadPercent off load, rounded down to a multiple of the
// increment (the plates one adds; StrongLifts rounds its 10 % deload down to
// the nearest 2.5 kg), in exact integer arithmetic. When no multiple is left
// (a light load, a large increment) it keeps the unit's precision instead,
// and it never reaches 0, which could not be logged: a deload always lowers
// the target, never raises it.
func (p *Plan) deload(load int64) int64 {
	d := load * int64(100-p.deloadPercent) / 100
	if p.incUnits > 0 && d >= p.incUnits {
		d -= d % p.incUnits
	}
	return max(d, 1)
}
