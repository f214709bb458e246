#!/usr/bin/env bash
# Refresh the vendored swagger-ui-dist files the query service embeds for
# its docs page (services/query/internal/docs/swagger-ui/), from npm.
set -euo pipefail

usage() { echo "Usage: scripts/dev/update-swagger-ui.sh [VERSION]   (default: the version in VERSION file)"; }
case "${1:-}" in -h|--help) usage; exit 0 ;; esac

dest="$(cd "$(dirname "$0")/../.." && pwd)/services/query/internal/docs/swagger-ui"
version="${1:-$(cat "$dest/VERSION")}"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
(cd "$work" && npm pack --silent "swagger-ui-dist@$version" >/dev/null && tar xzf swagger-ui-dist-*.tgz)
for f in swagger-ui-bundle.js swagger-ui-bundle.js.LICENSE.txt swagger-ui.css LICENSE NOTICE favicon-32x32.png; do
  cp "$work/package/$f" "$dest/$f"
done
echo "$version" >"$dest/VERSION"
echo "swagger-ui-dist $version copied to $dest"
