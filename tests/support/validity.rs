//! An offline approximation of the API server's validation, for the fields the translation
//! derives from compose: names, labels, annotation keys, ports, volumes, host names and
//! aliases. The e2e suite dry-runs the real thing; this one runs on every fuzz case.

use std::collections::BTreeSet;

use serde_json::Value;

fn dns_label(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 63
        && name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && name.starts_with(|c: char| c.is_ascii_alphanumeric())
        && name.ends_with(|c: char| c.is_ascii_alphanumeric())
}

fn dns_subdomain(name: &str) -> bool {
    name.len() <= 253 && name.split('.').all(dns_label)
}

fn qualified_name(key: &str) -> bool {
    let (prefix, name) = key.rsplit_once('/').map_or((None, key), |(p, n)| (Some(p), n));
    let name_ok = !name.is_empty()
        && name.len() <= 63
        && name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        && name.starts_with(|c: char| c.is_ascii_alphanumeric())
        && name.ends_with(|c: char| c.is_ascii_alphanumeric());
    name_ok && prefix.is_none_or(dns_subdomain)
}

fn label_value(value: &str) -> bool {
    value.is_empty() || (qualified_name(value) && !value.contains('/'))
}

fn port_name(name: &str) -> bool {
    name.len() <= 15 && dns_label(name) && name.chars().any(|c| c.is_ascii_lowercase())
}

fn check_metadata(metadata: &Value, what: &str) -> Result<(), String> {
    for (key, value) in metadata["labels"].as_object().into_iter().flatten() {
        if !qualified_name(key) || !label_value(value.as_str().unwrap_or_default()) {
            return Err(format!("{what}: label {key}={value}"));
        }
    }
    for key in metadata["annotations"].as_object().into_iter().flatten().map(|(k, _)| k) {
        if !qualified_name(key) {
            return Err(format!("{what}: annotation key {key}"));
        }
    }
    Ok(())
}

fn check_pod(spec: &Value, what: &str) -> Result<(), String> {
    let mut volumes = BTreeSet::new();
    for volume in spec["volumes"].as_array().into_iter().flatten() {
        let name = volume["name"].as_str().unwrap_or_default();
        if !dns_label(name) || !volumes.insert(name.to_string()) {
            return Err(format!("{what}: volume name {name}"));
        }
        if let Some(claim) = volume["persistentVolumeClaim"]["claimName"].as_str()
            && !dns_subdomain(claim)
        {
            return Err(format!("{what}: claim name {claim}"));
        }
    }
    for key in ["hostname", "subdomain"] {
        if let Some(name) = spec[key].as_str()
            && !dns_label(name)
        {
            return Err(format!("{what}: {key} {name}"));
        }
    }
    for alias in spec["hostAliases"].as_array().into_iter().flatten() {
        let ip = alias["ip"].as_str().unwrap_or_default();
        if ip.parse::<std::net::IpAddr>().is_err() {
            return Err(format!("{what}: hostAliases ip {ip}"));
        }
    }
    let mut names = BTreeSet::new();
    let containers = spec["containers"].as_array().into_iter().flatten().chain(spec["initContainers"].as_array().into_iter().flatten());
    for container in containers {
        let name = container["name"].as_str().unwrap_or_default();
        if !dns_label(name) || !names.insert(name.to_string()) {
            return Err(format!("{what}: container name {name}"));
        }
        for port in container["ports"].as_array().into_iter().flatten() {
            let number = port["containerPort"].as_i64().unwrap_or_default();
            if !(1..=65535).contains(&number) {
                return Err(format!("{what}: container port {number}"));
            }
        }
        for env in container["env"].as_array().into_iter().flatten() {
            let name = env["name"].as_str().unwrap_or_default();
            if name.is_empty() || name.contains('=') || !name.chars().all(|c| c.is_ascii_graphic() || c == ' ') {
                return Err(format!("{what}: env name {name:?}"));
            }
        }
    }
    Ok(())
}

/// Checks every object of a `kind: List`.
pub fn check_objects(list: &Value) -> Result<(), String> {
    for object in list["items"].as_array().into_iter().flatten() {
        let kind = object["kind"].as_str().unwrap_or_default();
        let name = object["metadata"]["name"].as_str().unwrap_or_default();
        let what = format!("{kind}/{name}");
        let name_ok = match kind {
            "Service" | "NetworkPolicy" => dns_label(name),
            _ => dns_subdomain(name),
        };
        if !name_ok {
            return Err(format!("{what}: name"));
        }
        check_metadata(&object["metadata"], &what)?;
        let template = match kind {
            "Job" => &object["spec"]["template"],
            "Deployment" | "StatefulSet" | "DaemonSet" => &object["spec"]["template"],
            _ => &Value::Null,
        };
        if !template.is_null() {
            check_metadata(&template["metadata"], &what)?;
            check_pod(&template["spec"], &what)?;
        }
        if kind == "Service" {
            let mut names = BTreeSet::new();
            for port in object["spec"]["ports"].as_array().into_iter().flatten() {
                let port_name_text = port["name"].as_str().unwrap_or_default();
                if !port_name(port_name_text) || !names.insert(port_name_text.to_string()) {
                    return Err(format!("{what}: port name {port_name_text}"));
                }
                let number = port["port"].as_i64().unwrap_or_default();
                if !(1..=65535).contains(&number) {
                    return Err(format!("{what}: port {number}"));
                }
            }
        }
    }
    Ok(())
}
