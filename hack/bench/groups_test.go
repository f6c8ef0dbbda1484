package bench

import (
	"fmt"
	"math"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"
)

func TestGroupSizesAreZipfBetweenTheBounds(t *testing.T) {
	const n, lo, hi, s = 200, 5, 500, 2.0
	sizes := GroupSizes(n, lo, hi, s)
	if len(sizes) != n || sizes[0] != lo || sizes[n-1] != hi || !slices.IsSorted(sizes) {
		t.Fatalf("sizes %v", sizes)
	}
	// The sum is n times the distribution's mean, within 10% (the
	// quantiles put the largest group at hi, above its share).
	var z, mean float64
	for k := lo; k <= hi; k++ {
		z += math.Pow(float64(k), -s)
	}
	for k := lo; k <= hi; k++ {
		mean += float64(k) * math.Pow(float64(k), -s) / z
	}
	sum := 0
	for _, k := range sizes {
		if k < lo || k > hi {
			t.Fatalf("size %d out of %d..%d", k, lo, hi)
		}
		sum += k
	}
	if want := n * mean; math.Abs(float64(sum)-want)/want > 0.1 {
		t.Errorf("sum %d, want about %.0f", sum, want)
	}
	// Each size's share follows the power law: as many groups of 5 as
	// P(5) says, within one, and twice as many of 5 as of about 7 (5^-2
	// vs 7^-2 ≈ 2).
	count := map[int]int{}
	for _, k := range sizes {
		count[k]++
	}
	if want := n * math.Pow(5, -s) / z; math.Abs(float64(count[5])-want) > 1 {
		t.Errorf("%d groups of 5, want about %.1f", count[5], want)
	}
	if r := float64(count[5]) / float64(count[7]); r < 1.6 || r > 2.5 {
		t.Errorf("groups of 5 / groups of 7 = %.2f, want about 2", r)
	}
	// Every default bucket has groups, fewer the larger.
	bs := SizeBuckets(lo, hi)
	per := make([]int, len(bs))
	for _, k := range sizes {
		per[BucketOf(bs, k)]++
	}
	if per[0] <= per[1] || per[1] <= per[2] || per[2] == 0 {
		t.Errorf("groups per bucket %v", per)
	}
	// A steeper law makes smaller groups; the same arguments the same sizes.
	sum2 := 0
	for _, k := range GroupSizes(n, lo, hi, 2.5) {
		sum2 += k
	}
	if sum2 >= sum {
		t.Errorf("s = 2.5 sums to %d, s = 2 to %d", sum2, sum)
	}
	if !slices.Equal(sizes, GroupSizes(n, lo, hi, s)) {
		t.Error("not deterministic")
	}
	if q := GroupSizes(10, 3, 20, 2); len(q) != 10 || q[0] != 3 || q[9] != 20 {
		t.Errorf("quick sizes %v", q)
	}
	if one := GroupSizes(1, 5, 500, 2); len(one) != 1 || one[0] != 500 {
		t.Errorf("one group %v", one)
	}
	if GroupSizes(0, 5, 500, 2) != nil || GroupSizes(3, 10, 5, 2) != nil {
		t.Error("bad arguments accepted")
	}
}

func TestSizeBuckets(t *testing.T) {
	for _, c := range []struct {
		lo, hi int
		want   string
	}{
		{5, 500, "5–20 21–100 101–500"},
		{3, 20, "3–20"},
		{5, 100, "5–20 21–100"},
		{30, 80, "30–80"},
		{21, 101, "21–100 101–101"},
	} {
		var got []string
		for _, b := range SizeBuckets(c.lo, c.hi) {
			got = append(got, b.Label())
		}
		if strings.Join(got, " ") != c.want {
			t.Errorf("%d..%d: %v, want %s", c.lo, c.hi, got, c.want)
		}
	}
	bs := SizeBuckets(5, 500)
	for size, want := range map[int]int{5: 0, 20: 0, 21: 1, 100: 1, 101: 2, 500: 2, 4: -1, 501: -1} {
		if got := BucketOf(bs, size); got != want {
			t.Errorf("BucketOf(%d) = %d, want %d", size, got, want)
		}
	}
}

// groupFixture: group 1 holds users 10 (seeded 1,000.00 kg of volume over
// 4 days, the newest at noon of t0's day) and 11 (nothing seeded); group 2
// holds users 10 and 12.
func groupFixture() (*GroupSet, time.Time) {
	t0 := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	set := NewGroupSet([]GroupMember{
		{Group: 1, User: 10, Challenge: 100, Token: "a", BaseUnits: 100000, BaseSessions: 4, BaseReached: t0},
		{Group: 1, User: 11, Challenge: 101, Token: "b"},
		{Group: 2, User: 10, Challenge: 200, Token: "a", BaseUnits: 5000, BaseSessions: 1, BaseReached: t0},
		{Group: 2, User: 12, Challenge: 201, Token: "c"},
	})
	return set, t0
}

