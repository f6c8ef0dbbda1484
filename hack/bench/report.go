package bench

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// Result is one variant's outcome in one phase.
type Result struct {
	Variant string
	Summary Summary
	Cache   *CacheCounts // cache_requests_total delta; nil when the variant has no cache metrics
	Redis   *RedisCounts // INFO keyspace delta; nil when not read
	Procs   []ProcUsage
	Host    HostUsage
	Mixed   *MixedStats // mixed phase only
	// Replicas: the replicas phase only (Mixed then holds the reads
	// through the writer).
	Replicas *ReplicaStats
	// Groups: the groups phase only.
	Groups *GroupStats
	// CacheOff marks a service run with CACHE_ENABLED=false: its counters
	// are shown, its hit ratio is not (there is no cache to hit).
	CacheOff bool
	// Users is how many distinct users the run read (open-loop reads only;
	// 0 when not counted).
	Users int
}

// MixedStats are the mixed phase's extras.
type MixedStats struct {
	Reads, Writes Summary
	Checks        int      // (read, earlier completed write of the same user) pairs checked
	Violations    int      // of which the read did not include the write
	Examples      []string // a few violations, for the log
	// Corrections (PATCH and DELETE of logs the phase wrote) that
	// succeeded, and the (read, earlier correction of the same user) pairs
	// checked: a deleted log must be gone, a corrected one show its value.
	Patched, Deleted     int
	CorrectionChecks     int
	CorrectionViolations int
}

// Phase is a set of variants attacked the same way.
type Phase struct {
	Title   string
	About   string // one paragraph: how it was attacked
	Results []Result
}

// SearchStep is one step of a closed-loop search (Summary.Conns
// connections).
type SearchStep struct {
	Summary Summary
	Pass    bool
}

// Search is the closed-loop search for one variant.
type Search struct {
	Variant   string
	Bound     time.Duration
	Best      float64 // highest throughput (2xx/s) of a passing step (0: none passed)
	BestAt    Summary // that step's summary
	BestConns int     // and its connections
	Steps     []SearchStep
	Procs     []ProcUsage // over the whole search
	Host      HostUsage
}

// Check is one of the issue's aims, measured.
type Check struct {
	Aim      string
	Measured string
	Met      bool
	Known    bool // false when the run could not measure it
}

// Machine describes where a run happened.
type Machine struct {
	CPU       string
	Cores     int
	MemoryGiB float64
	Kernel    string
	Go        string
	MySQL     string
	Redis     string
}

// Report is everything a run found.
type Report struct {
	Started  time.Time
	Elapsed  time.Duration
	Command  string
	Machine  Machine
	Config   [][2]string // ordered name, value
	Phases   []Phase
	Searches []Search
	Pairs    []PairSet
	Profile  *ProfileTop // the cached hot read's CPU profile under wrk
	Checks   []Check
	Notes    []string
	Charts   []Chart
}

// Chart is a written image, relative to docs/.
type Chart struct{ Title, Path string }

// Table is a grid of cells with a header row.
type Table struct {
	Header []string
	Rows   [][]string
	// Right aligns every column but the first to the right in text output.
	Right bool
}

// Text renders t as aligned plain text.
func (t Table) Text() string {
	width := make([]int, len(t.Header))
	all := append([][]string{t.Header}, t.Rows...)
	for _, r := range all {
		for i, c := range r {
			if i < len(width) {
				width[i] = max(width[i], runeLen(c))
			}
		}
	}
	var b strings.Builder
	line := func(r []string) {
		for i := range width {
			c := ""
			if i < len(r) {
				c = r[i]
			}
			pad := strings.Repeat(" ", width[i]-runeLen(c))
			if i > 0 {
				b.WriteString("  ")
			}
			if t.Right && i > 0 {
				b.WriteString(pad + c)
			} else if i == len(width)-1 {
				b.WriteString(c)
			} else {
				b.WriteString(c + pad)
			}
		}
		b.WriteString("\n")
	}
	line(t.Header)
	sep := make([]string, len(width))
	for i, w := range width {
		sep[i] = strings.Repeat("-", w)
	}
	line(sep)
	for _, r := range t.Rows {
		line(r)
	}
	return b.String()
}

