package events

import (
	"errors"

	"github.com/prometheus/client_golang/prometheus"
)

// Consumed results (label result of events_consumed_total).
const (
	ResultOK        = "ok"
	ResultDuplicate = "duplicate"
	ResultRetry     = "retry"
	ResultDead      = "dead"
)

// Metrics holds the event metrics named in docs/conventions.md; dashboards
// depend on these exact names and labels. One value serves a whole process.
type Metrics struct {
	Published       *prometheus.CounterVec // events_published_total{service,type}
	Consumed        *prometheus.CounterVec // events_consumed_total{service,type,result}
	OutboxPending   *prometheus.GaugeVec   // outbox_pending{service}
	OutboxOldestAge *prometheus.GaugeVec   // outbox_oldest_age_seconds{service}
	Pruned          *prometheus.CounterVec // events_pruned_total{service,table}
}

// Tables the retention prunes delete from (label table of events_pruned_total).
const (
	TableOutbox = "outbox_events"
	TableInbox  = "inbox_messages"
)

// NewMetrics creates the collectors and registers them with reg (nil: not
// registered, nothing exported). Registering twice with one registry returns
// the collectors already there, so independent components may each call it.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		Published: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "events_published_total",
			Help: "Events confirmed by the broker, by type.",
		}, []string{"service", "type"}),
		Consumed: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "events_consumed_total",
			Help: "Deliveries settled by consumers, by type and result (ok, duplicate, retry, dead).",
		}, []string{"service", "type", "result"}),
		OutboxPending: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "outbox_pending",
			Help: "Outbox rows not yet published.",
		}, []string{"service"}),
		OutboxOldestAge: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "outbox_oldest_age_seconds",
			Help: "Age of the oldest unpublished outbox row (0 when none).",
		}, []string{"service"}),
		Pruned: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "events_pruned_total",
			Help: "Rows deleted by the retention prunes: published outbox rows and old inbox rows, by table.",
		}, []string{"service", "table"}),
	}
	if reg == nil {
		return m
	}
	m.Published = register(reg, m.Published)
	m.Consumed = register(reg, m.Consumed)
	m.OutboxPending = register(reg, m.OutboxPending)
	m.OutboxOldestAge = register(reg, m.OutboxOldestAge)
	m.Pruned = register(reg, m.Pruned)
	return m
}

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

func metricsOrNew(m *Metrics) *Metrics {
	if m == nil {
		return NewMetrics(nil)
	}
	return m
}
