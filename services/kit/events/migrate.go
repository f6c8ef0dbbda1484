package events

import (
	"context"
	"errors"
	"fmt"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
)

// A queue cannot change type: RabbitMQ refuses to declare an existing
// classic queue as a quorum one. An install that ran with classic queues
// keeps its queue names (the inbox, the runbooks and the operators know
// them), so the consumer replaces each classic queue in place, losing
// nothing, the first time it runs with quorum queues:
//
//  1. a classic holding queue <queue>.migrating is declared with the old
//     queue's arguments and bindings, so what is routed to the queue from now
//     on lands there too;
//  2. the old queue is unbound, and its messages moved to the holding queue;
//  3. it is deleted, but only if no consumer is attached and it is empty
//     (if-unused, if-empty): a replica of the previous release still
//     consuming it keeps it alive, and the consumer retries every
//     MigrationRetry until the last such replica has stopped;
//  4. the queue is declared again as a quorum queue, with its bindings;
//  5. the holding queue is unbound, its messages moved to the new queue, and
//     it is deleted (if-unused, if-empty again).
//
// Moving is a consumer that publishes each message to the target with
// publisher confirms and acks it only once confirmed: a crash in between
// leaves a copy in both, and the inbox applies it once. Because the movers
// are consumers, a queue is never deleted under a message one of them holds.
// A consumer that crashes anywhere in between resumes where it stopped: it
// finds the queue still classic (steps 1 to 3 again, idempotent) or the
// holding queue still there (step 5).
//
// The main queue is migrated first. Once it is a quorum queue, a replica of
// the previous release can no longer declare its topology, so it neither
// consumes nor publishes retries: nobody but this release touches the retry
// and dead-letter queues when their turn comes. Retries of this release are
// published with the mandatory flag, so one sent in the instant the retry
// queue does not exist comes back and is requeued instead of vanishing.
//
// Only classic to quorum is automated: quorum queues refuse if-unused and
// if-empty deletes, without which a replacement cannot be made safe. Going
// back to classic queues is the procedure in docs/operations.md.
func (c *Consumer) migrateQueue(s *session, legacy, target queueSpec) error {
	hold := queueSpec{name: holdingQueue(legacy.name), args: legacy.args, binds: legacy.binds}
	c.log.Warn("replacing a classic queue by a quorum queue", "queue", legacy.name, "holding_queue", hold.name)
	if err := declareQueue(s.conn, hold); err != nil {
		return err
	}
	if err := withChannel(s.conn, func(ch *amqp.Channel) error { return unbind(ch, legacy.name, legacy.binds) }); err != nil {
		return err
	}
	for {
		if err := c.moveAll(s, legacy.name, hold.name); err != nil {
			return err
		}
		err := deleteIfUnusedAndEmpty(s.conn, legacy.name)
		if err == nil {
			break
		}
		if !isCode(err, amqp.PreconditionFailed) {
			return err
		}
		c.log.Warn("classic queue still in use or not empty; retrying", "queue", legacy.name,
			"retry_in", c.opts.MigrationRetry, "error", err)
		if !c.wait(s, c.opts.MigrationRetry) {
			return errStopped
		}
	}
	if err := declareQueue(s.conn, target); err != nil {
		return err
	}
	return c.emptyHolding(s, hold, target.name)
}

// emptyHolding is step 5: the holding queue's messages go to queue, and it
// is deleted.
func (c *Consumer) emptyHolding(s *session, hold queueSpec, queue string) error {
	if err := withChannel(s.conn, func(ch *amqp.Channel) error { return unbind(ch, hold.name, hold.binds) }); err != nil {
		return err
	}
	for {
		if err := c.moveAll(s, hold.name, queue); err != nil {
			return err
		}
		err := deleteIfUnusedAndEmpty(s.conn, hold.name)
		if err == nil {
			c.log.Info("queue migrated", "queue", queue)
			return nil
		}
		if !isCode(err, amqp.PreconditionFailed) {
			return err
		}
		// Another replica moving the same messages.
		if !c.wait(s, c.opts.MigrationRetry) {
			return errStopped
		}
	}
}

var errStopped = errors.New("events: consumer closing or session lost")

// wait sleeps d unless the consumer closes or the session is lost first.
func (c *Consumer) wait(s *session, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-c.closing:
		return false
	case <-s.lost:
		return false
	}
}

func deleteIfUnusedAndEmpty(conn *amqp.Connection, queue string) error {
	return withChannel(conn, func(ch *amqp.Channel) error {
		_, err := ch.QueueDelete(queue, true, true, false)
		return err
	})
}

// moveAll moves messages from src to dst until src has none ready, each
// published (mandatory, confirmed) before it is acked.
func (c *Consumer) moveAll(s *session, src, dst string) error {
	ch, err := s.conn.Channel()
	if err != nil {
		return err
	}
	defer func() { _ = ch.Close() }()
	if err := ch.Qos(64, 0, false); err != nil {
		return err
	}
	const tag = "mover"
	deliveries, err := ch.Consume(src, tag, false, false, false, false, nil)
	if err != nil {
		return fmt.Errorf("events: consume %s to move it: %w", src, err)
	}
	moved := 0
	defer func() {
		if moved > 0 {
			c.log.Info("messages moved", "from", src, "to", dst, "messages", moved)
		}
	}()
	idle := time.NewTicker(200 * time.Millisecond)
	defer idle.Stop()
	cancelled := false
	for {
		select {
		case d, ok := <-deliveries:
			if !ok {
				if cancelled {
					return nil
				}
				return fmt.Errorf("events: moving %s: channel closed", src)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
			err := s.republish(ctx, dst, publishingOf(d, d.Headers))
			cancel()
			if err != nil {
				return fmt.Errorf("events: moving %s to %s: %w", src, dst, err)
			}
			if err := d.Ack(false); err != nil {
				return err
			}
			moved++
		case <-idle.C:
			if cancelled {
				continue
			}
			// None ready: the rest, if any, were delivered to us. Cancelling
			// lets the client hand those over and then close deliveries.
			q, err := ch.QueueDeclarePassive(src, true, false, false, false, nil)
			if err != nil {
				return err
			}
			if q.Messages == 0 {
				if err := ch.Cancel(tag, false); err != nil {
					return err
				}
				cancelled = true
			}
		case <-c.closing:
			return errStopped
		case <-s.lost:
			return errStopped
		}
	}
}
