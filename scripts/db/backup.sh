#!/usr/bin/env bash
# Dump the database to a file in pg_dump's custom format.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

usage() {
  cat <<'USAGE'
Usage: scripts/db/backup.sh [--database-url URL] [--output FILE]

Writes a pg_dump custom-format archive (compressed; restore it with
scripts/db/restore.sh) of the database (default: IHR_DATABASE_URL) to FILE,
default backups/<database>-<UTC time>.dump. Prints the file name.
USAGE
}

url="$IHR_DATABASE_URL"
out=""
while [ $# -gt 0 ]; do
  case "$1" in
    -h|--help) usage; exit 0 ;;
    --database-url) [ $# -ge 2 ] || die "--database-url needs a value"; url="$2"; shift 2 ;;
    --output) [ $# -ge 2 ] || die "--output needs a value"; out="$2"; shift 2 ;;
    *) echo "${0##*/}: unexpected argument $1" >&2; usage >&2; exit 2 ;;
  esac
done

require_server "$url"
if [ -z "$out" ]; then
  mkdir -p backups
  out="backups/$(db_name "$url")-$(date -u +%Y%m%dT%H%M%SZ).dump"
fi
# Write to a temporary name first so a failed dump never looks like a backup.
pg_dump --format=custom --no-owner --file="$out.partial" "$url" || { rm -f "$out.partial"; die "pg_dump failed"; }
mv "$out.partial" "$out"
echo "$out"
