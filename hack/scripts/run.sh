#!/usr/bin/env bash
# `make run`: migrate and start every service natively, with readable logs, each line
# prefixed by its service.
# Ctrl-C (or SIGTERM) stops them all; if one dies, the others are stopped too.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"

mkdir -p .dev
export JWT_SIGNING_KEY_FILE=${JWT_SIGNING_KEY_FILE:-$root/.dev/jwt-signing-key.pem}
if [ ! -f "$JWT_SIGNING_KEY_FILE" ]; then
  go run ./services/kit/auth/cmd/genkey -out "$JWT_SIGNING_KEY_FILE"
  echo "run: generated a development JWT signing key at $JWT_SIGNING_KEY_FILE (git-ignored; never use it in production)"
fi
# A local admin so the admin routes can be tried; the password is generated once per checkout.
if [ -z "${ADMIN_EMAIL:-}" ]; then
  export ADMIN_EMAIL=admin@example.com
  if [ ! -f .dev/admin-password ]; then
    (umask 077 && head -c 18 /dev/urandom | base64 | tr -d '/+=' > .dev/admin-password)
  fi
  export ADMIN_PASSWORD=$(cat .dev/admin-password)
  echo "run: local admin is $ADMIN_EMAIL, password in .dev/admin-password"
fi
export LOG_FORMAT=${LOG_FORMAT:-text}

services=(account challenge)
for svc in "${services[@]}"; do
  echo "run: migrating $svc"
  "bin/$svc" migrate
done

pids=()
stop() {
  trap - INT TERM
  echo
  echo "run: stopping ${services[*]}"
  kill -TERM "${pids[@]}" 2>/dev/null || true
  wait "${pids[@]}" 2>/dev/null || true
  echo "run: stopped"
}
trap 'stop; exit 0' INT TERM

for svc in "${services[@]}"; do
  # Text logs start with the service's column themselves (kit/logging): no
  # filter process per service reading every line.
  "bin/$svc" serve &
  pids+=($!)
done
cat <<MSG
run: account   http://127.0.0.1:3000  (Swagger UI: http://127.0.0.1:3000/api-docs/)
run: challenge http://127.0.0.1:3001  (Swagger UI: http://127.0.0.1:3001/api-docs/)
run: Ctrl-C stops everything
MSG
# If any service exits on its own, take the rest down too rather than run half a system.
set +e
wait -n "${pids[@]}"
status=$?
# Ctrl-C reaches the services too (same process group), so a clean exit here is
# usually that; anything else is a crash worth naming.
if [ "$status" -ne 0 ]; then
  echo "run: a service exited with status $status; stopping the others"
fi
stop
exit "$status"
