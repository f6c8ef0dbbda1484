package bench

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
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
