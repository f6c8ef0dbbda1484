package bench

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// ReadProc reads CPU ticks and memory of pid from /proc.
func ReadProc(pid int) (ProcStat, error) {
	var ps ProcStat
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return ps, err
	}
	if ps.CPUTicks, err = ParseProcStatCPU(string(stat)); err != nil {
		return ps, err
	}
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return ps, err
	}
	ps.RSSKiB, ps.HWMKiB, err = ParseProcStatus(string(status))
	return ps, err
}

// ProcUsage is one process' use of the machine during a phase.
type ProcUsage struct {
	Name       string
	PeakRSSKiB int64   // highest VmRSS sampled during the phase
	CPUSeconds float64 // user + system CPU time spent during the phase
}

// HostUsage is what the whole machine did during a phase: the CPU time of
// every process, of the tool itself (the load generator), and of everything
// neither the tool nor the watched processes (noise from other work).
type HostUsage struct {
	BusySeconds   float64
	SelfSeconds   float64
	OthersSeconds float64
	Load1         float64 // 1-minute load average at the end
	Known         bool
}

// ReadHostCPU returns the machine's busy CPU ticks (all but idle and
// iowait) from /proc/stat.
func ReadHostCPU() (int64, error) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, err
	}
	return ParseHostCPU(string(b))
}

// ParseHostCPU reads busy ticks (user, nice, system, irq, softirq, steal)
// from the "cpu" line of /proc/stat.
func ParseHostCPU(stat string) (int64, error) {
	for _, line := range strings.Split(stat, "\n") {
		f := strings.Fields(line)
		if len(f) < 9 || f[0] != "cpu" {
			continue
		}
		var busy int64
		for i, v := range f[1:9] {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				return 0, fmt.Errorf("proc stat: bad cpu field %q", v)
			}
			if i != 3 && i != 4 { // idle, iowait
				busy += n
			}
		}
		return busy, nil
	}
	return 0, fmt.Errorf("proc stat: no cpu line")
}

func readLoad1() float64 {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return 0
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return 0
	}
	v, _ := strconv.ParseFloat(f[0], 64)
	return v
}

// ProcWatch samples processes' RSS while a phase runs and measures the CPU
// time they, the tool and the machine spent in it.
type ProcWatch struct {
	hostStart, selfStart int64
	hostErr              error
	names                []string
	pids                 []int
	start                []ProcStat
	peak                 []int64
	mu                   sync.Mutex
	stop                 chan struct{}
	done                 chan struct{}
	period               time.Duration
}

// WatchProcs starts watching pids (by name; a pid <= 0 is skipped).
func WatchProcs(ctx context.Context, procs map[string]int) *ProcWatch {
	w := &ProcWatch{stop: make(chan struct{}), done: make(chan struct{}), period: 200 * time.Millisecond}
	w.hostStart, w.hostErr = ReadHostCPU()
	if st, err := ReadProc(os.Getpid()); err == nil {
		w.selfStart = st.CPUTicks
	} else {
		w.hostErr = err
	}
	for name, pid := range procs {
		if pid <= 0 {
			continue
		}
		st, err := ReadProc(pid)
		if err != nil {
			continue
		}
		w.names = append(w.names, name)
		w.pids = append(w.pids, pid)
		w.start = append(w.start, st)
		w.peak = append(w.peak, st.RSSKiB)
	}
	go w.loop(ctx)
	return w
}

func (w *ProcWatch) loop(ctx context.Context) {
	defer close(w.done)
	t := time.NewTicker(w.period)
	defer t.Stop()
	for {
		select {
		case <-w.stop:
			return
		case <-ctx.Done():
			return
		case <-t.C:
			w.sample()
		}
	}
}

func (w *ProcWatch) sample() []ProcStat {
	out := make([]ProcStat, len(w.pids))
	w.mu.Lock()
	defer w.mu.Unlock()
	for i, pid := range w.pids {
		st, err := ReadProc(pid)
		if err != nil {
			continue
		}
		out[i] = st
		w.peak[i] = max(w.peak[i], st.RSSKiB)
	}
	return out
}

// Stop ends the watch and returns each process' usage, sorted by name, and
// the machine's.
func (w *ProcWatch) Stop() ([]ProcUsage, HostUsage) {
	close(w.stop)
	<-w.done
	end := w.sample()
	var out []ProcUsage
	var watched float64
	for i, name := range w.names {
		u := ProcUsage{Name: name, PeakRSSKiB: w.peak[i]}
		if end[i].CPUTicks > 0 {
			u.CPUSeconds = float64(end[i].CPUTicks-w.start[i].CPUTicks) / ClockTicks
		}
		watched += u.CPUSeconds
		out = append(out, u)
	}
	slices.SortFunc(out, func(a, b ProcUsage) int { return strings.Compare(a.Name, b.Name) })
	h := HostUsage{Load1: readLoad1()}
	host, err := ReadHostCPU()
	self, serr := ReadProc(os.Getpid())
	if w.hostErr == nil && err == nil && serr == nil {
		h.Known = true
		h.BusySeconds = float64(host-w.hostStart) / ClockTicks
		h.SelfSeconds = float64(self.CPUTicks-w.selfStart) / ClockTicks
		h.OthersSeconds = max(0, h.BusySeconds-h.SelfSeconds-watched)
	}
	return out, h
}

// PIDListeningOn finds the process listening on TCP port (IPv4 or IPv6) by
// matching the socket's inode in /proc/net/tcp* against the descriptors of
// every process it may read. It returns 0 when none is found.
func PIDListeningOn(port int) int {
	inodes := map[string]bool{}
	for _, f := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		for _, ino := range listeningInodes(string(b), port) {
			inodes[ino] = true
		}
	}
	if len(inodes) == 0 {
		return 0
	}
	dirs, _ := filepath.Glob("/proc/[0-9]*/fd")
	for _, d := range dirs {
		fds, err := os.ReadDir(d)
		if err != nil {
			continue
		}
		for _, fd := range fds {
			link, err := os.Readlink(filepath.Join(d, fd.Name()))
			if err != nil || !strings.HasPrefix(link, "socket:[") {
				continue
			}
			if inodes[strings.TrimSuffix(strings.TrimPrefix(link, "socket:["), "]")] {
				pid, _ := strconv.Atoi(filepath.Base(filepath.Dir(d)))
				return pid
			}
		}
	}
	return 0
}

// listeningInodes returns the inodes of sockets in LISTEN state (0A) on port
// from the text of /proc/net/tcp or tcp6.
func listeningInodes(table string, port int) []string {
	var out []string
	want := fmt.Sprintf(":%04X", port)
	for i, line := range strings.Split(table, "\n") {
		f := strings.Fields(line)
		if i == 0 || len(f) < 10 {
			continue
		}
		if strings.HasSuffix(f[1], want) && f[3] == "0A" {
			out = append(out, f[9])
		}
	}
	return out
}
