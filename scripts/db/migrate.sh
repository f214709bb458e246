#!/usr/bin/env bash
# Versioned SQL migrations: apply, revert, show and verify them.
set -euo pipefail
# shellcheck source=lib.sh disable=SC1091
. "$(dirname "$0")/lib.sh"

# Key of the session-level advisory lock held for the whole run, so that two
# runs (two deploys, a deploy and a developer) never interleave.
LOCK_KEY=7302470001

usage() {
  cat <<'USAGE'
Usage: scripts/db/migrate.sh [--database-url URL] [--dir DIR] COMMAND

Commands:
  up        apply every pending migration, in version order
  down N    revert the N most recently applied migrations
  status    list migrations: applied (with date) or pending
  verify    check that applied migrations' files are present and unchanged

Migrations are DIR/NNNN_name.up.sql with DIR/NNNN_name.down.sql (default DIR:
scripts/db/migrations, or IHR_MIGRATIONS_DIR). Each one runs in its own
transaction together with its row in schema_migrations (version, name,
checksum = sha256 of the up file, applied_at). Every command refuses to run
when an applied migration's file was edited or removed. The database URL
defaults to IHR_DATABASE_URL.
USAGE
}

url="$IHR_DATABASE_URL"
dir="${IHR_MIGRATIONS_DIR:-$(dirname "$0")/migrations}"
while [ $# -gt 0 ]; do
  case "$1" in
    -h|--help) usage; exit 0 ;;
    --database-url) [ $# -ge 2 ] || die "--database-url needs a value"; url="$2"; shift 2 ;;
    --dir) [ $# -ge 2 ] || die "--dir needs a value"; dir="$2"; shift 2 ;;
    -*) usage >&2; exit 2 ;;
    *) break ;;
  esac
done
[ $# -ge 1 ] || { usage >&2; exit 2; }
cmd="$1"
shift
[ -d "$dir" ] || die "no migrations directory $dir"

# The migration files, as "version name checksum" lines in version order.
files() {
  local f base version
  for f in "$dir"/*.up.sql; do
    [ -e "$f" ] || continue
    base=$(basename "$f" .up.sql)
    [[ "$base" =~ ^([0-9]+)_[a-z0-9_]+$ ]] || die "bad migration file name $f (want NNNN_name.up.sql)"
    version=$((10#${BASH_REMATCH[1]}))
    [ -f "$dir/$base.down.sql" ] || die "missing $dir/$base.down.sql"
    printf '%s %s %s\n' "$version" "$base" "$(sha256sum "$f" | cut -d' ' -f1)"
  done | sort -n
}

# quote TEXT: an SQL string literal.
quote() { printf "'%s'" "${1//\'/\'\'}"; }

# preamble: lock, create the ledger, load the files' checksums and refuse to
# go on when an applied migration's file is missing or was edited.
preamble() {
  local version name sum
  cat <<SQL
SET client_min_messages = warning;
SELECT pg_advisory_lock($LOCK_KEY) \gset lock_
CREATE TABLE IF NOT EXISTS schema_migrations (
    version    bigint      PRIMARY KEY,
    name       text        NOT NULL,
    checksum   text        NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now()
);
CREATE TEMP TABLE migration_files (version bigint PRIMARY KEY, name text NOT NULL, checksum text NOT NULL);
SQL
  while read -r version name sum; do
    printf 'INSERT INTO migration_files VALUES (%s, %s, %s);\n' "$version" "$(quote "$name")" "$(quote "$sum")"
  done < <(files)
  cat <<'SQL'
DO $check$
DECLARE bad text;
BEGIN
    SELECT string_agg(m.name || CASE WHEN f.version IS NULL THEN ' (file missing)' ELSE ' (file edited since it was applied)' END, ', ')
    INTO bad
    FROM schema_migrations m LEFT JOIN migration_files f USING (version)
    WHERE f.version IS NULL OR f.checksum <> m.checksum;
    IF bad IS NOT NULL THEN
        RAISE EXCEPTION 'refusing to migrate: applied migrations changed: %', bad
            USING HINT = 'never edit an applied migration: add a new one';
    END IF;
END
$check$;
SET client_min_messages = notice;
SQL
}

script_up() {
  local version name sum
  preamble
  while read -r version name sum; do
    cat <<SQL
SELECT NOT EXISTS (SELECT 1 FROM schema_migrations WHERE version = $version) AS pending \gset
\if :pending
BEGIN;
\i $(quote "$dir/$name.up.sql")
INSERT INTO schema_migrations (version, name, checksum) VALUES ($version, $(quote "$name"), $(quote "$sum"));
COMMIT;
\echo applied $name
\endif
SQL
  done < <(files)
}

script_down() {
  local n="$1" version name sum
  preamble
  echo "CREATE TEMP TABLE to_revert AS SELECT version FROM schema_migrations ORDER BY version DESC LIMIT $n;"
  while read -r version name sum; do
    cat <<SQL
SELECT EXISTS (SELECT 1 FROM to_revert WHERE version = $version) AS revert \gset
\if :revert
BEGIN;
\i $(quote "$dir/$name.down.sql")
DELETE FROM schema_migrations WHERE version = $version;
COMMIT;
\echo reverted $name
\endif
SQL
  done < <(files | sort -rn)
}

script_status() {
  preamble
  cat <<'SQL'
SELECT format('%s  %-40s %s', lpad(f.version::text, 4, '0'), f.name,
              coalesce('applied ' || to_char(m.applied_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS'), 'pending'))
FROM migration_files f LEFT JOIN schema_migrations m USING (version)
ORDER BY f.version;
SQL
}

execute() { run_psql --no-psqlrc -t -A "$url" -f -; }

require_server "$url"
case "$cmd" in
  up)
    [ $# -eq 0 ] || die "up takes no argument"
    script_up | execute
    ;;
  down)
    if [ $# -ne 1 ] || ! [[ "$1" =~ ^[1-9][0-9]*$ ]]; then
      die "down needs a positive number of migrations to revert"
    fi
    script_down "$1" | execute
    ;;
  status)
    script_status | execute
    ;;
  verify)
    preamble | execute
    echo "applied migrations match their files"
    ;;
  *)
    usage >&2
    exit 2
    ;;
esac
