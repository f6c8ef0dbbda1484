package bench

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"
)

func TestTableText(t *testing.T) {
	tb := Table{Header: []string{"", "no cache", "cache"}, Rows: [][]string{{"mean", "2,773 ms", "0.94 ms"}, {"hit ratio", "–", "96.0%"}}, Right: true}
	want := "" +
		"           no cache    cache\n" +
		"---------  --------  -------\n" +
		"mean       2,773 ms  0.94 ms\n" +
		"hit ratio         –    96.0%\n"
	if got := tb.Text(); got != want {
		t.Fatalf("got\n%s\nwant\n%s", got, want)
	}
	left := Table{Header: []string{"a", "b"}, Rows: [][]string{{"long value", "x"}}}
	if got := left.Text(); got != "a           b\n----------  -\nlong value  x\n" {
		t.Fatalf("left:\n%q", got)
	}
}

func TestTableMarkdown(t *testing.T) {
	tb := Table{Header: []string{"", "a|b"}, Rows: [][]string{{"p99", "1.20 ms"}, {"short"}}, Right: true}
	want := "|  | a\\|b |\n|---|---:|\n| p99 | 1.20 ms |\n| short |  |\n"
	if got := tb.Markdown(); got != want {
		t.Fatalf("got\n%q\nwant\n%q", got, want)
	}
}

func TestFormatting(t *testing.T) {
	for d, want := range map[time.Duration]string{
		840 * time.Microsecond:   "0.84 ms",
		12340 * time.Microsecond: "12.3 ms",
		2773 * time.Millisecond:  "2,773 ms",
		0:                        "0.00 ms",
	} {
		if got := FormatDuration(d); got != want {
			t.Errorf("FormatDuration(%v) = %q, want %q", d, got, want)
		}
	}
	for n, want := range map[int64]string{0: "0", 999: "999", 1000: "1,000", 1234567: "1,234,567", -9182: "-9,182"} {
		if got := FormatInt(n); got != want {
			t.Errorf("FormatInt(%d) = %q, want %q", n, got, want)
		}
	}
	for p, want := range map[float64]string{100: "100.0%", 99.99: "99.990%", 40: "40.0%", 99.9999: "99.999%"} {
		if got := FormatPct(p); got != want {
			t.Errorf("FormatPct(%v) = %q, want %q", p, got, want)
		}
	}
	if got := FormatMiB(30720); got != "30.0 MB" {
		t.Errorf("FormatMiB = %q", got)
	}
	if got := FormatRate(2999.6); got != "3,000/s" {
		t.Errorf("FormatRate = %q", got)
	}
}

func samplePhase() Phase {
	hit := CacheCounts{Hit: 57000, Miss: 3000, Error: 3000}
	none := CacheCounts{}
	return Phase{Title: "Open loop", Results: []Result{
		{Variant: "no cache", Summary: Summary{Requests: 60000, OK: 60000, Mean: ms_(1.5), P50: ms_(1.2), P95: ms_(2.5), P99: ms_(4), Max: ms_(40), Wall: 20 * time.Second},
			Cache: &none, CacheOff: true, Procs: []ProcUsage{{Name: "account", PeakRSSKiB: 20480, CPUSeconds: 0.1}, {Name: "challenge", PeakRSSKiB: 40960, CPUSeconds: 12.5}}},
		{Variant: "cache", Summary: Summary{Requests: 60000, OK: 59994, Mean: ms_(0.8), P50: ms_(0.7), P95: ms_(1.1), P99: ms_(2.2), Max: ms_(31), Wall: 20 * time.Second},
			Cache: &hit, Redis: &RedisCounts{Hits: 57100, Misses: 3000}, Procs: []ProcUsage{{Name: "challenge", PeakRSSKiB: 51200, CPUSeconds: 8}}},
		{Variant: "ceiling: fixed body", Summary: Summary{Requests: 60000, OK: 60000, P99: ms_(0.5), Wall: 20 * time.Second}},
	}}
}

