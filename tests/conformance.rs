//! The conformance corpora (tests/conformance/corpus.rs says where they are and how a project
//! is formed) against our translation and against the reference loader.
//!
//! - Outcomes: every project goes through the translation twice: alone (the documents as they
//!   are, default policy, no variables), and as a project (what `compose-operator stack` makes
//!   of it in its directory: files packed, `.env` read, `--image` for services that only have
//!   `build:`). Each outcome (converts, or refused with the first reason) must match
//!   tests/conformance/<corpus>.tsv, and nothing may panic.
//! - Differential: compose-go (e2e/tools/compose-oracle) and our loader must agree on
//!   accept/refuse and on the canonical values tests/conformance/canonical.rs compares; the
//!   verdicts must match tests/conformance/differential.tsv, and every disagreement must have
//!   its reason in tests/conformance/differences.tsv.
//!
//! `UPDATE_CONFORMANCE=1 cargo test --test conformance` rewrites the expectations and
//! docs/conformance.md (which also reads the e2e suite's Ready and dry-run records).

mod support;

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};

use compose_operator::cli::input::ComposeInput;
use compose_operator::compose::load::{self, Sources};
use compose_operator::policy::Policy;
use compose_operator::translate;
use compose_operator::translate::project_files::ProjectFiles;

#[path = "conformance/canonical.rs"]
mod canonical;
#[path = "conformance/corpus.rs"]
mod corpus;
#[path = "conformance/oracle.rs"]
mod oracle;
#[path = "conformance/report.rs"]
mod report;

use corpus::Project;

fn updating() -> bool {
    std::env::var_os("UPDATE_CONFORMANCE").is_some()
}

fn expectations(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/conformance").join(name)
}

/// Runs `f`, turning a panic into an outcome that names it.
fn guarded(f: impl FnOnce() -> String) -> String {
    catch_unwind(AssertUnwindSafe(f)).unwrap_or_else(|panic| {
        let message = panic.downcast_ref::<String>().cloned().or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string())).unwrap_or_default();
        format!("PANIC: {message}")
    })
}

fn read_all(project: &Project) -> (String, Vec<String>) {
    let text = std::fs::read_to_string(&project.file).unwrap_or_default();
    (text, project.overrides.iter().map(|f| std::fs::read_to_string(f).unwrap_or_default()).collect())
}

fn alone(project: &Project) -> String {
    let (text, overrides) = read_all(project);
    let (mut spec, policy) = support::spec_and_policy(&text);
    spec.overrides = overrides;
    describe(compose_operator::pipeline::translate("conformance", "default", &spec, &policy))
}

fn input(project: &Project, images: Vec<(String, String)>) -> ComposeInput {
    ComposeInput {
        files: std::iter::once(project.file.clone()).chain(project.overrides.iter().cloned()).collect(),
        name: Some("conformance".into()),
        variables: Vec::new(),
        profiles: Vec::new(),
        images,
        bind_mounts: None,
        drop_bind_mounts: false,
        secret_env_files: Vec::new(),
        no_dotenv: false,
    }
}

fn as_project(project: &Project) -> String {
    match input(project, corpus::stand_in_images(project)).project() {
        Ok(packed) => describe(compose_operator::pipeline::translate("conformance", "default", &packed.spec, &Policy::default())),
        Err(error) => format!("refused: {error}"),
    }
}

/// Both translations of a project in full, for e2e/compare-translations.sh.
fn record(corpus: &str, project: &Project) {
    let (text, overrides) = read_all(project);
    let (mut spec, policy) = support::spec_and_policy(&text);
    spec.overrides = overrides;
    support::record::record(&format!("{corpus}-alone"), &project.name, &guarded(|| support::render("conformance", &spec, &policy)));
    let packed = guarded(|| match input(project, corpus::stand_in_images(project)).project() {
        Ok(packed) => support::render("conformance", &packed.spec, &Policy::default()),
        Err(error) => format!("refused: {error}"),
    });
    support::record::record(&format!("{corpus}-project"), &project.name, &packed);
}

