//! Safe on a real account: a stack is bound to its region and account, never takes over what it
//! did not create, keeps secrets out of files and output, and survives a reader that goes away.

use std::process::Stdio;

use crate::support::{Ctx, Run, read_json};

fn ec2_in(cx: &Ctx, region: &str) -> aws_sdk_ec2::Client {
    let conf = aws_sdk_ec2::Config::builder()
        .behavior_version(aws_sdk_ec2::config::BehaviorVersion::latest())
        .region(aws_sdk_ec2::config::Region::new(region.to_owned()))
        .endpoint_url(cx.aws.endpoint())
        .credentials_provider(aws_sdk_ec2::config::Credentials::new("testing", "testing", None, None, "test"))
        .build();
    aws_sdk_ec2::Client::from_conf(conf)
}

async fn vpcs_of(ec2: &aws_sdk_ec2::Client, stack: &str) -> usize {
    ec2.describe_vpcs().filters(crate::support::tag_filter(stack)).send().await.unwrap().vpcs().len()
}

fn run(cmd: &mut std::process::Command) -> Run {
    Run::from(cmd.output().expect("run rprov"))
}

#[tokio::test(flavor = "multi_thread")]
async fn a_stack_lives_in_its_region_whatever_the_shell_says() {
    let cx = Ctx::new();
    let stack = cx.stack_copy("network.yaml", |t| t).display().to_string();
    cx.rprov(&["apply", &stack, "--yes"]).expect(0);

    // The shell points elsewhere: ignored, with a notice; nothing to do.
    let shell = run(cx.command(&["plan", &stack, "--detailed-exitcode"]).env("AWS_REGION", "us-west-2"));
    shell.expect(0);
    assert!(shell.stderr.contains("AWS_REGION=us-west-2 is ignored"), "{}", shell.stderr);
    assert!(shell.stdout.contains("No changes"), "{}", shell.stdout);
    let applied = run(cx.command(&["apply", &stack, "--yes"]).env("AWS_DEFAULT_REGION", "us-west-2"));
    applied.expect(0);

    // An explicit other region is another stack: refused, both named, before any call.
    for args in [
        vec!["plan", &stack, "--region", "us-west-2"],
        vec!["apply", &stack, "--yes", "--region", "us-west-2"],
        vec!["destroy", &stack, "--yes", "--region", "us-west-2"],
        vec!["drift", &stack, "--region", "us-west-2"],
    ] {
        cx.aws.clear_calls();
        let refused = cx.rprov(&args);
        refused.expect(1);
        assert!(
            refused.stderr.contains("--region us-west-2") && refused.stderr.contains("lives in us-east-1"),
            "{args:?}: {}",
            refused.stderr
        );
        assert!(cx.aws.calls().is_empty(), "{args:?} called AWS: {:?}", cx.aws.calls());
    }
    let twice = cx.rprov(&["plan", &stack, "--region", "us-east-1", "--region", "us-west-2"]);
    twice.expect(1);
    assert!(twice.stderr.contains("--region given 2 times"), "{}", twice.stderr);

    // The stack file moved to another region under the same state: refused, naming both.
    let moved = cx.stack_copy("network.yaml", |t| {
        t.replace("region: us-east-1", "region: us-west-2")
            .replace("us-east-1a", "us-west-2a")
            .replace("us-east-1b", "us-west-2b")
    });
    let moved = moved.display().to_string();
    cx.aws.clear_calls();
    let refused = cx.rprov(&["apply", &moved, "--yes"]);
    refused.expect(1);
    assert!(refused.stderr.contains("was made in region us-east-1"), "{}", refused.stderr);
    assert!(cx.aws.calls().iter().all(|c| c.operation == "GetCallerIdentity"), "{:?}", cx.aws.calls());

    let (east, west) = (ec2_in(&cx, "us-east-1"), ec2_in(&cx, "us-west-2"));
    assert_eq!((vpcs_of(&east, "network").await, vpcs_of(&west, "network").await), (1, 0));
    println!(
        "region checks: env region ignored, --region and a moved stack file refused; 1 VPC in us-east-1, 0 in us-west-2"
    );
}

