package bench

// The groups phase's pure parts: the group sizes, the size buckets, the
// traffic (leaderboard reads by participants, log writes on their own
// participations) and the read-after-write check of the boards.

import (
	"encoding/json"
	"fmt"
	"maps"
	"math"
	"math/rand/v2"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"

	"github.com/progressive-overload/po/services/challenge/api/client"
)

// GroupSizes returns n group sizes between lo and hi (inclusive), Zipf
// distributed: P(size = k) ∝ k^-s. They are the distribution's quantiles at
// i/(n-1), i = 0..n-1, in ascending order, rather than random draws: the
// smallest group has lo participants and the largest hi, every run has the
// same groups, and a few hundred groups still fill each size bucket as the
// distribution says (a random draw of 200 may leave the largest bucket
// empty).
func GroupSizes(n, lo, hi int, s float64) []int {
	if n <= 0 || lo < 1 || hi < lo {
		return nil
	}
	cdf := make([]float64, hi-lo+1)
	sum := 0.0
	for k := lo; k <= hi; k++ {
		sum += math.Pow(float64(k), -s)
		cdf[k-lo] = sum
	}
	for i := range cdf {
		cdf[i] /= sum
	}
	cdf[len(cdf)-1] = 1
	out := make([]int, n)
	for i := range out {
		p := 1.0
		if n > 1 {
			p = float64(i) / float64(n-1)
		}
		j, _ := slices.BinarySearch(cdf, p) // the first k with CDF(k) ≥ p
		out[i] = lo + min(j, len(cdf)-1)
	}
	return out
}

// SizeBucket is a range of group sizes reported together.
type SizeBucket struct{ Lo, Hi int }

// Label is "5–20".
func (b SizeBucket) Label() string { return strconv.Itoa(b.Lo) + "–" + strconv.Itoa(b.Hi) }

// groupBucketEdges are the upper bounds of the size buckets but the last.
var groupBucketEdges = []int{20, 100}

// SizeBuckets splits lo..hi at 20 and 100 (5–20, 21–100, 101–500 for the
// default sizes), leaving out the ranges outside lo..hi.
func SizeBuckets(lo, hi int) []SizeBucket {
	var out []SizeBucket
	from := lo
	for _, e := range append(slices.Clone(groupBucketEdges), hi) {
		to := min(e, hi)
		if to >= from {
			out = append(out, SizeBucket{Lo: from, Hi: to})
			from = to + 1
		}
	}
	return out
}

// BucketOf returns the index of the bucket holding size (-1: none).
func BucketOf(bs []SizeBucket, size int) int {
	for i, b := range bs {
		if size >= b.Lo && size <= b.Hi {
			return i
		}
	}
	return -1
}

// GroupMember is one participation of the groups phase: a user in a group,
// with their own challenge on its plan and what their seeded logs add up
// to, which the board must show before any write of the phase.
type GroupMember struct {
	Group, User, Challenge int64
	Token                  string
	// BaseUnits is Σ sets × reps × value of the seeded logs in hundredths
	// (the board's volume × 100; exact, the values are multiples of 0.5).
	BaseUnits int64
	// BaseSessions is how many days have a seeded log: one log a day at
	// noon UTC, two days ago at the latest, so they are distinct days and
	// before today in any time zone.
	BaseSessions int
	// BaseReached is the newest seeded log's performedAt (zero without).
	BaseReached time.Time
	header      http.Header // Authorization
	writeHeader http.Header // Authorization, Content-Type
}

// GroupSet is the groups phase's data: each group's size and members.
type GroupSet struct {
	Members []GroupMember
	Sizes   map[int64]int // group id -> participants
	byKey   map[[2]int64]int
	byChal  map[int64]int
}

// NewGroupSet indexes members (every participation of every group).
func NewGroupSet(members []GroupMember) *GroupSet {
	s := &GroupSet{Members: members, Sizes: map[int64]int{}, byKey: map[[2]int64]int{}, byChal: map[int64]int{}}
	for i := range members {
		m := &members[i]
		s.Sizes[m.Group]++
		s.byKey[[2]int64{m.Group, m.User}] = i
		s.byChal[m.Challenge] = i
		m.header = http.Header{"Authorization": {"Bearer " + m.Token}}
		m.writeHeader = http.Header{"Authorization": {"Bearer " + m.Token}, "Content-Type": {"application/json"}}
	}
	return s
}