fn describe(result: Result<translate::Translation, compose_operator::compose::diagnostic::Diagnostics>) -> String {
    match result {
        Ok(translation) => format!("converts ({} objects, {} warnings)", translation.objects().count(), translation.warnings.len()),
        Err(errors) => format!("refused: {}", errors.0[0].to_string().replace(['\t', '\n'], " ")),
    }
}

/// Compares `table` with the checked-in expectations line by line (rewriting them first
/// when updating), so a changed outcome names its file.
fn check_table(file: &str, table: &str) {
    let path = expectations(file);
    if updating() {
        std::fs::write(&path, table).unwrap();
    }
    let expected = std::fs::read_to_string(&path).unwrap_or_default();
    for (line, (actual, wanted)) in table.lines().zip(expected.lines()).enumerate() {
        assert_eq!(actual, wanted, "{file} line {} differs; review and run `UPDATE_CONFORMANCE=1 cargo test --test conformance`", line + 1);
    }
    assert_eq!(table.lines().count(), expected.lines().count(), "the corpus and {file} differ in length; review and run with UPDATE_CONFORMANCE=1");
}

fn corpus_outcomes(corpus: &str) {
    let Some(root) = corpus::root() else { return };
    let dir = corpus::corpus_dir(&root, corpus);
    let projects = corpus::projects(&dir, corpus);
    assert!(projects.len() > 20, "expected the whole {corpus} corpus, found {} files", projects.len());
    if support::record::recording() {
        projects.iter().for_each(|p| record(corpus, p));
    }
    let table: String = projects.iter().map(|p| format!("{}\t{}\t{}\n", p.name, guarded(|| alone(p)), guarded(|| as_project(p)))).collect();
    let panics: Vec<&str> = table.lines().filter(|l| l.contains("PANIC: ")).collect();
    assert!(panics.is_empty(), "the translation panicked:\n{}", panics.join("\n"));
    check_table(&format!("{corpus}.tsv"), &table);
    if updating() {
        report::write();
    }
}

#[test]
fn kompose_corpus_outcomes_match_expectations() {
    corpus_outcomes("kompose");
}

#[test]
fn compose_go_corpus_outcomes_match_expectations() {
    corpus_outcomes("compose-go");
}

#[test]
fn docker_compose_corpus_outcomes_match_expectations() {
    corpus_outcomes("docker-compose");
}

/// Our loader's verdict in the canonical shape, or its first refusal.
fn our_canonical(project: &Project) -> Result<serde_json::Value, String> {
    let packed = input(project, Vec::new()).project()?;
    let spec = &packed.spec;
    let sources = Sources { compose: &spec.compose, overrides: &spec.overrides, variables: &spec.variables, profiles: &spec.profiles };
    let loaded = load::load(&sources).map_err(|errors| errors.0[0].to_string())?;
    let files = ProjectFiles::new(&spec.files, &spec.binary_files, &spec.directories);
    let project_dir = project.file.parent().unwrap_or(Path::new("."));
    canonical::ours(&loaded, &files, &spec.variables, project_dir)
}

/// Where our loader accepts what compose-go does not load the same way, the project outcome
/// (tests/conformance/<corpus>.tsv) says whether the translation still refuses it.
fn verdict(oracle: &PathBuf, project: &Project) -> String {
    let reference = oracle::load(oracle, project).map(|p| canonical::compose_go(&p));
    let ours = our_canonical(project);
    let translation = || as_project(project);
    match (reference, ours) {
        (Ok(reference), Ok(ours)) => {
            let differences = canonical::differences(&reference, &ours);
            if differences.is_empty() {
                return "agree: loads the same".to_string();
            }
            let outcome = translation();
            let refused = outcome.strip_prefix("refused: ").map(|r| format!("; our translation refuses: {r}")).unwrap_or_default();
            format!("differs: {}{refused}", differences.join(" | "))
        }
        (Err(_), Err(_)) => "agree: both refuse".to_string(),
        (Err(theirs), Ok(_)) => match translation().strip_prefix("refused: ") {
            Some(ours) => format!("agree: both refuse (our loader accepts, our translation refuses: {ours})"),
            None => format!("differs: compose-go refuses ({theirs}); we load and translate"),
        },
        (Ok(_), Err(ours)) => format!("differs: compose-go loads; we refuse ({ours})"),
    }
}

