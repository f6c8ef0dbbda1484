package domain_test

import (
	"math"
	oldrand "math/rand"
	"math/rand/v2"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"testing/quick"
	"time"

	"github.com/progressive-overload/po/services/challenge/internal/domain"
)

func TestNewPlanRejectsEachInvalidField(t *testing.T) {
	tests := []struct {
		name   string
		modify func(*domain.PlanSpec)
		field  string
	}{
		{"blank exercise", func(s *domain.PlanSpec) { s.Exercise = " \t " }, domain.FieldExercise},
		{"exercise too long", func(s *domain.PlanSpec) { s.Exercise = strings.Repeat("é", 81) }, domain.FieldExercise},
		{"exercise invalid UTF-8", func(s *domain.PlanSpec) { s.Exercise = "Squat\xff" }, domain.FieldExercise},
		{"exercise with newline", func(s *domain.PlanSpec) { s.Exercise = "Squat\nDeadlift" }, domain.FieldExercise},
		{"unknown unit", func(s *domain.PlanSpec) { s.Unit = "stone" }, domain.FieldUnit},
		{"unit in capitals", func(s *domain.PlanSpec) { s.Unit = "KG" }, domain.FieldUnit},
		{"empty unit", func(s *domain.PlanSpec) { s.Unit = "" }, domain.FieldUnit},
		{"zero start", func(s *domain.PlanSpec) { s.StartValue = 0 }, domain.FieldStartValue},
		{"negative start", func(s *domain.PlanSpec) { s.StartValue = -5 }, domain.FieldStartValue},
		{"start above limit", func(s *domain.PlanSpec) { s.StartValue = 100000.01 }, domain.FieldStartValue},
		{"start NaN", func(s *domain.PlanSpec) { s.StartValue = math.NaN() }, domain.FieldStartValue},
		{"start +Inf", func(s *domain.PlanSpec) { s.StartValue = math.Inf(1) }, domain.FieldStartValue},
		{"start too precise", func(s *domain.PlanSpec) { s.StartValue = 60.125 }, domain.FieldStartValue},
		{"fractional reps", func(s *domain.PlanSpec) { s.Unit, s.StartValue, s.Increment = domain.UnitReps, 10.5, 1 }, domain.FieldStartValue},
		{"negative increment", func(s *domain.PlanSpec) { s.Increment = -2.5 }, domain.FieldIncrement},
		{"increment above limit", func(s *domain.PlanSpec) { s.Increment = 10000.5; s.IncrementEvery = 1000 }, domain.FieldIncrement},
		{"increment -Inf", func(s *domain.PlanSpec) { s.Increment = math.Inf(-1) }, domain.FieldIncrement},
		{"increment too precise", func(s *domain.PlanSpec) { s.Increment = 0.001 }, domain.FieldIncrement},
		{"peak above the log limit", func(s *domain.PlanSpec) { s.StartValue = 99000; s.Increment = 100 }, domain.FieldIncrement},
		{"incrementEvery 0", func(s *domain.PlanSpec) { s.IncrementEvery = 0 }, domain.FieldIncrementEvery},
		{"incrementEvery beyond any plan", func(s *domain.PlanSpec) { s.IncrementEvery = domain.MaxTotalSessions + 1 }, domain.FieldIncrementEvery},
		{"sessionsPerWeek 0", func(s *domain.PlanSpec) { s.SessionsPerWeek = 0 }, domain.FieldSessionsPerWeek},
		{"sessionsPerWeek 15", func(s *domain.PlanSpec) { s.SessionsPerWeek = 15 }, domain.FieldSessionsPerWeek},
		{"weeks 0", func(s *domain.PlanSpec) { s.Weeks = 0 }, domain.FieldWeeks},
		{"weeks 105", func(s *domain.PlanSpec) { s.Weeks = 105 }, domain.FieldWeeks},
		{"no start date", func(s *domain.PlanSpec) { s.StartDate = domain.Date{} }, domain.FieldStartDate},
		{"start date at the epoch", func(s *domain.PlanSpec) { s.StartDate = domain.MustDate(1970, 1, 1) }, domain.FieldStartDate},
		{"start date after 2999", func(s *domain.PlanSpec) { s.StartDate = domain.MustDate(3000, 1, 1) }, domain.FieldStartDate},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			spec := squatSpec()
			tt.modify(&spec)
			p, err := domain.NewPlan(spec)
			if err == nil {
				t.Fatalf("NewPlan accepted %+v", spec)
			}
			if !p.IsZero() {
				t.Errorf("NewPlan returned a non-zero plan with its error")
			}
			if got := validationFields(t, err); !slices.Equal(got, []string{tt.field}) {
				t.Errorf("invalid fields = %v, want [%s]", got, tt.field)
			}
		})
	}
}

