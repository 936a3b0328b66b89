#!/usr/bin/env bash
# Runs every go test -fuzz target of the module for FUZZTIME each (first argument, default 30s)
# and keeps up to 15 of the inputs the fuzzer found interesting as seeds under the package's
# testdata/fuzz/<Target>/, where `go test` (and CI) replays them.
set -euo pipefail
cd "$(dirname "$0")/.."
fuzztime=${1:-30s}
cache="$(go env GOCACHE)/fuzz"
for pkg in $(go list ./...); do
  targets=$(go test -list '^Fuzz' "$pkg" 2>/dev/null | grep '^Fuzz' || true)
  [ -z "$targets" ] && continue
  dir=$(go list -f '{{.Dir}}' "$pkg")
  for target in $targets; do
    echo "== $pkg $target ($fuzztime)"
    go test -run '^$' -fuzz "^${target}\$" -fuzztime "$fuzztime" "$pkg"
    src="$cache/$pkg/$target"
    if [ -d "$src" ]; then
      mkdir -p "$dir/testdata/fuzz/$target"
      ls -t "$src" | head -15 | while read -r f; do cp -n "$src/$f" "$dir/testdata/fuzz/$target/" ; done
    fi
  done
done