func TestCheckGroupReads(t *testing.T) {
	set, t0 := groupFixture()
	now := t0.Add(48 * time.Hour)
	at := func(ms int) time.Time { return now.Add(time.Duration(ms) * time.Millisecond) }
	// User 10's writes in group 1: 50.00 done at 10 ms, 7.50 done at 30 ms,
	// one refused (never counts), one unanswered (may have landed).
	writes := make([][]GroupWrite, len(set.Members))
	writes[0] = []GroupWrite{
		{Sent: at(20), End: at(30), Units: 750, OK: true, PerformedAt: at(25)},
		{Sent: at(5), End: at(10), Units: 5000, OK: true, PerformedAt: at(8)},
		{Sent: at(12), End: at(13), Units: 99999, PerformedAt: time.Time{}}, // 409: nothing changed
		{Sent: at(40), End: at(1040), Units: 1200, Maybe: true},             // timed out
	}
	base := SeenEntry{User: 10, Units: 100000, Sessions: 4, Reached: t0}
	e := func(units int64, sessions int, reached time.Time) SeenEntry {
		return SeenEntry{User: 10, Units: units, Sessions: sessions, Reached: reached}
	}
	other := SeenEntry{User: 11, Units: 0, Sessions: 0, Reached: at(-100000)}
	you := func(s SeenEntry) *SeenEntry { return &s }
	reads := []GroupRead{
		// 1. Before any write: the seeded logs; user 11 reads.
		{Group: 1, Reader: 11, Sent: at(1), End: at(2), Total: 2, Entries: []SeenEntry{base, other}, You: you(other)},
		// 2. After the first write: +50.00, a session today, reached then.
		{Group: 1, Reader: 10, Sent: at(11), End: at(12), Total: 2, Entries: []SeenEntry{e(105000, 5, at(8)), other}, You: you(e(105000, 5, at(8)))},
		// 3. Sent at 25 ms: the second write (done at 30) need not show; it may.
		{Group: 1, Reader: 11, Sent: at(25), End: at(35), Total: 2, Entries: []SeenEntry{e(105000, 5, at(8)), other}, You: you(other)},
		{Group: 1, Reader: 11, Sent: at(25), End: at(35), Total: 2, Entries: []SeenEntry{e(105750, 5, at(25)), other}, You: you(other)},
		// 4. Sent after both: the second is missing (stale).
		{Group: 1, Reader: 11, Sent: at(31), End: at(32), Total: 2, Entries: []SeenEntry{e(105000, 5, at(8)), other}, You: you(other)},
		// 5. Volume right but the reach time is the first write's (stale).
		{Group: 1, Reader: 11, Sent: at(31), End: at(32), Total: 2, Entries: []SeenEntry{e(105750, 5, at(8))}, You: you(other)},
		// 6. Volume right but no session today (stale).
		{Group: 1, Reader: 11, Sent: at(31), End: at(32), Total: 2, Entries: []SeenEntry{e(105750, 4, at(25))}, You: you(other)},
		// 7. The unanswered write may show once sent, even after the read was...
		{Group: 1, Reader: 11, Sent: at(38), End: at(50), Total: 2, Entries: []SeenEntry{e(106950, 5, at(41))}, You: you(other)},
		// 8. ... but not before it was sent, nor the refused one ever (over).
		{Group: 1, Reader: 11, Sent: at(31), End: at(39), Total: 2, Entries: []SeenEntry{e(106950, 5, at(25))}, You: you(other)},
		{Group: 1, Reader: 11, Sent: at(31), End: at(39), Total: 2, Entries: []SeenEntry{e(105750+99999, 5, at(25))}, You: you(other)},
		// 10. The writes were to group 1: group 2's board of user 10 stays
		// at its own seeded logs; user 11 is not in group 2 (foreign), the
		// reader's `you` is missing and the total is wrong.
		{Group: 2, Reader: 12, Sent: at(60), End: at(61), Total: 3, Entries: []SeenEntry{{User: 10, Units: 5000, Sessions: 1, Reached: t0}, other}},
		// 11. `you` is someone else's.
		{Group: 2, Reader: 12, Sent: at(60), End: at(61), Total: 2, Entries: nil, You: you(SeenEntry{User: 10, Units: 5000, Sessions: 1, Reached: t0})},
		// 12. A seeded volume short of what MySQL holds (a rebuild that
		// missed a log) is stale too, write or none.
		{Group: 2, Reader: 10, Sent: at(60), End: at(61), Total: 2, Entries: []SeenEntry{{User: 10, Units: 4000, Sessions: 1, Reached: t0}}, You: you(SeenEntry{User: 10, Units: 5000, Sessions: 1, Reached: t0})},
	}
	g := CheckGroupReads(set, writes, reads)
	// Entries checked: reads 1–3 (two of 3): 3 each; 4: 3; 5–9: 2 each;
	// 10: 1 (user 11 is foreign); 11: 0 (you wrong); 12: 2.
	if g.Checked != 4*3+3+5*2+1+0+2 {
		t.Errorf("checked %d", g.Checked)
	}
	// After a write: user 10 in group 1 from read 2 on: reads 2 (page and
	// you), both 3, 4, 5–9.
	if g.AfterWrite != 2+2+1+5 {
		t.Errorf("after a write %d", g.AfterWrite)
	}
	if g.Stale != 4 || g.Over != 2 || g.Foreign != 1 || g.YouMissing != 2 || g.YouChecked != 13 || g.WrongTotal != 1 {
		t.Errorf("%+v", g)
	}
	if g.Failed() != 4+2+1+2+1 || len(g.Examples) != 5 || !strings.Contains(g.Examples[0], "group 1: the page user 10 volume 1050.00, but the seeded logs and 2 earlier write(s) make 1057.50") {
		t.Errorf("%d failed, examples %q", g.Failed(), g.Examples)
	}
	// Nothing to find in reads that reflect every write.
	if g := CheckGroupReads(set, writes, reads[:4]); g.Failed() != 0 || g.Checked != 12 {
		t.Errorf("clean reads: %+v", g)
	}
}

