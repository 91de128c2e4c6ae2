//! compose-go's canonical step: every short syntax is written in its long form, once, here.
//! What comes after (the typed model, validation, the translation) reads only long forms.
//!
//! | field (under `services.<name>`)                 | short                          | long                                                    |
//! |-------------------------------------------------|--------------------------------|---------------------------------------------------------|
//! | `ports`                                         | `"127.0.0.1:8080-8081:80-81/udp"` | one `{target, published, host_ip, protocol, mode}` per port |
//! | `expose`                                        | `"3000-3001/udp"`, `3000`      | one `"3000/udp"` string per port                         |
//! | `volumes`                                       | `"./src:/app:ro"`, `"/data"`   | `{type, source, target, read_only, bind/volume}`         |
//! | `configs`, `secrets`                            | `"name"`                       | `{source}`                                               |
//! | `depends_on`                                    | `[db]`                         | `{db: {condition: service_started, required: true}}`     |
//! | `networks`                                      | `[front]`                      | `{front: null}`                                          |
//! | `env_file`                                      | `".env"`, `[a.env]`            | `[{path, required: true}]`                               |
//! | `environment`, `labels`, `annotations`, `sysctls`, `deploy.labels`, hooks' `environment` | `["A=1", "B"]` | `{A: "1", B: null}` |
//! | `dns`, `dns_search`, `tmpfs`                    | `"x"`                          | `["x"]`                                                  |
//! | `extra_hosts`                                   | `["db:10.0.0.1", "db=::1"]`    | `{db: ["10.0.0.1", "::1"]}`                              |
//! | `command`, `entrypoint`                         | `"run --fast"`                 | `["run", "--fast"]` (split like a POSIX shell)           |
//! | `healthcheck.test`                              | `"curl -f x"`                  | `["CMD-SHELL", "curl -f x"]`                             |
//! | `build`                                         | `"./dir"`                      | `{context: "./dir"}`                                     |
//!
//! Top-level `volumes`, `networks`, `configs` and `secrets` definitions written as `null`
//! become `{}`, and the legacy `external: {name: x}` becomes `external: true, name: x`.
//!
//! Port ranges are expanded here, under budgets per service and per stack, so no later
//! stage can be made to build thousands of ports from a few bytes.
// Long because it is one table of short→long rewrites with one function per key, as
// compose-go's canonical step is: split, the table and its rewrites would drift apart.

use serde_json::{Map, Value as Json, json};

use super::diagnostic::{Diagnostic, Path, Report};
use super::extension::EXTENSION_KEY;
use super::units::{self, PortMapping};
use super::value::{kind_of, scalar_text};

use super::limits::{MAX_PORTS_PER_SERVICE, MAX_PORTS_PER_STACK};

/// Rewrites a loaded document (extensions already removed) into its canonical form.
/// Entries that cannot be read are reported at their path and left out.
pub fn canonicalize(document: &mut Json, report: &mut Report) {
    let Json::Object(root) = document else { return };
    let mut canonical = Canonical { report: std::mem::take(report), ports: 0 };
    if let Some(Json::Object(services)) = root.get_mut("services") {
        for (name, service) in services.iter_mut() {
            if let Json::Object(fields) = service {
                canonical.service(fields, &Path::root().key("services").key(name));
            }
        }
    }
    for section in ["volumes", "networks", "configs", "secrets"] {
        if let Some(Json::Object(definitions)) = root.get_mut(section) {
            for (name, definition) in definitions.iter_mut() {
                canonical.definition(definition, &Path::root().key(section).key(name));
            }
        }
    }
    *report = canonical.report;
}

type Transform = fn(&mut Canonical, Json, &Path) -> Option<Json>;

