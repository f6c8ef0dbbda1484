package chaos

import (
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

var t0 = time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC)

func at(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }

func ok(ms int, lat time.Duration) Sample {
	return Sample{Kind: KindRead, Start: at(ms), Latency: lat, Status: 200}
}

func TestStatsCountsFailuresAndErrorWindow(t *testing.T) {
	samples := []Sample{
		ok(100, 2*time.Millisecond), // baseline
		ok(200, 4*time.Millisecond),
		{Kind: KindLog, Start: at(1200), Latency: 30 * time.Millisecond, Status: 502},
		{Kind: KindRead, Start: at(1500), Latency: 100 * time.Millisecond, Status: 0, Err: "reset"},
		{Kind: KindChallenge, Start: at(1700), Latency: 50 * time.Millisecond, Status: 502},
		ok(1800, 3*time.Millisecond),
		{Kind: KindRead, Start: at(9000), Status: 500}, // outside the window
		{Kind: KindRead, Start: at(-5), Status: 500},   // before it
	}
	ws := Stats(samples, t0, at(1000), at(5000), RecoveryOpts{Bound: 10 * time.Millisecond, Bucket: time.Second, Hold: 1})
	if ws.Requests != 6 {
		t.Errorf("requests %d, want 6", ws.Requests)
	}
	if ws.Failed["502"] != 2 || ws.Failed["reset"] != 1 || len(ws.Failed) != 2 || ws.FailedTotal() != 3 {
		t.Errorf("failed %v, want 502 ×2 and reset ×1", ws.Failed)
	}
	// From the first failure sent (1200) to the last failure received (1750).
	if ws.ErrorWindow != 550*time.Millisecond {
		t.Errorf("error window %s, want 550ms", ws.ErrorWindow)
	}
	if ws.BaselineP99 != 4*time.Millisecond {
		t.Errorf("baseline p99 %s, want 4ms", ws.BaselineP99)
	}
	// The bucket [1000, 2000) holds failures; [2000, 3000) is empty and is
	// skipped; nothing after recovers it, so no recovery.
	if ws.Recovered || ws.BackRecovered {
		t.Errorf("recovered after %s / %s with no successful bucket after the failures", ws.Recovery, ws.BackToBase)
	}
	if got := FormatFailures(ws.Failed); got != "502 ×2, reset ×1" {
		t.Errorf("FormatFailures = %q", got)
	}
	if got := FormatFailures(nil); got != "0" {
		t.Errorf("FormatFailures(nil) = %q", got)
	}
}

func TestBackToBaseUsesTwiceTheBaseline(t *testing.T) {
	var samples []Sample
	for k := range 10 {
		samples = append(samples, ok(k*10, 20*time.Millisecond)) // baseline: 20ms, above the bound
	}
	for sec := 1; sec <= 4; sec++ {
		lat := 30 * time.Millisecond
		if sec == 1 {
			lat = 200 * time.Millisecond // the fault's disturbance
		}
		for k := range 10 {
			samples = append(samples, ok(sec*1000+k*10, lat))
		}
	}
	ws := Stats(samples, t0, at(1000), at(5000), RecoveryOpts{Bound: 10 * time.Millisecond, Bucket: time.Second, Hold: 3})
	if ws.Recovered {
		t.Errorf("under the 10ms bound after %s, but no bucket is", ws.Recovery)
	}
	if !ws.BackRecovered || ws.BackToBase != time.Second {
		t.Errorf("back under 2× the baseline after %s %v, want 1s", ws.BackToBase, ws.BackRecovered)
	}
}

func TestStatsWithoutFailures(t *testing.T) {
	ws := Stats([]Sample{ok(10, time.Millisecond)}, t0, at(500), at(1000), RecoveryOpts{Bound: time.Millisecond, Bucket: time.Second})
	if ws.ErrorWindow != 0 || ws.FailedTotal() != 0 {
		t.Errorf("error window %s, failed %v, want none", ws.ErrorWindow, ws.Failed)
	}
}