// Markdown renders t as a GitHub table.
func (t Table) Markdown() string {
	var b strings.Builder
	esc := func(s string) string { return strings.ReplaceAll(s, "|", `\|`) }
	b.WriteString("|")
	for _, h := range t.Header {
		b.WriteString(" " + esc(h) + " |")
	}
	b.WriteString("\n|")
	for i := range t.Header {
		if i > 0 && t.Right {
			b.WriteString("---:|")
		} else {
			b.WriteString("---|")
		}
	}
	b.WriteString("\n")
	for _, r := range t.Rows {
		b.WriteString("|")
		for i := range t.Header {
			c := ""
			if i < len(r) {
				c = r[i]
			}
			b.WriteString(" " + esc(c) + " |")
		}
		b.WriteString("\n")
	}
	return b.String()
}

func runeLen(s string) int { return len([]rune(s)) }

// PhaseTable is the original's table for a phase: one column per variant.
func PhaseTable(p Phase) Table {
	t := Table{Header: []string{""}, Right: true}
	for _, r := range p.Results {
		t.Header = append(t.Header, r.Variant)
	}
	row := func(name string, cell func(r Result) string) {
		cells := []string{name}
		for _, r := range p.Results {
			cells = append(cells, cell(r))
		}
		t.Rows = append(t.Rows, cells)
	}
	lat := func(name string, f func(s Summary) time.Duration) {
		row(name, func(r Result) string { return FormatDuration(f(r.Summary)) })
	}
	lat("mean", func(s Summary) time.Duration { return s.Mean })
	lat("p50", func(s Summary) time.Duration { return s.P50 })
	lat("p95", func(s Summary) time.Duration { return s.P95 })
	lat("p99", func(s Summary) time.Duration { return s.P99 })
	lat("max", func(s Summary) time.Duration { return s.Max })
	row("requests", func(r Result) string { return FormatInt(int64(r.Summary.Requests)) })
	row("success", func(r Result) string { return FormatPct(r.Summary.SuccessPct()) })
	row("throughput", func(r Result) string { return FormatRate(r.Summary.Throughput()) })
	any := func(f func(r Result) bool) bool {
		for _, r := range p.Results {
			if f(r) {
				return true
			}
		}
		return false
	}
	if any(func(r Result) bool { return r.Mixed != nil }) {
		row("reads p99", func(r Result) string {
			if r.Mixed == nil {
				return "–"
			}
			return FormatDuration(r.Mixed.Reads.P99)
		})
		row("writes p99", func(r Result) string {
			if r.Mixed == nil {
				return "–"
			}
			return FormatDuration(r.Mixed.Writes.P99)
		})
		row("reads / writes", func(r Result) string {
			if r.Mixed == nil {
				return "–"
			}
			return FormatInt(int64(r.Mixed.Reads.Requests)) + " / " + FormatInt(int64(r.Mixed.Writes.Requests))
		})
		row("read-after-write", func(r Result) string {
			if r.Mixed == nil {
				return "–"
			}
			return fmt.Sprintf("%s checked, %s stale", FormatInt(int64(r.Mixed.Checks)), FormatInt(int64(r.Mixed.Violations)))
		})
		row("corrections (patched / deleted)", func(r Result) string {
			if r.Mixed == nil {
				return "–"
			}
			return FormatInt(int64(r.Mixed.Patched)) + " / " + FormatInt(int64(r.Mixed.Deleted))
		})
		row("read-after-correction", func(r Result) string {
			if r.Mixed == nil {
				return "–"
			}
			return fmt.Sprintf("%s checked, %s stale", FormatInt(int64(r.Mixed.CorrectionChecks)), FormatInt(int64(r.Mixed.CorrectionViolations)))
		})
	}
	row("hit ratio", func(r Result) string {
		if r.Cache == nil || r.CacheOff {
			return "–"
		}
		h, ok := r.Cache.HitRatio()
		if !ok {
			return "–"
		}
		return FormatPct(100 * h)
	})
	if any(func(r Result) bool { return r.Cache != nil && !r.CacheOff }) {
		// Errors (Redis failed or answered after CACHE_TIMEOUT) fall back to
		// MySQL: the hit ratio leaves them out, this share does not.
		row("answered from the cache", func(r Result) string {
			if r.Cache == nil || r.CacheOff {
				return "–"
			}
			all := r.Cache.Hit + r.Cache.Miss + r.Cache.Error
			if all <= 0 {
				return "–"
			}
			return FormatPct(100 * r.Cache.Hit / all)
		})
	}
	if any(func(r Result) bool { return r.Cache != nil }) {
		row("cache hit / miss / error", func(r Result) string {
			if r.Cache == nil {
				return "–"
			}
			return fmt.Sprintf("%s / %s / %s", FormatInt(int64(r.Cache.Hit)), FormatInt(int64(r.Cache.Miss)), FormatInt(int64(r.Cache.Error)))
		})
	}
	if any(func(r Result) bool { return r.Redis != nil }) {
		row("Redis keyspace hits / misses", func(r Result) string {
			if r.Redis == nil {
				return "–"
			}
			return FormatInt(r.Redis.Hits) + " / " + FormatInt(r.Redis.Misses)
		})
		// Server-wide (INFO commandstats): other clients of the same Redis
		// count too.
		row("Redis commands per request", func(r Result) string {
			if r.Redis == nil || r.Summary.Requests == 0 {
				return "–"
			}
			return fmt.Sprintf("%.3f", float64(r.Redis.Commands)/float64(r.Summary.Requests))
		})
	}
	if any(func(r Result) bool { return r.Groups != nil }) {
		grp := func(name string, f func(s *GroupStats) string) {
			row(name, func(r Result) string {
				if r.Groups == nil {
					return "–"
				}
				return f(r.Groups)
			})
		}
		grp("leaderboard reads p50 / p99", func(s *GroupStats) string {
			return FormatDuration(s.Reads.P50) + " / " + FormatDuration(s.Reads.P99)
		})
		grp("writes p50 / p99", func(s *GroupStats) string {
			return FormatDuration(s.Writes.P50) + " / " + FormatDuration(s.Writes.P99)
		})
		grp("reads / writes", func(s *GroupStats) string {
			return FormatInt(int64(s.Reads.Requests)) + " / " + FormatInt(int64(s.Writes.Requests))
		})
		grp("writes succeeded", func(s *GroupStats) string { return FormatPct(s.Writes.SuccessPct()) })
		grp("read-after-write (entries)", func(s *GroupStats) string {
			c := s.Check
			return fmt.Sprintf("%s checked (%s after a write), %s stale", FormatInt(int64(c.Checked)), FormatInt(int64(c.AfterWrite)), FormatInt(int64(c.Stale)))
		})
		grp("entries above their writes / foreign", func(s *GroupStats) string {
			return FormatInt(int64(s.Check.Over)) + " / " + FormatInt(int64(s.Check.Foreign))
		})
		grp("reads without the caller's `you` / with a wrong total", func(s *GroupStats) string {
			c := s.Check
			return fmt.Sprintf("%s of %s / %s", FormatInt(int64(c.YouMissing)), FormatInt(int64(c.YouChecked)), FormatInt(int64(c.WrongTotal)))
		})
		grp("board rebuilds (ranking_rebuilds_total)", func(s *GroupStats) string {
			if !s.MetricsKnown {
				return "–"
			}
			n := FormatInt(int64(math.Round(sumCounts(s.Rebuilds))))
			if by := nonZero(s.Rebuilds); len(by) > 0 {
				n += " (" + countsCell(by) + ")"
			}
			return n
		})
		grp("board reads by source (ranking_reads_total)", func(s *GroupStats) string {
			if !s.MetricsKnown {
				return "–"
			}
			return countsCell(nonZero(s.ReadsBySource))
		})
	}
	if any(func(r Result) bool { return r.Replicas != nil }) {
		rep := func(name string, f func(s *ReplicaStats) string) {
			row(name, func(r Result) string {
				if r.Replicas == nil {
					return "–"
				}
				return f(r.Replicas)
			})
		}
		ratio := func(v float64, ok bool) string {
			if !ok {
				return "–"
			}
			return FormatPct(100 * v)
		}
		rep("L1 (near) hit ratio, first / second", func(s *ReplicaStats) string {
			a, okA := s.Near[0].HitRatio()
			b, okB := s.Near[1].HitRatio()
			return ratio(a, okA) + " / " + ratio(b, okB)
		})
		rep("L1 hit / miss / bypass", func(s *ReplicaStats) string {
			n := s.Near[0].Add(s.Near[1])
			return fmt.Sprintf("%s / %s / %s", FormatInt(int64(n.Hit)), FormatInt(int64(n.Miss)), FormatInt(int64(n.Bypass)))
		})
		rep("L2 (Redis) hit ratio of L1's misses", func(s *ReplicaStats) string {
			h, m := s.L2()
			return ratio(h/(h+m), h+m > 0)
		})
		rep("propagation, write to visible (probes) p50 / p99 / max", func(s *ReplicaStats) string {
			if s.Probes.N == 0 {
				return "–"
			}
			out := fmt.Sprintf("%s / %s / %s (%d probes)", FormatDuration(s.Probes.P50), FormatDuration(s.Probes.P99), FormatDuration(s.Probes.Max), s.Probes.N)
			if s.ProbeTimeouts > 0 {
				out += fmt.Sprintf(", %d not visible within %s", s.ProbeTimeouts, probeTimeout)
			}
			return out
		})
		rep("propagation, invalidation delay histogram p50 / p99", func(s *ReplicaStats) string {
			if !s.HistKnown {
				return "–"
			}
			return fmt.Sprintf("%s / %s (%s messages)", FormatDuration(s.HistP50), FormatDuration(s.HistP99), FormatInt(int64(s.HistN)))
		})
		rep("reads through the other replica: stale / checked", func(s *ReplicaStats) string {
			out := fmt.Sprintf("%s / %s", FormatInt(int64(s.CrossStale)), FormatInt(int64(s.CrossChecks)))
			if s.CrossStale > 0 {
				out += ", the oldest missed write " + FormatDuration(s.CrossMaxAge) + " old"
			}
			return out
		})
	}
	for _, name := range procNames(p.Results) {
		row("peak RSS "+name, func(r Result) string {
			if u, ok := findProc(r.Procs, name); ok {
				return FormatMiB(u.PeakRSSKiB)
			}
			return "–"
		})
		row("CPU "+name, func(r Result) string {
			if u, ok := findProc(r.Procs, name); ok {
				return fmt.Sprintf("%.1f s", u.CPUSeconds)
			}
			return "–"
		})
	}
	if any(func(r Result) bool { return r.Host.Known }) {
		host := func(name string, f func(h HostUsage) string) {
			row(name, func(r Result) string {
				if !r.Host.Known {
					return "–"
				}
				return f(r.Host)
			})
		}
		host("CPU load generator", func(h HostUsage) string { return fmt.Sprintf("%.1f s", h.SelfSeconds) })
		host("CPU other processes", func(h HostUsage) string { return fmt.Sprintf("%.1f s", h.OthersSeconds) })
		host("load average at end", func(h HostUsage) string { return fmt.Sprintf("%.2f", h.Load1) })
	}
	return t
}