/// The service fields that have a short syntax, and how each is written long.
const SERVICE_FIELDS: &[(&str, Transform)] = &[
    ("ports", Canonical::ports),
    ("expose", Canonical::expose),
    ("volumes", Canonical::volumes),
    ("configs", Canonical::file_mounts),
    ("secrets", Canonical::file_mounts),
    ("depends_on", Canonical::depends_on),
    ("networks", Canonical::service_networks),
    ("env_file", Canonical::env_files),
    ("environment", Canonical::mapping),
    ("labels", Canonical::mapping),
    ("annotations", Canonical::mapping),
    ("sysctls", Canonical::mapping),
    ("dns", Canonical::string_or_list),
    ("dns_search", Canonical::string_or_list),
    ("tmpfs", Canonical::string_or_list),
    ("extra_hosts", Canonical::extra_hosts),
    ("command", Canonical::command),
    ("entrypoint", Canonical::command),
    ("healthcheck", Canonical::healthcheck),
    ("build", Canonical::build),
    ("deploy", Canonical::deploy),
    ("post_start", Canonical::hooks),
    ("pre_stop", Canonical::hooks),
];

struct Canonical {
    /// Taken from the caller for the pass, and handed back (plain fn pointers in the table
    /// cannot carry the borrow's lifetime).
    report: Report,
    /// Ports of the stack so far, after expansion.
    ports: usize,
}

impl Canonical {
    fn error(&mut self, path: &Path, message: impl Into<String>) {
        self.report.error(Diagnostic::new(path.clone(), message));
    }

    fn service(&mut self, fields: &mut Map<String, Json>, path: &Path) {
        for (field, transform) in SERVICE_FIELDS {
            let Some(value) = fields.remove(*field) else { continue };
            if value.is_null() {
                continue;
            }
            let errors = self.report.error_count();
            let long = transform(self, value, &path.key(field));
            // A field with a broken entry is left out whole: dropping only the entry would
            // shift the indexes later errors are reported at.
            if let Some(long) = long.filter(|_| self.report.error_count() == errors) {
                fields.insert((*field).to_string(), long);
            }
        }
    }

    /// A top-level definition: `null` is `{}`; `external: {name: x}` is `external: true, name: x`.
    fn definition(&mut self, definition: &mut Json, path: &Path) {
        if definition.is_null() {
            *definition = Json::Object(Map::new());
        }
        let Json::Object(fields) = definition else { return };
        if let Some(Json::Object(external)) = fields.get("external").cloned() {
            fields.insert("external".into(), Json::Bool(true));
            if let Some(name) = external.get("name") {
                if fields.get("name").is_some_and(|n| n != name) {
                    self.error(&path.key("external").key("name"), "external.name and name disagree; write only name");
                }
                fields.insert("name".into(), name.clone());
            }
        }
        if let Some(labels) = fields.remove("labels").and_then(|labels| self.mapping(labels, &path.key("labels"))) {
            fields.insert("labels".into(), labels);
        }
    }

    fn ports(&mut self, value: Json, path: &Path) -> Option<Json> {
        let items = self.list(value, path)?;
        let mut long = Vec::new();
        for (index, item) in items.into_iter().enumerate() {
            let item_path = path.key(index);
            let parsed = match item {
                Json::Object(fields) => long_port(fields),
                scalar => match scalar_text(&scalar) {
                    Some(text) => units::parse_port_short(&text),
                    None => Err(format!("a port is \"[ip:][published:]target[/protocol]\" or a mapping, not {}", kind_of(&scalar))),
                },
            };
            let Some(mappings) = self.report.check(&item_path, parsed) else { continue };
            if long.len() + mappings.len() > MAX_PORTS_PER_SERVICE || self.ports + mappings.len() > MAX_PORTS_PER_STACK {
                self.report.error(
                    Diagnostic::new(item_path, format!("more than {MAX_PORTS_PER_SERVICE} ports in a service or {MAX_PORTS_PER_STACK} in the stack"))
                        .with_hint("list the ports the service really uses; each becomes a Service port"),
                );
                return Some(Json::Array(long));
            }
            self.ports += mappings.len();
            for port in mappings.into_iter().map(port_json) {
                // compose-go keeps one of identical ports (`3000` and `3000-3005`).
                if !long.contains(&port) {
                    long.push(port);
                }
            }
        }
        Some(Json::Array(long))
    }