func TestRecoveryNeedsHoldBucketsInARow(t *testing.T) {
	var samples []Sample
	// Second 0: a failure; 1: slow; 2: fast; 3: slow; 4, 5, 6: fast.
	lat := []time.Duration{0, 50 * time.Millisecond, time.Millisecond, 50 * time.Millisecond, time.Millisecond, time.Millisecond, time.Millisecond}
	for i, l := range lat {
		for k := range 10 {
			s := ok(i*1000+k*10, l)
			if i == 0 {
				s.Status = 503
			}
			samples = append(samples, s)
		}
	}
	o := RecoveryOpts{Bound: 10 * time.Millisecond, Bucket: time.Second, Hold: 3}
	b := Buckets(samples, t0, at(7000), time.Second)
	if len(b) != 7 || b[0].Failures != 10 || b[0].P99 != MaxP99 || b[2].P99 != time.Millisecond {
		t.Fatalf("buckets %+v", b)
	}
	d, ok := Recovery(b, t0, o)
	if !ok || d != 4*time.Second {
		t.Errorf("recovery %s %v, want 4s (seconds 4-6 are the first 3 fast in a row)", d, ok)
	}
	o.Hold = 1
	if d, ok := Recovery(b, t0, o); !ok || d != 2*time.Second {
		t.Errorf("hold 1: recovery %s %v, want 2s", d, ok)
	}
	o.Hold = 4
	if _, ok := Recovery(b, t0, o); ok {
		t.Errorf("hold 4: recovered, but only 3 fast buckets end the window")
	}
}

func TestOneFailureInTheTopPercentSpoilsTheBucket(t *testing.T) {
	var samples []Sample
	for k := range 99 {
		samples = append(samples, ok(k, time.Millisecond))
	}
	samples = append(samples, Sample{Start: at(99), Status: 502})
	b := Buckets(samples, t0, at(1000), time.Second)
	if b[0].P99 != time.Millisecond {
		t.Errorf("1 failure in 100: p99 %s, want 1ms (the 99th value)", b[0].P99)
	}
	samples = append(samples, Sample{Start: at(100), Status: 502})
	b = Buckets(samples, t0, at(1000), time.Second)
	if b[0].P99 != MaxP99 {
		t.Errorf("2 failures in 101: p99 %s, want a failure", b[0].P99)
	}
}

func TestCheckLogs(t *testing.T) {
	acks := []LogAck{
		{ID: 1, ChallengeID: 10, UserID: 7, Sets: 3, Reps: 5, Value: 60.5, Note: "a"},
		{ID: 2, ChallengeID: 10, UserID: 7, Sets: 3, Reps: 5, Value: 62, Note: "b"},
		{ID: 3, ChallengeID: 11, UserID: 7, Sets: 1, Reps: 1, Value: 1, Note: "c"},
	}
	stored := map[int64]StoredLog{
		1: {ID: 1, ChallengeID: 10, UserID: 7, Sets: 3, Reps: 5, Value: 60.5, Note: "a"},
		3: {ID: 3, ChallengeID: 11, UserID: 7, Sets: 1, Reps: 2, Value: 1, Note: "c"}, // reps changed
		4: {ID: 4},                                                                    // stored, never acknowledged: not a loss
	}
	l := CheckLogs(acks, stored)
	if l.Checked != 3 || len(l.Missing) != 1 || l.Missing[0] != 2 || len(l.Changed) != 1 || l.Count() != 2 {
		t.Errorf("CheckLogs = %+v, want log 2 missing and log 3 changed", l)
	}
	if len(l.Examples) != 2 || !strings.Contains(l.Examples[0], "log 2") {
		t.Errorf("examples %q", l.Examples)
	}
	if l := CheckLogs(acks[:1], stored); l.Count() != 0 {
		t.Errorf("an intact write reported lost: %+v", l)
	}
}

func TestLedgerAndWindows(t *testing.T) {
	var l Ledger
	l.AckLog(LogAck{ID: 1, At: at(100)})
	l.AckLog(LogAck{ID: 2, At: at(1000)})
	l.AckChallenge(ChallengeAck{ID: 5, At: at(999)})
	logs := l.Logs()
	logs[0].ID = 99 // a copy
	if l.Logs()[0].ID != 1 {
		t.Error("Logs returned the ledger's own slice")
	}
	if got := LogsBetween(l.Logs(), at(0), at(1000)); len(got) != 1 || got[0].ID != 1 {
		t.Errorf("LogsBetween [0, 1000) = %+v, want log 1 only (end excluded)", got)
	}
	if got := ChallengesBetween(l.Challenges(), at(999), at(2000)); len(got) != 1 {
		t.Errorf("ChallengesBetween = %+v", got)
	}
}

