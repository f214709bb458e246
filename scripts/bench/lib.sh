# shellcheck shell=bash
# Helpers shared by the benchmark scripts of scripts/bench: arguments, the
# benchmark database, starting the services and reading wrk's report.
# Source it; it runs nothing by itself.

# Results come back in variables the caller names (and sets to a default
# first), so that shellcheck, which does not follow this file, sees them set.

bench_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
bench_pids=()

# bench_args VAR ARG...: reads --seconds N into VAR; --help prints the
# caller's usage function.
bench_args() {
  local var=$1
  shift
  while [ $# -gt 0 ]; do
    case "$1" in
      -h|--help) usage; exit 0 ;;
      --seconds)
        [[ "${2:-}" =~ ^[1-9][0-9]*$ ]] || { usage >&2; exit 2; }
        printf -v "$var" '%s' "$2"; shift 2 ;;
      *) usage >&2; exit 2 ;;
    esac
  done
}

# bench_need CMD...: fails unless every CMD is on PATH.
bench_need() {
  local cmd
  for cmd in "$@"; do
    command -v "$cmd" >/dev/null || { echo "bench: $cmd is missing (apt-get install -y wrk postgresql-client redis-tools curl)" >&2; exit 1; }
  done
}

# bench_database_url: the benchmark database (make bench-data).
bench_database_url() {
  echo "${BENCH_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/ihr_bench?sslmode=disable}"
}

# bench_migrate DATABASE_URL: brings the database to the current schema.
bench_migrate() {
  "$bench_root/scripts/db/migrate.sh" --database-url "$1" up >/dev/null
}

# bench_free_port [PORT...]: a loopback port nobody listens on, other than
# the PORTs given (chosen already but perhaps not yet listening).
# shellcheck disable=SC2120 # the PORTs are optional
bench_free_port() {
  local p
  for _ in $(seq 1 100); do
    p=$((20000 + RANDOM % 40000))
    [[ " $* " == *" $p "* ]] && continue
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
      echo "$p"
      return 0
    fi
  done
  echo "bench: no free loopback port" >&2
  return 1
}

# bench_wait_ok URL SECONDS: waits until URL answers 2xx; fails after SECONDS.
bench_wait_ok() {
  local deadline=$((SECONDS + $2))
  until curl -fs -o /dev/null "$1"; do
    [ "$SECONDS" -lt "$deadline" ] || return 1
    sleep 0.2
  done
}

# bench_spawn PIDVAR LOG CMD...: runs CMD in the background with its output
# in LOG, stopped by bench_stop, and sets PIDVAR to its pid.
bench_spawn() {
  local var=$1 log=$2
  shift 2
  "$@" >"$log" 2>&1 &
  bench_pids+=("$!")
  printf -v "$var" '%s' "$!"
}

# bench_start PIDVAR NAME PORT LOG [VAR=VALUE...]: runs bin/NAME on
# 127.0.0.1:PORT with the variables added to its environment, sets PIDVAR to
# its pid and waits for its /readyz.
bench_start() {
  local var=$1 name=$2 port=$3 log=$4
  shift 4
  # env execs the binary: the pid is the service's own.
  bench_spawn "$var" "$log" env "IHR_${name^^}_ADDR=127.0.0.1:$port" "$@" "$bench_root/bin/$name"
  if ! bench_wait_ok "http://127.0.0.1:$port/readyz" 30; then
    echo "bench: $name not ready after 30 s; the end of its log:" >&2
    tail -n 20 "$log" >&2
    exit 1
  fi
}

# bench_stop: stops what bench_spawn started and waits for it.
bench_stop() {
  local pid
  for pid in "${bench_pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${bench_pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  bench_pids=()
}

# bench_peak_rss PID: the peak resident memory of PID (VmHWM), in MB.
bench_peak_rss() {
  awk '$1 == "VmHWM:" {printf "%d MB", $2 / 1024}' "/proc/$1/status"
}

# wrk_rps REPORT: requests per second of a wrk report.
wrk_rps() { awk '/^Requests\/sec:/ {printf "%.1f", $2}' <<<"$1"; }

# wrk_p99 REPORT: the 99th percentile latency in ms (wrk --latency prints
# "99%    7.12ms", in us, ms, s or m).
wrk_p99() {
  awk '$1 == "99%" {
    v = $2; unit = $2; sub(/[a-z]+$/, "", v); sub(/^[0-9.]+/, "", unit)
    f["us"] = 0.001; f["ms"] = 1; f["s"] = 1000; f["m"] = 60000; f["h"] = 3600000
    if (unit in f) printf "%.2f", v * f[unit]; else printf "?"
  }' <<<"$1"
}

# wrk_errors REPORT: the non-2xx/3xx and socket error lines, or nothing.
wrk_errors() {
  awk '/Non-2xx|Socket errors/ {sub(/^ +/, ""); printf "%s%s", sep, $0; sep = "; "}' <<<"$1"
}
