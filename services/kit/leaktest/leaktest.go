// Package leaktest wraps goleak with the few goroutines our libraries keep by design,
// so every package checks for leaks the same way and the exceptions are written once.
package leaktest

import (
	"testing"

	"go.uber.org/goleak"
)

// Options are goleak's options with the known, bounded library goroutines ignored:
//   - fasthttp's worker-pool cleaner sleeps for its idle period before it notices the
//     pool stopped, so it outlives Shutdown by up to 10 s and then exits;
//   - fasthttp's server-date ticker is a process-wide goroutine started once.
func Options(extra ...goleak.Option) []goleak.Option {
	return append([]goleak.Option{
		goleak.IgnoreAnyFunction("github.com/valyala/fasthttp.(*workerPool).Start.func2"),
		goleak.IgnoreAnyFunction("github.com/valyala/fasthttp.updateServerDate.func1"),
	}, extra...)
}

// VerifyTestMain runs the package's tests and fails when goroutines leak.
func VerifyTestMain(m *testing.M, extra ...goleak.Option) {
	goleak.VerifyTestMain(m, Options(extra...)...)
}