// nonZero is m without its zero counts.
func nonZero(m map[string]float64) map[string]float64 {
	out := map[string]float64{}
	for k, v := range m {
		if v != 0 {
			out[k] = v
		}
	}
	return out
}

func procNames(rs []Result) []string {
	var names []string
	seen := map[string]bool{}
	for _, r := range rs {
		for _, u := range r.Procs {
			if !seen[u.Name] {
				seen[u.Name] = true
				names = append(names, u.Name)
			}
		}
	}
	return names
}

func findProc(us []ProcUsage, name string) (ProcUsage, bool) {
	for _, u := range us {
		if u.Name == name {
			return u, true
		}
	}
	return ProcUsage{}, false
}

// GroupTable is the groups phase's leaderboard reads by group size, all
// sizes together, and the cached hot read they are compared with.
func GroupTable(s *GroupStats) Table {
	t := Table{Header: []string{"group size"}, Right: true}
	type col struct {
		groups, participants string
		sum                  Summary
	}
	var cols []col
	for _, b := range s.Buckets {
		t.Header = append(t.Header, b.Bucket.Label())
		cols = append(cols, col{FormatInt(int64(b.Groups)), FormatInt(int64(b.Participants)), b.Reads})
	}
	t.Header = append(t.Header, "all sizes", "cached hot read")
	cols = append(cols, col{FormatInt(int64(s.Groups)), FormatInt(int64(s.Participants)), s.Reads}, col{"–", "–", s.Hot})
	row := func(name string, cell func(c col) string) {
		cells := []string{name}
		for _, c := range cols {
			cells = append(cells, cell(c))
		}
		t.Rows = append(t.Rows, cells)
	}
	row("groups", func(c col) string { return c.groups })
	row("participants", func(c col) string { return c.participants })
	row("reads", func(c col) string { return FormatInt(int64(c.sum.Requests)) })
	row("success", func(c col) string {
		if c.sum.Requests == 0 {
			return "–"
		}
		return FormatPct(c.sum.SuccessPct())
	})
	lat := func(name string, f func(Summary) time.Duration) {
		row(name, func(c col) string {
			if c.sum.Requests == 0 {
				return "–"
			}
			return FormatDuration(f(c.sum))
		})
	}
	lat("p50", func(s Summary) time.Duration { return s.P50 })
	lat("p95", func(s Summary) time.Duration { return s.P95 })
	lat("p99", func(s Summary) time.Duration { return s.P99 })
	lat("max", func(s Summary) time.Duration { return s.Max })
	row("p99 / hot read's p99", func(c col) string {
		if c.sum.Requests == 0 || s.Hot.P99 <= 0 {
			return "–"
		}
		return fmt.Sprintf("%.1f×", float64(c.sum.P99)/float64(s.Hot.P99))
	})
	return t
}