#[test]
fn our_loader_agrees_with_compose_go_or_the_difference_is_documented() {
    let Some(root) = corpus::root() else { return };
    let Some(oracle) = oracle::binary() else { return };
    // Absolute paths (resolved bind sources, compose-go's messages) are written relative to
    // the conformance directory, so the expectations do not depend on the checkout's place.
    let root = std::fs::canonicalize(&root).unwrap();
    let mut rows = Vec::new();
    for corpus in corpus::CORPORA {
        let dir = corpus::corpus_dir(&root, corpus);
        for project in corpus::projects(&dir, corpus) {
            let verdict = guarded(|| verdict(&oracle, &project)).replace(&format!("{}/", root.display()), "").replace(['\t', '\n'], " ");
            rows.push((format!("{corpus}/{}", project.name), verdict));
        }
    }
    let panics: Vec<&String> = rows.iter().filter(|(_, v)| v.starts_with("PANIC: ")).map(|(f, _)| f).collect();
    assert!(panics.is_empty(), "our loader panicked on {panics:?}");
    let table: String = rows.iter().map(|(file, verdict)| format!("{file}\t{verdict}\n")).collect();
    check_table("differential.tsv", &table);

    let reasons = report::differences();
    let undocumented: Vec<&String> = rows.iter().filter(|(f, v)| v.starts_with("differs") && !reasons.contains_key(f)).map(|(f, _)| f).collect();
    let stale: Vec<&String> = reasons.keys().filter(|f| !rows.iter().any(|(file, v)| file == *f && v.starts_with("differs"))).collect();
    assert!(
        undocumented.is_empty(),
        "compose-go and our loader disagree on {undocumented:?} and tests/conformance/differences.tsv gives no reason; fix the loader or add one"
    );
    assert!(stale.is_empty(), "tests/conformance/differences.tsv explains disagreements that no longer exist: {stale:?}; remove them");
    if updating() {
        report::write();
    }
}

/// A further corpus of one's own (`COMPOSE_CONFORMANCE_EXTRA=DIR`), kept out of the
/// repository: nothing may panic, and the shares and the disagreements with compose-go
/// are printed (`--nocapture`). Without the variable the test does nothing.
#[test]
fn an_extra_corpus_translates_without_panics() {
    let Some(dir) = std::env::var_os("COMPOSE_CONFORMANCE_EXTRA").map(PathBuf::from) else { return };
    assert!(dir.is_dir(), "COMPOSE_CONFORMANCE_EXTRA={} is not a directory", dir.display());
    let dir = std::fs::canonicalize(&dir).unwrap();
    let projects = corpus::projects(&dir, "extra");
    let oracle = oracle::binary();
    let (mut alone_ok, mut project_ok, mut differs, mut panics) = (0, 0, Vec::new(), Vec::new());
    for project in &projects {
        let outcomes = [guarded(|| alone(project)), guarded(|| as_project(project))];
        alone_ok += usize::from(outcomes[0].starts_with("converts"));
        project_ok += usize::from(outcomes[1].starts_with("converts"));
        let verdict = oracle.as_ref().map(|o| guarded(|| verdict(o, project))).unwrap_or_default();
        if verdict.starts_with("differs") {
            differs.push(format!("{}\t{}", project.name, verdict.replace(&format!("{}/", dir.display()), "")));
        }
        if outcomes.iter().chain([&verdict]).any(|o| o.starts_with("PANIC: ")) {
            panics.push(project.name.clone());
        }
    }
    println!("{} projects: {alone_ok} translate alone, {project_ok} as a project", projects.len());
    println!("{} disagree with compose-go:\n{}", differs.len(), differs.join("\n"));
    assert!(panics.is_empty(), "panicked on {panics:?}");
}
