package platform_test

import (
	"strings"
	"testing"

	"github.com/progressive-overload/po/services/kit/config"
	"github.com/progressive-overload/po/services/kit/platform"
)

// AMQP_URL names one broker or every node of a cluster (kit/events tries
// them in turn); each item is checked at start.
func TestAMQPURLForms(t *testing.T) {
	for in, want := range map[string]string{
		"amqp://po:pw@rabbitmq:5672/":   "amqp://po:pw@rabbitmq:5672/",
		"amqps://po:pw@mq.example/prod": "amqps://po:pw@mq.example/prod",
		"amqp://po:pw@rmq-0:5672/v, amqp://po:pw@rmq-1:5672/v,amqp://po:pw@rmq-2:5672/v": "amqp://po:pw@rmq-0:5672/v,amqp://po:pw@rmq-1:5672/v,amqp://po:pw@rmq-2:5672/v",
	} {
		env := config.FromMap(map[string]string{"AMQP_URL": in})
		if c := platform.Load(env, platform.Defaults{}); c.AMQPURL != want || env.Err() != nil {
			t.Errorf("%s: got %q, %v", in, c.AMQPURL, env.Err())
		}
	}
	for _, u := range []string{"http://rabbitmq:15672", "amqp://a:5672/,redis://b:6379", "rabbitmq:5672", ","} {
		env := config.FromMap(map[string]string{"AMQP_URL": u})
		platform.Load(env, platform.Defaults{})
		if err := env.Err(); err == nil || !strings.Contains(err.Error(), "AMQP_URL") {
			t.Errorf("%s: accepted (%v)", u, err)
		}
	}
}
