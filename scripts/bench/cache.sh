#!/usr/bin/env bash
# Cached-read benchmark: heg1d and netnum of ../shared/reference/bench-queries.md
# answered by the gateway from its edge cache (query service behind it), with
# wrk at 16 and 64 connections, each next to its ceiling: a bare net/http
# server (tests/bench/ceiling) returning the same bytes from memory, in the
# same run. Both services run as in production: IHR_ENV=prod, info logs.
set -euo pipefail

usage() {
  cat <<'USAGE'
Usage: scripts/bench/cache.sh [--seconds N]

Needs the benchmark database (make bench-data; BENCH_DATABASE_URL, default
postgres://postgres@127.0.0.1:5432/ihr_bench?sslmode=disable), bin/query and
bin/gateway (make build), Redis and NATS (IHR_REDIS_URL, IHR_NATS_URL: the
services' defaults), go, curl, redis-cli and wrk. Runs wrk for N seconds
(default 20) per query, connection count and server. Prints a markdown table
for docs/benchmarks.md.
USAGE
}
# shellcheck source=scripts/bench/lib.sh disable=SC1091
source "$(dirname "$0")/lib.sh"
seconds=20
bench_args seconds "$@"
bench_need go curl redis-cli wrk

root=$(cd "$(dirname "$0")/../.." && pwd)
db=$(bench_database_url)

# From bench-queries.md: the response sizes and Django's page-cache req/s at
# 16 (64) connections.
declare -A url bytes django django64 p99max
url[heg1d]="hegemony/?originasn=2497&timebin__gte=2026-11-25T00:00:00Z&timebin__lte=2026-11-26T00:00:00Z&af=4"
bytes[heg1d]=763282 django[heg1d]=319 django64[heg1d]=299 p99max[heg1d]=100
url[netnum]="networks/?number=2497"
bytes[netnum]=170 django[netnum]=3908 django64[netnum]=3323 p99max[netnum]=10
queries=(heg1d netnum)
ceiling_min=0.4 django_min=5

prefix="benchcache$$"
redis_url="${IHR_REDIS_URL:-redis://127.0.0.1:6379/0}"
nats_url="${IHR_NATS_URL:-nats://127.0.0.1:4222}"
work=$(mktemp -d)
cleanup() {
  bench_stop
  redis-cli -u "$redis_url" --scan --pattern "$prefix:*" | xargs -r redis-cli -u "$redis_url" del >/dev/null || true
  if [ -x "$work/dropstreams" ]; then "$work/dropstreams" -url "$nats_url" "$prefix" || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

(cd "$root/tests" && go build -o "$work/ceiling" ./bench/ceiling && go build -o "$work/dropstreams" ./bench/dropstreams)
bench_migrate "$db"

common=(IHR_ENV=prod "IHR_NATS_PREFIX=$prefix" "IHR_CACHE_PREFIX=$prefix:")
query_port=$(bench_free_port)
query_pid=""
bench_start query_pid query "$query_port" "$work/query.log" "${common[@]}" "IHR_DATABASE_URL=$db"
# Auth and ingestion stay unstarted: cached reads do not need them.
gateway_port=$(bench_free_port "$query_port")
auth_port=$(bench_free_port "$query_port" "$gateway_port")
ingestion_port=$(bench_free_port "$query_port" "$gateway_port" "$auth_port")
# wrk is one anonymous client: the rate limiter stays on, so the runs pay
# for it, with limits they never reach.
rate=(IHR_RATE_ANONYMOUS_SECOND=1000000 IHR_RATE_ANONYMOUS_BURST=1000 IHR_RATE_ANONYMOUS_DAY=1000000000000)
gateway_pid=""
bench_start gateway_pid gateway "$gateway_port" "$work/gateway.log" "${common[@]}" "${rate[@]}" "IHR_QUERY_URL=http://127.0.0.1:$query_port" \
  "IHR_AUTH_URL=http://127.0.0.1:$auth_port" "IHR_INGESTION_URL=http://127.0.0.1:$ingestion_port"
gateway_url="http://127.0.0.1:$gateway_port"

# The edge cache is usable once the gateway follows the results stream and
# holds the answer: it then says X-Cache: edge. That answer is the body the
# ceiling serves.
warmup=()
for q in "${queries[@]}"; do
  deadline=$((SECONDS + 30)) seen="" tries=0
  while :; do
    tries=$((tries + 1))
    cache=$(curl -s -o "$work/$q" -D - -w '%{http_code}\n' "$gateway_url/ihr/api/${url[$q]}" |
      tr -d '\r' | awk -F': ' 'tolower($1) == "x-cache" {x = $2} /^[0-9]+$/ {code = $1} END {print code " " x}' || true)
    [ "$cache" = "200 edge" ] && break
    [[ " $seen " == *" ${cache// //} "* ]] || seen="$seen ${cache// //}"
    if [ "$SECONDS" -ge "$deadline" ]; then
      echo "bench: $q not answered from the gateway's edge cache after 30 s (status/X-Cache seen:$seen)" >&2
      exit 1
    fi
    sleep 0.2
  done
  warmup+=("$q: X-Cache edge at request $tries${seen:+; before it, status/X-Cache:$seen}")
  got=$(wc -c <"$work/$q")
  if [ "$got" -ne "${bytes[$q]}" ]; then
    echo "bench: $q answered $got bytes, bench-queries.md says ${bytes[$q]} (is the benchmark database loaded? make bench-data)" >&2
    exit 1
  fi
done

ceiling_port=$(bench_free_port "$query_port" "$gateway_port" "$auth_port" "$ingestion_port")
ceiling_pid=""
bench_spawn ceiling_pid "$work/ceiling.log" "$work/ceiling" -addr "127.0.0.1:$ceiling_port" "${queries[@]/#/$work/}"
ceiling_url="http://127.0.0.1:$ceiling_port"
bench_wait_ok "$ceiling_url/${queries[0]}" 10 || { echo "bench: the ceiling server (pid $ceiling_pid) did not start:" >&2; cat "$work/ceiling.log" >&2; exit 1; }
for q in "${queries[@]}"; do
  cmp -s "$work/$q" <(curl -fs "$ceiling_url/$q") || { echo "bench: the ceiling does not serve the bytes of $q" >&2; exit 1; }
done

# lookups: the gateway's ihr_edge_lookups_total lines.
lookups() { curl -fs "$gateway_url/metrics" | grep '^ihr_edge_lookups_total' || true; }
lookups >"$work/lookups.before"

# mark VALUE OK: VALUE, flagged when it misses its target.
mark() { if [ "$2" = 1 ]; then echo "$1"; else echo "$1 ✗"; fi; }
thousands() { sed -E ':a; s/^([0-9]+)([0-9]{3})/\1,\2/; ta' <<<"$1"; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.2f", (b > 0 ? a / b : 0)}'; }
atleast() { awk -v a="$1" -v b="$2" 'BEGIN {print (a >= b ? 1 : 0)}'; }

rows=()
for q in "${queries[@]}"; do
  declare -A rps=() p99=()
  errs=""
  for c in 16 64; do
    for server in ceiling gateway; do
      if [ "$server" = ceiling ]; then target="$ceiling_url/$q"; else target="$gateway_url/ihr/api/${url[$q]}"; fi
      out=$(wrk -t2 -c"$c" -d"${seconds}s" --latency "$target")
      rps[$server$c]=$(wrk_rps "$out")
      p99[$server$c]=$(wrk_p99 "$out")
      e=$(wrk_errors "$out")
      [ -z "$e" ] || errs="$errs${errs:+; }$server $c: $e"
    done
  done
  r16=$(ratio "${rps[gateway16]}" "${rps[ceiling16]}")
  r64=$(ratio "${rps[gateway64]}" "${rps[ceiling64]}")
  rd=$(ratio "${rps[gateway16]}" "${django[$q]}")
  p99ok=$(awk -v a="${p99[gateway64]}" -v b="${p99max[$q]}" 'BEGIN {print (a != "?" && a + 0 < b ? 1 : 0)}')
  rows+=("| $q | $(thousands "${bytes[$q]}") | ${rps[ceiling16]} (${rps[ceiling64]}) | ${rps[gateway16]} (${rps[gateway64]}) \
| $(mark "${r16}×" "$(atleast "$r16" "$ceiling_min")") ($(mark "${r64}×" "$(atleast "$r64" "$ceiling_min")")) \
| $(mark "${p99[gateway64]} ms" "$p99ok") (${p99[ceiling64]} ms) | ${django[$q]} (${django64[$q]}) \
| $(mark "${rd}×" "$(atleast "$rd" "$django_min")") | ${errs:-none} |")
done
lookups >"$work/lookups.after"

echo "| query | response bytes | ceiling req/s, 16 (64) | gateway req/s, 16 (64) | gateway / ceiling, 16 (64) | gateway p99 at 64 (ceiling) | Django page cache req/s, 16 (64) | gateway / Django at 16 | errors or non-2xx |"
echo "|---|---|---|---|---|---|---|---|---|"
printf '%s\n' "${rows[@]}"
echo
echo "Targets: ≥ ${ceiling_min}× the ceiling, ≥ ${django_min}× Django's page cache, p99 at 64 connections < ${p99max[heg1d]} ms for heg1d and < ${p99max[netnum]} ms for netnum; ✗ marks a figure that misses its target."
echo
echo "peak RSS: gateway $(bench_peak_rss "$gateway_pid"), query service $(bench_peak_rss "$query_pid")"
printf 'warm-up, %s\n' "${warmup[@]}"
echo "gateway edge lookups during the runs, by result (hit: from its cache):" \
  "$(awk 'match($0, /result="[a-z-]+"/) {r = substr($0, RSTART + 8, RLENGTH - 9)}
    FNR == NR {was[r] = $NF; next} {printf "%s%s %d", sep, r, $NF - was[r]; sep = ", "}' "$work/lookups.before" "$work/lookups.after")"
echo "the gateway's /metrics at the end:"
cat "$work/lookups.after"
# A request still waiting when wrk stops is cancelled: the log says 499
# (the client is gone) for it.
echo "the gateway's access log, requests by status:" \
  "$(grep -h '"msg":"request"' "$work/gateway.log" | grep -o '"status":[0-9]*' | sort | uniq -c |
    awk '{sub(/"status":/, "", $2); printf "%s%s %d", sep, $2, $1; sep = ", "}')"
