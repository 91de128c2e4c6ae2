#!/usr/bin/env bash
# A local Kubernetes control plane for the e2e suite and the demo: etcd, kube-apiserver,
# kube-controller-manager and kube-scheduler built from Go modules (e2e/build-tools.sh), plus kwok
# simulating three nodes and the pods on them. No Docker, no root, loopback ports only.
# Optionally one real node beside them (root; e2e/real-node.sh): containerd, runc, the kubelet,
# kube-proxy, CoreDNS and NetworkPolicy enforcement in a network namespace of its own.
#
#   bash e2e/cluster.sh up [--real-nodes 0|1]  start it (builds the binaries on first use); returns quickly if running
#   bash e2e/cluster.sh down        stop the recorded processes and delete the state directory
#   bash e2e/cluster.sh env         print `export KUBECONFIG=...` and `export PATH=...` (eval-able)
#   bash e2e/cluster.sh status      show the processes and the API's health; exit 1 unless healthy
#   bash e2e/cluster.sh load-image FILE   import an image tarball into the real node's containerd
#   bash e2e/cluster.sh real-node-check   say whether a real node can run here (exit 1 and why if not)
#
# State: ${COMPOSE_OPERATOR_CLUSTER_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/compose-operator/cluster}.
# Clusters with different state directories run side by side (each picks free ports at `up`).
# See e2e/README.md for what this cluster simulates and what it does not.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source-path=SCRIPTDIR source=versions.env
source "$here/versions.env"
# shellcheck source-path=SCRIPTDIR source=real-node.sh
source "$here/real-node.sh"

state="${COMPOSE_OPERATOR_CLUSTER_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/compose-operator/cluster}"
nodes="${COMPOSE_OPERATOR_CLUSTER_NODES:-3}"
pv_count="${COMPOSE_OPERATOR_CLUSTER_PVS:-40}"
up_timeout="${COMPOSE_OPERATOR_CLUSTER_TIMEOUT:-300}" # seconds, per wait
real_nodes="${COMPOSE_OPERATOR_REAL_NODES:-0}"

marker=".compose-operator-cluster" # only a directory holding this file is ever deleted by `down`
components=(etcd kube-apiserver kube-controller-manager kube-scheduler kwok) # start order

log() { printf '%s cluster: %s\n' "$(date '+%H:%M:%S')" "$*" >&2; }
die() { log "error: $*"; exit 1; }

# --- processes --------------------------------------------------------------------------------

pid_of() { # COMPONENT -> recorded pid, if any
  [[ -f "$state/pids/$1.pid" ]] && cat "$state/pids/$1.pid"
}

# True when PID is alive and is the program recorded for it (guards against reused pids).
alive() { # PID [EXPECTED-EXECUTABLE]
  local pid="$1" exe="${2:-}"
  [[ "$pid" =~ ^[0-9]+$ ]] && kill -0 "$pid" 2>/dev/null || return 1
  if [[ -n "$exe" && -r "/proc/$pid/cmdline" ]]; then
    local argv0
    argv0="$(tr '\0' '\n' <"/proc/$pid/cmdline" 2>/dev/null | head -n1)"
    [[ "$argv0" == "$exe" ]] || return 1
  fi
}

component_alive() { # COMPONENT
  local pid exe
  pid="$(pid_of "$1" 2>/dev/null)" || return 1
  exe="$(cat "$state/pids/$1.exe" 2>/dev/null || echo "$(cat "$state/bin-dir" 2>/dev/null)/$1")"
  alive "$pid" "$exe"
}

# start COMPONENT ARGS...: runs $bin/COMPONENT in its own session (so a Ctrl-C in the terminal
# that ran `up` does not reach it), stdin closed, output to logs/COMPONENT.log, pid recorded.
start() {
  start_with "$1" "$bin/$1" "$bin/$1" "${@:2}"
}

# start_in_node COMPONENT ARGS...: the same for a real-node binary, inside the node's network
# namespace (nsenter execs it, so the recorded pid is still the component's own).
start_in_node() {
  start_with "$1" "$node_bin/$1" nsenter --net="/run/netns/$(real_var netns)" -- "$node_bin/$1" "${@:2}"
}

