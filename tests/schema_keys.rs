//! No compose key is dropped without a word, by construction (issue 19).
//!
//! The vendored compose-spec JSON schema (tests/data/compose-spec/compose-spec.json,
//! compose-go v2.16.2) is walked into every property path it defines, written as a user
//! would: `services.*.image`, `services.*.volumes[].bind.propagation`,
//! `networks.*.ipam.config[].subnet` (`*` a free-form map key, `[]` a list item; `$ref`s
//! into `$defs` resolved, every `allOf`/`oneOf`/`anyOf` branch walked; `x-*` extensions
//! are left out, as the loader ignores them by design). [`TABLE`] says, for each path,
//! what the operator does with the key:
//!
//! - **Translated**: it becomes part of the Kubernetes objects, with no warning about it;
//! - **Warned**: the stack is translated, and a warning names the key as a whole word, in its
//!   path or its text (a warning filed under a sibling key does not count);
//! - **Refused**: the stack is refused with an error that names the key;
//! - **Covered**: a whole subtree, written `parent.**`, whose class is its parent's
//!   (everything under a refused `jobs`, the entries of a translated `labels` map).
//!
//! Two tests hold the table to the schema and to the code:
//!
//! - [`every_schema_key_is_classified`]: a path is classified by the row naming exactly it,
//!   or else by the longest `.**` row above it. A schema path that no row classifies fails
//!   the test (a new compose key must be decided, not dropped), and so does a row that
//!   matches no schema path (a stale row).
//! - [`every_row_behaves_as_classified`]: each row other than Covered carries a minimal
//!   compose document using the key, which is run through the real pipeline with the default
//!   policy; the class observed (refused if the result is an error naming the key, warned if
//!   a warning names it, translated otherwise) must be the row's. All mismatches are reported
//!   together.
//!
//! Keys that are dropped silently today are classified Warned (what they must be), so that
//! the second test fails until each gets its warning or its translation.
//!
//! To add a key: add a row `(path, Class, example)` in its section of [`TABLE`], with the
//! path as the failure message prints it and an example document (`svc!` for a key of
//! service `web`, `svc_and!` when top-level definitions are needed too). A key whose
//! sub-keys all share its fate gets a second row `(path.**, Covered, "")`.

use std::collections::BTreeSet;
use std::fmt;

use compose_operator::api::ComposeStackSpec;
use compose_operator::pipeline;
use compose_operator::policy::Policy;
use serde_json::{Map, Value};

const SCHEMA: &str = include_str!("data/compose-spec/compose-spec.json");

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Class {
    Translated,
    Warned,
    Refused,
    Covered,
}

use Class::{Covered, Refused, Translated, Warned};

/// A compose document with the one service `web` (image nginx) and these fields of it.
macro_rules! svc {
    ($fields:literal) => {
        concat!("{services: {web: {image: nginx, ", $fields, "}}}")
    };
}

/// The same, with top-level entries besides `services`.
macro_rules! svc_and {
    ($fields:literal, $top:literal) => {
        concat!("{services: {web: {image: nginx, ", $fields, "}}, ", $top, "}")
    };
}

