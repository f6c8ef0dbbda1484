package events_test

import (
	"context"
	"database/sql"
	"log"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/progressive-overload/po/services/kit/events"
)

// How a service wires the package: one publisher and relay for its outbox, one
// consumer for its subscriptions, all sharing the service's metrics registry.
func Example() {
	ctx := context.Background()
	db, err := sql.Open("mysql", "root@tcp(127.0.0.1:3306)/po_challenge?parseTime=true&loc=UTC")
	if err != nil {
		log.Fatal(err)
	}
	metrics := events.NewMetrics(prometheus.NewRegistry()) // the httpserver's Registry in a service
	amqpURL, exchange := "amqp://guest:guest@127.0.0.1:5672/", "po.events"

	pub, err := events.NewPublisher(events.PublisherOptions{URL: amqpURL, Exchange: exchange, Service: "challenge", Metrics: metrics})
	if err != nil {
		log.Fatal(err)
	}
	defer pub.Close()
	relay := events.NewRelay(db, pub, events.RelayOptions{})
	go func() { _ = relay.Run(ctx) }()

	// A command: the state change and its event commit together.
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		log.Fatal(err)
	}
	// ... INSERT INTO challenges ... through tx (or an ent Tx) ...
	evt, err := events.NewEvent("challenge", "challenge.created", map[string]any{"challengeId": 7, "userId": "42"})
	if err != nil {
		log.Fatal(err)
	}
	if err := events.Enqueue(ctx, tx, evt); err != nil {
		log.Fatal(err)
	}
	if err := tx.Commit(); err != nil {
		log.Fatal(err)
	}
	relay.Notify()

	consumer, err := events.NewConsumer(db, events.ConsumerOptions{URL: amqpURL, Exchange: exchange, Service: "challenge", Metrics: metrics})
	if err != nil {
		log.Fatal(err)
	}
	err = consumer.Subscribe("user-validation", []string{"user.validated", "user.rejected"},
		func(ctx context.Context, tx *sql.Tx, evt events.Event) error {
			var data struct {
				ChallengeID int64  `json:"challengeId"`
				UserID      string `json:"userId"`
			}
			if err := evt.DecodeData(&data); err != nil {
				return events.Permanent(err)
			}
			_, err := tx.ExecContext(ctx, "UPDATE challenges SET status = ? WHERE id = ?",
				map[string]string{"user.validated": "active", "user.rejected": "rejected"}[evt.Type], data.ChallengeID)
			return err
		})
	if err != nil {
		log.Fatal(err)
	}
	if err := consumer.Start(ctx); err != nil {
		log.Fatal(err)
	}
	defer consumer.Close()
}
