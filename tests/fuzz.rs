//! A bounded fuzz run over the whole translation, in `make test`: the mapping fixtures,
//! mutated the way YAML is shaped (values swapped for hostile scalars, lists and mappings,
//! keys dropped or added, compose keys planted anywhere, text cut or spliced), each
//! translated on a 2 MiB stack. Every outcome must be an answer (no panic, no overflow),
//! within time and memory, and every translation must print as YAML that reads back.
//!
//! `FUZZ_SECONDS` (default 20) bounds the run; `FUZZ_SEED` picks another sequence (the
//! default is fixed, so CI is repeatable). A failure prints the seed and the input.

use std::time::{Duration, Instant};

use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};
use serde_json::{Value, json};

mod support;

#[global_allocator]
static ALLOCATOR: support::counting::Counting = support::counting::Counting;

const CASE_TIME: Duration = Duration::from_secs(10);
const CASE_MEMORY: usize = 128 * 1024 * 1024;

/// Scalars that have broken parsers before, or that mean something to one reader only.
const HOSTILE_SCALARS: &[&str] = &[
    "",
    " ",
    "yes",
    "no",
    "Y",
    "on",
    "~",
    "null",
    "0x1F",
    "0o17",
    "1_000",
    ".inf",
    "-1",
    "0",
    "65536",
    "99999999999999999999",
    "1e999",
    "NaN",
    "true",
    "${X}",
    "${X:?boom}",
    "${X:-${Y:-${Z}}}",
    "$$",
    "$",
    "${",
    "}",
    "a:b:c:d",
    ":",
    "::",
    "/",
    "./",
    "../..",
    "~",
    "/etc/passwd",
    "/var/run/docker.sock",
    "/dev/sda",
    "127.0.0.1:80:80",
    "0.0.0.0:1-65535:1-65535",
    "1-65535",
    "[::1]:80:80",
    "host-gateway",
    "service:web",
    "container:x",
    "host",
    "none",
    "CMD",
    "CMD-SHELL",
    "NONE",
    "1000:1000",
    "root",
    "-",
    "--",
    "é",
    "\u{0}",
    "\u{feff}x",
    "a\nb",
    "\"",
    "'",
    "'unterminated",
    "#",
    "&a",
    "*a",
    "!reset",
    "<<",
    "=",
    "1.5g",
    "0.000001",
    "9999999999t",
    "1m30",
    "100ms",
    "always",
    "unless-stopped",
    "replicated-job",
    "global",
    "service_healthy",
];

/// Compose keys planted where they may or may not belong.
const KEYS: &[&str] = &[
    "image",
    "ports",
    "expose",
    "volumes",
    "environment",
    "env_file",
    "labels",
    "annotations",
    "depends_on",
    "extends",
    "networks",
    "network_mode",
    "deploy",
    "replicas",
    "resources",
    "limits",
    "healthcheck",
    "test",
    "command",
    "entrypoint",
    "user",
    "hostname",
    "extra_hosts",
    "configs",
    "secrets",
    "tmpfs",
    "restart",
    "restart_policy",
    "condition",
    "security_opt",
    "cap_add",
    "sysctls",
    "x-kubernetes",
    "profiles",
    "links",
    "external",
    "name",
    "source",
    "target",
    "type",
    "mode",
    "published",
    "size",
    "services",
    "x-test",
];

fn scalar() -> impl Strategy<Value = Value> {
    prop_oneof![
        prop::sample::select(HOSTILE_SCALARS).prop_map(|s| Value::String(s.to_string())),
        any::<i64>().prop_map(Value::from),
        any::<bool>().prop_map(Value::Bool),
        Just(Value::Null),
        "\\PC{0,30}".prop_map(Value::String),
        (1usize..5000).prop_map(|n| Value::String("x".repeat(n))),
    ]
}

fn value() -> impl Strategy<Value = Value> {
    scalar().prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::vec((prop::sample::select(KEYS), inner), 0..4)
                .prop_map(|entries| Value::Object(entries.into_iter().map(|(k, v)| (k.to_string(), v)).collect())),
        ]
    })
}

