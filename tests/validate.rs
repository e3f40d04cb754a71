//! The stack loader, driven by data.
//!
//! Every file in `tests/invalid/` is an invalid stack whose header says what the loader (for a
//! dependency cycle: the graph) must report: one `# expect: LINE:COL: SUBSTRING` line per diagnostic (LINE:COL 1-based, as rprov
//! prints them; SUBSTRING found in the message or in the help). Each expect line must match a
//! distinct diagnostic and the file may produce no other. The same files go through the real
//! binary (`rprov validate`), which must exit 1 with the located diagnostic and never panic.
//! Then a few valid stacks and params, and a mutation fuzzer: bad input is data, not a crash.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use rprov::graph::Graph;
use rprov::stack::{self, Diagnostic, Expr, ParamOverrides, Source};
use rprov::value::Value;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn corpus_dir() -> PathBuf {
    root().join("tests").join("invalid")
}

// ---- the corpus -----------------------------------------------------------------------------

/// One test per corpus file, and the list `corpus_is_complete` compares with the directory.
macro_rules! corpus {
    ($($test:ident: $file:literal,)*) => {
        const CORPUS: &[&str] = &[$($file),*];

        mod invalid {
            $(
                #[test]
                fn $test() {
                    super::check($file);
                }
            )*
        }
    };
}