func TestCheckValidation(t *testing.T) {
	acks := []ChallengeAck{{ID: 1}, {ID: 2}, {ID: 3}, {ID: 4}}
	status := map[int64]string{1: "active", 2: "pending", 3: "active"}
	outcomes := map[int64]int{1: 1, 3: 2}
	v := CheckValidation(acks, status, outcomes)
	if v.Created != 4 || v.Missing != 1 || len(v.NeverActive) != 1 || v.NeverActive[0] != 2 || len(v.ActiveTwice) != 1 || v.ActiveTwice[0] != 3 {
		t.Errorf("CheckValidation = %+v", v)
	}
}

func TestCountersSumIncarnationsAndSurviveRestarts(t *testing.T) {
	c := NewCounters()
	k := ConsumedKey("user.validated", "ok")
	c.Observe("challenge-1#1", map[string]float64{k: 5})
	c.Observe("challenge-1#1", map[string]float64{k: 8})
	c.Observe("challenge-1#1", map[string]float64{k: 7}) // an older scrape arriving late
	c.Observe("challenge-1#2", map[string]float64{k: 2}) // restarted: from zero
	c.Observe("challenge-2#1", map[string]float64{k: 1})
	if got := c.Total(k); got != 11 {
		t.Errorf("total %v, want 8+2+1", got)
	}
}

func TestEventCounters(t *testing.T) {
	text := `# HELP events_consumed_total x
# TYPE events_consumed_total counter
events_consumed_total{service="challenge",type="user.validated",result="ok"} 12
events_consumed_total{service="challenge",type="user.validated",result="duplicate"} 2
events_published_total{service="challenge",type="challenge.created"} 14
http_requests_total{service="challenge",route="/x",method="GET",code="200"} 99
`
	m := EventCounters(text)
	if m[ConsumedKey("user.validated", "ok")] != 12 || m[ConsumedKey("user.validated", "duplicate")] != 2 || m[PublishedKey("challenge.created")] != 14 || len(m) != 3 {
		t.Errorf("EventCounters = %v", m)
	}
}

func TestAppliedTwice(t *testing.T) {
	e := eventTotals{okCreated: 10, pubCreated: 10, okValidated: 12, pubValidated: 10}
	if got := e.appliedTwice(); got != 2 {
		t.Errorf("appliedTwice %d, want 2", got)
	}
	// Counts lost with a killed process make ok smaller, never a negative.
	e = eventTotals{okCreated: 8, pubCreated: 10, okValidated: 10, pubValidated: 10}
	if got := e.appliedTwice(); got != 0 {
		t.Errorf("appliedTwice %d, want 0", got)
	}
}

func TestSelectFaults(t *testing.T) {
	all, err := SelectFaults("")
	if err != nil || len(all) != len(FaultOrder) {
		t.Fatalf("SelectFaults(\"\") = %v, %v", all, err)
	}
	got, err := SelectFaults("redis-stop, kill-9")
	if err != nil || strings.Join(got, ",") != "kill-9,redis-stop" {
		t.Errorf("SelectFaults = %v, %v, want the run's order", got, err)
	}
	if _, err := SelectFaults("kill-9,reboot"); err == nil || !strings.Contains(err.Error(), "reboot") {
		t.Errorf("unknown fault accepted: %v", err)
	}
	for _, f := range FaultOrder {
		if FaultTitle[f] == "" {
			t.Errorf("fault %s has no title", f)
		}
	}
}

func TestTimingsBoundTheRun(t *testing.T) {
	full, quick := Timings(false), Timings(true)
	if full.Outage != 10*time.Second {
		t.Errorf("full outage %s, want the issue's 10s", full.Outage)
	}
	for _, f := range FaultOrder {
		if quick.Expected(f, 2) >= full.Expected(f, 2) {
			t.Errorf("%s: quick window %s not shorter than full %s", f, quick.Expected(f, 2), full.Expected(f, 2))
		}
	}
	// The run's time limits (setup comes on top): under 10 minutes full,
	// under 2 minutes quick, when nothing is slow.
	var fullExp, quickExp time.Duration
	for _, f := range FaultOrder {
		fullExp += full.Expected(f, 2)
		quickExp += quick.Expected(f, 2)
	}
	if fullExp > 8*time.Minute || quickExp > 90*time.Second {
		t.Errorf("expected windows: full %s, quick %s", fullExp, quickExp)
	}
	if b := full.Budget(FaultOrder, 2); b <= fullExp {
		t.Errorf("budget %s does not include the settle waits", b)
	}
}

