//! Object names and labels: the user-facing contract of what the operator creates.

use std::collections::BTreeMap;

pub const MANAGED_BY: &str = "app.kubernetes.io/managed-by";
pub const PART_OF: &str = "app.kubernetes.io/part-of";
pub const NAME: &str = "app.kubernetes.io/name";
pub const STACK: &str = "compose-operator.dev/stack";
pub const SERVICE: &str = "compose-operator.dev/service";
pub const OPERATOR: &str = "compose-operator";

/// Kubernetes names of Services must be DNS-1035 labels (start with a letter, at most 63).
pub const MAX_NAME: usize = 63;
const PUBLISHED_SUFFIX: &str = "-published";

/// The documented mapping from a compose name to a Kubernetes name: lower-cased, `_` and
/// `.` become `-`. The result must be a DNS-1035 label; otherwise the name is refused
/// rather than silently mangled further.
pub fn kubernetes_name(compose_name: &str) -> Result<String, String> {
    let name: String = compose_name
        .chars()
        .map(|c| match c {
            '_' | '.' => '-',
            c => c.to_ascii_lowercase(),
        })
        .collect();
    let valid_chars = name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    let starts_with_letter = name.chars().next().is_some_and(|c| c.is_ascii_lowercase());
    let ends_alphanumeric = name.chars().last().is_some_and(|c| c.is_ascii_alphanumeric());
    if !valid_chars || !starts_with_letter || !ends_alphanumeric {
        return Err(format!(
            "`{compose_name}` cannot be a Kubernetes name: it must start with a letter, end with a letter or digit, and contain only letters, digits, `-`, `_` and `.`"
        ));
    }
    if name.len() + PUBLISHED_SUFFIX.len() > MAX_NAME {
        return Err(format!("`{compose_name}` is too long: Kubernetes names are at most {MAX_NAME} characters, and `{name}{PUBLISHED_SUFFIX}` must fit"));
    }
    Ok(name)
}

pub fn published_service_name(service: &str) -> String {
    format!("{service}{PUBLISHED_SUFFIX}")
}

/// Labels every object of a stack carries; `service` is the Kubernetes service name.
pub fn object_labels(stack: &str, service: Option<&str>) -> BTreeMap<String, String> {
    let mut labels =
        BTreeMap::from([(MANAGED_BY.to_string(), OPERATOR.to_string()), (PART_OF.to_string(), stack.to_string()), (STACK.to_string(), stack.to_string())]);
    if let Some(service) = service {
        labels.insert(NAME.to_string(), service.to_string());
        labels.insert(SERVICE.to_string(), service.to_string());
    }
    labels
}

/// The pod selector of a service: stable across edits, so workloads never need re-creating.
pub fn selector_labels(stack: &str, service: &str) -> BTreeMap<String, String> {
    BTreeMap::from([(STACK.to_string(), stack.to_string()), (SERVICE.to_string(), service.to_string())])
}

/// Whether `key: value` is a valid Kubernetes label (compose labels become annotations
/// always, and labels too when they fit).
pub fn is_valid_label(key: &str, value: &str) -> bool {
    let (prefix, name) = match key.rsplit_once('/') {
        Some((prefix, name)) => (Some(prefix), name),
        None => (None, key),
    };
    let prefix_ok = prefix.is_none_or(|p| !p.is_empty() && p.len() <= 253 && p.split('.').all(|part| is_label_segment(part, false)));
    prefix_ok && !name.is_empty() && is_label_segment(name, true) && (value.is_empty() || is_label_segment(value, true))
}

fn is_label_segment(text: &str, allow_dot_underscore: bool) -> bool {
    let inner_ok = |c: char| c.is_ascii_alphanumeric() || c == '-' || (allow_dot_underscore && (c == '_' || c == '.'));
    !text.is_empty()
        && text.len() <= 63
        && text.chars().all(inner_ok)
        && text.chars().next().is_some_and(|c| c.is_ascii_alphanumeric())
        && text.chars().last().is_some_and(|c| c.is_ascii_alphanumeric())
}

/// Whether `key` is a valid annotation key: an optional DNS-subdomain prefix and `/`, then a
/// name of at most 63 characters (`[A-Za-z0-9]` at both ends, `-_.` inside). Compose label
/// keys such as `traefik.http.middlewares.auth.forwardauth.trustForwardHeader` are not.
pub fn is_valid_annotation_key(key: &str) -> bool {
    let (prefix, name) = match key.rsplit_once('/') {
        Some((prefix, name)) => (Some(prefix), name),
        None => (None, key),
    };
    let prefix_ok = prefix.is_none_or(|p| {
        !p.is_empty() && p.len() <= 253 && p.split('.').all(|part| is_label_segment(&part.to_ascii_lowercase(), false)) && p == p.to_ascii_lowercase()
    });
    prefix_ok && is_label_segment(name, true)
}

/// The warning for a compose label or annotation whose key Kubernetes cannot carry.
pub const INVALID_ANNOTATION_KEY: &str =
    "not a valid Kubernetes annotation key (a name part of at most 63 letters, digits, `-`, `_`, `.`, after an optional DNS prefix and `/`); not copied";

/// Whether `name` is a DNS-1123 label: what a pod's `hostname` and `subdomain` must be.
pub fn is_dns_label(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 63
        && name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && name.starts_with(|c: char| c.is_ascii_alphanumeric())
        && name.ends_with(|c: char| c.is_ascii_alphanumeric())
}

/// Labels the operator owns (its domain and subdomains, such as the network labels);
/// user labels never override them.
pub fn is_reserved_label(key: &str) -> bool {
    let prefix = key.rsplit_once('/').map(|(prefix, _)| prefix);
    key.starts_with("app.kubernetes.io/") || prefix.is_some_and(|p| p == "compose-operator.dev" || p.ends_with(".compose-operator.dev"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maps_compose_names() {
        assert_eq!(kubernetes_name("my_web.app").unwrap(), "my-web-app");
        assert_eq!(kubernetes_name("Web").unwrap(), "web");
        assert!(kubernetes_name("1web").is_err());
        assert!(kubernetes_name("web-").is_err());
        assert!(kubernetes_name(&"a".repeat(60)).is_err());
        assert!(kubernetes_name("wéb").is_err());
    }

    #[test]
    fn label_validity() {
        assert!(is_valid_label("com.example.tier", "frontend"));
        assert!(is_valid_label("example.com/tier", ""));
        assert!(!is_valid_label("tier", "has space"));
        assert!(!is_valid_label("/x", "a"));
    }

    #[test]
    fn annotation_keys() {
        assert!(is_valid_annotation_key("com.example.tier"));
        assert!(is_valid_annotation_key("traefik.http.routers.web.rule"));
        assert!(is_valid_annotation_key("example.com/Tier_1"));
        assert!(!is_valid_annotation_key("traefik.http.middlewares.auth.forwardauth.trustForwardHeader-and-more-than-sixty-three-chars"));
        assert!(!is_valid_annotation_key("a b"));
        assert!(!is_valid_annotation_key("Example.com/x"));
        assert!(!is_valid_annotation_key(""));
        assert!(is_dns_label("my-db") && !is_dns_label("my_db") && !is_dns_label("mail.example.com"));
    }

    #[test]
    fn operator_labels_are_reserved() {
        assert!(is_reserved_label("compose-operator.dev/stack"));
        assert!(is_reserved_label("network.compose-operator.dev/back"));
        assert!(is_reserved_label("app.kubernetes.io/name"));
        assert!(!is_reserved_label("notcompose-operator.dev/x"));
        assert!(!is_reserved_label("example.com/tier"));
    }
}