/// Credentials that act as account 111111111111 on the local AWS (moto: what STS AssumeRole
/// returns for a role of that account).
async fn other_account(cx: &Ctx) -> aws_sdk_sts::types::Credentials {
    let sts = aws_sdk_sts::Client::new(&cx.sdk().await);
    let out =
        sts.assume_role().role_arn("arn:aws:iam::111111111111:role/ci").role_session_name("ci").send().await.unwrap();
    out.credentials().unwrap().clone()
}

fn as_other(cmd: &mut std::process::Command, c: &aws_sdk_sts::types::Credentials) -> Run {
    run(cmd
        .env("AWS_ACCESS_KEY_ID", c.access_key_id())
        .env("AWS_SECRET_ACCESS_KEY", c.secret_access_key())
        .env("AWS_SESSION_TOKEN", c.session_token()))
}

#[tokio::test(flavor = "multi_thread")]
async fn a_state_belongs_to_one_account_and_a_stack_to_the_accounts_it_allows() {
    let cx = Ctx::new();
    let stack = cx.stack_copy("network.yaml", |t| t).display().to_string();
    cx.rprov(&["apply", &stack, "--yes"]).expect(0);
    assert_eq!(read_json(&cx.state_path("network"))["account_id"], "123456789012");
    let creds = other_account(&cx).await;

    for args in [vec!["plan", &stack], vec!["apply", &stack, "--yes"], vec!["destroy", &stack, "--yes"]] {
        cx.aws.clear_calls();
        let refused = as_other(&mut cx.command(&args), &creds);
        refused.expect(1);
        assert!(
            refused.stderr.contains("belongs to account 123456789012")
                && refused.stderr.contains("credentials are for account 111111111111"),
            "{args:?}: {}",
            refused.stderr
        );
        let calls: Vec<String> = cx.aws.calls().iter().map(|c| c.operation.clone()).collect();
        assert_eq!(calls, ["GetCallerIdentity"], "{args:?}: only the identity check may be sent");
    }

    // Guards in the stack file, checked before anything but STS.
    let allowed = cx.stack_copy("network.yaml", |t| {
        t.replace("stack: network", "stack: guarded\nallowed_account_ids: [\"111111111111\"]")
    });
    cx.aws.clear_calls();
    let refused = cx.rprov(&["apply", allowed.to_str().unwrap(), "--yes"]);
    refused.expect(1);
    assert!(refused.stderr.contains("not in the stack's allowed_account_ids (111111111111)"), "{}", refused.stderr);
    assert_eq!(cx.aws.calls().len(), 1);
    let forbidden = cx.stack_copy("network.yaml", |t| {
        t.replace("stack: network", "stack: guarded\nforbidden_account_ids: [\"123456789012\"]")
    });
    let refused = cx.rprov(&["plan", forbidden.to_str().unwrap()]);
    refused.expect(1);
    assert!(refused.stderr.contains("forbidden_account_ids"), "{}", refused.stderr);
    assert!(!cx.state_path("guarded").exists());
    println!(
        "account checks: another account's credentials refused for plan/apply/destroy after 1 STS call; allow/forbid lists enforced"
    );
}