func TestPhaseTable(t *testing.T) {
	tb := PhaseTable(samplePhase())
	if strings.Join(tb.Header, "|") != "|no cache|cache|ceiling: fixed body" {
		t.Fatalf("header %q", tb.Header)
	}
	rows := map[string][]string{}
	var order []string
	for _, r := range tb.Rows {
		rows[r[0]] = r[1:]
		order = append(order, r[0])
	}
	wantOrder := "mean,p50,p95,p99,max,requests,success,throughput,hit ratio,answered from the cache,cache hit / miss / error,Redis keyspace hits / misses,Redis commands per request,peak RSS account,CPU account,peak RSS challenge,CPU challenge"
	if got := strings.Join(order, ","); got != wantOrder {
		t.Fatalf("rows\n%s\nwant\n%s", got, wantOrder)
	}
	check := func(row string, want ...string) {
		t.Helper()
		if got := strings.Join(rows[row], "|"); got != strings.Join(want, "|") {
			t.Errorf("%s: %q, want %q", row, got, strings.Join(want, "|"))
		}
	}
	check("p99", "4.00 ms", "2.20 ms", "0.50 ms")
	check("requests", "60,000", "60,000", "60,000")
	check("success", "100.0%", "99.990%", "100.0%")
	check("throughput", "3,000/s", "3,000/s", "3,000/s")
	check("hit ratio", "–", "95.0%", "–")
	check("answered from the cache", "–", "90.5%", "–")
	check("cache hit / miss / error", "0 / 0 / 0", "57,000 / 3,000 / 3,000", "–")
	check("peak RSS challenge", "40.0 MB", "50.0 MB", "–")
	check("CPU account", "0.1 s", "–", "–")
}

func TestMixedRows(t *testing.T) {
	p := Phase{Results: []Result{{Variant: "cache", Mixed: &MixedStats{
		Reads: Summary{Requests: 900, P99: ms_(2)}, Writes: Summary{Requests: 100, P99: ms_(9)}, Checks: 1234, Violations: 0}}}}
	text := PhaseTable(p).Text()
	for _, want := range []string{"reads p99", "9.00 ms", "900 / 100", "1,234 checked, 0 stale"} {
		if !strings.Contains(text, want) {
			t.Errorf("missing %q in\n%s", want, text)
		}
	}
}

func sampleReport() Report {
	return Report{
		Started: time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC), Elapsed: 7 * time.Minute, Command: "make bench",
		Machine: Machine{CPU: "Test CPU", Cores: 2, MemoryGiB: 7.8, Kernel: "Linux 6.1", Go: "go1.26.0"},
		Config:  [][2]string{{"fixed rate", "3,000/s for 20s"}},
		Phases:  []Phase{samplePhase()},
		Searches: []Search{{Variant: "cache", Bound: 50 * time.Millisecond, Best: 9000, BestConns: 32,
			BestAt: Summary{Requests: 45000, OK: 45000, P99: ms_(20), Wall: 5 * time.Second, GenCPU: 2, SvcCPU: 5, Conns: 32},
			Steps:  []SearchStep{step(8, 3000, true), step(16, 6000, true), step(64, 12000, false), step(32, 9000, true)}}},
		Checks: []Check{{Aim: "p99 under 3 ms", Measured: "2.20 ms", Met: true, Known: true}, {Aim: "hit ratio", Known: false}},
		Pairs: []PairSet{{Title: "t", A: VarFixed, B: "cache", Conns: 64, Duration: 5 * time.Second, Runs: []PairRun{
			{A: perSec(20000), B: perSec(15000)}, {A: perSec(20000), B: perSec(12000)}, {A: perSec(10000), B: perSec(9000)}}}},
		Profile: &ProfileTop{Variant: "cache", Span: 5 * time.Second, Conns: 64, Throughput: 15000,
			Rows: []TopRow{{Flat: "1.2s", FlatPct: "20.00%", Cum: "1.5s", CumPct: "25.00%", Func: "runtime.memmove"}}},
	}
}

