package domain_test

import (
	"errors"
	"math"
	"math/big"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/progressive-overload/po/services/challenge/internal/domain"
)

// The fuzz oracles restate the rules with different means (formatting,
// big.Rat) so that a slip in the package's arithmetic shows up as a
// disagreement instead of being repeated.

func oracleText(s string, maxLen int, required, multiline bool) bool {
	if !utf8.ValidString(s) {
		return false
	}
	t := strings.TrimSpace(s)
	n := utf8.RuneCountInString(t)
	if (required && n == 0) || n > maxLen {
		return false
	}
	for _, r := range t {
		if unicode.IsControl(r) && !(multiline && (r == '\n' || r == '\r' || r == '\t')) {
			return false
		}
	}
	return true
}

func oracleUnit(u string) (decimals int, ok bool) {
	switch u {
	case "kg", "lb", "seconds", "meters":
		return 2, true
	case "reps":
		return 0, true
	}
	return 2, false
}

func oracleAmount(v float64, allowZero bool, maxV float64, decimals int) bool {
	if math.IsNaN(v) || math.IsInf(v, 0) || v > maxV || v < 0 || (!allowZero && v == 0) {
		return false
	}
	return hasDecimals(v, decimals)
}

// rat is v's shortest decimal form as an exact rational.
func rat(v float64) *big.Rat {
	r, ok := new(big.Rat).SetString(strconv.FormatFloat(v, 'f', -1, 64))
	if !ok {
		panic("unparseable float")
	}
	return r
}

func FuzzNewPlan(f *testing.F) {
	f.Add("Back squat", "kg", 60.0, 2.5, 1, 3, 8, 2026, 1, 5)
	f.Add("Pull-ups", "reps", 5.0, 1.0, 2, 4, 12, 2024, 2, 29)
	f.Add("Plank", "seconds", 30.0, 0.0, 1, 7, 104, 2999, 12, 31)
	f.Add("Run", "meters", 5000.0, 250.0, 3, 2, 10, 2000, 1, 1)
	f.Add("", "lb", 0.0, -1.0, 0, 0, 0, 0, 0, 0)
	f.Add(" \xff ", "KG", math.NaN(), math.Inf(1), -1, 15, 105, 1970, 1, 1)
	f.Add("Deadlift", "kg", 99000.0, 100.0, 1, 14, 104, 2025, 2, 29)
	f.Add("Row", "kg", 0.29, 0.01, 1456, 14, 104, 2100, 6, 15)
	f.Add("Curl", "lb", 60.125, 1e-9, 1, 1, 1, 2500, 13, 1)
	f.Fuzz(func(t *testing.T, exercise, unit string, start, inc float64, every, spw, weeks, y, m, d int) {
		date, _ := domain.NewDate(y, time.Month(m), d) // invalid dates stay zero, which NewPlan must refuse
		spec := domain.PlanSpec{
			Exercise: exercise, Unit: domain.Unit(unit), StartValue: start, Increment: inc,
			IncrementEvery: every, SessionsPerWeek: spw, Weeks: weeks, StartDate: date,
		}
		p, err := domain.NewPlan(spec)

		decimals, unitOK := oracleUnit(unit)
		fieldsOK := oracleText(exercise, 80, true, false) && unitOK &&
			oracleAmount(start, false, 100000, decimals) && oracleAmount(inc, true, 10000, decimals) &&
			every >= 1 && every <= 1456 && spw >= 1 && spw <= 14 && weeks >= 1 && weeks <= 104 &&
			!date.IsZero() && y >= 2000 && y <= 2999
		valid := fieldsOK
		if fieldsOK {
			steps := big.NewRat(int64((spw*weeks-1)/every), 1)
			peak := new(big.Rat).Add(rat(start), new(big.Rat).Mul(rat(inc), steps))
			valid = peak.Cmp(big.NewRat(100000, 1)) <= 0
		}

		if err != nil {
			if valid {
				t.Fatalf("NewPlan refused a valid spec %+v: %v", spec, err)
			}
			checkValidationError(t, err, map[string]bool{
				"exercise": true, "unit": true, "startValue": true, "increment": true,
				"incrementEvery": true, "sessionsPerWeek": true, "weeks": true, "startDate": true,
			})
			if !p.IsZero() {
				t.Fatal("NewPlan returned a plan with its error")
			}
			return
		}
		if !valid {
			t.Fatalf("NewPlan accepted an invalid spec %+v", spec)
		}
		checkPlanConsistent(t, p, spec)
	})
}