    fn expose(&mut self, value: Json, path: &Path) -> Option<Json> {
        let items = self.list(value, path)?;
        let mut long = Vec::new();
        for (index, item) in items.into_iter().enumerate() {
            let item_path = path.key(index);
            let Some(text) = scalar_text(&item) else {
                self.error(&item_path, format!("an exposed port is a number or \"port[/protocol]\", not {}", kind_of(&item)));
                continue;
            };
            let Some(ports) = self.report.check(&item_path, units::parse_expose(&text)) else { continue };
            if long.len() + ports.len() > MAX_PORTS_PER_SERVICE || self.ports + ports.len() > MAX_PORTS_PER_STACK {
                self.error(&item_path, format!("more than {MAX_PORTS_PER_SERVICE} ports in a service or {MAX_PORTS_PER_STACK} in the stack"));
                break;
            }
            self.ports += ports.len();
            long.extend(ports.into_iter().map(|(port, protocol)| match protocol {
                units::Protocol::Tcp => Json::String(port.to_string()),
                other => Json::String(format!("{port}/{}", other.as_compose())),
            }));
        }
        Some(Json::Array(long))
    }

    fn volumes(&mut self, value: Json, path: &Path) -> Option<Json> {
        let items = self.list(value, path)?;
        let mut long = Vec::new();
        for (index, item) in items.into_iter().enumerate() {
            let item_path = path.key(index);
            match item {
                Json::String(text) => match parse_volume(&text) {
                    Ok(volume) => long.push(volume),
                    Err(message) => self.error(&item_path, message),
                },
                Json::Object(mut fields) => {
                    // Extensions are allowed on a mount; only ours is read.
                    fields.retain(|key, _| !key.starts_with("x-") || key == EXTENSION_KEY);
                    if let Some(Json::String(target)) = fields.get_mut("target") {
                        *target = clean_target(target);
                    }
                    long.push(Json::Object(fields));
                }
                other => self.error(&item_path, format!("a volume is \"[source:]target[:mode]\" or a mapping, not {}", kind_of(&other))),
            }
        }
        Some(Json::Array(long))
    }

    fn file_mounts(&mut self, value: Json, path: &Path) -> Option<Json> {
        let items = self.list(value, path)?;
        let mut long = Vec::new();
        for (index, item) in items.into_iter().enumerate() {
            match item {
                Json::String(source) => long.push(json!({ "source": source })),
                object @ Json::Object(_) => long.push(object),
                other => self.error(&path.key(index), format!("expected a name or a mapping with source:, found {}", kind_of(&other))),
            }
        }
        Some(Json::Array(long))
    }

    fn depends_on(&mut self, value: Json, path: &Path) -> Option<Json> {
        let mut long = Map::new();
        let entries: Vec<(String, Json)> = match value {
            Json::Array(items) => {
                let mut names = Vec::new();
                for (index, item) in items.into_iter().enumerate() {
                    match item {
                        Json::String(name) => names.push((name, Json::Null)),
                        other => self.error(&path.key(index), format!("depends_on list items are service names, not {}", kind_of(&other))),
                    }
                }
                names
            }
            Json::Object(map) => map.into_iter().collect(),
            other => return self.wrong_shape(path, "a list of services or a mapping", &other),
        };
        for (name, dependency) in entries {
            let mut fields = match dependency {
                Json::Null => Map::new(),
                Json::Object(fields) => fields,
                other => {
                    self.error(&path.key(&name), format!("expected a mapping with condition:, found {}", kind_of(&other)));
                    continue;
                }
            };
            fields.entry("condition").or_insert_with(|| "service_started".into());
            fields.entry("required").or_insert(Json::Bool(true));
            long.insert(name, Json::Object(fields));
        }
        Some(Json::Object(long))
    }