func TestGroupTargeterAndChecker(t *testing.T) {
	set, t0 := groupFixture()
	tr := GroupTargeter("http://x", set, 0.25, 3)
	c := NewGroupChecker(set, SizeBuckets(1, 2))
	ts := t0.Add(48 * time.Hour)
	reads, writes := 0, 0
	for i := 0; i < 4000; i++ {
		var tg vegeta.Target
		if err := tr(&tg); err != nil {
			t.Fatal(err)
		}
		u, frag, _ := strings.Cut(tg.URL, "#")
		switch tg.Method {
		case http.MethodGet:
			reads++
			reader, _ := strconv.ParseInt(strings.TrimPrefix(frag, "r="), 10, 64)
			group, ok := groupFromLeaderboardURL(u)
			m, isMember := set.Member(group, reader)
			if !ok || !isMember || tg.Header.Get("Authorization") != "Bearer "+set.Members[m].Token || tg.Body != nil ||
				u != "http://x/challenges/groups/"+strconv.FormatInt(group, 10)+"/leaderboard" {
				t.Fatalf("read %s %v", tg.URL, tg.Header)
			}
		case http.MethodPost:
			writes++
			m := set.byChal[challengeFromLogsURL(u)]
			var sets, reps int
			var value float64
			if _, err := fmt.Sscanf(string(tg.Body), `{"sets":%d,"reps":%d,"value":%g`, &sets, &reps, &value); err != nil {
				t.Fatalf("%s: %v", tg.Body, err)
			}
			units := int64(sets) * int64(reps) * int64(math.Round(value*100))
			if frag != "u="+strconv.FormatInt(units, 10) || value < 40 || value > 159.5 || math.Mod(value*2, 1) != 0 ||
				tg.Header.Get("Authorization") != "Bearer "+set.Members[m].Token || tg.Header.Get("Content-Type") != "application/json" {
				t.Fatalf("write %s %s %v", tg.URL, tg.Body, tg.Header)
			}
		}
	}
	if writes < 850 || writes > 1150 || reads+writes != 4000 {
		t.Errorf("%d writes of 4000, want about 1000", writes)
	}

	// The checker places answers by their URL and keeps the bodies' figures.
	c.OnResult(&vegeta.Result{Method: http.MethodPost, URL: "http://x/challenges/100/logs#u=750", Code: 201, Timestamp: ts, Latency: time.Millisecond,
		Body: []byte(`{"id":9,"challengeId":100,"performedAt":"2026-12-03T12:00:00.000005Z","sets":1,"reps":1,"value":7.5}`)})
	c.OnResult(&vegeta.Result{Method: http.MethodPost, URL: "http://x/challenges/101/logs#u=100", Code: 0, Timestamp: ts, Latency: time.Second, Error: "timeout"})
	c.OnResult(&vegeta.Result{Method: http.MethodPost, URL: "http://x/challenges/101/logs#u=100", Code: 409, Timestamp: ts, Latency: time.Millisecond})
	c.OnResult(&vegeta.Result{Method: http.MethodGet, URL: "http://x/challenges/groups/1/leaderboard#r=11", Code: 200, Timestamp: ts.Add(2 * time.Millisecond), Latency: time.Millisecond,
		Body: []byte(`{"groupId":1,"plannedSoFar":3,"total":2,"nextCursor":null,
		"items":[{"rank":1,"userId":10,"volume":1007.5,"sessions":5,"reachedAt":"2026-12-03T12:00:00.000005Z"},{"rank":2,"userId":11,"volume":0,"sessions":0,"reachedAt":"2026-12-01T00:00:00Z"}],
		"you":{"rank":2,"userId":11,"volume":0,"sessions":0,"reachedAt":"2026-12-01T00:00:00Z"}}`)})
	c.OnResult(&vegeta.Result{Method: http.MethodGet, URL: "http://x/challenges/groups/2/leaderboard#r=12", Code: 503, Timestamp: ts, Latency: 3 * time.Millisecond})
	c.OnResult(&vegeta.Result{Method: http.MethodGet, URL: "http://x/challenges/groups/2/leaderboard", Code: 200, Timestamp: ts, Latency: time.Millisecond})
	w := c.Writes[0]
	if len(w) != 1 || !w[0].OK || w[0].Units != 750 || w[0].PerformedAt.Nanosecond() != 5000 || len(c.Writes[1]) != 2 || !c.Writes[1][0].Maybe || c.Writes[1][1].Maybe || c.Writes[1][1].OK {
		t.Fatalf("writes %+v", c.Writes)
	}
	if len(c.Reads) != 1 || c.Reads[0].Reader != 11 || c.Reads[0].Total != 2 || c.Reads[0].Entries[0].Units != 100750 || c.Reads[0].You == nil || c.Reads[0].You.User != 11 {
		t.Fatalf("reads %+v", c.Reads)
	}
	if c.Other != 1 || c.AllReads.Len() != 3 || c.WritesRec.Len() != 3 || c.ByBucket[0].Len() != 2 {
		t.Errorf("other %d, reads %d, writes %d, bucket %d", c.Other, c.AllReads.Len(), c.WritesRec.Len(), c.ByBucket[0].Len())
	}
	// Seeded volume 1,000.00 + 7.50: the board above is right.
	st := c.Stats()
	if st.Check.Failed() != 0 || st.Check.Checked != 3 || st.Check.AfterWrite != 1 || st.Groups != 2 || st.Participants != 4 ||
		st.SizeMin != 2 || st.SizeMax != 2 || len(st.Buckets) != 1 || st.Buckets[0].Groups != 2 || st.Buckets[0].Reads.Requests != 2 {
		t.Errorf("stats %+v", st)
	}
}

