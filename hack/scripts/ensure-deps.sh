#!/usr/bin/env bash
# Makes sure MariaDB/MySQL, Redis and RabbitMQ answer on the addresses the services
# use (`make run`, `make test`). For each one, in this order:
#   1. it answers: it is left alone (whatever runs it);
#   2. it is installed but stopped: it is started;
#   3. a Docker engine answers: it runs as a container from the official image,
#      named $PO_DEV_CONTAINER_PREFIX-<name> (po-dev-mariadb, po-dev-redis,
#      po-dev-rabbitmq), created once and started again after that, its ports
#      published on 127.0.0.1 only; `make clean` removes these containers;
#   4. this is root on Debian or Ubuntu: the distribution's package is installed
#      (mariadb-server, redis-server, rabbitmq-server) and started;
#   5. otherwise it is named with where we looked and what to do, and we exit 1.
#
#   ensure-deps.sh          the three dependencies (make run, make gen, ...)
#   ensure-deps.sh --test   also the programs `make test` runs itself: Debian's
#                           redis-server and rabbitmq-server (the Redis Cluster and
#                           RabbitMQ cluster tests start their own nodes)
#   ensure-deps.sh clean    remove the containers step 3 created (make clean)
#
# Addresses: MYSQL_ADDR, REDIS_ADDR, AMQP_ADDR (default 127.0.0.1:3306, :6379,
# :5672). Images: PO_DEV_MYSQL_IMAGE, PO_DEV_REDIS_IMAGE, PO_DEV_RABBITMQ_IMAGE;
# PO_DEV_RABBITMQ_MANAGEMENT_PORT is where the broker's management API (which the
# tests create their vhosts through when rabbitmqctl cannot reach it) is published.
# PO_DEV_DEPS=docker skips steps 2 and 4: containers only (default: auto).
set -uo pipefail

MYSQL_ADDR=${MYSQL_ADDR:-127.0.0.1:3306}
REDIS_ADDR=${REDIS_ADDR:-127.0.0.1:6379}
AMQP_ADDR=${AMQP_ADDR:-127.0.0.1:5672}
PREFIX=${PO_DEV_CONTAINER_PREFIX:-po-dev}
MYSQL_IMAGE=${PO_DEV_MYSQL_IMAGE:-mariadb:10.11}
REDIS_IMAGE=${PO_DEV_REDIS_IMAGE:-redis:7.4}
RABBITMQ_IMAGE=${PO_DEV_RABBITMQ_IMAGE:-rabbitmq:3.13-management}
RABBITMQ_MANAGEMENT_PORT=${PO_DEV_RABBITMQ_MANAGEMENT_PORT:-15672}
RABBITMQ_SCRIPTS_DIR=${RABBITMQ_SCRIPTS_DIR:-/usr/lib/rabbitmq/bin}
MODE=${PO_DEV_DEPS:-auto}
case $MODE in auto | docker) ;; *) echo "ensure-deps: PO_DEV_DEPS=$MODE: auto or docker" >&2; exit 2 ;; esac
# Every container created here carries this label (value: the prefix); `clean`
# removes exactly those.
LABEL=org.progressive-overload.dev-dependency

say() { echo "ensure-deps: $*" >&2; }

# Debian's engine comes with a matching /usr/bin/docker (hack/dockerengine).
docker_cli() { if [ -x /usr/bin/docker ]; then echo /usr/bin/docker; else echo docker; fi; }
DOCKER=$(docker_cli)

docker_state=unknown
docker_works() {
  if [ "$docker_state" = unknown ]; then
    docker_state=no
    if command -v "$DOCKER" >/dev/null 2>&1 &&
      timeout 15 "$DOCKER" version --format '{{.Server.Version}}' >/dev/null 2>&1; then
      docker_state=yes
    fi
  fi
  [ "$docker_state" = yes ]
}