func TestNewPlanAcceptsLimits(t *testing.T) {
	tests := []struct {
		name   string
		modify func(*domain.PlanSpec)
	}{
		{"one-character exercise after trim", func(s *domain.PlanSpec) { s.Exercise = "  X  " }},
		{"80 multi-byte characters", func(s *domain.PlanSpec) { s.Exercise = strings.Repeat("漢", 80) }},
		{"smallest start", func(s *domain.PlanSpec) { s.StartValue = 0.01 }},
		{"largest start, no increment", func(s *domain.PlanSpec) { s.StartValue, s.Increment = 100000, 0 }},
		{"largest increment, reaching the limit", func(s *domain.PlanSpec) {
			s.StartValue, s.Increment, s.IncrementEvery, s.SessionsPerWeek, s.Weeks = 90000, 10000, 1, 1, 2
		}},
		{"decimal with no exact binary form", func(s *domain.PlanSpec) { s.StartValue, s.Increment = 0.29, 0.01 }},
		{"negative zero increment", func(s *domain.PlanSpec) { s.Increment = math.Copysign(0, -1) }},
		{"whole reps", func(s *domain.PlanSpec) { s.Unit, s.StartValue, s.Increment = domain.UnitReps, 10, 1 }},
		{"longest plan", func(s *domain.PlanSpec) { s.SessionsPerWeek, s.Weeks, s.IncrementEvery = 14, 104, 1456 }},
		{"first start date", func(s *domain.PlanSpec) { s.StartDate = domain.MustDate(2000, 1, 1) }},
		{"last start date", func(s *domain.PlanSpec) { s.StartDate = domain.MustDate(2999, 12, 31) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			spec := squatSpec()
			tt.modify(&spec)
			if _, err := domain.NewPlan(spec); err != nil {
				t.Fatalf("NewPlan(%+v): %v", spec, err)
			}
		})
	}
}

func TestNewPlanReportsEveryInvalidFieldInOrder(t *testing.T) {
	_, err := domain.NewPlan(domain.PlanSpec{
		Exercise:        "",
		Unit:            "furlong",
		StartValue:      math.NaN(),
		Increment:       -1,
		IncrementEvery:  0,
		SessionsPerWeek: 99,
		Weeks:           -1,
	})
	want := []string{
		domain.FieldExercise, domain.FieldUnit, domain.FieldStartValue, domain.FieldIncrement,
		domain.FieldIncrementEvery, domain.FieldSessionsPerWeek, domain.FieldWeeks, domain.FieldStartDate,
	}
	if got := validationFields(t, err); !slices.Equal(got, want) {
		t.Errorf("invalid fields = %v, want %v", got, want)
	}
}

func TestNewPlanNormalizes(t *testing.T) {
	spec := squatSpec()
	spec.Exercise = "  Back squat \n"
	spec.Increment = math.Copysign(0, -1)
	p := mustPlan(t, spec)
	if p.Exercise() != "Back squat" {
		t.Errorf("Exercise = %q, want it trimmed", p.Exercise())
	}
	if math.Signbit(p.Increment()) {
		t.Errorf("Increment kept the sign of -0")
	}
}

