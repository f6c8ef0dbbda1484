package events

import (
	"fmt"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
)

// RetriesHeader counts how many times a message has already failed in a
// handler. It is our own header rather than x-death because brokers differ in
// how they treat x-death on republished messages.
const RetriesHeader = "po-retries"

func dlxName(exchange string) string { return exchange + ".dlx" }
func retryQueue(queue string) string { return queue + ".retry" }
func deadQueue(queue string) string  { return queue + ".dlq" }

// dial connects with a bounded handshake so an unreachable broker fails fast
// and the caller's reconnect loop stays in charge of pacing.
func dial(url, name string) (*amqp.Connection, error) {
	props := amqp.NewConnectionProperties()
	props.SetClientConnectionName(name)
	return amqp.DialConfig(url, amqp.Config{
		Heartbeat:  10 * time.Second,
		Properties: props,
		Dial:       amqp.DefaultDial(10 * time.Second),
	})
}

func declareExchange(ch *amqp.Channel, exchange string) error {
	if err := ch.ExchangeDeclare(exchange, amqp.ExchangeTopic, true, false, false, false, nil); err != nil {
		return fmt.Errorf("events: declare exchange %s: %w", exchange, err)
	}
	return nil
}

// declareConsumerTopology declares everything a subscription needs. Every
// declaration is idempotent as long as the arguments never change; changing
// them would make RabbitMQ refuse the declaration (PRECONDITION_FAILED).
// Bindings for routing keys a subscription no longer lists are not removed.
func declareConsumerTopology(ch *amqp.Channel, exchange, queue string, keys []string) error {
	dlx := dlxName(exchange)
	if err := declareExchange(ch, exchange); err != nil {
		return err
	}
	if err := ch.ExchangeDeclare(dlx, amqp.ExchangeDirect, true, false, false, false, nil); err != nil {
		return fmt.Errorf("events: declare exchange %s: %w", dlx, err)
	}
	queues := []struct {
		name string
		args amqp.Table
	}{
		{queue, amqp.Table{"x-dead-letter-exchange": dlx, "x-dead-letter-routing-key": deadQueue(queue)}},
		{retryQueue(queue), amqp.Table{"x-dead-letter-exchange": dlx, "x-dead-letter-routing-key": queue}},
		{deadQueue(queue), nil},
	}
	for _, q := range queues {
		if _, err := ch.QueueDeclare(q.name, true, false, false, false, q.args); err != nil {
			return fmt.Errorf("events: declare queue %s: %w", q.name, err)
		}
	}
	binds := []struct{ queue, key, exchange string }{
		{queue, queue, dlx},
		{deadQueue(queue), deadQueue(queue), dlx},
	}
	for _, k := range keys {
		binds = append(binds, struct{ queue, key, exchange string }{queue, k, exchange})
	}
	for _, b := range binds {
		if err := ch.QueueBind(b.queue, b.key, b.exchange, false, nil); err != nil {
			return fmt.Errorf("events: bind %s to %s (%s): %w", b.queue, b.exchange, b.key, err)
		}
	}
	return nil
}
