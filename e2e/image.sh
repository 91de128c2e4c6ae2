#!/usr/bin/env bash
# OCI images without a container engine: each is one layer tarball we write with GNU tar
# (sorted names, fixed owners and timestamps, so the same input gives the same digest), turned
# into an image by crane (go-containerregistry) through a registry crane serves on loopback for
# the length of the build.
#
#   bash e2e/image.sh test-images DIR   e2e.local/busybox:1, e2e.local/pause:1 and e2e.local/whoami:1
#                                       as DIR/busybox.tar, DIR/pause.tar and DIR/whoami.tar
#                                       (docker-archive tarballs, what `ctr images import` reads)
#   bash e2e/image.sh operator [BINARY] the operator's image, e2e.local/compose-operator:<version>
#                                       and the Dockerfile's contents, from the static musl binary
#                                       (built by e2e/static-build.sh when BINARY is not given):
#                                       target/oci/compose-operator/ (OCI image layout) and
#                                       target/oci/compose-operator.tar (docker-archive); prints
#                                       the manifest digest as the last line
#
# Honours CARGO_TARGET_DIR. Needs GNU tar and crane (e2e/build-tools.sh --group release).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(dirname "$here")"

log() { printf '%s image: %s\n' "$(date '+%H:%M:%S')" "$*" >&2; }
die() { log "error: $*"; exit 1; }

# The one applet list tests may rely on (e2e/README.md); every other applet of Debian's
# busybox-static is linked too.
busybox_applets=(sh httpd wget nc sleep id stat cat env hostname ls echo date timeout nslookup)

