//! Inputs a hostile tenant could write (each under the 256 KiB cap), minimised from the
//! security review of issue 12. Each is translated on a thread with the controller's 2 MiB
//! stack, and must be translated or refused in bounded time and memory, with a bounded
//! answer. The allocator of this test binary counts bytes, so memory is measured, not guessed.
//!
//! `cargo test --release --test hostile -- --nocapture` prints the table docs/security.md records.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::time::{Duration, Instant};

use compose_operator::api::ComposeStackSpec;
use compose_operator::policy::Policy;

mod support;

#[global_allocator]
static ALLOCATOR: support::counting::Counting = support::counting::Counting;

/// The controller's worker threads have 2 MiB stacks (tokio's default).
const STACK: usize = 2 * 1024 * 1024;

/// Bounds for a debug build on a loaded 2-core machine; a release build takes a fraction
/// (see the printed table). The inputs of the review took minutes and gigabytes.
const TIME: Duration = Duration::from_secs(20);
const MEMORY: usize = 192 * 1024 * 1024;
/// What a refusal may say: it ends up in a status condition.
const ANSWER: usize = 64 * 1024;

struct Case {
    name: &'static str,
    spec: ComposeStackSpec,
    /// Whether the stack is valid and must translate.
    translates: bool,
}

fn compose(compose: String) -> ComposeStackSpec {
    assert!(compose.len() <= 256 * 1024, "the input is over the cap: {} bytes", compose.len());
    ComposeStackSpec { compose, ..Default::default() }
}

fn extends_chain(length: usize, deepest_first: bool) -> String {
    let mut text = String::from("services:\n");
    let order: Vec<usize> = if deepest_first { (0..length).rev().collect() } else { (0..length).collect() };
    for i in order {
        if i + 1 == length {
            writeln!(text, "  s{i}: {{image: busybox}}").unwrap();
        } else {
            writeln!(text, "  s{i}: {{extends: s{}, environment: [V{i}=1]}}", i + 1).unwrap();
        }
    }
    text
}

fn port_ranges(services: usize, ranges: usize) -> String {
    let mut text = String::from("services:\n");
    for s in 0..services {
        writeln!(text, "  s{s}:\n    image: busybox\n    ports:").unwrap();
        for r in 0..ranges {
            let start = 1000 + (r * 100) % 60000;
            writeln!(text, "    - {start}-{}", start + 99).unwrap();
        }
    }
    text
}