// checkValidationError: a refusal is a *ValidationError naming only known
// fields, each once, each with a message.
func checkValidationError(t *testing.T, err error, known map[string]bool) {
	t.Helper()
	var ve *domain.ValidationError
	if !errors.As(err, &ve) || len(ve.Fields) == 0 {
		t.Fatalf("error %v (%T) is not a non-empty *ValidationError", err, err)
	}
	seen := map[string]bool{}
	for _, fe := range ve.Fields {
		if !known[fe.Field] || seen[fe.Field] || fe.Message == "" {
			t.Fatalf("bad field error %+v in %v", fe, err)
		}
		seen[fe.Field] = true
	}
	if err.Error() == "" {
		t.Fatal("empty error text")
	}
}

func checkPlanConsistent(t *testing.T, p domain.Plan, spec domain.PlanSpec) {
	t.Helper()
	total := spec.SessionsPerWeek * spec.Weeks
	switch {
	case p.Exercise() != strings.TrimSpace(spec.Exercise):
		t.Fatalf("exercise %q from %q", p.Exercise(), spec.Exercise)
	case p.TotalSessions() != total:
		t.Fatalf("TotalSessions %d, want %d", p.TotalSessions(), total)
	case p.Target(1) != spec.StartValue:
		t.Fatalf("Target(1) %v, want %v", p.Target(1), spec.StartValue)
	case p.Peak() != p.Target(total) || p.Peak() > domain.MaxValue:
		t.Fatalf("Peak %v, Target(total) %v", p.Peak(), p.Target(total))
	case p.StartDate().DaysUntil(p.EndDate()) != 7*spec.Weeks-1:
		t.Fatalf("EndDate %v for start %v and %d weeks", p.EndDate(), p.StartDate(), spec.Weeks)
	}
	prev, n := 0.0, 0
	for s := range p.Sessions() {
		n++
		if s.Target < prev || s.Number != n || s.Week != (n-1)/spec.SessionsPerWeek+1 {
			t.Fatalf("session %+v after target %v", s, prev)
		}
		prev = s.Target
	}
	if n != total {
		t.Fatalf("Sessions yielded %d, want %d", n, total)
	}
}

func FuzzNewWorkoutLog(f *testing.F) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	f.Add("kg", now.UnixMicro(), 3, 5, 62.5, "felt strong")
	f.Add("reps", now.Add(-time.Hour).UnixMicro(), 4, 1, 12.0, "")
	f.Add("seconds", now.Add(5*time.Minute).UnixMicro(), 1, 1, 45.25, "line\nbreak")
	f.Add("meters", now.Add(5*time.Minute+time.Microsecond).UnixMicro(), 1, 1, 5000.0, "")
	f.Add("lb", int64(0), 0, 0, 0.0, "\x00")
	f.Add("kg", int64(-1), 101, 1001, math.NaN(), strings.Repeat("x", 501))
	f.Add("reps", now.UnixMicro(), 3, 10, 10.5, "\xfe")
	f.Add("kg", now.UnixMicro(), 1, 1, 100000.001, " ")
	f.Fuzz(func(t *testing.T, unit string, micros int64, sets, reps int, value float64, note string) {
		u := domain.Unit(unit)
		performedAt := time.UnixMicro(micros)
		spec := domain.WorkoutLogSpec{PerformedAt: performedAt, Sets: sets, Reps: reps, Value: value, Note: note}
		l, err := domain.NewWorkoutLog(u, spec, now)

		decimals, unitOK := oracleUnit(unit)
		if !unitOK {
			var ve *domain.ValidationError
			if err == nil || errors.As(err, &ve) {
				t.Fatalf("unknown unit %q: err = %v, want a plain error", unit, err)
			}
			return
		}
		repsOK := reps == 1
		if unit == "kg" || unit == "lb" {
			repsOK = reps >= 1 && reps <= 1000
		}
		valid := !performedAt.Before(time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)) &&
			!performedAt.After(now.Add(5*time.Minute)) &&
			sets >= 1 && sets <= 100 && repsOK &&
			oracleAmount(value, false, 100000, decimals) &&
			oracleText(note, 500, false, true)

		if err != nil {
			if valid {
				t.Fatalf("NewWorkoutLog refused a valid spec %+v: %v", spec, err)
			}
			checkValidationError(t, err, map[string]bool{
				"performedAt": true, "sets": true, "reps": true, "value": true, "note": true,
			})
			return
		}
		if !valid {
			t.Fatalf("NewWorkoutLog accepted an invalid spec %+v", spec)
		}
		if !l.PerformedAt().Equal(performedAt) || l.PerformedAt().Location() != time.UTC ||
			l.Sets() != sets || l.Reps() != reps || l.Value() != value ||
			l.Note() != strings.TrimSpace(note) {
			t.Fatalf("log %+v does not reflect %+v", l.Spec(), spec)
		}
		again, err := domain.UnmarshalWorkoutLogFromDatabase(u, l.Spec())
		if err != nil || again != l {
			t.Fatalf("stored log does not read back: %+v, %v", again, err)
		}
	})
}