    fn service_networks(&mut self, value: Json, path: &Path) -> Option<Json> {
        match value {
            Json::Array(items) => {
                let mut long = Map::new();
                for (index, item) in items.into_iter().enumerate() {
                    match item {
                        Json::String(name) => {
                            long.insert(name, Json::Null);
                        }
                        other => self.error(&path.key(index), format!("networks list items are network names, not {}", kind_of(&other))),
                    }
                }
                Some(Json::Object(long))
            }
            object @ Json::Object(_) => Some(object),
            other => self.wrong_shape(path, "a list of networks or a mapping", &other),
        }
    }

    fn env_files(&mut self, value: Json, path: &Path) -> Option<Json> {
        let items = match value {
            Json::Array(items) => items,
            single => vec![single],
        };
        let mut long = Vec::new();
        for (index, item) in items.into_iter().enumerate() {
            match item {
                Json::String(file) => long.push(json!({ "path": file, "required": true })),
                Json::Object(mut fields) => {
                    fields.entry("required").or_insert(Json::Bool(true));
                    long.push(Json::Object(fields));
                }
                other => self.error(&path.key(index), format!("expected a path or a mapping with path:, found {}", kind_of(&other))),
            }
        }
        Some(Json::Array(long))
    }

    /// `["A=1", "B"]` or `{A: 1, B: null}` → `{A: "1", B: null}`: values are text.
    fn mapping(&mut self, value: Json, path: &Path) -> Option<Json> {
        let mut long = Map::new();
        match value {
            Json::Array(items) => {
                for (index, item) in items.into_iter().enumerate() {
                    let Some(text) = scalar_text(&item) else {
                        self.error(&path.key(index), format!("list items are \"KEY=value\" strings, not {}", kind_of(&item)));
                        continue;
                    };
                    match text.split_once('=') {
                        Some((key, value)) => long.insert(key.to_string(), Json::String(value.to_string())),
                        None => long.insert(text, Json::Null),
                    };
                }
            }
            Json::Object(map) => {
                for (key, value) in map {
                    match value {
                        Json::Null => long.insert(key, Json::Null),
                        other => match scalar_text(&other) {
                            Some(text) => long.insert(key, Json::String(text)),
                            None => {
                                self.error(&path.key(&key), format!("the value must be a string or number, not {}", kind_of(&other)));
                                continue;
                            }
                        },
                    };
                }
            }
            other => return self.wrong_shape(path, "a mapping or a list of \"KEY=value\"", &other),
        }
        Some(Json::Object(long))
    }

    fn string_or_list(&mut self, value: Json, path: &Path) -> Option<Json> {
        let items = match value {
            Json::Array(items) => items,
            single => vec![single],
        };
        let mut long = Vec::new();
        for (index, item) in items.into_iter().enumerate() {
            match scalar_text(&item) {
                Some(text) => long.push(Json::String(text)),
                None => self.error(&path.key(index), format!("expected a string, found {}", kind_of(&item))),
            }
        }
        Some(Json::Array(long))
    }

