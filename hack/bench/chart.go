package bench

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"time"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
)

func ms(d time.Duration) float64 {
	// Log axes cannot show 0; a microsecond is far below anything measured.
	return math.Max(float64(d)/float64(time.Millisecond), 0.001)
}

// LatencyChart writes a PNG of latency percentiles (log scale) for every
// result of the phases, one line per variant.
func LatencyChart(path string, phases []Phase) error {
	p := plot.New()
	p.Title.Text = "Latency percentiles per variant (open loop)"
	p.Y.Label.Text = "latency (ms, log scale)"
	p.Y.Scale = plot.LogScale{}
	p.Y.Tick.Marker = LogTicks{}
	names := []string{"p50", "p90", "p95", "p99", "p99.9", "max"}
	var ticks []plot.Tick
	for i, n := range names {
		ticks = append(ticks, plot.Tick{Value: float64(i), Label: n})
	}
	p.X.Tick.Marker = plot.ConstantTicks(ticks)
	p.X.Min, p.X.Max = -0.3, float64(len(names))-0.7
	var lines []any
	for _, ph := range phases {
		for _, r := range ph.Results {
			s := r.Summary
			if s.Requests == 0 {
				continue
			}
			pts := make(plotter.XYs, len(names))
			for i, d := range []time.Duration{s.P50, s.P90, s.P95, s.P99, s.P999, s.Max} {
				pts[i] = plotter.XY{X: float64(i), Y: ms(d)}
			}
			label := r.Variant
			if len(phases) > 1 {
				label = fmt.Sprintf("%s (%s)", r.Variant, shortTitle(ph.Title))
			}
			lines = append(lines, label, pts)
		}
	}
	if len(lines) == 0 {
		return fmt.Errorf("latency chart: no results")
	}
	if err := plotutil.AddLinePoints(p, lines...); err != nil {
		return err
	}
	p.Legend.Top = true
	p.Legend.Left = true
	p.Y.Max *= 10 // headroom for the legend
	return p.Save(22*vg.Centimeter, 14*vg.Centimeter, path)
}

func shortTitle(t string) string {
	if len(t) > 24 {
		return t[:24] + "…"
	}
	return t
}

// ThroughputChart writes a PNG of answered requests per second against p99
// for every step of the closed-loop searches (log-log), with the bound.
func ThroughputChart(path string, searches []Search) error {
	p := plot.New()
	p.Title.Text = "Throughput vs p99 (closed-loop search steps)"
	p.X.Label.Text = "answered requests per second (log scale)"
	p.Y.Label.Text = "p99 latency (ms, log scale)"
	p.X.Scale, p.Y.Scale = plot.LogScale{}, plot.LogScale{}
	p.X.Tick.Marker = LogTicks{}
	p.Y.Tick.Marker = LogTicks{}
	var lines []any
	minX, maxX := math.Inf(1), 0.0
	var bound time.Duration
	for _, s := range searches {
		bound = s.Bound
		steps := slices.Clone(s.Steps)
		slices.SortFunc(steps, func(a, b SearchStep) int { return a.Summary.Conns - b.Summary.Conns })
		var pts plotter.XYs
		for _, st := range steps {
			x := st.Summary.Throughput()
			if x <= 0 {
				continue
			}
			pts = append(pts, plotter.XY{X: x, Y: ms(st.Summary.P99)})
			minX, maxX = math.Min(minX, x), math.Max(maxX, x)
		}
		if len(pts) > 0 {
			lines = append(lines, s.Variant, pts)
		}
	}
	if len(lines) == 0 {
		return fmt.Errorf("throughput chart: no steps")
	}
	if err := plotutil.AddLinePoints(p, lines...); err != nil {
		return err
	}
	if bound > 0 {
		bl, err := plotter.NewLine(plotter.XYs{{X: minX, Y: ms(bound)}, {X: maxX, Y: ms(bound)}})
		if err != nil {
			return err
		}
		bl.Dashes = []vg.Length{vg.Points(4), vg.Points(3)}
		p.Add(bl)
		p.Legend.Add("p99 bound "+FormatDuration(bound), bl)
	}
	p.Legend.Top = true
	p.Legend.Left = true
	p.Y.Max *= 10 // headroom for the legend
	return p.Save(22*vg.Centimeter, 14*vg.Centimeter, path)
}

// LogTicks labels 1, 2 and 5 times each power of ten within the axis, with
// unlabelled minor ticks at the other integers times it (a plot.Ticker for a
// log axis; hack/chaos uses it too).
type LogTicks struct{}

// Ticks returns the ticks between lo and hi.
func (LogTicks) Ticks(lo, hi float64) []plot.Tick {
	if lo <= 0 || hi <= lo {
		return nil
	}
	var ticks []plot.Tick
	for e := math.Floor(math.Log10(lo)); e <= math.Ceil(math.Log10(hi)); e++ {
		base := math.Pow(10, e)
		for m := 1.0; m < 10; m++ {
			v := m * base
			if v < lo*(1-1e-9) || v > hi*(1+1e-9) {
				continue
			}
			t := plot.Tick{Value: v}
			if m == 1 || m == 2 || m == 5 {
				t.Label = FormatTick(v)
			}
			ticks = append(ticks, t)
		}
	}
	return ticks
}

// FormatTick prints an axis value: 0.01, 0.5, 20, 5,000.
func FormatTick(v float64) string {
	if v >= 1 {
		return FormatInt(int64(math.Round(v)))
	}
	return strconvFloat(v)
}

func strconvFloat(v float64) string { return strconv.FormatFloat(v, 'f', -1, 64) }
