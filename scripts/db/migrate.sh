#!/usr/bin/env bash
# Versioned SQL migrations: apply, revert, show and verify them.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

# Key of the session-level advisory lock held for the whole run, so that two
# runs on one database (two deploys, a deploy and a developer) never
# interleave. Advisory locks are per database: runs on different databases do
# not wait for each other. Documented in docs/operations.md; never change it.
LOCK_KEY=7302470001

usage() {
  cat <<'USAGE'
Usage: scripts/db/migrate.sh [--database-url URL] [--dir DIR] COMMAND

Commands:
  up [N]    apply the pending migrations (the N first ones if N is given), in version order
  down N    revert the N most recently applied migrations
  status    list migrations: version, name, applied (with date) or pending
  verify    check that applied migrations' files are present and unchanged; changes nothing
  baseline N
            record the migrations up to version N as applied without running
            them, for a database whose schema they already describe (the
            legacy production database: baseline 7, see docs/migration.md);
            refused when a later migration is applied

Migrations are DIR/NNNN_name.up.sql with DIR/NNNN_name.down.sql (default DIR:
scripts/db/migrations, or IHR_MIGRATIONS_DIR). Each one runs in its own
transaction together with its row in schema_migrations (version, name,
checksum = sha256 of the up file, applied_at); migration files must not
contain BEGIN/COMMIT themselves. One psql session does the whole run while
holding the advisory lock 7302470001, so concurrent runs wait for each other.
Every command refuses to run when an applied migration's file was edited or
removed. The database URL defaults to IHR_DATABASE_URL.
USAGE
}

url="$IHR_DATABASE_URL"
dir="${IHR_MIGRATIONS_DIR:-$(dirname "$0")/migrations}"
while [ $# -gt 0 ]; do
  case "$1" in
    -h|--help) usage; exit 0 ;;
    --database-url) [ $# -ge 2 ] || die "--database-url needs a value"; url="$2"; shift 2 ;;
    --dir) [ $# -ge 2 ] || die "--dir needs a value"; dir="$2"; shift 2 ;;
    -*) echo "${0##*/}: unknown option $1" >&2; usage >&2; exit 2 ;;
    *) break ;;
  esac