    /// `host:ip`, `host=ip` or `{host: ip}` → `{host: [ip, ...]}`. IPv6 addresses hold
    /// colons, so `=` wins, then the first colon splits (as compose-go does).
    fn extra_hosts(&mut self, value: Json, path: &Path) -> Option<Json> {
        let mut long: Map<String, Json> = Map::new();
        let mut add = |host: String, ip: String| {
            if let Json::Array(ips) = long.entry(host).or_insert_with(|| Json::Array(Vec::new())) {
                ips.push(Json::String(ip));
            }
        };
        match value {
            Json::Array(items) => {
                for (index, item) in items.into_iter().enumerate() {
                    let split = scalar_text(&item).and_then(|text| {
                        let (host, ip) = text.split_once('=').or_else(|| text.split_once(':'))?;
                        Some((host.to_string(), ip.to_string()))
                    });
                    match split {
                        Some((host, ip)) => add(host, ip),
                        None => self.report.error(
                            Diagnostic::new(path.key(index), format!("`{}` is not \"host:ip\"", scalar_text(&item).unwrap_or_default()))
                                .with_hint("write host:address, e.g. db:10.0.0.5"),
                        ),
                    }
                }
            }
            Json::Object(map) => {
                for (host, ips) in map {
                    let ips = match ips {
                        Json::Array(ips) => ips,
                        single => vec![single],
                    };
                    for ip in ips {
                        match scalar_text(&ip) {
                            Some(ip) => add(host.clone(), ip),
                            None => self.report.error(Diagnostic::new(path.key(&host), format!("expected an address, found {}", kind_of(&ip)))),
                        }
                    }
                }
            }
            other => return self.wrong_shape(path, "a list of \"host:ip\" or a mapping", &other),
        }
        Some(Json::Object(long))
    }

    /// A string is split into words like a POSIX shell would (compose does the same); a
    /// list is taken as it is, its items as text.
    fn command(&mut self, value: Json, path: &Path) -> Option<Json> {
        match value {
            Json::String(text) => match shell_words::split(&text) {
                Ok(words) => Some(json!(words)),
                Err(error) => {
                    self.report.error(
                        Diagnostic::new(path.clone(), format!("cannot split `{text}` into words: {error}"))
                            .with_hint("check the quotes, or write the command as a list"),
                    );
                    None
                }
            },
            other => self.string_or_list(other, path),
        }
    }

    fn healthcheck(&mut self, value: Json, path: &Path) -> Option<Json> {
        let Json::Object(mut fields) = value else { return Some(value) };
        match fields.remove("test") {
            Some(Json::String(text)) => {
                fields.insert("test".into(), json!(["CMD-SHELL", text]));
            }
            Some(Json::Null) | None => {}
            Some(other) => {
                if let Some(list) = self.string_or_list(other, &path.key("test")) {
                    fields.insert("test".into(), list);
                }
            }
        }
        Some(Json::Object(fields))
    }

    fn build(&mut self, value: Json, _path: &Path) -> Option<Json> {
        match value {
            Json::String(context) => Some(json!({ "context": context })),
            other => Some(other),
        }
    }

    fn deploy(&mut self, value: Json, path: &Path) -> Option<Json> {
        let Json::Object(mut fields) = value else { return Some(value) };
        if let Some(labels) = fields.remove("labels").and_then(|labels| self.mapping(labels, &path.key("labels"))) {
            fields.insert("labels".into(), labels);
        }
        Some(Json::Object(fields))
    }

    fn hooks(&mut self, value: Json, path: &Path) -> Option<Json> {
        let items = self.list(value, path)?;
        let mut long = Vec::new();
        for (index, item) in items.into_iter().enumerate() {
            let hook_path = path.key(index);
            let Json::Object(mut fields) = item else {
                self.error(&hook_path, format!("a hook is a mapping with command:, not {}", kind_of(&item)));
                continue;
            };
            for (key, transform) in [("command", Canonical::command as Transform), ("environment", Canonical::mapping)] {
                if let Some(value) = fields.remove(key).filter(|v| !v.is_null()).and_then(|value| transform(self, value, &hook_path.key(key))) {
                    fields.insert(key.into(), value);
                }
            }
            long.push(Json::Object(fields));
        }
        Some(Json::Array(long))
    }

    fn list(&mut self, value: Json, path: &Path) -> Option<Vec<Json>> {
        match value {
            Json::Array(items) => Some(items),
            other => self.wrong_shape(path, "a list", &other),
        }
    }

    fn wrong_shape<T>(&mut self, path: &Path, expected: &str, found: &Json) -> Option<T> {
        self.error(path, format!("expected {expected}, found {}", kind_of(found)));
        None
    }
}