// SearchTable summarises closed-loop searches, with the CPU the generator
// and the server spent in the best step.
func SearchTable(ss []Search) Table {
	t := Table{Header: []string{"variant", "highest throughput with p99 under bound", "connections", "p99 there", "success there", "wrk CPU there", "server CPU there", "steps (connections → answers/s)"}, Right: true}
	for _, s := range ss {
		best, conns, p99, succ, gen, svc := "none", "–", "–", "–", "–", "–"
		if s.Best > 0 {
			best = FormatRate(s.Best)
			conns = strconv.Itoa(s.BestConns)
			p99 = FormatDuration(s.BestAt.P99)
			succ = FormatPct(s.BestAt.SuccessPct())
			gen, svc = cpuCell(s.BestAt.GenCPU, s.BestAt.Wall), cpuCell(s.BestAt.SvcCPU, s.BestAt.Wall)
		}
		var steps []string
		for _, st := range s.Steps {
			mark := "✗"
			if st.Pass {
				mark = "✓"
			}
			steps = append(steps, fmt.Sprintf("%d → %s %s", st.Summary.Conns, FormatInt(int64(math.Round(st.Summary.Throughput()))), mark))
		}
		t.Rows = append(t.Rows, []string{s.Variant, best, conns, p99, succ, gen, svc, strings.Join(steps, ", ")})
	}
	return t
}