/// Every compose-spec key: its path, what the operator does with it, and a document that
/// uses it (none for Covered rows). Sections follow the schema's order.
#[rustfmt::skip]
const TABLE: &[(&str, Class, &str)] = &[
    // ---- top level
    ("version", Warned, "{version: '3.8', services: {web: {image: nginx}}}"), // obsolete; docker compose warns, we say nothing
    ("name", Translated, "{name: shop, services: {web: {image: nginx}}}"), // the CLI's stack name
    ("include", Refused, "{include: [other.yaml], services: {web: {image: nginx}}}"),
    ("include.**", Covered, ""),
    ("services", Translated, svc!("")),
    ("services.*", Translated, svc!("")),
    ("models", Warned, "{services: {web: {image: nginx}}, models: {llm: {model: ai/smollm2}}}"),
    ("models.**", Covered, ""),
    ("jobs", Refused, "{services: {web: {image: nginx}}, jobs: {backup: {image: busybox}}}"),
    ("jobs.**", Covered, ""),

    // ---- services.*: what runs
    ("services.*.image", Translated, svc!("")),
    ("services.*.build", Warned, svc!("build: ./app")), // with an image, build is ignored
    ("services.*.build.**", Covered, ""),
    ("services.*.command", Translated, svc!("command: sleep infinity")),
    ("services.*.entrypoint", Translated, svc!("entrypoint: [/docker-entrypoint.sh]")),
    ("services.*.working_dir", Translated, svc!("working_dir: /app")),
    ("services.*.user", Translated, svc!("user: '1000:1000'")),
    ("services.*.environment", Translated, svc!("environment: {MODE: production}")),
    ("services.*.environment.**", Covered, ""),
    // Env files are read from spec.files, which these examples do not fill.
    ("services.*.env_file", Refused, svc!("env_file: .env")),
    ("services.*.env_file[].path", Translated, svc!("env_file: [{path: .env, required: false}]")),
    ("services.*.env_file[].required", Translated, svc!("env_file: [{path: .env, required: false}]")),
    ("services.*.env_file[].format", Warned, svc!("env_file: [{path: .env, format: raw, required: false}]")),
    ("services.*.label_file", Warned, svc!("label_file: ./labels")),
    ("services.*.labels", Translated, svc!("labels: {tier: web}")),
    ("services.*.labels.**", Covered, ""),
    ("services.*.annotations", Translated, svc!("annotations: {team: web}")),
    ("services.*.annotations.**", Covered, ""),
    ("services.*.hostname", Translated, svc!("hostname: web1")),
    ("services.*.domainname", Warned, svc!("domainname: example.com")),
    ("services.*.container_name", Warned, svc!("container_name: my-web")),
    ("services.*.platform", Translated, svc!("platform: linux/amd64")),
    ("services.*.pull_policy", Translated, svc!("pull_policy: always")),
    ("services.*.pull_refresh_after", Warned, svc!("pull_refresh_after: 1h")),
    ("services.*.profiles", Translated, "{services: {web: {image: nginx}, debug: {image: busybox, profiles: [debug]}}}"),
    ("services.*.restart", Translated, svc!("restart: unless-stopped")),
    ("services.*.scale", Translated, svc!("scale: 2")),
    ("services.*.stdin_open", Translated, svc!("stdin_open: true")),
    ("services.*.tty", Translated, svc!("tty: true")),
    ("services.*.init", Warned, svc!("init: true")),
    ("services.*.attach", Warned, svc!("attach: false")),
    ("services.*.stop_grace_period", Translated, svc!("stop_grace_period: 30s")),
    ("services.*.stop_signal", Warned, svc!("stop_signal: SIGQUIT")),
    ("services.*.develop", Warned, svc!("develop: {watch: [{path: ./src, action: sync, target: /app}]}")),
    ("services.*.develop.**", Covered, ""),
    ("services.*.provider", Refused, "{services: {ai: {provider: {type: model, options: {model: ai/smollm2}}}}}"),
    ("services.*.provider.**", Covered, ""),
    ("services.*.models", Warned, svc_and!("models: [llm]", "models: {llm: {model: ai/smollm2}}")),
    ("services.*.models.**", Covered, ""),
    ("services.*.extends", Translated, "{services: {base: {image: nginx}, web: {extends: {service: base}}}}"),
    ("services.*.extends.service", Translated, "{services: {base: {image: nginx}, web: {extends: {service: base}}}}"),
    ("services.*.extends.file", Refused, "{services: {web: {extends: {service: base, file: base.yaml}}}}"),
    ("services.*.pre_start", Refused, svc!("pre_start: [{image: busybox, command: [true]}]")),
    ("services.*.pre_start.**", Covered, ""),

    // ---- services.*: lifecycle hooks
    ("services.*.post_start", Translated, svc!("post_start: [{command: [touch, /tmp/up]}]")),
    ("services.*.post_start[].command", Translated, svc!("post_start: [{command: touch /tmp/up}]")),
    ("services.*.post_start[].user", Warned, svc!("post_start: [{command: [touch, /tmp/up], user: root}]")),
    ("services.*.post_start[].privileged", Warned, svc!("post_start: [{command: [touch, /tmp/up], privileged: true}]")),
    ("services.*.post_start[].working_dir", Warned, svc!("post_start: [{command: [touch, up], working_dir: /tmp}]")),
    ("services.*.post_start[].environment", Warned, svc!("post_start: [{command: [touch, /tmp/up], environment: {A: '1'}}]")),
    ("services.*.post_start[].environment.**", Covered, ""),
    ("services.*.pre_stop", Translated, svc!("pre_stop: [{command: [nginx, -s, quit]}]")),
    ("services.*.pre_stop[].command", Translated, svc!("pre_stop: [{command: nginx -s quit}]")),
    ("services.*.pre_stop[].user", Warned, svc!("pre_stop: [{command: [nginx, -s, quit], user: root}]")),
    ("services.*.pre_stop[].privileged", Warned, svc!("pre_stop: [{command: [nginx, -s, quit], privileged: true}]")),
    ("services.*.pre_stop[].working_dir", Warned, svc!("pre_stop: [{command: [nginx, -s, quit], working_dir: /tmp}]")),
    ("services.*.pre_stop[].environment", Warned, svc!("pre_stop: [{command: [nginx, -s, quit], environment: {A: '1'}}]")),
    ("services.*.pre_stop[].environment.**", Covered, ""),

    // ---- services.*: health and dependencies
    ("services.*.healthcheck", Translated, svc!("healthcheck: {test: [CMD, curl, -f, localhost]}")),
    ("services.*.healthcheck.test", Translated, svc!("healthcheck: {test: curl -f localhost}")),
    ("services.*.healthcheck.disable", Translated, svc!("healthcheck: {disable: true}")),
    ("services.*.healthcheck.interval", Translated, svc!("healthcheck: {test: [CMD, curl, -f, localhost], interval: 10s}")),
    ("services.*.healthcheck.timeout", Translated, svc!("healthcheck: {test: [CMD, curl, -f, localhost], timeout: 5s}")),
    ("services.*.healthcheck.retries", Translated, svc!("healthcheck: {test: [CMD, curl, -f, localhost], retries: 5}")),
    ("services.*.healthcheck.start_period", Translated, svc!("healthcheck: {test: [CMD, curl, -f, localhost], start_period: 60s}")),
    ("services.*.healthcheck.start_interval", Translated, svc!("healthcheck: {test: [CMD, curl, -f, localhost], start_period: 60s, start_interval: 2s}")),
    ("services.*.depends_on", Translated, "{services: {db: {image: postgres}, web: {image: nginx, depends_on: [db]}}}"),
    ("services.*.depends_on.*", Translated, "{services: {db: {image: postgres}, web: {image: nginx, depends_on: {db: {}}}}}"),
    ("services.*.depends_on.*.condition", Translated, "{services: {db: {image: postgres, healthcheck: {test: [CMD, pg_isready]}}, web: {image: nginx, depends_on: {db: {condition: service_healthy}}}}}"),
    ("services.*.depends_on.*.required", Translated, "{services: {db: {image: postgres}, web: {image: nginx, depends_on: {db: {condition: service_started, required: false}}}}}"),
    ("services.*.depends_on.*.restart", Warned, "{services: {db: {image: postgres}, web: {image: nginx, depends_on: {db: {condition: service_started, restart: true}}}}}"),
    ("services.*.links", Translated, "{services: {db: {image: postgres}, web: {image: nginx, links: ['db:database']}}}"),
    ("services.*.external_links", Warned, svc!("external_links: [redis_1]")),
    ("services.*.volumes_from", Refused, "{services: {db: {image: postgres}, web: {image: nginx, volumes_from: [db]}}}"),

    // ---- services.*: ports and networks
    ("services.*.ports", Translated, svc!("ports: ['8080:80']")),
    ("services.*.ports[].target", Translated, svc!("ports: [{target: 80}]")),
    ("services.*.ports[].published", Translated, svc!("ports: [{target: 80, published: 8080}]")),
    ("services.*.ports[].protocol", Translated, svc!("ports: [{target: 53, published: 53, protocol: udp}]")),
    ("services.*.ports[].host_ip", Translated, svc!("ports: [{target: 80, published: 8080, host_ip: 0.0.0.0}]")),
    ("services.*.ports[].mode", Warned, svc!("ports: [{target: 80, published: 8080, mode: host}]")),
    ("services.*.ports[].name", Warned, svc!("ports: [{target: 80, published: 8080, name: http}]")),
    ("services.*.ports[].app_protocol", Translated, svc!("ports: [{target: 80, published: 8080, app_protocol: http}]")),
    ("services.*.expose", Translated, svc!("expose: ['3000']")),
    ("services.*.network_mode", Warned, "{services: {db: {image: postgres}, web: {image: nginx, network_mode: 'service:db'}}}"),
    ("services.*.networks", Translated, svc_and!("networks: [front]", "networks: {front: {}}")),
    ("services.*.networks.*", Translated, svc_and!("networks: {front: {}}", "networks: {front: {}}")),
    ("services.*.networks.*.aliases", Translated, svc_and!("networks: {front: {aliases: [www]}}", "networks: {front: {}}")),
    ("services.*.networks.*.ipv4_address", Warned, svc_and!("networks: {front: {ipv4_address: 172.16.238.10}}", "networks: {front: {}}")),
    ("services.*.networks.*.ipv6_address", Warned, svc_and!("networks: {front: {ipv6_address: '2001:3984:3989::10'}}", "networks: {front: {}}")),
    ("services.*.networks.*.mac_address", Warned, svc_and!("networks: {front: {mac_address: '02:42:ac:11:00:02'}}", "networks: {front: {}}")),
    ("services.*.networks.*.link_local_ips", Warned, svc_and!("networks: {front: {link_local_ips: [169.254.8.8]}}", "networks: {front: {}}")),
    ("services.*.networks.*.interface_name", Warned, svc_and!("networks: {front: {interface_name: eth1}}", "networks: {front: {}}")),
    ("services.*.networks.*.driver_opts", Warned, svc_and!("networks: {front: {driver_opts: {foo: bar}}}", "networks: {front: {}}")),
    ("services.*.networks.*.driver_opts.**", Covered, ""),
    ("services.*.networks.*.priority", Warned, svc_and!("networks: {front: {priority: 100}}", "networks: {front: {}}")),
    ("services.*.networks.*.gw_priority", Warned, svc_and!("networks: {front: {gw_priority: 1}}", "networks: {front: {}}")),
    ("services.*.networks.*.use_service_name_alias", Refused, svc_and!("networks: {front: {use_service_name_alias: false}}", "networks: {front: {}}")),
    ("services.*.mac_address", Warned, svc!("mac_address: '02:42:ac:11:00:02'")),
    ("services.*.dns", Translated, svc!("dns: 8.8.8.8")),
    ("services.*.dns_opt", Translated, svc!("dns_opt: [use-vc]")),
    ("services.*.dns_search", Translated, svc!("dns_search: example.com")),
    ("services.*.extra_hosts", Translated, svc!("extra_hosts: ['db:10.0.0.5']")),
    ("services.*.extra_hosts.**", Covered, ""),

    // ---- services.*: mounts
    ("services.*.volumes", Translated, svc_and!("volumes: ['data:/data']", "volumes: {data: {}}")),
    ("services.*.volumes[].type", Translated, svc_and!("volumes: [{type: volume, source: data, target: /data}]", "volumes: {data: {}}")),
    ("services.*.volumes[].source", Translated, svc_and!("volumes: [{type: volume, source: data, target: /data}]", "volumes: {data: {}}")),
    ("services.*.volumes[].target", Translated, svc_and!("volumes: [{type: volume, source: data, target: /data}]", "volumes: {data: {}}")),
    ("services.*.volumes[].read_only", Translated, svc_and!("volumes: [{type: volume, source: data, target: /data, read_only: true}]", "volumes: {data: {}}")),
    ("services.*.volumes[].consistency", Warned, svc_and!("volumes: [{type: volume, source: data, target: /data, consistency: cached}]", "volumes: {data: {}}")),
    ("services.*.volumes[].bind", Translated, svc!("volumes: [{type: bind, source: ./data, target: /data, bind: {}}]")),
    ("services.*.volumes[].bind.propagation", Warned, svc!("volumes: [{type: bind, source: ./data, target: /data, bind: {propagation: rshared}}]")),
    ("services.*.volumes[].bind.selinux", Warned, svc!("volumes: [{type: bind, source: ./data, target: /data, bind: {selinux: z}}]")),
    ("services.*.volumes[].bind.create_host_path", Warned, svc!("volumes: [{type: bind, source: ./data, target: /data, bind: {create_host_path: false}}]")),
    ("services.*.volumes[].bind.recursive", Warned, svc!("volumes: [{type: bind, source: ./data, target: /data, bind: {recursive: disabled}}]")),
    ("services.*.volumes[].volume", Translated, svc_and!("volumes: [{type: volume, source: data, target: /data, volume: {subpath: app}}]", "volumes: {data: {}}")),
    ("services.*.volumes[].volume.subpath", Translated, svc_and!("volumes: [{type: volume, source: data, target: /data, volume: {subpath: app}}]", "volumes: {data: {}}")),
    ("services.*.volumes[].volume.nocopy", Warned, svc_and!("volumes: [{type: volume, source: data, target: /data, volume: {nocopy: true}}]", "volumes: {data: {}}")),
    ("services.*.volumes[].volume.labels", Refused, svc_and!("volumes: [{type: volume, source: data, target: /data, volume: {labels: {a: b}}}]", "volumes: {data: {}}")),
    ("services.*.volumes[].volume.labels.**", Covered, ""),
    ("services.*.volumes[].tmpfs", Translated, svc!("volumes: [{type: tmpfs, target: /run, tmpfs: {size: 1m}}]")),
    ("services.*.volumes[].tmpfs.size", Translated, svc!("volumes: [{type: tmpfs, target: /run, tmpfs: {size: 1m}}]")),
    ("services.*.volumes[].tmpfs.mode", Warned, svc!("volumes: [{type: tmpfs, target: /run, tmpfs: {mode: 1770}}]")),
    ("services.*.volumes[].image", Refused, svc!("volumes: [{type: image, source: alpine, target: /img, image: {subpath: etc}}]")),
    ("services.*.volumes[].image.**", Covered, ""),
    ("services.*.tmpfs", Translated, svc!("tmpfs: /run")),
    ("services.*.shm_size", Translated, svc!("shm_size: 64m")),
    ("services.*.configs", Translated, svc_and!("configs: [app]", "configs: {app: {content: hello}}")),
    ("services.*.configs[].source", Translated, svc_and!("configs: [{source: app}]", "configs: {app: {content: hello}}")),
    ("services.*.configs[].target", Translated, svc_and!("configs: [{source: app, target: /etc/app.conf}]", "configs: {app: {content: hello}}")),
    ("services.*.configs[].uid", Warned, svc_and!("configs: [{source: app, uid: '101'}]", "configs: {app: {content: hello}}")),
    ("services.*.configs[].gid", Warned, svc_and!("configs: [{source: app, gid: '101'}]", "configs: {app: {content: hello}}")),
    ("services.*.configs[].mode", Translated, svc_and!("configs: [{source: app, mode: 0440}]", "configs: {app: {content: hello}}")),
    ("services.*.secrets", Translated, svc_and!("secrets: [token]", "secrets: {token: {external: true}}")),
    ("services.*.secrets[].source", Translated, svc_and!("secrets: [{source: token}]", "secrets: {token: {external: true}}")),
    ("services.*.secrets[].target", Translated, svc_and!("secrets: [{source: token, target: api-token}]", "secrets: {token: {external: true}}")),
    ("services.*.secrets[].uid", Warned, svc_and!("secrets: [{source: token, uid: '101'}]", "secrets: {token: {external: true}}")),
    ("services.*.secrets[].gid", Warned, svc_and!("secrets: [{source: token, gid: '101'}]", "secrets: {token: {external: true}}")),
    ("services.*.secrets[].mode", Translated, svc_and!("secrets: [{source: token, mode: 0400}]", "secrets: {token: {external: true}}")),

    // ---- services.*: security
    ("services.*.privileged", Refused, svc!("privileged: true")), // by the default policy
    ("services.*.cap_add", Refused, svc!("cap_add: [NET_ADMIN]")), // by the default policy
    ("services.*.cap_drop", Translated, svc!("cap_drop: [ALL]")),
    ("services.*.read_only", Translated, svc!("read_only: true")),
    ("services.*.security_opt", Translated, svc!("security_opt: ['no-new-privileges:true']")),
    ("services.*.group_add", Translated, svc!("group_add: [1000]")),
    ("services.*.sysctls", Translated, svc!("sysctls: {net.ipv4.tcp_syncookies: 1}")),
    ("services.*.sysctls.**", Covered, ""),
    ("services.*.pid", Refused, svc!("pid: host")), // by the default policy
    ("services.*.ipc", Warned, svc!("ipc: shareable")),
    ("services.*.uts", Warned, svc!("uts: host")),
    ("services.*.userns_mode", Warned, svc!("userns_mode: host")),
    ("services.*.use_api_socket", Warned, svc!("use_api_socket: true")),
    ("services.*.credential_spec", Warned, svc!("credential_spec: {config: my-spec}")),
    ("services.*.credential_spec.**", Covered, ""),
    ("services.*.umask", Refused, svc!("umask: '0022'")),

    // ---- services.*: resources and runtime tuning
    ("services.*.cpus", Translated, svc!("cpus: 0.5")),
    ("services.*.mem_limit", Translated, svc!("mem_limit: 512m")),
    ("services.*.mem_reservation", Translated, svc!("mem_reservation: 256m")),
    ("services.*.pids_limit", Warned, svc!("pids_limit: 100")),
    ("services.*.cpu_count", Warned, svc!("cpu_count: 2")),
    ("services.*.cpu_percent", Warned, svc!("cpu_percent: 50")),
    ("services.*.cpu_shares", Warned, svc!("cpu_shares: 512")),
    ("services.*.cpu_quota", Warned, svc!("cpu_quota: 50000")),
    ("services.*.cpu_period", Warned, svc!("cpu_period: 100000")),
    ("services.*.cpu_rt_period", Warned, svc!("cpu_rt_period: 1000000")),
    ("services.*.cpu_rt_runtime", Warned, svc!("cpu_rt_runtime: 950000")),
    ("services.*.cpuset", Warned, svc!("cpuset: '0-1'")),
    ("services.*.mem_swappiness", Warned, svc!("mem_swappiness: 0")),
    ("services.*.memswap_limit", Warned, svc!("memswap_limit: 1g")),
    ("services.*.oom_kill_disable", Warned, svc!("oom_kill_disable: true")),
    ("services.*.oom_score_adj", Warned, svc!("oom_score_adj: 500")),
    ("services.*.blkio_config", Warned, svc!("blkio_config: {weight: 300}")),
    ("services.*.blkio_config.**", Covered, ""),
    ("services.*.cgroup", Warned, svc!("cgroup: host")),
    ("services.*.cgroup_parent", Warned, svc!("cgroup_parent: m-executor")),
    ("services.*.device_cgroup_rules", Warned, svc!("device_cgroup_rules: ['c 1:3 mr']")),
    ("services.*.devices", Warned, svc!("devices: ['/dev/ttyUSB0:/dev/ttyUSB0']")),
    ("services.*.devices.**", Covered, ""),
    ("services.*.gpus", Warned, svc!("gpus: all")),
    ("services.*.gpus.**", Covered, ""),
    ("services.*.isolation", Warned, svc!("isolation: default")),
    ("services.*.logging", Warned, svc!("logging: {driver: syslog}")),
    ("services.*.logging.**", Covered, ""),
    ("services.*.runtime", Warned, svc!("runtime: runc")),
    ("services.*.storage_opt", Warned, svc!("storage_opt: {size: 1G}")),
    ("services.*.ulimits", Warned, svc!("ulimits: {nofile: 65535}")),
    ("services.*.ulimits.**", Covered, ""),

    // ---- services.*.deploy
    ("services.*.deploy", Translated, svc!("deploy: {replicas: 2}")),
    ("services.*.deploy.mode", Translated, svc!("deploy: {mode: global}")),
    ("services.*.deploy.replicas", Translated, svc!("deploy: {replicas: 2}")),
    ("services.*.deploy.endpoint_mode", Translated, svc!("deploy: {endpoint_mode: dnsrr}")),
    ("services.*.deploy.labels", Translated, svc!("deploy: {labels: {tier: web}}")),
    ("services.*.deploy.labels.**", Covered, ""),
    ("services.*.deploy.rollback_config", Warned, svc!("deploy: {rollback_config: {parallelism: 1}}")),
    ("services.*.deploy.rollback_config.**", Covered, ""),
    ("services.*.deploy.update_config", Translated, svc!("deploy: {update_config: {parallelism: 2}}")),
    ("services.*.deploy.update_config.parallelism", Translated, svc!("deploy: {update_config: {parallelism: 2}}")),
    ("services.*.deploy.update_config.delay", Translated, svc!("deploy: {update_config: {delay: 10s}}")),
    ("services.*.deploy.update_config.failure_action", Warned, svc!("deploy: {update_config: {failure_action: rollback}}")),
    ("services.*.deploy.update_config.monitor", Translated, svc!("deploy: {update_config: {monitor: 30s}}")),
    ("services.*.deploy.update_config.max_failure_ratio", Warned, svc!("deploy: {update_config: {max_failure_ratio: 0.1}}")),
    ("services.*.deploy.update_config.order", Translated, svc!("deploy: {update_config: {order: start-first}}")),
    ("services.*.deploy.resources", Translated, svc!("deploy: {resources: {limits: {memory: 512m}}}")),
    ("services.*.deploy.resources.limits", Translated, svc!("deploy: {resources: {limits: {memory: 512m}}}")),
    ("services.*.deploy.resources.limits.cpus", Translated, svc!("deploy: {resources: {limits: {cpus: '0.5'}}}")),
    ("services.*.deploy.resources.limits.memory", Translated, svc!("deploy: {resources: {limits: {memory: 512m}}}")),
    ("services.*.deploy.resources.limits.pids", Warned, svc!("deploy: {resources: {limits: {pids: 100}}}")),
    ("services.*.deploy.resources.reservations", Translated, svc!("deploy: {resources: {reservations: {memory: 256m}}}")),
    ("services.*.deploy.resources.reservations.cpus", Translated, svc!("deploy: {resources: {reservations: {cpus: '0.25'}}}")),
    ("services.*.deploy.resources.reservations.memory", Translated, svc!("deploy: {resources: {reservations: {memory: 256m}}}")),
    ("services.*.deploy.resources.reservations.generic_resources", Warned, svc!("deploy: {resources: {reservations: {generic_resources: [{discrete_resource_spec: {kind: gpu, value: 2}}]}}}")),
    ("services.*.deploy.resources.reservations.generic_resources.**", Covered, ""),
    ("services.*.deploy.resources.reservations.devices", Translated, svc!("deploy: {resources: {reservations: {devices: [{capabilities: [gpu], count: 1}]}}}")),
    ("services.*.deploy.resources.reservations.devices[].capabilities", Translated, svc!("deploy: {resources: {reservations: {devices: [{capabilities: [gpu], count: 1}]}}}")),
    ("services.*.deploy.resources.reservations.devices[].count", Translated, svc!("deploy: {resources: {reservations: {devices: [{capabilities: [gpu], count: 2}]}}}")),
    ("services.*.deploy.resources.reservations.devices[].driver", Translated, svc!("deploy: {resources: {reservations: {devices: [{capabilities: [gpu], count: 1, driver: nvidia}]}}}")),
    ("services.*.deploy.resources.reservations.devices[].device_ids", Warned, svc!("deploy: {resources: {reservations: {devices: [{capabilities: [gpu], device_ids: ['0']}]}}}")),
    ("services.*.deploy.resources.reservations.devices[].options", Warned, svc!("deploy: {resources: {reservations: {devices: [{capabilities: [gpu], count: 1, options: {virtualization: 'false'}}]}}}")),
    ("services.*.deploy.resources.reservations.devices[].options.**", Covered, ""),
    ("services.*.deploy.restart_policy", Translated, svc!("deploy: {restart_policy: {condition: any}}")),
    ("services.*.deploy.restart_policy.condition", Translated, svc!("deploy: {restart_policy: {condition: any}}")),
    ("services.*.deploy.restart_policy.delay", Warned, svc!("deploy: {restart_policy: {delay: 5s}}")),
    ("services.*.deploy.restart_policy.max_attempts", Warned, svc!("deploy: {restart_policy: {max_attempts: 3}}")),
    ("services.*.deploy.restart_policy.window", Warned, svc!("deploy: {restart_policy: {window: 120s}}")),
    ("services.*.deploy.placement", Translated, svc!("deploy: {placement: {constraints: ['node.labels.zone == east']}}")),
    ("services.*.deploy.placement.constraints", Translated, svc!("deploy: {placement: {constraints: ['node.labels.zone == east']}}")),
    ("services.*.deploy.placement.preferences", Translated, svc!("deploy: {placement: {preferences: [{spread: node.labels.zone}]}}")),
    ("services.*.deploy.placement.preferences[].spread", Translated, svc!("deploy: {placement: {preferences: [{spread: node.labels.zone}]}}")),
    ("services.*.deploy.placement.max_replicas_per_node", Translated, svc!("deploy: {replicas: 2, placement: {max_replicas_per_node: 1}}")),

    // ---- networks
    ("networks", Translated, svc_and!("networks: [front]", "networks: {front: {}}")),
    ("networks.*", Translated, svc_and!("networks: [front]", "networks: {front: {}}")),
    // `name` is read for external networks only: the name other projects join this one by is dropped.
    ("networks.*.name", Warned, svc_and!("networks: [front]", "networks: {front: {name: shop-front}}")),
    ("networks.*.external", Warned, svc_and!("networks: [front]", "networks: {front: {external: true}}")),
    ("networks.*.external.name", Translated, svc_and!("networks: [front]", "networks: {front: {external: {name: corp}}}")),
    ("networks.*.internal", Warned, svc_and!("networks: [back]", "networks: {back: {internal: true}}")),
    ("networks.*.driver", Warned, svc_and!("networks: [front]", "networks: {front: {driver: macvlan}}")), // bridge and overlay only isolate, which NetworkPolicies do
    ("networks.*.driver_opts", Warned, svc_and!("networks: [front]", "networks: {front: {driver_opts: {com.docker.network.bridge.name: br0}}}")),
    ("networks.*.driver_opts.**", Covered, ""),
    ("networks.*.ipam", Warned, svc_and!("networks: [front]", "networks: {front: {ipam: {config: [{subnet: 172.28.0.0/16}]}}}")),
    ("networks.*.ipam.**", Covered, ""),
    ("networks.*.enable_ipv4", Warned, svc_and!("networks: [front]", "networks: {front: {enable_ipv4: false}}")),
    ("networks.*.enable_ipv6", Warned, svc_and!("networks: [front]", "networks: {front: {enable_ipv6: true}}")),
    ("networks.*.attachable", Warned, svc_and!("networks: [front]", "networks: {front: {attachable: true}}")),
    ("networks.*.labels", Warned, svc_and!("networks: [front]", "networks: {front: {labels: {team: web}}}")),
    ("networks.*.labels.**", Covered, ""),

    // ---- volumes
    ("volumes", Translated, svc_and!("volumes: ['data:/data']", "volumes: {data: {}}")),
    ("volumes.*", Translated, svc_and!("volumes: ['data:/data']", "volumes: {data: {}}")),
    // `name` is read for external volumes only (the claim's name); another volume's is dropped.
    ("volumes.*.name", Warned, svc_and!("volumes: ['data:/data']", "volumes: {data: {name: pgdata}}")),
    ("volumes.*.external", Translated, svc_and!("volumes: ['data:/data']", "volumes: {data: {external: true}}")),
    ("volumes.*.external.name", Translated, svc_and!("volumes: ['data:/data']", "volumes: {data: {external: {name: pgdata}}}")),
    ("volumes.*.driver", Warned, svc_and!("volumes: ['data:/data']", "volumes: {data: {driver: rexray}}")),
    ("volumes.*.driver_opts", Warned, svc_and!("volumes: ['data:/data']", "volumes: {data: {driver_opts: {type: nfs}}}")),
    ("volumes.*.driver_opts.**", Covered, ""),
    ("volumes.*.labels", Warned, svc_and!("volumes: ['data:/data']", "volumes: {data: {labels: {team: web}}}")),
    ("volumes.*.labels.**", Covered, ""),

    // ---- secrets (environment and file read spec.variables and spec.files, which these examples do not fill)
    ("secrets", Translated, svc_and!("secrets: [token]", "secrets: {token: {external: true}}")),
    ("secrets.*", Translated, svc_and!("secrets: [token]", "secrets: {token: {external: true}}")),
    // `name` is read for external secrets only. (`content` is not a secret key of the spec, but
    // the one source these examples can give: it stands for environment or file.)
    ("secrets.*.name", Warned, svc_and!("secrets: [token]", "secrets: {token: {content: s3cret, name: api-token}}")),
    ("secrets.*.external", Translated, svc_and!("secrets: [token]", "secrets: {token: {external: true}}")),
    ("secrets.*.external.name", Translated, svc_and!("secrets: [token]", "secrets: {token: {external: {name: api-token}}}")),
    ("secrets.*.environment", Refused, svc_and!("secrets: [token]", "secrets: {token: {environment: TOKEN}}")),
    ("secrets.*.file", Refused, svc_and!("secrets: [token]", "secrets: {token: {file: ./token.txt}}")),
    ("secrets.*.driver", Warned, svc_and!("secrets: [token]", "secrets: {token: {external: true, driver: vault}}")),
    ("secrets.*.driver_opts", Warned, svc_and!("secrets: [token]", "secrets: {token: {external: true, driver_opts: {path: kv}}}")),
    ("secrets.*.driver_opts.**", Covered, ""),
    ("secrets.*.template_driver", Warned, svc_and!("secrets: [token]", "secrets: {token: {external: true, template_driver: golang}}")),
    ("secrets.*.labels", Warned, svc_and!("secrets: [token]", "secrets: {token: {external: true, labels: {team: web}}}")),
    ("secrets.*.labels.**", Covered, ""),

    // ---- configs (environment and file: as secrets)
    ("configs", Translated, svc_and!("configs: [app]", "configs: {app: {content: hello}}")),
    ("configs.*", Translated, svc_and!("configs: [app]", "configs: {app: {content: hello}}")),
    ("configs.*.name", Warned, svc_and!("configs: [app]", "configs: {app: {content: hello, name: app-conf}}")), // read for external configs only
    ("configs.*.content", Translated, svc_and!("configs: [app]", "configs: {app: {content: hello}}")),
    ("configs.*.external", Translated, svc_and!("configs: [app]", "configs: {app: {external: true}}")),
    ("configs.*.external.name", Translated, svc_and!("configs: [app]", "configs: {app: {external: {name: app-conf}}}")),
    ("configs.*.environment", Refused, svc_and!("configs: [app]", "configs: {app: {environment: APP_CONF}}")),
    ("configs.*.file", Refused, svc_and!("configs: [app]", "configs: {app: {file: ./app.conf}}")),
    ("configs.*.template_driver", Warned, svc_and!("configs: [app]", "configs: {app: {content: hello, template_driver: golang}}")),
    ("configs.*.labels", Warned, svc_and!("configs: [app]", "configs: {app: {content: hello, labels: {team: web}}}")),
    ("configs.*.labels.**", Covered, ""),
];

