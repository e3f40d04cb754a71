//! The `bucket` kind against the strict local AWS, through the `Kind` trait only: a bucket with
//! every property reads back as the stack's normalised values (a second plan shows no diff),
//! each configuration updates in place, a change made behind rprov's back is seen, a bucket
//! holding objects is refused deletion until `force_destroy` empties it (versions and delete
//! markers included), and a refresh costs one listing plus seven reads per bucket.

use std::collections::HashMap;
use std::time::Duration;

use localaws::LocalAws;
use rprov::aws::{AwsError, Cx, RefreshScope, WaitConfig};
use rprov::kinds::testing::{self, Res, map, props, read};
use rprov::kinds::{CreateReq, DeleteReq, Kind, Live, Tags, UpdateReq, kind, read_owned};
use rprov::value::{Props, Value};

const STACK: &str = "bkt";

async fn cx(aws: &LocalAws) -> Cx {
    let wait = WaitConfig {
        timeout: Duration::from_secs(30),
        poll: Duration::from_millis(20),
        max_poll: Duration::from_millis(200),
    };
    testing::local_cx(STACK, &aws.endpoint(), wait).await
}

/// A plain S3 client, for what happens behind rprov's back (objects, a policy edited by hand).
fn s3(cx: &Cx) -> aws_sdk_s3::Client {
    aws_sdk_s3::Client::from_conf(aws_sdk_s3::config::Builder::from(&cx.sdk).force_path_style(true).build())
}

fn bucket() -> &'static dyn Kind {
    kind("bucket").expect("bucket is registered")
}

fn json(v: serde_json::Value) -> Value {
    Value::from(&v)
}

fn owned_tags(id: &str) -> Tags {
    testing::owned_tags(STACK, id, "support")
}

fn desired(id: &str, given: &Props) -> Props {
    rprov::plan::compared_props(bucket(), STACK, id, given)
}

/// `force_destroy` is rprov's own: AWS has nothing to report of it.
const UNREPORTED: &[&str] = &["force_destroy"];

#[track_caller]
fn assert_no_diff(id: &str, live: &Live, want: &Props) {
    let diffs: Vec<String> = want
        .iter()
        .filter(|(name, _)| !UNREPORTED.contains(&name.as_str()))
        .filter(|(name, v)| {
            let have = live.props.get(*name);
            !(have.is_some_and(|l| l.same(v)) || have.is_none() && v.is_null())
        })
        .map(|(name, v)| format!("{name}: live {:?} vs stack {v}", live.props.get(name)))
        .collect();
    assert!(diffs.is_empty(), "{id}: perpetual diff:\n{}", diffs.join("\n"));
}

async fn create(cx: &Cx, id: &'static str, given: &[(&str, Value)]) -> Res {
    let k = bucket();
    let want = desired(id, &props(given));
    let tags = owned_tags(id);
    let made = k
        .create(cx, &CreateReq { id, props: &want, tags: &tags, token: "unused" })
        .await
        .unwrap_or_else(|e| panic!("create {id}: {e}"));
    let ids = vec![made.physical_id.clone()];
    let found = read(cx, k, &ids, &made.physical_id).await.unwrap_or_else(|| panic!("read_many finds {id}"));
    assert_no_diff(id, &found, &want);
    assert!(UNREPORTED.iter().all(|p| !found.props.contains_key(*p)));
    assert_eq!(found.tags, tags, "{id}: tags");
    assert_eq!(made.attrs, found.attrs, "{id}: create returns the attributes read_many reads");
    assert_eq!(made.props, found.props, "{id}: create returns what read_many reads");
    // Found by its ownership tag alone too.
    assert!(read(cx, k, &[], &made.physical_id).await.is_some(), "{id}: found by the stack's tag");
    Res { kind: k, id, live: found, applied: want }
}