// cpuCell prints CPU seconds over a wall time as cores busy: "1.42 s (0.71 cores)".
func cpuCell(sec float64, wall time.Duration) string {
	if wall <= 0 {
		return fmt.Sprintf("%.2f s", sec)
	}
	return fmt.Sprintf("%.2f s (%.2f cores)", sec, sec/wall.Seconds())
}

// PairTable lists every round of the interleaved pairs and each set's
// median ratio, with the CPU the generator (wrk) and the server spent.
func PairTable(ps []PairSet) Table {
	t := Table{Header: []string{"pair", "round", "A: answers/s", "A: p99", "A: wrk / server CPU", "B: answers/s", "B: p99", "B: wrk / server CPU", "B / A"}, Right: true}
	side := func(s Summary) []string {
		return []string{FormatRate(s.Throughput()), FormatDuration(s.P99), fmt.Sprintf("%.1f / %.1f s", s.GenCPU, s.SvcCPU)}
	}
	for _, p := range ps {
		name := fmt.Sprintf("A = %s, B = %s", p.A, p.B)
		for i, run := range p.Runs {
			ratio := "–"
			if v, ok := run.Ratio(); ok {
				ratio = fmt.Sprintf("%.2f", v)
			}
			row := append([]string{name, strconv.Itoa(i + 1)}, side(run.A)...)
			row = append(append(row, side(run.B)...), ratio)
			t.Rows = append(t.Rows, row)
			name = ""
		}
		if m, ok := p.Median(); ok {
			t.Rows = append(t.Rows, []string{"", "median", "", "", "", "", "", "", fmt.Sprintf("**%.2f**", m)})
		}
	}
	return t
}