func TestRankingCounts(t *testing.T) {
	before := ParsePromText(`ranking_rebuilds_total{name="leaderboard",result="written"} 2
ranking_reads_total{name="leaderboard",source="redis"} 100
`)
	after := ParsePromText(`# TYPE ranking_rebuilds_total counter
ranking_rebuilds_total{name="leaderboard",result="written"} 7
ranking_rebuilds_total{name="leaderboard",result="raced"} 1
ranking_rebuilds_total{name="leaderboard",result="failed"} 0
ranking_reads_total{name="leaderboard",source="redis"} 900
ranking_reads_total{name="other",source="redis"} 50
ranking_reads_total{name="leaderboard",source="rebuild"} 8
cache_requests_total{cache="logs",result="hit"} 5
`)
	rb0, src0, ok0 := RankingCounts(before)
	rb1, src1, ok1 := RankingCounts(after)
	if !ok0 || !ok1 {
		t.Fatal("not found")
	}
	rb, src := subCounts(rb1, rb0), subCounts(src1, src0)
	if sumCounts(rb) != 6 || rb["written"] != 5 || rb["raced"] != 1 || src["redis"] != 850 || src["rebuild"] != 8 || len(src) != 2 {
		t.Errorf("%v %v", rb, src)
	}
	if got := countsCell(nonZero(rb)); got != "raced 1, written 5" {
		t.Errorf("cell %q", got)
	}
	if _, _, ok := RankingCounts(ParsePromText("cache_requests_total 1\n")); ok {
		t.Error("found without the metrics")
	}
}

