#!/usr/bin/env bash
# Create the role and the database named by IHR_DATABASE_URL when missing. Idempotent.
set -euo pipefail
# shellcheck source=lib.sh disable=SC1091
. "$(dirname "$0")/lib.sh"

usage() {
  cat <<'USAGE'
Usage: scripts/db/init.sh [--database-url URL]

Creates the role and the database named by the URL (default: IHR_DATABASE_URL,
postgres://postgres@127.0.0.1:5432/ihr?sslmode=disable) if they do not exist.
Roles and databases are created through IHR_ADMIN_DATABASE_URL (default: the
"postgres" database on the same server). Running it again changes nothing.
USAGE
}

url="$IHR_DATABASE_URL"
while [ $# -gt 0 ]; do
  case "$1" in
    -h|--help) usage; exit 0 ;;
    --database-url) [ $# -ge 2 ] || die "--database-url needs a value"; url="$2"; shift 2 ;;
    *) usage >&2; exit 2 ;;
  esac
done

db=$(db_name "$url")
role=$(db_user "$url")
admin=$(admin_url "$url")
require_server "$url"

run_psql -v db="$db" -v role="$role" "$admin" <<'SQL'
SELECT format('CREATE ROLE %I LOGIN', :'role')
WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = :'role') \gexec
SELECT format('CREATE DATABASE %I OWNER %I', :'db', :'role')
WHERE NOT EXISTS (SELECT 1 FROM pg_database WHERE datname = :'db') \gexec
SQL
echo "database $db ready (owner $role)"
