// Package domain holds the challenge service's rules: progressive-overload
// plans, challenges and their life cycle, workout logs and the progress derived
// from them. It is pure Go with no I/O, so every rule is testable without a
// database, and every constructor refuses invalid state: a Plan, Challenge or
// WorkoutLog that exists is valid.
//
// Decisions the rest of the service relies on:
//
//   - A session is a calendar day of the user's time zone with at least one
//     log, not a log. Logging each set separately, or correcting a log, must
//     not advance the plan; the day's best value is the session's value.
//     The zone is an input (ComputeProgress, CheckLog): the account service
//     owns it, and a start date is a day of the same calendar.
//   - Sessions are numbered in the order they were done. A fixed plan holds
//     the k-th session done to Target(k): progression follows the sessions
//     performed, not the calendar, so a missed week delays the plan instead
//     of skipping increments; sessions after the last planned one are held
//     to the peak. Linear and double plans (progression.go) replay the
//     sessions: each is held to the target the ones before it earned, and a
//     plan is complete once its planned sessions are done.
//   - Targets are integers of the unit's precision (1/100 or 1), so an
//     increment, a rep step or a deload never accumulates a rounding error.
//   - Values carry the unit's precision: hundredths for kg, lb, seconds and
//     meters, whole numbers for reps. Finer input is refused rather than
//     rounded, so a target is exact and Target(1) equals the start value.
//   - For load units (kg, lb) a log is sets × reps at value. For reps,
//     seconds and meters the value is the measured quantity of a set and reps
//     must be 1, so "3 sets of 12 reps" has one reading: sets 3, value 12.
//   - Status life cycle: pending → active | rejected | archived;
//     active → completed | archived; completed → active | archived, back to
//     active only when a corrected or deleted log leaves the plan
//     incomplete (status follows the logs, see Challenge.Resettle). Rejected and
//     archived are terminal: a rejection keeps its reason instead of being
//     hidden by an archive, and an archived challenge (its user is gone, or
//     they put it away) never comes back.
//
// Errors: *ValidationError lists every invalid field by its API JSON name
// (HTTP 422); ErrInvalidTransition, ErrChallengeClosed and
// ErrChallengeNotComplete are conflicts with the current state (HTTP 409).
package domain