// TopTable is a profile's heaviest functions.
func TopTable(p *ProfileTop) Table {
	t := Table{Header: []string{"function", "flat", "flat %", "cum", "cum %"}}
	for _, r := range p.Rows {
		t.Rows = append(t.Rows, []string{"`" + r.Func + "`", r.Flat, r.FlatPct, r.Cum, r.CumPct})
	}
	return t
}

// StageTable is the profile's time by part of the request.
func StageTable(p *ProfileTop) Table {
	t := Table{Header: []string{"part of the hot read", "under", "cum", "cum %"}}
	for _, r := range p.Stages {
		t.Rows = append(t.Rows, []string{r.Stage, "`" + r.Func + "`", r.Cum, r.CumPct})
	}
	return t
}

func (r Report) unmet() bool {
	for _, c := range r.Checks {
		if c.Known && !c.Met {
			return true
		}
	}
	return false
}

func (p *ProfileTop) about() string {
	s := fmt.Sprintf("CPU profile of the %s service over %s of wrk with %d connections (%s answered):", p.Variant, p.Span, p.Conns, FormatRate(p.Throughput))
	if p.File != "" {
		s += " `go tool pprof -top " + p.File + "`."
	}
	return s
}

// CheckTable lists the aims and whether they were met.
func CheckTable(cs []Check) Table {
	t := Table{Header: []string{"aim", "measured", "met"}}
	for _, c := range cs {
		met := "no"
		switch {
		case !c.Known:
			met = "not measured"
		case c.Met:
			met = "yes"
		}
		m := c.Measured
		if m == "" {
			m = "–"
		}
		t.Rows = append(t.Rows, []string{c.Aim, m, met})
	}
	return t
}

// FormatDuration prints a latency in milliseconds with a precision that
// suits its size: 0.84 ms, 12.3 ms, 2,773 ms.
func FormatDuration(d time.Duration) string {
	ms := float64(d) / float64(time.Millisecond)
	switch {
	case ms < 10:
		return fmt.Sprintf("%.2f ms", ms)
	case ms < 100:
		return fmt.Sprintf("%.1f ms", ms)
	default:
		return FormatInt(int64(math.Round(ms))) + " ms"
	}
}