corpus! {
    c01_yaml_bad_indent: "01-yaml-bad-indent.yaml",
    c02_yaml_unclosed_quote: "02-yaml-unclosed-quote.yaml",
    c03_yaml_unclosed_bracket: "03-yaml-unclosed-bracket.yaml",
    c04_yaml_tab_indent: "04-yaml-tab-indent.yaml",
    c05_duplicate_top_level_key: "05-duplicate-top-level-key.yaml",
    c06_duplicate_property: "06-duplicate-property.yaml",
    c07_empty: "07-empty.yaml",
    c08_top_level_list: "08-top-level-list.yaml",
    c09_unknown_top_level_key: "09-unknown-top-level-key.yaml",
    c10_missing_stack: "10-missing-stack.yaml",
    c11_missing_region: "11-missing-region.yaml",
    c12_stack_name_uppercase: "12-stack-name-uppercase.yaml",
    c13_stack_name_underscore: "13-stack-name-underscore.yaml",
    c14_stack_name_trailing_dash: "14-stack-name-trailing-dash.yaml",
    c15_stack_name_too_long: "15-stack-name-too-long.yaml",
    c16_invalid_region: "16-invalid-region.yaml",
    c17_unknown_type: "17-unknown-type.yaml",
    c18_missing_type: "18-missing-type.yaml",
    c19_unknown_property: "19-unknown-property.yaml",
    c20_did_you_mean_property: "20-did-you-mean-property.yaml",
    c21_string_for_bool: "21-string-for-bool.yaml",
    c22_list_for_string: "22-list-for-string.yaml",
    c23_mapping_for_list: "23-mapping-for-list.yaml",
    c24_number_for_string_list: "24-number-for-string-list.yaml",
    c25_string_for_integer: "25-string-for-integer.yaml",
    c26_missing_required_property: "26-missing-required-property.yaml",
    c27_cidr_prefix_too_long: "27-cidr-prefix-too-long.yaml",
    c28_cidr_bad_address: "28-cidr-bad-address.yaml",
    c29_cidr_host_bits: "29-cidr-host-bits.yaml",
    c30_vpc_cidr_too_large: "30-vpc-cidr-too-large.yaml",
    c31_subnet_outside_vpc: "31-subnet-outside-vpc.yaml",
    c32_overlapping_subnets: "32-overlapping-subnets.yaml",
    c33_reference_unknown_resource: "33-reference-unknown-resource.yaml",
    c34_reference_unknown_attribute: "34-reference-unknown-attribute.yaml",
    c35_reference_without_attribute: "35-reference-without-attribute.yaml",
    c36_reference_unclosed: "36-reference-unclosed.yaml",
    c37_self_reference: "37-self-reference.yaml",
    c38_cycle_two: "38-cycle-two.yaml",
    c39_cycle_three: "39-cycle-three.yaml",
    c40_cycle_with_side_loop: "40-cycle-with-side-loop.yaml",
    c41_cycle_through_references: "41-cycle-through-references.yaml",
    c42_depends_on_unknown: "42-depends-on-unknown.yaml",
    c43_depends_on_self: "43-depends-on-self.yaml",
    c44_unknown_param: "44-unknown-param.yaml",
    c45_param_without_value: "45-param-without-value.yaml",
    c46_param_default_wrong_type: "46-param-default-wrong-type.yaml",
    c47_unknown_param_key: "47-unknown-param-key.yaml",
    c48_reserved_tag_key: "48-reserved-tag-key.yaml",
    c49_reserved_tag_key_on_resource: "49-reserved-tag-key-on-resource.yaml",
    c50_resource_id_uppercase: "50-resource-id-uppercase.yaml",
    c51_resource_id_params: "51-resource-id-params.yaml",
    c52_yaml_anchors_billion_laughs: "52-yaml-anchors-billion-laughs.yaml",
    c53_yaml_alias_of_scalar: "53-yaml-alias-of-scalar.yaml",
    c54_yaml_custom_tag: "54-yaml-custom-tag.yaml",
    c55_two_documents: "55-two-documents.yaml",
    c56_enum_nat_connectivity: "56-enum-nat-connectivity.yaml",
    c57_enum_rule_protocol: "57-enum-rule-protocol.yaml",
    c58_nested_unknown_key: "58-nested-unknown-key.yaml",
    c59_ignore_drift_unknown_property: "59-ignore-drift-unknown-property.yaml",
    c60_deep_nesting: "60-deep-nesting.yaml",
    c61_non_string_mapping_key: "61-non-string-mapping-key.yaml",
    c62_stack_name_not_string: "62-stack-name-not-string.yaml",
    c63_resources_not_mapping: "63-resources-not-mapping.yaml",
    c64_resource_not_mapping: "64-resource-not-mapping.yaml",
    c65_output_reference_unknown: "65-output-reference-unknown.yaml",
    c66_reference_in_block_scalar: "66-reference-in-block-scalar.yaml",
    c67_tag_value_not_string: "67-tag-value-not-string.yaml",
    c68_param_reference_wrong_type: "68-param-reference-wrong-type.yaml",
    c69_reference_after_escape: "69-reference-after-escape.yaml",
    c70_route_without_target: "70-route-without-target.yaml",
    c71_route_with_two_targets: "71-route-with-two-targets.yaml",
    c72_route_duplicate_destination: "72-route-duplicate-destination.yaml",
    c73_rule_port_out_of_range: "73-rule-port-out-of-range.yaml",
    c74_rule_without_source: "74-rule-without-source.yaml",
    c75_nat_public_without_address: "75-nat-public-without-address.yaml",
    c76_target_group_port_out_of_range: "76-target-group-port-out-of-range.yaml",
    c77_health_check_interval_out_of_range: "77-health-check-interval-out-of-range.yaml",
    c78_health_check_timeout_too_short: "78-health-check-timeout-too-short.yaml",
    c79_health_check_threshold_too_low: "79-health-check-threshold-too-low.yaml",
    c80_health_check_path_empty: "80-health-check-path-empty.yaml",
    c81_listener_port_zero: "81-listener-port-zero.yaml",
    c82_redirect_path_too_long: "82-redirect-path-too-long.yaml",
    c83_redirect_host_empty: "83-redirect-host-empty.yaml",
    c84_alarm_name_too_long: "84-alarm-name-too-long.yaml",
    c85_alarm_too_many_actions: "85-alarm-too-many-actions.yaml",
    c86_alarm_period_zero: "86-alarm-period-zero.yaml",
    c87_alarm_namespace_colon: "87-alarm-namespace-colon.yaml",
    c88_log_group_name_pattern: "88-log-group-name-pattern.yaml",
    c89_role_name_too_long: "89-role-name-too-long.yaml",
    c90_role_name_pattern: "90-role-name-pattern.yaml",
    c91_policy_arn_too_short: "91-policy-arn-too-short.yaml",
    c92_access_point_permissions_pattern: "92-access-point-permissions-pattern.yaml",
    c93_access_point_uid_negative: "93-access-point-uid-negative.yaml",
    c94_secondary_gids_too_many: "94-secondary-gids-too-many.yaml",
    c95_mount_target_subnet_id_pattern: "95-mount-target-subnet-id-pattern.yaml",
    c96_file_system_throughput_below_minimum: "96-file-system-throughput-below-minimum.yaml",
    c97_dns_ttl_negative: "97-dns-ttl-negative.yaml",
    c98_hosted_zone_comment_too_long: "98-hosted-zone-comment-too-long.yaml",
    c99_param_port_out_of_range: "99-param-port-out-of-range.yaml",
    c140_fargate_memory_for_cpu: "140-fargate-memory-for-cpu.yaml",
    c141_fargate_cpu_300: "141-fargate-cpu-300.yaml",
    c142_log_retention_8: "142-log-retention-8.yaml",
    c143_autoscaling_min_above_max: "143-autoscaling-min-above-max.yaml",
    c144_container_duplicate_name: "144-container-duplicate-name.yaml",
    c145_no_essential_container: "145-no-essential-container.yaml",
    c146_container_memory_above_task: "146-container-memory-above-task.yaml",
    c147_containers_cpu_above_task: "147-containers-cpu-above-task.yaml",
    c148_health_check_out_of_range: "148-health-check-out-of-range.yaml",
    c149_mount_point_unknown_volume: "149-mount-point-unknown-volume.yaml",
    c150_execution_role_for_logs: "150-execution-role-for-logs.yaml",
    c151_efs_access_point_without_transit_encryption: "151-efs-access-point-without-transit-encryption.yaml",
    c152_access_point_of_other_file_system: "152-access-point-of-other-file-system.yaml",
    c153_service_container_not_in_task: "153-service-container-not-in-task.yaml",
    c154_service_container_port_not_mapped: "154-service-container-port-not-mapped.yaml",
    c155_service_target_group_instance: "155-service-target-group-instance.yaml",
    c156_service_target_group_without_listener: "156-service-target-group-without-listener.yaml",
    c157_service_subnets_two_vpcs: "157-service-subnets-two-vpcs.yaml",
    c158_service_security_group_other_vpc: "158-service-security-group-other-vpc.yaml",
    c159_ecs_cluster_name_characters: "159-ecs-cluster-name-characters.yaml",
    c160_autoscaling_cron_five_fields: "160-autoscaling-cron-five-fields.yaml",
    c161_autoscaling_duplicate_action_name: "161-autoscaling-duplicate-action-name.yaml",
    c162_autoscaling_service_other_cluster: "162-autoscaling-service-other-cluster.yaml",
    c163_file_system_kms_key_unencrypted: "163-file-system-kms-key-unencrypted.yaml",
    c164_file_system_provisioned_without_throughput: "164-file-system-provisioned-without-throughput.yaml",
    c165_mount_targets_same_zone: "165-mount-targets-same-zone.yaml",
    c166_mount_targets_two_vpcs: "166-mount-targets-two-vpcs.yaml",
    c167_log_group_aws_prefix: "167-log-group-aws-prefix.yaml",
    c168_alarm_period_45: "168-alarm-period-45.yaml",
    c169_alarm_evaluation_over_a_day: "169-alarm-evaluation-over-a-day.yaml",
    c170_iam_role_without_trust: "170-iam-role-without-trust.yaml",
    c171_iam_inline_policy_with_principal: "171-iam-inline-policy-with-principal.yaml",
    c172_iam_effect_lowercase: "172-iam-effect-lowercase.yaml",
    c173_iam_trust_policy_with_resource: "173-iam-trust-policy-with-resource.yaml",
    c174_ssm_name_reserved_prefix: "174-ssm-name-reserved-prefix.yaml",
    c175_ssm_name_without_leading_slash: "175-ssm-name-without-leading-slash.yaml",
    c176_ssm_name_too_deep: "176-ssm-name-too-deep.yaml",
    c177_duplicate_log_group_names: "177-duplicate-log-group-names.yaml",
    c178_service_name_twice_in_cluster: "178-service-name-twice-in-cluster.yaml",
    c179_ssm_value_nests_parameter: "179-ssm-value-nests-parameter.yaml",
    c100_subnet_zone_of_another_region: "100-subnet-zone-of-another-region.yaml",
    c101_unknown_region: "101-unknown-region.yaml",
    c102_load_balancer_name_too_long: "102-load-balancer-name-too-long.yaml",
    c103_route_tables_share_a_subnet: "103-route-tables-share-a-subnet.yaml",
    c104_vpc_dns_hostnames_without_support: "104-vpc-dns-hostnames-without-support.yaml",
    c105_second_internet_gateway: "105-second-internet-gateway.yaml",
    c106_nat_private_with_address: "106-nat-private-with-address.yaml",
    c107_nat_gateways_share_an_address: "107-nat-gateways-share-an-address.yaml",
    c108_route_to_gateway_of_another_vpc: "108-route-to-gateway-of-another-vpc.yaml",
    c109_route_inside_the_vpc_range: "109-route-inside-the-vpc-range.yaml",
    c110_route_table_subnet_of_another_vpc: "110-route-table-subnet-of-another-vpc.yaml",
    c111_reference_of_the_wrong_kind: "111-reference-of-the-wrong-kind.yaml",
    c112_security_group_name_sg_prefix: "112-security-group-name-sg-prefix.yaml",
    c113_security_group_description_charset: "113-security-group-description-charset.yaml",
    c114_security_groups_named_alike: "114-security-groups-named-alike.yaml",
    c115_rule_port_range_backwards: "115-rule-port-range-backwards.yaml",
    c116_load_balancer_in_one_zone: "116-load-balancer-in-one-zone.yaml",
    c117_load_balancer_two_subnets_one_zone: "117-load-balancer-two-subnets-one-zone.yaml",
    c118_load_balancer_subnets_of_two_vpcs: "118-load-balancer-subnets-of-two-vpcs.yaml",
    c119_load_balancer_security_group_of_another_vpc: "119-load-balancer-security-group-of-another-vpc.yaml",
    c120_target_group_name_charset: "120-target-group-name-charset.yaml",
    c121_health_check_timeout_not_below_interval: "121-health-check-timeout-not-below-interval.yaml",
    c122_health_check_path_on_tcp: "122-health-check-path-on-tcp.yaml",
    c123_health_check_tcp_on_http_group: "123-health-check-tcp-on-http-group.yaml",
    c124_health_check_matcher_range: "124-health-check-matcher-range.yaml",
    c125_deregistration_delay_range: "125-deregistration-delay-range.yaml",
    c126_listener_https_without_certificate: "126-listener-https-without-certificate.yaml",
    c127_listener_http_with_certificate: "127-listener-http-with-certificate.yaml",
    c128_listener_protocol_of_the_load_balancer_type: "128-listener-protocol-of-the-load-balancer-type.yaml",
    c129_listener_target_group_of_another_vpc: "129-listener-target-group-of-another-vpc.yaml",
    c130_listener_target_group_protocol: "130-listener-target-group-protocol.yaml",
    c131_listener_duplicate_port: "131-listener-duplicate-port.yaml",
    c132_certificate_name_outside_its_zone: "132-certificate-name-outside-its-zone.yaml",
    c133_certificate_domain_too_long: "133-certificate-domain-too-long.yaml",
    c134_hosted_zone_name_label_too_long: "134-hosted-zone-name-label-too-long.yaml",
    c135_dns_record_outside_its_zone: "135-dns-record-outside-its-zone.yaml",
    c136_dns_record_alias_with_ttl: "136-dns-record-alias-with-ttl.yaml",
    c137_dns_record_cname_at_apex: "137-dns-record-cname-at-apex.yaml",
    c138_dns_record_alias_and_values: "138-dns-record-alias-and-values.yaml",
    c139_load_balancers_named_alike: "139-load-balancers-named-alike.yaml",
}