func perSec(n int) Summary {
	return Summary{Requests: n, OK: n, Wall: time.Second, P99: ms_(3), GenCPU: 0.5, SvcCPU: 1}
}

func TestPairsMedianAndTable(t *testing.T) {
	p := sampleReport().Pairs[0]
	if m, ok := p.Median(); !ok || m != 0.75 {
		t.Fatalf("median %v %v", m, ok)
	}
	if m, ok := Median([]float64{4, 1, 3, 2}); !ok || m != 2.5 {
		t.Fatalf("even median %v", m)
	}
	if _, ok := (PairSet{}).Median(); ok {
		t.Fatal("median of nothing")
	}
	if _, ok := (PairRun{B: perSec(1)}).Ratio(); ok {
		t.Fatal("ratio over an A that answered nothing")
	}
	tb := PairTable([]PairSet{p})
	if len(tb.Rows) != 4 || tb.Rows[0][2] != "20,000/s" || tb.Rows[0][4] != "0.5 / 1.0 s" || tb.Rows[1][8] != "0.60" || tb.Rows[3][8] != "**0.75**" {
		t.Fatalf("%q", tb.Rows)
	}
}

func TestProfileShownOnlyWhenAnAimIsUnmet(t *testing.T) {
	rep := sampleReport()
	if strings.Contains(rep.Markdown(), "### Where the time goes") {
		t.Fatal("profile shown with every measured aim met")
	}
	rep.Checks = append(rep.Checks, Check{Aim: "x", Known: true})
	if md := rep.Markdown(); !strings.Contains(md, "### Where the time goes") || !strings.Contains(md, "| `runtime.memmove` | 1.2s | 20.00% | 1.5s | 25.00% |") {
		t.Fatalf("profile missing:\n%s", md)
	}
}

func step(conns int, perSec float64, pass bool) SearchStep {
	n := int(perSec)
	return SearchStep{Summary: Summary{Requests: n, OK: n, Wall: time.Second, Conns: conns}, Pass: pass}
}

func TestSearchAndCheckTables(t *testing.T) {
	rep := sampleReport()
	st := SearchTable(rep.Searches)
	if got := st.Rows[0]; got[1] != "9,000/s" || got[2] != "32" || got[3] != "20.0 ms" || got[5] != "2.00 s (0.40 cores)" || got[6] != "5.00 s (1.00 cores)" ||
		got[7] != "8 → 3,000 ✓, 16 → 6,000 ✓, 64 → 12,000 ✗, 32 → 9,000 ✓" {
		t.Errorf("%q", got)
	}
	none := SearchTable([]Search{{Variant: "x"}})
	if none.Rows[0][1] != "none" {
		t.Errorf("%q", none.Rows[0])
	}
	ct := CheckTable(rep.Checks)
	if ct.Rows[0][2] != "yes" || ct.Rows[1][2] != "not measured" {
		t.Errorf("%q", ct.Rows)
	}
}

func TestReportMarkdownAndText(t *testing.T) {
	rep := sampleReport()
	rep.Charts = []Chart{{Title: "Latency", Path: "img/bench-latency.png"}}
	md := rep.Markdown()
	for _, want := range []string{BeginMarker, EndMarker, "```sh\nmake bench\n```", "Test CPU, 2 cores", "### Open loop",
		"| p99 | 4.00 ms | 2.20 ms | 0.50 ms |", "![Latency](img/bench-latency.png)", "### Against the aims", "2026-11-25 10:00 UTC"} {
		if !strings.Contains(md, want) {
			t.Errorf("markdown lacks %q:\n%s", want, md)
		}
	}
	text := rep.Text()
	for _, want := range []string{"== Open loop ==", "== Closed loop (wrk): highest throughput with p99 under 50.0 ms ==", "== Aims ==", "== Interleaved pairs (wrk) ==", "== Where the time goes ==", "`runtime.memmove`"} {
		if !strings.Contains(text, want) {
			t.Errorf("text lacks %q:\n%s", want, text)
		}
	}
}