start_with() { # COMPONENT EXECUTABLE COMMAND...: EXECUTABLE is what the pid must be running
  local name="$1" exe="$2"; shift 2
  log "starting $name (log: $state/logs/$name.log)"
  echo "$exe" >"$state/pids/$name.exe"
  # The child writes its own pid before exec'ing, so the recorded pid is the component's own
  # whether or not setsid had to fork. fd 9 (the state lock) is not inherited.
  # shellcheck disable=SC2016 # $$ and $@ belong to the inner shell
  setsid bash -c 'echo $$ >"$1"; shift; exec "$@"' _ "$state/pids/$name.pid" "$@" \
    </dev/null >>"$state/logs/$name.log" 2>&1 9>&- 8>&- &
  local deadline=$((SECONDS + 10))
  until component_alive "$name"; do
    ((SECONDS < deadline)) || { tail -n 20 "$state/logs/$name.log" >&2 || true; die "$name did not start"; }
    sleep 0.05
  done
}

# stop PIDFILE [EXPECTED-EXECUTABLE]: SIGTERM, wait up to 30s for the exit, then SIGKILL.
stop_pidfile() {
  local file="$1" exe="${2:-}" pid name
  pid="$(cat "$file" 2>/dev/null || true)"
  name="$(basename "$file" .pid)"
  if ! alive "$pid" "$exe"; then
    rm -f "$file"
    return 0
  fi
  log "stopping $name (pid $pid)"
  kill -TERM "$pid" 2>/dev/null || true
  local deadline=$((SECONDS + 30))
  while alive "$pid" "$exe"; do
    if ((SECONDS >= deadline)); then
      log "$name (pid $pid) did not exit after SIGTERM; sending SIGKILL"
      kill -KILL "$pid" 2>/dev/null || true
      deadline=$((SECONDS + 10))
      while alive "$pid" "$exe" && ((SECONDS < deadline)); do sleep 0.1; done
      break
    fi
    sleep 0.1
  done
  rm -f "$file"
}

