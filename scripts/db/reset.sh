#!/usr/bin/env bash
# Developer tool: drop the database, create it again and migrate it.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

usage() {
  cat <<'USAGE'
Usage: scripts/db/reset.sh [--database-url URL] [--yes]

Drops the database (default: IHR_DATABASE_URL), creates it again and applies
every migration. All its data is lost: asks for confirmation on a terminal,
and needs --yes otherwise. Refuses to run when IHR_ENV=prod.
USAGE
}

url="$IHR_DATABASE_URL"
yes=false
while [ $# -gt 0 ]; do
  case "$1" in
    -h|--help) usage; exit 0 ;;
    --database-url) [ $# -ge 2 ] || die "--database-url needs a value"; url="$2"; shift 2 ;;
    --yes) yes=true; shift ;;
    *) echo "${0##*/}: unexpected argument $1" >&2; usage >&2; exit 2 ;;
  esac
done
[ "${IHR_ENV:-dev}" != prod ] || die "refusing to reset a database with IHR_ENV=prod"

db=$(db_name "$url")
case "$db" in
  postgres|template0|template1) die "refusing to drop the system database $db" ;;
esac
if ! $yes; then
  [ -t 0 ] || die "resetting deletes every row of $db; run again with --yes"
  read -r -p "Drop and recreate database $db? [y/N] " answer
  [ "$answer" = y ] || [ "$answer" = Y ] || die "cancelled"
fi

require_server "$url"
run_psql -v db="$db" "$(admin_url "$url")" <<'SQL'
SELECT format('DROP DATABASE IF EXISTS %I WITH (FORCE)', :'db') \gexec
SQL
"$(dirname "$0")/init.sh" --database-url "$url"
"$(dirname "$0")/migrate.sh" --database-url "$url" up
