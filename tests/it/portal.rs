//! Seed 003's serverless portal end to end: `examples/portal/` (network stack, then the app stack
//! on its outputs) applied from nothing on the strict local AWS; each piece checked with its
//! service's own API (the function's code hash computed here from the directory, by a separate
//! implementation of the package format; route -> integration -> function; the permissions; the
//! domain mapping and its alias record; the NACLs; the S3 endpoint in the private route table;
//! the bastion with IMDSv2 and its Elastic IP); re-planned empty; one source file changed and
//! planned as exactly that function's code hash; destroyed, waiting for Lambda's network
//! interfaces with progress, to nothing.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use localaws::{Config, LocalAws};

use crate::support::{Ctx, read_json, repo, tagged_and_alive};

const ACCOUNT: &str = "123456789012";
const KEY: &str = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOEHwmVXgMOiDA15NBvOau33Ox19BHta3IgYGbDpn+IF ops@example";
/// How long the local AWS keeps a deleted function's network interfaces (AWS: up to tens of
/// minutes).
const ENI_HOLD: Duration = Duration::from_secs(3);

/// The package format of `function`, written out again from its description (entries sorted by
/// path, 1980-01-01 timestamps, modes 0644/0755, no directory entries, extra fields or
/// comments, deflate level 6): the base64 SHA-256 of the zip of a directory, which is what
/// Lambda reports as `CodeSha256`. Only the compressor is shared with rprov (a different
/// deflate implementation gives other bytes for the same level).
fn package_hash(dir: &Path) -> String {
    use sha2::Digest;
    use std::io::Write;
    use std::os::unix::fs::PermissionsExt;
    fn walk(root: &Path, dir: &Path, out: &mut Vec<(String, PathBuf)>) {
        for e in std::fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                walk(root, &p, out);
            } else {
                out.push((p.strip_prefix(root).unwrap().to_str().unwrap().replace('\\', "/"), p));
            }
        }
    }
    let mut files = Vec::new();
    walk(dir, dir, &mut files);
    files.sort();
    let (mut body, mut index) = (Vec::<u8>::new(), Vec::<u8>::new());
    for (name, path) in &files {
        let data = std::fs::read(path).unwrap();
        let mut z = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::new(6));
        z.write_all(&data).unwrap();
        let packed = z.finish().unwrap();
        let mut crc = flate2::Crc::new();
        crc.update(&data);
        let exec = std::fs::metadata(path).unwrap().permissions().mode() & 0o111 != 0;
        let mode: u32 = if exec { 0o100755 } else { 0o100644 };
        // version 2.0, no flags, deflate, 00:00 on 1980-01-01, crc, sizes, name length.
        let common = [
            &20u16.to_le_bytes()[..],
            &0u16.to_le_bytes(),
            &8u16.to_le_bytes(),
            &0u16.to_le_bytes(),
            &33u16.to_le_bytes(),
            &crc.sum().to_le_bytes(),
            &(packed.len() as u32).to_le_bytes(),
            &(data.len() as u32).to_le_bytes(),
            &(name.len() as u16).to_le_bytes(),
        ]
        .concat();
        index.extend(
            [&b"PK\x01\x02"[..], &(0x0314u16).to_le_bytes(), &common, &[0; 8], &(mode << 16).to_le_bytes()].concat(),
        );
        index.extend(((body.len()) as u32).to_le_bytes());
        index.extend(name.as_bytes());
        body.extend([&b"PK\x03\x04"[..], &common, &[0, 0], name.as_bytes(), &packed].concat());
    }
    let n = (files.len() as u16).to_le_bytes();
    let end = [
        &b"PK\x05\x06"[..],
        &[0; 4],
        &n,
        &n,
        &(index.len() as u32).to_le_bytes(),
        &(body.len() as u32).to_le_bytes(),
        &[0, 0],
    ]
    .concat();
    let zip = [body, index, end].concat();
    aws_smithy_types::base64::encode(sha2::Sha256::digest(&zip))
}

/// `examples/portal` copied into the test's directory (so a source file can be changed),
/// without the functions' own tests and Python caches.
fn copy_portal(to: &Path) -> PathBuf {
    fn copy(from: &Path, to: &Path) {
        std::fs::create_dir_all(to).unwrap();
        for e in std::fs::read_dir(from).unwrap() {
            let e = e.unwrap();
            let name = e.file_name();
            if name == "__pycache__" || name == "tests" || name == ".pytest_cache" {
                continue;
            }
            if e.file_type().unwrap().is_dir() {
                copy(&e.path(), &to.join(&name));
            } else {
                std::fs::copy(e.path(), to.join(&name)).unwrap();
            }
        }
    }
    let dest = to.join("portal");
    copy(&repo().join("examples/portal"), &dest);
    dest
}