func TestMergeMarkdown(t *testing.T) {
	gen1 := BeginMarker + "\nrun 1\n" + EndMarker + "\n"
	gen2 := BeginMarker + "\nrun 2\n" + EndMarker + "\n"
	doc := MergeMarkdown("", "# Benchmarks\n", gen1)
	if doc != "# Benchmarks\n\n"+gen1 {
		t.Fatalf("%q", doc)
	}
	edited := "# Benchmarks\nintro\n\n" + gen1 + "\n## Analysis (by hand)\nkept\n"
	got := MergeMarkdown(edited, "# unused\n", gen2)
	if got != "# Benchmarks\nintro\n\n"+gen2+"\n## Analysis (by hand)\nkept\n" {
		t.Fatalf("%q", got)
	}
	noMarkers := MergeMarkdown("# Mine\n", "# unused\n", gen2)
	if noMarkers != "# Mine\n\n"+gen2 {
		t.Fatalf("%q", noMarkers)
	}
}

func TestWriteReportWritesChartsAndDoc(t *testing.T) {
	dir := t.TempDir()
	doc := filepath.Join(dir, "docs", "benchmarks.md")
	img := filepath.Join(dir, "docs", "img")
	if err := os.MkdirAll(filepath.Dir(doc), 0o755); err != nil {
		t.Fatal(err)
	}
	rep := sampleReport()
	rep.Searches[0].Steps[0].Summary = Summary{Requests: 15000, OK: 15000, P99: ms_(1), Wall: 5 * time.Second}
	rep.Searches[0].Steps[1].Summary = Summary{Requests: 30000, OK: 30000, P99: ms_(3), Wall: 5 * time.Second}
	if err := WriteReport(rep, doc, img); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(doc)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(string(b), "# Benchmarks") || !strings.Contains(string(b), "](img/bench-latency.png)") || !strings.Contains(string(b), "](img/bench-throughput-p99.png)") {
		t.Fatalf("doc:\n%s", b)
	}
	for _, f := range []string{"bench-latency.png", "bench-throughput-p99.png"} {
		png, err := os.ReadFile(filepath.Join(img, f))
		if err != nil || len(png) < 8 || string(png[1:4]) != "PNG" {
			t.Errorf("%s: %v", f, err)
		}
	}
}

func TestChecks(t *testing.T) {
	rep := sampleReport()
	rep.Searches = append(rep.Searches, Search{Variant: VarRedis, Best: 10000})
	rep.Pairs = append(rep.Pairs, PairSet{A: "cache", B: VarLimit10, Conns: 64, Runs: []PairRun{{A: perSec(100), B: perSec(99)}}})
	cs := Checks(rep, 3000)
	byAim := map[string]Check{}
	for _, c := range cs {
		byAim[c.Aim] = c
	}
	if c := byAim["cached hot read (auth, metrics, logging) ≥ 70% of the fixed-body ceiling's throughput"]; !c.Known || !c.Met || c.Measured != "median 75% over 3 rounds (wrk, 64 connections)" {
		t.Errorf("pair: %+v", c)
	}
	if c := byAim["?limit=10 as fast as the default page (≥ 95%)"]; !c.Known || !c.Met {
		t.Errorf("limit: %+v", c)
	}
	if c := byAim["cache at 3,000/s: 100% success"]; !c.Known || c.Met {
		t.Errorf("success: %+v (6 of 60,000 failed)", c)
	}
	if c := byAim["account under 100 MB RSS at 3,000/s with the cache (L1 at its default size)"]; c.Known {
		t.Errorf("account was not watched in the cache variant: %+v", c)
	}
	if c := byAim["cache at 3,000/s: p99 at most twice the fixed-body ceiling's"]; !c.Known || c.Met || c.Measured != "2.20 ms vs 0.50 ms = 4.4×" {
		t.Errorf("p99: %+v", c)
	}
	if c := byAim["cache at 3,000/s: hit ratio at least 97%"]; c.Met || c.Measured != "95.0%" {
		t.Errorf("hit: %+v", c)
	}
	if c := byAim["highest throughput with p99 under the bound: cache ≥ 70% of the bare Redis handler's"]; !c.Met || c.Measured != "9,000/s vs 10,000/s = 90%" {
		t.Errorf("ratio: %+v", c)
	}
	if c := byAim["highest throughput with p99 under the bound: no cache ≥ 60% of the bare MySQL handler's"]; c.Known {
		t.Errorf("unmeasured ratio: %+v", c)
	}
	if c := byAim["challenge under 100 MB RSS at 3,000/s with the cache (L1 at its default size)"]; !c.Met || c.Measured != "50.0 MB" {
		t.Errorf("rss: %+v", c)
	}
}