// Member returns the index of user's participation in group.
func (s *GroupSet) Member(group, user int64) (int, bool) {
	i, ok := s.byKey[[2]int64{group, user}]
	return i, ok
}

// LeaderboardPath is the leaderboard's first page.
func LeaderboardPath(group int64) string {
	return "/challenges/groups/" + strconv.FormatInt(group, 10) + "/leaderboard"
}

// The targets carry what the checker needs in their URL's fragment, which
// the client never sends: the reader of a board (#r=user) and the volume a
// write adds (#u=hundredths), whatever its answer.
const (
	readerFrag = "#r="
	unitsFrag  = "#u="
)

// GroupTargeter returns leaderboard reads and, with probability writeFrac,
// log writes. Each request is a participation drawn uniformly (every
// participant as active as any other, so a group is read and written in
// proportion to its size): a read of its group's first page with its
// user's token, or a new log (performedAt: now) on its own challenge.
func GroupTargeter(base string, set *GroupSet, writeFrac float64, seed uint64) vegeta.Targeter {
	reads := make([]string, len(set.Members))
	writes := make([]string, len(set.Members))
	for i, m := range set.Members {
		reads[i] = base + LeaderboardPath(m.Group) + readerFrag + strconv.FormatInt(m.User, 10)
		writes[i] = base + "/challenges/" + strconv.FormatInt(m.Challenge, 10) + "/logs"
	}
	var mu sync.Mutex
	r := rand.New(rand.NewPCG(seed, seed+1))
	return func(t *vegeta.Target) error {
		mu.Lock()
		i := r.IntN(len(set.Members))
		write := r.Float64() < writeFrac
		sets, reps, halves := 1+r.IntN(5), 1+r.IntN(12), 80+r.IntN(240) // value 40..159.5
		mu.Unlock()
		m := &set.Members[i]
		if !write {
			t.Method, t.URL, t.Header, t.Body = http.MethodGet, reads[i], m.header, nil
			return nil
		}
		units := int64(sets) * int64(reps) * int64(halves) * 50
		t.Method = http.MethodPost
		t.URL = writes[i] + unitsFrag + strconv.FormatInt(units, 10)
		t.Header = m.writeHeader
		t.Body = fmt.Appendf(nil, `{"sets":%d,"reps":%d,"value":%g,"note":"bench group"}`, sets, reps, float64(halves)/2)
		return nil
	}
}

// GroupWrite is one log write of the phase, whatever its answer.
type GroupWrite struct {
	Sent, End time.Time
	Units     int64 // volume it adds, hundredths
	// OK: answered 201 (it happened); Maybe: no answer (it may have).
	// Neither: a refusal (4xx, 5xx: nothing was changed).
	OK, Maybe   bool
	PerformedAt time.Time // the created log's (OK only)
}

// SeenEntry is one leaderboard entry a read showed.
type SeenEntry struct {
	User     int64
	Units    int64 // volume × 100
	Sessions int
	Reached  time.Time
}

// GroupRead is one 200 leaderboard read.
type GroupRead struct {
	Group, Reader int64
	Sent, End     time.Time
	Entries       []SeenEntry // the page's items
	You           *SeenEntry
	Total         int
}

// GroupChecker collects the phase's writes and reads (OnResult runs in one
// goroutine) and checks the reads once the attack is over: a write whose
// answer arrives after a read was sent may have been sent before it, so
// nothing can be judged while results still come in.
type GroupChecker struct {
	set     *GroupSet
	buckets []SizeBucket
	Writes  [][]GroupWrite // by member
	Reads   []GroupRead
	// Latencies of every leaderboard read (whatever its answer), all and
	// by size bucket, and of every write.
	AllReads  *Recorder
	ByBucket  []*Recorder
	WritesRec *Recorder
	Other     int // answers the checker could not place (decoding, unknown URL)
}

// NewGroupChecker returns a checker of set's boards, bucketed by buckets.
func NewGroupChecker(set *GroupSet, buckets []SizeBucket) *GroupChecker {
	c := &GroupChecker{set: set, buckets: buckets, Writes: make([][]GroupWrite, len(set.Members)),
		AllReads: NewRecorder(0), WritesRec: NewRecorder(0)}
	for range buckets {
		c.ByBucket = append(c.ByBucket, NewRecorder(0))
	}
	return c
}

