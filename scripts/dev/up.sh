#!/usr/bin/env bash
# Start the whole IHR API on a developer machine: create and migrate the
# database, load demo data when it is empty, then start the five services in
# the background (logs and pids under .run/) and wait until each is ready.
set -euo pipefail

usage() {
  cat <<'USAGE'
Usage: scripts/dev/up.sh [--help]

Initialises and migrates the database named by IHR_DATABASE_URL, loads the
small demo dataset when ihr_asn is empty, starts gateway, query, ingestion,
auth and cachewarmer from bin/ (build them first: make build) and waits up to
60 s for every /readyz. Logs: .run/logs/<service>.log. Stop with scripts/dev/down.sh.
Without a NATS server the first service starts an embedded one (dev mode);
without Redis the services run degraded on their in-process caches.
USAGE
}
case "${1:-}" in
  -h|--help) usage; exit 0 ;;
  "") ;;
  *) usage >&2; exit 2 ;;
esac

root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
run_dir=.run
mkdir -p "$run_dir/logs" "$run_dir/pids"

scripts/db/init.sh
scripts/db/migrate.sh up
bin/ihrctl demo-data --scale small --if-empty

"$root/scripts/dev/down.sh" --quiet
export IHR_ENV="${IHR_ENV:-dev}"
# On the developer machine only: anyone may ingest over HTTP and read the
# operators' /debug endpoints, without credentials (docs/security.md).
export IHR_INGEST_OPEN="${IHR_INGEST_OPEN:-true}"
export IHR_OPS_OPEN="${IHR_OPS_OPEN:-true}"
export IHR_NATS_STORE_DIR="${IHR_NATS_STORE_DIR:-$root/$run_dir/nats}"

declare -A port=([query]=8081 [ingestion]=8082 [auth]=8083 [cachewarmer]=8084 [gateway]=8080)
# query first: when no NATS server answers, it hosts the embedded one for the others.
order=(query ingestion auth cachewarmer gateway)
for s in "${order[@]}"; do
  nohup "bin/$s" >"$run_dir/logs/$s.log" 2>&1 &
  echo $! >"$run_dir/pids/$s.pid"
  if [ "$s" = query ]; then
    # let it bind NATS before the others look for a server
    for _ in $(seq 1 50); do
      curl -fs -o /dev/null "http://127.0.0.1:8081/healthz" && break
      sleep 0.2
    done
  fi
done

deadline=$((SECONDS + 60))
for s in "${order[@]}"; do
  until curl -fs -o /dev/null "http://127.0.0.1:${port[$s]}/readyz"; do
    if ! kill -0 "$(cat "$run_dir/pids/$s.pid")" 2>/dev/null; then
      echo "up: $s exited; last log lines:" >&2
      tail -n 20 "$run_dir/logs/$s.log" >&2
      exit 1
    fi
    if [ "$SECONDS" -ge "$deadline" ]; then
      echo "up: $s not ready after 60 s: $(curl -s "http://127.0.0.1:${port[$s]}/readyz")" >&2
      exit 1
    fi
    sleep 0.3
  done
  printf '  %-12s ready  http://127.0.0.1:%s  (log %s)\n' "$s" "${port[$s]}" "$run_dir/logs/$s.log"
done

cat <<'DONE'

IHR API is up. Try:
  curl -s localhost:8080/readyz
  curl -s 'localhost:8080/ihr/api/networks/?number=2497'
  curl -s 'localhost:8080/ihr/api/hegemony/?originasn=2497&af=4'
  curl -s localhost:8081/metrics | head
Stop everything with: make stop
DONE
