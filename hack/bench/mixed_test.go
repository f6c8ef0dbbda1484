package bench

import (
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"
)

func TestCheckReadAfterWrite(t *testing.T) {
	t0 := time.Unix(1000, 0)
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	key := func(ms int, id int64) LogKey { return LogKey{PerformedAt: at(ms), ID: id} }
	writes := map[int64][]WriteRec{
		1: {{Key: key(15, 12), End: at(20)}, {Key: key(5, 11), End: at(10)}, {Key: key(25, 13), End: at(30)}},
		2: {{Key: key(1, 21), End: at(5)}},
	}
	reads := []ReadRec{
		{User: 1, Start: at(5), IDs: []int64{1, 2}},                                       // before every write: nothing to check
		{User: 1, Start: at(25), IDs: []int64{12, 11, 3}},                                 // 11 and 12 done: both there
		{User: 1, Start: at(35), IDs: []int64{13, 11, 3}},                                 // 12 missing
		{User: 2, Start: at(6), IDs: []int64{21}},                                         // fine
		{User: 3, Start: at(50), IDs: nil},                                                // no writes
		{User: 1, Start: at(30), IDs: []int64{12, 11}},                                    // 13 ended exactly then: not yet required
		{User: 1, Start: at(40), IDs: []int64{14, 13, 12}, Full: true, Last: key(15, 12)}, // 11 is older than the full page: pushed out
		{User: 1, Start: at(40), IDs: []int64{14, 13}, Full: true, Last: key(25, 13)},     // 12 and 11 pushed out
	}
	checks, viol, ex := CheckReadAfterWrite(writes, reads)
	if checks != 2+3+1+2+2+1 || viol != 1 {
		t.Fatalf("checks %d violations %d", checks, viol)
	}
	if len(ex) != 1 || !strings.Contains(ex[0], "user 1: log 12") {
		t.Fatalf("%q", ex)
	}
}

func TestLogKeyOrder(t *testing.T) {
	t0 := time.Unix(1000, 0)
	a, b, c := LogKey{t0, 5}, LogKey{t0, 6}, LogKey{t0.Add(time.Microsecond), 1}
	if !a.Less(b) || !b.Less(c) || c.Less(a) || a.Less(a) {
		t.Fatal("order")
	}
}

func TestRAWCheckerCollects(t *testing.T) {
	users := []*User{{ID: 7, Token: "t", Challenges: []int64{70, 71}}}
	c := NewRAWChecker(users, 2)
	t0 := time.Unix(2000, 0)
	c.OnResult(&vegeta.Result{Method: http.MethodPost, URL: "http://x/challenges/71/logs", Code: 201, Timestamp: t0, Latency: time.Millisecond,
		Body: []byte(`{"id":555,"challengeId":71,"userId":7,"performedAt":"2026-11-25T10:00:00.000001Z"}`)})
	c.OnResult(&vegeta.Result{Method: http.MethodPost, URL: "http://x/challenges/70/logs", Code: 409, Timestamp: t0, Latency: time.Millisecond})
	c.OnResult(&vegeta.Result{Method: http.MethodGet, URL: "http://x/challenges/logs/7", Code: 200, Timestamp: t0.Add(2 * time.Millisecond),
		Latency: time.Millisecond, Body: []byte(`{"items":[{"id":555,"performedAt":"2026-11-25T10:00:00.000001Z"},{"id":3,"performedAt":"2026-11-20T10:00:00Z"}],"nextCursor":"x"}`)})
	if len(c.Writes[7]) != 1 || c.Writes[7][0].Key.ID != 555 || !c.Writes[7][0].End.Equal(t0.Add(time.Millisecond)) {
		t.Fatalf("writes %+v", c.Writes)
	}
	if len(c.Reads) != 1 || c.Reads[0].User != 7 || len(c.Reads[0].IDs) != 2 || !c.Reads[0].Full || c.Reads[0].Last.ID != 3 {
		t.Fatalf("reads %+v", c.Reads)
	}
	if c.Writes2xx.Summary(0).Requests != 2 || c.Reads2xx.Summary(0).Requests != 1 {
		t.Fatal("recorders")
	}
	checks, viol, _ := CheckReadAfterWrite(c.Writes, c.Reads)
	if checks != 1 || viol != 0 {
		t.Fatalf("%d %d", checks, viol)
	}
}

