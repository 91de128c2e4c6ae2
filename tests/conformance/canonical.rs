//! One shape for a loaded project, made from compose-go's JSON and from our loader, so the
//! two can be compared value by value: per enabled service, the interpolated, canonical
//! (long-syntax) values of image, command, entrypoint, environment (env_file merged),
//! ports, volumes, depends_on, healthcheck and deploy. Units are numbers (bytes,
//! millicores, milliseconds), defaults are written out, empty is absent.
//!
//! This is the one place that knows both loaders' output. Ours is `compose::load`'s
//! canonical model (every short syntax already in its long form), so [`ours`] only
//! resolves what compose-go resolves at load time: env_file contents and bind paths.

use std::collections::BTreeMap;
use std::path::{Component, Path, PathBuf};
use std::time::Duration;

use serde_json::{Map, Value as Json, json};

use compose_operator::compose::dotenv;
use compose_operator::compose::load::Loaded;
use compose_operator::compose::model::{Deploy, Healthcheck, MountType, Parsed, ResourceAmounts, Service};
use compose_operator::compose::units;
use compose_operator::translate::project_files::{Content, ProjectFiles};

/// The compared keys, in the order differences are reported.
pub const KEYS: [&str; 9] = ["image", "command", "entrypoint", "environment", "ports", "volumes", "depends_on", "healthcheck", "deploy"];

/// compose-go's project JSON (the oracle's `project`) in the common shape.
pub fn compose_go(project: &Json) -> Json {
    let mut services = Map::new();
    for (name, service) in project.get("services").and_then(Json::as_object).into_iter().flatten() {
        let mut out = Map::new();
        put(&mut out, "image", service.get("image").cloned().unwrap_or(Json::Null));
        put(&mut out, "command", words(service.get("command")));
        put(&mut out, "entrypoint", words(service.get("entrypoint")));
        put(&mut out, "environment", service.get("environment").cloned().unwrap_or(Json::Null));
        let ports: Vec<Json> = array(service.get("ports"))
            .map(|p| {
                port(
                    p["target"].as_u64().unwrap_or(0),
                    p.get("published").and_then(Json::as_str).filter(|s| !s.is_empty()).map(str::to_string),
                    p.get("host_ip").and_then(Json::as_str).filter(|s| !s.is_empty()).map(str::to_string),
                    p.get("protocol").and_then(Json::as_str).unwrap_or("tcp"),
                )
            })
            .collect();
        put(&mut out, "ports", Json::Array(ports));
        let volumes: Vec<Json> = array(service.get("volumes"))
            .map(|v| {
                volume(
                    v["type"].as_str().unwrap_or_default(),
                    v.get("source").and_then(Json::as_str).filter(|s| !s.is_empty()).map(str::to_string),
                    v["target"].as_str().unwrap_or_default(),
                    v.get("read_only").and_then(Json::as_bool).unwrap_or(false),
                )
            })
            .collect();
        put(&mut out, "volumes", Json::Array(volumes));
        let mut depends_on = Map::new();
        for (dependency, d) in service.get("depends_on").and_then(Json::as_object).into_iter().flatten() {
            depends_on.insert(
                dependency.clone(),
                dependency_shape(
                    d.get("condition").and_then(Json::as_str).unwrap_or("service_started"),
                    d.get("required").and_then(Json::as_bool).unwrap_or(true),
                    d.get("restart").and_then(Json::as_bool).unwrap_or(false),
                ),
            );
        }
        put(&mut out, "depends_on", Json::Object(depends_on));
        if let Some(h) = service.get("healthcheck") {
            let duration = |key: &str| h.get(key).and_then(Json::as_str).map(|d| millis(units::parse_duration(d)));
            put(
                &mut out,
                "healthcheck",
                healthcheck_shape(
                    words(h.get("test")),
                    [duration("interval"), duration("timeout"), duration("start_period"), duration("start_interval")],
                    h.get("retries").and_then(Json::as_u64),
                    h.get("disable").and_then(Json::as_bool).unwrap_or(false),
                ),
            );
        }
        if let Some(d) = service.get("deploy") {
            let amounts = |kind: &str| {
                let a = &d["resources"][kind];
                let cpus = a.get("cpus").and_then(Json::as_f64).map(|c| (c * 1000.0).round() as u64);
                let memory = a.get("memory").and_then(|m| m.as_str().and_then(|s| s.parse::<u64>().ok()).or_else(|| m.as_u64()));
                amounts_shape(cpus.filter(|c| *c > 0), memory.filter(|m| *m > 0), a.get("pids").and_then(Json::as_i64).filter(|p| *p != 0))
            };
            let policy = &d["restart_policy"];
            let restart_policy = (!policy.is_null()).then(|| {
                restart_policy_shape(
                    policy.get("condition").and_then(Json::as_str),
                    policy.get("delay").and_then(Json::as_str).map(|t| millis(units::parse_duration(t))),
                    policy.get("max_attempts").and_then(Json::as_u64),
                    policy.get("window").and_then(Json::as_str).map(|t| millis(units::parse_duration(t))),
                )
            });
            let constraints = array(d.get("placement").and_then(|p| p.get("constraints"))).cloned().collect();
            put(
                &mut out,
                "deploy",
                deploy_shape(
                    d.get("mode").and_then(Json::as_str),
                    d.get("replicas").and_then(Json::as_u64),
                    d.get("labels").cloned().unwrap_or(Json::Null),
                    [amounts("limits"), amounts("reservations")],
                    restart_policy,
                    constraints,
                ),
            );
        }
        services.insert(name.clone(), Json::Object(out));
    }
    json!({ "services": services })
}

