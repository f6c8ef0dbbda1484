package service

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/progressive-overload/po/services/challenge/internal/app"
)

// groupMetrics are the group challenges' counters (docs/conventions.md):
// joins by result, and departures from a board by reason. Every label
// value is created at start, so a dashboard's rate() sees a zero rather
// than no series before the first event.
type groupMetrics struct {
	joins      *prometheus.CounterVec
	departures *prometheus.CounterVec
}

func newGroupMetrics(reg prometheus.Registerer) (*groupMetrics, error) {
	m := &groupMetrics{
		joins: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "challenge_group_joins_total",
			Help: "Joins of group challenges by result: accepted (a pending participation was made), invalid, unknown_code, closed, full, duplicate, error; then validated or rejected by the account service.",
		}, []string{"service", "result"}),
		departures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "challenge_group_departures_total",
			Help: "Participants taken off a group's board by reason: left, removed (by the owner or an admin), deleted (their account).",
		}, []string{"service", "reason"}),
	}
	for _, c := range []prometheus.Collector{m.joins, m.departures} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	for _, r := range []string{app.JoinAccepted, app.JoinInvalid, app.JoinUnknown, app.JoinClosed, app.JoinFull,
		app.JoinDuplicate, app.JoinError, app.JoinValidated, app.JoinRejected} {
		m.joins.WithLabelValues(Name, r)
	}
	for _, r := range []string{app.DepartureLeft, app.DepartureRemoved, app.DepartureDeleted} {
		m.departures.WithLabelValues(Name, r)
	}
	return m, nil
}

func (m *groupMetrics) join(result string)      { m.joins.WithLabelValues(Name, result).Inc() }
func (m *groupMetrics) departure(reason string) { m.departures.WithLabelValues(Name, reason).Inc() }
