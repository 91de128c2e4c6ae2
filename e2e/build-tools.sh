#!/usr/bin/env bash
# Builds the e2e cluster's binaries from Go modules (no Docker, no release downloads), in groups
# that are cached apart, so that a kwok-only run never builds the real node's pieces and adding
# or bumping a real-node tool never rebuilds kube-apiserver:
#
#   control-plane (default)  kube-apiserver, kube-controller-manager, kube-scheduler, kubectl,
#                            etcd, kwok, helm, kstatus
#   real-node                kubelet, kube-proxy, containerd, containerd-shim-runc-v2, ctr, runc,
#                            the CNI plugins bridge/host-local/loopback/portmap, coredns,
#                            kube-router (its NetworkPolicy firewall only)
#   release                  crane (OCI images: `make image`, the real node's test images),
#                            actionlint (the release workflow, `make lint`)
#
#   bash e2e/build-tools.sh [--group G]                  build what is missing; the bin dir is the last line of stdout
#   bash e2e/build-tools.sh [--group G] --print-bin-dir  only print the bin dir (nothing is built)
#
# The binaries go to ${XDG_CACHE_HOME:-$HOME/.cache}/compose-operator/tools-<key>/bin, where <key>
# is derived from the group's versions file, its tool modules' go.mod/go.sum (and own sources)
# and the Go version, so changing any of them builds that group into a fresh directory and
# unchanged inputs cost nothing. Progress goes to stderr. Needs Go (>= the modules' go
# directive) and the Go module proxy; the real-node group also needs a C compiler, pkg-config
# and libseccomp-dev for runc (installed with apt-get when missing and running as root).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
tools="$here/tools"
# shellcheck source-path=SCRIPTDIR source=versions.env
source "$here/versions.env"
# shellcheck source-path=SCRIPTDIR source=node-versions.env
source "$here/node-versions.env"

group=control-plane print_only=false
while [[ $# -gt 0 ]]; do
  case "$1" in
    --group) group="${2:-}"; shift 2 ;;
    --print-bin-dir) print_only=true; shift ;;
    *) echo "usage: $0 [--group control-plane|real-node|release] [--print-bin-dir]" >&2; exit 2 ;;
  esac
done

# Bump when the way binaries are built changes (flags below), to invalidate cached binaries.
recipe=1

export GOTOOLCHAIN=local GOWORK=off CGO_ENABLED=0 GOFLAGS="-mod=readonly -buildvcs=false"

log() { printf '%s build-tools: %s\n' "$(date '+%Y-%m-%d %H:%M:%S')" "$*" >&2; }
die() { log "error: $*"; exit 1; }

command -v go >/dev/null || die "Go is not installed (https://go.dev/dl/; these modules need Go $(sed -n 's/^go //p' "$tools/k8s/go.mod") or newer)"
go_version="$(go env GOVERSION)"

# The go.mod files must be the ones versions.env / node-versions.env describe.
check_pin() { # DIR MODULE VERSION
  grep -Eq "^[[:space:]]*(require[[:space:]]+)?$2 $3( |\$)" "$tools/$1/go.mod" \
    || die "e2e/tools/$1/go.mod does not require $2 $3; run: bash e2e/tools/update-modules.sh $group"
}
check_staging() { # DIR
  grep -q "k8s.io/api => k8s.io/api $K8S_STAGING_VERSION" "$tools/$1/go.mod" \
    || die "e2e/tools/$1/go.mod does not replace the staging modules with $K8S_STAGING_VERSION; run: bash e2e/tools/update-modules.sh $group"
}

