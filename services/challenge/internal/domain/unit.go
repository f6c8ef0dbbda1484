package domain

import (
	"fmt"
	"math"
	"strconv"
)

// Unit is what a plan's values measure.
type Unit string

// The units a plan can use; the strings are the API's and the database's.
const (
	UnitKg      Unit = "kg"
	UnitLb      Unit = "lb"
	UnitReps    Unit = "reps"
	UnitSeconds Unit = "seconds"
	UnitMeters  Unit = "meters"
)

// Units lists every valid unit in a stable order.
func Units() []Unit {
	return []Unit{UnitKg, UnitLb, UnitReps, UnitSeconds, UnitMeters}
}

// ParseUnit accepts exactly the API spelling. It does not fold case or trim:
// the API enum and the database enum are exact, and one door accepting "KG"
// while another refuses it would be a trap.
func ParseUnit(s string) (Unit, error) {
	u := Unit(s)
	if !u.Valid() {
		return "", fmt.Errorf("unknown unit %q: want one of kg, lb, reps, seconds, meters", s)
	}
	return u, nil
}

// Valid reports whether u is one of Units().
func (u Unit) Valid() bool {
	switch u {
	case UnitKg, UnitLb, UnitReps, UnitSeconds, UnitMeters:
		return true
	}
	return false
}

// IsLoad reports whether values are a weight lifted, the only case where
// reps and a one-rep-max estimate mean something.
func (u Unit) IsLoad() bool { return u == UnitKg || u == UnitLb }

// Decimals is how many decimal places a value of the unit may carry: nobody
// does half a rep, while hundredths cover fractional plates (1.25 kg),
// stopwatch readings and distances.
func (u Unit) Decimals() int {
	if u == UnitReps {
		return 0
	}
	return 2
}

func (u Unit) String() string { return string(u) }

// scaleFor is 10^decimals. Plans add increments as integers of 1/scale so
// that repeated increments cannot drift.
func scaleFor(decimals int) float64 {
	if decimals == 0 {
		return 1
	}
	return 100
}

func toUnits(v, scale float64) int64 { return int64(math.Round(v * scale)) }

// hasPrecision reports whether v is (the float nearest to) a decimal with at
// most the given places. Dividing the rounded integer by the scale is
// correctly rounded, so it reproduces v exactly for such decimals, including
// ones like 0.29 that have no exact binary form.
func hasPrecision(v, scale float64) bool {
	return float64(toUnits(v, scale))/scale == v
}

func precisionMessage(u Unit, decimals int) string {
	if decimals == 0 {
		return "must be a whole number for unit " + string(u)
	}
	return "must have at most " + strconv.Itoa(decimals) + " decimal places"
}

func formatNumber(v float64) string { return strconv.FormatFloat(v, 'f', -1, 64) }
