package events

import amqp "github.com/rabbitmq/amqp091-go"

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

// QueueArgs are the arguments the consumer declares queue (a subscription's
// main queue) and its retry and dead-letter queues with, by name.
func QueueArgs(typ, exchange, queue string, keys []string, deliveryLimit int) map[string]amqp.Table {
	m := map[string]amqp.Table{}
	for _, q := range subscriptionQueues(typ, exchange, queue, keys, deliveryLimit) {
		m[q.name] = q.args
	}
	return m
}

// HoldingQueue is where queue's messages wait while it changes type.
func HoldingQueue(queue string) string { return holdingQueue(queue) }
