#!/usr/bin/env bash
# Restore a backup made by backup.sh, replacing what the database holds.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

usage() {
  cat <<'USAGE'
Usage: scripts/db/restore.sh [--database-url URL] [--yes] FILE

Restores FILE (a pg_dump custom-format archive, as written by backup.sh) into
the database (default: IHR_DATABASE_URL), creating it if missing, with
pg_restore --clean --if-exists in one transaction: objects in the archive
replace those of the same name. On a terminal it asks for confirmation;
without one (scripts, CI) it refuses unless --yes is given.
USAGE
}

url="$IHR_DATABASE_URL"
yes=false
file=""
while [ $# -gt 0 ]; do
  case "$1" in
    -h|--help) usage; exit 0 ;;
    --database-url) [ $# -ge 2 ] || die "--database-url needs a value"; url="$2"; shift 2 ;;
    --yes) yes=true; shift ;;
    -*) echo "${0##*/}: unknown option $1" >&2; usage >&2; exit 2 ;;
    *) [ -z "$file" ] || die "one backup file at a time"; file="$1"; shift ;;
  esac
done
[ -n "$file" ] || { echo "${0##*/}: missing the backup FILE" >&2; usage >&2; exit 2; }
[ -r "$file" ] || die "cannot read $file"
pg_restore --list "$file" >/dev/null 2>&1 || die "$file is not a pg_dump custom-format archive"
db=$(db_name "$url")
if ! $yes; then
  [ -t 0 ] || die "restoring replaces the contents of database $db; run again with --yes"
  read -r -p "Replace the contents of database $db with $file? [y/N] " answer
  [ "$answer" = y ] || [ "$answer" = Y ] || die "cancelled"
fi

"$(dirname "$0")/init.sh" --database-url "$url" >/dev/null
pg_restore --clean --if-exists --no-owner --exit-on-error --single-transaction --dbname="$url" "$file"
echo "restored $file into $db"
