package bench

import (
	"bufio"
	"fmt"
	"strconv"
	"strings"
)

// Sample is one line of the Prometheus text exposition format.
type Sample struct {
	Name   string
	Labels map[string]string
	Value  float64
}

// ParsePromText reads the samples of a Prometheus text exposition (comments
// and malformed lines are skipped). Label values may contain escaped quotes.
func ParsePromText(text string) []Sample {
	var out []Sample
	sc := bufio.NewScanner(strings.NewReader(text))
	sc.Buffer(make([]byte, 0, 64*1024), 1<<20)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' {
			continue
		}
		if s, ok := parseSampleLine(line); ok {
			out = append(out, s)
		}
	}
	return out
}

func parseSampleLine(line string) (Sample, bool) {
	s := Sample{Labels: map[string]string{}}
	i := strings.IndexAny(line, "{ \t")
	if i <= 0 {
		return s, false
	}
	s.Name = line[:i]
	rest := line[i:]
	if rest[0] == '{' {
		rest = rest[1:]
		for {
			rest = strings.TrimLeft(rest, " ,")
			if rest == "" {
				return s, false
			}
			if rest[0] == '}' {
				rest = rest[1:]
				break
			}
			eq := strings.IndexByte(rest, '=')
			if eq <= 0 || len(rest) < eq+2 || rest[eq+1] != '"' {
				return s, false
			}
			key := strings.TrimSpace(rest[:eq])
			rest = rest[eq+2:]
			var val strings.Builder
			closed := false
			for j := 0; j < len(rest); j++ {
				c := rest[j]
				if c == '\\' && j+1 < len(rest) {
					j++
					switch rest[j] {
					case 'n':
						val.WriteByte('\n')
					default:
						val.WriteByte(rest[j])
					}
					continue
				}
				if c == '"' {
					rest = rest[j+1:]
					closed = true
					break
				}
				val.WriteByte(c)
			}
			if !closed {
				return s, false
			}
			s.Labels[key] = val.String()
		}
	}
	fields := strings.Fields(rest)
	if len(fields) == 0 {
		return s, false
	}
	v, err := strconv.ParseFloat(fields[0], 64)
	if err != nil {
		return s, false
	}
	s.Value = v
	return s, true
}

// CacheCounts are cache_requests_total summed by result.
type CacheCounts struct{ Hit, Miss, Error float64 }

// Sub returns c - o.
func (c CacheCounts) Sub(o CacheCounts) CacheCounts {
	return CacheCounts{Hit: c.Hit - o.Hit, Miss: c.Miss - o.Miss, Error: c.Error - o.Error}
}

// HitRatio is hits / (hits + misses), and false when there were neither.
func (c CacheCounts) HitRatio() (float64, bool) {
	if c.Hit+c.Miss <= 0 {
		return 0, false
	}
	return c.Hit / (c.Hit + c.Miss), true
}

// CacheCountsFrom sums cache_requests_total by result over the samples,
// only for the named cache when cache is not empty.
func CacheCountsFrom(samples []Sample, cache string) CacheCounts {
	var c CacheCounts
	for _, s := range samples {
		if s.Name != "cache_requests_total" || (cache != "" && s.Labels["cache"] != cache) {
			continue
		}
		switch s.Labels["result"] {
		case "hit":
			c.Hit += s.Value
		case "miss":
			c.Miss += s.Value
		case "error":
			c.Error += s.Value
		}
	}
	return c
}

// ParseRedisInfo reads the key:value lines of Redis INFO.
func ParseRedisInfo(text string) map[string]string {
	m := map[string]string{}
	for _, line := range strings.Split(text, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || line[0] == '#' {
			continue
		}
		if k, v, ok := strings.Cut(line, ":"); ok {
			m[k] = v
		}
	}
	return m
}

// RedisCounts are Redis' keyspace_hits and keyspace_misses (INFO stats)
// and the calls of every command (INFO commandstats); they are server-wide,
// so other clients of the same Redis count too.
type RedisCounts struct{ Hits, Misses, Commands int64 }

// Sub returns c - o.
func (c RedisCounts) Sub(o RedisCounts) RedisCounts {
	return RedisCounts{Hits: c.Hits - o.Hits, Misses: c.Misses - o.Misses, Commands: c.Commands - o.Commands}
}

// RedisCountsFrom reads keyspace_hits and keyspace_misses from INFO text,
// and sums the calls= of its cmdstat_* lines when it has a commandstats
// section.
func RedisCountsFrom(info string) (RedisCounts, error) {
	m := ParseRedisInfo(info)
	h, err1 := strconv.ParseInt(m["keyspace_hits"], 10, 64)
	mi, err2 := strconv.ParseInt(m["keyspace_misses"], 10, 64)
	if err1 != nil || err2 != nil {
		return RedisCounts{}, fmt.Errorf("redis INFO without keyspace_hits/keyspace_misses")
	}
	c := RedisCounts{Hits: h, Misses: mi}
	for k, v := range m {
		if !strings.HasPrefix(k, "cmdstat_") {
			continue
		}
		for _, f := range strings.Split(v, ",") {
			if n, ok := strings.CutPrefix(f, "calls="); ok {
				calls, err := strconv.ParseInt(n, 10, 64)
				if err != nil {
					return c, fmt.Errorf("redis INFO: bad %s", k)
				}
				c.Commands += calls
			}
		}
	}
	return c, nil
}

// ProcStat is what /proc/<pid>/stat and /proc/<pid>/status tell about a
// process.
type ProcStat struct {
	CPUTicks int64 // utime + stime, in clock ticks
	RSSKiB   int64 // VmRSS
	HWMKiB   int64 // VmHWM: peak RSS over the process' life
}

// ClockTicks is USER_HZ, 100 on every Linux architecture Go supports.
const ClockTicks = 100

// ParseProcStatCPU returns utime+stime (fields 14 and 15) from the text of
// /proc/<pid>/stat. The command name (field 2) may hold spaces and
// parentheses, so fields are counted from its last ')'.
func ParseProcStatCPU(stat string) (int64, error) {
	i := strings.LastIndexByte(stat, ')')
	if i < 0 {
		return 0, fmt.Errorf("proc stat: no command field")
	}
	f := strings.Fields(stat[i+1:])
	// f[0] is field 3 (state), so field n is f[n-3].
	if len(f) < 13 {
		return 0, fmt.Errorf("proc stat: %d fields after the command", len(f))
	}
	ut, err1 := strconv.ParseInt(f[11], 10, 64)
	st, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("proc stat: bad utime/stime %q %q", f[11], f[12])
	}
	return ut + st, nil
}

// ParseProcStatus returns VmRSS and VmHWM in KiB from /proc/<pid>/status.
func ParseProcStatus(status string) (rss, hwm int64, err error) {
	found := 0
	for _, line := range strings.Split(status, "\n") {
		k, v, ok := strings.Cut(line, ":")
		if !ok || (k != "VmRSS" && k != "VmHWM") {
			continue
		}
		f := strings.Fields(v)
		if len(f) == 0 {
			continue
		}
		n, perr := strconv.ParseInt(f[0], 10, 64)
		if perr != nil {
			return 0, 0, fmt.Errorf("proc status: bad %s %q", k, v)
		}
		if k == "VmRSS" {
			rss = n
		} else {
			hwm = n
		}
		found++
	}
	if found < 2 {
		return rss, hwm, fmt.Errorf("proc status: VmRSS/VmHWM missing")
	}
	return rss, hwm, nil
}
