package bench

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"
)

// An attack whose results never stop coming must still end, with the overrun
// reported and the goroutines dumped, instead of holding the whole run.
func TestRunAbandonsAnAttackThatOverruns(t *testing.T) {
	old := overrunGrace
	overrunGrace = 100 * time.Millisecond
	defer func() { overrunGrace = old }()
	stuck := make(chan struct{})
	defer close(stuck)
	var targeter vegeta.Targeter = func(*vegeta.Target) error {
		<-stuck // a worker that never returns keeps vegeta's results open
		return nil
	}
	done := make(chan Summary, 1)
	go func() {
		done <- Run(context.Background(), Attack{Name: "stuck", Rate: 10, Duration: 100 * time.Millisecond,
			Timeout: 100 * time.Millisecond, MaxWorkers: 2, Targeter: targeter})
	}()
	var s Summary
	select {
	case s = <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return after its bound")
	}
	var msg string
	for e := range s.Errors {
		if strings.Contains(e, "overran") {
			msg = e
		}
	}
	if msg == "" {
		t.Fatalf("errors %v, want the overrun reported", s.Errors)
	}
	_, path, ok := strings.Cut(msg, "goroutines dumped to ")
	if !ok {
		t.Fatalf("%q names no dump", msg)
	}
	defer os.Remove(path)
	dump, err := os.ReadFile(path)
	if err != nil || !strings.Contains(string(dump), "TestRunAbandonsAnAttackThatOverruns") {
		t.Fatalf("dump %s: %v (%d bytes), want the stuck goroutine's stack", path, err, len(dump))
	}
}