/// The long port syntax, checked: one target port, a published port or range as text.
fn long_port(mut fields: Map<String, Json>) -> Result<Vec<PortMapping>, String> {
    let text = |fields: &mut Map<String, Json>, key: &str| -> Result<Option<String>, String> {
        match fields.remove(key) {
            None | Some(Json::Null) => Ok(None),
            Some(value) => scalar_text(&value).map(Some).ok_or_else(|| format!("{key} must be a string or number, not {}", kind_of(&value))),
        }
    };
    let target = text(&mut fields, "target")?.ok_or("the long port syntax needs target:")?;
    let published = text(&mut fields, "published")?;
    let host_ip = text(&mut fields, "host_ip")?.filter(|ip| !ip.is_empty());
    let protocol = text(&mut fields, "protocol")?;
    let mode = text(&mut fields, "mode")?;
    let name = text(&mut fields, "name")?;
    let app_protocol = text(&mut fields, "app_protocol")?;
    if let Some(unknown) = fields.keys().find(|key| !key.starts_with("x-")) {
        return Err(format!("unknown field `{unknown}`, expected one of `target`, `published`, `host_ip`, `protocol`, `mode`, `name`, `app_protocol`"));
    }
    let targets = units::parse_port_range(&target)?;
    if targets.0 != targets.1 {
        return Err("the long port syntax takes a single target port".into());
    }
    if let Some(mode) = mode.as_deref().filter(|m| !matches!(*m, "ingress" | "host")) {
        return Err(format!("unknown port mode `{mode}` (use ingress or host)"));
    }
    let short = format!(
        "{}{}{}/{}",
        host_ip.as_deref().map(|ip| if ip.contains(':') { format!("[{ip}]:") } else { format!("{ip}:") }).unwrap_or_default(),
        published.as_deref().map(|p| format!("{p}:")).unwrap_or_default(),
        targets.0,
        protocol.as_deref().unwrap_or("tcp"),
    );
    let mut mappings = units::parse_port_short(&short).map_err(|e| e.replace(&format!("`{short}`"), "the port"))?;
    for mapping in &mut mappings {
        mapping.mode = mode.clone();
        mapping.name = name.clone();
        mapping.app_protocol = app_protocol.clone();
    }
    Ok(mappings)
}

fn port_json(port: PortMapping) -> Json {
    let mut fields = Map::new();
    fields.insert("mode".into(), Json::String(port.mode.unwrap_or_else(|| "ingress".into())));
    if let Some(host_ip) = port.host_ip {
        fields.insert("host_ip".into(), Json::String(host_ip));
    }
    fields.insert("target".into(), json!(port.target));
    if let Some((start, end)) = port.published {
        let text = if start == end { start.to_string() } else { format!("{start}-{end}") };
        fields.insert("published".into(), Json::String(text));
    }
    fields.insert("protocol".into(), Json::String(port.protocol.as_compose().into()));
    if let Some(name) = port.name {
        fields.insert("name".into(), Json::String(name));
    }
    if let Some(app_protocol) = port.app_protocol {
        fields.insert("app_protocol".into(), Json::String(app_protocol));
    }
    Json::Object(fields)
}

/// The target of a volume in the short syntax, as its long form has it: what override
/// documents merge volumes by (`None` when the entry does not read).
pub fn short_volume_target(spec: &str) -> Option<String> {
    parse_volume(spec).ok()?.get("target")?.as_str().map(str::to_string)
}

