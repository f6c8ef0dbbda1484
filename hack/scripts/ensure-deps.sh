#!/usr/bin/env bash
# Makes sure MariaDB/MySQL, Redis and RabbitMQ answer on the addresses the services
# use. A dependency that is installed but stopped is started; one that cannot be
# reached is named together with where we looked and how to start it.
set -uo pipefail

MYSQL_ADDR=${MYSQL_ADDR:-127.0.0.1:3306}
REDIS_ADDR=${REDIS_ADDR:-127.0.0.1:6379}
AMQP_ADDR=${AMQP_ADDR:-127.0.0.1:5672}

reachable() { # host:port
  local host=${1%:*} port=${1##*:}
  (exec 3<>"/dev/tcp/${host}/${port}") 2>/dev/null
}

wait_for() { # name addr seconds
  local i
  for ((i = 0; i < $3 * 4; i++)); do
    reachable "$2" && return 0
    sleep 0.25
  done
  return 1
}

start_mysql() {
  if command -v mariadbd >/dev/null || [ -x /usr/sbin/mariadbd ]; then
    start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd >/dev/null 2>&1
  elif [ -x /usr/sbin/mysqld ]; then
    start-stop-daemon --start --oknodo --background --exec /usr/sbin/mysqld >/dev/null 2>&1
  else
    return 1
  fi
}
start_redis() {
  command -v redis-server >/dev/null || return 1
  redis-server --daemonize yes --bind 127.0.0.1 --port "${REDIS_ADDR##*:}" --save "" --appendonly no >/dev/null
}
start_rabbitmq() {
  command -v rabbitmq-server >/dev/null || return 1
  rabbitmq-server -detached >/dev/null 2>&1
}

failed=0
check() { # name addr starter timeout hint
  local name=$1 addr=$2 starter=$3 timeout=$4 hint=$5
  if reachable "$addr"; then
    return 0
  fi
  echo "ensure-deps: ${name} is not answering on ${addr}; trying to start it" >&2
  if $starter && wait_for "$name" "$addr" "$timeout"; then
    echo "ensure-deps: ${name} started on ${addr}" >&2
    return 0
  fi
  echo "ensure-deps: ERROR: ${name} is unreachable at ${addr}." >&2
  echo "             Start it with: ${hint}" >&2
  failed=1
}

check "MariaDB/MySQL" "$MYSQL_ADDR" start_mysql 30 \
  "start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd  (or set MYSQL_ADDR)"
check "Redis" "$REDIS_ADDR" start_redis 15 \
  "redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save \"\" --appendonly no  (or set REDIS_ADDR)"
check "RabbitMQ" "$AMQP_ADDR" start_rabbitmq 90 \
  "rabbitmq-server -detached  (or set AMQP_ADDR)"
exit $failed