// ---------------------------------------------------------------- the schema's paths

/// Every property path of the schema, `x-*` extensions left out.
fn schema_paths() -> BTreeSet<String> {
    let root: Value = serde_json::from_str(SCHEMA).expect("the vendored compose-spec schema is JSON");
    let mut paths = BTreeSet::new();
    walk(&root, &root, "", &mut Vec::new(), &mut paths);
    paths
}

/// Records the properties `node` defines below `path`. `chain` holds the `$defs` being
/// expanded; one already on it is not expanded again, so the depth is bounded by the
/// schema (its nesting and its number of definitions), whatever it recurses through.
fn walk<'a>(root: &'a Value, node: &'a Value, path: &str, chain: &mut Vec<&'a str>, paths: &mut BTreeSet<String>) {
    // `true` / `false` schemas define no properties.
    let Value::Object(node) = node else { return };
    if let Some(reference) = node.get("$ref").and_then(Value::as_str) {
        let name = reference.strip_prefix("#/$defs/").unwrap_or_else(|| panic!("unsupported $ref `{reference}` at `{path}`"));
        let target = root.get("$defs").and_then(|defs| defs.get(name)).unwrap_or_else(|| panic!("`{reference}` at `{path}` names no definition"));
        if !chain.contains(&name) {
            chain.push(name);
            walk(root, target, path, chain, paths);
            chain.pop();
        }
    }
    for keyword in ["allOf", "oneOf", "anyOf", "prefixItems"] {
        for branch in node.get(keyword).and_then(Value::as_array).into_iter().flatten() {
            let branch_path = if keyword == "prefixItems" { format!("{path}[]") } else { path.to_string() };
            walk(root, branch, &branch_path, chain, paths);
        }
    }
    for keyword in ["if", "then", "else", "not"] {
        if let Some(branch) = node.get(keyword) {
            walk(root, branch, path, chain, paths);
        }
    }
    let child = |key: &str, schema: &'a Value, chain: &mut Vec<&'a str>, paths: &mut BTreeSet<String>| {
        let child_path = if path.is_empty() { key.to_string() } else { format!("{path}.{key}") };
        paths.insert(child_path.clone());
        walk(root, schema, &child_path, chain, paths);
    };
    for (key, schema) in node.get("properties").and_then(Value::as_object).into_iter().flatten() {
        child(key, schema, chain, paths);
    }
    for (pattern, schema) in node.get("patternProperties").and_then(Value::as_object).into_iter().flatten() {
        if !pattern.starts_with("^x-") {
            child("*", schema, chain, paths);
        }
    }
    if let Some(schema) = node.get("additionalProperties").filter(|s| s.as_object().is_some_and(|m: &Map<String, Value>| !m.is_empty())) {
        child("*", schema, chain, paths);
    }
    match node.get("items") {
        Some(items @ Value::Object(_)) => walk(root, items, &format!("{path}[]"), chain, paths),
        Some(Value::Array(items)) => items.iter().for_each(|item| walk(root, item, &format!("{path}[]"), chain, paths)),
        _ => {}
    }
}

