package localproc

import "testing"

func TestFreePortsNeverRepeatAndAvoidRabbitmqctl(t *testing.T) {
	seen := map[int]bool{}
	for range 100 {
		ps, err := FreePorts(3)
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range ps {
			if seen[p] || (p >= cliPortsLow && p <= cliPortsHigh) {
				t.Fatalf("port %d handed out twice or in rabbitmqctl's range", p)
			}
			seen[p] = true
		}
	}
}
