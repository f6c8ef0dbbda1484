package rabbitcluster_test

import (
	"errors"
	"slices"
	"syscall"
	"testing"

	amqp "github.com/rabbitmq/amqp091-go"
	"go.uber.org/goleak"

	"github.com/progressive-overload/po/services/kit/events/rabbitcluster"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// Three nodes form one cluster: a quorum queue declared through one node
// has a replica on each, and every node serves AMQP. When the test ends,
// no node's process is left.
func TestClusterOfThree(t *testing.T) {
	var pids []int
	t.Run("cluster", func(t *testing.T) {
		c := rabbitcluster.Start(t)
		for _, n := range c.Nodes {
			pids = append(pids, n.Pid())
			conn, err := amqp.Dial(n.URL())
			if err != nil {
				t.Fatalf("%s: %v", n.Name, err)
			}
			_ = conn.Close()
		}
		conn, err := amqp.Dial(c.Nodes[1].URL())
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		ch, err := conn.Channel()
		if err != nil {
			t.Fatal(err)
		}
		if _, err := ch.QueueDeclare("q", true, false, false, false, amqp.Table{"x-queue-type": "quorum"}); err != nil {
			t.Fatal(err)
		}
		q := c.Queue(t, "q")
		var names []string
		for _, n := range c.Nodes {
			names = append(names, n.Name)
		}
		slices.Sort(names)
		slices.Sort(q.Members)
		if q.Type != "quorum" || !slices.Equal(q.Members, names) || len(q.Online) != len(names) || c.Node(q.Leader) == nil {
			t.Errorf("queue %+v, want a quorum queue on %v", q, names)
		}
	})
	if len(pids) != rabbitcluster.Size {
		t.Fatalf("pids %v", pids)
	}
	for _, pid := range pids {
		if err := syscall.Kill(pid, 0); !errors.Is(err, syscall.ESRCH) {
			t.Errorf("node process %d still exists after the test (%v)", pid, err)
		}
	}
}
