package bench

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

const wrkSample = `Running 2s test @ http://127.0.0.1:3101
  2 threads and 64 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     3.10ms    1.20ms  40.00ms   90.00%
    Req/Sec    10.20k     1.00k   12.00k    70.00%
  40800 requests in 2.00s, 200.00MB read
  Non-2xx or 3xx responses: 12
Requests/sec:  20400.00
Transfer/sec:    100.00MB
BENCH-WRK-JSON {"duration_us":2000000,"requests":40800,"bytes":209715200,"errors":{"connect":0,"read":3,"write":0,"status":12,"timeout":5},"latency_us":{"min":120,"max":40000,"mean":3100.5,"stdev":1200.0,"p50":2900,"p90":4500,"p95":5200,"p99":9100,"p999":21000}}
`

func TestParseWrkOutput(t *testing.T) {
	res, err := ParseWrkOutput(wrkSample)
	if err != nil {
		t.Fatal(err)
	}
	if res.Requests != 40800 || res.DurationUS != 2000000 || res.NonOK != 12 || res.Errors.Status != 12 || res.Errors.Read != 3 || res.Errors.Timeout != 5 {
		t.Fatalf("parsed %+v", res)
	}
	if res.Latency.P99 != 9100 || res.Latency.Mean != 3100.5 || res.Latency.P999 != 21000 {
		t.Fatalf("latency %+v", res.Latency)
	}
	if strings.Contains(res.Output, wrkJSONPrefix) || !strings.Contains(res.Output, "Requests/sec") {
		t.Fatalf("text report %q", res.Output)
	}
	res.CPU, res.Conns = 1500*time.Millisecond, 64
	s := res.Summary()
	if s.Requests != 40808 || s.OK != 40788 || s.P99 != 9100*time.Microsecond || s.Wall != 2*time.Second || s.GenCPU != 1.5 || s.Conns != 64 {
		t.Fatalf("summary %+v", s)
	}
	if s.Errors["status ≥ 400"] != 12 || s.Errors["read error"] != 3 || s.Errors["timeout"] != 5 || len(s.Errors) != 3 {
		t.Fatalf("errors %v", s.Errors)
	}
	if got := s.Throughput(); got != 20394 {
		t.Fatalf("throughput %v", got)
	}
}

func TestParseWrkOutputWithoutSummary(t *testing.T) {
	if _, err := ParseWrkOutput("Running 1s test @ http://x\n"); err == nil {
		t.Fatal("no error without the script's line")
	}
	if _, err := ParseWrkOutput(wrkJSONPrefix + "{not json\n"); err == nil {
		t.Fatal("no error for a broken line")
	}
}

func TestWrkArgs(t *testing.T) {
	got := WrkRun{Bin: "wrk", URL: "http://h", Script: "s.lua", Threads: 4, Conns: 2, Duration: 2400 * time.Millisecond}.Args()
	want := "-t 2 -c 2 -d 2s --timeout 2s -s s.lua http://h"
	if strings.Join(got, " ") != want {
		t.Fatalf("args %q, want %q", strings.Join(got, " "), want)
	}
}

func TestLuaString(t *testing.T) {
	if got := luaString("a\"b\\c\td"); got != `"a\"b\\c\009d"` {
		t.Fatalf("%s", got)
	}
}

func TestWrkScriptText(t *testing.T) {
	f := WrkFiles{Users: "/tmp/x/users.tsv", Seq: "/tmp/x/seq.txt"}
	s := WrkScript(f, "/challenges/logs/", "?limit=10", 2)
	for _, want := range []string{`local users_file = "/tmp/x/users.tsv"`, `local suffix = "?limit=10"`, `local threads = 2`,
		`"Bearer " .. token`, `latency:percentile(99.9)`, `"BENCH-WRK-JSON "`, `pos = pos % n + 1`} {
		if !strings.Contains(s, want) {
			t.Errorf("script lacks %q", want)
		}
	}
}

// TestWrkDrivesZipfUsersWithTheirTokens runs the generated script in the
// real wrk against a local server that checks every request's token
// against its path: the script must parse, send each user's own token, draw
// the hot user most often and report through done().
func TestWrkDrivesZipfUsersWithTheirTokens(t *testing.T) {
	bin, err := EnsureDebianPackage(context.Background(), "wrk", "wrk", "/usr/bin/wrk", t.Logf)
	if err != nil {
		t.Fatal(err)
	}
	users := make([]*User, 50)
	for i := range users {
		users[i] = &User{ID: int64(1000 + i), Token: "tok-" + strconv.Itoa(1000+i)}
	}
	z, err := NewZipf(len(users), 1.1, 7)
	if err != nil {
		t.Fatal(err)
	}
	hot := users[z.Rank(0)].ID
	var mu sync.Mutex
	seen := map[int64]int{}
	bad := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, err := strconv.ParseInt(strings.TrimPrefix(r.URL.Path, "/logs/"), 10, 64)
		mu.Lock()
		if err != nil || r.Header.Get("Authorization") != "Bearer tok-"+strconv.FormatInt(id, 10) || r.URL.Query().Get("limit") != "10" {
			bad++
		}
		seen[id]++
		mu.Unlock()
		if id == users[3].ID {
			w.WriteHeader(http.StatusNotFound) // counted as status errors
			return
		}
		_, _ = w.Write([]byte(`{"items":[]}`))
	}))
	defer srv.Close()
	dir := t.TempDir()
	files, err := WriteWrkFiles(dir, users, z, 5000)
	if err != nil {
		t.Fatal(err)
	}
	script := filepath.Join(dir, "read.lua")
	if err := os.WriteFile(script, []byte(WrkScript(files, "/logs/", "?limit=10", 2)), 0o600); err != nil {
		t.Fatal(err)
	}
	res, err := WrkRun{Bin: bin, URL: srv.URL, Script: script, Threads: 2, Conns: 4, Duration: time.Second}.Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	total := 0
	for _, n := range seen {
		total += n
	}
	if bad > 0 || total == 0 {
		t.Fatalf("%d of %d requests with a wrong token, path or query", bad, total)
	}
	for id, n := range seen {
		if id != hot && n > seen[hot] {
			t.Errorf("user %d drawn %d times, more than the hottest user %d (%d)", id, n, hot, seen[hot])
		}
	}
	// wrk counts what it received; the server may have answered a few more
	// requests that wrk's end cut off.
	notFound := int64(seen[users[3].ID])
	if res.Requests == 0 || int(res.Requests) > total || res.Errors.Status > notFound || (notFound > 10 && res.Errors.Status == 0) {
		t.Fatalf("wrk reported %+v; the server saw %d (%d for the 404 user)", res, total, seen[users[3].ID])
	}
	if res.Latency.P99 <= 0 || res.Latency.P50 > res.Latency.P99 {
		t.Fatalf("latency %+v", res.Latency)
	}
}