/// Updates in place the properties that differ, and checks they read back with no diff left.
async fn update(cx: &Cx, res: &mut Res, given: &[(&str, Value)], tags: Option<Tags>) -> Vec<String> {
    let new = desired(res.id, &props(given));
    let old_tags = res.live.tags.clone();
    let tags = tags.unwrap_or_else(|| old_tags.clone());
    let mut current = res.applied.clone();
    current.extend(res.live.props.clone());
    let mut changed: Vec<String> =
        new.iter().filter(|(k, v)| !current.get(*k).is_some_and(|c| c.same(v))).map(|(k, _)| k.clone()).collect();
    if tags != old_tags {
        changed.push("tags".into());
    }
    assert!(!changed.is_empty(), "{}: update changes nothing", res.id);
    let req = UpdateReq {
        id: res.id,
        physical_id: &res.live.physical_id,
        old: &current,
        new: &new,
        changed: &changed,
        old_tags: &old_tags,
        tags: &tags,
    };
    let out = res.kind.update(cx, &req).await.unwrap_or_else(|e| panic!("update {} ({changed:?}): {e}", res.id));
    let ids = vec![res.live.physical_id.clone()];
    let found = read(cx, res.kind, &ids, res.pid()).await.unwrap_or_else(|| panic!("{} after update", res.id));
    assert_no_diff(res.id, &found, &new);
    assert_eq!(found.tags, tags, "{}: tags after update", res.id);
    assert_eq!(out.props, found.props, "{}: update returns what read_many reads", res.id);
    res.live = found;
    res.applied = new;
    changed
}

fn policy(bucket: &str, principal: serde_json::Value) -> Value {
    json(serde_json::json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Sid": "Read",
            "Effect": "Allow",
            "Principal": principal,
            "Action": "s3:GetObject",
            "Resource": format!("arn:aws:s3:::{bucket}/*"),
        }]
    }))
}

fn everything(name: &str) -> Vec<(&'static str, Value)> {
    vec![
        ("name", Value::str(name)),
        ("versioning", Value::Bool(true)),
        (
            "encryption",
            map(&[("algorithm", "aws:kms".into()), ("kms_key", "alias/assets".into()), ("bucket_key", true.into())]),
        ),
        (
            "public_access_block",
            map(&[("block_public_policy", false.into()), ("restrict_public_buckets", false.into())]),
        ),
        ("object_ownership", "BucketOwnerPreferred".into()),
        ("policy", policy(name, serde_json::json!("*"))),
        (
            "lifecycle_rules",
            Value::List(vec![
                map(&[
                    ("id", "logs".into()),
                    ("prefix", "logs/".into()),
                    ("expiration_days", 365.into()),
                    ("noncurrent_expiration_days", 30.into()),
                    ("abort_incomplete_multipart_days", 7.into()),
                    (
                        "transitions",
                        Value::List(vec![
                            map(&[("days", 90.into()), ("storage_class", "GLACIER".into())]),
                            map(&[("days", 30.into()), ("storage_class", "STANDARD_IA".into())]),
                        ]),
                    ),
                ]),
                map(&[
                    ("id", "tmp".into()),
                    ("prefix", "tmp/".into()),
                    ("enabled", false.into()),
                    ("expiration_days", 1.into()),
                ]),
            ]),
        ),
        (
            "cors_rules",
            Value::List(vec![map(&[
                ("allowed_origins", testing::strs(&["https://b.example.com", "https://a.example.com"])),
                ("allowed_methods", testing::strs(&["PUT", "GET"])),
                ("allowed_headers", testing::strs(&["*"])),
                ("expose_headers", testing::strs(&["ETag"])),
                ("max_age_seconds", 3000.into()),
            ])]),
        ),
        ("force_destroy", Value::Bool(false)),
    ]
}

async fn put_objects(s3: &aws_sdk_s3::Client, bucket: &str) {
    for body in ["one", "two"] {
        s3.put_object()
            .bucket(bucket)
            .key("data/a.txt")
            .body(body.as_bytes().to_vec().into())
            .send()
            .await
            .expect("put object");
    }
    // A delete marker on top of the versions.
    s3.delete_object().bucket(bucket).key("data/a.txt").send().await.expect("delete object");
}

