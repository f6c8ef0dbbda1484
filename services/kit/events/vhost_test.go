package events_test

import (
	"fmt"
	"os"
	"sync"
	"testing"

	"go.uber.org/goleak"

	"github.com/progressive-overload/po/services/kit/events/vhosttest"
)

// The tests share one vhost, created on first use and deleted when the
// package's tests end: creating one costs an Erlang VM boot through
// rabbitmqctl, seconds each. Every test still owns its names inside it (an
// exchange and a service name of its own, see newEnv) and deletes what it
// declared.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m, goleak.Cleanup(func(code int) {
		if err := dropPackageVhost(); err != nil {
			fmt.Fprintln(os.Stderr, err)
			code = max(code, 1)
		}
		os.Exit(code)
	}))
}

var pkgVhost struct {
	once  sync.Once
	name  string
	admin vhosttest.Admin // the one that created it, used to delete it
	err   error
}

func packageVhost(tb testing.TB) string {
	tb.Helper()
	pkgVhost.once.Do(func() {
		name := randomName()
		admin, err := vhosttest.New(name)
		pkgVhost.name, pkgVhost.admin, pkgVhost.err = name, admin, err
	})
	if pkgVhost.err != nil {
		tb.Fatal(pkgVhost.err)
	}
	return pkgVhost.name
}

func dropPackageVhost() error {
	if pkgVhost.admin == nil {
		return nil
	}
	if err := pkgVhost.admin.DeleteVhost(pkgVhost.name); err != nil {
		return fmt.Errorf("deleting vhost %s through %s: %w", pkgVhost.name, pkgVhost.admin, err)
	}
	return nil
}
