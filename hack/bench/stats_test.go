package bench

import (
	"testing"
	"time"
)

func ms_(n float64) time.Duration { return time.Duration(n * float64(time.Millisecond)) }

func TestPercentileNearestRank(t *testing.T) {
	var lat []time.Duration
	for i := 1; i <= 100; i++ {
		lat = append(lat, time.Duration(i)*time.Millisecond)
	}
	cases := []struct {
		p    float64
		want time.Duration
	}{
		{50, 50 * time.Millisecond}, {95, 95 * time.Millisecond}, {99, 99 * time.Millisecond},
		{99.9, 100 * time.Millisecond}, {100, 100 * time.Millisecond}, {0, 1 * time.Millisecond}, {1, 1 * time.Millisecond},
	}
	for _, c := range cases {
		if got := Percentile(lat, c.p); got != c.want {
			t.Errorf("p%v = %v, want %v", c.p, got, c.want)
		}
	}
	if got := Percentile(nil, 99); got != 0 {
		t.Errorf("empty: %v", got)
	}
	one := []time.Duration{7}
	for _, p := range []float64{1, 50, 99, 100} {
		if got := Percentile(one, p); got != 7 {
			t.Errorf("single p%v = %v", p, got)
		}
	}
	// Small samples: the p99 of 10 values is the largest; the p50 the 5th.
	ten := []time.Duration{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}
	if Percentile(ten, 99) != 10 || Percentile(ten, 50) != 5 || Percentile(ten, 90) != 9 {
		t.Errorf("ten: p50 %v p90 %v p99 %v", Percentile(ten, 50), Percentile(ten, 90), Percentile(ten, 99))
	}
}

func TestSummarizeSortsAndAverages(t *testing.T) {
	lat := []time.Duration{ms_(4), ms_(1), ms_(3), ms_(2)}
	s := Summarize(lat)
	if s.Requests != 4 || s.Mean != ms_(2.5) || s.P50 != ms_(2) || s.Max != ms_(4) || s.P99 != ms_(4) {
		t.Fatalf("%+v", s)
	}
	if z := Summarize(nil); z.Requests != 0 || z.Max != 0 {
		t.Fatalf("empty: %+v", z)
	}
}

func TestRecorder(t *testing.T) {
	r := NewRecorder(4)
	t0 := time.Unix(1000, 0)
	r.Add(t0, ms_(2), 200, "")
	r.Add(t0.Add(ms_(1)), ms_(9), 500, "500 Internal Server Error")
	r.Add(t0.Add(ms_(2)), ms_(1), 0, "connection refused")
	r.Add(t0.Add(ms_(3)), ms_(1), 204, "")
	s := r.Summary(3000)
	if s.Requests != 4 || s.OK != 2 || s.SuccessPct() != 50 || s.Rate != 3000 {
		t.Fatalf("%+v", s)
	}
	if s.Wall != ms_(10) { // first start at t0, last end at t0+1ms+9ms
		t.Fatalf("wall %v", s.Wall)
	}
	if s.Codes[0] != 1 || s.Codes[500] != 1 || s.Errors["connection refused"] != 1 {
		t.Fatalf("codes %v errors %v", s.Codes, s.Errors)
	}
	if got := s.Throughput(); got != 200 {
		t.Fatalf("throughput %v", got)
	}
}

func TestRecorderBoundsErrorKinds(t *testing.T) {
	r := NewRecorder(0)
	for i := 0; i < 3*maxErrorKinds; i++ {
		r.Add(time.Unix(0, 0), 1, 0, string(rune('a'+i)))
	}
	if n := len(r.Summary(0).Errors); n != maxErrorKinds {
		t.Fatalf("%d error kinds kept", n)
	}
}

func TestNormalizeError(t *testing.T) {
	for in, want := range map[string]string{
		`Get "http://127.0.0.1:3101/challenges/logs/1449": context deadline exceeded (Client.Timeout exceeded while awaiting headers)`: "context deadline exceeded (Client.Timeout exceeded while awaiting headers)",
		`Post "http://127.0.0.1:3101/challenges/3/logs": EOF`:                                                                          "EOF",
		"503 Service Unavailable": "503 Service Unavailable",
	} {
		if got := NormalizeError(in); got != want {
			t.Errorf("NormalizeError(%q) = %q", in, got)
		}
	}
	r := NewRecorder(0)
	r.Add(time.Unix(0, 0), 1, 0, `Get "http://x/logs/1": EOF`)
	r.Add(time.Unix(0, 0), 1, 0, `Get "http://x/logs/2": EOF`)
	if e := r.Summary(0).Errors; len(e) != 1 || e["EOF"] != 2 {
		t.Fatalf("%v", e)
	}
}