#[tokio::test(flavor = "multi_thread")]
async fn bucket_with_every_property_updates_each_and_deletes_only_when_emptied() {
    let aws = LocalAws::start();
    let cx = cx(&aws).await;
    let raw = s3(&cx);
    let name = "bkt-assets-every";
    let mut b = create(&cx, "assets", &everything(name)).await;
    assert_eq!(b.attr("arn"), Value::str(format!("arn:aws:s3:::{name}")));
    assert_eq!(b.attr("domain_name"), Value::str(format!("{name}.s3.amazonaws.com")));
    assert_eq!(b.attr("regional_domain_name"), Value::str(format!("{name}.s3.us-east-1.amazonaws.com")));
    assert_eq!(b.live.props["versioning"], Value::Bool(true));

    // Each configuration, one at a time: only what changed is sent.
    let mut given = everything(name);
    let step = async |b: &mut Res, given: &mut Vec<(&'static str, Value)>, prop: &'static str, v: Value| {
        given.retain(|(k, _)| *k != prop);
        given.push((prop, v));
        let changed = update(&cx, b, given, None).await;
        assert_eq!(changed, vec![prop.to_owned()], "only {prop} changes");
    };
    // Versioning cannot be turned off, only suspended: it reads back as off.
    step(&mut b, &mut given, "versioning", Value::Bool(false)).await;
    let status = raw.get_bucket_versioning().bucket(name).send().await.unwrap();
    assert_eq!(status.status(), Some(&aws_sdk_s3::types::BucketVersioningStatus::Suspended));
    step(&mut b, &mut given, "encryption", map(&[])).await;
    step(&mut b, &mut given, "object_ownership", "BucketOwnerEnforced".into()).await;
    step(&mut b, &mut given, "policy", policy(name, serde_json::json!({"AWS": "arn:aws:iam::123456789012:root"})))
        .await;
    step(&mut b, &mut given, "public_access_block", map(&[])).await;
    let one_rule = Value::List(vec![map(&[("id", "logs".into()), ("expiration_days", 30.into())])]);
    step(&mut b, &mut given, "lifecycle_rules", one_rule).await;
    step(&mut b, &mut given, "cors_rules", Value::List(vec![])).await;
    step(&mut b, &mut given, "versioning", Value::Bool(true)).await;
    let mut tags = owned_tags("assets");
    tags.insert("cost-centre".into(), "42".into());
    update(&cx, &mut b, &given, Some(tags)).await;

    // Removed policy, lifecycle and CORS are deleted, and read back as none.
    given.retain(|(k, _)| !matches!(*k, "policy" | "lifecycle_rules"));
    update(&cx, &mut b, &given, None).await;
    assert_eq!(b.live.props["policy"], Value::Null);
    assert_eq!(b.live.props["lifecycle_rules"], Value::List(vec![]));

    // A policy written behind rprov's back is seen by the next refresh.
    let by_hand = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Principal":{"AWS":"*"},"Action":"s3:DeleteBucket","Resource":"arn:aws:s3:::bkt-assets-every"}]}"#;
    raw.put_bucket_policy().bucket(name).policy(by_hand).send().await.unwrap();
    let seen = read(&cx, bucket(), &[name.to_owned()], name).await.unwrap();
    assert_ne!(seen.props["policy"], b.applied["policy"]);
    let statement = &seen.props["policy"].as_map().expect("a policy")["Statement"].as_list()[0];
    assert_eq!(statement.as_map().unwrap()["Effect"], Value::str("Deny"), "{statement}");
    raw.delete_bucket_policy().bucket(name).send().await.unwrap();

    // Objects, their versions and a delete marker hold the bucket.
    put_objects(&raw, name).await;
    let req = DeleteReq { id: "assets", physical_id: name, props: &b.applied, attrs: &b.live.attrs };
    let refused = bucket().delete(&cx, &req).await;
    let Err(AwsError::Blocked(m)) = &refused else { panic!("{refused:?}") };
    assert!(m.contains("2 object version(s) and 1 delete marker(s)") && m.contains("force_destroy: true"), "{m}");
    assert!(read(&cx, bucket(), &[name.to_owned()], name).await.is_some(), "still there");

    // With force_destroy it is emptied and deleted, and gone.
    given.retain(|(k, _)| *k != "force_destroy");
    given.push(("force_destroy", Value::Bool(true)));
    let forced = desired("assets", &props(&given));
    let req = DeleteReq { id: "assets", physical_id: name, props: &forced, attrs: &b.live.attrs };
    bucket().delete(&cx, &req).await.unwrap_or_else(|e| panic!("force_destroy: {e}"));
    assert!(read(&cx, bucket(), &[name.to_owned()], name).await.is_none(), "listed after delete");
    assert!(read(&cx, bucket(), &[], name).await.is_none(), "listed by ownership after delete");
    assert_eq!(bucket().delete(&cx, &req).await, Ok(()), "a second delete is success");
}

#[tokio::test(flavor = "multi_thread")]
async fn default_bucket_is_private_and_encrypted_and_a_teardown_purges_it() {
    let aws = LocalAws::start();
    let cx = cx(&aws).await;
    let b = create(&cx, "logs", &[]).await;
    assert_eq!(b.pid(), "bkt-logs");
    let p = &b.live.props;
    assert_eq!(p["object_ownership"], Value::str("BucketOwnerEnforced"));
    assert_eq!(p["encryption"].as_map().unwrap()["algorithm"], Value::str("AES256"));
    assert!(p["public_access_block"].as_map().unwrap().values().all(|v| *v == Value::Bool(true)));
    // A create of the same bucket again (a resend) takes it: it carries the ownership tags.
    let again = bucket()
        .create(&cx, &CreateReq { id: "logs", props: &b.applied, tags: &owned_tags("logs"), token: "t" })
        .await
        .unwrap();
    assert_eq!(again.physical_id, "bkt-logs");
    // Another resource of the stack cannot take it.
    let other = bucket()
        .create(&cx, &CreateReq { id: "other", props: &b.applied, tags: &owned_tags("other"), token: "t" })
        .await;
    assert!(matches!(other, Err(AwsError::AlreadyExists(_))), "{other:?}");

    // A teardown empties what it deletes, whatever force_destroy says.
    let raw = s3(&cx);
    raw.put_object().bucket("bkt-logs").key("x").body(b"x".to_vec().into()).send().await.unwrap();
    let purging = cx.clone().purging();
    bucket().delete(&purging, &b.delete_req()).await.unwrap();
    assert!(read(&cx, bucket(), &[], "bkt-logs").await.is_none());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_refresh_lists_once_and_reads_seven_configurations_per_owned_bucket() {
    let aws = LocalAws::start();
    let cx = cx(&aws).await;
    let a = create(&cx, "a", &[]).await;
    let b = create(&cx, "b", &[("versioning", Value::Bool(true))]).await;
    // Another stack's bucket in the same account: listed, never read.
    let other = testing::local_cx("elsewhere", &aws.endpoint(), cx.wait.clone()).await;
    let stranger = bucket()
        .create(
            &other,
            &CreateReq {
                id: "c",
                props: &rprov::plan::compared_props(bucket(), "elsewhere", "c", &Props::new()),
                tags: &testing::owned_tags("elsewhere", "c", "x"),
                token: "t",
            },
        )
        .await
        .unwrap();
    aws.wait_idle(Duration::from_secs(5));
    aws.clear_calls();
    let recorded: HashMap<String, Tags> =
        [(a.pid().to_owned(), a.live.tags.clone()), (b.pid().to_owned(), b.live.tags.clone())].into();
    let ids = vec![a.pid().to_owned(), b.pid().to_owned()];
    let scoped = cx.for_refresh(RefreshScope::new(recorded));
    let found = read_owned(bucket(), &scoped, &ids).await.unwrap();
    let names: Vec<&str> = found.iter().map(|l| l.physical_id.as_str()).collect();
    assert_eq!(names, ["bkt-a", "bkt-b"]);
    assert!(!names.contains(&stranger.physical_id.as_str()));
    let calls = aws.count_by_operation();
    let count = |op: &str| aws.count("s3", op);
    assert_eq!(count("ListBuckets"), 1, "{calls:?}");
    // Tags from the Tagging API's index, which agrees with the state: no GetBucketTagging.
    assert_eq!(count("GetBucketTagging"), 0, "{calls:?}");
    for op in [
        "GetBucketVersioning",
        "GetBucketEncryption",
        "GetPublicAccessBlock",
        "GetBucketOwnershipControls",
        "GetBucketPolicy",
        // GetBucketLifecycleConfiguration: the local AWS's call log names it by the older
        // operation on the same request (GET ?lifecycle).
        "GetBucketLifecycle",
        "GetBucketCors",
    ] {
        assert_eq!(count(op), 2, "{op}: one per owned bucket: {calls:?}");
    }
    let total: usize = calls.values().sum();
    assert_eq!(total, 1 + 1 + 2 * 7, "ListBuckets, GetResources, 7 per bucket: {calls:?}");
    assert!(found.iter().all(|l| l.props.get("name").is_some()));
}