func TestMixedTargeter(t *testing.T) {
	users := []*User{{ID: 1, Token: "a", Challenges: []int64{10}}, {ID: 2, Token: "b"}}
	z, _ := NewZipf(len(users), 1.5, 3)
	tr := MixedTargeter("http://127.0.0.1:1", users, z, 0.3, 9, nil)
	writes, reads := 0, 0
	for i := 0; i < 2000; i++ {
		var tg vegeta.Target
		if err := tr(&tg); err != nil {
			t.Fatal(err)
		}
		switch tg.Method {
		case http.MethodPost:
			writes++
			if tg.URL != "http://127.0.0.1:1/challenges/10/logs" || tg.Header.Get("Authorization") != "Bearer a" ||
				tg.Header.Get("Content-Type") != "application/json" || !strings.HasPrefix(string(tg.Body), `{"sets":`) {
				t.Fatalf("write %+v %s", tg, tg.Body)
			}
		case http.MethodGet:
			reads++
			if !strings.HasPrefix(tg.URL, "http://127.0.0.1:1/challenges/logs/") {
				t.Fatalf("read %+v", tg)
			}
		}
	}
	// Only user 1 has challenges; writes are about 30% of user 1's draws.
	if writes == 0 || reads == 0 || writes > 2000*3/10+100 {
		t.Fatalf("writes %d reads %d", writes, reads)
	}
}

func TestCheckCorrections(t *testing.T) {
	t0 := time.Unix(1000, 0)
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	corrections := []CorrectionRec{
		{User: 1, LogID: 11, Value: 60.25, End: at(20)},
		{User: 1, LogID: 12, Deleted: true, End: at(10)},
	}
	reads := []ReadRec{
		{User: 1, Start: at(5), IDs: []int64{12, 11}, Values: []float64{50, 60}},  // before both: nothing to check
		{User: 1, Start: at(15), IDs: []int64{11}, Values: []float64{60}},         // deleted one gone; patch not done yet
		{User: 1, Start: at(15), IDs: []int64{12, 11}, Values: []float64{50, 60}}, // deleted one still there
		{User: 1, Start: at(25), IDs: []int64{11}, Values: []float64{60.25}},      // both right
		{User: 1, Start: at(25), IDs: []int64{11}, Values: []float64{60}},         // old value
		{User: 1, Start: at(25), IDs: []int64{9}, Values: []float64{1}},           // corrected log on a later page: only the deletion checked
		{User: 2, Start: at(25), IDs: []int64{12, 11}, Values: []float64{50, 60}}, // another user's
	}
	checks, viol, ex := CheckCorrections(corrections, reads)
	if checks != 1+1+2+2+1 || viol != 2 || len(ex) != 2 ||
		!strings.Contains(ex[0], "log 12 was deleted") || !strings.Contains(ex[1], "corrected to 60.25") {
		t.Fatalf("checks %d violations %d %q", checks, viol, ex)
	}
}

// A write whose DELETE was sent before a read was answered need not be on
// its page: the deletion may have come first.
func TestDeletedWriteNotRequired(t *testing.T) {
	t0 := time.Unix(1000, 0)
	ms := func(n int) time.Time { return t0.Add(time.Duration(n) * time.Millisecond) }
	writes := map[int64][]WriteRec{1: {{Key: LogKey{t0, 11}, End: t0, DeleteSent: ms(10)}}}
	reads := []ReadRec{
		{User: 1, Start: ms(1), End: ms(2)},   // answered before the DELETE was sent: checked, stale
		{User: 1, Start: ms(3), End: ms(12)},  // answered after: overlaps the DELETE
		{User: 1, Start: ms(20), End: ms(21)}, // sent after
		{User: 1, Start: ms(4)},               // no End: as if answered when sent, checked
	}
	if checks, viol, _ := CheckReadAfterWrite(writes, reads); checks != 2 || viol != 2 {
		t.Fatalf("checks %d violations %d", checks, viol)
	}
}