// FuzzNewPlanProgression checks the progression's validation against an
// oracle written from the rules, on an otherwise valid plan: every spec is
// either a plan whose Spec rebuilds it, or a ValidationError naming only
// progression fields.
func FuzzNewPlanProgression(f *testing.F) {
	f.Add("kg", "", 0, 0, 0, 0)
	f.Add("kg", "fixed", 0, 0, 0, 0)
	f.Add("kg", "linear", 3, 10, 0, 0)
	f.Add("lb", "double", 2, 90, 8, 12)
	f.Add("seconds", "linear", 0, 0, 0, 0)
	f.Add("reps", "double", 0, 0, 8, 12)
	f.Add("kg", "fixed", 3, 10, 8, 12)
	f.Add("kg", "linear", 3, 0, 5, 0)
	f.Add("kg", "double", 1456, 91, 1000, 999)
	f.Add("kg", "Linear", -1, -1, -1, -1)
	f.Fuzz(func(t *testing.T, unit, typ string, after, pct, lo, hi int) {
		spec := squatSpec()
		spec.Unit = domain.Unit(unit)
		spec.StartValue, spec.Increment = 60, 2
		spec.Progression = domain.ProgressionSpec{
			Type: domain.ProgressionType(typ), DeloadAfter: after, DeloadPercent: pct, MinReps: lo, MaxReps: hi,
		}
		p, err := domain.NewPlan(spec)

		_, unitOK := oracleUnit(unit)
		deloadOK := after >= 0 && after <= 1456 && ((after == 0 && pct == 0) || (after > 0 && pct >= 1 && pct <= 90))
		var valid bool
		switch typ {
		case "", "fixed":
			valid = after == 0 && pct == 0 && lo == 0 && hi == 0
		case "linear":
			valid = deloadOK && lo == 0 && hi == 0
		case "double":
			valid = deloadOK && (unit == "kg" || unit == "lb") && lo >= 1 && lo <= 1000 && hi >= lo && hi <= 1000
		}
		if !unitOK {
			if err == nil {
				t.Fatalf("unknown unit %q accepted", unit)
			}
			return
		}
		if err != nil {
			if valid {
				t.Fatalf("NewPlan refused a valid progression %+v: %v", spec.Progression, err)
			}
			checkValidationError(t, err, map[string]bool{
				"progression.type": true, "progression.deloadAfter": true, "progression.deloadPercent": true,
				"progression.minReps": true, "progression.maxReps": true,
			})
			return
		}
		if !valid {
			t.Fatalf("NewPlan accepted an invalid progression %+v", spec.Progression)
		}
		again, err := domain.NewPlan(p.Spec())
		if err != nil || again != p || (typ == "" && p.Progression() != domain.ProgressionFixed) {
			t.Fatalf("plan %+v does not rebuild: %v", p.Spec(), err)
		}
		checkPlanConsistent(t, p, spec)
	})
}
