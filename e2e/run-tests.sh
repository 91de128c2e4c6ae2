#!/usr/bin/env bash
# Runs the real-cluster suite. With KUBECONFIG pointing at a reachable cluster (kind, a
# cloud cluster), that cluster is used as it is. Otherwise a local control plane is started
# in a state directory of this run's own and stopped when the suite ends, pass or fail.
#
# The local cluster gets a real node when this machine can run one (root, network namespaces,
# cgroups, overlayfs; `e2e/cluster.sh real-node-check` says why not), and the operator's image
# is built (`make image`) for the in-cluster tests; those tests then must pass, not skip.
# COMPOSE_OPERATOR_REAL_NODES=0 forces kwok nodes only, =1 fails when a real node cannot run.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$here/.."

if [[ -n "${KUBECONFIG:-}" && -f "${KUBECONFIG}" ]]; then
  echo "e2e: using the cluster in KUBECONFIG=${KUBECONFIG}"
else
  export COMPOSE_OPERATOR_CLUSTER_DIR="${COMPOSE_OPERATOR_CLUSTER_DIR:-$PWD/target/e2e-cluster}"
  # The corpus scenario alone binds a few dozen claims; freed volumes return only at the next up.
  export COMPOSE_OPERATOR_CLUSTER_PVS="${COMPOSE_OPERATOR_CLUSTER_PVS:-150}"
  real="${COMPOSE_OPERATOR_REAL_NODES:-auto}"
  if [[ "$real" == auto ]]; then
    if why="$(bash "$here/cluster.sh" real-node-check)"; then
      real=1
    else
      real=0
      echo "e2e: no real node on this machine ($why): the real-node tests will say they were skipped"
    fi
  fi
  if [[ "$real" == 1 ]]; then
    bash "$here/image.sh" operator >/dev/null
    export COMPOSE_OPERATOR_E2E_REQUIRE_REAL_NODE=1
  fi
  export COMPOSE_OPERATOR_REAL_NODES="$real"
  trap 'bash "$here/cluster.sh" down || true' EXIT
  bash "$here/cluster.sh" up
  eval "$(bash "$here/cluster.sh" env)"
fi
# Extra arguments go to the test binary (a filter, --ignored, --nocapture). E2E_CARGO_PROFILE
# (e.g. release) builds the suite and the operator it starts with that profile: measurements
# of the operator's memory and CPU mean what a deployed build does.
cargo test ${E2E_CARGO_PROFILE:+--profile "$E2E_CARGO_PROFILE"} --features e2e --test e2e -- --test-threads "${E2E_THREADS:-4}" "$@"