func TestWindowOf(t *testing.T) {
	ws := []Window{{Start: at(0), End: at(1000)}, {Start: at(2000), End: at(3000)}}
	for _, c := range []struct {
		ms, want int
	}{{0, 0}, {999, 0}, {1000, -1}, {1500, -1}, {2000, 1}, {3000, -1}} {
		if got := WindowOf(ws, at(c.ms)); got != c.want {
			t.Errorf("WindowOf(%d) = %d, want %d", c.ms, got, c.want)
		}
	}
}

func TestMixPick(t *testing.T) {
	m := Mix{Read: 0.7, Log: 0.25, Challenge: 0.05}
	counts := map[Kind]int{}
	for i := range 1000 {
		counts[m.Pick(float64(i)/1000)]++
	}
	if counts[KindRead] != 700 || counts[KindLog] != 250 || counts[KindChallenge] != 50 {
		t.Errorf("Pick over [0,1) = %v", counts)
	}
}

func TestRAWBetween(t *testing.T) {
	checks := []RAWCheck{{At: at(0), LogID: 1}, {At: at(10), LogID: 2, Stale: true}, {At: at(5000), LogID: 3, Stale: true}}
	rc := RAWBetween(checks, at(0), at(1000))
	if rc.Checked != 2 || rc.Stale != 1 || len(rc.Examples) != 1 || !strings.Contains(rc.Examples[0], "log 2") {
		t.Errorf("RAWBetween = %+v", rc)
	}
}

func TestSampleLabelsAndErrClass(t *testing.T) {
	if (Sample{Status: 201}).Failed() || !(Sample{Status: 404}).Failed() || !(Sample{}).Failed() {
		t.Error("Failed: 201 is a success, 404 and no answer are failures")
	}
	if got := (Sample{Status: 0, Err: "refused"}).Label(); got != "refused" {
		t.Errorf("Label = %q", got)
	}
	cases := []struct {
		err  error
		want string
	}{
		{&net.OpError{Op: "dial", Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)}, "refused"},
		{fmt.Errorf("read: %w", syscall.ECONNRESET), "reset"},
		{fmt.Errorf("post: %w", os.ErrDeadlineExceeded), "timeout"},
		{errors.New("EOF"), "transport error"},
	}
	for _, c := range cases {
		if got := ErrClass(c.err); got != c.want {
			t.Errorf("ErrClass(%v) = %q, want %q", c.err, got, c.want)
		}
	}
}

func TestTableVerdictAndMarkdown(t *testing.T) {
	good := Row{Fault: FaultKill, Stats: WindowStats{Requests: 1000, Failed: map[string]int{"502": 3}, ErrorWindow: 1234 * time.Millisecond, Recovered: true, Recovery: 2500 * time.Millisecond, BaselineP99: 4 * time.Millisecond},
		Acked: 250, Valid: Validation{Created: 40}, Events: Events{Known: true, Absorbed: 2}, Reads: ReadChecks{Checked: 200}}
	bad := Row{Fault: FaultMariaDB, Stats: WindowStats{Requests: 10, Failed: map[string]int{}}, Lost: Lost{Missing: []int64{9}},
		Events: Events{Known: true, AppliedTwice: 1}, Valid: Validation{Created: 2, NeverActive: []int64{5}}, Reads: ReadChecks{Checked: 3, Stale: 1}}
	tb := Table([]Row{good, bad})
	if len(tb.Rows) != 2 || len(tb.Rows[0]) != len(tb.Header) {
		t.Fatalf("table %+v", tb)
	}
	row := strings.Join(tb.Rows[0], " | ")
	for _, want := range []string{FaultTitle[FaultKill], "1,000", "502 ×3", "1,234 ms", "40 / 0 / 0", "0 / 200", "4.00 ms", "2.5 s"} {
		if !strings.Contains(row, want) {
			t.Errorf("row %q lacks %q", row, want)
		}
	}
	if !strings.Contains(strings.Join(tb.Rows[1], " | "), "not within the window") {
		t.Errorf("unrecovered row: %q", tb.Rows[1])
	}
	if v := Verdict([]Row{good}); len(v) != 0 {
		t.Errorf("verdict of a good row: %v", v)
	}
	v := strings.Join(Verdict([]Row{good, bad}), "\n")
	for _, want := range []string{"1 acknowledged writes missing", "1 events applied twice", "1 challenges never became active", "1 stale reads"} {
		if !strings.Contains(v, want) {
			t.Errorf("verdict %q lacks %q", v, want)
		}
	}
	rep := Report{Started: t0, Elapsed: time.Minute, Command: "make chaos", Rows: []Row{good}, Versions: [][2]string{{"HAProxy", "2.6"}}}
	md := rep.Markdown()
	for _, want := range []string{"# Reliability under faults", "## Method", "| fault |", "HAProxy", "Every acknowledged write survived"} {
		if !strings.Contains(md, want) {
			t.Errorf("markdown lacks %q", want)
		}
	}
	rep.Rows = append(rep.Rows, bad)
	if md := rep.Markdown(); !strings.Contains(md, "Guarantees broken in this run") {
		t.Error("markdown of a bad run does not say so")
	}
}

