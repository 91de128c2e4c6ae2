//! Decisions about the stack as a whole: alias Services, the settings of shared claims, and
//! the budgets and name clashes of what the translation produced.

use std::collections::BTreeMap;

use super::{extension, names};
use crate::compose::diagnostic::{Diagnostic, Path, Report};
use crate::compose::extension::EXTENSION_KEY;
use crate::compose::limits::{MAX_OBJECTS, MAX_OUTPUT_BYTES};
use crate::compose::model::ComposeFile;
use crate::compose::value::is_external;
use crate::translate::plan::Translation;

/// Alias Services per target service: `links: [db:database]` on any service and
/// `networks.<net>.aliases` on the target itself.
pub(super) fn aliases(file: &ComposeFile, k8s_names: &BTreeMap<&str, String>, report: &mut Report) -> BTreeMap<String, Vec<String>> {
    let mut owner_of: BTreeMap<String, (String, Path)> = BTreeMap::new();
    let mut add = |alias: &str, target: &str, path: Path, report: &mut Report| {
        let Some(target) = k8s_names.get(target) else { return };
        let Some(alias) = report.check(&path, names::kubernetes_name(alias)) else { return };
        if alias == *target {
            return;
        }
        if k8s_names.values().any(|n| *n == alias) {
            report.error(Diagnostic::new(path, format!("the alias `{alias}` is already the name of a service")));
            return;
        }
        match owner_of.get(&alias) {
            Some((owner, _)) if owner != target => report.error(Diagnostic::new(path, format!("the alias `{alias}` already names service `{owner}`"))),
            Some(_) => {}
            None => {
                owner_of.insert(alias, (target.clone(), path));
            }
        }
    };
    for (name, service) in &file.services {
        let path = Path::root().key("services").key(name);
        for (index, link) in service.links.iter().enumerate() {
            if let Some(alias) = &link.alias {
                add(alias, &link.service, path.key("links").key(index), report);
            }
        }
        for (network, definition) in &service.networks {
            for (index, alias) in definition.aliases.iter().enumerate() {
                add(alias, name, path.key("networks").key(network).key("aliases").key(index), report);
            }
        }
    }
    let mut by_target: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (alias, (target, _)) in owner_of {
        by_target.entry(target).or_default().push(alias);
    }
    by_target
}

/// The objects' count and size, as applied (JSON), against the stack's budget.
pub(super) fn check_output_size(translation: &Translation, report: &mut Report) {
    let count = translation.object_count();
    if count > MAX_OBJECTS {
        report.error(Diagnostic::new(Path::root(), format!("the stack becomes {count} Kubernetes objects; at most {MAX_OBJECTS} are accepted")));
        return;
    }
    let mut bytes = ByteCount(0);
    for object in translation.objects() {
        // Writing into a counter cannot fail.
        let _ = serde_json::to_writer(&mut bytes, &object.to_json());
        if bytes.0 > MAX_OUTPUT_BYTES {
            report.error(
                Diagnostic::new(Path::root(), format!("the stack's objects take more than {MAX_OUTPUT_BYTES} bytes"))
                    .with_hint("split the project into several ComposeStacks, or move large files into images"),
            );
            return;
        }
    }
}

/// Counts what is written to it, and keeps nothing.
struct ByteCount(usize);

impl std::io::Write for ByteCount {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0 += buf.len();
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// The claim settings of each named volume's own `x-kubernetes`.
pub(super) fn volume_claims(file: &ComposeFile, report: &mut Report) -> BTreeMap<String, extension::ClaimSettings> {
    file.volumes
        .iter()
        .filter_map(|(name, definition)| {
            let path = Path::root().key("volumes").key(name);
            let extension = definition.x_kubernetes.as_ref()?;
            let external = is_external(&definition.external);
            if external {
                report.warn(&path.key(EXTENSION_KEY), "an external volume's claim exists already, with its own size and class; ignored");
                return None;
            }
            Some((name.clone(), extension::volume_settings(extension, &path, report)))
        })
        .collect()
}

/// Two objects of one kind with one name would overwrite each other.
pub(super) fn check_unique_names(translation: &Translation, report: &mut Report) {
    let mut seen = std::collections::BTreeSet::new();
    for object in translation.objects() {
        if !seen.insert((object.kind(), object.name().to_string())) {
            report.error(
                Diagnostic::new(Path::root().key("services"), format!("two parts of the stack would both create {} `{}`", object.kind(), object.name()))
                    .with_hint("rename one of the services, aliases or volumes"),
            );
        }
    }
}
