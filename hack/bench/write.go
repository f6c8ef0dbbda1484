package bench

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
)

// DocHeader starts docs/benchmarks.md when it does not exist yet.
const DocHeader = `# Benchmarks

The original system's headline result was a load test of its Redis cache
(Artillery, 3,000 requests/s for 20 s on ` + "`GET /challenges/logs/{userId}`" + `, on an
8-core desktop):

| | no cache | cache |
|---|---:|---:|
| mean | 2,773 ms | 940 ms |
| p50 | 3,262 ms | 983 ms |
| p95 | 6,440 ms | 1,979 ms |
| max | 9,944 ms | 3,124 ms |
| requests | 6,433 | 9,182 |
| hit ratio | – | 40% |

` + "`make bench`" + ` reproduces that experiment on this system (hack/bench) and adds the
ceilings, a mixed read/write phase, two replicas sharing the cache, interleaved
pairs (A, B, A, B …) of the hot read against the fixed-body ceiling and of
` + "`?limit=10`" + ` against the default page, and a closed-loop search for each variant's
highest throughput under a p99 bound. The fixed-rate phases use vegeta in the
tool's process; the pairs and the search use wrk, a separate C process much
cheaper per request than the server, and report its CPU beside each figure.
` + "`make bench-quick`" + ` is a smoke run of a few seconds per phase. Everything below the
marker is rewritten by each run.
`

// WriteReport writes the charts into imgDir and the report into doc,
// replacing only the generated part of an existing doc.
func WriteReport(rep Report, doc, imgDir string) error {
	if err := os.MkdirAll(imgDir, 0o755); err != nil {
		return err
	}
	rel := func(p string) string {
		r, err := filepath.Rel(filepath.Dir(doc), p)
		if err != nil {
			return p
		}
		return filepath.ToSlash(r)
	}
	rep.Charts = nil
	var errs []error
	if len(rep.Phases) > 0 {
		p := filepath.Join(imgDir, "bench-latency.png")
		if err := LatencyChart(p, rep.Phases); err != nil {
			errs = append(errs, err)
		} else {
			rep.Charts = append(rep.Charts, Chart{Title: "Latency percentiles per variant", Path: rel(p)})
		}
	}
	if len(rep.Searches) > 0 {
		p := filepath.Join(imgDir, "bench-throughput-p99.png")
		if err := ThroughputChart(p, rep.Searches); err != nil {
			errs = append(errs, err)
		} else {
			rep.Charts = append(rep.Charts, Chart{Title: "Throughput vs p99", Path: rel(p)})
		}
	}
	old, err := os.ReadFile(doc)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	merged := MergeMarkdown(string(old), DocHeader, rep.Markdown())
	if err := os.WriteFile(doc, []byte(merged), 0o644); err != nil {
		return err
	}
	return errors.Join(errs...)
}