# module_inputs DIR...: the contents of the modules' go.mod, then go.sum, then Go sources, in
# the order the control plane's key has always used (so its cached binaries stay valid).
module_inputs() {
  local f d
  for f in go.mod go.sum; do
    for d in "$@"; do
      echo "== $d/$f"
      cat "$tools/$d/$f"
    done
  done
  for d in "$@"; do
    for f in "$tools/$d"/*.go; do
      [[ -e "$f" ]] || continue
      echo "== ${f#"$tools"/}"
      cat "$f"
    done
  done
}

case "$group" in
  control-plane)
    modules=(etcd helm k8s kstatus kwok)
    key_inputs() {
      echo "recipe=$recipe go=$go_version $(go env GOOS)/$(go env GOARCH)"
      cat "$here/versions.env"
      module_inputs "${modules[@]}"
    }
    key="k8s-$K8S_VERSION-$(key_inputs | sha256sum | cut -c1-16)"
    ;;
  real-node)
    modules=(cni-plugins containerd coredns k8s-node kube-router runc)
    key_inputs() {
      echo "recipe=$recipe go=$go_version $(go env GOOS)/$(go env GOARCH)"
      cat "$here/versions.env" "$here/node-versions.env"
      module_inputs "${modules[@]}"
    }
    key="node-$K8S_VERSION-$(key_inputs | sha256sum | cut -c1-16)"
    ;;
  release)
    modules=(actionlint crane)
    key_inputs() {
      echo "recipe=$recipe go=$go_version $(go env GOOS)/$(go env GOARCH)"
      grep -E '^(ACTIONLINT|CRANE)_VERSION=' "$here/node-versions.env"
      module_inputs "${modules[@]}"
    }
    key="release-$(key_inputs | sha256sum | cut -c1-16)"
    ;;
  *) die "unknown group $group (control-plane, real-node or release)" ;;
esac
case "$group" in
  control-plane)
    check_pin k8s k8s.io/kubernetes "$K8S_VERSION"
    check_staging k8s
    check_pin etcd go.etcd.io/etcd/server/v3 "$ETCD_VERSION"
    check_pin kwok sigs.k8s.io/kwok "$KWOK_VERSION"
    check_pin helm helm.sh/helm/v3 "$HELM_VERSION"
    check_pin kstatus sigs.k8s.io/cli-utils "$CLI_UTILS_VERSION"
    ;;
  real-node)
    check_pin k8s-node k8s.io/kubernetes "$K8S_VERSION"
    check_staging k8s-node
    check_pin containerd github.com/containerd/containerd/v2 "$CONTAINERD_VERSION"
    check_pin runc github.com/opencontainers/runc "$RUNC_VERSION"
    check_pin cni-plugins github.com/containernetworking/plugins "$CNI_PLUGINS_VERSION"
    check_pin coredns github.com/coredns/coredns "$COREDNS_VERSION"
    check_pin kube-router github.com/cloudnativelabs/kube-router/v2 "$KUBE_ROUTER_VERSION"
    ;;
  release)
    check_pin crane github.com/google/go-containerregistry "$CRANE_VERSION"
    check_pin actionlint github.com/rhysd/actionlint "$ACTIONLINT_VERSION"
    ;;
esac
cache_root="${XDG_CACHE_HOME:-$HOME/.cache}/compose-operator"
bin="$cache_root/tools-$key/bin"

if $print_only; then
  echo "$bin"
  exit 0
fi

mkdir -p "$bin"
# One build at a time, also across concurrent callers (two clusters coming up side by side).
exec 9>"$cache_root/tools-$key/.lock"
if command -v flock >/dev/null; then
  flock 9
fi

k8s_minor="${K8S_VERSION#v}"; k8s_minor="${k8s_minor#*.}"; k8s_minor="${k8s_minor%%.*}"
k8s_major="${K8S_VERSION#v}"; k8s_major="${k8s_major%%.*}"
k8s_ldflags=""
for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
  k8s_ldflags+=" -X $pkg.gitVersion=$K8S_VERSION -X $pkg.gitMajor=$k8s_major -X $pkg.gitMinor=$k8s_minor"
  k8s_ldflags+=" -X $pkg.gitTreeState=clean"
done
helm_ldflags="-X helm.sh/helm/v3/internal/version.version=$HELM_VERSION -X helm.sh/helm/v3/internal/version.gitTreeState=clean"
for pkg in helm.sh/helm/v3/pkg/chartutil helm.sh/helm/v3/pkg/lint/rules; do
  helm_ldflags+=" -X $pkg.k8sVersionMajor=$k8s_major -X $pkg.k8sVersionMinor=$k8s_minor"
done
kwok_ldflags="-X sigs.k8s.io/kwok/pkg/consts.Version=${KWOK_VERSION#v} -X sigs.k8s.io/kwok/pkg/consts.KubeVersion=${K8S_VERSION#v}"

total_start=$SECONDS
built=0
# build NAME MODULE-DIR PACKAGE EXTRA-LDFLAGS [NOTE]; $tags and $cgo (0 unless set) apply.
build() {
  local name="$1" dir="$2" pkg="$3" ldflags="-s -w $4" note="${5:-}"
  if [[ -x "$bin/$name" ]]; then
    return 0
  fi
  log "building $name ($pkg)${note:+ $note}..."
  local start=$SECONDS
  rm -f "$bin/.$name.tmp"
  (cd "$tools/$dir" && CGO_ENABLED="${cgo:-0}" go build -trimpath -tags "${tags:-}" -ldflags "$ldflags" -o "$bin/.$name.tmp" "$pkg") \
    || die "building $name failed"
  mv -f "$bin/.$name.tmp" "$bin/$name"
  local took=$((SECONDS - start))
  log "built $name in $((took / 60))m$((took % 60))s"
  printf '%s %s %ss go=%s\n' "$(date '+%Y-%m-%dT%H:%M:%S')" "$name" "$took" "$go_version" >>"$bin/../build-times.txt"
  built=$((built + 1))
}

# runc links libseccomp (without it every sandbox fails: "seccomp not supported").
need_runc_build_deps() {
  [[ -x "$bin/runc" ]] && return 0
  local missing=()
  command -v gcc >/dev/null || missing+=(gcc)
  command -v pkg-config >/dev/null || missing+=(pkg-config)
  pkg-config --exists libseccomp 2>/dev/null || missing+=(libseccomp-dev)
  ((${#missing[@]} == 0)) && return 0
  if [[ "$(id -u)" == 0 ]] && command -v apt-get >/dev/null; then
    log "installing ${missing[*]} (runc's seccomp support)"
    apt-get update -qq >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >&2
  else
    die "runc needs ${missing[*]} (Debian: apt-get install ${missing[*]})"
  fi
}

case "$group" in
  control-plane)
    build kube-apiserver k8s k8s.io/kubernetes/cmd/kube-apiserver "$k8s_ldflags" "(can take 10+ minutes on 2 cores)"
    build kube-controller-manager k8s k8s.io/kubernetes/cmd/kube-controller-manager "$k8s_ldflags" "(several minutes)"
    build kube-scheduler k8s k8s.io/kubernetes/cmd/kube-scheduler "$k8s_ldflags"
    build kubectl k8s k8s.io/kubernetes/cmd/kubectl "$k8s_ldflags"
    build etcd etcd go.etcd.io/etcd/server/v3 ""
    build kwok kwok sigs.k8s.io/kwok/cmd/kwok "$kwok_ldflags"
    build helm helm helm.sh/helm/v3/cmd/helm "$helm_ldflags"
    build kstatus kstatus . ""
    ;;
  real-node)
    build kubelet k8s-node k8s.io/kubernetes/cmd/kubelet "$k8s_ldflags" "(several minutes)"
    build kube-proxy k8s-node k8s.io/kubernetes/cmd/kube-proxy "$k8s_ldflags"
    containerd=github.com/containerd/containerd/v2
    containerd_ldflags="-X $containerd/version.Version=$CONTAINERD_VERSION"
    tags="no_btrfs no_devmapper no_zfs" build containerd containerd "$containerd/cmd/containerd" "$containerd_ldflags"
    tags="no_btrfs no_devmapper no_zfs" build containerd-shim-runc-v2 containerd "$containerd/cmd/containerd-shim-runc-v2" "$containerd_ldflags"
    tags="no_btrfs no_devmapper no_zfs" build ctr containerd "$containerd/cmd/ctr" "$containerd_ldflags"
    need_runc_build_deps
    cgo=1 tags=seccomp build runc runc github.com/opencontainers/runc "-X main.version=${RUNC_VERSION#v}"
    cni=github.com/containernetworking/plugins
    build bridge cni-plugins "$cni/plugins/main/bridge" ""
    build host-local cni-plugins "$cni/plugins/ipam/host-local" ""
    build loopback cni-plugins "$cni/plugins/main/loopback" ""
    build portmap cni-plugins "$cni/plugins/meta/portmap" ""
    build coredns coredns . ""
    build kube-router kube-router github.com/cloudnativelabs/kube-router/v2/cmd/kube-router \
      "-X github.com/cloudnativelabs/kube-router/v2/pkg/version.Version=$KUBE_ROUTER_VERSION"
    ;;
  release)
    build crane crane github.com/google/go-containerregistry/cmd/crane ""
    build actionlint actionlint github.com/rhysd/actionlint/cmd/actionlint "-X github.com/rhysd/actionlint.version=$ACTIONLINT_VERSION"
    ;;
esac

if ((built > 0)); then
  took=$((SECONDS - total_start))
  log "built $built binaries in $((took / 60))m$((took % 60))s"
fi
echo "$bin"