type leaderboardJSON = client.Leaderboard

func seen(e client.LeaderboardEntry) SeenEntry {
	return SeenEntry{User: e.UserId, Units: int64(math.Round(e.Volume * 100)), Sessions: e.Sessions, Reached: e.ReachedAt}
}

// OnResult records one result; bodies must be kept (Attack.KeepBody).
func (c *GroupChecker) OnResult(res *vegeta.Result) {
	u, frag, _ := strings.Cut(res.URL, "#")
	if res.Method == http.MethodPost {
		c.WritesRec.Add(res.Timestamp, res.Latency, int(res.Code), res.Error)
		units, err1 := strconv.ParseInt(strings.TrimPrefix(frag, unitsFrag[1:]), 10, 64)
		i, ok := c.set.byChal[challengeFromLogsURL(u)]
		if err1 != nil || !ok {
			c.Other++
			return
		}
		w := GroupWrite{Sent: res.Timestamp, End: res.End(), Units: units, OK: res.Code == http.StatusCreated, Maybe: res.Code == 0}
		if w.OK {
			var l logJSON
			if json.Unmarshal(res.Body, &l) == nil {
				w.PerformedAt = l.PerformedAt
			}
		}
		c.Writes[i] = append(c.Writes[i], w)
		return
	}
	c.AllReads.Add(res.Timestamp, res.Latency, int(res.Code), res.Error)
	group, ok := groupFromLeaderboardURL(u)
	reader, err := strconv.ParseInt(strings.TrimPrefix(frag, readerFrag[1:]), 10, 64)
	if !ok || err != nil {
		c.Other++
		return
	}
	if b := BucketOf(c.buckets, c.set.Sizes[group]); b >= 0 {
		c.ByBucket[b].Add(res.Timestamp, res.Latency, int(res.Code), res.Error)
	}
	if res.Code != http.StatusOK {
		return
	}
	var lb leaderboardJSON
	if json.Unmarshal(res.Body, &lb) != nil {
		c.Other++
		return
	}
	r := GroupRead{Group: group, Reader: reader, Sent: res.Timestamp, End: res.End(), Total: lb.Total, Entries: make([]SeenEntry, len(lb.Items))}
	for i, e := range lb.Items {
		r.Entries[i] = seen(e)
	}
	if lb.You != nil {
		y := seen(*lb.You)
		r.You = &y
	}
	c.Reads = append(c.Reads, r)
}

// groupFromLeaderboardURL reads the group id of a leaderboard URL.
func groupFromLeaderboardURL(u string) (int64, bool) {
	u = strings.TrimSuffix(u, "/leaderboard")
	id, err := strconv.ParseInt(u[strings.LastIndexByte(u, '/')+1:], 10, 64)
	return id, err == nil
}

// GroupCheck is what the reads showed against the writes.
type GroupCheck struct {
	// Entries (items and `you`) checked against their participant's
	// seeded logs and earlier writes, and of those, the ones whose
	// participant had a write that completed before the read was sent.
	Checked, AfterWrite int
	// Stale: an entry below what its participant's earlier writes made
	// it (volume, sessions or reach time).
	Stale int
	// Over: an entry's volume above its seeded logs plus every write of
	// its participant that was sent before the read's answer and was not
	// refused: volume from nowhere, or a write counted twice.
	Over int
	// Foreign: an entry of a user who is not in the group.
	Foreign int
	// Reads checked for the caller's own entry, and of those the ones
	// without it (`you` null or someone else's).
	YouChecked, YouMissing int
	// WrongTotal: reads whose total is not the group's size (every
	// participant is active).
	WrongTotal int
	Examples   []string
}

// Failed is how many findings break the aim.
func (g GroupCheck) Failed() int { return g.Stale + g.Over + g.Foreign + g.YouMissing + g.WrongTotal }

