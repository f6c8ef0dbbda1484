package chaos

import (
	"fmt"
	"strings"
	"time"
)

// Fault names, in the order a run injects them.
const (
	FaultKill      = "kill-9"
	FaultRolling   = "rolling-restart"
	FaultMariaDB   = "mariadb-restart"
	FaultRabbitMQ  = "rabbitmq-stop"
	FaultRedisRst  = "redis-restart"
	FaultRedisStop = "redis-stop"
)

// FaultOrder is every fault, in the order of the issue.
var FaultOrder = []string{FaultKill, FaultRolling, FaultMariaDB, FaultRabbitMQ, FaultRedisRst, FaultRedisStop}

// FaultTitle is a fault's row label in the table.
var FaultTitle = map[string]string{
	FaultKill:      "kill -9 of one replica of each service, then a restart",
	FaultRolling:   "rolling restart of every replica (SIGTERM)",
	FaultMariaDB:   "MariaDB restart",
	FaultRabbitMQ:  "RabbitMQ stopped, then started",
	FaultRedisRst:  "Redis restart (cache flushed)",
	FaultRedisStop: "Redis stopped, then started",
}

// Timing bounds every part of a fault's window.
type Timing struct {
	Baseline time.Duration // load before the fault, the window's reference p99
	Outage   time.Duration // how long RabbitMQ and Redis stay stopped
	Down     time.Duration // how long a killed replica stays dead before its restart
	Observe  time.Duration // load after the recovery, for the p99 to come back
	// Settle bounds the wait, after the window, for the challenges created
	// in it to be validated and the outboxes to drain.
	Settle time.Duration
	// Recover bounds how long an injected fault may take to be undone
	// (a process started again and ready behind the balancer).
	Recover time.Duration
}

// Timings returns the full run's or -quick's timing.
func Timings(quick bool) Timing {
	if quick {
		return Timing{Baseline: time.Second, Outage: 3 * time.Second, Down: time.Second, Observe: 3 * time.Second, Settle: 15 * time.Second, Recover: 60 * time.Second}
	}
	return Timing{Baseline: 5 * time.Second, Outage: 10 * time.Second, Down: 2 * time.Second, Observe: 15 * time.Second, Settle: 45 * time.Second, Recover: 90 * time.Second}
}

// Expected is a fault's planned window length when nothing is slow: the
// baseline, the fault's own time and the observation.
func (t Timing) Expected(fault string, replicas int) time.Duration {
	d := t.Baseline + t.Observe
	switch fault {
	case FaultKill:
		d += t.Down + 2*time.Second // restart and readiness
	case FaultRolling:
		d += time.Duration(replicas) * 3 * time.Second
	case FaultMariaDB:
		d += 5 * time.Second
	case FaultRabbitMQ:
		d += t.Outage + 15*time.Second // the node's boot
	case FaultRedisRst:
		d += time.Second
	case FaultRedisStop:
		d += t.Outage + time.Second
	}
	return d
}

// Budget is the upper bound of a run of faults: every window at its
// longest, its settle wait included.
func (t Timing) Budget(faults []string, replicas int) time.Duration {
	var d time.Duration
	for _, f := range faults {
		d += t.Expected(f, replicas) + t.Settle
	}
	return d
}

// SelectFaults parses a comma-separated list of fault names ("" or "all"
// is every fault) into FaultOrder's order.
func SelectFaults(list string) ([]string, error) {
	list = strings.TrimSpace(list)
	if list == "" || list == "all" {
		return append([]string(nil), FaultOrder...), nil
	}
	want := map[string]bool{}
	for _, f := range strings.Split(list, ",") {
		f = strings.TrimSpace(f)
		if _, ok := FaultTitle[f]; !ok {
			return nil, fmt.Errorf("unknown fault %q (known: %s)", f, strings.Join(FaultOrder, ", "))
		}
		want[f] = true
	}
	var out []string
	for _, f := range FaultOrder {
		if want[f] {
			out = append(out, f)
		}
	}
	return out, nil
}

// Window is one fault's span of the run.
type Window struct {
	Fault     string
	Start     time.Time // the baseline begins
	Inject    time.Time // the fault is injected
	Recovered time.Time // the fault is undone (process back, ready behind the balancer)
	End       time.Time // the observation ends
	Err       error     // the fault could not be injected or undone
}

// WindowOf returns the index of the window whose [Start, End) holds t, or -1.
func WindowOf(ws []Window, t time.Time) int {
	for i, w := range ws {
		if !t.Before(w.Start) && t.Before(w.End) {
			return i
		}
	}
	return -1
}
