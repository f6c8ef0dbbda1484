//go:build kind

package kindtest

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/progressive-overload/po/hack/chartkit"
	challengeclient "github.com/progressive-overload/po/services/challenge/api/client"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// prometheus checks that the in-cluster Prometheus scrapes both services and that
// every query of the chart's dashboards returns data from it (after the
// walk-through's traffic), with the dashboards' variables as Grafana would set them
// for "all services".
func (e *env) prometheus(t *testing.T, sys *system) {
	prom := e.portForward(t, release+"-prometheus", 9090)
	query := func(q string) (int, error) {
		var r struct {
			Status string `json:"status"`
			Data   struct {
				Result []any `json:"result"`
			} `json:"data"`
		}
		if err := get(prom.url+"/api/v1/query?query="+url.QueryEscape(q), &r); err != nil {
			return 0, err
		}
		return len(r.Data.Result), nil
	}
	// A few more reads and logins, so that the rates have two samples to span.
	u := sys.signUp(t, "grace")
	for i := 0; i < 5; i++ {
		_, _ = sys.logs(u)
	}
	start := time.Now()
	for _, job := range []string{"account", "challenge"} {
		for {
			n, err := query(fmt.Sprintf(`up{job=%q} == 1`, job))
			if err == nil && n > 0 {
				break
			}
			if time.Since(start) > 2*time.Minute {
				t.Fatalf("Prometheus has no up{job=%q} == 1 after 2m (%v)", job, err)
			}
			time.Sleep(2 * time.Second)
		}
	}
	t.Logf("FIGURE both services scraped %s after the walk-through", time.Since(start).Round(time.Second))
	files, err := chartkit.DashboardFiles()
	if err != nil || len(files) == 0 {
		t.Fatalf("dashboards: %v %v", files, err)
	}
	vars := strings.NewReplacer(`"$service"`, `".+"`, "$__rate_interval", "2m", "${datasource}", "")
	var queries []chartkit.DashboardQuery
	for _, f := range files {
		qs, err := chartkit.ReadDashboard(f)
		if err != nil {
			t.Fatal(err)
		}
		queries = append(queries, qs...)
	}
	// Rates need a second scrape after the traffic: poll until every query has
	// data or the time is up, then report the ones that never had any.
	deadline := time.Now().Add(90 * time.Second)
	empty := map[string]string{}
	for {
		for k := range empty {
			delete(empty, k)
		}
		for _, q := range queries {
			if strings.HasPrefix(q.Expr, "label_values(") {
				continue // a variable's query, answered by Grafana from the series list
			}
			expr := vars.Replace(q.Expr)
			if n, err := query(expr); err != nil || n == 0 {
				empty[q.Dashboard+" / "+q.Panel] = fmt.Sprintf("%s (err %v)", expr, err)
			}
		}
		if len(empty) == 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(5 * time.Second)
	}
	keys := make([]string, 0, len(empty))
	for k := range empty {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		t.Errorf("dashboard query returns no data: %s: %s", k, empty[k])
	}
	t.Logf("%d dashboard queries checked against the in-cluster Prometheus", len(queries))

	// The chart's alerts are loaded and evaluate without errors.
	var rules struct {
		Data struct {
			Groups []struct {
				Rules []struct {
					Name, Type, Health, LastError string
				} `json:"rules"`
			} `json:"groups"`
		} `json:"data"`
	}
	if err := get(prom.url+"/api/v1/rules", &rules); err != nil {
		t.Fatal(err)
	}
	alerts := 0
	for _, g := range rules.Data.Groups {
		for _, r := range g.Rules {
			if r.Type == "alerting" {
				alerts++
			}
			if r.Health == "err" {
				t.Errorf("rule %s does not evaluate: %s", r.Name, r.LastError)
			}
		}
	}
	if alerts < 8 {
		t.Errorf("the dev Prometheus has %d alerting rules, want the chart's (rules/alerts.yaml)", alerts)
	}
}

// writer logs workouts and records every acknowledged one.
type writer struct {
	sys   *system
	u     user
	c     challenge
	acked []float64
	fails int
}

func (w *writer) write(v float64) {
	r, err := w.sys.challenges.CreateWorkoutLogWithResponse(context.Background(), w.c.Id,
		challengeclient.CreateWorkoutLogRequest{Sets: 1, Reps: 1, Value: v}, bearer(w.u.token))
	if failure(r, err, http.StatusCreated) != nil {
		w.fails++
		return
	}
	w.acked = append(w.acked, v)
}

// lost lists acknowledged values that a fresh read does not hold.
func (w *writer) lost(t *testing.T, sys *system) []float64 {
	t.Helper()
	var items []logEntry
	var err error
	for i := 0; i < 60; i++ { // the service may still be reconnecting to MySQL
		if items, err = sys.allLogs(w.u); err == nil {
			break
		}
		time.Sleep(time.Second)
	}
	if err != nil {
		t.Fatalf("reading the logs back: %v", err)
	}
	have := map[float64]bool{}
	for _, it := range items {
		have[it.Value] = true
	}
	var lost []float64
	for _, v := range w.acked {
		if !have[v] {
			lost = append(lost, v)
		}
	}
	return lost
}

