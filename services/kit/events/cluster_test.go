package events_test

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/progressive-overload/po/services/kit/events"
	"github.com/progressive-overload/po/services/kit/events/rabbitcluster"
)

// On a RabbitMQ cluster of three nodes, with AMQP_URL naming all three and
// no balancer in front, events are committed to the outbox at a steady pace
// while a node is stopped and restarted, twice: the one that leads the
// subscription's quorum queue, then the one the relay's publisher is on.
// Every committed event is applied exactly once: none lost, none applied
// twice.
func TestClusterNodeStopsUnderLoad(t *testing.T) {
	cl := rabbitcluster.Start(t)
	name := randomName()
	e := &env{
		tb: t, url: cl.URL(), exchange: name + ".events", service: name,
		metrics: events.NewMetrics(prometheus.NewRegistry()), logs: newLogRecorder(),
	}
	e.db = newDatabase(t)
	const sub = "orders"
	queue := e.service + "." + sub
	opts := e.consumerOptions(cl.URL())
	opts.Logger = slog.New(e.logs)
	e.startConsumer(opts, func(c *events.Consumer) {
		if err := c.Subscribe(sub, []string{"order.#"}, recordApplied(sub)); err != nil {
			t.Fatal(err)
		}
	})

	// Replicated on every node, with none named: the broker's default
	// initial group size is the whole cluster.
	nodes := make([]string, len(cl.Nodes))
	for i, n := range cl.Nodes {
		nodes[i] = n.Name
	}
	slices.Sort(nodes)
	for _, name := range []string{queue, queue + ".retry", queue + ".dlq"} {
		q := cl.Queue(t, name)
		members := slices.Sorted(slices.Values(q.Members))
		if q.Type != events.QueueQuorum || !slices.Equal(members, nodes) {
			t.Fatalf("%s: %s queue on %v, want a quorum queue on %v", name, q.Type, q.Members, nodes)
		}
	}
	leader := cl.Node(cl.Queue(t, queue).Leader)
	if leader == nil {
		t.Fatalf("%s has no leader among %v", queue, nodes)
	}

	pub := e.publisher(cl.URL())
	relay, _ := e.startRelay(pub, events.RelayOptions{})
	load := startLoad(e, relay)
	applied := func() int { return len(e.appliedCounts(sub)) }
	// Progress is measured in events applied, never in time.
	progress := func(what string) {
		t.Helper()
		from := applied()
		waitFor(t, func() bool { return applied() >= from+50 },
			func() string { return fmt.Sprintf("%s: applied %d, no progress from %d", what, applied(), from) })
	}
	progress("before the stop")

	// A node is away until its restart, and the rest goes on meanwhile.
	outage := func(n *rabbitcluster.Node, which string) {
		t.Helper()
		t.Logf("stopping %s (%s); clients on %s", n.Name, which, connectionNodes(t, cl, e.service))
		n.Stop(t)
		progress("while " + n.Name + " is stopped")
		q := cl.Queue(t, queue)
		if q.Leader == n.Name || cl.Node(q.Leader) == nil {
			t.Errorf("leader of %s while %s is stopped: %q", queue, n.Name, q.Leader)
		}
		t.Logf("%s led by %s on %v; clients on %s", queue, q.Leader, q.Online, connectionNodes(t, cl, e.service))
		n.Restart(t)
		waitFor(t, func() bool { return len(cl.Queue(t, queue).Online) == len(nodes) },
			func() string {
				return fmt.Sprintf("%s rejoined, yet %s is online on %v", n.Name, queue, cl.Queue(t, queue).Online)
			})
		progress("after " + n.Name + " restarted")
	}
	// The leader's node first: it is also the consumer's, which declared
	// the queue there. Then the publisher's, wherever it went.
	outage(leader, "the leader of "+queue)
	outage(clientNode(t, cl, e.service+" publisher"), "the publisher's")

	committed := load.stop()
	if len(committed) == 0 {
		t.Fatal("no event committed")
	}
	waitFor(t, func() bool { return applied() == len(committed) },
		func() string { return describeCounts(e.appliedCounts(sub), len(committed)) })
	waitFor(t, func() bool { return e.count("SELECT COUNT(*) FROM outbox_events WHERE published_at IS NULL") == 0 },
		func() string { return "outbox rows left unpublished" })

	got := e.appliedCounts(sub)
	twice := 0
	for _, id := range committed {
		switch n := got[id]; {
		case n == 0:
			t.Errorf("event %s committed, never applied", id)
		case n > 1:
			twice++
			t.Errorf("event %s applied %d times", id, n)
		}
	}
	if len(got) != len(committed) {
		t.Errorf("%d events applied, %d committed", len(got), len(committed))
	}
	if n := e.count("SELECT COUNT(*) FROM inbox_messages WHERE consumer = ?", queue); n != len(committed) {
		t.Errorf("inbox holds %d rows, want %d", n, len(committed))
	}
	published := int(testutil.ToFloat64(e.metrics.Published.WithLabelValues(e.service, "order.placed")))
	t.Logf("committed %d, published %d (confirmed; above committed: published again after a lost confirm), "+
		"applied %d, applied twice %d; deliveries: ok %d, duplicate (dropped by the inbox) %d, retried %d, dead %d; "+
		"commit errors during the run %d",
		len(committed), published, len(got), twice,
		e.consumed("order.placed", events.ResultOK), e.consumed("order.placed", events.ResultDuplicate),
		e.consumed("order.placed", events.ResultRetry), e.consumed("order.placed", events.ResultDead), load.errors())
	if published < len(committed) {
		t.Errorf("%d publishes confirmed for %d events", published, len(committed))
	}
}

