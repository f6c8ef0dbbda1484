// Package e2e runs the real account and challenge binaries against the real
// MariaDB/MySQL, Redis and RabbitMQ and checks the event flow between them
// end to end (issue 4): validation, suspension, deletion, a broker outage
// and duplicate deliveries.
//
// Everything lives in the tests; each test gets databases t_<random>, a Redis
// key prefix t:<random>:, a RabbitMQ vhost of its own, and TCP proxies
// between each service and the broker that a test can cut and restore.
//
//	cd hack && go test -race ./e2e/...
//
// Servers: MYSQL_TEST_DSN (default root@tcp(127.0.0.1:3306)/), REDIS_ADDR
// (127.0.0.1:6379), AMQP_ADDR (127.0.0.1:5672, user guest/guest). Vhosts are
// created with rabbitmqctl when it is on PATH, else through the management API
// (RABBITMQ_MANAGEMENT_URL, default http://guest:guest@127.0.0.1:15672).
package e2e