// ---------------------------------------------------------------- classification

/// `path` is strictly below `parent`: `parent.x`, `parent[]`, `parent.*.y`.
fn is_below(path: &str, parent: &str) -> bool {
    path.strip_prefix(parent).is_some_and(|rest| rest.starts_with('.') || rest.starts_with('['))
}

/// The root of a Covered row (`jobs` for `jobs.**`).
fn covered_root(prefix: &str) -> Option<&str> {
    prefix.strip_suffix(".**")
}

/// The row that classifies `path`: the one naming it, else the longest `.**` row above it.
fn row_for(path: &str) -> Option<&'static (&'static str, Class, &'static str)> {
    TABLE.iter().find(|(prefix, class, _)| *class != Covered && *prefix == path).or_else(|| {
        TABLE
            .iter()
            .filter(|(prefix, class, _)| *class == Covered && covered_root(prefix).is_some_and(|root| is_below(path, root)))
            .max_by_key(|(prefix, ..)| prefix.len())
    })
}

/// The class a path has: a Covered row's is its root's.
fn class_of(path: &str) -> Option<Class> {
    let (prefix, class, _) = row_for(path)?;
    match class {
        Covered => class_of(covered_root(prefix)?),
        class => Some(*class),
    }
}

/// Rows that contradict themselves: duplicates, Covered rows without `.**` or without a
/// row for their root, examples missing or misplaced.
fn table_problems() -> Vec<String> {
    let mut problems = Vec::new();
    let mut seen = BTreeSet::new();
    for (prefix, class, example) in TABLE {
        if !seen.insert(*prefix) {
            problems.push(format!("`{prefix}` has two rows"));
        }
        match (class, covered_root(prefix)) {
            (Covered, None) => problems.push(format!("`{prefix}` is Covered, so it must end in `.**`")),
            (Covered, Some(root)) if !TABLE.iter().any(|(p, c, _)| *p == root && *c != Covered) => {
                problems.push(format!("`{prefix}` is Covered, but there is no row for `{root}` to decide its class"))
            }
            (Covered, Some(_)) if !example.is_empty() => problems.push(format!("`{prefix}` is Covered; its parent's example stands for it")),
            (Covered, Some(_)) => {}
            (_, Some(_)) => problems.push(format!("`{prefix}`: only Covered rows name a subtree (`.**`)")),
            (_, None) if example.is_empty() => problems.push(format!("`{prefix}` needs an example document")),
            _ => {}
        }
    }
    problems
}