func groupReport(bigP99, hotP99 time.Duration, stale int) Report {
	st := &GroupStats{Groups: 3, Participants: 130, SizeMin: 5, SizeMax: 120, Reads: Summary{Requests: 100, OK: 100, P50: time.Millisecond, P99: bigP99}, Hot: Summary{Requests: 100, OK: 100, P50: time.Millisecond, P99: hotP99}, HotLabel: "`cache, warm` of this run",
		Buckets: []BucketStats{
			{Bucket: SizeBucket{5, 20}, Groups: 1, Participants: 5, Reads: Summary{Requests: 50, OK: 50, P50: time.Millisecond, P99: 2 * time.Millisecond}},
			{Bucket: SizeBucket{21, 100}, Groups: 0},
			{Bucket: SizeBucket{101, 120}, Groups: 2, Participants: 125, Reads: Summary{Requests: 50, OK: 50, P50: time.Millisecond, P99: bigP99}},
		},
		Check: GroupCheck{Checked: 1000, AfterWrite: 10, Stale: stale, YouChecked: 100}, MetricsKnown: true, Rebuilds: map[string]float64{"written": 3, "failed": 0}, ReadsBySource: map[string]float64{"redis": 97, "rebuild": 3}}
	return Report{Phases: []Phase{{Title: "Groups", Results: []Result{{Variant: "groups (cache)", Summary: Summary{Requests: 110, OK: 110}, Groups: st}}}}}
}

func TestGroupChecksAndTables(t *testing.T) {
	find := func(rep Report, prefix string) Check {
		for _, c := range Checks(rep, 3000) {
			if strings.HasPrefix(c.Aim, prefix) {
				return c
			}
		}
		t.Fatalf("no check %q", prefix)
		return Check{}
	}
	lat := find(groupReport(4*time.Millisecond, 2*time.Millisecond, 0), "groups at 3,000/s: leaderboard p99")
	if !lat.Known || !lat.Met || !strings.Contains(lat.Aim, "(101–120 participants)") || lat.Measured != "4.00 ms vs 2.00 ms = 2.0× (p99 by size: 5–20: 2.00 ms, 101–120: 4.00 ms)" {
		t.Errorf("%+v", lat)
	}
	if c := find(groupReport(4100*time.Microsecond, 2*time.Millisecond, 0), "groups at 3,000/s: leaderboard p99"); !c.Known || c.Met {
		t.Errorf("2.05× met: %+v", c)
	}
	if c := find(groupReport(time.Millisecond, 0, 0), "groups at 3,000/s: leaderboard p99"); c.Known {
		t.Errorf("no hot read, yet known: %+v", c)
	}
	raw := find(groupReport(time.Millisecond, time.Millisecond, 0), "groups: every leaderboard read")
	if !raw.Known || !raw.Met || raw.Measured != "0 stale of 1,000 entries checked (10 after a write)" {
		t.Errorf("%+v", raw)
	}
	if c := find(groupReport(time.Millisecond, time.Millisecond, 2), "groups: every leaderboard read"); c.Met {
		t.Errorf("stale met: %+v", c)
	}
	rep := groupReport(time.Millisecond, time.Millisecond, 0)
	rep.Phases[0].Results[0].Groups.Check.AfterWrite = 0
	if c := find(rep, "groups: every leaderboard read"); c.Known {
		t.Errorf("no write checked, yet known: %+v", c)
	}
	rep.Phases[0].Results[0].Groups.Check.YouMissing = 1
	rep.Phases[0].Results[0].Groups.Check.AfterWrite = 1
	if c := find(rep, "groups: every leaderboard read"); c.Met || !strings.Contains(c.Measured, "1 without `you`") {
		t.Errorf("you missing: %+v", c)
	}

	rep = groupReport(4*time.Millisecond, 2*time.Millisecond, 0)
	rep.Checks = Checks(rep, 3000)
	md := rep.Markdown()
	for _, want := range []string{
		"| group size | 5–20 | 21–100 | 101–120 | all sizes | cached hot read |",
		"| groups | 1 | 0 | 2 | 3 | – |",
		"| p99 | 2.00 ms | – | 4.00 ms | 4.00 ms | 2.00 ms |",
		"| p99 / hot read's p99 | 1.0× | – | 2.0× | 2.0× | 1.0× |",
		"| read-after-write (entries) | 1,000 checked (10 after a write), 0 stale |",
		"| board reads by source (ranking_reads_total) | rebuild 3, redis 97 |",
		"| board rebuilds (ranking_rebuilds_total) | 3 (written 3) |",
		"### Against the aims (issues 6, 13 and 15)",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("markdown lacks %q:\n%s", want, md)
		}
	}
	if txt := rep.Text(); !strings.Contains(txt, "groups (cache): leaderboard reads by group size") {
		t.Errorf("text:\n%s", txt)
	}
}
