package ranking

import (
	"context"
	"errors"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"

	"github.com/progressive-overload/po/services/kit/tracing"
)

const (
	opUpsert = iota
	opRemove
	opDrop
	nOps
)

const (
	resultOK = iota
	resultDeferred
	nResults
)

var (
	opNames     = [nOps]string{"upsert", "remove", "drop"}
	resultNames = [nResults]string{"ok", "deferred"}
	readSources = []Source{SourceRedis, SourceRebuild, SourceFallback, sourceRefused}
)

// metrics are one Store's series, resolved once: the read path only adds.
type metrics struct {
	reads    map[Source]prometheus.Counter
	duration map[Source]prometheus.Observer

	rebuildWritten, rebuildRaced, rebuildFailed prometheus.Counter

	updates           [nOps][nResults]prometheus.Counter
	fallbacksInFlight prometheus.Gauge

	traceKey attribute.Key // ranking.<name>.source, on the reader's span
}

func newMetrics(reg prometheus.Registerer, name string) metrics {
	reads := register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "ranking_reads_total",
		Help: "Leaderboard reads (pages and ranks) by the source that answered: redis, rebuild (the board was missing and was loaded), fallback (computed from the source: Redis failed, was skipped, or holds a board this process could not update), refused (ErrOverloaded: too many fallbacks at once).",
	}, []string{"name", "source"}))
	duration := register(reg, prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "ranking_read_duration_seconds",
		Help:    "Leaderboard read latency by the source that answered (redis, rebuild, fallback).",
		Buckets: []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5},
	}, []string{"name", "source"}))
	rebuilds := register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "ranking_rebuilds_total",
		Help: "Rebuilds of a missing board from the source by result: written, raced (updates kept moving the version; answered without writing), failed (the load or the write failed).",
	}, []string{"name", "result"}))
	updates := register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "ranking_updates_total",
		Help: "Board updates after a commit by op (upsert, remove, drop) and result: ok, deferred (Redis failed; the board is dropped in the background and read from the source here until then).",
	}, []string{"name", "op", "result"}))
	inFlight := register(reg, prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "ranking_fallbacks_in_flight",
		Help: "Boards being computed from the source (running or queued) because Redis is unavailable or untrusted; at most MaxFallbacks.",
	}, []string{"name"}))

	m := metrics{
		reads:             make(map[Source]prometheus.Counter, len(readSources)),
		duration:          make(map[Source]prometheus.Observer, len(readSources)),
		rebuildWritten:    rebuilds.WithLabelValues(name, "written"),
		rebuildRaced:      rebuilds.WithLabelValues(name, "raced"),
		rebuildFailed:     rebuilds.WithLabelValues(name, "failed"),
		fallbacksInFlight: inFlight.WithLabelValues(name),
		traceKey:          attribute.Key("ranking." + name + ".source"),
	}
	for _, src := range readSources {
		m.reads[src] = reads.WithLabelValues(name, string(src))
		if src != sourceRefused {
			m.duration[src] = duration.WithLabelValues(name, string(src))
		}
	}
	for op := range nOps {
		for res := range nResults {
			m.updates[op][res] = updates.WithLabelValues(name, opNames[op], resultNames[res])
		}
	}
	return m
}

// read counts one read by the source that answered it, or tried to; the
// latency of refused reads (no work done) is not observed.
func (m *metrics) read(ctx context.Context, src Source, err error, start time.Time) {
	m.reads[src].Inc()
	if obs := m.duration[src]; obs != nil && !errors.Is(err, ErrOverloaded) {
		obs.Observe(time.Since(start).Seconds())
	}
	if tracing.Enabled() {
		if span := trace.SpanFromContext(ctx); span.IsRecording() {
			span.SetAttributes(m.traceKey.String(string(src)))
		}
	}
}

// register registers c, or returns the collector already registered under its
// name: several stores may share one registry.
func register[C prometheus.Collector](reg prometheus.Registerer, c C) C {
	if err := reg.Register(c); err != nil {
		var are prometheus.AlreadyRegisteredError
		if errors.As(err, &are) {
			if existing, ok := are.ExistingCollector.(C); ok {
				return existing
			}
		}
		panic(err)
	}
	return c
}