if [ "${1:-}" = clean ]; then
  docker_works || exit 0
  ids=$("$DOCKER" ps -a -q --filter "label=$LABEL=$PREFIX")
  if [ -n "$ids" ]; then
    # -v: the images' anonymous data volumes go with them.
    "$DOCKER" rm -f -v $ids >/dev/null && say "removed the dev containers $PREFIX-*"
  fi
  exit 0
fi
want_test_programs=no
[ "${1:-}" = --test ] && want_test_programs=yes

reachable() { # host:port
  local host=${1%:*} port=${1##*:}
  (exec 3<>"/dev/tcp/${host}/${port}") 2>/dev/null
}

# answers NAME ADDR: the server speaks its protocol (a published container port
# accepts connections before the server in it listens): MySQL's greeting,
# Redis' PONG, AMQP's connection.start; for the RabbitMQ container also its
# management API.
answers() {
  local host=${2%:*} port=${2##*:} out
  case $1 in
    mysql) out=$(timeout 3 bash -c 'exec 3<>"/dev/tcp/$0/$1" && head -c 4 <&3 | od -An -c' "$host" "$port" 2>/dev/null) ;;
    redis) out=$(timeout 3 bash -c 'exec 3<>"/dev/tcp/$0/$1" && printf "PING\r\n" >&3 && head -c 5 <&3 | tr -d "\\0"' "$host" "$port" 2>/dev/null)
      [ "$out" = +PONG ] || return 1 ;;
    rabbitmq) out=$(timeout 3 bash -c 'exec 3<>"/dev/tcp/$0/$1" && printf "AMQP\0\0\11\1" >&3 && head -c 1 <&3 | od -An -c' "$host" "$port" 2>/dev/null)
      if [ -n "$out" ] && [ "${how[$1]:-}" = container ]; then
        out=$(timeout 3 bash -c 'exec 3<>"/dev/tcp/127.0.0.1/$0" && printf "GET / HTTP/1.0\r\n\r\n" >&3 && head -c 5 <&3 | tr -d "\\0"' "$RABBITMQ_MANAGEMENT_PORT" 2>/dev/null)
        [ "$out" = HTTP/ ] || return 1
      fi ;;
  esac
  [ -n "$out" ]
}

wait_for() { # name addr seconds
  local deadline=$((SECONDS + $3))
  while ((SECONDS < deadline)); do
    answers "$1" "$2" && return 0
    sleep 0.25
  done
  return 1
}

loopback() { # host:port -> is the host this machine's loopback?
  case ${1%:*} in 127.0.0.1 | localhost) return 0 ;; esac
  return 1
}

root_on_debian() {
  [ "$(id -u)" = 0 ] && [ -r /etc/os-release ] && grep -qE '^(ID|ID_LIKE)=.*(debian|ubuntu)' /etc/os-release
}

# --- 2. installed but stopped -------------------------------------------------

mysql_installed() { [ -x /usr/sbin/mariadbd ] || [ -x /usr/sbin/mysqld ]; }
start_mysql() {
  local bin=/usr/sbin/mariadbd args=()
  [ -x "$bin" ] || bin=/usr/sbin/mysqld
  if [ "$(id -u)" = 0 ] && id mysql >/dev/null 2>&1; then
    # The server refuses to run as root; Debian's package runs it as mysql.
    install -d -o mysql -g mysql /run/mysqld
    args=(--user=mysql)
  fi
  start-stop-daemon --start --oknodo --background --exec "$bin" -- "${args[@]}" >/dev/null 2>&1
}
redis_installed() { command -v redis-server >/dev/null; }
start_redis() {
  redis-server --daemonize yes --bind 127.0.0.1 --port "${REDIS_ADDR##*:}" --save "" --appendonly no >/dev/null
}
rabbitmq_installed() { command -v rabbitmq-server >/dev/null; }
start_rabbitmq() { rabbitmq-server -detached >/dev/null 2>&1; }

