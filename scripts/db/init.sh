#!/usr/bin/env bash
# Create the role and the database named by IHR_DATABASE_URL when missing. Idempotent.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

usage() {
  cat <<'USAGE'
Usage: scripts/db/init.sh [--database-url URL]

Creates the role (LOGIN, with the URL's password if it has one) and the
database (owned by that role) named by the URL if they do not exist. The URL
defaults to IHR_DATABASE_URL, itself defaulting to
postgres://postgres@127.0.0.1:5432/ihr?sslmode=disable.

Roles and databases are created through IHR_ADMIN_DATABASE_URL, by default
the maintenance database "postgres" on the same server, as the URL's user or,
while that role does not exist yet, as "postgres". Running it again changes
nothing; an existing role or database is left as it is.
USAGE
}

url="$IHR_DATABASE_URL"
while [ $# -gt 0 ]; do
  case "$1" in
    -h|--help) usage; exit 0 ;;
    --database-url) [ $# -ge 2 ] || die "--database-url needs a value"; url="$2"; shift 2 ;;
    *) echo "${0##*/}: unexpected argument $1" >&2; usage >&2; exit 2 ;;
  esac
done

db=$(db_name "$url")
role=$(db_user "$url")
require_server "$url"
admin=$(admin_url "$url")

# The password goes through the environment, not the command line (ps shows that).
IHR_INIT_PASSWORD=$(db_password "$url") run_psql -v db="$db" -v role="$role" "$admin" <<'SQL'
\getenv password IHR_INIT_PASSWORD
\if :{?password}
\else
\set password ''
\endif
SELECT format('CREATE ROLE %I LOGIN', :'role') || CASE WHEN :'password' = '' THEN '' ELSE format(' PASSWORD %L', :'password') END
WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = :'role') \gexec
SELECT format('CREATE DATABASE %I OWNER %I', :'db', :'role')
WHERE NOT EXISTS (SELECT 1 FROM pg_database WHERE datname = :'db') \gexec
SQL
echo "database $db ready (owner $role)"