/// What our loader makes of a project, in the common shape; `Err` when the canonical step
/// refused an entry or a value cannot be read (a unit, an env file).
/// `project_dir` resolves relative bind sources as compose-go does; `files` are the project
/// files `stack` packed (env files are read from there, as the translation reads them).
pub fn ours(loaded: &Loaded, files: &ProjectFiles, variables: &BTreeMap<String, String>, project_dir: &Path) -> Result<Json, String> {
    if let Some(error) = loaded.errors.first() {
        return Err(error.to_string());
    }
    let mut services = Map::new();
    for (name, service) in &loaded.file.services {
        let mut out = Map::new();
        put(&mut out, "image", service.image.clone().map(Json::from).unwrap_or(Json::Null));
        put(&mut out, "command", json!(service.command));
        put(&mut out, "entrypoint", json!(service.entrypoint));
        put(&mut out, "environment", environment(service, files, variables)?);
        let ports = service.ports.iter().map(|p| {
            let published = p.published.map(|(first, last)| if first == last { first.to_string() } else { format!("{first}-{last}") });
            port(u64::from(p.target), published, p.host_ip.clone(), p.protocol.text())
        });
        put(&mut out, "ports", Json::Array(ports.collect()));
        let volumes = service.volumes.iter().map(|v| {
            let source = v.source.as_deref().filter(|s| !s.is_empty()).map(|s| if v.kind == MountType::Bind { resolve(project_dir, s) } else { s.to_string() });
            let read_only = v.read_only.as_ref().and_then(|r| r.value().ok()).unwrap_or(false);
            volume(v.kind.as_str(), source, &v.target, read_only)
        });
        put(&mut out, "volumes", Json::Array(volumes.collect()));
        let depends_on: Map<String, Json> =
            service.depends_on.iter().map(|(name, d)| (name.clone(), dependency_shape(d.condition.text(), d.required, d.restart.unwrap_or(false)))).collect();
        put(&mut out, "depends_on", Json::Object(depends_on));
        if let Some(h) = &service.healthcheck {
            put(&mut out, "healthcheck", healthcheck(h)?);
        }
        if let Some(d) = &service.deploy {
            put(&mut out, "deploy", deploy(d)?);
        }
        services.insert(name.clone(), Json::Object(out));
    }
    Ok(json!({ "services": services }))
}