func TestRedisCommandsPerHotRead(t *testing.T) {
	rep := sampleReport()
	rep.Phases[0].Results[1].Redis = &RedisCounts{Commands: 9000}
	for _, c := range Checks(rep, 3000) {
		if c.Aim == "cache at 3,000/s: Redis commands per hot read at most 0.2" && (!c.Known || !c.Met || !strings.HasPrefix(c.Measured, "0.150 ")) {
			t.Errorf("%+v", c)
		}
	}
}

func TestCrossReplicaCheck(t *testing.T) {
	s := &ReplicaStats{CrossChecks: 100, CrossStale: 2, CrossMaxAge: ms_(2), Probes: Delays{N: 10, Max: ms_(3)}}
	if c := crossCheck(s); !c.Known || !c.Met {
		t.Errorf("within the propagation: %+v", c)
	}
	s.CrossMaxAge = ms_(5)
	if c := crossCheck(s); c.Met || !strings.Contains(c.Measured, "5.00 ms old; propagation at most 3.00 ms") {
		t.Errorf("beyond the propagation: %+v", c)
	}
	s.HistKnown, s.HistP99 = true, ms_(6)
	if c := crossCheck(s); !c.Met {
		t.Errorf("within the histogram's p99: %+v", c)
	}
	if c := crossCheck(&ReplicaStats{CrossChecks: 5}); c.Known {
		t.Errorf("no propagation measured: %+v", c)
	}
}

func TestLogTicks(t *testing.T) {
	ticks := LogTicks{}.Ticks(0.3, 120)
	var labels []string
	for _, tk := range ticks {
		if tk.Label != "" {
			labels = append(labels, tk.Label)
		}
	}
	if got := strings.Join(labels, " "); got != "0.5 1 2 5 10 20 50 100" {
		t.Fatalf("labels %q", got)
	}
	if len(ticks) != 7+9+9+1 { // 0.3..0.9, 1..9, 10..90, 100
		t.Fatalf("%d ticks", len(ticks))
	}
	if LogTicks.Ticks(LogTicks{}, 0, 1) != nil {
		t.Fatal("ticks on a non-positive range")
	}
}