func TestPlanTargets(t *testing.T) {
	tests := []struct {
		name string
		spec func() domain.PlanSpec
		want map[int]float64 // session → target
	}{
		{"every session", squatSpec, map[int]float64{
			1: 60, 2: 62.5, 3: 65, 24: 117.5,
			0: 60, -3: 60, 25: 117.5, 1000: 117.5, // clamped to the plan
		}},
		{"every third session", func() domain.PlanSpec {
			s := squatSpec()
			s.IncrementEvery = 3
			return s
		}, map[int]float64{1: 60, 3: 60, 4: 62.5, 6: 62.5, 7: 65, 24: 77.5}},
		{"hundredths do not drift", func() domain.PlanSpec {
			s := squatSpec()
			s.StartValue, s.Increment, s.SessionsPerWeek, s.Weeks = 0.1, 0.01, 14, 104
			return s
		}, map[int]float64{2: 0.11, 1000: 10.09, 1456: 14.65}},
		{"reps", func() domain.PlanSpec {
			s := squatSpec()
			s.Unit, s.StartValue, s.Increment, s.IncrementEvery = domain.UnitReps, 8, 1, 2
			return s
		}, map[int]float64{1: 8, 2: 8, 3: 9, 24: 19}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := mustPlan(t, tt.spec())
			for session, want := range tt.want {
				if got := p.Target(session); got != want {
					t.Errorf("Target(%d) = %v, want %v", session, got, want)
				}
			}
		})
	}
}

func TestPlanCalendar(t *testing.T) {
	p := mustPlan(t, squatSpec())
	if p.Exercise() != "Back squat" || p.Unit() != domain.UnitKg || p.StartValue() != 60 || p.Increment() != 2.5 ||
		p.IncrementEvery() != 1 || p.SessionsPerWeek() != 3 || p.Weeks() != 8 || p.StartDate() != monday {
		t.Errorf("getters do not return the spec: %+v", p.Spec())
	}
	if got := p.TotalSessions(); got != 24 {
		t.Errorf("TotalSessions = %d, want 24", got)
	}
	if got := p.Peak(); got != 117.5 {
		t.Errorf("Peak = %v, want 117.5", got)
	}
	if got, want := p.EndDate(), domain.MustDate(2026, time.March, 1); got != want {
		t.Errorf("EndDate = %v, want %v (a Sunday, 8 weeks after Monday %v)", got, want, monday)
	}
	if got, want := p.WeekStart(2), domain.MustDate(2026, time.January, 12); got != want {
		t.Errorf("WeekStart(2) = %v, want %v", got, want)
	}
	var sessions []domain.Session
	for s := range p.Sessions() {
		sessions = append(sessions, s)
	}
	want := []domain.Session{{1, 1, 60}, {2, 1, 62.5}, {3, 1, 65}, {4, 2, 67.5}}
	if !reflect.DeepEqual(sessions[:4], want) {
		t.Errorf("first sessions = %v, want %v", sessions[:4], want)
	}
	if last := sessions[len(sessions)-1]; last != (domain.Session{Number: 24, Week: 8, Target: 117.5}) {
		t.Errorf("last session = %+v", last)
	}
	// Stopping early must stop the iterator, or range-over-func panics.
	n := 0
	for range p.Sessions() {
		n++
		if n == 2 {
			break
		}
	}
	if n != 2 {
		t.Errorf("break after 2 sessions saw %d", n)
	}
}

func TestZeroPlanIsInert(t *testing.T) {
	var p domain.Plan
	if !p.IsZero() || p.TotalSessions() != 0 || p.Target(1) != 0 || p.Peak() != 0 || !p.EndDate().IsZero() || !p.WeekStart(1).IsZero() {
		t.Errorf("zero plan is not inert: %+v", p)
	}
	for s := range p.Sessions() {
		t.Errorf("zero plan yielded %+v", s)
	}
}

