#!/usr/bin/env bash
# `make demo`: a local control plane (built from Go modules on first use, then cached),
# the CRD, the operator running out of cluster, and the example stacks deployed with
# `compose-operator deploy`, which waits until each is Ready. Where this machine can run a
# real node (root, network namespaces), the cluster gets one, and a stack of it answers over
# HTTP: the demo ends with a curl that works. Otherwise every node is simulated by kwok, and
# the demo says why. The cluster and the
# operator keep running afterwards.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$here/.."
cd "$root"

if [[ -z "${COMPOSE_OPERATOR_REAL_NODES:-}" ]]; then
  if why="$(bash "$here/cluster.sh" real-node-check)"; then
    export COMPOSE_OPERATOR_REAL_NODES=1
  else
    export COMPOSE_OPERATOR_REAL_NODES=0
    echo "==> no real node: $why; every pod is simulated by kwok"
  fi
fi
if ! bash "$here/cluster.sh" up; then
  [[ "$COMPOSE_OPERATOR_REAL_NODES" == 1 ]] || exit 1
  echo "==> the real node did not start (the error is above; logs in the cluster's logs/ directory);"
  echo "    starting again with kwok nodes only"
  COMPOSE_OPERATOR_REAL_NODES=0 bash "$here/cluster.sh" up
fi
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


if [[ -n "${COMPOSE_OPERATOR_REAL_NODE_IP:-}" ]]; then
  echo
  echo "==> a stack on the real node: busybox httpd, 3 replicas, published on 4000 (e2e.local/busybox:1)"
  kubectl create namespace hello --dry-run=client -o yaml | kubectl apply -f - >/dev/null
  mkdir -p "$state/hello"
  cat > "$state/hello/compose.yaml" <<'YAML'
services:
  web:
    image: e2e.local/busybox:1
    command: ["sh", "-c", "echo \"hello from $$(hostname)\" > /tmp/index.html && exec httpd -f -p 80 -h /tmp"]
    ports: ["4000:80"]
    deploy:
      replicas: 3
    x-kubernetes:
      nodeSelector: {compose-operator.dev/e2e-node: real}
      tolerations: [{key: compose-operator.dev/e2e-node, operator: Equal, value: real, effect: NoSchedule}]
YAML
  target/debug/compose-operator deploy -c "$state/hello/compose.yaml" hello -n hello --timeout 5m
  node_port="$(kubectl get service -n hello web-published -o jsonpath='{.spec.ports[0].nodePort}')"
  url="http://$COMPOSE_OPERATOR_REAL_NODE_IP:$node_port/"
  kubectl get pods -n hello -o wide
  echo
  echo "==> curl $url   (the node's address, the Service's node port: kube-proxy picks a replica)"
  deadline=$((SECONDS + 60))
  until curl -sf --max-time 5 "$url"; do
    ((SECONDS < deadline)) || { echo "the hello stack does not answer at $url" >&2; exit 1; }
    sleep 1
  done
fi
cat <<MSG

The cluster and the operator keep running. To use them:
  eval "\$(bash e2e/cluster.sh env)"     # sets KUBECONFIG and PATH (kubectl, helm)
  target/debug/compose-operator ls -A        # or kubectl get stack -A
To stop everything:
  kill \$(cat $state/operator.pid); bash e2e/cluster.sh down
Pods on the kwok nodes are simulated: they become Ready but nothing runs in them. Pods on the
real node (label compose-operator.dev/e2e-node=real) run; see e2e/README.md.
MSG
if [[ -n "${url:-}" ]]; then
  echo "Try it:  curl $url"
fi