#[tokio::test(flavor = "multi_thread")]
async fn portal_applies_checks_out_replans_empty_plans_one_code_change_and_leaves_nothing() {
    let aws = LocalAws::start();
    aws.configure(&Config::new().lambda_eni_hold(ENI_HOLD));
    let cx = Ctx::with(aws);
    let dir = copy_portal(cx.dir.path());
    let net = dir.join("network.yaml").display().to_string();
    let app = dir.join("app.yaml").display().to_string();
    let key = format!("bastion_public_key={KEY}");
    let account = format!("account_id={ACCOUNT}");
    let net_args = |cmd: &'static str| vec![cmd, net.as_str(), "--param", key.as_str()];
    let app_args = |cmd: &'static str| vec![cmd, app.as_str(), "--param", account.as_str()];
    fn with<'a>(mut v: Vec<&'a str>, more: &[&'a str]) -> Vec<&'a str> {
        v.extend_from_slice(more);
        v
    }

    cx.rprov(&with(net_args("apply"), &["--yes"])).expect(0);
    let applied = cx.rprov(&with(app_args("apply"), &["--yes"]));
    applied.expect(0);

    let conf = cx.sdk().await;
    let net_state = read_json(&cx.state_path("portal-network"));
    let app_state = read_json(&cx.state_path("portal-app"));
    let attr = |state: &serde_json::Value, id: &str, a: &str| {
        state["resources"][id]["attributes"][a].as_str().unwrap_or_else(|| panic!("{id}.{a} recorded")).to_owned()
    };

    // The functions: the code hash Lambda computed is the one of the directory's files.
    let lambda = aws_sdk_lambda::Client::new(&conf);
    for (id, code) in [("upload_url", "functions/upload_url"), ("verify_upload", "functions/verify_upload")] {
        let f = lambda.get_function().function_name(attr(&app_state, id, "name")).send().await.unwrap();
        let config = f.configuration().unwrap();
        assert_eq!(config.code_sha256(), Some(package_hash(&dir.join(code)).as_str()), "{id}: CodeSha256");
        let subnets = config.vpc_config().map(|v| v.subnet_ids().to_vec()).unwrap_or_default();
        let private = [attr(&net_state, "private_a", "id"), attr(&net_state, "private_b", "id")];
        assert_eq!(subnets.len(), 2, "{id}: {subnets:?}");
        assert!(subnets.iter().all(|s| private.contains(s)), "{id}: in the private subnets: {subnets:?}");
    }

    // The API: POST /uploads -> Lambda proxy integration -> upload_url; API Gateway may invoke it.
    let apigw = aws_sdk_apigatewayv2::Client::new(&conf);
    let api_id = attr(&app_state, "api", "id");
    let routes = apigw.get_routes().api_id(&api_id).send().await.unwrap();
    let route = routes.items().iter().find(|r| r.route_key() == Some("POST /uploads")).expect("the route");
    let integration_id = route.target().and_then(|t| t.strip_prefix("integrations/")).expect("an integration target");
    let integration = apigw.get_integration().api_id(&api_id).integration_id(integration_id).send().await.unwrap();
    let upload_arn = attr(&app_state, "upload_url", "arn");
    assert_eq!(integration.integration_uri(), Some(upload_arn.as_str()));
    let policy = lambda.get_policy().function_name(attr(&app_state, "upload_url", "name")).send().await.unwrap();
    let policy: serde_json::Value = serde_json::from_str(policy.policy().unwrap()).unwrap();
    let execution_arn = attr(&app_state, "api", "execution_arn");
    assert!(
        policy["Statement"].as_array().unwrap().iter().any(|s| s["Principal"]["Service"] == "apigateway.amazonaws.com"
            && s.to_string().contains(&format!("{execution_arn}/*/*"))),
        "{policy}"
    );

    // The custom domain maps the API; its alias record points at API Gateway's name for it.
    let domain = "api.portal.example.com";
    let mappings = apigw.get_api_mappings().domain_name(domain).send().await.unwrap();
    assert_eq!(mappings.items().iter().filter_map(|m| m.api_id()).collect::<Vec<_>>(), [api_id.as_str()]);
    let route53 = aws_sdk_route53::Client::new(&conf);
    let records =
        route53.list_resource_record_sets().hosted_zone_id(attr(&app_state, "zone", "id")).send().await.unwrap();
    let alias = records
        .resource_record_sets()
        .iter()
        .find(|r| r.name() == format!("{domain}.") && r.r#type().as_str() == "A")
        .and_then(|r| r.alias_target())
        .expect("the alias record");
    let target = attr(&app_state, "api_domain", "dns_name");
    assert_eq!(alias.dns_name().trim_end_matches('.'), target.trim_end_matches('.'));
    assert_eq!(alias.hosted_zone_id(), attr(&app_state, "api_domain", "zone_id"));

    // The bucket sends uploads/ to verify_upload, which S3 may invoke for this bucket only.
    let s3 = aws_sdk_s3::Client::from_conf(aws_sdk_s3::config::Builder::from(&conf).force_path_style(true).build());
    let bucket = attr(&app_state, "documents", "name");
    let notes = s3.get_bucket_notification_configuration().bucket(&bucket).send().await.unwrap();
    let verify_arn = attr(&app_state, "verify_upload", "arn");
    assert_eq!(
        notes.lambda_function_configurations().iter().map(|c| c.lambda_function_arn()).collect::<Vec<_>>(),
        [verify_arn.as_str()]
    );
    let cors = s3.get_bucket_cors().bucket(&bucket).send().await.unwrap();
    assert!(cors.cors_rules()[0].allowed_headers().iter().any(|h| h == "content-md5"), "{cors:?}");

    // Network ACLs: entries as declared, two subnets each.
    let ec2 = aws_sdk_ec2::Client::new(&conf);
    for (acl, subnets) in [("public_acl", ["public_a", "public_b"]), ("private_acl", ["private_a", "private_b"])] {
        let out = ec2.describe_network_acls().network_acl_ids(attr(&net_state, acl, "id")).send().await.unwrap();
        let a = &out.network_acls()[0];
        let mut associated: Vec<&str> = a.associations().iter().filter_map(|x| x.subnet_id()).collect();
        associated.sort_unstable();
        let mut want: Vec<String> = subnets.iter().map(|s| attr(&net_state, s, "id")).collect();
        want.sort_unstable();
        assert_eq!(associated, want, "{acl}: subnets");
        let ssh = a.entries().iter().any(|e| {
            e.rule_number() == Some(100)
                && e.egress() == Some(false)
                && e.port_range().is_some_and(|p| p.from() == Some(22))
        });
        assert_eq!(ssh, acl == "public_acl", "{acl}: the SSH rule only on the public tier");
    }

    // The S3 gateway endpoint is a route of the private route table, and only there.
    let endpoint = attr(&net_state, "s3_endpoint", "id");
    for (table, has) in [("private_routes", true), ("public_routes", false)] {
        let out = ec2.describe_route_tables().route_table_ids(attr(&net_state, table, "id")).send().await.unwrap();
        let routed = out.route_tables()[0].routes().iter().any(|r| r.gateway_id() == Some(endpoint.as_str()));
        assert_eq!(routed, has, "{table}: route to {endpoint}");
    }

    // The bastion: IMDSv2 only, an encrypted root volume, its key, and the Elastic IP.
    let bastion = attr(&net_state, "bastion", "id");
    let out = ec2.describe_instances().instance_ids(&bastion).send().await.unwrap();
    let instance = &out.reservations()[0].instances()[0];
    let tokens = instance.metadata_options().and_then(|m| m.http_tokens()).map(|t| t.as_str().to_owned());
    assert_eq!(tokens.as_deref(), Some("required"));
    assert_eq!(instance.key_name(), Some("portal-network-bastion-key"));
    let volumes = ec2
        .describe_volumes()
        .filters(aws_sdk_ec2::types::Filter::builder().name("attachment.instance-id").values(&bastion).build())
        .send()
        .await
        .unwrap();
    assert!(volumes.volumes().iter().all(|v| v.encrypted() == Some(true)) && !volumes.volumes().is_empty());
    let addresses = ec2.describe_addresses().allocation_ids(attr(&net_state, "bastion_ip", "id")).send().await.unwrap();
    assert_eq!(addresses.addresses()[0].instance_id(), Some(bastion.as_str()));

    // Re-plan: nothing to do, for both stacks. The AWS calls a plan makes, per stack.
    for (stack, args) in [("portal-network", net_args("plan")), ("portal-app", app_args("plan"))] {
        cx.aws.clear_calls();
        cx.rprov(&with(args, &["--detailed-exitcode"])).expect(0);
        let calls = cx.aws.calls().len();
        let mut by_op: Vec<String> =
            cx.aws.count_by_operation().into_iter().map(|((s, o), n)| format!("{s}:{o}={n}")).collect();
        by_op.sort();
        eprintln!("re-plan of {stack}: {calls} AWS calls ({})", by_op.join(", "));
    }

    // One source file changed: exactly upload_url's code hash, nothing else.
    let source = dir.join("functions/upload_url/upload_url.py");
    let mut text = std::fs::read_to_string(&source).unwrap();
    text.push_str("\n# a change\n");
    std::fs::write(&source, text).unwrap();
    let planned = cx.rprov(&with(app_args("plan"), &["--json", "--detailed-exitcode"]));
    planned.expect(2);
    let plan: serde_json::Value = serde_json::from_str(&planned.stdout).expect("plan JSON");
    let changed: Vec<&serde_json::Value> =
        plan["changes"].as_array().unwrap().iter().filter(|c| c["action"] != "no_op").collect();
    assert_eq!(changed.len(), 1, "{}", planned.stdout);
    assert_eq!((&changed[0]["id"], &changed[0]["action"]), (&"upload_url".into(), &"update".into()));
    let diffs: Vec<&str> = changed[0]["diffs"].as_array().unwrap().iter().filter_map(|d| d["name"].as_str()).collect();
    assert_eq!(diffs, ["code_sha256"]);
    assert_eq!(changed[0]["diffs"][0]["after"], package_hash(&dir.join("functions/upload_url")));

    // Destroy the app: its functions' interfaces are waited for, with progress, so the network
    // below can go at once.
    let started = Instant::now();
    let destroyed = cx.rprov(&with(app_args("destroy"), &["--yes"]));
    let wall = started.elapsed();
    destroyed.expect(0);
    let shown = format!("{}{}", destroyed.stdout, destroyed.stderr);
    assert!(shown.contains("waiting for Lambda's network interfaces to be released"), "{shown}");
    assert!(wall >= ENI_HOLD, "destroy took {wall:?}, less than the {ENI_HOLD:?} hold");
    let summary = shown.lines().find(|l| l.contains("operation(s) done in")).unwrap_or_default();
    eprintln!(
        "destroy of portal-app: {wall:.1?} for the whole command ({}); its critical path: the deletes in front of \
         a function, the function with its {ENI_HOLD:?} interface hold, then its role and log group",
        summary.trim()
    );
    cx.rprov(&with(net_args("destroy"), &["--yes"])).expect(0);

    // Nothing left, per service.
    assert!(lambda.list_functions().send().await.unwrap().functions().is_empty());
    assert!(apigw.get_apis().send().await.unwrap().items().is_empty());
    assert!(apigw.get_domain_names().send().await.unwrap().items().is_empty());
    assert!(s3.list_buckets().send().await.unwrap().buckets().is_empty());
    let reservations = ec2.describe_instances().send().await.unwrap();
    let running: Vec<_> = reservations
        .reservations()
        .iter()
        .flat_map(|r| r.instances())
        .filter(|i| i.state().and_then(|s| s.name()).map(|n| n.as_str()) != Some("terminated"))
        .collect();
    assert!(running.is_empty(), "{running:?}");
    assert!(ec2.describe_addresses().send().await.unwrap().addresses().is_empty());
    let endpoints = ec2.describe_vpc_endpoints().send().await.unwrap();
    assert!(
        endpoints.vpc_endpoints().iter().all(|e| e.state().is_some_and(|s| s.as_str().eq_ignore_ascii_case("deleted"))),
        "{endpoints:?}"
    );
    assert!(ec2.describe_key_pairs().send().await.unwrap().key_pairs().is_empty());
    let zones = route53.list_hosted_zones().send().await.unwrap();
    assert!(zones.hosted_zones().is_empty(), "{zones:?}");
    for stack in ["portal-app", "portal-network"] {
        let left = tagged_and_alive(&conf, stack).await;
        assert!(left.is_empty(), "{stack}: {left:?}");
    }
}
