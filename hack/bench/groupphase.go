package bench

// The groups phase: seeding the groups through the API (their logs through
// SQL), and leaderboard reads mixed with log writes at the fixed rate,
// checked read after write and compared with the cached hot read.

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"net/http"
	"slices"
	"strings"
	"time"

	openapi_types "github.com/oapi-codegen/runtime/types"
	"golang.org/x/sync/errgroup"

	challengeclient "github.com/progressive-overload/po/services/challenge/api/client"
)

// groupPlan is the plan of every seeded group (a fixed plan: the k-th
// session's target is start + increment × (k-1)).
var groupPlan = seedPlans[0]

// groupSeedTimeout bounds the wait for the account service to validate
// every participation.
const groupSeedTimeout = 3 * time.Minute

// seedGroups creates the groups phase's groups through the challenge
// service's API, waits until every participation is active, and gives the
// participations their logs straight in MySQL. Their boards are then
// built from MySQL on their first read in the phase: the cached variant
// starts on an empty Redis prefix, and the service that seeded them is
// stopped.
func (r *Runner) seedGroups(ctx context.Context) error {
	cfg := r.cfg
	if !r.own() {
		r.report.Notes = append(r.report.Notes, "the groups phase was skipped: it seeds logs into MySQL under the leaderboards, which needs a system the tool starts")
		return nil
	}
	if r.challenge == nil {
		if err := r.startChallenge(ctx, true); err != nil {
			return err
		}
		defer func() {
			if r.challenge != nil {
				_ = r.challenge.Stop(20 * time.Second)
				r.challenge, r.debug = nil, ""
			}
		}()
	}
	hi := min(cfg.GroupMax, len(r.users))
	lo := min(cfg.GroupMin, hi)
	sizes := GroupSizes(cfg.Groups, lo, hi, cfg.GroupZipf)
	total := 0
	for _, n := range sizes {
		total += n
	}
	rng := rand.New(rand.NewPCG(cfg.Seed+13, cfg.Seed+14))
	// Each group's users, its owner first: distinct within a group, a user
	// may be in several.
	who := make([][]int, len(sizes))
	for g, n := range sizes {
		who[g] = rng.Perm(len(r.users))[:n]
	}
	r.logf("seeding %d groups of %d–%d participants (%s participations) through the challenge service's API (%d at once)",
		len(sizes), lo, hi, FormatInt(int64(total)), cfg.SeedConcurrency)
	t0 := time.Now()
	now := time.Now().UTC()
	start := planStart(now, groupPlan.weeks)
	members := make([][]GroupMember, len(sizes))
	codes := make([]string, len(sizes))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(cfg.SeedConcurrency)
	cnt := newCounter(r.out, "groups (API)", len(sizes))
	for gi := range sizes {
		g.Go(func() error {
			owner := r.users[who[gi][0]]
			p := groupPlan
			in := challengeclient.CreateChallengeRequest{Title: fmt.Sprintf("Bench group %d", gi+1), Exercise: p.exercise, Unit: challengeclient.Kg,
				StartValue: p.start, Increment: p.inc, IncrementEvery: int32(p.every), SessionsPerWeek: int32(p.spw),
				Weeks: int32(p.weeks), StartDate: &openapi_types.Date{Time: start}}
			var grp challengeclient.Group
			if _, err := r.seedDo(gctx, http.MethodPost, r.challengeURL()+"/challenges/groups", owner.Token, in, &grp, http.StatusCreated); err != nil {
				return err
			}
			if grp.YourChallengeId == nil {
				return fmt.Errorf("group %d: the owner's answer has no yourChallengeId", grp.Id)
			}
			var inv challengeclient.NewInvite
			if _, err := r.seedDo(gctx, http.MethodPost, fmt.Sprintf("%s/challenges/groups/%d/invites", r.challengeURL(), grp.Id), owner.Token,
				challengeclient.CreateInviteRequest{}, &inv, http.StatusCreated); err != nil {
				return err
			}
			members[gi] = make([]GroupMember, len(who[gi]))
			members[gi][0] = GroupMember{Group: grp.Id, User: owner.ID, Challenge: *grp.YourChallengeId, Token: owner.Token}
			codes[gi] = inv.Code
			cnt.inc()
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return err
	}
	g, gctx = errgroup.WithContext(ctx)
	g.SetLimit(cfg.SeedConcurrency)
	cnt = newCounter(r.out, "joins (API)", total-len(sizes))
	// In a shuffled order: joins of one group take its lock in turn (the
	// participant cap), so the joins in flight are better spread out.
	var joins [][2]int
	for gi := range sizes {
		for k := 1; k < len(who[gi]); k++ {
			joins = append(joins, [2]int{gi, k})
		}
	}
	rng.Shuffle(len(joins), func(i, j int) { joins[i], joins[j] = joins[j], joins[i] })
	for _, j := range joins {
		gi, k := j[0], j[1]
		g.Go(func() error {
			u := r.users[who[gi][k]]
			var p challengeclient.Participation
			if _, err := r.seedDo(gctx, http.MethodPost, r.challengeURL()+"/challenges/groups/join", u.Token,
				challengeclient.JoinGroupRequest{Code: codes[gi]}, &p, http.StatusAccepted); err != nil {
				return err
			}
			members[gi][k] = GroupMember{Group: members[gi][0].Group, User: u.ID, Challenge: p.ChallengeId, Token: u.Token}
			cnt.inc()
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return err
	}
	api := time.Since(t0)
	db, err := sql.Open("mysql", withParams(r.dsn("challenge"), "parseTime=true&loc=UTC"))
	if err != nil {
		return err
	}
	defer db.Close()
	t1 := time.Now()
	if err := r.waitParticipations(ctx, db, total); err != nil {
		return err
	}
	validated := time.Since(t1)
	t2 := time.Now()
	all := slices.Concat(members...)
	logs, err := SeedGroupLogs(ctx, db, all, groupPlan, start, now, cfg.Logs, cfg.Seed+15)
	if err != nil {
		return err
	}
	r.groupSet = NewGroupSet(all)
	r.report.Notes = append(r.report.Notes, fmt.Sprintf("seeding: %d groups (%s participations) through the API took %s (%d at once), their validation by the account service %s more, their %s logs (SQL) %s",
		len(sizes), FormatInt(int64(total)), api.Round(100*time.Millisecond), cfg.SeedConcurrency, validated.Round(100*time.Millisecond),
		FormatInt(int64(logs)), time.Since(t2).Round(100*time.Millisecond)))
	return nil
}

// seedDo is APIClient.Do, trying again (up to 5 times) on a 503: the
// service sheds load it cannot take, and nothing was changed.
func (r *Runner) seedDo(ctx context.Context, method, url, token string, in, out any, want ...int) (int, error) {
	for attempt := 0; ; attempt++ {
		code, err := r.api.Do(ctx, method, url, token, in, out, want...)
		if code != http.StatusServiceUnavailable || attempt == 4 {
			return code, err
		}
		select {
		case <-ctx.Done():
			return code, ctx.Err()
		case <-time.After(time.Duration(200*(attempt+1)) * time.Millisecond):
		}
	}
}

// waitParticipations polls the challenge database until none of the want
// participations is pending: the account service validates each over
// RabbitMQ, as it does a new challenge.
func (r *Runner) waitParticipations(ctx context.Context, db *sql.DB, want int) error {
	deadline := time.Now().Add(groupSeedTimeout)
	last := time.Time{}
	for {
		counts := map[string]int{}
		rows, err := db.QueryContext(ctx, "SELECT status, COUNT(*) FROM group_participants GROUP BY status")
		if err != nil {
			return err
		}
		for rows.Next() {
			var s string
			var n int
			if err := rows.Scan(&s, &n); err != nil {
				rows.Close()
				return err
			}
			counts[s] = n
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		switch {
		case counts["active"] == want && len(counts) == 1:
			return nil
		case counts["pending"] == 0:
			return fmt.Errorf("participations by status %v, want %d active", counts, want)
		case time.Now().After(deadline):
			return fmt.Errorf("participations still pending after %s: %v", groupSeedTimeout, counts)
		}
		if time.Since(last) >= 2*time.Second {
			r.logf("  participations: %s active, %s pending", FormatInt(int64(counts["active"])), FormatInt(int64(counts["pending"])))
			last = time.Now()
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(250 * time.Millisecond):
		}
	}
}

// SeedGroupLogs gives each participation up to maxLogs logs (0 included)
// straight in MySQL, one a day at noon UTC on distinct days from the plan's
// start to two days ago, each at its session's target or one increment
// under it, and records on each member what they add up to (BaseUnits,
// BaseSessions, BaseReached). It returns how many logs it wrote.
func SeedGroupLogs(ctx context.Context, db *sql.DB, members []GroupMember, p seedPlan, start, now time.Time, maxLogs int, seed uint64) (int, error) {
	last := time.Date(now.Year(), now.Month(), now.Day(), 12, 0, 0, 0, time.UTC).AddDate(0, 0, -2)
	days := int(last.Sub(start.Add(12*time.Hour)).Hours()/24) + 1
	if days < 1 {
		return 0, errors.New("the group plan starts too late for seeded logs")
	}
	rng := rand.New(rand.NewPCG(seed, seed+1))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(4)
	const batch = 1000
	var rows []string
	var args []any
	written := 0
	send := func() {
		q := "INSERT INTO workout_logs (challenge_id, user_id, performed_at, sets, reps, value, note, created_at) VALUES " + strings.Join(rows, ",")
		a := args
		rows, args = nil, nil
		g.Go(func() error {
			_, err := db.ExecContext(gctx, q, a...)
			return err
		})
	}
	for i := range members {
		m := &members[i]
		n := min(rng.IntN(maxLogs+1), days)
		offs := rng.Perm(days)[:n]
		slices.Sort(offs)
		m.BaseUnits, m.BaseSessions, m.BaseReached = 0, n, time.Time{}
		for j, off := range offs {
			at := start.Add(12*time.Hour).AddDate(0, 0, off)
			v := p.start + p.inc*float64(j/p.every)
			if rng.IntN(10) < 3 {
				v -= p.inc // a missed target
			}
			sets, reps := 3+rng.IntN(3), 5
			m.BaseUnits += int64(sets) * int64(reps) * int64(math.Round(v*100))
			m.BaseReached = at
			rows = append(rows, "(?,?,?,?,?,?,?,?)")
			args = append(args, m.Challenge, m.User, at, sets, reps, v, nil, at.Add(time.Minute))
			written++
			if len(rows) == batch {
				send()
			}
		}
	}
	if len(rows) > 0 {
		send()
	}
	return written, g.Wait()
}

// groupsPhase runs the leaderboard reads and log writes at the fixed rate.
func (r *Runner) groupsPhase(ctx context.Context, variant string) error {
	cfg := r.cfg
	if r.groupSet == nil {
		return nil
	}
	base := r.challengeURL()
	hot, label, err := r.hotRead(ctx, variant)
	if err != nil {
		return err
	}
	set := r.groupSet
	m0 := set.Members[0]
	// The ranking counters from before the settling reads: the rebuilds
	// are every board's first, the one settle reads included.
	before, berr := r.metricsOf(ctx, base)
	r.settle(ctx, base+LeaderboardPath(m0.Group), m0.Token, cfg.Bound/2)
	lo, hi := math.MaxInt, 0
	for _, n := range set.Sizes {
		lo, hi = min(lo, n), max(hi, n)
	}
	chk := NewGroupChecker(set, SizeBuckets(lo, hi))
	name := "groups (" + variant + ")"
	r.logf("\n[%s] %s/s for %s: leaderboard reads of %d groups by their participants, %.0f%% log writes, checking reads after writes",
		name, FormatInt(int64(cfg.Rate)), cfg.Duration, len(set.Sizes), 100*cfg.WriteFrac)
	profiled := r.prof.start(ctx, "groups "+variant, cfg.Duration)
	res := r.measure(ctx, name, true, r.serviceProcs(), func(ctx context.Context) Summary {
		a := r.attack("groups", cfg.Rate, cfg.Duration, cfg.Timeout, GroupTargeter(base, set, cfg.WriteFrac, cfg.Seed+17))
		a.KeepBody, a.OnResult = true, chk.OnResult
		return Run(ctx, a)
	})
	profiled()
	st := chk.Stats()
	st.Hot, st.HotLabel = hot, label
	if after, err := r.metricsOf(context.WithoutCancel(ctx), base); err == nil && berr == nil {
		rb0, src0, ok0 := RankingCounts(before)
		rb1, src1, ok1 := RankingCounts(after)
		if ok0 || ok1 {
			st.MetricsKnown, st.Rebuilds, st.ReadsBySource = true, subCounts(rb1, rb0), subCounts(src1, src0)
		}
	}
	res.Groups = st
	for _, b := range st.Buckets {
		r.logf("  groups of %s: %d groups, %s reads, p50 %s, p99 %s", b.Bucket.Label(), b.Groups, FormatInt(int64(b.Reads.Requests)),
			FormatDuration(b.Reads.P50), FormatDuration(b.Reads.P99))
	}
	c := st.Check
	r.logf("  read-after-write: %s entries checked (%s after a write), %s stale; %s above their writes, %s foreign, %s of %s reads without `you`, %s with a wrong total; %.0f rebuilds",
		FormatInt(int64(c.Checked)), FormatInt(int64(c.AfterWrite)), FormatInt(int64(c.Stale)), FormatInt(int64(c.Over)), FormatInt(int64(c.Foreign)),
		FormatInt(int64(c.YouMissing)), FormatInt(int64(c.YouChecked)), FormatInt(int64(c.WrongTotal)), sumCounts(st.Rebuilds))
	for _, e := range c.Examples {
		r.logf("  stale board: %s", e)
	}
	if chk.Other > 0 {
		r.logf("  %s answers could not be placed (undecodable or unknown URL)", FormatInt(int64(chk.Other)))
	}
	r.groups.Results = append(r.groups.Results, res)
	if ctx.Err() != nil {
		return ctx.Err()
	}
	return r.alive("the groups phase of "+variant, r.account, r.challenge)
}

// hotRead is the cached hot read the boards are held to: the same run's
// warm open-loop result when there is one, or else a run of its own at the
// same rate for the same time, after one read of every user (so that it is
// warm too).
func (r *Runner) hotRead(ctx context.Context, variant string) (Summary, string, error) {
	cfg := r.cfg
	for _, res := range r.open.Results {
		if res.Variant == VarCachedWarm {
			return res.Summary, "`" + VarCachedWarm + "` of this run", nil
		}
	}
	base := r.challengeURL()
	r.logf("\n[%s] the cached hot read at %s/s for %s, for the groups phase to compare with (every user read once first)", variant, FormatInt(int64(cfg.Rate)), cfg.Duration)
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(cfg.SeedConcurrency)
	for _, u := range r.users {
		g.Go(func() error {
			_, err := r.api.Do(gctx, http.MethodGet, base+LogsPath(u.ID), u.Token, nil, nil, http.StatusOK)
			return err
		})
	}
	if err := g.Wait(); err != nil {
		return Summary{}, "", err
	}
	res := r.measure(ctx, "hot read ("+variant+")", true, r.serviceProcs(), func(ctx context.Context) Summary {
		return Run(ctx, r.attack("hot read", cfg.Rate, cfg.Duration, cfg.Timeout, ReadTargeter(base, LogsPath, r.users, r.zipf)))
	})
	return res.Summary, "a warm run of its own just before", ctx.Err()
}