stop_all() {
  local exe_dir
  exe_dir="$(cat "$state/bin-dir" 2>/dev/null || true)"
  # Other pid files in the state directory (e.g. operator.pid from e2e/demo.sh) first.
  local f
  for f in "$state"/*.pid; do
    [[ -e "$f" ]] && stop_pidfile "$f"
  done
  # The real node (its pods, namespaces and mounts) before the API server goes.
  real_node_down
  local i
  for ((i = ${#components[@]} - 1; i >= 0; i--)); do
    f="$state/pids/${components[i]}.pid"
    [[ -e "$f" ]] && stop_pidfile "$f" "${exe_dir:+$exe_dir/${components[i]}}"
  done
  real_node_network_down
  return 0
}

# --- waiting ----------------------------------------------------------------------------------

# wait_for WHAT COMPONENT CMD...: polls CMD until it succeeds; fails at the deadline or as soon
# as COMPONENT's process has exited (with the tail of its log).
wait_for() {
  local what="$1" component="$2"; shift 2
  local deadline=$((SECONDS + up_timeout)) start=$SECONDS
  until "$@" >/dev/null 2>&1; do
    if [[ -n "$component" ]] && ! component_alive "$component"; then
      tail -n 30 "$state/logs/$component.log" >&2 || true
      die "$component exited while waiting until: $what (log: $state/logs/$component.log)"
    fi
    if ((SECONDS >= deadline)); then
      [[ -n "$component" ]] && { tail -n 30 "$state/logs/$component.log" >&2 || true; }
      die "timed out after ${up_timeout}s waiting until: $what"
    fi
    sleep 0.2
  done
  log "$what ($((SECONDS - start))s)"
}

api_get() { # PATH: GET from the API server with the admin client certificate, body to stdout
  curl -sf --max-time 5 --cacert "$state/pki/ca.crt" --cert "$state/pki/admin.crt" --key "$state/pki/admin.key" \
    "https://$(api_host):$(port apiserver)$1"
}
# The API server's address: loopback, or the host end of the real node's link (it must reach it).
api_host() { local h; h="$(port apiserver-host)"; echo "${h:-127.0.0.1}"; }
api_ready() { [[ "$(api_get /readyz)" == ok ]]; }
healthz_ok() { [[ "$(curl -sfk --max-time 5 "https://127.0.0.1:$1/healthz")" == ok ]]; }
etcd_ok() { curl -sf --max-time 5 "http://127.0.0.1:$(port etcd)/health" | grep -q '"health":"true"'; }

port() { sed -n "s/^$1=//p" "$state/ports"; }

kc() { "$bin/kubectl" --kubeconfig "$state/kubeconfig" "$@"; }

# All components alive and the API ready. A busy API server gets 30 s to answer: `up` must not
# replace a working cluster (say, in the middle of a test run) because one request was slow.
healthy() {
  [[ -f "$state/kubeconfig" && -f "$state/ports" && -f "$state/bin-dir" ]] || return 1
  bin="$(cat "$state/bin-dir")"
  local c deadline=$((SECONDS + 30))
  for c in "${components[@]}"; do
    component_alive "$c" || return 1
  done
  if [[ -f "$(real_dir)/env" ]]; then
    node_bin="$(cat "$state/node-bin-dir" 2>/dev/null)" || return 1
    for c in "${real_components[@]}"; do
      component_alive "$c" || return 1
    done
  elif ((real_nodes > 0)); then
    return 1 # asked for a real node, and this cluster has none
  fi
  until api_ready; do
    ((SECONDS < deadline)) && component_alive kube-apiserver || return 1
    sleep 0.5
  done
}

# --- pieces of `up` ---------------------------------------------------------------------------

free_ports() { # N: N distinct free loopback TCP ports
  if command -v python3 >/dev/null; then
    python3 -c '
import socket, sys
socks = []
for _ in range(int(sys.argv[1])):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    socks.append(s)
print(" ".join(str(s.getsockname()[1]) for s in socks))
' "$1"
  else
    # No python3: random ports in 20000-29999 that nothing answers on.
    local out=() p
    while ((${#out[@]} < $1)); do
      p=$((20000 + RANDOM % 10000))
      [[ " ${out[*]} " == *" $p "* ]] && continue
      (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null && continue
      out+=("$p")
    done
    echo "${out[*]}"
  fi
}

make_pki() { # [EXTRA-IP]: another address of the API server's, for its certificate
  local pki="$state/pki" extra_ip="${1:-}"
  mkdir -p "$pki"
  openssl req -x509 -newkey rsa:2048 -nodes -sha256 -days 3650 -subj "/CN=compose-operator-e2e-ca" \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign,digitalSignature" \
    -keyout "$pki/ca.key" -out "$pki/ca.crt" 2>/dev/null
  # One key pair for the API server's serving certificate and every client (CN admin, group
  # system:masters), as kwokctl does.
  openssl req -newkey rsa:2048 -nodes -sha256 -subj "/O=system:masters/CN=admin" \
    -keyout "$pki/admin.key" -out "$pki/admin.csr" 2>/dev/null
  cat >"$pki/admin.ext" <<EXT
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature,keyEncipherment
extendedKeyUsage = serverAuth,clientAuth
subjectAltName = DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local,IP:127.0.0.1,IP:10.96.0.1${extra_ip:+,IP:$extra_ip}
EXT
  openssl x509 -req -sha256 -days 3650 -in "$pki/admin.csr" -CA "$pki/ca.crt" -CAkey "$pki/ca.key" \
    -CAcreateserial -extfile "$pki/admin.ext" -out "$pki/admin.crt" 2>/dev/null
  # The aggregation layer's client (kube-apiserver -> extension API servers) has its own CA, as
  # in kubeadm; it also fills the requestheader CA that kube-controller-manager and
  # kube-scheduler read from the extension-apiserver-authentication ConfigMap.
  openssl req -x509 -newkey rsa:2048 -nodes -sha256 -days 3650 -subj "/CN=compose-operator-e2e-front-proxy-ca" \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign,digitalSignature" \
    -keyout "$pki/front-proxy-ca.key" -out "$pki/front-proxy-ca.crt" 2>/dev/null
  openssl req -newkey rsa:2048 -nodes -sha256 -subj "/CN=front-proxy-client" \
    -keyout "$pki/front-proxy-client.key" -out "$pki/front-proxy-client.csr" 2>/dev/null
  printf '%s\n' "basicConstraints = critical,CA:FALSE" "keyUsage = critical,digitalSignature,keyEncipherment" \
    "extendedKeyUsage = clientAuth" >"$pki/front-proxy-client.ext"
  openssl x509 -req -sha256 -days 3650 -in "$pki/front-proxy-client.csr" -CA "$pki/front-proxy-ca.crt" \
    -CAkey "$pki/front-proxy-ca.key" -CAcreateserial -extfile "$pki/front-proxy-client.ext" \
    -out "$pki/front-proxy-client.crt" 2>/dev/null
  # Service-account token signing key.
  openssl genrsa -out "$pki/sa.key" 2048 2>/dev/null
  openssl rsa -in "$pki/sa.key" -pubout -out "$pki/sa.pub" 2>/dev/null
  rm -f "$pki"/*.csr "$pki"/*.srl "$pki"/*.ext
  chmod 600 "$pki"/*.key
}

write_kubeconfig() {
  local b64="base64 -w0"
  base64 -w0 </dev/null >/dev/null 2>&1 || b64="base64"
  cat >"$state/kubeconfig.tmp" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: compose-operator-e2e
  cluster:
    server: https://$(api_host):$(port apiserver)
    certificate-authority-data: $($b64 <"$state/pki/ca.crt" | tr -d '\n')
users:
- name: admin
  user:
    client-certificate-data: $($b64 <"$state/pki/admin.crt" | tr -d '\n')
    client-key-data: $($b64 <"$state/pki/admin.key" | tr -d '\n')
contexts:
- name: compose-operator-e2e
  context:
    cluster: compose-operator-e2e
    user: admin
    namespace: default
current-context: compose-operator-e2e
EOF
  chmod 600 "$state/kubeconfig.tmp"
  mv "$state/kubeconfig.tmp" "$state/kubeconfig"
}

fake_nodes() {
  local i
  for ((i = 0; i < nodes; i++)); do
    cat <<EOF
---
apiVersion: v1
kind: Node
metadata:
  name: kwok-node-$i
  annotations:
    kwok.x-k8s.io/node: fake
    node.alpha.kubernetes.io/ttl: "0"
  labels:
    kubernetes.io/arch: amd64
    kubernetes.io/hostname: kwok-node-$i
    kubernetes.io/os: linux
    kubernetes.io/role: agent
    node-role.kubernetes.io/agent: ""
    type: kwok
spec:
  podCIDR: 10.244.$i.0/24
  podCIDRs:
  - 10.244.$i.0/24
status:
  # Where kwok serves these nodes' kubelet API. The API server dials a node's InternalIP
  # (--kubelet-preferred-address-types=InternalIP) for logs and exec: never the machine's
  # resolver for the node's name, and never an address off this machine.
  addresses:
  - address: 127.0.0.1
    type: InternalIP
  - address: kwok-node-$i
    type: Hostname
  allocatable:
    cpu: "32"
    memory: 256Gi
    pods: "110"
    ephemeral-storage: 1Ti
  capacity:
    cpu: "32"
    memory: 256Gi
    pods: "110"
    ephemeral-storage: 1Ti
  nodeInfo:
    architecture: amd64
    operatingSystem: linux
    kubeletVersion: $K8S_VERSION
EOF
  done
}

storage() {
  cat <<'EOF'
---
# No provisioner runs in this cluster: claims bind to the static volumes below.
apiVersion: storage.k8s.io/v1
kind: StorageClass
metadata:
  name: standard
  annotations:
    storageclass.kubernetes.io/is-default-class: "true"
provisioner: kubernetes.io/no-provisioner
reclaimPolicy: Retain
volumeBindingMode: Immediate
EOF
  local i
  for ((i = 0; i < pv_count; i++)); do
    printf -- '---
apiVersion: v1
kind: PersistentVolume
metadata:
  name: static-pv-%03d
  labels:
    compose-operator.dev/e2e-static-pv: "true"
spec:
  storageClassName: standard
  capacity:
    storage: 10Gi
  accessModes: [ReadWriteOnce, ReadOnlyMany, ReadWriteMany]
  persistentVolumeReclaimPolicy: Retain
  volumeMode: Filesystem
  hostPath:
    path: %s/volumes/static-pv-%03d
' "$i" "$state" "$i"
  done
}

# Volumes whose claim was deleted stay Released (reclaim policy Retain, nothing wipes them);
# make them Available again so a long-lived cluster does not run out of them.
recycle_released_pvs() {
  local pv
  for pv in $(kc get pv -l compose-operator.dev/e2e-static-pv=true \
      -o jsonpath='{range .items[?(@.status.phase=="Released")]}{.metadata.name}{" "}{end}'); do
    kc patch pv "$pv" --type=json -p='[{"op":"remove","path":"/spec/claimRef"}]' >/dev/null || true
  done
}

nodes_ready() {
  local ready
  ready="$(kc get nodes -l type=kwok \
    -o jsonpath='{range .items[*]}{.status.conditions[?(@.type=="Ready")].status}{"\n"}{end}' | grep -c '^True$')"
  [[ "$ready" -ge "$nodes" ]]
}

cmd_up() {
  local t0=$SECONDS
  mkdir -p "$state"
  exec 9>"$state/.lock"
  command -v flock >/dev/null && flock 9
  if healthy; then
    recycle_released_pvs
    log "already running (state: $state)"
    return 0
  fi
  command -v openssl >/dev/null || die "openssl is needed (apt-get install openssl)"
  command -v curl >/dev/null || die "curl is needed (apt-get install curl)"
  if [[ ! -e "$state/$marker" && -n "$(find "$state" -mindepth 1 -maxdepth 1 ! -name .lock | head -n1)" ]]; then
    die "$state is not empty and was not made by this script; set COMPOSE_OPERATOR_CLUSTER_DIR to another directory"
  fi
  if [[ -e "$state/kubeconfig" || -d "$state/pids" ]]; then
    log "a previous cluster in $state is not healthy; stopping what is left of it and starting afresh"
    stop_all
    find "$state" -mindepth 1 -maxdepth 1 ! -name .lock -exec rm -rf {} +
  fi
  [[ "$real_nodes" =~ ^[01]$ ]] || die "COMPOSE_OPERATOR_REAL_NODES / --real-nodes must be 0 or 1 (one real node per cluster; got $real_nodes)"
  if ((real_nodes > 0)); then
    local why
    why="$(real_node_unavailable)"
    [[ -z "$why" ]] || die "a real node cannot run here: $why (start without --real-nodes for kwok nodes only)"
  fi
  touch "$state/$marker"

  bin="$(bash "$here/build-tools.sh" | tail -n1)"
  # From here on, a failure stops whatever was started (the logs stay for a look; the next
  # `up` starts afresh, `down` deletes them).
  trap 'if [[ $? != 0 ]]; then log "up failed; stopping the components it started (logs: $state/logs)"; stop_all; fi' EXIT
  [[ -x "$bin/kube-apiserver" ]] || die "build-tools.sh did not produce binaries"
  echo "$bin" >"$state/bin-dir"
  mkdir -p "$state/logs" "$state/pids" "$state/etcd"
  chmod 700 "$state/etcd"

  read -r p_etcd p_peer p_api p_kcm p_sched p_kwok <<<"$(free_ports 6)"
  printf 'etcd=%s\netcd-peer=%s\napiserver=%s\nkube-controller-manager=%s\nkube-scheduler=%s\nkwok=%s\n' \
    "$p_etcd" "$p_peer" "$p_api" "$p_kcm" "$p_sched" "$p_kwok" >"$state/ports"
  local reconciler=none
  if ((real_nodes > 0)); then
    real_node_packages
    real_node_network
    # The node reaches the API server on the host end of its link; pods through the
    # `kubernetes` Service, whose endpoint the API server keeps (lease reconciler).
    echo "apiserver-host=$(real_var host_ip)" >>"$state/ports"
    reconciler=lease
  fi
  make_pki "$(port apiserver-host)"
  write_kubeconfig
  local pki="$state/pki"

  start etcd --name=node0 --data-dir="$state/etcd" \
    --listen-client-urls="http://127.0.0.1:$p_etcd" --advertise-client-urls="http://127.0.0.1:$p_etcd" \
    --listen-peer-urls="http://127.0.0.1:$p_peer" --initial-advertise-peer-urls="http://127.0.0.1:$p_peer" \
    --initial-cluster="node0=http://127.0.0.1:$p_peer" --initial-cluster-state=new \
    --auto-compaction-retention=1 --quota-backend-bytes=4294967296 --unsafe-no-fsync --log-level=warn
  wait_for "etcd is healthy" etcd etcd_ok

  start kube-apiserver --etcd-servers="http://127.0.0.1:$p_etcd" --etcd-prefix=/registry \
    --bind-address="$(api_host)" --advertise-address="$(api_host)" --secure-port="$p_api" \
    --tls-cert-file="$pki/admin.crt" --tls-private-key-file="$pki/admin.key" --client-ca-file="$pki/ca.crt" \
    --authorization-mode=Node,RBAC --allow-privileged=true \
    --service-account-issuer=https://kubernetes.default.svc.cluster.local \
    --service-account-key-file="$pki/sa.pub" --service-account-signing-key-file="$pki/sa.key" \
    --service-cluster-ip-range=10.96.0.0/16 --endpoint-reconciler-type="$reconciler" \
    --service-node-port-range="${COMPOSE_OPERATOR_CLUSTER_NODE_PORTS:-20000-32767}" \
    --kubelet-client-certificate="$pki/admin.crt" --kubelet-client-key="$pki/admin.key" \
    --kubelet-preferred-address-types=InternalIP \
    --proxy-client-cert-file="$pki/front-proxy-client.crt" --proxy-client-key-file="$pki/front-proxy-client.key" \
    --requestheader-client-ca-file="$pki/front-proxy-ca.crt" --requestheader-allowed-names=front-proxy-client \
    --requestheader-username-headers=X-Remote-User --requestheader-group-headers=X-Remote-Group \
    --requestheader-extra-headers-prefix=X-Remote-Extra-
  wait_for "kube-apiserver is ready (/readyz)" kube-apiserver api_ready

  # shellcheck disable=SC2054 # the commas are part of the flag's value
  local common=(--kubeconfig="$state/kubeconfig" --authentication-kubeconfig="$state/kubeconfig"
    --authorization-kubeconfig="$state/kubeconfig" --leader-elect=false --bind-address=127.0.0.1
    --authorization-always-allow-paths=/healthz,/readyz,/livez,/metrics)
  # Its client's default rate limit (20 requests a second) is what bounds a scale run: at 1,000
  # stacks the pods ran and the claims were bound while workload status lagged by many minutes,
  # the machine's cores idle. A test cluster's API server can take more.
  start kube-controller-manager "${common[@]}" --secure-port="$p_kcm" \
    --root-ca-file="$pki/ca.crt" --service-account-private-key-file="$pki/sa.key" \
    --kube-api-qps="${COMPOSE_OPERATOR_CLUSTER_KCM_QPS:-200}" --kube-api-burst="$(( ${COMPOSE_OPERATOR_CLUSTER_KCM_QPS:-200} * 2 ))"
  start kube-scheduler "${common[@]}" --secure-port="$p_sched"
  cp "$here/kwok/stages.yaml" "$state/kwok-stages.yaml"
  start kwok --kubeconfig="$state/kubeconfig" --config="$state/kwok-stages.yaml" \
    --manage-all-nodes=false --manage-nodes-with-annotation-selector=kwok.x-k8s.io/node=fake \
    --node-ip=127.0.0.1 --node-port="$p_kwok" --server-address="127.0.0.1:$p_kwok" \
    --tls-cert-file="$pki/admin.crt" --tls-private-key-file="$pki/admin.key" \
    --node-lease-duration-seconds=40
  wait_for "kube-controller-manager is healthy" kube-controller-manager healthz_ok "$p_kcm"
  wait_for "kube-scheduler is healthy" kube-scheduler healthz_ok "$p_sched"

  log "creating $nodes kwok nodes, the default StorageClass and $pv_count static PersistentVolumes"
  { fake_nodes; storage; } | kc apply -f - >/dev/null
  wait_for "$nodes nodes are Ready" kwok nodes_ready
  wait_for "the default ServiceAccount exists" kube-controller-manager kc get serviceaccount default -n default
  wait_for "the kube-root-ca.crt ConfigMap exists" kube-controller-manager kc get configmap kube-root-ca.crt -n default
  if ((real_nodes > 0)); then
    real_node_up
  fi
  trap - EXIT
  log "up in $((SECONDS - t0))s; state: $state"
  log "use it with: eval \"\$(bash ${BASH_SOURCE[0]} env)\""
}

cmd_down() {
  if [[ ! -d "$state" ]]; then
    log "no cluster in $state"
    return 0
  fi
  [[ -e "$state/$marker" ]] || die "$state has no $marker file; not touching it"
  exec 9>"$state/.lock"
  command -v flock >/dev/null && flock 9
  stop_all
  # Nothing may still be mounted below the directory that is about to go.
  if awk -v d="$state/" 'index($2, d) == 1 {found = 1} END {exit !found}' /proc/self/mounts; then
    die "something is still mounted under $state; not deleting it (see: grep $state /proc/self/mounts)"
  fi
  rm -rf "$state"
  log "stopped; removed $state"
}

cmd_env() {
  [[ -f "$state/kubeconfig" && -f "$state/bin-dir" ]] \
    || die "no cluster in $state; run: bash ${BASH_SOURCE[0]} up"
  printf 'export KUBECONFIG=%q\n' "$state/kubeconfig"
  # shellcheck disable=SC2016 # $PATH is expanded by whoever evals this
  printf 'export PATH=%q:"$PATH"\n' "$(cat "$state/bin-dir")"
  real_node_env
}

cmd_status() {
  if [[ ! -f "$state/ports" ]]; then
    echo "no cluster in $state"
    return 1
  fi
  bin="$(cat "$state/bin-dir")"
  local c pid ok=0
  echo "state: $state"
  for c in "${components[@]}"; do
    pid="$(pid_of "$c" 2>/dev/null || true)"
    if component_alive "$c"; then
      printf '  %-24s running (pid %s, port %s)\n' "$c" "$pid" "$(port "${c/kube-apiserver/apiserver}")"
    else
      printf '  %-24s NOT running (pid %s)\n' "$c" "${pid:-none}"
      ok=1
    fi
  done
  if [[ -f "$(real_dir)/env" ]]; then
    node_bin="$(cat "$state/node-bin-dir" 2>/dev/null || true)"
    echo "  real node $(real_var node_name): namespace $(real_var netns), address $(real_var node_ip), pods $(real_var pod_cidr)"
    for c in "${real_components[@]}"; do
      pid="$(pid_of "$c" 2>/dev/null || true)"
      if component_alive "$c"; then
        printf '  %-24s running (pid %s)\n' "$c" "$pid"
      else
        printf '  %-24s NOT running (pid %s)\n' "$c" "${pid:-none}"
        ok=1
      fi
    done
  fi
  if api_ready; then
    echo "  API server ready at https://$(api_host):$(port apiserver)"
    kc get nodes 2>&1 | sed 's/^/    /'
  else
    echo "  API server NOT ready"
    ok=1
  fi
  return $ok
}

cmd_load_image() { # FILE
  [[ -f "${1:-}" ]] || die "usage: cluster.sh load-image FILE (a docker-archive or OCI tarball)"
  [[ -f "$(real_dir)/env" ]] || die "the cluster in $state has no real node"
  node_bin="$(cat "$state/node-bin-dir")"
  real_import_image "$1"
  log "imported $1 into $(real_var node_name)"
}

cmd_real_node_check() {
  local why
  why="$(real_node_unavailable)"
  if [[ -n "$why" ]]; then
    echo "$why"
    return 1
  fi
  echo "a real node can run here"
}

case "${1:-}" in
  up)
    if [[ "${2:-}" == --real-nodes ]]; then
      real_nodes="${3:-}"
    elif [[ "${2:-}" == --real-nodes=* ]]; then
      real_nodes="${2#--real-nodes=}"
    fi
    cmd_up
    ;;
  load-image) cmd_load_image "${2:-}" ;;
  real-node-check) cmd_real_node_check ;;
  down) cmd_down ;;
  env) cmd_env ;;
  status) cmd_status ;;
  *)
    echo "usage: $0 up [--real-nodes 0|1]|down|env|status|load-image FILE|real-node-check" >&2
    exit 2
    ;;
esac
