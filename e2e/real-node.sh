# shellcheck shell=bash
# shellcheck disable=SC2154 # state, here, bin: set by cluster.sh, which sources this file
# The real node of the e2e cluster, sourced by e2e/cluster.sh (see e2e/README.md, "The real
# node"): containerd + runc, the kubelet, the CNI bridge, kube-proxy (nftables), CoreDNS and
# kube-router's NetworkPolicy firewall, every one a process of cluster.sh's, all inside one network namespace
# the harness creates. That namespace is the node: its iptables/nftables rules, its bridge, its
# ports and its routes are its own, so two clusters on one machine do not meet, and the
# machine's own network is never touched (the host keeps ip_forward off).
#
# Addresses of cluster slot N (0-63, the first free one, claimed under a machine-wide lock):
#   10.250.N.1/30   host end of the veth (the API server binds here so the node can reach it)
#   10.250.N.2/30   the node (kubelet --node-ip, InternalIP, NodePorts, CoreDNS)
#   10.245.0.0/24   pods (cni0 bridge, host-local IPAM); the same in every slot, never routed
#   10.96.0.0/16    Services; kube-dns is 10.96.0.10
# The node namespace has no default route; an nftables table drops pod traffic to anything
# but pods, Services, the node and the API server's port (the egress rule).

real_node_name=real-node-0
real_pod_cidr=10.245.0.0/24
real_service_cidr=10.96.0.0/16
real_dns_ip=10.96.0.10
real_label=compose-operator.dev/e2e-node
real_slots_lock=/run/compose-operator-e2e.lock
# Start order; `down` stops them in reverse.
real_components=(containerd kubelet kube-proxy coredns kube-router)

real_dir() { echo "$state/node"; }

# Why a real node cannot run here (empty output when it can). Cheap; used by `up` and the demo.
real_node_unavailable() {
  [[ "$(id -u)" == 0 ]] || { echo "not root (a kubelet, containerd and network namespaces need root)"; return; }
  local tool
  for tool in ip nsenter nft mount umount; do
    command -v "$tool" >/dev/null || { echo "$tool is missing (Debian: iproute2, util-linux, nftables)"; return; }
  done
  [[ -d /sys/fs/cgroup/memory || -f /sys/fs/cgroup/cgroup.controllers ]] || { echo "no cgroup memory controller under /sys/fs/cgroup"; return; }
  grep -qw overlay /proc/filesystems || { echo "the kernel has no overlay filesystem"; return; }
  local probe="co-e2e-probe-$$"
  if ! ip netns add "$probe" 2>/dev/null; then
    echo "cannot create network namespaces (ip netns add failed)"
    return
  fi
  ip netns del "$probe" 2>/dev/null || true
}