/// The differences between two canonical projects, one line each (`service.key: compose-go
/// X; ours Y`), in a stable order.
pub fn differences(reference: &Json, ours: &Json) -> Vec<String> {
    let empty = Map::new();
    let theirs = reference["services"].as_object().unwrap_or(&empty);
    let mine = ours["services"].as_object().unwrap_or(&empty);
    let mut lines = Vec::new();
    for name in theirs.keys().chain(mine.keys()).collect::<std::collections::BTreeSet<_>>() {
        match (theirs.get(name), mine.get(name)) {
            (Some(_), None) => lines.push(format!("{name}: only compose-go has this service")),
            (None, Some(_)) => lines.push(format!("{name}: only we have this service")),
            (Some(a), Some(b)) => {
                for key in KEYS {
                    if a.get(key) != b.get(key) {
                        lines.push(format!("{name}.{key}: compose-go {}; ours {}", show(a.get(key)), show(b.get(key))));
                    }
                }
            }
            (None, None) => {}
        }
    }
    lines
}

fn show(value: Option<&Json>) -> String {
    value.map_or_else(|| "absent".to_string(), |v| v.to_string())
}

/// Absent, null, `[]` and `{}` all mean "not set".
fn put(out: &mut Map<String, Json>, key: &str, value: Json) {
    let empty = match &value {
        Json::Null => true,
        Json::Array(items) => items.is_empty(),
        Json::Object(map) => map.is_empty(),
        _ => false,
    };
    if !empty {
        out.insert(key.to_string(), value);
    }
}

fn array(value: Option<&Json>) -> impl Iterator<Item = &Json> {
    value.and_then(Json::as_array).into_iter().flatten()
}

fn words(value: Option<&Json>) -> Json {
    match value {
        Some(Json::Array(items)) if !items.is_empty() => Json::Array(items.clone()),
        _ => Json::Null,
    }
}

fn millis(duration: Result<std::time::Duration, String>) -> Json {
    duration.map_or_else(Json::from, |d| Json::from(d.as_millis() as u64))
}

fn port(target: u64, published: Option<String>, host_ip: Option<String>, protocol: &str) -> Json {
    json!({ "target": target, "published": published, "host_ip": host_ip, "protocol": protocol.to_ascii_lowercase() })
}

fn volume(kind: &str, source: Option<String>, target: &str, read_only: bool) -> Json {
    json!({ "type": kind, "source": source, "target": target, "read_only": read_only })
}

fn dependency_shape(condition: &str, required: bool, restart: bool) -> Json {
    json!({ "condition": condition, "required": required, "restart": restart })
}

fn healthcheck_shape(test: Json, [interval, timeout, start_period, start_interval]: [Option<Json>; 4], retries: Option<u64>, disable: bool) -> Json {
    json!({
        "test": test, "interval": interval, "timeout": timeout, "start_period": start_period,
        "start_interval": start_interval, "retries": retries, "disable": disable,
    })
}

fn amounts_shape(cpus_millicores: Option<u64>, memory_bytes: Option<u64>, pids: Option<i64>) -> Json {
    let mut out = Map::new();
    put(&mut out, "cpus_millicores", json!(cpus_millicores));
    put(&mut out, "memory_bytes", json!(memory_bytes));
    put(&mut out, "pids", json!(pids));
    Json::Object(out)
}

fn restart_policy_shape(condition: Option<&str>, delay: Option<Json>, max_attempts: Option<u64>, window: Option<Json>) -> Json {
    json!({ "condition": condition, "delay": delay, "max_attempts": max_attempts, "window": window })
}

fn deploy_shape(
    mode: Option<&str>,
    replicas: Option<u64>,
    labels: Json,
    [limits, reservations]: [Json; 2],
    restart_policy: Option<Json>,
    constraints: Vec<Json>,
) -> Json {
    let mut out = Map::new();
    put(&mut out, "mode", json!(mode));
    put(&mut out, "replicas", json!(replicas));
    put(&mut out, "labels", labels);
    put(&mut out, "limits", limits);
    put(&mut out, "reservations", reservations);
    put(&mut out, "restart_policy", json!(restart_policy));
    put(&mut out, "constraints", Json::Array(constraints));
    Json::Object(out)
}

