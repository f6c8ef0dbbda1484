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

// MixedTargeter returns reads of the hot endpoint and, with probability
// writeFrac, writes of a new log to one of the drawn user's challenges.
// Users without challenges are only read.
func MixedTargeter(base string, users []*User, z *Zipf, writeFrac float64, seed uint64) vegeta.Targeter {
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
		var cid int64
		var reps, sets int
		var value float64
		if write {
			cid = u.Challenges[r.IntN(len(u.Challenges))]
			sets, reps = 1+r.IntN(5), 1+r.IntN(12)
			value = float64(40+r.IntN(120)) + 0.5*float64(r.IntN(2))
		}
		mu.Unlock()
		if !write {
			t.Method, t.URL, t.Header, t.Body = http.MethodGet, base+LogsPath(u.ID), u.header, nil
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
}

// ReadRec is a read: when it was sent, the log ids on the page, the page's
// last (oldest) entry and whether the page was full.
type ReadRec struct {
	User  int64
	Start time.Time
	IDs   []int64
	Last  LogKey
	Full  bool
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
}

// NewRAWChecker returns a checker knowing which user owns each challenge;
// pageSize is the default page's length.
func NewRAWChecker(users []*User, pageSize int) *RAWChecker {
	c := &RAWChecker{challengeUser: map[int64]int64{}, pageSize: pageSize, Writes: map[int64][]WriteRec{}, Reads2xx: NewRecorder(0), Writes2xx: NewRecorder(0)}
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
			c.Writes[user] = append(c.Writes[user], WriteRec{Key: LogKey{PerformedAt: l.PerformedAt, ID: l.Id}, End: res.End()})
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
	r := ReadRec{User: user, Start: res.Timestamp, IDs: make([]int64, len(page.Items)), Full: len(page.Items) >= c.pageSize}
	for i, it := range page.Items {
		r.IDs[i] = it.Id
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
			*checks++
			if !slices.Contains(r.IDs, w.Key.ID) {
				missing(r, w)
			}
		}
	}
}