// podKills deletes a pod of each service, then the MySQL pod (grace 0), writing
// before each kill and as soon as the replacement is Ready (the services must
// reconnect to the new MySQL by themselves); every acknowledged write must be
// there afterwards.
func (e *env) podKills(t *testing.T, sys *system) {
	u := sys.signUp(t, "kill")
	c, _ := sys.activeChallenge(t, u)
	w := &writer{sys: sys, u: u, c: c}
	next := 1.0
	for ; next <= 5; next++ {
		w.write(next)
	}
	for _, comp := range []string{"account", "challenge", "mysql"} {
		var victim string
		var uid string
		for _, p := range e.pods(t) {
			if component(p) == comp {
				victim, uid = p.Name, string(p.UID)
			}
		}
		if victim == "" {
			t.Fatalf("no %s pod", comp)
		}
		start := time.Now()
		zero := int64(0)
		if err := e.clientset(t).CoreV1().Pods(namespace).Delete(context.Background(), victim, metav1.DeleteOptions{GracePeriodSeconds: &zero}); err != nil {
			t.Fatal(err)
		}
		// The port-forwards went to the old pods: a user reconnects.
		e.waitReady(t, 5*time.Minute, map[string]bool{uid: true}, comp)
		took := time.Since(start)
		fresh := e.system(t)
		w.sys = fresh
		if comp == "mysql" {
			// Writes right after MySQL is back: the services reconnect by themselves.
			for i := 0; i < 5; i++ {
				w.write(next)
				next++
			}
		}
		for i := 0; i < 3; i++ {
			w.write(next)
			next++
		}
		t.Logf("FIGURE pod %s (%s) killed (grace 0): a new one Ready in %s", victim, comp, took.Round(100*time.Millisecond))
		sys = fresh
	}
	if lost := w.lost(t, sys); len(lost) > 0 {
		t.Errorf("acknowledged writes lost: %v of %d", lost, len(w.acked))
	}
	t.Logf("FIGURE pod kills: %d writes acknowledged, 0 lost, %d refused while a dependency restarted", len(w.acked), w.fails)
}

// upgradeUnderLoad rolls both services to a new image with `make up` while
// readers and writers run through an edge balancer in the cluster (as an ingress
// would stand in front: a port-forward goes to one pod and dies with it), and
// counts what failed.
func (e *env) upgradeUnderLoad(t *testing.T) {
	edge := e.deployEdge(t)
	sys := e.system(t) // the earlier port-forwards went to pods that were killed
	u := sys.signUp(t, "upgrade")
	c, _ := sys.activeChallenge(t, u)
	edgeAccounts, edgeChallenges := accountClient(t, edge+"/account"), challengeClient(t, edge+"/challenge")
	before := map[string]bool{}
	for _, p := range e.pods(t) {
		if comp := component(p); comp == "account" || comp == "challenge" {
			before[string(p.UID)] = true
		}
	}
	var reads, readFails, writes, writeFails, logins, loginFails atomic.Int64
	var failMu sync.Mutex
	failures := map[string]int{}
	fail := func(kind string, err error) {
		failMu.Lock()
		failures[fmt.Sprintf("%s: %v", kind, err)]++
		failMu.Unlock()
	}
	// ctx stops the loops; each request runs to its end on a context of its own, so
	// that stopping cancels none in flight (it would count as a failure).
	ctx, stop := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	var acked sync.Map
	loop := func(f func(i int)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ctx.Err() == nil; i++ {
				f(i)
				time.Sleep(20 * time.Millisecond)
			}
		}()
	}
	for range 4 {
		loop(func(int) {
			reads.Add(1)
			r, err := edgeChallenges.ListUserLogsWithResponse(context.Background(), u.ID, nil, bearer(u.token))
			if err := failure(r, err, http.StatusOK); err != nil {
				readFails.Add(1)
				fail("read", err)
			}
		})
	}
	loop(func(i int) {
		time.Sleep(80 * time.Millisecond) // about 10 writes a second
		writes.Add(1)
		v := float64(1000 + i)
		r, err := edgeChallenges.CreateWorkoutLogWithResponse(context.Background(), c.Id, challengeclient.CreateWorkoutLogRequest{Sets: 1, Reps: 1, Value: v}, bearer(u.token))
		if err := failure(r, err, http.StatusCreated); err != nil {
			writeFails.Add(1)
			fail("write", err)
			return
		}
		acked.Store(v, true)
	})
	loop(func(int) {
		logins.Add(1)
		r, err := edgeAccounts.GetMeWithResponse(context.Background(), bearer(u.token))
		if err := failure(r, err, http.StatusOK); err != nil {
			loginFails.Add(1)
			fail("account", err)
		}
	})
	time.Sleep(3 * time.Second) // steady load first
	// A new image: the same code stamped with another version (a new content tag).
	d, err := e.make(t, 15*time.Minute, "up", "UP_FLAGS="+e.upFlags("-version", fmt.Sprintf("upgrade-%d", time.Now().Unix())))
	time.Sleep(3 * time.Second) // and after
	stop()
	wg.Wait()
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range e.pods(t) {
		if before[string(p.UID)] {
			t.Errorf("pod %s was not replaced by the upgrade", p.Name)
		}
	}
	t.Logf("FIGURE helm upgrade under load (make up with a new image, %s): reads %d failed %d; log writes %d failed %d; /users/me %d failed %d",
		d.Round(time.Second), reads.Load(), readFails.Load(), writes.Load(), writeFails.Load(), logins.Load(), loginFails.Load())
	for k, n := range failures {
		t.Errorf("%d× %s", n, k)
	}
	// Every acknowledged write is there.
	w := &writer{u: u}
	acked.Range(func(k, _ any) bool { w.acked = append(w.acked, k.(float64)); return true })
	if lost := w.lost(t, e.system(t)); len(lost) > 0 {
		t.Errorf("acknowledged writes lost across the upgrade: %v", lost)
	}
}