func TestProfileSlug(t *testing.T) {
	for in, want := range map[string]string{
		"no cache":      "no-cache",
		"mixed (cache)": "mixed-cache",
		"cache":         "cache",
		"  A/B  ":       "a-b",
	} {
		if got := profileSlug(in); got != want {
			t.Errorf("profileSlug(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestSteadyStateAimsUseTheWarmRun(t *testing.T) {
	rep := sampleReport()
	cold := &rep.Phases[0].Results[1]
	cold.Users, cold.Redis = 2000, &RedisCounts{Commands: 18000}
	rep.Phases[0].Results = append(rep.Phases[0].Results, Result{Variant: VarCachedWarm,
		Summary: Summary{Requests: 60000, OK: 60000, P99: ms_(0.9), Wall: 20 * time.Second},
		Cache:   &CacheCounts{Hit: 59400, Miss: 600}, Redis: &RedisCounts{Commands: 6000}})
	byAim := map[string]Check{}
	for _, c := range Checks(rep, 3000) {
		byAim[c.Aim] = c
	}
	if c := byAim["cache at 3,000/s: p99 at most twice the fixed-body ceiling's"]; !c.Met || c.Measured != "0.90 ms vs 0.50 ms = 1.8× (warm; cold start: 2.20 ms = 4.4×)" {
		t.Errorf("p99: %+v", c)
	}
	if c := byAim["cache at 3,000/s: hit ratio at least 97%"]; !c.Met || c.Measured != "99.0% (warm; cold start: 95.0%, at most 96.7% with 2,000 users' first reads)" {
		t.Errorf("hit: %+v", c)
	}
	if c := byAim["cache at 3,000/s: Redis commands per hot read at most 0.2"]; !c.Met || c.Measured != "0.100 (INFO commandstats, server-wide) (warm; cold start: 0.300)" {
		t.Errorf("commands: %+v", c)
	}
}

func TestUserSetCountsDistinctUsers(t *testing.T) {
	users := []*User{{ID: 7}, {ID: 9}, {ID: 11}}
	i := 0
	draws := []int{0, 2, 0, 0, 2}
	base := func(tgt *vegeta.Target) error {
		tgt.URL = "http://x" + LogsPath(users[draws[i%len(draws)]].ID)
		i++
		return nil
	}
	s := NewUserSet(len(users))
	tr := s.Watch(base, users)
	for range draws {
		if err := tr(&vegeta.Target{}); err != nil {
			t.Fatal(err)
		}
	}
	if s.Count() != 2 {
		t.Fatalf("count %d, want 2", s.Count())
	}
}

// The profile's parts of the request are read off `pprof -top -cum` by
// their functions' names, in Stages' order; a part without samples is left
// out.
func TestPickStages(t *testing.T) {
	out := `File: challenge
Showing nodes accounting for 2.87s, 51.53% of 5.57s total
      flat  flat%   sum%        cum   cum%
     0.08s  1.44%  1.44%      5.03s 90.31%  github.com/valyala/fasthttp.(*Server).serveConn
     0.01s  0.18%  1.62%      1.71s 30.70%  syscall.write
     0.02s  0.36%  1.98%      0.51s  9.16%  log/slog.(*Logger).logAttrs (inline)
     0.01s  0.18%  2.16%      0.47s  8.44%  syscall.read
     0.01s  0.18%  2.34%      0.33s  5.92%  github.com/progressive-overload/po/services/challenge/internal/app.sliceFirstPage
`
	got := PickStages(ParsePprofTop(out))
	want := []StageRow{
		{Stage: Stages[0].Stage, Func: "syscall.write", Cum: "1.71s", CumPct: "30.70%"},
		{Stage: Stages[1].Stage, Func: "syscall.read", Cum: "0.47s", CumPct: "8.44%"},
		{Stage: Stages[2].Stage, Func: "log/slog.(*Logger).logAttrs (inline)", Cum: "0.51s", CumPct: "9.16%"},
		{Stage: Stages[5].Stage, Func: "github.com/progressive-overload/po/services/challenge/internal/app.sliceFirstPage", Cum: "0.33s", CumPct: "5.92%"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %+v\nwant %+v", got, want)
	}
	md := StageTable(&ProfileTop{Stages: got}).Markdown()
	if !strings.Contains(md, "| writing the answer (write syscall) | `syscall.write` | 1.71s | 30.70% |") {
		t.Errorf("table:\n%s", md)
	}
}
