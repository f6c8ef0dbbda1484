package bench

import "testing"

const promSample = `# HELP cache_requests_total Cache lookups by result.
# TYPE cache_requests_total counter
cache_requests_total{cache="user-logs",result="hit",service="challenge"} 950
cache_requests_total{cache="user-logs",result="miss",service="challenge"} 50
cache_requests_total{cache="user-logs",result="error",service="challenge"} 2
cache_requests_total{cache="progress",result="hit",service="challenge"} 7
http_requests_total{code="200",method="GET",route="/challenges/logs/:userId",service="challenge"} 1.5e+06
weird{label="a \"quoted\" value, with comma"} 3 1700000000000
broken{label="unterminated} 1
`

func TestParsePromText(t *testing.T) {
	s := ParsePromText(promSample)
	if len(s) != 6 {
		t.Fatalf("%d samples: %+v", len(s), s)
	}
	if s[4].Value != 1.5e6 || s[4].Labels["route"] != "/challenges/logs/:userId" {
		t.Errorf("%+v", s[4])
	}
	if s[5].Labels["label"] != `a "quoted" value, with comma` || s[5].Value != 3 {
		t.Errorf("%+v", s[5])
	}
	all := CacheCountsFrom(s, "")
	if all.Hit != 957 || all.Miss != 50 || all.Error != 2 {
		t.Errorf("all caches: %+v", all)
	}
	logs := CacheCountsFrom(s, "user-logs")
	if h, ok := logs.HitRatio(); !ok || h != 0.95 {
		t.Errorf("hit ratio %v %v", h, ok)
	}
	if _, ok := (CacheCounts{}).HitRatio(); ok {
		t.Error("hit ratio of nothing")
	}
	d := logs.Sub(CacheCounts{Hit: 900, Miss: 40})
	if d.Hit != 50 || d.Miss != 10 || d.Error != 2 {
		t.Errorf("sub %+v", d)
	}
}

func TestRedisInfo(t *testing.T) {
	info := "# Stats\r\ntotal_connections_received:12\r\nkeyspace_hits:1234\r\nkeyspace_misses:56\r\n\r\n# Server\r\nredis_version:7.0.15\r\n"
	c, err := RedisCountsFrom(info)
	if err != nil || c.Hits != 1234 || c.Misses != 56 {
		t.Fatalf("%+v %v", c, err)
	}
	if v := ParseRedisInfo(info)["redis_version"]; v != "7.0.15" {
		t.Errorf("version %q", v)
	}
	if _, err := RedisCountsFrom("# Stats\r\n"); err == nil {
		t.Error("missing counters accepted")
	}
	if d := c.Sub(RedisCounts{Hits: 1000, Misses: 50}); d.Hits != 234 || d.Misses != 6 {
		t.Errorf("%+v", d)
	}
}

func TestProcParsing(t *testing.T) {
	// The command name may hold spaces and parentheses.
	stat := "4242 (my (odd) proc) S 1 4242 4242 0 -1 4194560 1500 0 0 0 731 269 0 0 20 0 9 0 123 456789 2048 18446744073709551615"
	ticks, err := ParseProcStatCPU(stat)
	if err != nil || ticks != 1000 {
		t.Fatalf("ticks %d %v", ticks, err)
	}
	if _, err := ParseProcStatCPU("12 (x) S 1 2"); err == nil {
		t.Error("short stat accepted")
	}
	status := "Name:\tchallenge\nVmPeak:\t 1000 kB\nVmHWM:\t   40960 kB\nVmRSS:\t   30720 kB\nThreads:\t9\n"
	rss, hwm, err := ParseProcStatus(status)
	if err != nil || rss != 30720 || hwm != 40960 {
		t.Fatalf("rss %d hwm %d %v", rss, hwm, err)
	}
	if _, _, err := ParseProcStatus("Name:\tx\n"); err == nil {
		t.Error("missing VmRSS accepted")
	}
}

func TestListeningInodes(t *testing.T) {
	table := `  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 0100007F:0BB9 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 111 1 0000000000000000 100 0 0 10 0
   1: 0100007F:0BB9 0100007F:D431 01 00000000:00000000 00:00000000 00000000     0        0 222 1 0000000000000000 20 4 30 10 -1
   2: 00000000:0CEA 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 333 1 0000000000000000 100 0 0 10 0
`
	got := listeningInodes(table, 3001) // 0x0BB9
	if len(got) != 1 || got[0] != "111" {
		t.Fatalf("%v", got)
	}
	if got := listeningInodes(table, 3000); len(got) != 0 {
		t.Fatalf("%v", got)
	}
}

func TestParseHostCPU(t *testing.T) {
	stat := "cpu  100 5 50 1000 200 3 7 2 0 0\ncpu0 50 2 25 500 100 1 3 1 0 0\nintr 1 2 3\n"
	busy, err := ParseHostCPU(stat)
	if err != nil || busy != 100+5+50+3+7+2 {
		t.Fatalf("%d %v", busy, err)
	}
	if _, err := ParseHostCPU("intr 1\n"); err == nil {
		t.Error("no cpu line accepted")
	}
}