/// compose-go's short volume syntax: `[source:]target[:options]`, split at colons (but
/// not a Windows drive's), `source` a bind mount when it starts with `.`, `/` or `~`.
fn parse_volume(spec: &str) -> Result<Json, String> {
    if spec.is_empty() {
        return Err("the volume is empty".into());
    }
    if spec.chars().count() <= 2 {
        return Ok(json!({ "type": "volume", "target": spec, "volume": {} }));
    }
    let mut sections: Vec<String> = Vec::new();
    let mut buffer = String::new();
    for c in spec.chars() {
        let after_drive_letter = c == ':' && buffer.len() == 1 && buffer.chars().all(|b| b.is_ascii_alphabetic());
        if c == ':' && !after_drive_letter {
            sections.push(std::mem::take(&mut buffer));
        } else {
            buffer.push(c);
        }
    }
    sections.push(buffer);
    let invalid = |reason: &str| format!("invalid volume `{spec}`: {reason}");
    if sections.iter().any(String::is_empty) {
        return Err(invalid("a section between colons is empty (an unset variable?)"));
    }
    let (source, target, options) = match sections.as_slice() {
        [target] => (None, target.as_str(), None),
        [source, target] => (Some(source.as_str()), target.as_str(), None),
        [source, target, options] => (Some(source.as_str()), target.as_str(), Some(options.as_str())),
        _ => return Err(invalid("too many colons; write \"[source:]target[:mode]\"")),
    };
    let bind = source.is_some_and(is_file_path);
    let mut volume = Map::new();
    volume.insert("type".into(), Json::String(if bind { "bind" } else { "volume" }.into()));
    if let Some(source) = source {
        volume.insert("source".into(), Json::String(source.into()));
    }
    volume.insert("target".into(), Json::String(clean_target(target)));
    let mut read_only = false;
    let mut bind_options = Map::new();
    let mut volume_options = Map::new();
    if bind {
        // Docker creates a missing host directory for the short syntax.
        bind_options.insert("create_host_path".into(), Json::Bool(true));
    }
    for option in options.into_iter().flat_map(|o| o.split(',')) {
        match option {
            "ro" => read_only = true,
            "rw" => read_only = false,
            "nocopy" => {
                volume_options.insert("nocopy".into(), Json::Bool(true));
            }
            "z" | "Z" => {
                bind_options.insert("selinux".into(), Json::String(option.into()));
            }
            "shared" | "rshared" | "slave" | "rslave" | "private" | "rprivate" => {
                bind_options.insert("propagation".into(), Json::String(option.into()));
            }
            // Consistency flags (`cached`, `delegated`) and unknown options are ignored, as
            // compose-go ignores them.
            _ => {}
        }
    }
    if read_only {
        volume.insert("read_only".into(), Json::Bool(true));
    }
    if bind {
        volume.insert("bind".into(), Json::Object(bind_options));
    } else {
        volume.insert("volume".into(), Json::Object(volume_options));
    }
    Ok(Json::Object(volume))
}

/// A container path as compose-go cleans it: no repeated or trailing `/`, no `.` parts
/// (`/var/lib/` is `/var/lib`). Relative targets are left for the translation to refuse.
fn clean_target(target: &str) -> String {
    if !target.starts_with('/') {
        return target.to_string();
    }
    let mut parts: Vec<&str> = Vec::new();
    for part in target.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            part => parts.push(part),
        }
    }
    format!("/{}", parts.join("/"))
}