/// One change to a document, applied at a node chosen by `at` (a fraction of the nodes).
#[derive(Clone, Debug)]
enum Mutation {
    Replace(f64, Value),
    Remove(f64),
    Plant(f64, &'static str, Value),
    Repeat(f64, usize),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    let at = 0.0..1.0f64;
    prop_oneof![
        (at.clone(), value()).prop_map(|(at, v)| Mutation::Replace(at, v)),
        at.clone().prop_map(Mutation::Remove),
        (at.clone(), prop::sample::select(KEYS), value()).prop_map(|(at, k, v)| Mutation::Plant(at, k, v)),
        (at, 2usize..40).prop_map(|(at, n)| Mutation::Repeat(at, n)),
    ]
}

/// Text-level damage after printing: cut, or splice bytes in.
#[derive(Clone, Debug)]
enum TextDamage {
    None,
    Cut(f64),
    Splice(f64, String),
}

fn text_damage() -> impl Strategy<Value = TextDamage> {
    prop_oneof![
        6 => Just(TextDamage::None),
        1 => (0.0..1.0f64).prop_map(TextDamage::Cut),
        1 => (0.0..1.0f64, "[:\\[\\]{}\\-#&*!|>'\"%@` \n\t]{1,6}").prop_map(|(at, s)| TextDamage::Splice(at, s)),
    ]
}

fn count(value: &Value) -> usize {
    1 + match value {
        Value::Array(items) => items.iter().map(count).sum(),
        Value::Object(map) => map.values().map(count).sum(),
        _ => 0,
    }
}

/// The node at preorder position `index`.
fn node_at<'a>(value: &'a mut Value, index: &mut usize) -> Option<&'a mut Value> {
    if *index == 0 {
        return Some(value);
    }
    *index -= 1;
    match value {
        Value::Array(items) => items.iter_mut().find_map(|item| node_at(item, index)),
        Value::Object(map) => map.values_mut().find_map(|item| node_at(item, index)),
        _ => None,
    }
}

fn apply(document: &mut Value, mutation: &Mutation) {
    let total = count(document);
    let pick = |at: f64| ((at * total as f64) as usize).min(total - 1);
    fn target(document: &mut Value, mut index: usize) -> Option<&mut Value> {
        node_at(document, &mut index)
    }
    match mutation {
        Mutation::Replace(at, v) => {
            if let Some(node) = target(document, pick(*at)) {
                *node = v.clone();
            }
        }
        Mutation::Remove(at) => match target(document, pick(*at)) {
            Some(Value::Object(map)) if !map.is_empty() => {
                let key = map.keys().nth(map.len() / 2).cloned().unwrap_or_default();
                map.remove(&key);
            }
            Some(Value::Array(items)) if !items.is_empty() => {
                items.pop();
            }
            _ => {}
        },
        Mutation::Plant(at, key, v) => match target(document, pick(*at)) {
            Some(Value::Object(map)) => {
                map.insert((*key).to_string(), v.clone());
            }
            Some(Value::Array(items)) => items.push(json!({ *key: v })),
            _ => {}
        },
        Mutation::Repeat(at, times) => {
            if let Some(Value::Array(items)) = target(document, pick(*at))
                && let Some(first) = items.first().cloned()
            {
                items.extend(std::iter::repeat_n(first, *times));
            }
        }
    }
}

fn damage(text: String, damage: &TextDamage) -> String {
    let boundary = |at: f64| {
        let mut index = ((at * text.len() as f64) as usize).min(text.len());
        while !text.is_char_boundary(index) {
            index -= 1;
        }
        index
    };
    match damage {
        TextDamage::None => text,
        TextDamage::Cut(at) => text[..boundary(*at)].to_string(),
        TextDamage::Splice(at, inserted) => {
            let index = boundary(*at);
            format!("{}{inserted}{}", &text[..index], &text[index..])
        }
    }
}

fn fixtures() -> Vec<Value> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/convert");
    let mut paths: Vec<_> = std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().path()).collect();
    paths.sort();
    paths.iter().map(|p| serde_saphyr::from_str::<Value>(&std::fs::read_to_string(p).unwrap()).unwrap()).collect()
}

