# shellcheck shell=bash
# Shared by the scripts in scripts/db: configuration and URL handling.
# Sourced, never run.

IHR_DATABASE_URL="${IHR_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/ihr?sslmode=disable}"

die() {
  echo "${0##*/}: $*" >&2
  exit 1
}

# psql without ~/.psqlrc, stopping at the first error, quietly.
run_psql() {
  psql -X -q -v ON_ERROR_STOP=1 "$@"
}

# db_name URL: the database a postgres:// URL names.
db_name() {
  local base="${1%%\?*}"
  local name="${base##*/}"
  if [ -z "$name" ] || [ "$name" = "$base" ]; then
    die "no database name in URL $(redact "$1")"
  fi
  printf '%s\n' "$name"
}

# db_user URL: the user a postgres:// URL names (default postgres).
db_user() {
  local rest="${1#*://}"
  rest="${rest%%/*}"
  if [[ "$rest" == *@* ]]; then
    rest="${rest%@*}"
    printf '%s\n' "${rest%%:*}"
  else
    printf 'postgres\n'
  fi
}

# with_db URL NAME: the same URL pointing at database NAME.
with_db() {
  local base="${1%%\?*}" query=""
  [[ "$1" == *\?* ]] && query="?${1#*\?}"
  printf '%s/%s%s\n' "${base%/*}" "$2" "$query"
}

# admin_url URL: where to create roles and databases: IHR_ADMIN_DATABASE_URL, or
# the maintenance database "postgres" on the same server.
admin_url() {
  printf '%s\n' "${IHR_ADMIN_DATABASE_URL:-$(with_db "$1" postgres)}"
}

# redact URL: hide a password before printing a URL.
redact() {
  printf '%s\n' "$1" | sed -E 's#(://[^:/@]+):[^@/]*@#\1:xxxxx@#'
}

# require_server URL: fail with a clear message when the server does not answer.
require_server() {
  if ! psql -X -q -c 'SELECT 1' "$(admin_url "$1")" >/dev/null 2>&1 && ! psql -X -q -c 'SELECT 1' "$1" >/dev/null 2>&1; then
    die "PostgreSQL does not answer at $(redact "$1"); start it (e.g. pg_ctlcluster --skip-systemctl-redirect \$(ls /etc/postgresql) main start)"
  fi
}