/// One `# expect: LINE:COL: SUBSTRING` header line.
#[derive(Debug)]
struct Expect {
    line: usize,
    col: usize,
    text: String,
}

impl Expect {
    fn matches(&self, d: &Diagnostic) -> bool {
        d.span.line == self.line
            && d.span.col == self.col
            && (d.message.contains(&self.text) || d.help.as_deref().is_some_and(|h| h.contains(&self.text)))
    }
}

impl std::fmt::Display for Expect {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}: {}", self.line, self.col, self.text)
    }
}

/// The expect lines of the file's leading comment block.
fn expectations(file: &str, text: &str) -> Vec<Expect> {
    let mut out = Vec::new();
    for line in text.lines() {
        if !line.starts_with('#') {
            break;
        }
        let Some(rest) = line.strip_prefix("# expect:") else { continue };
        let parsed = (|| {
            let (line, rest) = rest.trim_start().split_once(':')?;
            let (col, text) = rest.split_once(':')?;
            let text = text.trim().to_owned();
            let e = Expect { line: line.parse().ok()?, col: col.parse().ok()?, text };
            (!e.text.is_empty()).then_some(e)
        })();
        out.push(
            parsed.unwrap_or_else(|| {
                panic!("{file}: malformed header `{line}`: expected `# expect: LINE:COL: SUBSTRING`")
            }),
        );
    }
    assert!(!out.is_empty(), "{file}: no `# expect: LINE:COL: SUBSTRING` header line");
    out
}

fn show(d: &Diagnostic) -> String {
    let mut s = format!("{}:{}: {}", d.span.line, d.span.col, d.message);
    if let Some(h) = &d.help {
        s += &format!(" (help: {h})");
    }
    s
}

/// Pairs each expectation with a distinct diagnostic (a maximum bipartite matching, so the
/// order of the header lines does not matter). Returns, per expectation, the diagnostic's index.
fn pair(expects: &[Expect], diags: &[Diagnostic]) -> Vec<Option<usize>> {
    fn augment(
        e: usize,
        expects: &[Expect],
        diags: &[Diagnostic],
        seen: &mut [bool],
        owner: &mut [Option<usize>],
    ) -> bool {
        for (d, diag) in diags.iter().enumerate() {
            if seen[d] || !expects[e].matches(diag) {
                continue;
            }
            seen[d] = true;
            if owner[d].is_none_or(|other| augment(other, expects, diags, seen, owner)) {
                owner[d] = Some(e);
                return true;
            }
        }
        false
    }
    let mut owner: Vec<Option<usize>> = vec![None; diags.len()];
    for e in 0..expects.len() {
        augment(e, expects, diags, &mut vec![false; diags.len()], &mut owner);
    }
    let mut out = vec![None; expects.len()];
    for (d, e) in owner.iter().enumerate() {
        if let Some(e) = e {
            out[*e] = Some(d);
        }
    }
    out
}

/// Loads one corpus file and compares its diagnostics with the file's header.
fn check(file: &str) {
    let path = corpus_dir().join(file);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{file}: {e}"));
    let expects = expectations(file, &text);
    // Dependency cycles are the graph's to report, as every command does after loading.
    let diags = match stack::load(&rprov::kinds::KINDS, &path, &Default::default()).map(|s| (Graph::build(&s).err(), s))
    {
        Ok((Some(cycles), _)) => cycles,
        Ok((None, s)) => panic!("{file}: loaded as a valid stack `{}`; expected:\n  {}", s.name, join(&expects)),
        Err((_, diags)) => diags,
    };
    let paired = pair(&expects, &diags);
    let missing: Vec<&Expect> = expects.iter().zip(&paired).filter(|(_, p)| p.is_none()).map(|(e, _)| e).collect();
    let extra: Vec<&Diagnostic> =
        diags.iter().enumerate().filter(|(i, _)| !paired.contains(&Some(*i))).map(|(_, d)| d).collect();
    let mut problems = Vec::new();
    for e in &missing {
        problems.push(format!("expected, not reported: {e}"));
    }
    for d in &extra {
        problems.push(format!("reported, not expected: {}", show(d)));
    }
    if diags.len() != expects.len() {
        problems.push(format!("{} diagnostics for {} expect lines", diags.len(), expects.len()));
    }
    let name = path.display().to_string();
    for d in &diags {
        if d.file != name {
            problems.push(format!("diagnostic names file `{}`, not `{name}`", d.file));
        }
    }
    assert!(
        problems.is_empty(),
        "{file}:\n  {}\nall diagnostics:\n  {}",
        problems.join("\n  "),
        diags.iter().map(show).collect::<Vec<_>>().join("\n  ")
    );
}

fn join(expects: &[Expect]) -> String {
    expects.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n  ")
}

#[test]
fn corpus_is_complete() {
    let mut on_disk: Vec<String> = std::fs::read_dir(corpus_dir())
        .expect("tests/invalid")
        .map(|e| e.expect("directory entry").file_name().to_string_lossy().into_owned())
        .collect();
    on_disk.sort();
    let listed: Vec<String> = CORPUS.iter().map(|s| s.to_string()).collect();
    let unlisted: Vec<&String> = on_disk.iter().filter(|f| !listed.contains(f)).collect();
    let gone: Vec<&String> = listed.iter().filter(|f| !on_disk.contains(f)).collect();
    assert!(unlisted.is_empty(), "files in tests/invalid/ without a test (add them to `corpus!`): {unlisted:?}");
    assert!(gone.is_empty(), "files listed in `corpus!` but not in tests/invalid/: {gone:?}");
    assert!(on_disk.iter().all(|f| f.ends_with(".yaml")), "only .yaml files belong in tests/invalid/: {on_disk:?}");
    assert!(CORPUS.len() >= 30, "the corpus has only {} files", CORPUS.len());
}

