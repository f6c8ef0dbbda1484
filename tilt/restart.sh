#!/bin/sh
# Tilt live-update helper for the dev images (services/Dockerfile, target dev).
#
#   restart.sh /app/<binary> [args...]
#
# Runs the binary; when Tilt's live update has synced a new build into
# /app/sync/<binary> and touched /tmp/po-restart, stops the running process with
# SIGTERM (graceful shutdown), moves the new binary into place and starts it
# again. If the process exits by itself, the script exits with its status, so a
# crash still restarts the container. SIGTERM/SIGINT are passed on.
set -u

bin="$1"
shift
staged="${PO_SYNC_DIR:-/app/sync}/$(basename "$bin")"
trigger="${PO_RESTART_TRIGGER:-/tmp/po-restart}"
child=0

stop() {
	if [ "$child" -ne 0 ]; then
		kill -TERM "$child" 2>/dev/null
		wait "$child"
		exit $?
	fi
	exit 143
}
trap stop TERM INT

while :; do
	rm -f "$trigger"
	if [ -f "$staged" ]; then
		cp "$staged" "$bin.new" && chmod 0755 "$bin.new" && mv -f "$bin.new" "$bin"
	fi
	"$bin" "$@" &
	child=$!
	while kill -0 "$child" 2>/dev/null && [ ! -e "$trigger" ]; do
		sleep 0.5
	done
	if [ -e "$trigger" ]; then
		echo "restart.sh: new build synced, restarting $(basename "$bin")" >&2
		kill -TERM "$child" 2>/dev/null
		wait "$child"
		continue
	fi
	wait "$child"
	exit $?
done