// connectionNodes says which node each of the service's connections is on,
// for the log.
func connectionNodes(t *testing.T, cl *rabbitcluster.Cluster, service string) string {
	t.Helper()
	var out []string
	for _, c := range cl.Connections(t) {
		if name, ok := strings.CutPrefix(c.Name, service+" "); ok {
			out = append(out, name+" on "+c.Node)
		}
	}
	slices.Sort(out)
	return strings.Join(out, ", ")
}

// clientNode is the node the connection called name is on.
func clientNode(t *testing.T, cl *rabbitcluster.Cluster, name string) *rabbitcluster.Node {
	t.Helper()
	for _, c := range cl.Connections(t) {
		if c.Name == name {
			return cl.Node(c.Node)
		}
	}
	t.Fatalf("no connection %q", name)
	return nil
}

// load commits events to the outbox one transaction at a time, each with a
// business row, as fast as the database takes them, until stop.
type load struct {
	mu        sync.Mutex
	committed []string
	failed    int
	cancel    context.CancelFunc
	done      chan struct{}
}

func startLoad(e *env, relay *events.Relay) *load {
	ctx, cancel := context.WithCancel(context.Background())
	l := &load{cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(l.done)
		for i := 0; ctx.Err() == nil; i++ {
			evt, err := events.NewEvent(source, "order.placed", map[string]int{"n": i})
			if err == nil {
				// Not ctx: a commit cut short by stop would leave it unknown
				// whether the event was committed.
				err = commit(context.Background(), e, evt)
			}
			l.mu.Lock()
			if err != nil {
				l.failed++
			} else {
				l.committed = append(l.committed, evt.ID)
			}
			l.mu.Unlock()
			relay.Notify()
			// A steady stream rather than a flood: the point is what
			// happens to events in flight, not the throughput.
			select {
			case <-ctx.Done():
			case <-time.After(5 * time.Millisecond):
			}
		}
	}()
	e.tb.Cleanup(func() { l.stop() })
	return l
}

// stop ends the load and returns the ids of the events committed.
func (l *load) stop() []string {
	l.cancel()
	<-l.done
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.committed)
}

func (l *load) errors() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.failed
}

func commit(ctx context.Context, e *env, evt events.Event) error {
	tx, err := e.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer func() { _ = tx.Rollback() }()
	if _, err := tx.ExecContext(ctx, "INSERT INTO things (name) VALUES (?)", evt.ID); err != nil {
		return err
	}
	if err := events.Enqueue(ctx, tx, evt); err != nil {
		return err
	}
	return tx.Commit()
}
