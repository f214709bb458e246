#!/usr/bin/env bash
# Read benchmark: the five queries of ../shared/reference/bench-queries.md on
# the benchmark dataset (make bench-data), through the query service with wrk
# at 16 and 64 connections, each next to its SQL floor (the SQL the legacy
# API sends: a count and the page) through pgbench in the same run.
set -euo pipefail

usage() {
  cat <<'USAGE'
Usage: scripts/bench/read.sh [--seconds N]

Needs the benchmark database (make bench-data; BENCH_DATABASE_URL, default
postgres://postgres@127.0.0.1:5432/ihr_bench?sslmode=disable), bin/query
(make build), wrk and pgbench. Prints a markdown table for docs/benchmarks.md.
USAGE
}
# shellcheck source=scripts/bench/lib.sh disable=SC1091
source "$(dirname "$0")/lib.sh"
seconds=20
bench_args seconds "$@"
bench_need wrk pgbench curl

db=$(bench_database_url)
bench_migrate "$db"
work=$(mktemp -d)
trap 'bench_stop; rm -rf "$work"' EXIT
port=$(bench_free_port)
pid=""
bench_start pid query "$port" "$work/query.log" "IHR_DATABASE_URL=$db" IHR_LOG_LEVEL=error "IHR_NATS_STORE_DIR=$work/nats"

heg_where() { # from to
  echo "h.originasn_id IN (2497) AND h.af = 4 AND h.timebin >= '$1' AND h.timebin <= '$2'"
}
heg_sql() {
  local from="FROM ihr_hegemony h JOIN ihr_asn a ON a.number = h.asn_id JOIN ihr_asn o ON o.number = h.originasn_id"
  echo "SELECT count(*) $from WHERE $(heg_where "$1" "$2");"
  echo "SELECT h.timebin, h.originasn_id, h.asn_id, h.hege, h.af, a.name, o.name $from WHERE $(heg_where "$1" "$2") LIMIT 100000;"
}
keys="((e.type = 'CT' AND e.af = 4 AND e.name = 'Singapore, Central Singapore, SG') OR (e.type = 'CT' AND e.af = 4 AND e.name = 'Ashburn, Virginia, US') OR (e.type = 'CT' AND e.af = 4 AND e.name = 'London, England, GB') OR (e.type = 'AS' AND e.af = 4 AND e.name = '15169') OR (e.type = 'AS' AND e.af = 4 AND e.name = '25152'))"
delay_where="s.name IN ('2497') AND s.type = 'AS' AND $keys AND d.timebin >= '2026-11-25T00:00:00Z' AND d.timebin <= '2026-11-28T00:00:00Z'"
delay_from="FROM ihr_atlas_delay d JOIN ihr_atlas_location s ON s.id = d.startpoint_id JOIN ihr_atlas_location e ON e.id = d.endpoint_id"

declare -A url sql
url[heg1d]="hegemony/?originasn=2497&timebin__gte=2026-11-25T00:00:00Z&timebin__lte=2026-11-26T00:00:00Z&af=4"
sql[heg1d]=$(heg_sql 2026-11-25T00:00:00Z 2026-11-26T00:00:00Z)
url[heg7d]="hegemony/?originasn=2497&timebin__gte=2026-11-23T00:00:00Z&timebin__lte=2026-11-29T23:45:00Z&af=4"
sql[heg7d]=$(heg_sql 2026-11-23T00:00:00Z 2026-11-29T23:45:00Z)
url[netnum]="networks/?number=2497"
sql[netnum]="SELECT count(*) FROM ihr_asn WHERE number IN (2497);
SELECT number, name, ashash, tartiflette, disco FROM ihr_asn WHERE number IN (2497) LIMIT 100000;"
url[netsearch]="networks/?search=2497&ordering=number"
sql[netsearch]="SELECT count(*) FROM ihr_asn WHERE number::text LIKE '%2497%' OR name ILIKE '%2497%';
SELECT number, name, ashash, tartiflette, disco FROM ihr_asn WHERE number::text LIKE '%2497%' OR name ILIKE '%2497%' ORDER BY number LIMIT 100000;"
url[delay]="network_delay/?startpoint_name=2497&startpoint_type=AS&endpoint_key=CT4Singapore,%20Central%20Singapore,%20SG%7CCT4Ashburn,%20Virginia,%20US%7CCT4London,%20England,%20GB%7CAS415169%7CAS425152&timebin__gte=2026-11-25T00:00:00Z&timebin__lte=2026-11-28T00:00:00Z&ordering=timebin"
sql[delay]="SELECT count(*) $delay_from WHERE $delay_where;
SELECT d.timebin, s.type, s.name, s.af, e.type, e.name, e.af, d.median, d.nbtracks, d.nbprobes, d.entropy, d.hop, d.nbrealrtts $delay_from WHERE $delay_where ORDER BY d.timebin LIMIT 100000;"

# Memory: one 100,000-row page (AS174 as a transit over the week) must add
# under 50 MB to the service's resident memory; streaming keeps it flat.
rss_kb() { awk -v k="$1:" '$1 == k {print $2}' "/proc/$pid/status"; }
before=$(rss_kb VmRSS)
page=$(curl -fs -w '%{size_download} %{time_total}' -o /dev/null \
  "http://127.0.0.1:$port/ihr/api/hegemony/?asn=174&af=4&timebin__gte=2026-11-23T00:00:00Z&timebin__lte=2026-11-29T23:45:00Z")
echo "100,000-row page: $(cut -d' ' -f1 <<<"$page") bytes in $(cut -d' ' -f2 <<<"$page") s;" \
  "RSS $((before / 1024)) MB before, peak $(($(rss_kb VmHWM) / 1024)) MB"
echo

echo "| name | response bytes | SQL floor req/s, 16 (64) | ours req/s, 16 (64) | ours / floor at 16 | errors or non-2xx at 64 |"
echo "|---|---|---|---|---|---|"
for q in heg1d heg7d netnum netsearch delay; do
  target="http://127.0.0.1:$port/ihr/api/${url[$q]}"
  bytes=$(curl -fs "$target" | wc -c)
  printf '%s\n' "${sql[$q]}" >"$work/$q.sql"
  declare -A floor=() ours=()
  errs=""
  for c in 16 64; do
    floor[$c]=$(pgbench -n -f "$work/$q.sql" -c "$c" -j 2 -T "$seconds" "$db" 2>/dev/null | awk '/^tps/ {printf "%.1f", $3}')
    out=$(wrk -t2 -c"$c" -d"${seconds}s" --timeout 30s "$target")
    ours[$c]=$(wrk_rps "$out")
    if [ "$c" = 64 ]; then
      errs=$(wrk_errors "$out")
      [ "$q" = heg7d ] && rss=$(bench_peak_rss "$pid")
    fi
  done
  ratio=$(awk -v a="${ours[16]}" -v b="${floor[16]}" 'BEGIN {printf "%.2f", (b > 0 ? a / b : 0)}')
  echo "| $q | $bytes | ${floor[16]} (${floor[64]}) | ${ours[16]} (${ours[64]}) | ${ratio}× | ${errs:-none} |"
done
echo
echo "query service peak RSS after heg7d: ${rss:-unknown}"
