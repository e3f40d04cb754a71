//! The generated references stay true: `schema/stack.schema.json` and `docs/kinds/` match what
//! rprov generates from the kinds' schemas (`RPROV_BLESS=1` rewrites them), the JSON Schema accepts
//! every shipped stack and rejects the corpus files whose error is a schema error.

use std::path::{Path, PathBuf};

use rprov::spec::Catalog;
use rprov::stack::{Source, yaml_to_json};

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn in_sync(path: &Path, generated: &str) {
    if std::env::var_os("RPROV_BLESS").is_some() {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, generated).unwrap();
    }
    let on_disk = std::fs::read_to_string(path).unwrap_or_default();
    assert!(on_disk == generated, "{} is out of date: run `RPROV_BLESS=1 cargo test --test schema`", path.display());
}

fn schema_text() -> String {
    serde_json::to_string_pretty(&rprov::docs::json_schema(&rprov::kinds::KINDS)).unwrap() + "\n"
}

#[test]
fn checked_in_schema_matches_the_kinds() {
    in_sync(&repo().join("schema/stack.schema.json"), &schema_text());
}

#[test]
fn checked_in_kind_docs_match_explain() {
    for k in rprov::kinds::KINDS.specs() {
        let doc = rprov::docs::explain(k);
        // A value template of AWS's (`#{protocol}`) is no value a stack file can hold.
        assert!(!doc.contains("#{"), "docs/kinds/{}.md holds a template placeholder:\n{doc}", k.schema().name);
        in_sync(&repo().join(format!("docs/kinds/{}.md", k.schema().name)), &doc);
    }
    in_sync(&repo().join("docs/kinds/README.md"), &rprov::docs::kinds_index(&rprov::kinds::KINDS));
}

#[test]
fn explain_command_prints_the_same_text() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_rprov")).args(["explain", "subnet"]).output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(String::from_utf8(out.stdout).unwrap(), rprov::docs::explain(rprov::kinds::kind("subnet").unwrap()));
    let bad = std::process::Command::new(env!("CARGO_BIN_EXE_rprov")).args(["explain", "subnett"]).output().unwrap();
    assert_eq!(bad.status.code(), Some(1));
    let schema = std::process::Command::new(env!("CARGO_BIN_EXE_rprov")).arg("schema").output().unwrap();
    assert_eq!(String::from_utf8(schema.stdout).unwrap(), schema_text());
}

fn yaml_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = e.path();
        if p.is_dir() {
            yaml_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "yaml" || x == "yml")
            && !p.strip_prefix(repo()).is_ok_and(|rel| rel.starts_with("examples/ci"))
        {
            out.push(p);
        }
    }
}

fn validator() -> jsonschema::Validator {
    jsonschema::validator_for(&rprov::docs::json_schema(&rprov::kinds::KINDS))
        .expect("the generated schema is a valid JSON Schema")
}

fn as_json(path: &Path) -> serde_json::Value {
    let text = std::fs::read_to_string(path).unwrap();
    yaml_to_json(&Source::new(path.display().to_string(), text)).unwrap_or_else(|d| panic!("{}: {d:?}", path.display()))
}

#[test]
fn schema_accepts_every_shipped_stack() {
    let mut files = Vec::new();
    yaml_files(&repo().join("stacks"), &mut files);
    yaml_files(&repo().join("examples"), &mut files);
    assert!(!files.is_empty());
    let v = validator();
    for f in files {
        let errors: Vec<String> =
            v.iter_errors(&as_json(&f)).map(|e| format!("{} at {}", e, e.instance_path())).collect();
        assert!(errors.is_empty(), "{}: {errors:#?}", f.display());
    }
}

#[test]
fn schema_rejects_the_corpus_files_that_are_schema_errors() {
    // Errors an editor can show while typing: shape, names, types, enums, the AWS model's
    // ranges, lengths, patterns and list sizes. (CIDR arithmetic, references and cycles need
    // rprov itself.)
    let schema_errors = [
        "08-top-level-list.yaml",
        "09-unknown-top-level-key.yaml",
        "10-missing-stack.yaml",
        "11-missing-region.yaml",
        "12-stack-name-uppercase.yaml",
        "13-stack-name-underscore.yaml",
        "14-stack-name-trailing-dash.yaml",
        "16-invalid-region.yaml",
        "17-unknown-type.yaml",
        "18-missing-type.yaml",
        "19-unknown-property.yaml",
        "20-did-you-mean-property.yaml",
        "21-string-for-bool.yaml",
        "22-list-for-string.yaml",
        "23-mapping-for-list.yaml",
        "26-missing-required-property.yaml",
        "47-unknown-param-key.yaml",
        "50-resource-id-uppercase.yaml",
        "56-enum-nat-connectivity.yaml",
        "57-enum-rule-protocol.yaml",
        "58-nested-unknown-key.yaml",
        "63-resources-not-mapping.yaml",
        "64-resource-not-mapping.yaml",
        // The AWS model's limits (schema/aws-constraints.json), carried by the schema. Not 92:
        // `permissions: 789` is a YAML number, which rprov reads as the text "789" but a JSON
        // Schema pattern does not look at; nor 99: a param's value is known to rprov alone.
        "76-target-group-port-out-of-range.yaml",
        "77-health-check-interval-out-of-range.yaml",
        "78-health-check-timeout-too-short.yaml",
        "79-health-check-threshold-too-low.yaml",
        "80-health-check-path-empty.yaml",
        "81-listener-port-zero.yaml",
        "82-redirect-path-too-long.yaml",
        "83-redirect-host-empty.yaml",
        "84-alarm-name-too-long.yaml",
        "85-alarm-too-many-actions.yaml",
        "86-alarm-period-zero.yaml",
        "87-alarm-namespace-colon.yaml",
        "88-log-group-name-pattern.yaml",
        "89-role-name-too-long.yaml",
        "90-role-name-pattern.yaml",
        "91-policy-arn-too-short.yaml",
        "93-access-point-uid-negative.yaml",
        "94-secondary-gids-too-many.yaml",
        "95-mount-target-subnet-id-pattern.yaml",
        "96-file-system-throughput-below-minimum.yaml",
        "97-dns-ttl-negative.yaml",
        "98-hosted-zone-comment-too-long.yaml",
    ];
    let v = validator();
    for f in schema_errors {
        let json = as_json(&repo().join("tests/invalid").join(f));
        assert!(!v.is_valid(&json), "{f} passes the JSON Schema");
    }
}