/// A bind mount's source: a path, not a volume name.
pub fn is_file_path(source: &str) -> bool {
    let mut chars = source.chars();
    match (chars.next(), chars.next()) {
        (Some('.' | '/' | '~'), _) => true,
        (Some(drive), Some(':')) => drive.is_ascii_alphabetic(),
        _ => source.starts_with("\\\\"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn canonical(service: Json) -> (Json, Vec<String>) {
        let mut document = json!({ "services": { "web": service } });
        let mut report = Report::default();
        canonicalize(&mut document, &mut report);
        (document["services"]["web"].clone(), report.errors.iter().map(ToString::to_string).collect())
    }

    #[test]
    fn short_ports_become_one_long_entry_per_port() {
        let (web, errors) = canonical(json!({"ports": ["127.0.0.1:8080-8081:80-81/udp", 9000, {"target": 53, "published": "5353", "protocol": "udp"}]}));
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(
            web["ports"],
            json!([
                {"mode": "ingress", "host_ip": "127.0.0.1", "target": 80, "published": "8080", "protocol": "udp"},
                {"mode": "ingress", "host_ip": "127.0.0.1", "target": 81, "published": "8081", "protocol": "udp"},
                {"mode": "ingress", "target": 9000, "protocol": "tcp"},
                {"mode": "ingress", "target": 53, "published": "5353", "protocol": "udp"},
            ])
        );
    }

    #[test]
    fn port_budgets_hold_across_ranges() {
        let ranges: Vec<Json> = (0..3).map(|i| json!(format!("{}-{}", 1000 + i * 100, 1099 + i * 100))).collect();
        let (web, errors) = canonical(json!({ "ports": ranges }));
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert!(errors[0].contains("more than 200 ports"), "{errors:?}");
        assert!(web.get("ports").is_none(), "a field with a broken entry is left out whole");
    }

    #[test]
    fn short_volumes_follow_compose_go() {
        let (web, errors) = canonical(json!({"volumes": ["./src:/app:ro,z", "data:/var/lib/data:nocopy", "/cache", "C:\\data:/data"]}));
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(
            web["volumes"],
            json!([
                {"type": "bind", "source": "./src", "target": "/app", "read_only": true, "bind": {"create_host_path": true, "selinux": "z"}},
                {"type": "volume", "source": "data", "target": "/var/lib/data", "volume": {"nocopy": true}},
                {"type": "volume", "target": "/cache", "volume": {}},
                {"type": "bind", "source": "C:\\data", "target": "/data", "bind": {"create_host_path": true}},
            ])
        );
        let (_, errors) = canonical(json!({"volumes": [":/target", "data:/a:/b:ro"]}));
        assert_eq!(errors.len(), 2);
        assert!(errors[0].contains("empty"), "{errors:?}");
    }

    #[test]
    fn lists_become_mappings() {
        let (web, errors) = canonical(json!({
            "environment": ["A=1", "B", "C=x=y"], "labels": {"n": 1, "b": true},
            "depends_on": ["db"], "networks": ["front"], "env_file": ".env",
            "extra_hosts": ["db:10.0.0.1", "db=::1", "gw:host-gateway"], "dns": "1.1.1.1",
            "command": "run --name 'a b'", "healthcheck": {"test": "curl -f x"}, "build": "./dir",
            "configs": ["c"], "deploy": {"labels": ["tier=web"]}
        }));
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(web["environment"], json!({"A": "1", "B": null, "C": "x=y"}));
        assert_eq!(web["labels"], json!({"n": "1", "b": "true"}));
        assert_eq!(web["depends_on"], json!({"db": {"condition": "service_started", "required": true}}));
        assert_eq!(web["networks"], json!({"front": null}));
        assert_eq!(web["env_file"], json!([{"path": ".env", "required": true}]));
        assert_eq!(web["extra_hosts"], json!({"db": ["10.0.0.1", "::1"], "gw": ["host-gateway"]}));
        assert_eq!(web["dns"], json!(["1.1.1.1"]));
        assert_eq!(web["command"], json!(["run", "--name", "a b"]));
        assert_eq!(web["healthcheck"]["test"], json!(["CMD-SHELL", "curl -f x"]));
        assert_eq!(web["build"], json!({"context": "./dir"}));
        assert_eq!(web["configs"], json!([{"source": "c"}]));
        assert_eq!(web["deploy"]["labels"], json!({"tier": "web"}));
    }

    #[test]
    fn legacy_external_names_are_rewritten() {
        let mut document = json!({"services": {}, "volumes": {"data": {"external": {"name": "shared"}}, "empty": null}});
        let mut report = Report::default();
        canonicalize(&mut document, &mut report);
        assert_eq!(document["volumes"], json!({"data": {"external": true, "name": "shared"}, "empty": {}}));
    }
}