# --- 3. a container -----------------------------------------------------------

# start_container NAME IMAGE ADDR CONTAINER_PORT [docker run args...] [-- command...]
start_container() {
  local name=$PREFIX-$1 image=$2 addr=$3 cport=$4
  shift 4
  local state
  state=$("$DOCKER" container inspect --format '{{.State.Status}}' "$name" 2>/dev/null)
  if [ -n "$state" ]; then
    [ "$state" = running ] && return 0
    say "starting the existing container $name"
    "$DOCKER" start "$name" >/dev/null
    return
  fi
  local run=() cmd=() in_cmd=no
  for a in "$@"; do
    if [ "$in_cmd" = yes ]; then cmd+=("$a"); elif [ "$a" = -- ]; then in_cmd=yes; else run+=("$a"); fi
  done
  say "running $image as container $name on $addr"
  "$DOCKER" run -d --name "$name" --label "$LABEL=$PREFIX" \
    -p "127.0.0.1:${addr##*:}:$cport" "${run[@]}" "$image" "${cmd[@]}" >/dev/null
}
container_mysql() {
  # Root without a password, as the services' default DSN (root@tcp(127.0.0.1:3306))
  # expects of a development server; the port is published on loopback only.
  start_container mariadb "$MYSQL_IMAGE" "$MYSQL_ADDR" 3306 \
    -e MARIADB_ALLOW_EMPTY_ROOT_PASSWORD=1 -e MYSQL_ALLOW_EMPTY_PASSWORD=yes
}
container_redis() {
  # Connections come from the engine's bridge, not loopback: no protected mode.
  start_container redis "$REDIS_IMAGE" "$REDIS_ADDR" 6379 -- \
    redis-server --protected-mode no --save "" --appendonly no
}
container_rabbitmq() {
  # guest may only connect from loopback by default; through the engine's
  # bridge it does not. The management API is where the tests create vhosts:
  # enabled whatever the image enables.
  start_container rabbitmq "$RABBITMQ_IMAGE" "$AMQP_ADDR" 5672 \
    -p "127.0.0.1:$RABBITMQ_MANAGEMENT_PORT:15672" \
    -e RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS='-rabbit loopback_users []' \
    -e RABBITMQ_ENABLED_PLUGINS=rabbitmq_management
}

# --- 4. the distribution's packages -------------------------------------------

# apt_install PACKAGE...: installed without starting them (we start what we need),
# through a policy-rc.d that refuses every start while apt runs, unless the
# machine has its own policy.
apt_install() {
  local policy=/usr/sbin/policy-rc.d ours=no t0=$SECONDS status
  if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' >"$policy" && chmod 755 "$policy" && ours=yes
  fi
  say "installing $* from the distribution's packages (apt-get)"
  DEBIAN_FRONTEND=noninteractive apt-get update -q >/dev/null &&
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "$@" >/dev/null
  status=$?
  [ "$ours" = yes ] && rm -f "$policy"
  [ "$status" = 0 ] && say "installed $* in $((SECONDS - t0)) s"
  return "$status"
}

# After a fresh install MariaDB's root logs in through the unix socket only; the
# services connect as root@127.0.0.1 without a password, as to a development
# server (it listens on loopback only: Debian's bind-address). The server names
# 127.0.0.1 localhost unless it skips name resolution: both accounts take it.
mysql_root_over_tcp() {
  mariadb -uroot <<'SQL'
ALTER USER 'root'@'localhost' IDENTIFIED VIA unix_socket OR mysql_native_password USING PASSWORD('');
CREATE USER IF NOT EXISTS 'root'@'127.0.0.1' IDENTIFIED BY '';
GRANT ALL PRIVILEGES ON *.* TO 'root'@'127.0.0.1' WITH GRANT OPTION;
FLUSH PRIVILEGES;
SQL
}

# --- the checks ---------------------------------------------------------------

