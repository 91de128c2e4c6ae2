//! Parse + translate cost, small vs a generated 200-service stack, and the budgeted
//! parser beside serde_yaml on the same text (the price of safety, as a ratio).

use std::hint::black_box;

use compose_operator::api::ComposeStackSpec;
use compose_operator::compose::yaml;
use compose_operator::policy::Policy;
use criterion::{Criterion, criterion_group, criterion_main};

const SMALL: &str = include_str!("../examples/compose/microblog.yaml");

fn large_stack(services: usize) -> String {
    let mut text = String::from("services:\n");
    for index in 0..services {
        let depends = if index > 0 { format!("    depends_on: [svc-{}]\n", index - 1) } else { String::new() };
        text.push_str(&format!(
            "  svc-{index}:\n    image: registry.example/app-{index}:1.0\n    command: serve --port 80{index}\n    ports: [\"{}:80\"]\n    environment:\n      INDEX: \"{index}\"\n      PEER: svc-{}\n    deploy:\n      replicas: 2\n      resources:\n        limits: {{cpus: \"0.5\", memory: 256M}}\n    healthcheck:\n      test: [\"CMD\", \"true\"]\n      interval: 10s\n{depends}",
            20000 + index,
            (index + 1) % services,
        ));
    }
    text
}

fn spec(compose: &str) -> ComposeStackSpec {
    let variables = [("SECRET_KEY", "k"), ("MYSQL_PASSWORD", "p")].into_iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    ComposeStackSpec { compose: compose.to_string(), variables, ..Default::default() }
}

fn benchmarks(c: &mut Criterion) {
    let large = large_stack(200);
    let policy = Policy::default();
    let mut translate = c.benchmark_group("parse+translate");
    for (name, text) in [("microblog (3 services)", SMALL), ("generated (200 services)", large.as_str())] {
        let spec = spec(text);
        translate.bench_function(name, |b| b.iter(|| compose_operator::pipeline::translate("bench", "default", black_box(&spec), &policy).unwrap()));
    }
    translate.finish();

    let mut parse = c.benchmark_group("parse only, 200 services");
    parse.bench_function("serde-saphyr, budgeted (ours)", |b| b.iter(|| yaml::parse(black_box(&large), 0).unwrap()));
    parse.bench_function("serde_yaml (unbudgeted)", |b| b.iter(|| serde_yaml::from_str::<serde_yaml::Value>(black_box(&large)).unwrap()));
    parse.finish();
}

criterion_group!(benches, benchmarks);
criterion_main!(benches);