// FormatInt prints n with thousands separators.
func FormatInt(n int64) string {
	s := strconv.FormatInt(n, 10)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

// FormatPct prints a percentage; it never rounds a value below 100 up to 100.
func FormatPct(p float64) string {
	s := fmt.Sprintf("%.1f%%", p)
	if p < 100 && s == "100.0%" {
		s = fmt.Sprintf("%.3f%%", math.Floor(p*1000)/1000)
	}
	return s
}

// FormatRate prints a rate per second.
func FormatRate(r float64) string { return FormatInt(int64(math.Round(r))) + "/s" }

// FormatMiB prints KiB as MiB.
func FormatMiB(kib int64) string { return fmt.Sprintf("%.1f MB", float64(kib)/1024) }

// Text renders the report for the terminal.
func (r Report) Text() string {
	var b strings.Builder
	for _, p := range r.Phases {
		fmt.Fprintf(&b, "\n== %s ==\n%s\n", p.Title, PhaseTable(p).Text())
		for _, res := range p.Results {
			if res.Groups != nil {
				fmt.Fprintf(&b, "%s: leaderboard reads by group size\n%s\n", res.Variant, GroupTable(res.Groups).Text())
			}
		}
	}
	if len(r.Searches) > 0 {
		fmt.Fprintf(&b, "\n== Closed loop (wrk): highest throughput with p99 under %s ==\n%s\n", FormatDuration(r.Searches[0].Bound), SearchTable(r.Searches).Text())
	}
	if len(r.Pairs) > 0 {
		fmt.Fprintf(&b, "\n== Interleaved pairs (wrk) ==\n%s\n", PairTable(r.Pairs).Text())
	}
	if len(r.Checks) > 0 {
		fmt.Fprintf(&b, "\n== Aims ==\n%s\n", CheckTable(r.Checks).Text())
	}
	if r.Profile != nil {
		fmt.Fprintf(&b, "\n== Where the time goes ==\n%s\n%s\n", r.Profile.about(), TopTable(r.Profile).Text())
		if len(r.Profile.Stages) > 0 {
			fmt.Fprintf(&b, "\n%s\n", StageTable(r.Profile).Text())
		}
	}
	for _, n := range r.Notes {
		fmt.Fprintf(&b, "note: %s\n", n)
	}
	return b.String()
}

// Markers delimit the generated part of docs/benchmarks.md; text outside
// them is kept when the report is rewritten.
const (
	BeginMarker = "<!-- bench:begin (generated by `make bench`; edit outside these markers) -->"
	EndMarker   = "<!-- bench:end -->"
)

// Markdown renders the generated part of docs/benchmarks.md (markers
// included).
func (r Report) Markdown() string {
	var b strings.Builder
	b.WriteString(BeginMarker + "\n\n")
	fmt.Fprintf(&b, "## Latest run\n\n")
	fmt.Fprintf(&b, "Run %s, %s in all, with:\n\n```sh\n%s\n```\n\n", r.Started.UTC().Format("2006-01-02 15:04 MST"), r.Elapsed.Round(time.Second), r.Command)
	m := r.Machine
	mt := Table{Header: []string{"machine", ""}}
	mt.Rows = append(mt.Rows,
		[]string{"CPU", fmt.Sprintf("%s, %d cores (load generator, services, MariaDB, Redis and RabbitMQ share them)", m.CPU, m.Cores)},
		[]string{"memory", fmt.Sprintf("%.1f GiB", m.MemoryGiB)},
		[]string{"kernel", m.Kernel},
		[]string{"Go", m.Go},
	)
	if m.MySQL != "" {
		mt.Rows = append(mt.Rows, []string{"MySQL", m.MySQL})
	}
	if m.Redis != "" {
		mt.Rows = append(mt.Rows, []string{"Redis", m.Redis})
	}
	b.WriteString(mt.Markdown() + "\n")
	if len(r.Config) > 0 {
		ct := Table{Header: []string{"setting", "value"}}
		for _, kv := range r.Config {
			ct.Rows = append(ct.Rows, []string{kv[0], kv[1]})
		}
		b.WriteString(ct.Markdown() + "\n")
	}
	if len(r.Checks) > 0 {
		issues := "issues 6 and 13"
		for _, c := range r.Checks {
			if strings.HasPrefix(c.Aim, "groups") {
				issues = "issues 6, 13 and 15"
			}
		}
		b.WriteString("### Against the aims (" + issues + ")\n\n" + CheckTable(r.Checks).Markdown() + "\n")
	}
	if r.Profile != nil && r.unmet() {
		b.WriteString("### Where the time goes\n\nAn aim is not met: " + r.Profile.about() + " the heaviest functions by their own time.\n\n" + TopTable(r.Profile).Markdown() + "\n")
		if len(r.Profile.Stages) > 0 {
			b.WriteString("The same profile by part of the request: the time spent in and under the function each part happens in. The parts may nest (allocation happens inside the others); what the server does per request beyond them is Fiber's and fasthttp's routing, the admission handoff and the metrics.\n\n" + StageTable(r.Profile).Markdown() + "\n")
		}
	}
	if len(r.Pairs) > 0 {
		b.WriteString("### Interleaved pairs (wrk, closed loop)\n\nEach round runs A, then B, back to back with the same generator and connections; noise that outlasts a round weighs on both sides of its ratio, and the median ignores a noisy round. The CPU columns are the generator's (wrk) and the server's during each run.\n\n" + PairTable(r.Pairs).Markdown() + "\n")
	}
	for _, p := range r.Phases {
		fmt.Fprintf(&b, "### %s\n\n", p.Title)
		if p.About != "" {
			b.WriteString(p.About + "\n\n")
		}
		b.WriteString(PhaseTable(p).Markdown() + "\n")
		for _, res := range p.Results {
			if res.Groups != nil {
				fmt.Fprintf(&b, "Leaderboard reads of `%s` by group size, beside the cached hot read (%s):\n\n", res.Variant, res.Groups.HotLabel)
				b.WriteString(GroupTable(res.Groups).Markdown() + "\n")
			}
		}
	}
	if len(r.Searches) > 0 {
		fmt.Fprintf(&b, "### Closed loop (wrk): the highest throughput with p99 under %s\n\n", FormatDuration(r.Searches[0].Bound))
		b.WriteString("wrk keeps a number of connections busy, each sending its next request when the last is answered; a step passes when p99 is under the bound and at least 99.9% of the requests succeed. Connections double until a step fails or stops adding 5% throughput, then a binary search narrows the gap; a failing step is tried again before it counts (other work shares the machine). Every attempt is listed, with the CPU wrk and the server spent in the best one.\n\n")
		b.WriteString(SearchTable(r.Searches).Markdown() + "\n")
	}
	for _, c := range r.Charts {
		fmt.Fprintf(&b, "![%s](%s)\n\n", c.Title, c.Path)
	}
	if len(r.Notes) > 0 {
		b.WriteString("Notes from the run:\n\n")
		for _, n := range r.Notes {
			b.WriteString("- " + n + "\n")
		}
		b.WriteString("\n")
	}
	b.WriteString(EndMarker + "\n")
	return b.String()
}

// MergeMarkdown puts generated (which holds the markers) into doc in place
// of its generated part, or appends it when doc has none; an empty doc gets
// header followed by generated.
func MergeMarkdown(doc, header, generated string) string {
	if strings.TrimSpace(doc) == "" {
		return header + "\n" + generated
	}
	i := strings.Index(doc, BeginMarker)
	j := strings.Index(doc, EndMarker)
	if i < 0 || j < i {
		return strings.TrimRight(doc, "\n") + "\n\n" + generated
	}
	rest := doc[j+len(EndMarker):]
	rest = strings.TrimPrefix(rest, "\n")
	return doc[:i] + generated + rest
}