// ---------------------------------------------------------------- observation

/// What the pipeline did with an example.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Observed {
    Translated,
    Warned,
    Refused,
    /// Refused, but no error names the key.
    RefusedForAnotherReason,
}

impl fmt::Display for Observed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Observed::Translated => "Translated",
            Observed::Warned => "Warned",
            Observed::Refused => "Refused",
            Observed::RefusedForAnotherReason => "Refused, by an error that does not name the key",
        })
    }
}

/// The key a row is about: the last named segment of its path (`services` for `services.*`).
fn key_of(path: &str) -> &str {
    path.split('.').map(|segment| segment.trim_end_matches("[]")).rfind(|segment| *segment != "*").unwrap_or(path)
}

/// `text` holds `word` as a whole word (`name` is not in `container_name` or `names`).
fn mentions(text: &str, word: &str) -> bool {
    let is_word = |c: char| c.is_ascii_alphanumeric() || c == '_';
    text.match_indices(word).any(|(at, _)| !text[..at].chars().next_back().is_some_and(is_word) && !text[at + word.len()..].chars().next().is_some_and(is_word))
}

/// Runs an example through the pipeline: what happened, and the first message that shows it.
fn observe(key: &str, example: &str) -> (Observed, Option<String>) {
    let spec = ComposeStackSpec { compose: example.into(), ..Default::default() };
    match pipeline::translate("keys", "default", &spec, &Policy::default()) {
        Err(diagnostics) => {
            let errors: Vec<String> = diagnostics.0.iter().map(ToString::to_string).collect();
            match errors.iter().find(|error| mentions(error, key)) {
                Some(error) => (Observed::Refused, Some(error.clone())),
                None => (Observed::RefusedForAnotherReason, errors.first().cloned()),
            }
        }
        Ok(translation) => {
            let warnings: Vec<String> = translation.warnings.iter().map(ToString::to_string).collect();
            match warnings.iter().find(|warning| mentions(warning, key)) {
                Some(warning) => (Observed::Warned, Some(warning.clone())),
                None => (Observed::Translated, warnings.first().cloned()),
            }
        }
    }
}