names=(mysql redis rabbitmq)
declare -A label=([mysql]="MariaDB/MySQL" [redis]="Redis" [rabbitmq]="RabbitMQ")
declare -A addr=([mysql]=$MYSQL_ADDR [redis]=$REDIS_ADDR [rabbitmq]=$AMQP_ADDR)
declare -A timeout=([mysql]=60 [redis]=15 [rabbitmq]=120)
declare -A package=([mysql]=mariadb-server [redis]=redis-server [rabbitmq]=rabbitmq-server)
declare -A how=() # name -> how it was started: installed, container, apt
declare -A hint=(
  [mysql]="start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd  (or set MYSQL_ADDR)"
  [redis]="redis-server --daemonize yes --bind 127.0.0.1 --port ${REDIS_ADDR##*:} --save \"\" --appendonly no  (or set REDIS_ADDR)"
  [rabbitmq]="rabbitmq-server -detached  (or set AMQP_ADDR)"
)
failed=0
apt_wanted=()

for n in "${names[@]}"; do
  reachable "${addr[$n]}" && continue
  say "${label[$n]} is not answering on ${addr[$n]}; trying to start it"
  if [ "$MODE" = auto ] && "${n}_installed"; then
    "start_$n" && how[$n]=installed
  elif docker_works && loopback "${addr[$n]}"; then
    "container_$n" && how[$n]=container
  elif [ "$MODE" = auto ] && root_on_debian && loopback "${addr[$n]}"; then
    apt_wanted+=("$n")
  fi
done

if [ "${#apt_wanted[@]}" -gt 0 ]; then
  pkgs=()
  for n in "${apt_wanted[@]}"; do pkgs+=("${package[$n]}"); done
  if apt_install "${pkgs[@]}"; then
    for n in "${apt_wanted[@]}"; do
      "start_$n" && how[$n]=apt
    done
  fi
fi

# Test programs: installed now too, so that one apt-get run would do if needed.
if [ "$want_test_programs" = yes ]; then
  missing=()
  command -v redis-server >/dev/null || missing+=(redis-server)
  [ -x "$RABBITMQ_SCRIPTS_DIR/rabbitmq-server" ] || missing+=(rabbitmq-server)
  if [ "${#missing[@]}" -gt 0 ]; then
    if root_on_debian; then
      apt_install "${missing[@]}" || failed=1
    else
      say "ERROR: make test starts its own Redis Cluster and RabbitMQ cluster nodes with"
      say "       Debian's programs, and ${missing[*]} is not installed: apt-get install ${missing[*]}"
      say "       (the services it installs need not run; RABBITMQ_SCRIPTS_DIR names another directory)"
      failed=1
    fi
  fi
fi

for n in "${names[@]}"; do
  [ -z "${how[$n]:-}" ] && reachable "${addr[$n]}" && continue
  if [ -n "${how[$n]:-}" ] && wait_for "$n" "${addr[$n]}" "${timeout[$n]}"; then
    say "${label[$n]} started on ${addr[$n]} (${how[$n]})"
    if [ "$n" = mysql ] && [ "${how[$n]}" = apt ] && ! mysql_root_over_tcp; then
      say "ERROR: could not let root connect to MariaDB over 127.0.0.1"
      failed=1
    fi
    continue
  fi
  say "ERROR: ${label[$n]} is unreachable at ${addr[$n]}."
  case ${how[$n]:-} in
    container) say "       The container $PREFIX-$n was started but does not answer: $DOCKER logs $PREFIX-${n/mysql/mariadb}" ;;
    installed | apt) say "       It was started but does not answer; start it by hand to see why: ${hint[$n]}" ;;
    *)
      say "       Install it and start it: ${hint[$n]}"
      say "       (this script starts it itself where a Docker engine answers, or installs Debian's ${package[$n]} as root on Debian or Ubuntu)"
      ;;
  esac
  failed=1
done
exit $failed