/// env_file entries in order, then `environment:` over them; a `KEY` without a value takes
/// it from the project's variables, else stays unset (null), as in compose-go.
fn environment(service: &Service, files: &ProjectFiles, variables: &BTreeMap<String, String>) -> Result<Json, String> {
    let mut merged: BTreeMap<String, Option<String>> = BTreeMap::new();
    for env_file in &service.env_file {
        match files.file(&env_file.path) {
            Some(Content::Text(text)) => {
                merged.extend(dotenv::parse(text, &|name| variables.get(name).cloned()).map_err(|e| format!("env_file `{}`: {e}", env_file.path))?)
            }
            Some(Content::Binary(_)) => return Err(format!("env_file `{}` is not text", env_file.path)),
            None if env_file.required => return Err(format!("env_file `{}` was not found (not packed)", env_file.path)),
            None => {}
        }
    }
    merged.extend(service.environment.clone());
    Ok(json!(
        merged
            .into_iter()
            .map(|(k, v)| {
                let v = v.or_else(|| variables.get(&k).cloned());
                (k, v)
            })
            .collect::<BTreeMap<_, _>>()
    ))
}

fn healthcheck(h: &Healthcheck) -> Result<Json, String> {
    let test = json!(h.test);
    let duration = |value: &Option<Parsed<Duration>>| value.as_ref().map(|d| millis(d.value()));
    let retries = h.retries.as_ref().map(Parsed::value).transpose()?.map(u64::from);
    let disable = h.disable.as_ref().map(Parsed::value).transpose()?.unwrap_or(false);
    Ok(healthcheck_shape(test, [duration(&h.interval), duration(&h.timeout), duration(&h.start_period), duration(&h.start_interval)], retries, disable))
}

fn deploy(d: &Deploy) -> Result<Json, String> {
    let amounts = |a: &Option<ResourceAmounts>| -> Result<Json, String> {
        let Some(a) = a else { return Ok(Json::Null) };
        let cpus = a.cpus.as_ref().map(|c| c.value().map(u64::from)).transpose()?;
        let memory = a.memory.as_ref().map(|m| m.value().map(u64::from)).transpose()?;
        let pids = a.pids.as_ref().map(|p| p.0.parse::<i64>().map_err(|_| format!("pids `{}` is not a number", p.0))).transpose()?;
        Ok(amounts_shape(cpus.filter(|c| *c > 0), memory.filter(|m| *m > 0), pids.filter(|p| *p != 0)))
    };
    let resources = d.resources.clone().unwrap_or_default();
    let duration = |value: &Option<Parsed<Duration>>| value.as_ref().map(|t| millis(t.value()));
    let restart_policy = d
        .restart_policy
        .as_ref()
        .map(|p| -> Result<Json, String> {
            let attempts = p.max_attempts.as_ref().map(Parsed::value).transpose()?.map(u64::from);
            Ok(restart_policy_shape(p.condition.as_ref().map(Parsed::text), duration(&p.delay), attempts, duration(&p.window)))
        })
        .transpose()?;
    let replicas = d.replicas.as_ref().map(Parsed::value).transpose()?.map(u64::from);
    let constraints = d.placement.as_ref().map(|p| p.constraints.iter().map(|c| json!(c.text())).collect()).unwrap_or_default();
    Ok(deploy_shape(
        d.mode.as_ref().map(Parsed::text),
        replicas,
        json!(d.labels),
        [amounts(&resources.limits)?, amounts(&resources.reservations)?],
        restart_policy,
        constraints,
    ))
}

/// A bind source as compose-go resolves it: relative to the project directory, lexically
/// cleaned (`..` and `.` removed), as Go's filepath.Join does.
fn resolve(project_dir: &Path, source: &str) -> String {
    if source.starts_with('~') || source.starts_with('/') {
        return source.to_string();
    }
    let mut resolved = PathBuf::new();
    for component in project_dir.join(source).components() {
        match component {
            Component::ParentDir => {
                resolved.pop();
            }
            Component::CurDir => {}
            other => resolved.push(other),
        }
    }
    resolved.display().to_string()
}
