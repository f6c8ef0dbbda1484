package bench

import (
	"encoding/json"
	"fmt"
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

// CorrectionShare is the share of the mixed phase's writes that correct a
// log instead of adding one, when the drawn user has a log the phase wrote
// and has not corrected yet: half PATCH its value, half DELETE it.
const CorrectionShare = 0.3

// MixedTargeter returns reads of the hot endpoint and, with probability
// writeFrac, writes: a new log on one of the drawn user's challenges or,
// for CorrectionShare of them, a PATCH or DELETE of a log this phase wrote
// earlier (taken from pool, so each log is corrected at most once; nil: no
// corrections). Users without challenges are only read.
func MixedTargeter(base string, users []*User, z *Zipf, writeFrac float64, seed uint64, pool *LogPool) vegeta.Targeter {
	writeHeaders := make([]http.Header, len(users))
	for i, u := range users {
		h := u.AuthHeader().Clone()
		h.Set("Content-Type", "application/json")
		writeHeaders[i] = h
	}
	var mu sync.Mutex
	r := rand.New(rand.NewPCG(seed, seed+1))
	return func(t *vegeta.Target) error {
		i := z.Next()
		u := users[i]
		mu.Lock()
		write := r.Float64() < writeFrac && len(u.Challenges) > 0
		var cid, lid int64
		var reps, sets int
		var value float64
		correct, del := false, false
		if write {
			cid = u.Challenges[r.IntN(len(u.Challenges))]
			sets, reps = 1+r.IntN(5), 1+r.IntN(12)
			value = float64(40+r.IntN(120)) + 0.5*float64(r.IntN(2))
			if pool != nil && r.Float64() < CorrectionShare {
				if c, l, ok := pool.Take(u.ID, r); ok {
					cid, lid, correct, del = c, l, true, r.IntN(2) == 0
				}
			}
		}
		mu.Unlock()
		if !write {
			t.Method, t.URL, t.Header, t.Body = http.MethodGet, base+LogsPath(u.ID), u.header, nil
			return nil
		}
		if correct {
			t.URL = base + "/challenges/" + strconv.FormatInt(cid, 10) + "/logs/" + strconv.FormatInt(lid, 10)
			t.Header = writeHeaders[i]
			if del {
				t.Method, t.Body = http.MethodDelete, nil
				return nil
			}
			// A value no POST of this phase writes (those end in .0 or
			// .5), so a read showing the old one cannot pass for the new.
			t.Method = http.MethodPatch
			t.Body = fmt.Appendf(nil, `{"value":%g,"note":"bench corrected"}`, value+0.25)
			return nil
		}
		t.Method = http.MethodPost
		t.URL = base + "/challenges/" + strconv.FormatInt(cid, 10) + "/logs"
		t.Header = writeHeaders[i]
		t.Body = fmt.Appendf(nil, `{"sets":%d,"reps":%d,"value":%g,"note":"bench"}`, sets, reps, value)
		return nil
	}
}

// LogKey is a log's place in a page: pages are ordered by performedAt,
// then id, both descending.
type LogKey struct {
	PerformedAt time.Time
	ID          int64
}

// Less reports whether k sorts after o in a page (is older).
func (k LogKey) Less(o LogKey) bool {
	if c := k.PerformedAt.Compare(o.PerformedAt); c != 0 {
		return c < 0
	}
	return k.ID < o.ID
}

// WriteRec is a write the client saw complete.
type WriteRec struct {
	Key LogKey
	End time.Time
	// DeleteSent is when a DELETE of the log was sent, whatever its answer
	// (zero: none): reads sent after it need not show the log.
	DeleteSent time.Time
}

// CorrectionRec is a PATCH (Deleted false, Value the stored value) or a
// DELETE of a log that the client saw succeed.
type CorrectionRec struct {
	User    int64
	LogID   int64
	Deleted bool
	Value   float64
	End     time.Time
}

// ReadRec is a read: when it was sent, the log ids on the page and their
// values, the page's last (oldest) entry and whether the page was full.
type ReadRec struct {
	User  int64
	Start time.Time
	// End is when its answer had arrived (zero: Start). A write deleted by
	// a DELETE sent before then may or may not be on the page: the read
	// and the deletion overlapped, and either may have come first.
	End    time.Time
	IDs    []int64
	Values []float64
	Last   LogKey
	Full   bool
}

func (r ReadRec) answered() time.Time {
	if r.End.IsZero() {
		return r.Start
	}
	return r.End
}

// LogPool holds the logs the mixed phase wrote, by user, until a
// correction takes one: each log is corrected at most once, so what a read
// must show of it is never ambiguous.
type LogPool struct {
	mu     sync.Mutex
	byUser map[int64][][2]int64 // challenge id, log id
}

// NewLogPool returns an empty pool.
func NewLogPool() *LogPool { return &LogPool{byUser: map[int64][][2]int64{}} }

// Add offers a log of user for correction.
func (p *LogPool) Add(user, challenge, log int64) {
	p.mu.Lock()
	p.byUser[user] = append(p.byUser[user], [2]int64{challenge, log})
	p.mu.Unlock()
}

// Take removes and returns one of user's logs, drawn with r.
func (p *LogPool) Take(user int64, r *rand.Rand) (challenge, log int64, ok bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	ls := p.byUser[user]
	if len(ls) == 0 {
		return 0, 0, false
	}
	i := r.IntN(len(ls))
	l := ls[i]
	ls[i] = ls[len(ls)-1]
	p.byUser[user] = ls[:len(ls)-1]
	return l[0], l[1], true
}

// RAWChecker collects the mixed phase's writes and reads to check that every
// read includes the writes of its user that completed before it was sent.
type RAWChecker struct {
	challengeUser map[int64]int64
	pageSize      int
	Writes        map[int64][]WriteRec // by user
	Reads         []ReadRec
	// Other, when set, is the base URL of another replica: its reads go to
	// OtherReads, which may miss a write while its invalidation travels.
	Other      string
	OtherReads []ReadRec
	Reads2xx   *Recorder
	Writes2xx  *Recorder
	// Pool receives every log a write created, for the targeter's
	// corrections; Corrections are those that succeeded.
	Pool        *LogPool
	Corrections []CorrectionRec
	// A log's writer and its index in Writes[writer], for its DELETE to
	// mark it (OnResult runs in one goroutine; the checks sort Writes later).
	writeUser map[int64]int64
	writeAt   map[int64]int
}

// NewRAWChecker returns a checker knowing which user owns each challenge;
// pageSize is the default page's length.
func NewRAWChecker(users []*User, pageSize int) *RAWChecker {
	c := &RAWChecker{challengeUser: map[int64]int64{}, pageSize: pageSize, Writes: map[int64][]WriteRec{}, Reads2xx: NewRecorder(0), Writes2xx: NewRecorder(0),
		Pool: NewLogPool(), writeAt: map[int64]int{}, writeUser: map[int64]int64{}}
	for _, u := range users {
		for _, ch := range u.Challenges {
			c.challengeUser[ch] = u.ID
		}
	}
	return c
}

// logJSON is the contract's WorkoutLog (the generated client's type).
type logJSON = client.WorkoutLog

// OnResult records one result; bodies must be kept (Attack.KeepBody).
func (c *RAWChecker) OnResult(res *vegeta.Result) {
	if res.Method == http.MethodPost {
		c.Writes2xx.Add(res.Timestamp, res.Latency, int(res.Code), res.Error)
		if res.Code != http.StatusCreated {
			return
		}
		var l logJSON
		if json.Unmarshal(res.Body, &l) != nil || l.Id == 0 {
			return
		}
		user, ok := c.challengeUser[l.ChallengeId]
		if !ok {
			user, ok = c.challengeUser[challengeFromLogsURL(res.URL)]
		}
		if ok {
			c.writeAt[l.Id] = len(c.Writes[user])
			c.writeUser[l.Id] = user
			c.Writes[user] = append(c.Writes[user], WriteRec{Key: LogKey{PerformedAt: l.PerformedAt, ID: l.Id}, End: res.End()})
			c.Pool.Add(user, l.ChallengeId, l.Id)
		}
		return
	}
	if res.Method == http.MethodPatch || res.Method == http.MethodDelete {
		c.Writes2xx.Add(res.Timestamp, res.Latency, int(res.Code), res.Error)
		logID := idAfterLast(res.URL)
		user, ok := c.writeUser[logID]
		if !ok {
			return
		}
		if res.Method == http.MethodDelete {
			// Sent: from now on the log may be gone, whatever the answer.
			c.Writes[user][c.writeAt[logID]].DeleteSent = res.Timestamp
			if res.Code == http.StatusNoContent {
				c.Corrections = append(c.Corrections, CorrectionRec{User: user, LogID: logID, Deleted: true, End: res.End()})
			}
			return
		}
		var l logJSON
		if res.Code == http.StatusOK && json.Unmarshal(res.Body, &l) == nil && l.Id == logID {
			c.Corrections = append(c.Corrections, CorrectionRec{User: user, LogID: logID, Value: l.Value, End: res.End()})
		}
		return
	}
	c.Reads2xx.Add(res.Timestamp, res.Latency, int(res.Code), res.Error)
	if res.Code != http.StatusOK {
		return
	}
	user, ok := userFromLogsURL(res.URL)
	if !ok {
		return
	}
	var page struct {
		Items []logJSON `json:"items"`
	}
	if json.Unmarshal(res.Body, &page) != nil {
		return
	}
	r := ReadRec{User: user, Start: res.Timestamp, End: res.End(), IDs: make([]int64, len(page.Items)), Values: make([]float64, len(page.Items)),
		Full: len(page.Items) >= c.pageSize}
	for i, it := range page.Items {
		r.IDs[i], r.Values[i] = it.Id, it.Value
	}
	if n := len(page.Items); n > 0 {
		r.Last = LogKey{PerformedAt: page.Items[n-1].PerformedAt, ID: page.Items[n-1].Id}
	}
	if c.Other != "" && strings.HasPrefix(res.URL, c.Other) {
		c.OtherReads = append(c.OtherReads, r)
		return
	}
	c.Reads = append(c.Reads, r)
}

// idAfterLast is the id at the end of a URL (a log's, for PATCH and DELETE).
func idAfterLast(u string) int64 {
	id, _ := strconv.ParseInt(u[strings.LastIndexByte(u, '/')+1:], 10, 64)
	return id
}

func challengeFromLogsURL(u string) int64 {
	u = strings.TrimSuffix(u, "/logs")
	i := strings.LastIndexByte(u, '/')
	id, _ := strconv.ParseInt(u[i+1:], 10, 64)
	return id
}

// CheckReadAfterWrite checks every read against the writes of its user that
// completed before the read was sent: each must be on the page, unless the
// page is full and the write sorts after its last entry (newer logs pushed
// it to a later page). It returns the number of (read, write) pairs
// checked, how many writes were missing, and a few examples.
func CheckReadAfterWrite(writes map[int64][]WriteRec, reads []ReadRec) (checks, violations int, examples []string) {
	checkRAW(writes, reads, func(r ReadRec, w WriteRec) {
		violations++
		if len(examples) < 5 {
			examples = append(examples, fmt.Sprintf("user %d: log %d was written %s before a read that did not include it",
				r.User, w.Key.ID, r.Start.Sub(w.End).Round(time.Microsecond)))
		}
	}, &checks)
	return checks, violations, examples
}

// StaleAges runs the same check and returns, for every missing write, how
// long before the read was sent it had completed: across replicas, a read
// may miss a write only while the write's invalidation is on its way.
func StaleAges(writes map[int64][]WriteRec, reads []ReadRec) (checks int, ages []time.Duration) {
	checkRAW(writes, reads, func(r ReadRec, w WriteRec) { ages = append(ages, r.Start.Sub(w.End)) }, &checks)
	return checks, ages
}

func checkRAW(writes map[int64][]WriteRec, reads []ReadRec, missing func(ReadRec, WriteRec), checks *int) {
	for u := range writes {
		slices.SortFunc(writes[u], func(a, b WriteRec) int { return a.End.Compare(b.End) })
	}
	for _, r := range reads {
		ws := writes[r.User]
		n, _ := slices.BinarySearchFunc(ws, r.Start, func(w WriteRec, t time.Time) int {
			if w.End.Before(t) {
				return -1
			}
			return 1
		})
		for _, w := range ws[:n] {
			if r.Full && w.Key.Less(r.Last) {
				continue
			}
			if !w.DeleteSent.IsZero() && w.DeleteSent.Before(r.answered()) {
				continue // deleted, or being deleted: CheckCorrections' business
			}
			*checks++
			if !slices.Contains(r.IDs, w.Key.ID) {
				missing(r, w)
			}
		}
	}
}

// CheckCorrections checks every read against the corrections of its user
// that succeeded before the read was sent: a deleted log must not be on the
// page, a corrected one, when on the page (it may have been pushed to a
// later one), must show its corrected value. It returns the number of
// (read, correction) pairs checked, how many the read contradicted, and a
// few examples.
func CheckCorrections(corrections []CorrectionRec, reads []ReadRec) (checks, violations int, examples []string) {
	byUser := map[int64][]CorrectionRec{}
	for _, c := range corrections {
		byUser[c.User] = append(byUser[c.User], c)
	}
	for u := range byUser {
		slices.SortFunc(byUser[u], func(a, b CorrectionRec) int { return a.End.Compare(b.End) })
	}
	for _, r := range reads {
		cs := byUser[r.User]
		n, _ := slices.BinarySearchFunc(cs, r.Start, func(c CorrectionRec, t time.Time) int {
			if c.End.Before(t) {
				return -1
			}
			return 1
		})
		for _, c := range cs[:n] {
			i := slices.Index(r.IDs, c.LogID)
			if !c.Deleted && i < 0 {
				continue // not on this page: nothing to see
			}
			checks++
			switch {
			case c.Deleted && i >= 0:
				violations++
				if len(examples) < 5 {
					examples = append(examples, fmt.Sprintf("user %d: log %d was deleted %s before a read that still showed it",
						r.User, c.LogID, r.Start.Sub(c.End).Round(time.Microsecond)))
				}
			case !c.Deleted && r.Values[i] != c.Value:
				violations++
				if len(examples) < 5 {
					examples = append(examples, fmt.Sprintf("user %d: log %d was corrected to %g %s before a read that showed %g",
						r.User, c.LogID, c.Value, r.Start.Sub(c.End).Round(time.Microsecond), r.Values[i]))
				}
			}
		}
	}
	return checks, violations, examples
}

// Stats are the phase's read-after-write figures: new logs and corrections
// checked against the reads through the writer.
func (c *RAWChecker) Stats() *MixedStats {
	checks, viol, ex := CheckReadAfterWrite(c.Writes, c.Reads)
	cchecks, cviol, cex := CheckCorrections(c.Corrections, c.Reads)
	patched := 0
	for _, k := range c.Corrections {
		if !k.Deleted {
			patched++
		}
	}
	return &MixedStats{
		Reads: c.Reads2xx.Summary(0), Writes: c.Writes2xx.Summary(0),
		Checks: checks, Violations: viol, Examples: append(ex, cex...),
		Patched: patched, Deleted: len(c.Corrections) - patched, CorrectionChecks: cchecks, CorrectionViolations: cviol,
	}
}