// CheckGroupReads checks every read: each entry (the page's items and the
// caller's `you`) of a participant must show at least their seeded logs
// plus each of their writes that completed (201) before the read was sent,
// counted one by one: the volume at least the seeded volume plus each such
// write's sets × reps × value (the writes' volumes are at least 0.5 apart
// from nothing: any missing write shows), sessions at least one more than
// the seeded days once a write landed today, and the reach time no earlier
// than the newest such write's performedAt. And at most what the seeded
// logs and the writes sent before the read's answer (and not refused) add
// up to: a write counted twice or volume from nowhere shows too.
func CheckGroupReads(set *GroupSet, writes [][]GroupWrite, reads []GroupRead) GroupCheck {
	var g GroupCheck
	byEnd := make([][]GroupWrite, len(writes))
	bySent := make([][]GroupWrite, len(writes))
	for i, ws := range writes {
		for _, w := range ws {
			if w.OK {
				byEnd[i] = append(byEnd[i], w)
			}
			if w.OK || w.Maybe {
				bySent[i] = append(bySent[i], w)
			}
		}
		slices.SortFunc(byEnd[i], func(a, b GroupWrite) int { return a.End.Compare(b.End) })
		slices.SortFunc(bySent[i], func(a, b GroupWrite) int { return a.Sent.Compare(b.Sent) })
	}
	example := func(format string, args ...any) {
		if len(g.Examples) < 5 {
			g.Examples = append(g.Examples, fmt.Sprintf(format, args...))
		}
	}
	check := func(r GroupRead, e SeenEntry, what string) {
		i, ok := set.Member(r.Group, e.User)
		if !ok {
			g.Foreign++
			example("group %d: %s shows user %d, who is not in it", r.Group, what, e.User)
			return
		}
		m := set.Members[i]
		g.Checked++
		// Writes that completed before the read was sent.
		done := byEnd[i][:sortedBefore(byEnd[i], r.Sent, func(w GroupWrite) time.Time { return w.End })]
		lowUnits, lowSessions, lowReached := m.BaseUnits, m.BaseSessions, m.BaseReached
		for _, w := range done {
			lowUnits += w.Units
			if w.PerformedAt.After(lowReached) {
				lowReached = w.PerformedAt
			}
		}
		if len(done) > 0 {
			g.AfterWrite++
			lowSessions++ // today's, a day no seeded log has
		}
		// Writes sent before the answer that were not refused.
		sent := bySent[i][:sortedBefore(bySent[i], r.End, func(w GroupWrite) time.Time { return w.Sent })]
		highUnits := m.BaseUnits
		for _, w := range sent {
			highUnits += w.Units
		}
		switch {
		case e.Units < lowUnits:
			g.Stale++
			example("group %d: %s user %d volume %s, but the seeded logs and %d earlier write(s) make %s (read sent %s after the last of them ended)",
				r.Group, what, e.User, hundredths(e.Units), len(done), hundredths(lowUnits), sinceLast(r.Sent, done))
		case e.Sessions < lowSessions:
			g.Stale++
			example("group %d: %s user %d has %d sessions, at least %d expected after %d write(s) today", r.Group, what, e.User, e.Sessions, lowSessions, len(done))
		case e.Reached.UnixMicro() < lowReached.UnixMicro():
			g.Stale++
			example("group %d: %s user %d reached at %s, before their log of %s", r.Group, what, e.User,
				e.Reached.UTC().Format(time.RFC3339Nano), lowReached.UTC().Format(time.RFC3339Nano))
		case e.Units > highUnits:
			g.Over++
			example("group %d: %s user %d volume %s, more than the seeded logs and every write sent before the answer (%s)",
				r.Group, what, e.User, hundredths(e.Units), hundredths(highUnits))
		}
	}
	for _, r := range reads {
		for _, e := range r.Entries {
			check(r, e, "the page")
		}
		if _, ok := set.Member(r.Group, r.Reader); ok {
			g.YouChecked++
			switch {
			case r.You == nil:
				g.YouMissing++
				example("group %d: user %d's read has no `you`", r.Group, r.Reader)
			case r.You.User != r.Reader:
				g.YouMissing++
				example("group %d: user %d's `you` is user %d's entry", r.Group, r.Reader, r.You.User)
			default:
				check(r, *r.You, "`you` of")
			}
		}
		if r.Total != set.Sizes[r.Group] {
			g.WrongTotal++
			example("group %d: total %d, the group has %d participants", r.Group, r.Total, set.Sizes[r.Group])
		}
	}
	return g
}