const ZONE_STACK: &str = "stack: dns
region: us-east-1
resources:
  zone: { type: hosted_zone, name: example.com, lookup: true }
  www: { type: dns_record, zone: \"${zone.id}\", name: www.example.com, record_type: A, values: [198.51.100.7] }
";

async fn www_values(r53: &aws_sdk_route53::Client, zone: &str) -> Vec<String> {
    let sets = r53.list_resource_record_sets().hosted_zone_id(zone).send().await.unwrap();
    sets.resource_record_sets()
        .iter()
        .filter(|s| s.name() == "www.example.com." && s.r#type().as_str() == "A")
        .flat_map(|s| s.resource_records().iter().map(|r| r.value().to_owned()))
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_record_made_by_hand_is_a_conflict_until_the_stack_adopts_it() {
    use aws_sdk_route53::types::{Change, ChangeAction, ChangeBatch, ResourceRecord, ResourceRecordSet, RrType};
    let cx = Ctx::new();
    let r53 = aws_sdk_route53::Client::new(&cx.sdk().await);
    let zone = r53.create_hosted_zone().name("example.com").caller_reference("by-hand").send().await.unwrap();
    let zone = zone.hosted_zone().unwrap().id().rsplit('/').next().unwrap().to_owned();
    let record = ResourceRecordSet::builder()
        .name("www.example.com")
        .r#type(RrType::A)
        .ttl(60)
        .resource_records(ResourceRecord::builder().value("192.0.2.1").build().unwrap())
        .build()
        .unwrap();
    let change = Change::builder().action(ChangeAction::Create).resource_record_set(record).build().unwrap();
    r53.change_resource_record_sets()
        .hosted_zone_id(&zone)
        .change_batch(ChangeBatch::builder().changes(change).build().unwrap())
        .send()
        .await
        .unwrap();

    let path = cx.dir.path().join("dns.yaml");
    std::fs::write(&path, ZONE_STACK).unwrap();
    let stack = path.display().to_string();
    let plan = cx.rprov(&["plan", &stack]);
    plan.expect(1);
    assert!(plan.stdout.contains("! www (dns_record)"), "{}", plan.stdout);
    assert!(plan.stdout.contains("rprov did not create it"), "{}", plan.stdout);
    let apply = cx.rprov(&["apply", &stack, "--yes"]);
    apply.expect(1);
    assert!(apply.stderr.contains("nothing was changed"), "{}", apply.stderr);
    assert_eq!(www_values(&r53, &zone).await, ["192.0.2.1"], "the record is unchanged");

    std::fs::write(&path, ZONE_STACK.replace("values: [198.51.100.7] }", "values: [198.51.100.7], adopt: true }"))
        .unwrap();
    let adopted = cx.rprov(&["apply", &stack, "--yes"]);
    adopted.expect(0);
    assert!(adopted.stdout.contains("adopting it (`adopt: true`)"), "{}", adopted.stdout);
    assert_eq!(www_values(&r53, &zone).await, ["198.51.100.7"], "managed from now on");
    cx.rprov(&["plan", &stack, "--detailed-exitcode"]).expect(0);
    cx.rprov(&["destroy", &stack, "--yes"]).expect(0);
    assert!(www_values(&r53, &zone).await.is_empty(), "an adopted record is the stack's to delete");
    assert!(r53.get_hosted_zone().id(&zone).send().await.is_ok(), "a looked-up zone is never deleted");
    println!(
        "dns: a hand-made record planned as a conflict, apply refused with it unchanged; adopted with adopt: true, then managed and destroyed"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn secrets_have_no_defaults_generated_values_stay_in_aws_and_saved_plans_keep_their_secrets() {
    let cx = Ctx::new();
    let with_default = cx.dir.path().join("default.yaml");
    std::fs::write(
        &with_default,
        "stack: s\nregion: us-east-1\nparams:\n  pw: { default: hunter2, secret: true }\nresources:\n  p: { type: ssm_parameter, value: \"${params.pw}\" }\n",
    )
    .unwrap();
    let refused = cx.rprov(&["validate", with_default.to_str().unwrap()]);
    refused.expect(1);
    assert!(refused.stderr.contains("default.yaml:4:"), "located: {}", refused.stderr);
    assert!(refused.stderr.contains("cannot have a default"), "{}", refused.stderr);
    assert!(!refused.stderr.contains("hunter2"), "{}", refused.stderr);

    // A generated value: made in AWS, read back by nobody but SSM's readers.
    let generated = cx.dir.path().join("gen.yaml");
    std::fs::write(
        &generated,
        "stack: gen\nregion: us-east-1\nresources:\n  pw: { type: ssm_parameter, generate: true, description: made by AWS }\n",
    )
    .unwrap();
    let gen_path = generated.display().to_string();
    let planned = cx.rprov(&["plan", &gen_path, "--out", "gen.plan"]);
    planned.expect(0);
    let applied = cx.rprov(&["apply", "gen.plan", "--yes"]);
    applied.expect(0);
    let again = cx.rprov(&["plan", &gen_path, "--detailed-exitcode"]);
    again.expect(0);
    let ssm = aws_sdk_ssm::Client::new(&cx.sdk().await);
    let value = ssm.get_parameter().name("/rprov/gen/pw").with_decryption(true).send().await.unwrap();
    let value = value.parameter().unwrap().value().unwrap().to_owned();
    assert_eq!(value.len(), 32);
    let files = [
        std::fs::read_to_string(cx.dir.path().join("gen.plan")).unwrap(),
        std::fs::read_to_string(cx.state_path("gen")).unwrap(),
    ];
    for text in files.iter().chain([&planned.stdout, &planned.stderr, &applied.stdout, &applied.stderr, &again.stdout])
    {
        assert!(!text.contains(&value), "the generated value leaked:\n{text}");
    }

    // A saved plan is applied only with the secret it was made with.
    let secret = cx.dir.path().join("secret.yaml");
    std::fs::write(
        &secret,
        "stack: sec\nregion: us-east-1\nparams:\n  pw: { secret: true }\nresources:\n  p: { type: ssm_parameter, value: \"${params.pw}\" }\n",
    )
    .unwrap();
    let secret = secret.display().to_string();
    cx.rprov(&["validate", &secret]).expect(0);
    cx.rprov(&["plan", &secret]).expect(1);
    cx.rprov(&["plan", &secret, "--out", "sec.plan", "--param", "pw=alpha-secret"]).expect(0);
    assert!(!std::fs::read_to_string(cx.dir.path().join("sec.plan")).unwrap().contains("alpha-secret"));
    let other = cx.rprov(&["apply", "sec.plan", "--yes", "--param", "pw=beta-secret"]);
    other.expect(1);
    assert!(other.stderr.contains("secret param `pw` differs"), "{}", other.stderr);
    cx.rprov(&["apply", "sec.plan", "--yes"]).expect(1);
    cx.rprov(&["apply", "sec.plan", "--yes", "--param", "pw=alpha-secret"]).expect(0);
    let stored = ssm.get_parameter().name("/rprov/sec/p").with_decryption(true).send().await.unwrap();
    assert_eq!(stored.parameter().unwrap().value(), Some("alpha-secret"));
    let state = std::fs::read_to_string(cx.state_path("sec")).unwrap();
    assert!(!state.contains("alpha-secret") && state.contains("hmac-sha256:"), "{state}");
    println!(
        "secrets: default refused at default.yaml:4, generated value in no file or output, saved plan refused with another secret"
    );
}

/// Runs rprov with stdout a pipe whose reader is gone before it writes.
fn with_closed_stdout(cx: &Ctx, args: &[&str]) -> Run {
    let mut child = cx.command(args).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().expect("spawn rprov");
    drop(child.stdout.take());
    Run::from(child.wait_with_output().expect("wait"))
}

#[tokio::test(flavor = "multi_thread")]
async fn output_into_a_closed_pipe_ends_quietly_and_an_apply_still_finishes() {
    let cx = Ctx::new();
    let stack = cx.stack_copy("network.yaml", |t| t).display().to_string();
    // The apply's reader goes away first: it still applies everything and records it.
    let applied = with_closed_stdout(&cx, &["apply", &stack, "--yes"]);
    applied.expect(0);
    assert_eq!(crate::support::recorded(&cx.state_path("network")), Some(12));
    for args in [
        vec!["schema"],
        vec!["explain", "vpc"],
        vec!["validate", &stack],
        vec!["graph", &stack],
        vec!["plan", &stack],
        vec!["plan", &stack, "--json"],
        vec!["output", &stack],
        vec!["state", "show", &stack],
        vec!["drift", &stack],
        vec!["--help"],
    ] {
        let run = with_closed_stdout(&cx, &args);
        run.expect(0);
        assert!(!run.stderr.contains("Broken pipe"), "{args:?}: {}", run.stderr);
    }
    cx.rprov(&["plan", &stack, "--detailed-exitcode"]).expect(0);
    println!("closed pipes: apply finished (12 recorded), 10 commands exited 0 without a panic");
}

#[test]
fn an_unreadable_local_lock_is_removed_by_asking_for_unknown() {
    let cx = Ctx::new();
    let stack = cx.stack_copy("network.yaml", |t| t).display().to_string();
    std::fs::create_dir_all(cx.dir.path().join(".rprov")).unwrap();
    std::fs::write(cx.dir.path().join(".rprov/network.json.lock"), "").unwrap();
    let locked = cx.rprov(&["apply", &stack, "--yes"]);
    locked.expect(1);
    assert!(locked.stderr.contains("rprov force-unlock unknown"), "{}", locked.stderr);
    cx.rprov(&["force-unlock", "some-id"]).expect(1);
    let asks = cx.rprov(&["force-unlock", "unknown"]);
    asks.expect(1);
    assert!(asks.stderr.contains("pass --yes"), "{}", asks.stderr);
    cx.rprov(&["force-unlock", "unknown", "--yes"]).expect(0);
    cx.rprov(&["apply", &stack, "--yes"]).expect(0);
}