done
[ $# -ge 1 ] || { echo "${0##*/}: missing command" >&2; usage >&2; exit 2; }
cmd="$1"
shift
[ -d "$dir" ] || die "no migrations directory $dir"

# list_files: the migration files, as "version name checksum" lines in
# version order. Fails on a badly named file or a missing down file.
list_files() {
  local f base version
  for f in "$dir"/*.up.sql; do
    [ -e "$f" ] || continue
    base=$(basename "$f" .up.sql)
    [[ "$base" =~ ^([0-9]+)_[a-z0-9_]+$ ]] || die "bad migration file name $f (want NNNN_name.up.sql)"
    version=$((10#${BASH_REMATCH[1]}))
    [ -f "$dir/$base.down.sql" ] || die "missing $dir/$base.down.sql (every up file needs its down file)"
    printf '%s %s %s\n' "$version" "$base" "$(sha256sum "$f" | cut -d' ' -f1)"
  done | sort -n
}

# Read once, before any SQL is generated: a bad directory stops the run
# before psql starts.
listing=$(list_files)
dups=$(printf '%s\n' "$listing" | cut -d' ' -f1 | uniq -d | tr '\n' ' ')
[ -z "$dups" ] || die "several migrations in $dir share the version(s) $dups"

files() { [ -z "$listing" ] || printf '%s\n' "$listing"; }

# quote TEXT: an SQL string literal (also a psql meta-command argument).
quote() { printf "'%s'" "${1//\'/\'\'}"; }

# preamble LEDGER: take the lock, load the files' checksums and refuse to go
# on when an applied migration's file is missing or was edited. With
# LEDGER=create the schema_migrations table is created when missing; with
# LEDGER=read a missing one reads as empty and nothing is written.
preamble() {
  local version name sum
  cat <<SQL
SET client_min_messages = warning;
SELECT pg_advisory_lock($LOCK_KEY) \gset lock_
SQL
  if [ "$1" = create ]; then
    echo 'CREATE TABLE IF NOT EXISTS public.schema_migrations ('
  else
    # A temporary table of the same name shadows the missing ledger.
    cat <<'SQL'
SELECT to_regclass('public.schema_migrations') IS NULL AS no_ledger \gset
\if :no_ledger
CREATE TEMP TABLE schema_migrations (
SQL
  fi
  cat <<'SQL'
    version    bigint      PRIMARY KEY,
    name       text        NOT NULL,
    checksum   text        NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now()
);
SQL
  [ "$1" = create ] || printf '%s\n' '\endif'
  echo "CREATE TEMP TABLE migration_files (version bigint PRIMARY KEY, name text NOT NULL, checksum text NOT NULL);"
  while read -r version name sum; do
    printf 'INSERT INTO migration_files VALUES (%s, %s, %s);\n' "$version" "$(quote "$name")" "$(quote "$sum")"
  done < <(files)
  cat <<'SQL'
DO $check$
DECLARE bad text;
BEGIN
    SELECT string_agg(m.name || CASE WHEN f.version IS NULL THEN '.up.sql (file missing)'
                                     ELSE '.up.sql (file edited since it was applied)' END, ', ' ORDER BY m.version)
    INTO bad
    FROM schema_migrations m LEFT JOIN migration_files f USING (version)
    WHERE f.version IS NULL OR f.checksum <> m.checksum;
    IF bad IS NOT NULL THEN
        RAISE EXCEPTION 'refusing to run: applied migrations changed: %', bad
            USING HINT = 'never edit or remove an applied migration: add a new one';
    END IF;
END
$check$;
SET client_min_messages = notice;
SQL
}

# script_up N: apply the N first pending migrations (N empty: all of them).
script_up() {
  local limit="${1:-ALL}" version name sum
  preamble create
  cat <<SQL
CREATE TEMP TABLE to_apply AS
    SELECT version FROM migration_files f
    WHERE NOT EXISTS (SELECT 1 FROM schema_migrations m WHERE m.version = f.version)
    ORDER BY version LIMIT $limit;
SQL
  while read -r version name sum; do
    cat <<SQL
SELECT EXISTS (SELECT 1 FROM to_apply WHERE version = $version) AS apply \gset
\if :apply
BEGIN;
\i $(quote "$dir/$name.up.sql")
INSERT INTO schema_migrations (version, name, checksum) VALUES ($version, $(quote "$name"), $(quote "$sum"));
COMMIT;
\echo applied $name
\endif
SQL
  done < <(files)
}

# script_down N: revert the N most recently applied migrations.
script_down() {
  local n="$1" version name sum
  preamble create
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

# script_baseline N: record the migrations up to version N as applied,
# running none of them, in one transaction.
script_baseline() {
  local upto="$1" version name sum
  preamble create
  cat <<SQL
DO \$baseline\$
BEGIN
    IF EXISTS (SELECT 1 FROM schema_migrations WHERE version > $upto) THEN
        RAISE EXCEPTION 'refusing to baseline: migrations after % are applied already', $upto;
    END IF;
END
\$baseline\$;
BEGIN;
SQL
  while read -r version name sum; do
    [ "$version" -le "$upto" ] || continue
    cat <<SQL
INSERT INTO schema_migrations (version, name, checksum) VALUES ($version, $(quote "$name"), $(quote "$sum"))
    ON CONFLICT (version) DO NOTHING;
\echo recorded $name
SQL
  done < <(files)
  echo 'COMMIT;'
}

script_status() {
  preamble read
  cat <<'SQL'
SELECT format('%s  %-40s %s', lpad(f.version::text, 4, '0'), f.name,
              coalesce('applied ' || to_char(m.applied_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS "UTC"'), 'pending'))
FROM migration_files f LEFT JOIN schema_migrations m USING (version)
ORDER BY f.version;
SQL
}

# Everything goes through one psql session: the advisory lock taken by the
# preamble is held until psql exits, across the per-migration transactions.
execute() { run_psql -t -A "$url" -f -; }

positive() { [[ "$1" =~ ^[1-9][0-9]*$ ]]; }

case "$cmd" in
  up)
    [ $# -le 1 ] || die "up takes at most one argument (the number of migrations to apply)"
    if [ $# -eq 1 ] && ! positive "$1"; then
      die "up N: N must be a positive number, not '$1'"
    fi
    require_server "$url"
    script_up "${1:-}" | execute
    ;;
  down)
    if [ $# -ne 1 ] || ! positive "$1"; then
      die "down needs a positive number of migrations to revert (down N)"
    fi
    require_server "$url"
    script_down "$1" | execute
    ;;
  status)
    [ $# -eq 0 ] || die "status takes no argument"
    require_server "$url"
    script_status | execute
    ;;
  baseline)
    if [ $# -ne 1 ] || ! [[ "$1" =~ ^[0-9]+$ ]]; then
      die "baseline needs the version of the last migration the schema already has (baseline N)"
    fi
    upto=$((10#$1))
    files | awk -v n="$upto" '$1 == n { found = 1 } END { exit !found }' || die "baseline $1: no migration has version $1"
    require_server "$url"
    script_baseline "$upto" | execute
    ;;
  verify)
    [ $# -eq 0 ] || die "verify takes no argument"
    require_server "$url"
    preamble read | execute
    echo "applied migrations match their files"
    ;;
  *)
    echo "${0##*/}: unknown command $cmd" >&2
    usage >&2
    exit 2
    ;;
esac
