//! Snapshot tests: every row of the mapping has a small compose file under
//! tests/fixtures/convert, every error class one under tests/fixtures/invalid.

mod support;

use std::path::Path;

fn stack_name(path: &Path) -> String {
    path.file_stem().unwrap().to_string_lossy().into_owned()
}

#[test]
fn converts_each_mapping_fixture() {
    insta::glob!("fixtures/convert/*.yaml", |path| {
        let compose = std::fs::read_to_string(path).unwrap();
        let (spec, policy) = support::spec_and_policy(&compose);
        let output = support::render("demo", &spec, &policy);
        support::record::record("fixtures-convert", &stack_name(path), &output);
        assert!(!output.starts_with("refused"), "{} was refused:\n{output}", stack_name(path));
        insta::assert_snapshot!(output);
    });
}

#[test]
fn refuses_each_invalid_fixture_with_a_path() {
    insta::glob!("fixtures/invalid/*.yaml", |path| {
        let compose = std::fs::read_to_string(path).unwrap();
        let (spec, policy) = support::spec_and_policy(&compose);
        let output = support::render("demo", &spec, &policy);
        support::record::record("fixtures-invalid", &stack_name(path), &output);
        assert!(output.starts_with("refused"), "{} was accepted:\n{output}", stack_name(path));
        insta::assert_snapshot!(output);
    });
}
