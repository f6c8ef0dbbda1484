package chaos

import (
	"sync"

	"github.com/progressive-overload/po/hack/bench"
)

// Counters sums Prometheus counters over every process a replica has been:
// a restarted replica starts again from zero, so each incarnation keeps the
// last value scraped from it and the total is their sum. A process killed
// with -9 loses what it counted after its last scrape; the scrape period
// bounds that.
type Counters struct {
	mu   sync.Mutex
	last map[string]map[string]float64 // incarnation -> series key -> value
}

// NewCounters returns an empty set.
func NewCounters() *Counters { return &Counters{last: map[string]map[string]float64{}} }

// Observe records a scrape of one incarnation (e.g. "challenge-1#3").
func (c *Counters) Observe(incarnation string, values map[string]float64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	cur := c.last[incarnation]
	if cur == nil {
		cur = map[string]float64{}
		c.last[incarnation] = cur
	}
	for k, v := range values {
		// Counters only grow within a process; a smaller value would be a
		// scrape out of order, never newer.
		if v >= cur[k] {
			cur[k] = v
		}
	}
}

// Total is the sum of key over every incarnation.
func (c *Counters) Total(key string) float64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	var t float64
	for _, m := range c.last {
		t += m[key]
	}
	return t
}

// ConsumedKey names the events_consumed_total series of an event type and result.
func ConsumedKey(typ, result string) string { return "consumed/" + typ + "/" + result }

// PublishedKey names the events_published_total series of an event type.
func PublishedKey(typ string) string { return "published/" + typ }

// EventCounters picks the event counters out of a /metrics page.
func EventCounters(text string) map[string]float64 {
	out := map[string]float64{}
	for _, s := range bench.ParsePromText(text) {
		switch s.Name {
		case "events_consumed_total":
			out[ConsumedKey(s.Labels["type"], s.Labels["result"])] += s.Value
		case "events_published_total":
			out[PublishedKey(s.Labels["type"])] += s.Value
		}
	}
	return out
}
