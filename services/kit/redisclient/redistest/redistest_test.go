package redistest

import (
	"testing"

	"github.com/progressive-overload/po/services/kit/leaktest"
)

func TestMain(m *testing.M) { leaktest.VerifyTestMain(m, StopSharedAtExit()) }

// What a test starts is gone when the test ends (t.Cleanup runs however it
// ends).
func TestServersStopWithTheTest(t *testing.T) {
	var addrs []string
	t.Run("sentinel", func(t *testing.T) {
		s := StartSentinel(t)
		addrs = append(addrs, s.Addr, s.PrimaryAddr)
		if !pings(s.Addr) || !pings(s.PrimaryAddr) {
			t.Fatal("not answering")
		}
	})
	if len(addrs) != 2 {
		t.Fatal("sentinel did not start")
	}
	for _, a := range addrs {
		if pings(a) {
			t.Errorf("%s still answers after its test ended", a)
		}
	}
}

func TestClusterURL(t *testing.T) {
	c := &Cluster{Addrs: []string{"127.0.0.1:1", "127.0.0.1:2", "127.0.0.1:3"}}
	if got, want := c.URL(), "redis+cluster://127.0.0.1:1?addr=127.0.0.1:2&addr=127.0.0.1:3"; got != want {
		t.Fatalf("URL %s, want %s", got, want)
	}
}
