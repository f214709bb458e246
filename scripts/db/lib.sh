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
  if [ -z "$name" ] || [ "$name" = "$base" ] || [[ "$base" != *://*/* ]]; then
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

# db_password URL: the password a postgres:// URL holds, percent-decoded (empty if none).
db_password() {
  local rest="${1#*://}"
  rest="${rest%%/*}"
  [[ "$rest" == *@* ]] || return 0
  rest="${rest%@*}"
  [[ "$rest" == *:* ]] || return 0
  rest="${rest#*:}"
  printf '%b\n' "${rest//%/\\x}"
}

# with_db URL NAME: the same URL pointing at database NAME.
with_db() {
  local base="${1%%\?*}" query=""
  [[ "$1" == *\?* ]] && query="?${1#*\?}"
  printf '%s/%s%s\n' "${base%/*}" "$2" "$query"
}

# with_user URL USER: the same URL connecting as USER, without a password.
with_user() {
  local scheme="${1%%://*}" rest="${1#*://}"
  [[ "${rest%%/*}" == *@* ]] && rest="${rest#*@}"
  printf '%s://%s@%s\n' "$scheme" "$2" "$rest"
}

# can_connect URL: whether psql can open a session at URL.
can_connect() {
  psql -X -q -w -c 'SELECT 1' "$1" >/dev/null 2>&1
}

# admin_url URL: where to create roles and databases. IHR_ADMIN_DATABASE_URL
# when set; else the maintenance database "postgres" on the same server, as
# the URL's user, or as the bootstrap superuser "postgres" while the URL's
# role does not exist yet.
admin_url() {
  if [ -n "${IHR_ADMIN_DATABASE_URL:-}" ]; then
    printf '%s\n' "$IHR_ADMIN_DATABASE_URL"
    return
  fi
  local maint
  maint=$(with_db "$1" postgres)
  if ! can_connect "$maint" && can_connect "$(with_user "$maint" postgres)"; then
    maint=$(with_user "$maint" postgres)
  fi
  printf '%s\n' "$maint"
}

# redact URL: hide a password before printing a URL.
redact() {
  printf '%s\n' "$1" | sed -E 's#(://[^:/@]+):[^@/]*@#\1:xxxxx@#'
}

# require_server URL: fail with a clear message when the server does not answer.
require_server() {
  local out
  if out=$(psql -X -q -w -c 'SELECT 1' "$1" 2>&1 >/dev/null); then
    return
  fi
  # The database may just not exist yet (init.sh, restore.sh): ask the maintenance database.
  if can_connect "$(admin_url "$1")"; then
    return
  fi
  die "PostgreSQL does not answer at $(redact "$1"): ${out:-no answer}
start it (e.g. pg_ctlcluster --skip-systemctl-redirect \$(ls /etc/postgresql) main start) or fix the URL"
}
