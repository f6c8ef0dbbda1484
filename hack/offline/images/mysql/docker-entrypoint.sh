#!/bin/bash
# The official mysql image's first-start contract, on MariaDB (see Dockerfile).
set -euo pipefail

port="${MYSQL_TCP_PORT:-3306}"
socket=/var/run/mysqld/mysqld.sock
datadir=/var/lib/mysql
args=(--datadir="$datadir" --socket="$socket" --port="$port" --bind-address=0.0.0.0
      --skip-name-resolve --log-error= --pid-file=/var/run/mysqld/mysqld.pid)

# docker_process_sql [mysql args...] < SQL: what init scripts call, as root over
# the socket of the temporary server.
docker_process_sql() {
	MYSQL_PWD="${MYSQL_ROOT_PASSWORD:-}" mariadb --protocol=socket --socket="$socket" -uroot \
		--comments "$@"
}

if [ "${1:-}" = mariadbd ] || [ "${1:-}" = mysqld ]; then
	shift
	if [ ! -d "$datadir/mysql" ]; then
		# As the official image: a root password, or an explicit empty one.
		if [ -z "${MYSQL_ROOT_PASSWORD:-}" ] && [ -z "${MYSQL_ALLOW_EMPTY_PASSWORD:-}" ]; then
			echo "docker-entrypoint: MYSQL_ROOT_PASSWORD (or MYSQL_ALLOW_EMPTY_PASSWORD) is required on first start" >&2
			exit 1
		fi
		MYSQL_ROOT_PASSWORD=${MYSQL_ROOT_PASSWORD:-}
		echo "docker-entrypoint: initializing $datadir"
		mariadb-install-db --datadir="$datadir" --auth-root-authentication-method=normal \
			--skip-test-db --skip-name-resolve >/dev/null
		mariadbd "${args[@]}" --skip-networking &
		pid=$!
		for _ in $(seq 60); do
			mariadb-admin --socket="$socket" -uroot ping --silent 2>/dev/null && break
			sleep 1
		done
		# mariadb-install-db also makes password-less root@127.0.0.1, root@::1 and
		# anonymous users; the official image has root@localhost and root@% only.
		mariadb --socket="$socket" -uroot <<-SQL
			DELETE FROM mysql.global_priv WHERE User = '' OR (User = 'root' AND Host <> 'localhost');
			FLUSH PRIVILEGES;
			ALTER USER 'root'@'localhost' IDENTIFIED BY '${MYSQL_ROOT_PASSWORD}';
			CREATE USER IF NOT EXISTS 'root'@'%' IDENTIFIED BY '${MYSQL_ROOT_PASSWORD}';
			GRANT ALL ON *.* TO 'root'@'%' WITH GRANT OPTION;
			FLUSH PRIVILEGES;
		SQL
		if [ -n "${MYSQL_DATABASE:-}" ]; then
			echo "CREATE DATABASE IF NOT EXISTS \`$MYSQL_DATABASE\`;" | docker_process_sql
		fi
		if [ -n "${MYSQL_USER:-}" ] && [ -n "${MYSQL_PASSWORD:-}" ]; then
			echo "CREATE USER IF NOT EXISTS '$MYSQL_USER'@'%' IDENTIFIED BY '$MYSQL_PASSWORD';" | docker_process_sql
			if [ -n "${MYSQL_DATABASE:-}" ]; then
				echo "GRANT ALL ON \`$MYSQL_DATABASE\`.* TO '$MYSQL_USER'@'%';" | docker_process_sql
			fi
		fi
		for f in /docker-entrypoint-initdb.d/*; do
			case "$f" in
				*.sh) echo "docker-entrypoint: running $f"; . "$f" ;;
				*.sql) echo "docker-entrypoint: running $f"; docker_process_sql < "$f" ;;
				*) ;;
			esac
		done
		MYSQL_PWD="$MYSQL_ROOT_PASSWORD" mariadb-admin --socket="$socket" -uroot shutdown
		wait "$pid" || true
		echo "docker-entrypoint: initialized"
	fi
	exec mariadbd "${args[@]}" "$@"
fi
exec "$@"
