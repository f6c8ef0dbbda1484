package events

// SetBeforeMark installs the relay's crash stand-in; call it before Run.
func SetBeforeMark(r *Relay, f func() error) { r.beforeMark = f }

// ConsumerQueues lists the queues c declares, so a test can delete them.
func ConsumerQueues(c *Consumer) []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var qs []string
	for _, s := range c.subs {
		for _, q := range []string{s.queue, retryQueue(s.queue), deadQueue(s.queue)} {
			qs = append(qs, q, holdingQueue(q))
		}
	}
	return qs
}

// Exchanges lists the exchanges declared for exchange, so a test can delete them.
func Exchanges(exchange string) []string { return []string{exchange, dlxName(exchange)} }
