//! Seed 004's shape end to end: `examples/api-platform/` (network stack, then the data stack on
//! its outputs) applied from nothing on the strict local AWS, checked with each service's own
//! API, re-planned empty, drifted behind rprov's back, destroyed to nothing — checked per
//! service, since the Tagging API misses several of these types (RDS subnet groups, IAM users
//! and policies).

use aws_sdk_rds::types::Filter as RdsFilter;

use localaws::LocalAws;

use crate::support::{Ctx, Run, read_json, tagged_and_alive};

/// The cache's AUTH token, given as a secret param: it must appear in no output, state or plan.
const TOKEN: &str = "t0ken-for-the-cache-4711-zz";

fn paths() -> (String, String) {
    let dir = crate::support::repo().join("examples/api-platform");
    (dir.join("network.yaml").display().to_string(), dir.join("data.yaml").display().to_string())
}

fn token_param() -> String {
    format!("cache_auth_token={TOKEN}")
}

/// Every text rprov showed or wrote that could carry a secret.
fn never_shows(secrets: &[&str], runs: &[&Run], files: &[&std::path::Path]) {
    for s in secrets {
        for r in runs {
            assert!(
                !r.stdout.contains(s) && !r.stderr.contains(s),
                "a secret was printed:\n{}\n{}",
                r.stdout,
                r.stderr
            );
        }
        for f in files {
            let bytes = std::fs::read(f).expect("read file");
            let text = String::from_utf8_lossy(&bytes);
            assert!(!text.contains(s), "a secret is in {}", f.display());
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn api_platform_applies_checks_out_replans_empty_drifts_and_leaves_nothing() {
    // Each cluster, instance, proxy and replication group is `creating` at its first describe
    // and a deleted replication group `deleting`: rprov's waits run as on AWS (one poll each).
    let aws = LocalAws::builder()
        .eventual("db_cluster", 1)
        .eventual("db_instance", 1)
        .eventual("db_proxy", 1)
        .eventual("replication_group", 1)
        .eventual("replication_group_deleting", 1)
        .start();
    let cx = Ctx::with(aws);
    let (net, data) = paths();
    let param = token_param();
    cx.rprov(&["apply", &net, "--yes"]).expect(0);
    let plan_file = cx.dir.path().join("data.plan");
    let planned = cx.rprov(&["plan", &data, "--param", &param, "--out", &plan_file.display().to_string()]);
    planned.expect(0);
    // A plan file holds no secret value: the param is given again to apply it.
    let applied = cx.rprov(&["apply", &plan_file.display().to_string(), "--param", &param, "--yes"]);
    applied.expect(0);

    let conf = cx.sdk().await;
    let state = read_json(&cx.state_path("api-data"));
    let attr = |id: &str, a: &str| state["resources"][id]["attributes"][a].as_str().unwrap_or_default().to_owned();

    // Aurora: encrypted, deletion protection as declared, two members, IAM auth.
    let rds = aws_sdk_rds::Client::new(&conf);
    let cluster_id = attr("db", "id");
    let clusters = rds.describe_db_clusters().db_cluster_identifier(&cluster_id).send().await.unwrap();
    let cluster = &clusters.db_clusters()[0];
    assert_eq!(cluster.storage_encrypted(), Some(true));
    assert_eq!(cluster.deletion_protection(), Some(false));
    assert_eq!(cluster.iam_database_authentication_enabled(), Some(true));
    assert_eq!(cluster.backup_retention_period(), Some(7));
    let members = rds
        .describe_db_instances()
        .filters(RdsFilter::builder().name("db-cluster-id").values(&cluster_id).build())
        .send()
        .await
        .unwrap();
    assert_eq!(members.db_instances().len(), 2, "{members:?}");

    // RDS Proxy: TLS required, the cluster its target.
    let proxy_name = attr("proxy", "id");
    let proxies = rds.describe_db_proxies().db_proxy_name(&proxy_name).send().await.unwrap();
    assert_eq!(proxies.db_proxies()[0].require_tls(), Some(true));
    let targets = rds.describe_db_proxy_targets().db_proxy_name(&proxy_name).send().await.unwrap();
    assert!(
        targets.targets().iter().any(|t| t.rds_resource_id() == Some(cluster_id.as_str())),
        "proxy targets: {targets:?}"
    );

    // Redis: encrypted at rest and in transit.
    let cache = aws_sdk_elasticache::Client::new(&conf);
    let groups = cache.describe_replication_groups().replication_group_id(attr("cache", "id")).send().await.unwrap();
    let group = &groups.replication_groups()[0];
    assert_eq!(group.at_rest_encryption_enabled(), Some(true));
    assert_eq!(group.transit_encryption_enabled(), Some(true));

    // The bucket: public access blocked, versioning on.
    let s3 = aws_sdk_s3::Client::from_conf(aws_sdk_s3::config::Builder::from(&conf).force_path_style(true).build());
    let bucket = attr("files", "name");
    let pab = s3.get_public_access_block().bucket(&bucket).send().await.unwrap();
    let pab = pab.public_access_block_configuration().unwrap();
    assert_eq!(
        (pab.block_public_acls(), pab.ignore_public_acls(), pab.block_public_policy(), pab.restrict_public_buckets()),
        (Some(true), Some(true), Some(true), Some(true))
    );
    let versioning = s3.get_bucket_versioning().bucket(&bucket).send().await.unwrap();
    assert_eq!(versioning.status().map(|s| s.as_str()), Some("Enabled"));

    // The CI user has exactly the declared policy.
    let iam = aws_sdk_iam::Client::new(&conf);
    let user = attr("ci", "name");
    let attached = iam.list_attached_user_policies().user_name(&user).send().await.unwrap();
    let arns: Vec<&str> = attached.attached_policies().iter().filter_map(|p| p.policy_arn()).collect();
    assert_eq!(arns, [attr("deploy_policy", "arn").as_str()]);
    let inline = iam.list_user_policies().user_name(&user).send().await.unwrap();
    assert!(inline.policy_names().is_empty(), "{inline:?}");
    let policy = iam.get_policy().policy_arn(arns[0]).send().await.unwrap();
    let version = policy.policy().and_then(|p| p.default_version_id()).unwrap().to_owned();
    let doc = iam.get_policy_version().policy_arn(arns[0]).version_id(version).send().await.unwrap();
    let doc = doc.policy_version().and_then(|v| v.document()).unwrap();
    let doc = rprov::kinds::testing::iam_url_decode(doc);
    let doc: serde_json::Value = serde_json::from_str(&doc).expect("policy JSON");
    // Sent in IAM's canonical form (statements, actions and resources sorted): the same policy.
    let statement = |sid: &str| doc["Statement"].as_array().unwrap().iter().find(|s| s["Sid"] == sid).cloned();
    assert_eq!(doc["Statement"].as_array().map(Vec::len), Some(2), "{doc}");
    let packages = statement("Packages").expect("the Packages statement");
    assert_eq!(packages["Action"], serde_json::json!(["s3:GetObject", "s3:PutObject"]));
    assert_eq!(packages["Resource"], serde_json::json!([format!("arn:aws:s3:::{}/deploy/*", attr("files", "name"))]));
    assert!(statement("Functions").is_some(), "{doc}");

    // The secrets: neither the generated password nor the token anywhere rprov writes.
    let sm = aws_sdk_secretsmanager::Client::new(&conf);
    let creds = sm.get_secret_value().secret_id(attr("db_credentials", "arn")).send().await.unwrap();
    let creds: serde_json::Value = serde_json::from_str(creds.secret_string().unwrap()).unwrap();
    assert_eq!(creds["username"], "api_admin");
    let password = creds["password"].as_str().unwrap().to_owned();
    assert_eq!(password.len(), 32);
    let token = sm.get_secret_value().secret_id(attr("cache_token", "arn")).send().await.unwrap();
    assert_eq!(token.secret_string(), Some(TOKEN));

    // Re-plan: nothing to do, for both stacks.
    let replan = cx.rprov(&["plan", &data, "--param", &param, "--detailed-exitcode"]);
    replan.expect(0);
    cx.rprov(&["plan", &net, "--detailed-exitcode"]).expect(0);

    // Behind rprov's back: a bucket policy and the cluster's backup retention.
    let policy = serde_json::json!({
        "Version": "2012-10-17",
        "Statement": [{"Sid": "Open", "Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::123456789012:root"},
                       "Action": "s3:GetObject", "Resource": format!("arn:aws:s3:::{bucket}/*")}]
    });
    s3.put_bucket_policy().bucket(&bucket).policy(policy.to_string()).send().await.unwrap();
    rds.modify_db_cluster()
        .db_cluster_identifier(&cluster_id)
        .backup_retention_period(14)
        .apply_immediately(true)
        .send()
        .await
        .unwrap();
    let drift = cx.rprov(&["drift", &data, "--param", &param, "--json"]);
    drift.expect(2);
    let report: serde_json::Value = serde_json::from_str(&drift.stdout).expect("drift JSON");
    let text = report.to_string();
    assert!(text.contains("backup_retention_days") && text.contains("\"policy\""), "{}", drift.stdout);

    let state_file = cx.state_path("api-data");
    never_shows(&[TOKEN, &password], &[&planned, &applied, &replan, &drift], &[&state_file, &plan_file]);

    // Destroy: data, then network; nothing left, per service.
    let destroyed = cx.rprov(&["destroy", &data, "--param", &param, "--yes"]);
    destroyed.expect(0);
    never_shows(&[TOKEN, &password], &[&destroyed], &[]);
    cx.rprov(&["destroy", &net, "--yes"]).expect(0);

    let clusters = rds.describe_db_clusters().send().await.unwrap();
    assert!(clusters.db_clusters().is_empty(), "{clusters:?}");
    let instances = rds.describe_db_instances().send().await.unwrap();
    assert!(instances.db_instances().is_empty(), "{instances:?}");
    let proxies = rds.describe_db_proxies().send().await.unwrap();
    assert!(proxies.db_proxies().is_empty(), "{proxies:?}");
    let subnet_groups = rds.describe_db_subnet_groups().send().await.unwrap();
    assert!(subnet_groups.db_subnet_groups().is_empty(), "{subnet_groups:?}");
    let groups = cache.describe_replication_groups().send().await.unwrap();
    assert!(groups.replication_groups().is_empty(), "{groups:?}");
    let cache_subnets = cache.describe_cache_subnet_groups().send().await.unwrap();
    assert!(
        cache_subnets.cache_subnet_groups().iter().all(|g| g.cache_subnet_group_name() == Some("default")),
        "{cache_subnets:?}"
    );
    let secrets = sm.list_secrets().include_planned_deletion(true).send().await.unwrap();
    assert!(secrets.secret_list().is_empty(), "{secrets:?}");
    let buckets = s3.list_buckets().send().await.unwrap();
    assert!(buckets.buckets().is_empty(), "{buckets:?}");
    let users = iam.list_users().send().await.unwrap();
    assert!(users.users().is_empty(), "{users:?}");
    let policies = iam.list_policies().scope(aws_sdk_iam::types::PolicyScopeType::Local).send().await.unwrap();
    assert!(policies.policies().is_empty(), "{policies:?}");
    let roles = iam.list_roles().send().await.unwrap();
    assert!(roles.roles().iter().all(|r| !r.role_name().starts_with("api-")), "{roles:?}");
    assert!(tagged_and_alive(&conf, "api-data").await.is_empty());
    assert!(tagged_and_alive(&conf, "api-network").await.is_empty());
}