// ---- the real binary ------------------------------------------------------------------------

/// `rprov` with an AWS endpoint nothing listens on: any attempt to reach AWS fails visibly.
fn rprov(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_rprov"));
    cmd.args(args)
        .current_dir(root())
        .env("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .env("NO_COLOR", "1")
        .env_remove("AWS_PROFILE")
        .env_remove("AWS_REGION")
        .env_remove("RPROV_STATE");
    for (k, _) in std::env::vars() {
        if k.starts_with("RPROV_PARAM_") {
            cmd.env_remove(k);
        }
    }
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().expect("run rprov")
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn binary_rejects_every_corpus_file() {
    let mut failures = Vec::new();
    for file in CORPUS {
        let rel = format!("tests/invalid/{file}");
        let text = std::fs::read_to_string(root().join(&rel)).expect("corpus file");
        let first = &expectations(file, &text)[0];
        let out = rprov(&["validate", &rel], &[]);
        let err = stderr(&out);
        let at = format!("{rel}:{}:{}", first.line, first.col);
        let mut why = Vec::new();
        if out.status.code() != Some(1) {
            why.push(format!("exit status {:?}, expected 1", out.status.code()));
        }
        if !err.contains(&at) {
            why.push(format!("stderr does not name `{at}`"));
        }
        if err.contains("panicked") {
            why.push("stderr shows a panic".to_owned());
        }
        if !err.contains("nothing was sent to AWS") {
            why.push("stderr does not say that nothing was sent to AWS".to_owned());
        }
        if !why.is_empty() {
            failures.push(format!("{file}: {}\n--- stderr:\n{err}", why.join("; ")));
        }
    }
    assert!(failures.is_empty(), "{} of {} files:\n{}", failures.len(), CORPUS.len(), failures.join("\n"));
}

// ---- valid stacks and params ----------------------------------------------------------------

const NETWORK: &str = "stacks/network.yaml";

fn load_network(overrides: &[(&str, &str)]) -> stack::Stack {
    let overrides: ParamOverrides = overrides.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    match stack::load(&rprov::kinds::KINDS, &root().join(NETWORK), &overrides) {
        Ok(s) => s,
        Err((_, diags)) => {
            panic!("{NETWORK} does not load:\n  {}", diags.iter().map(show).collect::<Vec<_>>().join("\n  "))
        }
    }
}

fn prop(s: &stack::Stack, id: &str, name: &str) -> Expr {
    s.resources[id].props.get(name).unwrap_or_else(|| panic!("`{id}` has no `{name}`")).clone()
}

fn lit(s: &str) -> Expr {
    Expr::Lit(Value::str(s))
}

#[test]
fn network_stack_is_valid() {
    let s = load_network(&[]);
    assert_eq!(s.name, "network");
    assert_eq!(prop(&s, "vpc", "cidr"), lit("10.0.0.0/16"));
    assert_eq!(prop(&s, "public_a", "az"), lit("us-east-1a"));

    let out = rprov(&["validate", NETWORK], &[]);
    assert_eq!(out.status.code(), Some(0), "stderr:\n{}", stderr(&out));
    assert!(String::from_utf8_lossy(&out.stdout).contains("is valid"));
}

/// Every stack the repository ships (stacks/, examples/) loads: no rule refuses them.
#[test]
fn every_shipped_stack_is_valid() {
    fn yaml_files(dir: &Path, out: &mut Vec<PathBuf>) {
        for e in std::fs::read_dir(dir).expect("directory").flatten() {
            let p = e.path();
            if p.is_dir() && !p.ends_with("ci") {
                yaml_files(&p, out);
            } else if p.extension().is_some_and(|x| x == "yaml") {
                out.push(p);
            }
        }
    }
    let mut files = Vec::new();
    yaml_files(&root().join("stacks"), &mut files);
    yaml_files(&root().join("examples"), &mut files);
    assert!(files.len() >= 5, "{files:?}");
    // Params a shipped stack has no default for (what only its user knows), as its header
    // comment shows them given.
    let given = |f: &Path| -> ParamOverrides {
        let portal = f.parent().is_some_and(|d| d.ends_with("examples/portal"));
        let pairs: &[(&str, &str)] = match f.file_name().and_then(|n| n.to_str()) {
            Some("network.yaml") if portal => &[(
                "bastion_public_key",
                "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOEHwmVXgMOiDA15NBvOau33Ox19BHta3IgYGbDpn+IF ops@example",
            )],
            Some("app.yaml") if portal => &[("account_id", "123456789012")],
            _ => &[],
        };
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    };
    for f in files {
        // Secret params are given at run time; `validate` loads without them.
        let inputs = stack::Inputs { params: given(&f), secrets_optional: true, ..Default::default() };
        if let Err((_, diags)) = stack::load_file(&rprov::kinds::KINDS, &f, &inputs) {
            panic!("{}:\n  {}", f.display(), diags.iter().map(show).collect::<Vec<_>>().join("\n  "));
        }
    }
}

#[test]
fn param_override_is_applied() {
    let s = load_network(&[("az_a", "us-east-1c")]);
    assert_eq!(prop(&s, "public_a", "az"), lit("us-east-1c"));
    assert_eq!(prop(&s, "public_b", "az"), lit("us-east-1b"));

    // A VPC range that no longer holds the subnets: the override reached the CIDR checks.
    let text = std::fs::read_to_string(root().join(NETWORK)).expect("network stack");
    let overrides = ParamOverrides::from([("cidr".to_owned(), "10.1.0.0/16".to_owned())]);
    let Err((_, diags)) = stack::load_str(&rprov::kinds::KINDS, Source::new(NETWORK, text), &overrides) else {
        panic!("10.1.0.0/16 holds no subnet")
    };
    assert!(
        !diags.is_empty() && diags.iter().all(|d| d.message.contains("is not inside the CIDR 10.1.0.0/16")),
        "{diags:#?}"
    );

    let out = rprov(&["validate", NETWORK, "--param", "cidr=10.1.0.0/16"], &[]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("is not inside the CIDR 10.1.0.0/16"), "{}", stderr(&out));

    let out = rprov(&["validate", "--param", "cidr=10.0.0.0/16", NETWORK], &[]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
}

#[test]
fn param_override_for_a_small_stack() {
    let text = "stack: demo\nregion: us-east-1\nparams:\n  cidr: { default: 10.0.0.0/16 }\n  dns: false\n\
                resources:\n  vpc: { type: vpc, cidr: \"${params.cidr}\", enable_dns_hostnames: \"${params.dns}\" }\n";
    let overrides =
        ParamOverrides::from([("cidr".to_owned(), "10.1.0.0/16".to_owned()), ("dns".to_owned(), "true".to_owned())]);
    let s = stack::load_str(&rprov::kinds::KINDS, Source::new("small.yaml", text), &overrides).expect("valid");
    assert_eq!(s.params["cidr"].value, Value::str("10.1.0.0/16"));
    assert_eq!(prop(&s, "vpc", "cidr"), lit("10.1.0.0/16"));
    assert_eq!(prop(&s, "vpc", "enable_dns_hostnames"), Expr::Lit(Value::Bool(true)));
}

#[test]
fn unknown_param_override_is_an_error() {
    let text = std::fs::read_to_string(root().join(NETWORK)).expect("network stack");
    let overrides = ParamOverrides::from([("nope".to_owned(), "1".to_owned())]);
    let Err((_, diags)) = stack::load_str(&rprov::kinds::KINDS, Source::new(NETWORK, text), &overrides) else {
        panic!("`nope` accepted")
    };
    assert_eq!(diags.len(), 1, "{diags:#?}");
    assert!(diags[0].message.contains("`nope`"), "{diags:#?}");

    let out = rprov(&["validate", NETWORK, "--param", "nope=1"], &[]);
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(err.contains("unknown param `nope`"), "{err}");
    assert!(!err.contains("panicked"), "{err}");
}

#[test]
fn param_from_the_environment() {
    let out = rprov(&["validate", NETWORK], &[("RPROV_PARAM_az_a", "us-east-1c")]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));

    // Proof that the variable is read: a VPC range that does not hold the subnets is rejected.
    let out = rprov(&["validate", NETWORK], &[("RPROV_PARAM_cidr", "10.1.0.0/16")]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("10.1.0.0/16"), "{}", stderr(&out));

    // `--param` wins over the environment.
    let out = rprov(&["validate", NETWORK, "--param", "cidr=10.0.0.0/16"], &[("RPROV_PARAM_cidr", "10.1.0.0/16")]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
}

/// A param's value is data: `${...}` inside it is not read as a reference a second time (which
/// would also locate diagnostics with offsets into the value, past the end of the file).
#[test]
fn param_values_are_not_templates() {
    let text = "stack: demo\nregion: us-east-1\nparams:\n  name: x\n\
                resources:\n  vpc: { type: vpc, cidr: 10.0.0.0/16, tags: { Name: \"${params.name}\" } }\n";
    let overrides = ParamOverrides::from([("name".to_owned(), "${igw.id}".to_owned())]);
    let s = match stack::load_str(&rprov::kinds::KINDS, Source::new("literal.yaml", text), &overrides) {
        Ok(s) => s,
        Err((_, d)) => panic!(
            "the value of `name` was read as a reference:\n  {}",
            d.iter().map(show).collect::<Vec<_>>().join("\n  ")
        ),
    };
    let tags = Expr::Map([("Name".to_owned(), lit("${igw.id}"))].into());
    assert_eq!(prop(&s, "vpc", "tags"), tags);
}

#[test]
fn param_override_of_the_wrong_type() {
    let text = "stack: demo\nregion: us-east-1\nparams:\n  count: { type: number, default: 2 }\n  \
                token: { type: number, secret: true, default: 1 }\nresources:\n  vpc: { type: vpc, cidr: 10.0.0.0/16 }\n";
    let overrides =
        ParamOverrides::from([("count".to_owned(), "two".to_owned()), ("token".to_owned(), "hunter2".to_owned())]);
    let Err((_, diags)) = stack::load_str(&rprov::kinds::KINDS, Source::new("typed.yaml", text), &overrides) else {
        panic!("accepted")
    };
    assert_eq!(diags.len(), 2, "{diags:#?}");
    assert!(diags[0].message.contains("param `count` is a number; the value given (`two`) is not"), "{diags:#?}");
    assert_eq!((diags[0].span.line, diags[0].span.col), (4, 3));
    assert!(diags[1].message.contains("param `token`"), "{diags:#?}");
    assert!(diags.iter().all(|d| !format!("{d:?}").contains("hunter2")), "a secret value is printed: {diags:#?}");
}

// ---- the AWS model's limits (schema/aws-constraints.json) ----------------------------------

fn load_text(text: &str, overrides: &ParamOverrides) -> Result<stack::Stack, Vec<Diagnostic>> {
    stack::load_str(&rprov::kinds::KINDS, Source::new("limits.yaml", text), overrides).map_err(|(_, d)| d)
}

/// Every limit's edge is taken: rprov is never stricter than AWS.
#[test]
fn aws_limits_take_their_edges() {
    let arns: Vec<String> = (1..=5).map(|i| format!("arn:aws:sns:us-east-1:123456789012:ops-{i}")).collect();
    let text = format!(
        "stack: demo\nregion: us-east-1\nresources:\n  \
         vpc: {{ type: vpc, cidr: 10.0.0.0/16 }}\n  \
         low: {{ type: target_group, vpc: \"${{vpc.id}}\", port: 1, \
                 health_check: {{ interval: 5, timeout: 2, healthy_threshold: 2, unhealthy_threshold: 2, path: /a }} }}\n  \
         high: {{ type: target_group, vpc: \"${{vpc.id}}\", port: 65535, \
                  health_check: {{ interval: 300, timeout: 120, healthy_threshold: 10, unhealthy_threshold: 10 }} }}\n  \
         alarm: {{ type: alarm, name: {name}, namespace: App, metric: Errors, threshold: 0, period: 10, alarm_actions: [{arns}] }}\n  \
         role: {{ type: iam_role, name: {role}, trust: [ecs-tasks.amazonaws.com] }}\n  \
         files: {{ type: file_system, throughput_mode: provisioned, provisioned_throughput_mibps: 1 }}\n  \
         ap: {{ type: access_point, file_system: \"${{files.id}}\", \
                posix_user: {{ uid: 0, gid: 4294967295, secondary_gids: [{gids}] }}, \
                root_directory: {{ path: /{path}, creation_info: {{ owner_uid: 0, owner_gid: 0, permissions: \"0755\" }} }} }}\n",
        name = "a".repeat(255),
        arns = arns.join(", "),
        role = "r".repeat(64),
        gids = (1..=16).map(|g| g.to_string()).collect::<Vec<_>>().join(", "),
        path = "p".repeat(99),
    );
    if let Err(d) = load_text(&text, &Default::default()) {
        panic!("an edge value refused:\n  {}", d.iter().map(show).collect::<Vec<_>>().join("\n  "));
    }
}

/// Every breach in one run, each at its value, the member and the limit named.
#[test]
fn aws_limits_report_every_breach_at_its_value() {
    let text = "stack: demo\nregion: us-east-1\nparams:\n  interval: 301\nresources:\n  \
                vpc: { type: vpc, cidr: 10.0.0.0/16 }\n  \
                web:\n    type: target_group\n    vpc: ${vpc.id}\n    port: 0\n    \
                health_check: { interval: \"${params.interval}\", timeout: 121 }\n  \
                role: { type: iam_role, name: \"a b\", managed_policy_arns: [arn:aws:iam::aws:policy/ReadOnlyAccess, short] }\n";
    let d = load_text(text, &Default::default()).err().expect("accepted");
    let got: Vec<String> = d.iter().map(|d| format!("{}:{}: {}", d.span.line, d.span.col, d.message)).collect();
    assert_eq!(
        got,
        [
            "10:11: port 0: AWS: CreateTargetGroup Port must be 1-65535",
            "11:31: interval 301: AWS: CreateTargetGroup HealthCheckIntervalSeconds must be 5-300",
            "11:62: timeout 121: AWS: CreateTargetGroup HealthCheckTimeoutSeconds must be 2-120",
            "12:33: name `a b`: AWS: CreateRole RoleName must match the pattern `[\\w+=,.@-]+`",
            "12:102: managed_policy_arns (5 characters): AWS: AttachRolePolicy PolicyArn must be 20-2048 characters long",
        ],
        "{d:#?}"
    );
    assert!(d.iter().all(|d| d.resource.is_some()), "{d:#?}");
}

/// A secret param's value is never quoted, not even cut short.
#[test]
fn aws_limits_never_quote_a_secret() {
    let secret = format!("hunter2 {}", "x".repeat(80));
    let text = "stack: demo\nregion: us-east-1\nparams:\n  role: { secret: true }\nresources:\n  \
                role: { type: iam_role, name: \"${params.role}\", trust: [ecs-tasks.amazonaws.com] }\n";
    let d = load_text(text, &ParamOverrides::from([("role".to_owned(), secret)])).err().expect("accepted");
    assert_eq!(d.len(), 2, "{d:#?}");
    assert!(d.iter().any(|d| d.message.contains("RoleName must match the pattern")), "{d:#?}");
    assert!(d.iter().all(|d| !format!("{d:?}").contains("hunter2")), "a secret value is printed: {d:#?}");
}

// ---- input that is not even a stack file ----------------------------------------------------

fn diags_of(text: &str) -> Vec<Diagnostic> {
    match stack::load_str(&rprov::kinds::KINDS, Source::new("inline.yaml", text), &Default::default()) {
        Ok(_) => panic!("accepted: {text:?}"),
        Err((_, d)) => d,
    }
}

#[test]
fn truly_empty_and_blank_files() {
    for text in ["", "\n", "   \n\n", "# only a comment"] {
        let d = diags_of(text);
        assert_eq!(d.len(), 1, "{text:?}: {d:#?}");
        assert!(d[0].message.contains("empty"), "{text:?}: {d:#?}");
        assert_eq!((d[0].span.line, d[0].span.col), (1, 1));
    }
    // A document that is only `null` is not a mapping.
    let d = diags_of("~\n");
    assert!(d[0].message.contains("must be a mapping, found null"), "{d:#?}");
}

#[test]
fn oversized_input_is_refused_up_front() {
    let mut text = String::from("stack: demo\nregion: us-east-1\nresources: {}\n# ");
    text.push_str(&"x".repeat(33 << 20));
    let d = diags_of(&text);
    assert_eq!(d.len(), 1);
    assert!(d[0].message.contains("larger than 32 MiB"), "{d:#?}");
}

#[test]
fn unreadable_files() {
    let dir = tempfile::tempdir().expect("temp dir");
    let bad = dir.path().join("latin1.yaml");
    std::fs::write(&bad, b"stack: demo\nregion: us-east-1\n# caf\xe9\nresources: {}\n").expect("write");
    let Err((_, d)) = stack::load(&rprov::kinds::KINDS, &bad, &Default::default()) else {
        panic!("non-UTF-8 accepted")
    };
    assert_eq!(d.len(), 1);
    assert!(d[0].message.contains("not UTF-8"), "{d:#?}");

    let missing = dir.path().join("missing.yaml");
    let Err((_, d)) = stack::load(&rprov::kinds::KINDS, &missing, &Default::default()) else {
        panic!("a missing file loaded")
    };
    assert!(d[0].message.contains("cannot read stack file"), "{d:#?}");

    let out = rprov(&["validate", &bad.display().to_string()], &[]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("not UTF-8") && !stderr(&out).contains("panicked"), "{}", stderr(&out));
}

// ---- robustness -----------------------------------------------------------------------------

/// xorshift64: deterministic, no dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        if n == 0 { 0 } else { (self.next() % n as u64) as usize }
    }
}

/// Bits of YAML and of rprov's syntax, inserted at random places.
#[rustfmt::skip]
const TOKENS: &[&str] = &[
    "${", "}", "${vpc.", "${params.", "$${", ":", ": ", "[", "]", "{", "}", "- ", "\t", "\0", "\n", "  ", "#", "\"",
    "'", "&a ", "*a", "!x ", "!!str ", "---\n", "...\n", "? ", "|\n", ">-\n", "é", "🦀", "\u{feff}", "\r\n",
    "0.0.0.0/0", "10.0.0.0/33", "depends_on: [", "type: ", "null", "-1", "99999999999999999999", "1e400", "${a.b.c}",
    "${ }", "${.}",
];

fn lines_of(text: &[u8]) -> Vec<Vec<u8>> {
    text.split_inclusive(|b| *b == b'\n').map(<[u8]>::to_vec).collect()
}

fn mutate(rng: &mut Rng, text: &mut Vec<u8>) {
    let len = text.len();
    let at = rng.below(len + 1);
    match rng.below(11) {
        0 => {
            let n = 1 + rng.below(8);
            text.drain(at..(at + n).min(len));
        }
        1..=3 => {
            let mut lines = lines_of(text);
            if lines.is_empty() {
                return;
            }
            let (i, j) = (rng.below(lines.len()), rng.below(lines.len()));
            match rng.below(3) {
                0 => {
                    let l = lines[i].clone();
                    lines.insert(j, l);
                }
                1 => lines.swap(i, j),
                _ => {
                    lines.remove(i);
                }
            }
            *text = lines.concat();
        }
        4..=5 => {
            let t = TOKENS[rng.below(TOKENS.len())];
            text.splice(at..at, t.bytes());
        }
        6 => {
            let piece: &[u8] = [&b"x"[..], b"${vpc.id}", b"[", b"{a: ", b"- "][rng.below(5)];
            let n = 100 + rng.below(5000);
            let long: Vec<u8> = piece.iter().copied().cycle().take(n * piece.len()).collect();
            text.splice(at..at, long);
        }
        7 => {
            if len > 1 {
                let j = rng.below(len);
                text.swap(at.min(len - 1), j);
            }
        }
        8 => text.truncate(at),
        9 => {
            if let Some(b) = text.get_mut(at) {
                if b.is_ascii_digit() {
                    *b = b'0' + rng.below(10) as u8;
                } else {
                    *b = b"0123456789:-[]{}$ \n"[rng.below(19)];
                }
            }
        }
        _ => {
            let n = rng.below(len.saturating_sub(at) + 1).min(64);
            let copy = text[at..at + n].to_vec();
            text.splice(at..at, copy);
        }
    }
}

#[test]
fn mutations_of_the_network_stack_never_panic() {
    let base = std::fs::read(root().join(NETWORK)).expect("network stack");
    // RPROV_FUZZ_ITERATIONS / RPROV_FUZZ_SEED for a longer hunt; the defaults keep it quick.
    let runs: usize = std::env::var("RPROV_FUZZ_ITERATIONS").ok().and_then(|v| v.parse().ok()).unwrap_or(2000);
    let seed: u64 = std::env::var("RPROV_FUZZ_SEED").ok().and_then(|v| v.parse().ok()).unwrap_or(0x9E37_79B9_7F4A_7C15);
    let mut rng = Rng(seed.max(1));
    let mut panics = Vec::new();
    let mut rejected = 0;
    for i in 0..runs {
        let mut bytes = base.clone();
        for _ in 0..1 + rng.below(4) {
            mutate(&mut rng, &mut bytes);
        }
        let text = String::from_utf8_lossy(&bytes).into_owned();
        let outcome = catch_unwind(AssertUnwindSafe(|| {
            let result =
                stack::load_str(&rprov::kinds::KINDS, Source::new("fuzz.yaml", text.clone()), &Default::default())
                    .and_then(|s| match Graph::build(&s) {
                        Ok(_) => Ok(s),
                        Err(d) => Err((Some(s.source), d)),
                    });
            // What the CLI does with the result must not panic either.
            if let Err((src, diags)) = &result {
                assert!(!diags.is_empty(), "rejected without a diagnostic");
                for d in diags {
                    assert!(d.span.line >= 1 && d.span.col >= 1, "position 0 in {d:?}");
                    assert!(d.span.offset + d.span.len <= text.len(), "span past the end of the text: {d:?}");
                    if let Some(src) = src {
                        let _ = d.render(src);
                    }
                }
            }
            result.is_err()
        }));
        match outcome {
            Ok(err) => rejected += usize::from(err),
            Err(payload) => {
                let msg = payload
                    .downcast_ref::<String>()
                    .cloned()
                    .or_else(|| payload.downcast_ref::<&str>().map(|s| s.to_string()))
                    .unwrap_or_default();
                panics.push(format!("mutation {i}: {msg}\ninput: {text:?}"));
            }
        }
    }
    assert!(panics.is_empty(), "{} of {runs} inputs panicked (seed {seed}); the first:\n{}", panics.len(), panics[0]);
    // The mutations must actually exercise the error paths.
    assert!(rejected > runs / 2, "only {rejected} of {runs} mutations were rejected");
}

/// Independent of the corpus: a path that names the file is what every diagnostic carries.
#[test]
fn diagnostics_name_the_file_given() {
    let path = Path::new("tests").join("invalid").join("16-invalid-region.yaml");
    let Err((_, d)) = stack::load(&rprov::kinds::KINDS, &root().join(&path), &Default::default()) else {
        panic!("accepted")
    };
    assert!(d[0].location().ends_with(&format!("{}:3:9", path.display())), "{}", d[0].location());
}

// ---- imports and param files ------------------------------------------------------------------

/// `rprov` in a scratch directory of its own (imports read `.rprov/` there).
fn rprov_in(dir: &Path, args: &[&str]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_rprov"));
    cmd.args(args)
        .current_dir(dir)
        .env("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("NO_COLOR", "1")
        .env_remove("RPROV_STATE");
    for (k, _) in std::env::vars() {
        if k.starts_with("RPROV_PARAM_") {
            cmd.env_remove(k);
        }
    }
    cmd.output().expect("run rprov")
}

const CONSUMER: &str = "stack: app
region: us-east-1
imports:
  net: { stack: network }
resources:
  sg: { type: security_group, vpc: \"${net.outputs.vpc_id}\", description: app }
  routes: { type: route_table, vpc: \"${net.outputs.vpc_id}\", subnets: \"${net.outputs.subnet_idz}\" }
";

#[test]
fn validate_checks_imported_output_names_against_the_exporting_state() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("app.yaml"), CONSUMER).unwrap();
    // No state for `network` yet: the names cannot be checked, which is not an error.
    let out = rprov_in(dir.path(), &["validate", "app.yaml"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(stderr(&out).contains("not checked"), "{}", stderr(&out));

    // The network's state declares `vpc_id` and `subnet_ids`.
    std::fs::create_dir_all(dir.path().join(".rprov")).unwrap();
    let state = serde_json::json!({
        "format_version": 1, "lineage": "l", "serial": 3, "stack": "network", "region": "us-east-1",
        "rprov_version": "0", "resources": {},
        "outputs": { "vpc_id": "vpc-1", "subnet_ids": ["subnet-1", "subnet-2"] }
    });
    std::fs::write(dir.path().join(".rprov/network.json"), state.to_string()).unwrap();
    let out = rprov_in(dir.path(), &["validate", "app.yaml"]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains(
            "app.yaml:7:72: resource `routes`: stack `network` (imported as `net`) declares no output `subnet_idz`"
        ),
        "{err}"
    );
    assert!(err.contains("did you mean `subnet_ids`?"), "{err}");
    assert!(!err.contains("vpc_id`"), "a declared output was rejected: {err}");

    // Fixed, it validates; an import named like a resource is refused, located.
    std::fs::write(dir.path().join("app.yaml"), CONSUMER.replace("subnet_idz", "subnet_ids")).unwrap();
    let out = rprov_in(dir.path(), &["validate", "app.yaml"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    std::fs::write(dir.path().join("app.yaml"), CONSUMER.replace("  net: {", "  sg: {")).unwrap();
    let out = rprov_in(dir.path(), &["validate", "app.yaml"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("app.yaml:4:3: import `sg` has the name of a resource"), "{}", stderr(&out));
}

#[test]
fn imported_values_are_type_checked_where_they_are_used() {
    let mut inputs = stack::Inputs::default();
    inputs.imports.insert(
        "net".into(),
        stack::Imported::Read {
            location: ".rprov/network.json".into(),
            outputs: [
                ("vpc_id".to_owned(), Value::str("vpc-1")),
                ("subnet_ids".to_owned(), Value::List(vec![Value::str("subnet-1"), Value::str("subnet-2")])),
            ]
            .into(),
        },
    );
    let s = stack::load_with(
        &rprov::kinds::KINDS,
        Source::new("app.yaml", CONSUMER.replace("subnet_idz", "subnet_ids")),
        &inputs,
    )
    .unwrap_or_else(|(_, d)| panic!("{d:#?}"));
    // Known before the run: literals, no graph edge.
    assert_eq!(prop(&s, "sg", "vpc"), lit("vpc-1"));
    assert_eq!(prop(&s, "routes", "subnets"), Expr::List(vec![lit("subnet-1"), lit("subnet-2")]));
    assert!(s.resources["routes"].dependencies().is_empty());
    assert_eq!(s.imports["net"].used["vpc_id"], Value::str("vpc-1"));

    // A list where a string is expected: located at the reference.
    let text = CONSUMER.replace("subnet_idz", "subnet_ids");
    let text =
        text.replace("vpc: \"${net.outputs.vpc_id}\", description", "vpc: \"${net.outputs.subnet_ids}\", description");
    let Err((_, d)) = stack::load_with(&rprov::kinds::KINDS, Source::new("app.yaml", text), &inputs) else {
        panic!("a list accepted as a VPC id")
    };
    assert_eq!(d.len(), 1, "{d:#?}");
    assert!(d[0].message.contains("expected a string, found a list"), "{d:#?}");
    assert_eq!((d[0].span.line, d[0].span.col), (6, 36));

    // No state: located at the import, once.
    inputs.imports.insert("net".into(), stack::Imported::Missing { location: ".rprov/network.json".into() });
    let Err((_, d)) = stack::load_with(&rprov::kinds::KINDS, Source::new("app.yaml", CONSUMER), &inputs) else {
        panic!("accepted")
    };
    assert_eq!(d.len(), 1, "{d:#?}");
    assert!(d[0].message.contains("has no state at .rprov/network.json"), "{d:#?}");
    assert_eq!((d[0].span.line, d[0].span.col), (4, 17));
}

const PARAMS: &str = "stack: demo
region: us-east-1
params:
  cidr: { default: 10.0.0.0/16 }
  count: { type: number, default: 1 }
  zones: { type: list, default: [us-east-1a] }
resources:
  vpc: { type: vpc, cidr: \"${params.cidr}\" }
";

fn param_file_case(file: &str, env: &[(&str, &str)], flags: &[&str]) -> (Option<i32>, String, String) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("s.yaml"), PARAMS).unwrap();
    std::fs::write(dir.path().join("p.yaml"), file).unwrap();
    let mut args = vec!["graph", "s.yaml", "--param-file", "p.yaml"];
    args.extend(flags);
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_rprov"));
    cmd.args(&args).current_dir(dir.path()).env("NO_COLOR", "1");
    for (k, _) in std::env::vars() {
        if k.starts_with("RPROV_PARAM_") {
            cmd.env_remove(k);
        }
    }
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().unwrap();
    (out.status.code(), String::from_utf8_lossy(&out.stdout).into_owned(), stderr(&out))
}

#[test]
fn param_file_precedence_types_and_unknown_names() {
    let load = |file: &str, params: &[(&str, &str)]| {
        let inputs = stack::Inputs {
            params: params.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
            param_file: Some(Source::new("p.yaml", file)),
            ..Default::default()
        };
        stack::load_with(&rprov::kinds::KINDS, Source::new("s.yaml", PARAMS), &inputs)
    };
    // The file beats the default; the command line (flags and environment) beats the file.
    let s = load("cidr: 10.1.0.0/16\ncount: 3\nzones: [a, b]\n", &[]).unwrap_or_else(|(_, d)| panic!("{d:#?}"));
    assert_eq!(s.params["cidr"].value, Value::str("10.1.0.0/16"));
    assert_eq!(s.params["count"].value, Value::Int(3));
    assert_eq!(s.params["zones"].value, Value::List(vec![Value::str("a"), Value::str("b")]));
    let s = load("cidr: 10.1.0.0/16\n", &[("cidr", "10.2.0.0/16")]).unwrap_or_else(|(_, d)| panic!("{d:#?}"));
    assert_eq!(s.params["cidr"].value, Value::str("10.2.0.0/16"));
    // JSON is accepted.
    let s = load("{\"count\": 5}", &[]).unwrap_or_else(|(_, d)| panic!("{d:#?}"));
    assert_eq!(s.params["count"].value, Value::Int(5));

    // Wrong type and unknown name: located in the param file.
    let Err((_, d)) = load("count: many\ncidrr: 10.1.0.0/16\n", &[]) else { panic!("accepted") };
    let shown: Vec<String> = d.iter().map(|d| d.to_string()).collect();
    assert_eq!(d.len(), 2, "{shown:#?}");
    assert!(shown[0].starts_with("p.yaml:1:8: param `count` must be a number, found a string"), "{shown:#?}");
    assert!(shown[1].starts_with("p.yaml:2:1: unknown param `cidrr` in the param file"), "{shown:#?}");
    assert_eq!(d[1].help.as_deref(), Some("did you mean `cidr`?"));
    let Err((_, d)) = load("[1, 2]", &[]) else { panic!("accepted") };
    assert!(d[0].to_string().starts_with("p.yaml:1:1: a param file must be a mapping"), "{d:#?}");

    // Through the binary: --param > RPROV_PARAM_ > --param-file > default, errors located.
    let (code, _, err) = param_file_case("cidr: 10.0.0.0/33\n", &[], &[]);
    assert_eq!(code, Some(1));
    assert!(err.contains("invalid CIDR block `10.0.0.0/33`"), "the file's value reached the CIDR check: {err}");
    let (code, _, err) = param_file_case("cidr: 10.0.0.0/33\n", &[("RPROV_PARAM_cidr", "10.0.0.0/16")], &[]);
    assert_eq!(code, Some(0), "the environment wins over the file: {err}");
    let (code, _, err) = param_file_case(
        "cidr: 10.0.0.0/16\n",
        &[("RPROV_PARAM_cidr", "10.0.0.0/33")],
        &["--param", "cidr=10.0.0.0/16"],
    );
    assert_eq!(code, Some(0), "--param wins over the environment: {err}");
    let (code, _, err) = param_file_case("nope: 1\n", &[], &[]);
    assert_eq!(code, Some(1));
    assert!(err.contains("p.yaml:1:1: unknown param `nope` in the param file"), "{err}");
    assert!(!err.contains("panicked"), "{err}");
}

/// An object property left out takes its default, `{}`, with its own fields' defaults in it:
/// the same as writing `{}` (else the live values AWS reports would be a diff on every plan).
#[test]
fn an_omitted_object_carries_its_fields_defaults() {
    let text = "stack: pool\nregion: us-east-1\nresources:\n  proxy:\n    type: db_proxy\n    engine_family: POSTGRESQL\n    auth: [{ secret: arn:aws:secretsmanager:us-east-1:123456789012:secret:db-AbCdEf }]\n    role_arn: arn:aws:iam::123456789012:role/proxy\n    subnets: [subnet-1, subnet-2]\n";
    let s =
        stack::load_str(&rprov::kinds::KINDS, Source::new("pool.yaml", text), &ParamOverrides::new()).expect("valid");
    let omitted = prop(&s, "proxy", "connection_pool");
    let written = {
        let text = format!("{text}    connection_pool: {{}}\n");
        let s = stack::load_str(&rprov::kinds::KINDS, Source::new("pool.yaml", &text), &ParamOverrides::new())
            .expect("valid");
        prop(&s, "proxy", "connection_pool")
    };
    let literal = |e: &Expr| -> Value {
        match e {
            Expr::Lit(v) => v.clone(),
            Expr::Map(m) => Value::Map(
                m.iter()
                    .map(|(k, v)| match v {
                        Expr::Lit(v) => (k.clone(), v.clone()),
                        other => panic!("{other:?}"),
                    })
                    .collect(),
            ),
            other => panic!("{other:?}"),
        }
    };
    assert_eq!(literal(&omitted), literal(&written));
    let Value::Map(pool) = literal(&omitted) else { panic!("{omitted:?}") };
    assert_eq!(pool.get("max_connections_percent"), Some(&Value::Int(100)));
    assert_eq!(pool.get("connection_borrow_timeout"), Some(&Value::Int(120)));
}
