#!/usr/bin/env bash
# The container image's build, without a container engine: the same static musl build the
# Dockerfile's first stage runs, then checks that the result really is static and works.
#
#   bash e2e/static-build.sh            build target/x86_64-unknown-linux-musl/release/compose-operator
#
# Honours CARGO_TARGET_DIR. Installs what is missing: the Rust musl target (rustup) and, as root
# on Debian/Ubuntu, musl-tools (musl-gcc, which ring's C and assembly sources are compiled with).
# The project uses rustls, so no OpenSSL is linked. Prints the binary's path as the last line.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

target=x86_64-unknown-linux-musl
log() { printf '%s static-build: %s\n' "$(date '+%H:%M:%S')" "$*" >&2; }
die() { log "error: $*"; exit 1; }

if ! rustup target list --installed | grep -qx "$target"; then
  log "adding the Rust target $target"
  rustup target add "$target" >&2
fi
if ! command -v musl-gcc >/dev/null; then
  if [[ "$(id -u)" == 0 ]] && command -v apt-get >/dev/null; then
    log "installing musl-tools"
    apt-get update -qq >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq musl-tools >&2
  else
    die "musl-gcc is needed (Debian/Ubuntu: apt-get install musl-tools)"
  fi
fi

started=$SECONDS
log "cargo build --release --locked --target $target"
cargo build --release --locked --target "$target" --bin compose-operator >&2
log "built in $((SECONDS - started))s"

bin="${CARGO_TARGET_DIR:-target}/$target/release/compose-operator"
[[ -x "$bin" ]] || die "$bin was not built"

# Static: no interpreter, no shared libraries (a scratch or distroless/static image has none).
description="$(file -b "$bin")"
[[ "$description" == *"statically linked"* || "$description" == *"static-pie linked"* ]] \
  || die "$bin is not statically linked: $description"
if ldd "$bin" >/dev/null 2>&1 && ! ldd "$bin" 2>&1 | grep -qi "statically linked\|not a dynamic executable"; then
  die "ldd lists shared libraries for $bin: $(ldd "$bin" 2>&1)"
fi
if readelf -d "$bin" 2>/dev/null | grep -q NEEDED; then
  die "$bin has NEEDED entries: $(readelf -d "$bin" | grep NEEDED)"
fi

# It runs, and prints the CRD that is checked in (so the image ships the same API).
"$bin" --version >&2
"$bin" crd | cmp -s - crds/composestack.yaml || die "$bin crd differs from crds/composestack.yaml"
log "ok: $(du -h "$bin" | cut -f1) $description"
echo "$bin"
