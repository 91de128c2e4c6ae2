#!/usr/bin/env bash
# `make demo`: a local control plane (built from Go modules on first use, then cached),
# the CRD, the operator running out of cluster, and the example stacks deployed with
# `compose-operator deploy`, which waits until each is Ready. The cluster and the
# operator keep running afterwards.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$here/.."
cd "$root"

bash "$here/cluster.sh" up
eval "$(bash "$here/cluster.sh" env)"
state="$(dirname "$KUBECONFIG")"

echo "==> building the operator"
cargo build --quiet --bin compose-operator
kubectl apply --server-side --field-manager=compose-operator-demo -f crds/composestack.yaml >/dev/null
kubectl wait --for=condition=Established crd/composestacks.compose-operator.dev --timeout=60s >/dev/null

if [[ -f "$state/operator.pid" ]] && kill -0 "$(cat "$state/operator.pid")" 2>/dev/null; then
  echo "==> the operator is already running (pid $(cat "$state/operator.pid"))"
else
  echo "==> starting the operator (log: $state/logs/operator.log)"
  mkdir -p "$state/logs"
  setsid nohup target/debug/compose-operator run --metrics-addr 127.0.0.1:0 \
    >"$state/logs/operator.log" 2>&1 < /dev/null &
  echo $! > "$state/operator.pid"
fi

echo "==> deploying examples/compose/ (the seed stacks), each in a namespace named after it"
# get-started and django both have a service `web`; in one namespace the second would
# stall on the name collision (and say so in its status). `deploy` follows each stack
# until it is Ready and fails (non-zero) when it stalls or times out.
for compose in examples/compose/*.yaml; do
  name="$(basename "$compose" .yaml)"
  kubectl create namespace "$name" --dry-run=client -o yaml | kubectl apply -f - >/dev/null
  variables=()
  if [[ "$name" == microblog ]]; then
    variables=(--var SECRET_KEY=change-me --var MYSQL_PASSWORD=microblog-password)
  fi
  if ! target/debug/compose-operator deploy "$name" -c "$compose" -n "$name" --timeout 300s --progress plain "${variables[@]}"; then
    echo "stack $name is not Ready; the operator log is $state/logs/operator.log" >&2
    exit 1
  fi
done

echo
target/debug/compose-operator ls -A
echo
kubectl get deploy,sts,svc,pvc,pods -A -l app.kubernetes.io/managed-by=compose-operator
echo
echo "==> the services and pods of the microblog stack"
target/debug/compose-operator ps microblog -n microblog
target/debug/compose-operator ps microblog -n microblog --pods
cat <<MSG

The cluster and the operator keep running. To use them:
  eval "\$(bash e2e/cluster.sh env)"     # sets KUBECONFIG and PATH (kubectl, helm)
  target/debug/compose-operator ls -A        # or kubectl get stack -A
To stop everything:
  kill \$(cat $state/operator.pid); bash e2e/cluster.sh down
Pods here are simulated by kwok: they become Ready but nothing runs in them (see e2e/README.md).
MSG