# Debian packages the node's processes call: nft (kube-proxy, the egress rule), iptables and
# ipset (kube-router's firewall, the kubelet's canary chains), conntrack (kube-proxy's UDP cleanup).
real_node_packages() {
  local missing=()
  command -v nft >/dev/null || missing+=(nftables)
  command -v iptables >/dev/null || missing+=(iptables)
  command -v ipset >/dev/null || missing+=(ipset)
  command -v conntrack >/dev/null || missing+=(conntrack)
  ((${#missing[@]} == 0)) && return 0
  command -v apt-get >/dev/null || die "the real node needs ${missing[*]}"
  log "installing ${missing[*]}"
  apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >&2
}

in_node() { nsenter --net="/run/netns/$(real_var netns)" -- "$@"; }
real_var() { sed -n "s/^$1=//p" "$(real_dir)/env"; }

# Claims a free slot (a netns name and a /30 on the host) and writes node/env.
real_node_network() {
  local dir slot ns host_if
  dir="$(real_dir)"
  mkdir -p "$dir" /run/netns
  exec 8>"$real_slots_lock"
  flock 8
  for ((slot = 0; slot < 64; slot++)); do
    ns="compose-e2e-$slot"
    host_if="co-e2e-$slot"
    [[ -e "/run/netns/$ns" ]] && continue
    ip link show "$host_if" >/dev/null 2>&1 && continue
    [[ -n "$(ip -o -4 addr show to "10.250.$slot.0/30" 2>/dev/null)" ]] && continue
    break
  done
  ((slot < 64)) || die "no free real-node slot (64 clusters with real nodes on this machine?)"
  ip netns add "$ns"
  # The namespace is ours from here on: `down` deletes it.
  printf 'netns=%s\nhost_if=%s\nhost_ip=10.250.%s.1\nnode_ip=10.250.%s.2\npod_cidr=%s\nservice_cidr=%s\ndns_ip=%s\nnode_name=%s\ncgroup_root=/compose-e2e-%s\n' \
    "$ns" "$host_if" "$slot" "$slot" "$real_pod_cidr" "$real_service_cidr" "$real_dns_ip" "$real_node_name" "$slot" >"$dir/env"
  ip link add "$host_if" type veth peer name eth0 netns "$ns"
  flock -u 8
  exec 8>&-
  ip addr add "10.250.$slot.1/30" dev "$host_if"
  ip link set "$host_if" up
  in_node ip link set lo up
  in_node ip addr add "10.250.$slot.2/30" dev eth0
  in_node ip link set eth0 up
  # Forwarding between pods and Services happens inside the node namespace only.
  in_node sysctl -qw net.ipv4.ip_forward=1
  in_node sysctl -qw net.ipv6.conf.all.disable_ipv6=1
  in_node sysctl -qw net.bridge.bridge-nf-call-iptables=1 2>/dev/null \
    || log "warning: net.bridge.bridge-nf-call-iptables is not settable (br_netfilter); pod-to-Service traffic on one bridge may not work"
  real_egress_rule
  log "real node network: namespace $ns, node $(real_var node_ip), API at $(real_var host_ip)"
}

# The egress rule: pods reach pods, Services, the node and the API server, nothing else. It
# runs after kube-proxy's DNAT (priority dstnat+10), so a Service's traffic is judged by the
# endpoint it was sent to.
real_egress_rule() {
  in_node nft -f - <<EOF
table ip compose-operator-egress {
  chain pods {
    type filter hook prerouting priority dstnat + 10; policy accept;
    ip saddr != $(real_var pod_cidr) accept
    ct state established,related accept
    ip daddr { $(real_var pod_cidr), $(real_var service_cidr), $(real_var node_ip) } accept
    ip daddr $(real_var host_ip) tcp dport $(port apiserver) accept
    counter drop comment "pod traffic to outside the cluster"
  }
  # The host has no route to the pods (every cluster's pods use the same range): what pods send
  # to the API server leaves the node with the node's address.
  chain to-host {
    type nat hook postrouting priority srcnat; policy accept;
    ip saddr $(real_var pod_cidr) oifname "eth0" masquerade
  }
}
EOF
}

# The kubelet's serving certificate (the API server dials it for logs, exec and port-forward).
real_node_pki() {
  local dir pki
  dir="$(real_dir)"
  pki="$state/pki"
  openssl req -newkey rsa:2048 -nodes -sha256 -subj "/O=system:nodes/CN=system:node:$real_node_name" \
    -keyout "$dir/kubelet.key" -out "$dir/kubelet.csr" 2>/dev/null
  printf '%s\n' "basicConstraints = critical,CA:FALSE" "keyUsage = critical,digitalSignature,keyEncipherment" \
    "extendedKeyUsage = serverAuth" "subjectAltName = DNS:$real_node_name,IP:$(real_var node_ip)" >"$dir/kubelet.ext"
  openssl x509 -req -sha256 -days 3650 -in "$dir/kubelet.csr" -CA "$pki/ca.crt" -CAkey "$pki/ca.key" \
    -CAcreateserial -extfile "$dir/kubelet.ext" -out "$dir/kubelet.crt" 2>/dev/null
  rm -f "$dir/kubelet.csr" "$dir/kubelet.ext" "$pki"/*.srl
  chmod 600 "$dir/kubelet.key"
}

real_node_configs() {
  local dir node_bin
  dir="$(real_dir)"
  node_bin="$(cat "$state/node-bin-dir")"
  mkdir -p "$dir/cni/bin" "$dir/cni/net.d" "$dir/cni/ipam" "$dir/containerd" "$dir/kubelet" "$dir/pod-logs" "$dir/runc"
  local plugin
  for plugin in bridge host-local loopback portmap; do
    ln -sf "$node_bin/$plugin" "$dir/cni/bin/$plugin"
  done
  cat >"$dir/cni/net.d/10-e2e.conflist" <<EOF
{
  "cniVersion": "1.0.0",
  "name": "compose-e2e",
  "plugins": [
    {
      "type": "bridge",
      "bridge": "cni0",
      "isGateway": true,
      "ipMasq": false,
      "hairpinMode": true,
      "ipam": {
        "type": "host-local",
        "dataDir": "$dir/cni/ipam",
        "ranges": [[{"subnet": "$(real_var pod_cidr)"}]],
        "routes": [{"dst": "0.0.0.0/0"}]
      }
    },
    {"type": "portmap", "capabilities": {"portMappings": true}, "backend": "nftables"}
  ]
}
EOF
  cat >"$dir/containerd/config.toml" <<EOF
version = 3
root = "$dir/containerd/root"
state = "$dir/containerd/state"
# NRI's socket is one path per machine; two clusters' containerds would fight over it.
disabled_plugins = ["io.containerd.nri.v1.nri"]

[grpc]
  address = "$dir/containerd.sock"
[ttrpc]
  address = "$dir/containerd.sock.ttrpc"
[debug]
  address = ""
[metrics]
  address = ""

[plugins."io.containerd.internal.v1.opt"]
  path = "$dir/containerd/opt"
[plugins."io.containerd.cri.v1.images"]
  snapshotter = "overlayfs"
  # Nothing can be pulled: every image is imported (e2e/image.sh).
  [plugins."io.containerd.cri.v1.images".pinned_images]
    sandbox = "e2e.local/pause:1"
[plugins."io.containerd.cri.v1.runtime"]
  # No CAP_SYS_RESOURCE here: no process may lower its OOM score.
  restrict_oom_score_adj = true
  netns_mounts_under_state_dir = true
  [plugins."io.containerd.cri.v1.runtime".cni]
    bin_dirs = ["$dir/cni/bin"]
    conf_dir = "$dir/cni/net.d"
    max_conf_num = 1
  [plugins."io.containerd.cri.v1.runtime".containerd]
    default_runtime_name = "runc"
    [plugins."io.containerd.cri.v1.runtime".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.cri.v1.runtime".containerd.runtimes.runc.options]
        BinaryName = "$node_bin/runc"
        Root = "$dir/runc"
        SystemdCgroup = false
EOF
  # Pods with dnsPolicy Default get this (CoreDNS too): never the machine's resolver.
  echo "nameserver $(real_var dns_ip)" >"$dir/resolv.conf"
  cat >"$dir/kubelet/config.yaml" <<EOF
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
address: $(real_var node_ip)
port: 10250
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
healthzPort: 10248
tlsCertFile: $dir/kubelet.crt
tlsPrivateKeyFile: $dir/kubelet.key
authentication:
  anonymous:
    enabled: false
  webhook:
    enabled: true
  x509:
    clientCAFile: $state/pki/ca.crt
authorization:
  mode: Webhook
containerRuntimeEndpoint: unix://$dir/containerd.sock
cgroupDriver: cgroupfs
cgroupRoot: $(real_var cgroup_root)
failCgroupV1: false
failSwapOn: false
clusterDomain: cluster.local
clusterDNS:
- $(real_var dns_ip)
resolvConf: $dir/resolv.conf
podLogsDir: $dir/pod-logs
registerNode: true
registerWithTaints:
- key: $real_label
  value: real
  effect: NoSchedule
serializeImagePulls: false
maxPods: 110
# A shared development disk is often fuller than a node's; evict only when it really is full.
evictionHard:
  memory.available: 100Mi
  nodefs.available: 1%
  nodefs.inodesFree: 1%
  imagefs.available: 1%
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
EOF
  cat >"$dir/kube-proxy.yaml" <<EOF
apiVersion: kubeproxy.config.k8s.io/v1alpha1
kind: KubeProxyConfiguration
clientConnection:
  kubeconfig: $state/kubeconfig
hostnameOverride: $real_node_name
mode: nftables
clusterCIDR: $(real_var pod_cidr)
bindAddress: $(real_var node_ip)
healthzBindAddress: 127.0.0.1:10256
metricsBindAddress: 127.0.0.1:10249
nodePortAddresses:
- $(real_var node_ip)/32
# nf_conntrack_max and the timeouts are the machine's, not the namespace's: leave them alone.
conntrack:
  maxPerCore: 0
  min: 0
  tcpEstablishedTimeout: 0s
  tcpCloseWaitTimeout: 0s
EOF
  cat >"$dir/Corefile" <<EOF
# Cluster names only: there is no forward plugin, and other zones are REFUSED.
cluster.local:53 in-addr.arpa:53 ip6.arpa:53 {
    bind $(real_var node_ip)
    errors
    health 127.0.0.1:10254
    ready 127.0.0.1:10255
    kubernetes cluster.local in-addr.arpa ip6.arpa {
        kubeconfig $state/kubeconfig
        pods insecure
        ttl 5
    }
    cache 5
    loadbalance
}
EOF
}

# kube-dns: a Service without selector whose one endpoint is CoreDNS on the node address.
real_dns_objects() {
  cat <<EOF
---
apiVersion: v1
kind: Service
metadata:
  name: kube-dns
  namespace: kube-system
  labels:
    k8s-app: kube-dns
    kubernetes.io/name: CoreDNS
spec:
  clusterIP: $(real_var dns_ip)
  ports:
  - {name: dns, port: 53, protocol: UDP, targetPort: 53}
  - {name: dns-tcp, port: 53, protocol: TCP, targetPort: 53}
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: kube-dns-node
  namespace: kube-system
  labels:
    kubernetes.io/service-name: kube-dns
    endpointslice.kubernetes.io/managed-by: compose-operator-e2e
addressType: IPv4
endpoints:
- addresses: [$(real_var node_ip)]
  conditions: {ready: true}
  nodeName: $real_node_name
ports:
- {name: dns, port: 53, protocol: UDP}
- {name: dns-tcp, port: 53, protocol: TCP}
EOF
}

real_node_ready() {
  [[ "$(kc get node "$real_node_name" -o jsonpath='{.status.conditions[?(@.type=="Ready")].status}' 2>/dev/null)" == True ]]
}
containerd_ready() { ctr_node version; }
ctr_node() { "$node_bin/ctr" --address "$(real_dir)/containerd.sock" "$@"; }
kube_proxy_healthy() { in_node curl -sf --max-time 2 http://127.0.0.1:10256/healthz; }

# Imports a docker-archive or OCI tarball into the node's containerd (namespace k8s.io).
real_import_image() { # FILE
  ctr_node -n k8s.io images import "$1" >"$(real_dir)/import.log" 2>&1 \
    || die "ctr images import $1 failed: $(cat "$(real_dir)/import.log")"
}

# The kubelet's --cgroup-root must exist: one cgroup per controller hierarchy, cpuset's
# initialised from its parent (cgroup v1 leaves a new cpuset empty, and then nothing can join it).
real_cgroup_root() {
  local root controller
  root="$(real_var cgroup_root)"
  for controller in /sys/fs/cgroup/*; do
    [[ -d "$controller" && ! -L "$controller" ]] || continue
    mkdir -p "$controller$root"
    if [[ -f "$controller/cpuset.cpus" && ! -s "$controller$root/cpuset.cpus" ]]; then
      cat "$controller/cpuset.cpus" >"$controller$root/cpuset.cpus"
      cat "$controller/cpuset.mems" >"$controller$root/cpuset.mems"
    fi
  done
}

real_node_up() {
  local dir
  dir="$(real_dir)"
  node_bin="$(bash "$here/build-tools.sh" --group real-node | tail -n1)"
  [[ -x "$node_bin/kubelet" ]] || die "build-tools.sh --group real-node did not produce binaries"
  echo "$node_bin" >"$state/node-bin-dir"
  real_node_pki
  real_node_configs
  real_cgroup_root

  start_in_node containerd --config "$dir/containerd/config.toml"
  wait_for "containerd answers" containerd containerd_ready
  log "importing e2e.local/busybox:1, e2e.local/pause:1 and e2e.local/whoami:1"
  bash "$here/image.sh" test-images "$dir/images"
  real_import_image "$dir/images/pause.tar"
  real_import_image "$dir/images/busybox.tar"
  real_import_image "$dir/images/whoami.tar"

  start_in_node kubelet --config="$dir/kubelet/config.yaml" --kubeconfig="$state/kubeconfig" \
    --root-dir="$dir/kubelet/root" --cert-dir="$dir/kubelet/pki" --hostname-override="$real_node_name" \
    --node-ip="$(real_var node_ip)" --node-labels="$real_label=real"
  start_in_node kube-proxy --config="$dir/kube-proxy.yaml"
  real_dns_objects | kc apply -f - >/dev/null
  start_in_node coredns -conf "$dir/Corefile" -dns.port 53
  wait_for "the real node $real_node_name is Ready" kubelet real_node_ready
  # kube-router's firewall only (no routing, no service proxy, no CNI): NetworkPolicies as
  # iptables rules and ipsets, in the node's FORWARD chain (bridged traffic included). It looks
  # its Node up once and exits if it is not there yet: it starts after the kubelet registered it.
  start_in_node kube-router --kubeconfig="$state/kubeconfig" --hostname-override="$real_node_name" \
    --run-firewall=true --run-router=false --run-service-proxy=false --run-loadbalancer=false \
    --enable-cni=false --enable-ipv4=true --enable-ipv6=false --metrics-port=0 --health-port=20244 \
    --service-cluster-ip-range="$(real_var service_cidr)"
  wait_for "kube-proxy is healthy" kube-proxy kube_proxy_healthy
  wait_for "CoreDNS is ready" coredns in_node curl -sf --max-time 2 http://127.0.0.1:10255/ready
  wait_for "kube-router's firewall is healthy" kube-router in_node curl -sf --max-time 2 http://127.0.0.1:20244/healthz
}

# Stops the node's processes, then removes what they leave behind: the pods' processes and
# mounts. The network goes later (real_node_network_down), after the API server, which would
# otherwise hang on its way out trying to reach its own address. Safe on a half-started node.
real_node_down() {
  local dir
  dir="$(real_dir)"
  [[ -f "$dir/env" ]] || return 0
  local i f
  for ((i = ${#real_components[@]} - 1; i >= 0; i--)); do
    f="$state/pids/${real_components[i]}.pid"
    [[ -e "$f" ]] && stop_pidfile "$f" "$(cat "$state/pids/${real_components[i]}.exe" 2>/dev/null || true)"
  done
  # Any other node process recorded (one a different version of this script started): every
  # pid file that is not the control plane's.
  for f in "$state"/pids/*.pid; do
    [[ -e "$f" && " ${components[*]} " != *" $(basename "$f" .pid) "* ]] || continue
    stop_pidfile "$f" "$(cat "${f%.pid}.exe" 2>/dev/null || true)"
  done
  # Whatever containers are left (the shims outlive containerd): every process whose cgroup
  # is under this node's cgroup root.
  local cgroup_root pids
  cgroup_root="$(real_var cgroup_root)"
  pids="$(grep -l ":$cgroup_root/" /proc/[0-9]*/cgroup 2>/dev/null | sed 's|/proc/\([0-9]*\)/cgroup|\1|' | sort -u || true)"
  # Shims of this node's containerd run in no pod cgroup: find them by their -address flag.
  pids+=" $(pgrep -f -- "-address $dir/containerd.sock" 2>/dev/null || true)"
  if [[ -n "${pids// /}" ]]; then
    # shellcheck disable=SC2086 # a list of pids
    kill -KILL $pids 2>/dev/null || true
  fi
  # Mounts under the node's directory (overlay rootfs, volumes, the pods' netns), deepest first.
  local mnt
  awk -v d="$dir/" 'index($2, d) == 1 {print $2}' /proc/self/mounts | sort -r | while read -r mnt; do
    umount -l "$mnt" 2>/dev/null || true
  done
}

# The namespace (with the bridge and the pods' veth ends), the host's end of the link, the
# node's cgroups; then the node is gone.
real_node_network_down() {
  local dir
  dir="$(real_dir)"
  [[ -f "$dir/env" ]] || return 0
  ip netns del "$(real_var netns)" 2>/dev/null || true
  ip link del "$(real_var host_if)" 2>/dev/null || true
  # The node's cgroups, deepest first.
  local controller cgroup_root
  cgroup_root="$(real_var cgroup_root)"
  for controller in /sys/fs/cgroup/*; do
    [[ -d "$controller$cgroup_root" ]] || continue
    find "$controller$cgroup_root" -depth -type d -exec rmdir {} + 2>/dev/null || true
  done
  rm -f "$dir/env"
}

real_node_env() {
  [[ -f "$(real_dir)/env" ]] || return 0
  printf 'export COMPOSE_OPERATOR_REAL_NODE=%q\n' "$(real_var node_name)"
  printf 'export COMPOSE_OPERATOR_REAL_NODE_IP=%q\n' "$(real_var node_ip)"
  printf 'export COMPOSE_OPERATOR_REAL_NODE_NETNS=%q\n' "$(real_var netns)"
  printf 'export COMPOSE_OPERATOR_REAL_NODE_POD_CIDR=%q\n' "$(real_var pod_cidr)"
  printf 'export COMPOSE_OPERATOR_REAL_NODE_CONTAINERD=%q\n' "$(real_dir)/containerd.sock"
  # shellcheck disable=SC2016 # $PATH is expanded by whoever evals this
  printf 'export PATH=%q:"$PATH"\n' "$(cat "$state/node-bin-dir")"
}
