#!/usr/bin/env bash
# Builds compose-oracle (e2e/tools/compose-oracle: compose-spec/compose-go, the loader `docker
# compose config` uses), the reference the differential conformance test compares our loader with.
#
#   bash e2e/build-oracle.sh                 build it if missing; the binary's path is the last line of stdout
#   bash e2e/build-oracle.sh --print-path    only print that path (nothing is built)
#
# Cached like the control-plane tools (e2e/build-tools.sh), but under a key of its own: a hash of
# the module's go.mod, go.sum and source and the Go version, in
# ${XDG_CACHE_HOME:-$HOME/.cache}/compose-operator/oracle-<key>/compose-oracle. Changing the
# oracle never rebuilds the control plane, and the reverse. Needs Go and the Go module proxy.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
module="$here/tools/compose-oracle"

export GOTOOLCHAIN=local GOWORK=off CGO_ENABLED=0 GOFLAGS="-mod=readonly -buildvcs=false"

log() { printf '%s build-oracle: %s\n' "$(date '+%Y-%m-%d %H:%M:%S')" "$*" >&2; }

command -v go >/dev/null || { log "error: Go is not installed (the module needs Go $(sed -n 's/^go //p' "$module/go.mod") or newer)"; exit 1; }

key="$( {
  echo "go=$(go env GOVERSION) $(go env GOOS)/$(go env GOARCH)"
  cat "$module/go.mod" "$module/go.sum" "$module"/*.go
} | sha256sum | cut -c1-16)"
compose_go="$(sed -n 's#^require github.com/compose-spec/compose-go/v2 \(v[^ ]*\)$#\1#p' "$module/go.mod")"
dir="${XDG_CACHE_HOME:-$HOME/.cache}/compose-operator/oracle-compose-go-$compose_go-$key"
binary="$dir/compose-oracle"

case "${1:-}" in
  --print-path) echo "$binary"; exit 0 ;;
  "") ;;
  *) echo "usage: $0 [--print-path]" >&2; exit 2 ;;
esac

if [[ ! -x "$binary" ]]; then
  mkdir -p "$dir"
  log "building compose-oracle (compose-go $compose_go)..."
  start=$SECONDS
  (cd "$module" && go build -trimpath -ldflags "-s -w" -o "$dir/.compose-oracle.tmp" .)
  mv -f "$dir/.compose-oracle.tmp" "$binary"
  log "built compose-oracle in $((SECONDS - start))s"
fi
echo "$binary"
