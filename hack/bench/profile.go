package bench

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// profiler fetches pprof profiles from the challenge service's DEBUG_ADDR
// while a phase runs, so "where does the time go" is answered by the same run
// that measured it (`-profile DIR`; `go tool pprof DIR/<phase>.cpu.pprof`).
type profiler struct {
	dir  string
	base string // http://<debug addr>
	logf func(string, ...any)
}

// start begins a CPU profile over most of a phase of length d (skipping its
// first second, when connections open and caches are cold, unless the phase is
// short) and returns a function that waits for it and then takes a heap
// profile. Failures are logged, never fatal: profiling is a diagnosis aid.
func (p *profiler) start(ctx context.Context, name string, d time.Duration) (finish func()) {
	if p == nil || p.dir == "" {
		return func() {}
	}
	if err := os.MkdirAll(p.dir, 0o755); err != nil {
		p.logf("  profile: %v", err)
		return func() {}
	}
	slug := profileSlug(name)
	skip := time.Second
	if d < 4*time.Second {
		skip = 0
	}
	secs := max(1, int((d-skip-time.Second)/time.Second))
	done := make(chan struct{})
	go func() {
		defer close(done)
		select {
		case <-time.After(skip):
		case <-ctx.Done():
			return
		}
		p.fetch(ctx, fmt.Sprintf("/debug/pprof/profile?seconds=%d", secs), slug+".cpu.pprof", time.Duration(secs+30)*time.Second)
	}()
	return func() {
		<-done
		p.fetch(context.WithoutCancel(ctx), "/debug/pprof/heap", slug+".heap.pprof", 30*time.Second)
	}
}

// cpu starts a CPU profile of secs after skip and returns the file it will
// be in and a function that waits for it.
func (p *profiler) cpu(ctx context.Context, name string, skip, secs time.Duration) (string, func()) {
	file := profileSlug(name) + ".cpu.pprof"
	if err := os.MkdirAll(p.dir, 0o755); err != nil {
		p.logf("  profile: %v", err)
		return filepath.Join(p.dir, file), func() {}
	}
	s := max(1, int(secs/time.Second))
	done := make(chan struct{})
	go func() {
		defer close(done)
		select {
		case <-time.After(skip):
		case <-ctx.Done():
			return
		}
		p.fetch(ctx, fmt.Sprintf("/debug/pprof/profile?seconds=%d", s), file, time.Duration(s+30)*time.Second)
	}()
	return filepath.Join(p.dir, file), func() { <-done }
}

// ProfileTop is a CPU profile's heaviest functions.
type ProfileTop struct {
	Variant    string
	Span       time.Duration
	Conns      int
	Throughput float64 // of the profiled run
	File       string  // kept with -profile; "" otherwise
	Rows       []TopRow
	Stages     []StageRow // the request's parts, by cumulative time
}

// StageRow is the time spent in and under one function that stands for a part
// of the hot read.
type StageRow struct{ Stage, Func, Cum, CumPct string }

// Stages are the parts of the hot read that a profile is read for, each named
// by the function it all happens under (matched as a suffix of pprof's name).
// They are not exclusive: allocation happens inside the others, for one.
var Stages = []struct{ Stage, Func string }{
	{"writing the answer (write syscall)", "syscall.write"},
	{"reading the request (read syscall)", "syscall.read"},
	{"the access log (log/slog)", "log/slog.(*Logger).logAttrs"},
	{"the token check (kit/auth, cached verification)", "auth.(*RemoteVerifier).Verify"},
	{"the cache lookup (kit/cache: near tier, Redis)", "cache.(*Named).Get"},
	{"slicing the cached first page", "app.sliceFirstPage"},
	{"memory allocation (all of it)", "runtime.mallocgc"},
	{"garbage collection (background marking)", "runtime.gcBgMarkWorker"},
	{"goroutine scheduling", "runtime.schedule"},
}

// PprofStages picks Stages out of `go tool pprof -top -cum` of a profile.
func PprofStages(ctx context.Context, bin, profile string) ([]StageRow, error) {
	cmd := exec.CommandContext(ctx, "go", "tool", "pprof", "-top", "-cum", "-nodecount=2000", bin, profile)
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("go tool pprof -top -cum: %w", err)
	}
	return PickStages(ParsePprofTop(string(out))), nil
}

// PickStages finds each stage's function among rows (pprof's " (inline)"
// mark aside); a stage whose function is not there (it took no sampled time)
// is left out.
func PickStages(rows []TopRow) []StageRow {
	var out []StageRow
	for _, st := range Stages {
		for _, r := range rows {
			if strings.HasSuffix(strings.TrimSuffix(r.Func, " (inline)"), st.Func) {
				out = append(out, StageRow{Stage: st.Stage, Func: r.Func, Cum: r.Cum, CumPct: r.CumPct})
				break
			}
		}
	}
	return out
}

// TopRow is one line of `go tool pprof -top`.
type TopRow struct{ Flat, FlatPct, Cum, CumPct, Func string }

// PprofTop runs `go tool pprof -top` on a profile of bin and parses the
// heaviest n functions by their own (flat) time.
func PprofTop(ctx context.Context, bin, profile string, n int) ([]TopRow, error) {
	if _, err := os.Stat(profile); err != nil {
		return nil, err
	}
	cmd := exec.CommandContext(ctx, "go", "tool", "pprof", "-top", "-nodecount="+strconv.Itoa(n), bin, profile)
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("go tool pprof -top: %w", err)
	}
	return ParsePprofTop(string(out)), nil
}

// ParsePprofTop reads the table of `go tool pprof -top`: the lines after
// the "flat  flat%   sum%        cum   cum%" header.
func ParsePprofTop(out string) []TopRow {
	var rows []TopRow
	header := false
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		if !header {
			header = len(f) >= 5 && f[0] == "flat" && f[1] == "flat%" && f[4] == "cum%"
			continue
		}
		if len(f) < 6 || !strings.HasSuffix(f[1], "%") || !strings.HasSuffix(f[4], "%") {
			continue
		}
		rows = append(rows, TopRow{Flat: f[0], FlatPct: f[1], Cum: f[3], CumPct: f[4], Func: strings.Join(f[5:], " ")})
	}
	return rows
}

func (p *profiler) fetch(ctx context.Context, path, file string, timeout time.Duration) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, p.base+path, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		p.logf("  profile %s: %v", file, err)
		return
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		p.logf("  profile %s: %s %s", file, resp.Status, strings.TrimSpace(string(b)))
		return
	}
	out := filepath.Join(p.dir, file)
	f, err := os.Create(out)
	if err != nil {
		p.logf("  profile: %v", err)
		return
	}
	_, err = io.Copy(f, resp.Body)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		p.logf("  profile %s: %v", file, err)
		return
	}
	p.logf("  profile written: %s", out)
}

// profileSlug turns a variant name ("mixed (cache)") into a file name part.
func profileSlug(name string) string {
	var b strings.Builder
	dash := false
	for _, r := range strings.ToLower(name) {
		if (r >= 'a' && r <= 'z') || (r >= '0' && r <= '9') {
			b.WriteRune(r)
			dash = false
		} else if !dash && b.Len() > 0 {
			b.WriteByte('-')
			dash = true
		}
	}
	return strings.TrimSuffix(b.String(), "-")
}