// sortedBefore is how many of ws (sorted by at) have at(w) before t.
func sortedBefore(ws []GroupWrite, t time.Time, at func(GroupWrite) time.Time) int {
	n, _ := slices.BinarySearchFunc(ws, t, func(w GroupWrite, t time.Time) int {
		if at(w).Before(t) {
			return -1
		}
		return 1
	})
	return n
}

func hundredths(u int64) string { return strconv.FormatFloat(float64(u)/100, 'f', 2, 64) }

func sinceLast(t time.Time, ws []GroupWrite) string {
	if len(ws) == 0 {
		return "–"
	}
	return t.Sub(ws[len(ws)-1].End).Round(time.Microsecond).String()
}

// BucketStats are the reads of one size bucket.
type BucketStats struct {
	Bucket               SizeBucket
	Groups, Participants int
	Reads                Summary
}

// GroupStats are the groups phase's extras.
type GroupStats struct {
	Groups, Participants int
	SizeMin, SizeMax     int
	Buckets              []BucketStats
	Reads, Writes        Summary
	Check                GroupCheck
	// Hot is the cached hot read (GET /challenges/logs/{userId}) the boards
	// are held to: the same run's warm open-loop run, or a run of the
	// phase's own when the run has none. HotLabel says which.
	Hot      Summary
	HotLabel string
	// From the challenge service's /metrics over the phase (kit/ranking):
	// board rebuilds by result and board reads by source.
	Rebuilds      map[string]float64
	ReadsBySource map[string]float64
	MetricsKnown  bool
}

// Stats summarises the phase (the boards' checks included).
func (c *GroupChecker) Stats() *GroupStats {
	s := &GroupStats{Reads: c.AllReads.Summary(0), Writes: c.WritesRec.Summary(0), Check: CheckGroupReads(c.set, c.Writes, c.Reads),
		Groups: len(c.set.Sizes), Participants: len(c.set.Members)}
	for _, n := range c.set.Sizes {
		if s.SizeMin == 0 || n < s.SizeMin {
			s.SizeMin = n
		}
		s.SizeMax = max(s.SizeMax, n)
	}
	for i, b := range c.buckets {
		bs := BucketStats{Bucket: b, Reads: c.ByBucket[i].Summary(0)}
		for _, n := range c.set.Sizes {
			if BucketOf(c.buckets, n) == i {
				bs.Groups++
				bs.Participants += n
			}
		}
		s.Buckets = append(s.Buckets, bs)
	}
	return s
}

// Largest is the bucket of the largest groups that was read (false: none).
func (s *GroupStats) Largest() (BucketStats, bool) {
	for i := len(s.Buckets) - 1; i >= 0; i-- {
		if s.Buckets[i].Reads.Requests > 0 {
			return s.Buckets[i], true
		}
	}
	return BucketStats{}, false
}

// Ranking metric names (services/kit/ranking).
const (
	rankingRebuilds = "ranking_rebuilds_total" // by name, result (written, raced, failed)
	rankingReads    = "ranking_reads_total"    // by name, source (redis, rebuild, fallback, refused)
)

// RankingCounts sums the boards' rebuilds by result and reads by source
// (over every board name); found is false when the service has neither.
func RankingCounts(samples []Sample) (rebuilds, reads map[string]float64, found bool) {
	rebuilds, reads = map[string]float64{}, map[string]float64{}
	for _, s := range samples {
		switch s.Name {
		case rankingRebuilds:
			rebuilds[s.Labels["result"]] += s.Value
			found = true
		case rankingReads:
			reads[s.Labels["source"]] += s.Value
			found = true
		}
	}
	return rebuilds, reads, found
}

// subCounts is after - before, key by key.
func subCounts(after, before map[string]float64) map[string]float64 {
	out := make(map[string]float64, len(after))
	for k, v := range after {
		out[k] = v - before[k]
	}
	return out
}

// sumCounts is the sum of m's values.
func sumCounts(m map[string]float64) float64 {
	s := 0.0
	for _, v := range m {
		s += v
	}
	return s
}

// countsCell prints "a 3, b 97" in key order ("–" when empty).
func countsCell(m map[string]float64) string {
	if len(m) == 0 {
		return "–"
	}
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(m)) {
		parts = append(parts, k+" "+FormatInt(int64(math.Round(m[k]))))
	}
	return strings.Join(parts, ", ")
}
