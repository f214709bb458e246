#!/usr/bin/env bash
# Stop the services started by scripts/dev/up.sh (SIGTERM, then SIGKILL after 20 s).
set -euo pipefail

quiet=false
case "${1:-}" in
  -h|--help) echo "Usage: scripts/dev/down.sh [--quiet]  stops the services started by make run"; exit 0 ;;
  --quiet) quiet=true ;;
  "") ;;
  *) echo "down: unknown argument $1" >&2; exit 2 ;;
esac

cd "$(dirname "$0")/../.."
shopt -s nullglob
# gateway first, query (which may host the embedded NATS) last
for s in gateway cachewarmer auth ingestion query; do
  f=.run/pids/$s.pid
  [ -f "$f" ] || continue
  pid=$(cat "$f")
  if kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid"
    for _ in $(seq 1 100); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.2
    done
    kill -0 "$pid" 2>/dev/null && kill -KILL "$pid"
    $quiet || echo "stopped $s"
  fi
  rm -f "$f"
done
