package chaos

import (
	"fmt"
	"slices"
	"sync"
	"time"
)

// LogAck is a workout log the service acknowledged (201) with its content.
type LogAck struct {
	ID, ChallengeID, UserID int64
	Sets, Reps              int32
	Value                   float64
	Note                    string
	At                      time.Time // when the acknowledgement arrived
}

// ChallengeAck is a challenge the service acknowledged (201, pending).
type ChallengeAck struct {
	ID, UserID int64
	Title      string
	At         time.Time
}

// StoredLog is a workout log as read back from MySQL.
type StoredLog struct {
	ID, ChallengeID, UserID int64
	Sets, Reps              int32
	Value                   float64
	Note                    string
}

// Ledger records every acknowledged write, safe for concurrent use.
type Ledger struct {
	mu         sync.Mutex
	logs       []LogAck
	challenges []ChallengeAck
}

// AckLog records an acknowledged log write.
func (l *Ledger) AckLog(a LogAck) {
	l.mu.Lock()
	l.logs = append(l.logs, a)
	l.mu.Unlock()
}

// AckChallenge records an acknowledged challenge creation.
func (l *Ledger) AckChallenge(a ChallengeAck) {
	l.mu.Lock()
	l.challenges = append(l.challenges, a)
	l.mu.Unlock()
}

// Logs returns a copy of every acknowledged log so far.
func (l *Ledger) Logs() []LogAck {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.logs)
}

// Challenges returns a copy of every acknowledged challenge so far.
func (l *Ledger) Challenges() []ChallengeAck {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.challenges)
}

// LogsBetween returns the acknowledged logs whose acknowledgement arrived in [from, to).
func LogsBetween(acks []LogAck, from, to time.Time) []LogAck {
	var out []LogAck
	for _, a := range acks {
		if !a.At.Before(from) && a.At.Before(to) {
			out = append(out, a)
		}
	}
	return out
}

// ChallengesBetween returns the acknowledged challenges whose acknowledgement arrived in [from, to).
func ChallengesBetween(acks []ChallengeAck, from, to time.Time) []ChallengeAck {
	var out []ChallengeAck
	for _, a := range acks {
		if !a.At.Before(from) && a.At.Before(to) {
			out = append(out, a)
		}
	}
	return out
}

// Lost is the result of checking acknowledged logs against what is stored.
type Lost struct {
	Missing  []int64  // acknowledged, not stored
	Changed  []string // stored with other content than acknowledged
	Checked  int
	Examples []string
}

// Count is the number of acknowledged writes not stored as acknowledged.
func (l Lost) Count() int { return len(l.Missing) + len(l.Changed) }

// CheckLogs compares every acknowledged log with the stored rows by id.
func CheckLogs(acks []LogAck, stored map[int64]StoredLog) Lost {
	var out Lost
	for _, a := range acks {
		out.Checked++
		s, ok := stored[a.ID]
		if !ok {
			out.Missing = append(out.Missing, a.ID)
			if len(out.Examples) < 5 {
				out.Examples = append(out.Examples, fmt.Sprintf("log %d (challenge %d, acknowledged %s) is not in workout_logs", a.ID, a.ChallengeID, a.At.UTC().Format(time.RFC3339Nano)))
			}
			continue
		}
		if s.ChallengeID != a.ChallengeID || s.UserID != a.UserID || s.Sets != a.Sets || s.Reps != a.Reps || s.Value != a.Value || s.Note != a.Note {
			d := fmt.Sprintf("log %d: acknowledged %+v, stored %+v", a.ID, a, s)
			out.Changed = append(out.Changed, d)
			if len(out.Examples) < 5 {
				out.Examples = append(out.Examples, d)
			}
		}
	}
	return out
}

// Validation is what became of the challenges created in a window.
type Validation struct {
	Created     int
	Missing     int     // acknowledged but not in the challenges table
	NeverActive []int64 // still pending (or rejected) when the wait ended
	ActiveTwice []int64 // more than one validation outcome event for it
}

// CheckValidation judges acknowledged challenges by their stored status and
// the number of validation outcomes (user.validated or user.rejected events
// the account service wrote for each): exactly one outcome and status
// active is the only good end.
func CheckValidation(acks []ChallengeAck, status map[int64]string, outcomes map[int64]int) Validation {
	v := Validation{Created: len(acks)}
	for _, a := range acks {
		st, ok := status[a.ID]
		if !ok {
			v.Missing++
			continue
		}
		if st != "active" {
			v.NeverActive = append(v.NeverActive, a.ID)
		}
		if outcomes[a.ID] > 1 {
			v.ActiveTwice = append(v.ActiveTwice, a.ID)
		}
	}
	return v
}
