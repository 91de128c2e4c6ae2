#!/usr/bin/env bash
# Builds the local control plane's binaries from Go modules (no Docker, no release downloads):
# kube-apiserver, kube-controller-manager, kube-scheduler, kubectl, etcd, kwok, helm, kstatus.
#
#   bash e2e/build-tools.sh                  build what is missing; the bin dir is the last line of stdout
#   bash e2e/build-tools.sh --print-bin-dir  only print the bin dir (nothing is built)
#
# The binaries go to ${XDG_CACHE_HOME:-$HOME/.cache}/compose-operator/tools-<key>/bin, where <key>
# is derived from e2e/versions.env, the tool modules' go.mod/go.sum (and kstatus' source) and the Go
# version, so changing any of them builds into a fresh directory and unchanged inputs cost nothing.
# Progress goes to stderr. Needs only Go (>= the modules' go directive) and the Go module proxy.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
tools="$here/tools"
# shellcheck source-path=SCRIPTDIR source=versions.env
source "$here/versions.env"

# Bump when the way binaries are built changes (flags below), to invalidate cached binaries.
recipe=1

export GOTOOLCHAIN=local GOWORK=off CGO_ENABLED=0 GOFLAGS="-mod=readonly -buildvcs=false"

log() { printf '%s build-tools: %s\n' "$(date '+%Y-%m-%d %H:%M:%S')" "$*" >&2; }
die() { log "error: $*"; exit 1; }

command -v go >/dev/null || die "Go is not installed (https://go.dev/dl/; these modules need Go $(sed -n 's/^go //p' "$tools/k8s/go.mod") or newer)"
go_version="$(go env GOVERSION)"

# The go.mod files must be the ones versions.env describes.
check_pin() { # DIR MODULE VERSION
  grep -Eq "^[[:space:]]*(require[[:space:]]+)?$2 $3( |\$)" "$tools/$1/go.mod" \
    || die "e2e/tools/$1/go.mod does not require $2 $3 (versions.env); run: bash e2e/tools/update-modules.sh"
}
check_pin k8s k8s.io/kubernetes "$K8S_VERSION"
check_pin etcd go.etcd.io/etcd/server/v3 "$ETCD_VERSION"
check_pin kwok sigs.k8s.io/kwok "$KWOK_VERSION"
check_pin helm helm.sh/helm/v3 "$HELM_VERSION"
check_pin kstatus sigs.k8s.io/cli-utils "$CLI_UTILS_VERSION"
grep -q "k8s.io/api => k8s.io/api $K8S_STAGING_VERSION" "$tools/k8s/go.mod" \
  || die "e2e/tools/k8s/go.mod does not replace the staging modules with $K8S_STAGING_VERSION; run: bash e2e/tools/update-modules.sh"

key_inputs() {
  echo "recipe=$recipe go=$go_version $(go env GOOS)/$(go env GOARCH)"
  cat "$here/versions.env"
  for f in "$tools"/*/go.mod "$tools"/*/go.sum "$tools"/kstatus/*.go; do
    # compose-oracle is a test reference, built and keyed by e2e/build-oracle.sh.
    [[ "$f" == "$tools"/compose-oracle/* ]] && continue
    echo "== ${f#"$tools"/}"
    cat "$f"
  done
}
key="k8s-$K8S_VERSION-$(key_inputs | sha256sum | cut -c1-16)"
cache_root="${XDG_CACHE_HOME:-$HOME/.cache}/compose-operator"
bin="$cache_root/tools-$key/bin"

if [[ "${1:-}" == "--print-bin-dir" ]]; then
  echo "$bin"
  exit 0
elif [[ $# -gt 0 ]]; then
  echo "usage: $0 [--print-bin-dir]" >&2
  exit 2
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
# build NAME MODULE-DIR PACKAGE EXTRA-LDFLAGS [NOTE]
build() {
  local name="$1" dir="$2" pkg="$3" ldflags="-s -w $4" note="${5:-}"
  if [[ -x "$bin/$name" ]]; then
    return 0
  fi
  log "building $name ($pkg)${note:+ $note}..."
  local start=$SECONDS
  rm -f "$bin/.$name.tmp"
  (cd "$tools/$dir" && go build -trimpath -ldflags "$ldflags" -o "$bin/.$name.tmp" "$pkg") \
    || die "building $name failed"
  mv -f "$bin/.$name.tmp" "$bin/$name"
  local took=$((SECONDS - start))
  log "built $name in $((took / 60))m$((took % 60))s"
  printf '%s %s %ss go=%s\n' "$(date '+%Y-%m-%dT%H:%M:%S')" "$name" "$took" "$go_version" >>"$bin/../build-times.txt"
  built=$((built + 1))
}

build kube-apiserver k8s k8s.io/kubernetes/cmd/kube-apiserver "$k8s_ldflags" "(can take 10+ minutes on 2 cores)"
build kube-controller-manager k8s k8s.io/kubernetes/cmd/kube-controller-manager "$k8s_ldflags" "(several minutes)"
build kube-scheduler k8s k8s.io/kubernetes/cmd/kube-scheduler "$k8s_ldflags"
build kubectl k8s k8s.io/kubernetes/cmd/kubectl "$k8s_ldflags"
build etcd etcd go.etcd.io/etcd/server/v3 ""
build kwok kwok sigs.k8s.io/kwok/cmd/kwok "$kwok_ldflags"
build helm helm helm.sh/helm/v3/cmd/helm "$helm_ldflags"
build kstatus kstatus . ""

if ((built > 0)); then
  took=$((SECONDS - total_start))
  log "built $built binaries in $((took / 60))m$((took % 60))s"
fi
echo "$bin"