work="$(mktemp -d)"
registry_pid=""
cleanup() {
  if [[ -n "$registry_pid" ]]; then
    kill "$registry_pid" 2>/dev/null || true
    wait "$registry_pid" 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT

crane_bin() {
  local dir
  dir="$(bash "$here/build-tools.sh" --group release | tail -n1)"
  [[ -x "$dir/crane" ]] || die "build-tools.sh did not build crane"
  echo "$dir/crane"
}

# A registry on a free loopback port, in memory, gone when this script ends.
start_registry() {
  "$crane" registry serve --address 127.0.0.1:0 >"$work/registry.log" 2>&1 &
  registry_pid=$!
  local deadline=$((SECONDS + 30))
  until registry_port="$(sed -n 's/.*serving on port \([0-9]*\).*/\1/p' "$work/registry.log")" && [[ -n "$registry_port" ]]; do
    kill -0 "$registry_pid" 2>/dev/null || die "crane registry serve exited: $(cat "$work/registry.log")"
    ((SECONDS < deadline)) || die "crane registry serve did not start"
    sleep 0.1
  done
  registry="127.0.0.1:$registry_port"
}

# layer_tar ROOTFS OUT: a reproducible tarball of ROOTFS (owners as in ROOTFS, numeric).
layer_tar() {
  (cd "$1" && find . -mindepth 1 | LC_ALL=C sort | sed 's|^\./||') >"$work/files"
  tar --create --file "$2" --directory "$1" --no-recursion --files-from "$work/files" \
    --numeric-owner --mtime=@0 --format=posix --pax-option=exthdr.name=%d/PaxHeaders/%f,delete=atime,delete=ctime
}

# image LAYER REPO:TAG MUTATE-ARGS...: pushes the one-layer image to the loopback registry with
# its config set, and prints the registry reference.
image() {
  local layer="$1" name="$2"; shift 2
  local ref="$registry/${name#*/}"
  "$crane" append --oci-empty-base -f "$layer" -t "$ref-layer" >/dev/null 2>"$work/crane.log" \
    || die "crane append failed: $(cat "$work/crane.log")"
  "$crane" mutate "$ref-layer" --set-platform linux/amd64 "$@" -t "$ref" >/dev/null 2>"$work/crane.log" \
    || die "crane mutate failed: $(cat "$work/crane.log")"
  echo "$ref"
}

# docker_archive REF NAME OUT: the image at REF as a docker-archive tarball tagged NAME.
docker_archive() {
  "$crane" mutate "$1" -t "$2" -o "$3" >/dev/null 2>"$work/crane.log" || die "crane could not write $3: $(cat "$work/crane.log")"
}

busybox_rootfs() { # DIR
  local dir="$1" busybox applet
  busybox="$(command -v busybox 2>/dev/null || true)"
  if [[ -z "$busybox" ]] || ! file -b "$busybox" | grep -q 'statically linked'; then
    busybox=/bin/busybox
    if ! file -b "$busybox" 2>/dev/null | grep -q 'statically linked'; then
      if [[ "$(id -u)" != 0 ]] || ! command -v apt-get >/dev/null; then
        die "a static busybox is needed (Debian: apt-get install busybox-static)"
      fi
      log "installing busybox-static"
      apt-get update -qq >&2
      DEBIAN_FRONTEND=noninteractive apt-get install -y -qq busybox-static >&2
    fi
  fi
  mkdir -p "$dir/bin" "$dir/etc" "$dir/tmp" "$dir/root" "$dir/home/user" "$dir/var/www"
  cp "$busybox" "$dir/bin/busybox"
  for applet in $("$dir/bin/busybox" --list) "${busybox_applets[@]}"; do
    [[ "$applet" == busybox || -e "$dir/bin/$applet" ]] || ln -s busybox "$dir/bin/$applet"
  done
  for applet in "${busybox_applets[@]}"; do
    [[ -L "$dir/bin/$applet" ]] || die "busybox has no applet $applet"
  done
  printf '%s\n' 'root:x:0:0:root:/root:/bin/sh' 'user:x:1000:1000:user:/home/user:/bin/sh' \
    'nobody:x:65534:65534:nobody:/nonexistent:/bin/false' >"$dir/etc/passwd"
  printf '%s\n' 'root:x:0:' 'user:x:1000:' 'nogroup:x:65534:' >"$dir/etc/group"
  # Static glibc resolves names itself with files and dns (no NSS modules to load).
  echo 'hosts: files dns' >"$dir/etc/nsswitch.conf"
  chmod 1777 "$dir/tmp"
  chown -R 0:0 "$dir" 2>/dev/null || true
  chown 1000:1000 "$dir/home/user" 2>/dev/null || true
}

cmd_test_images() {
  local out="$1"
  mkdir -p "$out"
  crane="$(crane_bin)"
  start_registry
  busybox_rootfs "$work/busybox"
  layer_tar "$work/busybox" "$work/busybox.tar"
  local ref
  ref="$(image "$work/busybox.tar" e2e.local/busybox:1 --env PATH=/bin --cmd sh)"
  docker_archive "$ref" e2e.local/busybox:1 "$out/busybox.tar"
  # The sandbox image: the same layer, sleeping until the pod goes away.
  ref="$(image "$work/busybox.tar" e2e.local/pause:1 --env PATH=/bin \
    --entrypoint "/bin/sh,-c,trap 'exit 0' TERM INT; while :; do sleep 3600 & wait; done")"
  docker_archive "$ref" e2e.local/pause:1 "$out/pause.tar"
  # A web server that answers with its hostname (the pod's name), like the swarm tutorial's
  # image: requests spread over replicas show as different answers.
  ref="$(image "$work/busybox.tar" e2e.local/whoami:1 --env PATH=/bin \
    --entrypoint "/bin/sh,-c,hostname >/tmp/index.html && exec httpd -f -p 80 -h /tmp")"
  docker_archive "$ref" e2e.local/whoami:1 "$out/whoami.tar"
  log "e2e.local/busybox:1, e2e.local/pause:1 and e2e.local/whoami:1 in $out"
}

# The Dockerfile's final stage, without a container engine; a test checks the built image's
# config against the Dockerfile itself (tests/image.rs).
cmd_operator() {
  local binary="${1:-}" version target_dir out
  version="$(sed -n 's/^version = "\(.*\)"/\1/p' "$root/Cargo.toml" | head -n1)"
  target_dir="${CARGO_TARGET_DIR:-$root/target}"
  if [[ -z "$binary" ]]; then
    binary="$(bash "$here/static-build.sh" | tail -n1)"
  fi
  [[ -x "$binary" ]] || die "$binary is not an executable"
  crane="$(crane_bin)"
  start_registry
  # distroless/static-debian12:nonroot's contents that matter: CA certificates, passwd/group
  # with root and nonroot (65532), nonroot's home, /tmp.
  local rootfs="$work/operator"
  mkdir -p "$rootfs/usr/local/bin" "$rootfs/etc/ssl/certs" "$rootfs/home/nonroot" "$rootfs/tmp"
  install -m 0755 "$binary" "$rootfs/usr/local/bin/compose-operator"
  [[ -f /etc/ssl/certs/ca-certificates.crt ]] || die "/etc/ssl/certs/ca-certificates.crt is missing (Debian: apt-get install ca-certificates)"
  install -m 0644 /etc/ssl/certs/ca-certificates.crt "$rootfs/etc/ssl/certs/ca-certificates.crt"
  printf '%s\n' 'root:x:0:0:root:/root:/sbin/nologin' 'nobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin' \
    'nonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin' >"$rootfs/etc/passwd"
  printf '%s\n' 'root:x:0:' 'nobody:x:65534:' 'nonroot:x:65532:' >"$rootfs/etc/group"
  chmod 1777 "$rootfs/tmp"
  chmod 0700 "$rootfs/home/nonroot"
  chown -R 0:0 "$rootfs" 2>/dev/null || true
  chown 65532:65532 "$rootfs/home/nonroot" 2>/dev/null || log "warning: not root, /home/nonroot is owned by root in the image"
  layer_tar "$rootfs" "$work/operator.tar"

  local name="e2e.local/compose-operator:$version" ref
  ref="$(image "$work/operator.tar" "$name" \
    --env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    --env SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt \
    --label org.opencontainers.image.title=compose-operator \
    --label "org.opencontainers.image.description=Run docker-compose / swarm stacks on Kubernetes" \
    --label org.opencontainers.image.licenses=Apache-2.0 \
    --user 65532:65532 --workdir /home/nonroot --exposed-ports 8080/tcp \
    --entrypoint /usr/local/bin/compose-operator --cmd run)"
  out="$target_dir/oci"
  mkdir -p "$out"
  rm -rf "$out/compose-operator" "$out/compose-operator.tar"
  "$crane" pull --format=oci "$ref" "$out/compose-operator" 2>"$work/crane.log" || die "crane pull failed: $(cat "$work/crane.log")"
  docker_archive "$ref" "$name" "$out/compose-operator.tar"
  local digest
  digest="$("$crane" digest "$ref")"
  echo "$name" >"$out/compose-operator.name"
  log "$name $digest: $out/compose-operator (OCI layout), $out/compose-operator.tar (docker-archive)"
  echo "$digest"
}

case "${1:-}" in
  test-images) [[ $# == 2 ]] || die "usage: $0 test-images DIR"; cmd_test_images "$2" ;;
  operator) cmd_operator "${2:-}" ;;
  *) echo "usage: $0 test-images DIR | operator [BINARY]" >&2; exit 2 ;;
esac