fn cases() -> Vec<Case> {
    let mut cases = vec![
        Case { name: "extends chain of 4,000, deepest first", spec: compose(extends_chain(4000, true)), translates: false },
        Case { name: "extends chain of 4,000, in order", spec: compose(extends_chain(4000, false)), translates: false },
        Case { name: "extends chain of 499, deepest first", spec: compose(extends_chain(499, true)), translates: false },
        Case { name: "extends chain of 499, in order", spec: compose(extends_chain(499, false)), translates: false },
        Case { name: "extends chain of 30", spec: compose(extends_chain(30, false)), translates: true },
        Case { name: "15 services x 654 port ranges of 100", spec: compose(port_ranges(15, 654)), translates: false },
        Case { name: "400 port ranges of 100", spec: compose(port_ranges(1, 400)), translates: false },
        Case { name: "one service with 2 ranges of 100 ports", spec: compose(port_ranges(1, 2)), translates: true },
    ];
    let mut tiny = String::from("services:\n");
    for i in 0..11_500 {
        writeln!(tiny, "  s{i}: {{image: b}}").unwrap();
    }
    cases.push(Case { name: "11,500 tiny services", spec: compose(tiny), translates: false });
    let mut many = String::from("services:\n");
    for i in 0..500 {
        writeln!(many, "  s{i}: {{image: busybox, ports: ['{}:80'], environment: [A=1], depends_on: [s{}]}}", 10000 + i, (i + 1) % 500).unwrap();
    }
    let many = many.replace("depends_on: [s0]", "depends_on: []");
    cases.push(Case { name: "500 services (the limit)", spec: compose(many), translates: true });
    let mut invalid = String::from("services:\n  web:\n    image: busybox\n    ports:\n");
    while invalid.len() < 120 * 1024 {
        invalid.push_str("    - not-a-port-at-all-but-long-enough-to-hurt\n");
    }
    cases.push(Case { name: "120 KB of invalid entries", spec: compose(invalid), translates: false });
    let mut flat = String::from("services:\n  web:\n    image: busybox\n    environment:\n");
    let mut i = 0;
    while flat.len() < 247 * 1024 {
        writeln!(flat, "      KEY_{i}: value").unwrap();
        i += 1;
    }
    cases.push(Case { name: "a flat mapping of 247 KB", spec: compose(flat), translates: true });
    let files: BTreeMap<String, String> = (0..15_000).map(|i| (format!("conf/f{i}.txt"), "x".to_string())).collect();
    let project = ComposeStackSpec {
        files,
        directories: vec!["conf".into()],
        ..compose("services:\n  web:\n    image: busybox\n    volumes: ['./conf:/conf', './conf/f1.txt:/f1', './conf/f2.txt:/f2']\n".into())
    };
    cases.push(Case { name: "a project of 15,000 packed files", spec: project, translates: true });
    let mut aliases = String::from("services:\n  web:\n    image: busybox\n    networks:\n      default:\n        aliases:\n");
    for i in 0..3000 {
        writeln!(aliases, "        - alias-{i}").unwrap();
    }
    cases.push(Case { name: "3,000 network aliases (one Service each)", spec: compose(aliases), translates: false });
    let big = "x".repeat(200 * 1024);
    let mut interpolation = String::from("services:\n  web:\n    image: busybox\n    environment:\n");
    for i in 0..30 {
        writeln!(interpolation, "      V{i}: ${{BIG}}").unwrap();
    }
    let interpolation = ComposeStackSpec { variables: BTreeMap::from([("BIG".to_string(), big)]), ..compose(interpolation) };
    cases.push(Case { name: "a 200 KB variable used 30 times", spec: interpolation, translates: false });
    let mut wide_base = String::from("x-env: &env\n");
    for i in 0..400 {
        writeln!(wide_base, "  K{i}: v").unwrap();
    }
    wide_base.push_str("services:\n  base:\n    image: busybox\n    environment: *env\n");
    for i in 0..490 {
        writeln!(wide_base, "  s{i}: {{extends: base}}").unwrap();
    }
    cases.push(Case { name: "490 services extending a base of 400 variables", spec: compose(wide_base), translates: false });
    cases
}

struct Outcome {
    took: Duration,
    peak: usize,
    answer: usize,
    translated: bool,
    first_error: String,
}

fn run(case: Case) -> Outcome {
    let before = support::counting::start();
    let started = Instant::now();
    let spec = case.spec;
    let result = std::thread::Builder::new()
        .stack_size(STACK)
        .spawn(move || {
            let result = compose_operator::pipeline::translate("hostile", "tenant", &spec, &Policy::default());
            match result {
                Ok(translation) => (true, translation.objects().count(), String::new()),
                Err(errors) => {
                    let text = errors.to_string();
                    (false, text.len(), text.lines().next().unwrap_or_default().to_string())
                }
            }
        })
        .expect("spawn")
        .join();
    let took = started.elapsed();
    let (translated, answer, first_error) = result.expect("the translation panicked or overflowed its stack");
    Outcome { took, peak: support::counting::peak_since(before), answer, translated, first_error }
}

#[test]
fn hostile_inputs_are_translated_or_refused_within_bounds() {
    let mut table = String::from("| input | outcome | time | peak memory |\n|---|---|---|---|\n");
    let mut failures = Vec::new();
    for case in cases() {
        let (name, translates) = (case.name, case.translates);
        let outcome = run(case);
        let verdict = if outcome.translated { format!("translated ({} objects)", outcome.answer) } else { format!("refused: {}", outcome.first_error) };
        support::record::record("hostile", name, &verdict);
        writeln!(table, "| {name} | {verdict} | {:.2} s | {:.1} MiB |", outcome.took.as_secs_f64(), outcome.peak as f64 / 1048576.0).unwrap();
        if outcome.translated != translates {
            failures.push(format!("{name}: expected {}, got {verdict}", if translates { "a translation" } else { "a refusal" }));
        }
        if outcome.took > TIME {
            failures.push(format!("{name}: took {:?}", outcome.took));
        }
        if outcome.peak > MEMORY {
            failures.push(format!("{name}: peaked at {} MiB", outcome.peak >> 20));
        }
        if !outcome.translated && outcome.answer > ANSWER {
            failures.push(format!("{name}: the refusal is {} bytes long", outcome.answer));
        }
    }
    println!("{table}");
    assert!(failures.is_empty(), "{}\n{table}", failures.join("\n"));
}
