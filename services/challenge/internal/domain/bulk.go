package domain

import (
	"slices"
	"time"
)

// BulkTransition is one status change for many challenges at once, for a
// set-based statement ("archive everything of this user") that cannot call
// the methods of each Challenge. It carries what those methods enforce, so
// the statement only has to apply it: a challenge changes only if its status
// is in From; Reason is cleaned as Archive and Reject clean it; and At, like
// touch, must not move updatedAt backwards (keep the later of the two).
type BulkTransition struct {
	From   []Status
	To     Status
	Reason string
	At     time.Time // UTC, microseconds
}

// ArchiveAll archives every challenge Archive would accept.
func ArchiveAll(reason string, now time.Time) BulkTransition {
	return BulkTransition{From: ArchivableStatuses(), To: StatusArchived, Reason: cleanReason(reason), At: stamp(now)}
}

// RejectAll rejects every challenge Reject would accept, i.e. the pending ones.
func RejectAll(reason string, now time.Time) BulkTransition {
	return BulkTransition{From: statusesBecoming(StatusRejected), To: StatusRejected, Reason: cleanReason(reason), At: stamp(now)}
}

// Moves reports whether a challenge in status s changes under t.
func (t BulkTransition) Moves(s Status) bool { return slices.Contains(t.From, s) }

func statusesBecoming(to Status) []Status {
	var out []Status
	for _, s := range Statuses() {
		if s.CanBecome(to) {
			out = append(out, s)
		}
	}
	return out
}
