#!/bin/bash
# RABBITMQ_DEFAULT_USER/PASS/VHOST as the official image takes them: appended to
# the (read-only, mounted) /etc/rabbitmq/rabbitmq.conf in a copy under /tmp.
set -euo pipefail
if [ "${1:-}" = rabbitmq-server ]; then
	conf=/tmp/rabbitmq.conf
	cat /etc/rabbitmq/rabbitmq.conf > "$conf" 2>/dev/null || : > "$conf"
	[ -n "${RABBITMQ_DEFAULT_USER:-}" ] && echo "default_user = $RABBITMQ_DEFAULT_USER" >> "$conf"
	[ -n "${RABBITMQ_DEFAULT_PASS:-}" ] && echo "default_pass = $RABBITMQ_DEFAULT_PASS" >> "$conf"
	[ -n "${RABBITMQ_DEFAULT_VHOST:-}" ] && echo "default_vhost = $RABBITMQ_DEFAULT_VHOST" >> "$conf"
	export RABBITMQ_CONFIG_FILE="$conf"
	unset RABBITMQ_DEFAULT_USER RABBITMQ_DEFAULT_PASS RABBITMQ_DEFAULT_VHOST
fi
exec "$@"
