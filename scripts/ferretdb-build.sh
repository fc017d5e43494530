#!/usr/bin/env bash
# Prints the path of a FerretDB binary, building it with Go into the cache the first time:
# bash scripts/ferretdb-build.sh. FERRETDB_VERSION (v1.24.2) and KYC_CI_CACHE
# (~/.cache/kyc-back-office-ci) choose the version and the cache. Build output goes to stderr.
#
# `go install` of FerretDB v1.24.2 gives a binary that panics at start, because the module
# ships without build/version/version.txt. A copy of the module with that file written
# builds a working binary.
set -euo pipefail
VERSION=${FERRETDB_VERSION:-v1.24.2}
CACHE=${KYC_CI_CACHE:-$HOME/.cache/kyc-back-office-ci}
BIN="$CACHE/ferretdb-$VERSION/ferretdb"
if ! [ -x "$BIN" ]; then
  if ! command -v go >/dev/null; then
    echo "FerretDB is not built yet and Go is not installed: install Go, or set MONGO_URI." >&2
    exit 1
  fi
  echo "Building FerretDB $VERSION (a few minutes the first time)" >&2
  module_dir=$(go mod download -json "github.com/FerretDB/FerretDB@$VERSION" | sed -n 's/^\s*"Dir": "\(.*\)",$/\1/p')
  build_dir=$(mktemp -d)
  cp -r "$module_dir/." "$build_dir/"
  chmod -R u+w "$build_dir"
  echo "$VERSION" > "$build_dir/build/version/version.txt"
  mkdir -p "$(dirname "$BIN")"
  (cd "$build_dir" && go build -trimpath -o "$BIN" ./cmd/ferretdb) >&2
  rm -rf "$build_dir"
fi
echo "$BIN"