func TestTimelineChartWritesAPNG(t *testing.T) {
	var samples []Sample
	for i := range 30 {
		s := ok(i*200, time.Duration(1+i%5)*time.Millisecond)
		if i == 10 {
			s.Status = 502
		}
		samples = append(samples, s)
	}
	path := filepath.Join(t.TempDir(), "img", "chaos.png")
	tl := Timeline{Start: t0, Buckets: Buckets(samples, t0, at(6000), time.Second), Windows: []Window{{Fault: FaultKill, Start: t0, Inject: at(2000), End: at(6000)}}, Bound: 10 * time.Millisecond}
	if err := TimelineChart(path, tl); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil || len(b) < 8 || string(b[1:4]) != "PNG" {
		t.Fatalf("not a PNG (%v, %d bytes)", err, len(b))
	}
	if err := TimelineChart(path, Timeline{}); err == nil {
		t.Error("an empty timeline drew a chart")
	}
}

func TestHAProxyConfigAndShowStat(t *testing.T) {
	cfg := HAProxyConfig([]Backend{{Name: "account", Port: 4000, Servers: []string{"127.0.0.1:4001", "127.0.0.1:4002"}}}, "/tmp/x.sock")
	for _, want := range []string{"bind 127.0.0.1:4000", "option httpchk GET /readyz", "server account-1 127.0.0.1:4001 check", "server account-2 127.0.0.1:4002 check", "retry-on conn-failure", "stats socket /tmp/x.sock"} {
		if !strings.Contains(cfg, want) {
			t.Errorf("config lacks %q:\n%s", want, cfg)
		}
	}
	csv := "# pxname,svname,qcur,status,weight\naccount,FRONTEND,,OPEN,\naccount,account-1,0,UP,1\naccount,account-2,0,DOWN 1/2,1\naccount,BACKEND,0,UP,2\n"
	st := ParseShowStat(csv)
	if len(st) != 2 || st[0] != (ServerState{"account", "account-1", "UP"}) || st[1].Status != "DOWN 1/2" {
		t.Errorf("ParseShowStat = %+v", st)
	}
}

func TestServiceEnv(t *testing.T) {
	db := &MariaDB{Port: 3999}
	env := strings.Join(ServiceEnv("challenge", 5000, 5001, db, "127.0.0.1:6999", "amqp://x/", "/k.pem", "http://lb/.well-known/jwks.json"), "\n")
	for _, want := range []string{"HTTP_ADDR=127.0.0.1:5000", "DEBUG_ADDR=127.0.0.1:5001", "DATABASE_URL=root@tcp(127.0.0.1:3999)/po_challenge", "REDIS_URL=redis://127.0.0.1:6999/0", "JWKS_URL=http://lb/.well-known/jwks.json"} {
		if !strings.Contains(env, want) {
			t.Errorf("challenge env lacks %q", want)
		}
	}
	if strings.Contains(env, ":3306") || strings.Contains(env, ":6379") || strings.Contains(env, ":5672") {
		t.Errorf("challenge env names a shared instance:\n%s", env)
	}
	acc := strings.Join(ServiceEnv("account", 5002, 5003, db, "127.0.0.1:6999", "amqp://x/", "/k.pem", ""), "\n")
	if !strings.Contains(acc, "JWT_SIGNING_KEY_FILE=/k.pem") || !strings.Contains(acc, "/po_account") {
		t.Errorf("account env:\n%s", acc)
	}
}