func TestRAWCheckerCorrections(t *testing.T) {
	users := []*User{{ID: 7, Token: "t", Challenges: []int64{70}}}
	c := NewRAWChecker(users, 20)
	t0 := time.Unix(2000, 0)
	for _, id := range []int{555, 556} {
		c.OnResult(&vegeta.Result{Method: http.MethodPost, URL: "http://x/challenges/70/logs", Code: 201, Timestamp: t0, Latency: time.Millisecond,
			Body: []byte(`{"id":` + strconv.Itoa(id) + `,"challengeId":70,"userId":7,"performedAt":"2026-11-25T10:00:00Z"}`)})
	}
	r := rand.New(rand.NewPCG(1, 2))
	taken := map[int64]bool{}
	for range 2 {
		cid, lid, ok := c.Pool.Take(7, r)
		if !ok || cid != 70 || taken[lid] {
			t.Fatalf("take %d %d %v", cid, lid, ok)
		}
		taken[lid] = true
	}
	if _, _, ok := c.Pool.Take(7, r); ok {
		t.Fatal("a log handed out twice")
	}
	c.OnResult(&vegeta.Result{Method: http.MethodPatch, URL: "http://x/challenges/70/logs/555", Code: 200, Timestamp: t0.Add(time.Second), Latency: time.Millisecond,
		Body: []byte(`{"id":555,"challengeId":70,"userId":7,"value":60.25}`)})
	c.OnResult(&vegeta.Result{Method: http.MethodDelete, URL: "http://x/challenges/70/logs/556", Code: 503, Timestamp: t0.Add(time.Second), Latency: time.Millisecond})
	if len(c.Corrections) != 1 || c.Corrections[0].Value != 60.25 || c.Corrections[0].LogID != 555 || c.Corrections[0].Deleted {
		t.Fatalf("corrections %+v", c.Corrections)
	}
	if !c.Writes[7][1].DeleteSent.Equal(t0.Add(time.Second)) {
		t.Fatalf("a failed DELETE may still have deleted: %+v", c.Writes[7][1])
	}
	if s := c.Stats(); s.Patched != 1 || s.Deleted != 0 || s.Writes.Requests != 4 {
		t.Fatalf("stats %+v", s)
	}
}

func TestMixedTargeterCorrects(t *testing.T) {
	users := []*User{{ID: 1, Token: "a", Challenges: []int64{10}}}
	z, _ := NewZipf(len(users), 1.5, 3)
	pool := NewLogPool()
	for id := int64(100); id < 400; id++ {
		pool.Add(1, 10, id)
	}
	tr := MixedTargeter("http://h", users, z, 1, 9, pool)
	methods := map[string]int{}
	seen := map[string]bool{}
	for range 1000 {
		var tg vegeta.Target
		if err := tr(&tg); err != nil {
			t.Fatal(err)
		}
		methods[tg.Method]++
		if tg.Method == http.MethodPatch || tg.Method == http.MethodDelete {
			if seen[tg.URL] || !strings.HasPrefix(tg.URL, "http://h/challenges/10/logs/") {
				t.Fatalf("%s %s", tg.Method, tg.URL)
			}
			seen[tg.URL] = true
		}
		if tg.Method == http.MethodPatch && !strings.Contains(string(tg.Body), `.25,"note"`) && !strings.Contains(string(tg.Body), `.75,"note"`) {
			t.Fatalf("patch body %s", tg.Body)
		}
	}
	if methods[http.MethodPatch] == 0 || methods[http.MethodDelete] == 0 || methods[http.MethodPost] < 500 {
		t.Fatalf("methods %v", methods)
	}
}