fn agrees(class: Class, observed: Observed) -> bool {
    matches!((class, observed), (Class::Translated, Observed::Translated) | (Class::Warned, Observed::Warned) | (Class::Refused, Observed::Refused))
}

// ---------------------------------------------------------------- the tests

#[test]
fn every_schema_key_is_classified() {
    let paths = schema_paths();
    // The walk itself: refs resolved, lists and free-form maps entered, extensions left out.
    for expected in [
        "services.*.image",
        "services.*.deploy.resources.limits.cpus",
        "services.*.volumes[].bind.propagation",
        "networks.*.ipam.config[].subnet",
        "include[].path",
        "jobs.*.triggers",
    ] {
        assert!(paths.contains(expected), "the schema walk missed `{expected}`");
    }
    assert!(!paths.iter().any(|p| p.contains("x-")), "extensions are not keys to classify");

    let mut problems = table_problems();
    let missing: Vec<&String> = paths.iter().filter(|path| class_of(path).is_none()).collect();
    if !missing.is_empty() {
        problems.push(format!(
            "{} schema paths have no row in TABLE (add `(path, Class, example)`, or `(parent.**, Covered, \"\")`):\n  {}",
            missing.len(),
            missing.iter().map(|p| p.as_str()).collect::<Vec<_>>().join("\n  ")
        ));
    }
    let stale: Vec<&str> = TABLE
        .iter()
        .map(|(prefix, ..)| *prefix)
        .filter(|prefix| match covered_root(prefix) {
            Some(root) => !paths.iter().any(|path| is_below(path, root)),
            None => !paths.contains(*prefix),
        })
        .collect();
    if !stale.is_empty() {
        problems.push(format!("{} rows match no schema path (stale):\n  {}", stale.len(), stale.join("\n  ")));
    }
    assert!(problems.is_empty(), "{} schema paths, {} rows:\n{}", paths.len(), TABLE.len(), problems.join("\n"));
}

#[test]
fn every_row_behaves_as_classified() {
    let mut mismatches = Vec::new();
    for (path, class, example) in TABLE.iter().filter(|(_, class, _)| *class != Covered) {
        let key = key_of(path);
        let (observed, message) = observe(key, example);
        if !agrees(*class, observed) {
            mismatches.push(format!(
                "{path}: expected {class:?}, observed {observed}\n    example: {example}\n    first message: {}",
                message.as_deref().unwrap_or("(none)")
            ));
        }
    }
    assert!(
        mismatches.is_empty(),
        "{} of {} rows do not behave as TABLE says (each key must be translated, warned about by name, or refused by name):\n{}",
        mismatches.len(),
        TABLE.iter().filter(|(_, class, _)| *class != Covered).count(),
        mismatches.join("\n")
    );
}
