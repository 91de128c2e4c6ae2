#!/usr/bin/env bash
# Runs the real-cluster suite. With KUBECONFIG pointing at a reachable cluster (kind, a
# cloud cluster), that cluster is used as it is. Otherwise a local control plane is started
# in a state directory of this run's own and stopped when the suite ends, pass or fail.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$here/.."

if [[ -n "${KUBECONFIG:-}" && -f "${KUBECONFIG}" ]]; then
  echo "e2e: using the cluster in KUBECONFIG=${KUBECONFIG}"
else
  export COMPOSE_OPERATOR_CLUSTER_DIR="${COMPOSE_OPERATOR_CLUSTER_DIR:-$PWD/target/e2e-cluster}"
  # The corpus scenario alone binds a few dozen claims; freed volumes return only at the next up.
  export COMPOSE_OPERATOR_CLUSTER_PVS="${COMPOSE_OPERATOR_CLUSTER_PVS:-150}"
  trap 'bash "$here/cluster.sh" down || true' EXIT
  bash "$here/cluster.sh" up
  eval "$(bash "$here/cluster.sh" env)"
fi
# Extra arguments go to the test binary (a filter, --ignored, --nocapture).
cargo test --features e2e --test e2e -- --test-threads "${E2E_THREADS:-4}" "$@"