/// Translates one input on a 2 MiB stack, and checks the answer.
fn check(text: String) -> Result<(), String> {
    let before = support::counting::start();
    let started = Instant::now();
    let (spec, policy) = support::spec_and_policy(&text);
    let spec = compose_operator::api::ComposeStackSpec { compose: text, ..spec };
    let outcome = std::thread::Builder::new()
        .stack_size(2 * 1024 * 1024)
        .spawn(move || -> Result<(), String> {
            match compose_operator::pipeline::translate("fuzz", "tenant", &spec, &policy) {
                Err(errors) => {
                    let text = errors.to_string();
                    if text.len() > 64 * 1024 {
                        return Err(format!("a refusal of {} bytes", text.len()));
                    }
                    Ok(())
                }
                Ok(translation) => {
                    let list = json!({"apiVersion": "v1", "kind": "List", "items": translation.objects().map(|o| o.to_json()).collect::<Vec<_>>()});
                    let yaml = compose_operator::yaml_writer::to_string(&list).unwrap();
                    let back: Value = serde_saphyr::from_str(&yaml).map_err(|e| format!("the printed YAML does not read back: {e}"))?;
                    if back != list {
                        return Err("the printed YAML reads back differently".into());
                    }
                    support::validity::check_objects(&list).map_err(|e| format!("an invalid object: {e}"))
                }
            }
        })
        .map_err(|e| e.to_string())?
        .join()
        .map_err(|_| "the translation panicked".to_string())?;
    outcome?;
    let (took, peak) = (started.elapsed(), support::counting::peak_since(before));
    if took > CASE_TIME {
        return Err(format!("took {took:?}"));
    }
    if peak > CASE_MEMORY {
        return Err(format!("peaked at {} MiB", peak >> 20));
    }
    Ok(())
}

#[test]
fn mutated_fixtures_are_answered_within_bounds() {
    let seconds: u64 = std::env::var("FUZZ_SECONDS").ok().and_then(|s| s.parse().ok()).unwrap_or(20);
    let seed: u64 = std::env::var("FUZZ_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or(0x5eed_c0de);
    let fixtures = fixtures();
    let strategy = (0..fixtures.len(), prop::collection::vec(mutation(), 1..8), text_damage());
    let mut seed_bytes = [0u8; 32];
    seed_bytes[..8].copy_from_slice(&seed.to_le_bytes());
    let rng = TestRng::from_seed(RngAlgorithm::ChaCha, &seed_bytes);
    let mut runner = TestRunner::new_with_rng(Config { cases: u32::MAX, failure_persistence: None, ..Config::default() }, rng);
    let deadline = Instant::now() + Duration::from_secs(seconds);
    // FUZZ_CASES runs exactly that many cases instead (the same ones for a seed), and with
    // TRANSLATION_RECORD_DIR records each one's translation.
    let fixed_cases: Option<u64> = std::env::var("FUZZ_CASES").ok().and_then(|s| s.parse().ok());
    let mut cases = 0u64;
    while fixed_cases.map_or(Instant::now() < deadline, |fixed| cases < fixed) {
        let tree = strategy.new_tree(&mut runner).expect("generate");
        let (index, mutations, text_damage) = tree.current();
        let mut document = fixtures[index].clone();
        for mutation in &mutations {
            apply(&mut document, mutation);
        }
        let text = damage(compose_operator::yaml_writer::to_string(&document).unwrap(), &text_damage);
        cases += 1;
        if support::record::recording() {
            let (spec, policy) = support::spec_and_policy(&text);
            let spec = compose_operator::api::ComposeStackSpec { compose: text.clone(), ..spec };
            support::record::record("fuzz", &format!("case-{cases:05}"), &support::render("fuzz", &spec, &policy));
        }
        if let Err(problem) = check(text.clone()) {
            panic!("fuzz case {cases} (FUZZ_SEED={seed}): {problem}\n--- input ---\n{}", &text[..text.len().min(20_000)]);
        }
    }
    println!("{cases} mutated documents translated or refused within bounds (seed {seed}, {seconds} s)");
    assert!(cases > 50, "only {cases} cases ran in {seconds} s");
}