func TestPlanSpecRoundTrips(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for range 200 {
		p := mustPlan(t, randomPlanSpec(r))
		q := mustPlan(t, p.Spec())
		if !reflect.DeepEqual(p, q) {
			t.Fatalf("NewPlan(p.Spec()) = %+v, want %+v", q, p)
		}
	}
}

// genPlan makes testing/quick draw valid plans.
type genPlan struct{ spec domain.PlanSpec }

func (genPlan) Generate(r *oldrand.Rand, _ int) reflect.Value {
	return reflect.ValueOf(genPlan{spec: randomPlanSpec(rand.New(rand.NewPCG(r.Uint64(), r.Uint64())))})
}

// quickConfig seeds testing/quick, so a failure reproduces.
func quickConfig() *quick.Config {
	return &quick.Config{MaxCount: 300, Rand: oldrand.New(oldrand.NewSource(42))}
}

func TestPlanProperties(t *testing.T) {
	properties := map[string]func(genPlan) bool{
		"targets never decrease": func(g genPlan) bool {
			p := mustPlan(t, g.spec)
			prev := math.Inf(-1)
			for s := range p.Sessions() {
				if s.Target < prev {
					t.Logf("session %d target %v after %v", s.Number, s.Target, prev)
					return false
				}
				prev = s.Target
			}
			return true
		},
		"sessions add up to weeks × sessionsPerWeek": func(g genPlan) bool {
			p := mustPlan(t, g.spec)
			perWeek := map[int]int{}
			n := 0
			for s := range p.Sessions() {
				n++
				if s.Number != n || s.Week < 1 || s.Week > p.Weeks() {
					return false
				}
				perWeek[s.Week]++
			}
			for w := 1; w <= p.Weeks(); w++ {
				if perWeek[w] != p.SessionsPerWeek() {
					return false
				}
			}
			return n == p.TotalSessions() && n == g.spec.SessionsPerWeek*g.spec.Weeks
		},
		"the last session is the peak": func(g genPlan) bool {
			p := mustPlan(t, g.spec)
			var last domain.Session
			for s := range p.Sessions() {
				last = s
			}
			return last.Number == p.TotalSessions() && last.Target == p.Peak() &&
				p.Target(p.TotalSessions()+1) == p.Peak() && p.Peak() <= domain.MaxValue
		},
		"session 1 is the start value": func(g genPlan) bool {
			p := mustPlan(t, g.spec)
			return p.Target(1) == g.spec.StartValue && p.StartValue() == g.spec.StartValue
		},
		"increment 0 keeps every target at the start": func(g genPlan) bool {
			g.spec.Increment = 0
			p := mustPlan(t, g.spec)
			for s := range p.Sessions() {
				if s.Target != g.spec.StartValue {
					return false
				}
			}
			return true
		},
		"targets follow the formula to the unit's precision": func(g genPlan) bool {
			p := mustPlan(t, g.spec)
			for s := range p.Sessions() {
				exact := g.spec.StartValue + g.spec.Increment*float64((s.Number-1)/g.spec.IncrementEvery)
				if math.Abs(s.Target-exact) > 1e-6 || !hasDecimals(s.Target, g.spec.Unit.Decimals()) {
					t.Logf("session %d: target %v, formula %v", s.Number, s.Target, exact)
					return false
				}
			}
			return true
		},
		"the end date is weeks × 7 days after the start, inclusive": func(g genPlan) bool {
			p := mustPlan(t, g.spec)
			return p.StartDate().DaysUntil(p.EndDate()) == 7*p.Weeks()-1
		},
	}
	for name, prop := range properties {
		t.Run(name, func(t *testing.T) {
			if err := quick.Check(prop, quickConfig()); err != nil {
				t.Error(err)
			}
		})
	}
}

// hasDecimals checks precision by formatting, independently of the
// package's integer arithmetic.
func hasDecimals(v float64, decimals int) bool {
	s := strconv.FormatFloat(v, 'f', -1, 64)
	dot := strings.IndexByte(s, '.')
	return dot < 0 || len(s)-dot-1 <= decimals
}
