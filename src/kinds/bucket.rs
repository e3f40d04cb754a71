use std::collections::HashMap;

use async_trait::async_trait;
use aws_sdk_s3::types::{
    AbortIncompleteMultipartUpload, BucketLifecycleConfiguration, BucketLocationConstraint, BucketVersioningStatus,
    CorsConfiguration, CorsRule, CreateBucketConfiguration, Delete, ExpirationStatus, LifecycleExpiration,
    LifecycleRule, LifecycleRuleFilter, NoncurrentVersionExpiration, ObjectIdentifier, ObjectOwnership,
    OwnershipControls, OwnershipControlsRule, PublicAccessBlockConfiguration, ServerSideEncryption,
    ServerSideEncryptionByDefault, ServerSideEncryptionConfiguration, ServerSideEncryptionRule, Tag, Tagging,
    Transition, TransitionStorageClass, VersioningConfiguration,
};
use futures_util::{StreamExt, TryStreamExt};

use super::s3::client;
use super::{CreateReq, DeleteReq, Kind, Live, TAG_STACK, Tags, UpdateReq};
use crate::aws::{AwsError, Cx, Poll, classify, tagging, wait_gone, wait_until};
use crate::expr::Expr;
use crate::schema::{Attr, Default, KindSchema, Prop, Ty};
use crate::spec::{KindSpec, Problem, Refusals, Subject};
use crate::value::{Props, Value};

pub struct Bucket;

const ALGORITHMS: &[&str] = &["AES256", "aws:kms", "aws:kms:dsse"];
const OWNERSHIP: &[&str] = &["BucketOwnerEnforced", "BucketOwnerPreferred", "ObjectWriter"];
const STORAGE_CLASSES: &[&str] =
    &["STANDARD_IA", "INTELLIGENT_TIERING", "ONEZONE_IA", "GLACIER_IR", "GLACIER", "DEEP_ARCHIVE"];
const METHODS: &[&str] = &["GET", "PUT", "POST", "DELETE", "HEAD"];
const PAB_FIELDS: [&str; 4] =
    ["block_public_acls", "ignore_public_acls", "block_public_policy", "restrict_public_buckets"];

static ENCRYPTION: Ty = Ty::Obj(&[
    Prop::new(
        "algorithm",
        Ty::Enum(ALGORITHMS),
        "Default encryption of new objects: `AES256` (S3-managed keys, what AWS applies to every bucket since 2023), `aws:kms` (a KMS key) or `aws:kms:dsse` (two layers with a KMS key).",
    )
    .aws("s3:ServerSideEncryptionByDefault.SSEAlgorithm")
    .default(Default::Str("AES256")),
    Prop::new(
        "kms_key",
        Ty::Str,
        "With `aws:kms` or `aws:kms:dsse`: the key (ARN, id or alias); the AWS managed key `aws/s3` when left out.",
    )
    .aws("s3:ServerSideEncryptionByDefault.KMSMasterKeyID"),
    Prop::new(
        "bucket_key",
        Ty::Bool,
        "With `aws:kms`: an S3 Bucket Key, so S3 asks KMS for far fewer data keys (lower KMS cost).",
    )
    .default(Default::Bool(false)),
]);

static PUBLIC_ACCESS_BLOCK: Ty = Ty::Obj(&[
    Prop::new("block_public_acls", Ty::Bool, "Refuse requests that set a public ACL.").default(Default::Bool(true)),
    Prop::new("ignore_public_acls", Ty::Bool, "Ignore public ACLs on the bucket and its objects.")
        .default(Default::Bool(true)),
    Prop::new("block_public_policy", Ty::Bool, "Refuse a bucket policy that grants public access.")
        .default(Default::Bool(true)),
    Prop::new(
        "restrict_public_buckets",
        Ty::Bool,
        "Only AWS services and this account reach the bucket even when its policy is public.",
    )
    .default(Default::Bool(true)),
]);

static TRANSITION: Ty = Ty::Obj(&[
    Prop::new("days", Ty::Int, "Days after an object's creation when it moves.").aws("s3:Transition.Days").required(),
    Prop::new("storage_class", Ty::Enum(STORAGE_CLASSES), "The storage class it moves to.")
        .aws("s3:Transition.StorageClass")
        .required(),
]);

static LIFECYCLE_RULE: Ty = Ty::Obj(&[
    Prop::new("id", Ty::Str, "The rule's id, unique in the bucket (at most 255 characters).")
        .aws("s3:LifecycleRule.ID")
        .required(),
    Prop::new("prefix", Ty::Str, "Only objects whose key starts with this; every object when empty.")
        .default(Default::Str("")),
    Prop::new("enabled", Ty::Bool, "Whether the rule is applied.").default(Default::Bool(true)),
    Prop::new(
        "expiration_days",
        Ty::Int,
        "Objects expire (are deleted, or get a delete marker when versioned) this many days after creation.",
    )
    .aws("s3:LifecycleExpiration.Days"),
    Prop::new(
        "noncurrent_expiration_days",
        Ty::Int,
        "With versioning: older versions are deleted this many days after they stop being current.",
    )
    .aws("s3:NoncurrentVersionExpiration.NoncurrentDays"),
    Prop::new(
        "abort_incomplete_multipart_days",
        Ty::Int,
        "Multipart uploads not completed this many days after they started are aborted (their parts cost storage).",
    )
    .aws("s3:AbortIncompleteMultipartUpload.DaysAfterInitiation"),
    Prop::new("transitions", Ty::List(&TRANSITION), "Moves to cheaper storage classes, by age.")
        .keyed(&["storage_class"])
        .default(Default::EmptyList),
]);

static CORS_RULE: Ty = Ty::Obj(&[
    Prop::new(
        "allowed_origins",
        Ty::List(&Ty::Str),
        "Origins allowed to make cross-origin requests (`*` for any; at most one `*` in each).",
    )
    .unordered()
    .required(),
    Prop::new("allowed_methods", Ty::List(&Ty::Enum(METHODS)), "The HTTP methods allowed.").unordered().required(),
    Prop::new(
        "allowed_headers",
        Ty::List(&Ty::Str),
        "Headers a preflight request may name in `Access-Control-Request-Headers`.",
    )
    .unordered()
    .default(Default::EmptyList),
    Prop::new("expose_headers", Ty::List(&Ty::Str), "Response headers browsers may let scripts read.")
        .unordered()
        .default(Default::EmptyList),
    Prop::new("max_age_seconds", Ty::Int, "How long browsers may cache the preflight answer.")
        .aws("s3:CORSRule.MaxAgeSeconds"),
]);

static SCHEMA: KindSchema = KindSchema {
    name: "bucket",
    doc: "An S3 general purpose bucket, private by default: public access blocked, ACLs disabled (bucket owner enforced), objects encrypted with S3-managed keys. Bucket names are global across all AWS accounts: the default name `<stack>-<id>` may already be taken by another account, and then the create fails; give `name` then.",
    props: &[
        Prop::new(
            "name",
            Ty::Str,
            "Bucket name: 3-63 lower-case letters, digits, `.` and `-`, globally unique across all AWS accounts. Default: `<stack>-<id>`, lower-cased (which another account may already hold).",
        )
        .aws("s3:CreateBucketRequest.Bucket")
        .replaces(),
        Prop::new(
            "versioning",
            Ty::Bool,
            "Keep every version of every object. AWS cannot turn versioning off once it was on, only suspend it: `false` on a versioned bucket suspends it (versions kept so far stay).",
        )
        .default(Default::Bool(false)),
        Prop::new("encryption", ENCRYPTION, "Default encryption of new objects (S3-managed keys unless set)."),
        Prop::new(
            "public_access_block",
            PUBLIC_ACCESS_BLOCK,
            "The bucket's public access block; every setting on unless set (AWS's default for new buckets).",
        ),
        Prop::new(
            "object_ownership",
            Ty::Enum(OWNERSHIP),
            "Who owns uploaded objects: `BucketOwnerEnforced` (ACLs disabled, the bucket owner owns all; AWS's default), `BucketOwnerPreferred`, or `ObjectWriter` (the uploading account).",
        )
        .aws("s3:OwnershipControlsRule.ObjectOwnership")
        .default(Default::Str("BucketOwnerEnforced")),
        Prop::new(
            "policy",
            Ty::Doc,
            "The bucket policy document (compared as normalised JSON). A public policy needs `public_access_block.block_public_policy: false`.",
        ),
        Prop::new("lifecycle_rules", Ty::List(&LIFECYCLE_RULE), "Lifecycle rules: expiry and storage class transitions, by prefix.")
            .keyed(&["id"])
            .default(Default::EmptyList),
        Prop::new("cors_rules", Ty::List(&CORS_RULE), "Cross-origin resource sharing rules, in the order S3 tries them.")
            .default(Default::EmptyList),
        Prop::new(
            "force_destroy",
            Ty::Bool,
            "Delete the bucket with everything it holds: every object version, delete marker and incomplete multipart upload (for sandboxes). Otherwise AWS refuses to delete a bucket that is not empty.",
        )
        .default(Default::Bool(false)),
    ],
    attrs: &[
        Attr::new("id", "The bucket name."),
        Attr::new("name", "The bucket name."),
        Attr::new("arn", "The bucket's ARN (`arn:aws:s3:::<name>`)."),
        Attr::new("domain_name", "The bucket's global domain name (`<name>.s3.amazonaws.com`)."),
        Attr::new("regional_domain_name", "The bucket's domain name in its region (`<name>.s3.<region>.amazonaws.com`)."),
    ],
    taggable: true,
};

// ---- names ----

fn default_name(stack: &str, id: &str) -> String {
    super::ecs::default_name(stack, id).to_ascii_lowercase()
}

/// What AWS's naming rules for general purpose buckets say of `name`, one message per rule
/// broken. https://docs.aws.amazon.com/AmazonS3/latest/userguide/bucketnamingrules.html
fn name_problems(name: &str) -> Vec<String> {
    let mut out = Vec::new();
    let len = name.chars().count();
    if !(3..=63).contains(&len) {
        out.push(format!("is {len} characters; a bucket name has 3 to 63"));
    }
    if let Some(c) = name.chars().find(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '.' || *c == '-')) {
        out.push(format!("has `{c}`; a bucket name has only lower-case letters, digits, `.` and `-`"));
    }
    // Upper-case letters are refused above already.
    let edge = |c: Option<char>| c.is_some_and(|c| c.is_ascii_alphanumeric());
    if !name.is_empty() && (!edge(name.chars().next()) || !edge(name.chars().last())) {
        out.push("must begin and end with a letter or digit".into());
    }
    if name.contains("..") {
        out.push("has two adjacent periods".into());
    }
    if name.parse::<std::net::Ipv4Addr>().is_ok() {
        out.push("is formatted as an IP address".into());
    }
    for prefix in ["xn--", "sthree-", "amzn-s3-demo-"] {
        if name.starts_with(prefix) {
            out.push(format!("starts with `{prefix}`, which AWS reserves"));
        }
    }
    for suffix in ["-s3alias", "--ol-s3", ".mrap", "--x-s3", "--table-s3"] {
        if name.ends_with(suffix) {
            out.push(format!("ends with `{suffix}`, which AWS reserves"));
        }
    }
    out
}

// ---- the stack's values in the shape reads report ----

/// The literal value of a written property (`Unknown` inside where it holds a reference).
fn written(e: Option<&Expr>) -> Option<Value> {
    e.map(|e| e.resolve(&|_| Value::Unknown))
}

fn fill(m: &mut Props, field: &str, v: Value) {
    if m.get(field).is_none_or(Value::is_null) {
        m.insert(field.into(), v);
    }
}

fn without_nulls(m: &mut Props) {
    m.retain(|_, v| !v.is_null());
}

fn normalised_encryption(v: Option<&Value>) -> Value {
    let mut m = v.and_then(Value::as_map).cloned().unwrap_or_default();
    fill(&mut m, "algorithm", Value::str("AES256"));
    fill(&mut m, "bucket_key", Value::Bool(false));
    without_nulls(&mut m);
    Value::Map(m)
}

fn normalised_pab(v: Option<&Value>) -> Value {
    let mut m = v.and_then(Value::as_map).cloned().unwrap_or_default();
    for f in PAB_FIELDS {
        fill(&mut m, f, Value::Bool(true));
    }
    Value::Map(m)
}

fn normalised_rules(v: Option<&Value>, defaults: &[(&str, Value)]) -> Value {
    Value::List(
        v.map(Value::as_list)
            .unwrap_or_default()
            .iter()
            .map(|item| match item {
                Value::Map(m) => {
                    let mut m = m.clone();
                    for (f, d) in defaults {
                        fill(&mut m, f, d.clone());
                    }
                    without_nulls(&mut m);
                    Value::Map(m)
                }
                other => other.clone(),
            })
            .collect(),
    )
}

/// A policy document, compared as IAM compares it (see `service::iam::canonical_policy`).
fn normalised_policy(v: Option<&Value>) -> Value {
    match v {
        None | Some(Value::Null) => Value::Null,
        Some(Value::Str(text)) => super::service::iam::parse_document(text).unwrap_or_else(|| Value::str(text)),
        Some(doc) => super::service::iam::canonical_policy(doc),
    }
}

/// Whether a policy grants access to anyone: an `Allow` statement whose principal is `*` (or
/// `{"AWS": "*"}`) with no condition. S3 calls such a policy public and, under
/// `BlockPublicPolicy`, refuses it (PutBucketPolicy: AccessDenied).
/// https://docs.aws.amazon.com/AmazonS3/latest/userguide/access-control-block-public-access.html#access-control-block-public-access-policy-status
fn is_public(policy: &Value) -> bool {
    let statements = match policy.as_map().and_then(|m| m.get("Statement")) {
        Some(Value::List(l)) => l.clone(),
        Some(s @ Value::Map(_)) => vec![s.clone()],
        _ => return false,
    };
    let star = |v: &Value| match v {
        Value::Str(s) => s == "*",
        Value::List(l) => l.iter().any(|i| i.as_str() == Some("*")),
        _ => false,
    };
    statements.iter().filter_map(Value::as_map).any(|s| {
        s.get("Effect").and_then(Value::as_str) == Some("Allow")
            && s.get("Condition").is_none_or(|c| c.is_null() || c.as_map().is_some_and(|m| m.is_empty()))
            && match s.get("Principal") {
                Some(p @ Value::Str(_)) => star(p),
                Some(Value::Map(m)) => m.get("AWS").is_some_and(star),
                _ => false,
            }
    })
}

// ---- AWS's rules on lifecycle, CORS and encryption ----

/// The transition waterfall: a rule moves objects only further down it.
/// https://docs.aws.amazon.com/AmazonS3/latest/userguide/lifecycle-transition-general-considerations.html
fn waterfall(class: &str) -> usize {
    STORAGE_CLASSES.iter().position(|c| *c == class).unwrap_or(usize::MAX)
}

fn lifecycle_problems(rules: &[Value], out: &mut Vec<Problem>) {
    if rules.len() > 1000 {
        out.push(Problem::new("lifecycle_rules", format!("{} rules; a bucket has at most 1,000", rules.len())));
    }
    let mut seen: HashMap<&str, usize> = HashMap::new();
    for (i, rule) in rules.iter().enumerate() {
        let Some(r) = rule.as_map() else { continue };
        let at = format!("lifecycle_rules.{i}");
        if let Some(id) = r.get("id").and_then(Value::as_str) {
            if id.chars().count() > 255 {
                out.push(Problem::new(format!("{at}.id"), "a rule id has at most 255 characters"));
            }
            if let Some(first) = seen.insert(id, i) {
                out.push(Problem::new(
                    format!("{at}.id"),
                    format!("rule id `{id}` is used by lifecycle_rules.{first} too; ids are unique in a bucket"),
                ));
            }
        }
        if r.get("prefix").and_then(Value::as_str).is_some_and(|p| p.len() > 1024) {
            out.push(Problem::new(format!("{at}.prefix"), "a prefix has at most 1,024 bytes"));
        }
        let int = |f: &str| r.get(f).and_then(Value::as_i64);
        for f in ["expiration_days", "noncurrent_expiration_days", "abort_incomplete_multipart_days"] {
            if let Some(n) = int(f).filter(|n| *n < 1) {
                out.push(Problem::new(format!("{at}.{f}"), format!("{f} must be at least 1 (is {n})")));
            }
        }
        let transitions = r.get("transitions").map(Value::as_list).unwrap_or_default();
        let acts = ["expiration_days", "noncurrent_expiration_days", "abort_incomplete_multipart_days"]
            .iter()
            .any(|f| r.get(*f).is_some_and(|v| !v.is_null()))
            || !transitions.is_empty();
        if !acts {
            out.push(Problem::new(at.clone(), "the rule has no action; AWS refuses it (MalformedXML)").help(
                "give expiration_days, noncurrent_expiration_days, abort_incomplete_multipart_days or transitions",
            ));
        }
        let mut steps: Vec<(i64, &str, usize)> = transitions
            .iter()
            .enumerate()
            .filter_map(|(j, t)| {
                let t = t.as_map()?;
                Some((t.get("days")?.as_i64()?, t.get("storage_class")?.as_str()?, j))
            })
            .collect();
        for (days, class, j) in &steps {
            let here = format!("{at}.transitions.{j}");
            if *days < 0 {
                out.push(Problem::new(format!("{here}.days"), format!("days must be at least 0 (is {days})")));
            }
            if matches!(*class, "STANDARD_IA" | "ONEZONE_IA") && *days < 30 {
                out.push(Problem::new(
                    format!("{here}.days"),
                    format!("AWS moves objects to {class} only after 30 days in S3 Standard (days is {days})"),
                ));
            }
        }
        steps.sort_by_key(|(days, _, _)| *days);
        for pair in steps.windows(2) {
            let ((d1, c1, _), (d2, c2, j2)) = (pair[0], pair[1]);
            let here = format!("{at}.transitions.{j2}");
            if c1 == c2 {
                out.push(Problem::new(here, format!("two transitions to {c1}; one per storage class")));
            } else if waterfall(c2) < waterfall(c1) || d1 == d2 {
                out.push(Problem::new(
                    here,
                    format!(
                        "objects move down the storage classes ({}): {c2} cannot follow {c1} (on day {d2})",
                        STORAGE_CLASSES.join(" > ")
                    ),
                ));
            } else if matches!(c1, "STANDARD_IA" | "ONEZONE_IA") && d2 - d1 < 30 {
                out.push(Problem::new(
                    format!("{here}.days"),
                    format!("objects stay at least 30 days in {c1} before moving on: {c2} on day {d2} is {} days after {c1} on day {d1}", d2 - d1),
                ));
            }
        }
        if let (Some(exp), Some((last, class, _))) = (int("expiration_days"), steps.last())
            && exp <= *last
        {
            out.push(Problem::new(
                format!("{at}.expiration_days"),
                format!(
                    "objects expire on day {exp}, not after their transition to {class} on day {last}; AWS refuses it"
                ),
            ));
        }
    }
}

fn cors_problems(rules: &[Value], out: &mut Vec<Problem>) {
    if rules.len() > 100 {
        out.push(Problem::new("cors_rules", format!("{} rules; a bucket has at most 100", rules.len())));
    }
    for (i, rule) in rules.iter().enumerate() {
        let Some(r) = rule.as_map() else { continue };
        for f in ["allowed_origins", "allowed_headers"] {
            for (j, v) in r.get(f).map(Value::as_list).unwrap_or_default().iter().enumerate() {
                if v.as_str().is_some_and(|s| s.matches('*').count() > 1) {
                    out.push(Problem::new(format!("cors_rules.{i}.{f}.{j}"), "at most one `*` wildcard in each"));
                }
            }
        }
        if r.get("allowed_origins").is_some_and(|o| matches!(o, Value::List(l) if l.is_empty())) {
            out.push(Problem::new(format!("cors_rules.{i}.allowed_origins"), "at least one origin"));
        }
        if r.get("allowed_methods").is_some_and(|o| matches!(o, Value::List(l) if l.is_empty())) {
            out.push(Problem::new(format!("cors_rules.{i}.allowed_methods"), "at least one method"));
        }
        if let Some(n) = r.get("max_age_seconds").and_then(Value::as_i64).filter(|n| *n < 0) {
            out.push(Problem::new(format!("cors_rules.{i}.max_age_seconds"), format!("must be at least 0 (is {n})")));
        }
    }
}

fn encryption_problems(enc: &Props, out: &mut Vec<Problem>) {
    let algorithm = enc.get("algorithm").and_then(Value::as_str).unwrap_or("AES256");
    if enc.get("kms_key").is_some_and(|k| !k.is_null()) && algorithm == "AES256" {
        out.push(
            Problem::new("encryption.kms_key", "`kms_key` is used only with `aws:kms` or `aws:kms:dsse`")
                .help("set `algorithm: aws:kms`, or remove `kms_key`"),
        );
    }
    if enc.get("bucket_key").and_then(Value::as_bool) == Some(true) && algorithm != "aws:kms" {
        out.push(Problem::new(
            "encryption.bucket_key",
            format!("S3 Bucket Keys work with `aws:kms` only (algorithm is {algorithm})"),
        ));
    }
}

// ---- reading ----

fn arn(name: &str) -> String {
    format!("arn:aws:s3:::{name}")
}

fn built<T, E: std::fmt::Display>(r: Result<T, E>) -> Result<T, AwsError> {
    r.map_err(|e| AwsError::Invalid(e.to_string()))
}

/// Whether a classified error carries exactly this S3 error code.
fn has_code(e: &AwsError, code: &str) -> bool {
    let text = match e {
        AwsError::NotFound(m)
        | AwsError::Throttled(m)
        | AwsError::InUse(m)
        | AwsError::AlreadyExists(m)
        | AwsError::Transient(m)
        | AwsError::Ambiguous(m)
        | AwsError::Blocked(m)
        | AwsError::Invalid(m)
        | AwsError::Failed(m) => m,
        AwsError::WaitTimeout { .. } => return false,
    };
    text == code || text.starts_with(&format!("{code}:"))
}

/// A configuration read: `Ok(None)` where S3 answers that the bucket has none (`absent`, e.g.
/// NoSuchBucketPolicy), which is not a failure.
fn configured<T>(r: Result<T, AwsError>, absent: &str) -> Result<Option<T>, AwsError> {
    match r {
        Ok(t) => Ok(Some(t)),
        Err(e) if has_code(&e, absent) => Ok(None),
        Err(e) => Err(e),
    }
}

fn sdk_tags(tags: &Tags) -> Result<Vec<Tag>, AwsError> {
    tags.iter().map(|(k, v)| built(Tag::builder().key(k).value(v).build())).collect()
}

/// GetBucketTagging; a bucket without tags answers NoSuchTagSet.
async fn tags_of(cx: &Cx, name: &str) -> Result<Tags, AwsError> {
    let out = configured(client(cx).get_bucket_tagging().bucket(name).send().await.map_err(classify), "NoSuchTagSet")?;
    Ok(crate::model::without_aws_tags(out.iter().flat_map(|o| o.tag_set()).map(|t| (t.key(), t.value()))))
}

/// The buckets of the stack's region, with their creation times: ListBuckets, 10,000 per page
/// (AWS answers unpaginated only in accounts at the default quota), restricted to the region by
/// `BucketRegion` (other regions' buckets answer every configuration read with a redirect).
async fn list(cx: &Cx, prefix: Option<&str>) -> Result<Vec<(String, Option<std::time::SystemTime>)>, AwsError> {
    let op =
        client(cx).list_buckets().max_buckets(10_000).bucket_region(&cx.region).set_prefix(prefix.map(str::to_owned));
    let buckets = crate::aws::all_items(op.into_paginator().items().send()).await?;
    Ok(buckets
        .iter()
        .filter_map(|b| Some((b.name()?.to_owned(), super::sdk_time(b.creation_date()))))
        .filter(|(n, _)| prefix.is_none_or(|p| n == p))
        .collect())
}

/// The bucket's configuration as properties: seven reads, made together. The "not configured"
/// answers are values (no policy, no rules, nothing blocked), not failures.
async fn config(cx: &Cx, name: &str) -> Result<Props, AwsError> {
    let s3 = client(cx);
    let (versioning, encryption, pab, ownership, policy, lifecycle, cors) = tokio::try_join!(
        async { s3.get_bucket_versioning().bucket(name).send().await.map_err(classify) },
        async {
            configured(
                s3.get_bucket_encryption().bucket(name).send().await.map_err(classify),
                "ServerSideEncryptionConfigurationNotFoundError",
            )
        },
        async {
            configured(
                s3.get_public_access_block().bucket(name).send().await.map_err(classify),
                "NoSuchPublicAccessBlockConfiguration",
            )
        },
        async {
            configured(
                s3.get_bucket_ownership_controls().bucket(name).send().await.map_err(classify),
                "OwnershipControlsNotFoundError",
            )
        },
        async { configured(s3.get_bucket_policy().bucket(name).send().await.map_err(classify), "NoSuchBucketPolicy") },
        async {
            configured(
                s3.get_bucket_lifecycle_configuration().bucket(name).send().await.map_err(classify),
                "NoSuchLifecycleConfiguration",
            )
        },
        async {
            configured(s3.get_bucket_cors().bucket(name).send().await.map_err(classify), "NoSuchCORSConfiguration")
        },
    )?;
    let mut p = Props::new();
    p.insert("name".into(), Value::str(name));
    // Never versioned: no status. Suspended: versions kept, none made.
    p.insert("versioning".into(), Value::Bool(versioning.status() == Some(&BucketVersioningStatus::Enabled)));
    let rule =
        encryption.as_ref().and_then(|e| e.server_side_encryption_configuration()).and_then(|c| c.rules().first());
    p.insert(
        "encryption".into(),
        match rule.and_then(|r| r.apply_server_side_encryption_by_default().map(|d| (r, d))) {
            None => Value::Null,
            Some((r, d)) => {
                let mut m = Props::new();
                m.insert("algorithm".into(), Value::str(d.sse_algorithm().as_str()));
                if let Some(k) = d.kms_master_key_id() {
                    m.insert("kms_key".into(), Value::str(k));
                }
                m.insert("bucket_key".into(), Value::Bool(r.bucket_key_enabled().unwrap_or(false)));
                Value::Map(m)
            }
        },
    );
    // None configured: nothing blocked.
    let block = pab.as_ref().and_then(|o| o.public_access_block_configuration());
    let flags = [
        block.and_then(|b| b.block_public_acls()),
        block.and_then(|b| b.ignore_public_acls()),
        block.and_then(|b| b.block_public_policy()),
        block.and_then(|b| b.restrict_public_buckets()),
    ];
    p.insert(
        "public_access_block".into(),
        Value::Map(
            PAB_FIELDS.iter().zip(flags).map(|(f, v)| ((*f).to_owned(), Value::Bool(v.unwrap_or(false)))).collect(),
        ),
    );
    // No ownership controls: the behaviour of buckets made before they existed, ObjectWriter.
    let owner = ownership.as_ref().and_then(|o| o.ownership_controls()).and_then(|c| c.rules().first());
    p.insert("object_ownership".into(), Value::str(owner.map_or("ObjectWriter", |r| r.object_ownership().as_str())));
    p.insert("policy".into(), normalised_policy(policy.as_ref().and_then(|o| o.policy()).map(Value::str).as_ref()));
    let rules = lifecycle.as_ref().map(|l| l.rules()).unwrap_or_default();
    p.insert("lifecycle_rules".into(), Value::List(rules.iter().map(lifecycle_value).collect()));
    let cors = cors.as_ref().map(|c| c.cors_rules()).unwrap_or_default();
    p.insert("cors_rules".into(), Value::List(cors.iter().map(cors_value).collect()));
    crate::plan::canonical(&SCHEMA, &mut p);
    Ok(p)
}

fn lifecycle_value(r: &LifecycleRule) -> Value {
    let mut m = Props::new();
    m.insert("id".into(), Value::str(r.id().unwrap_or_default()));
    #[allow(deprecated)]
    let prefix = r.filter().and_then(|f| f.prefix()).or(r.prefix()).unwrap_or_default();
    m.insert("prefix".into(), Value::str(prefix));
    m.insert("enabled".into(), Value::Bool(r.status() == &ExpirationStatus::Enabled));
    let mut int = |f: &str, v: Option<i32>| {
        if let Some(v) = v {
            m.insert(f.into(), Value::Int(v.into()));
        }
    };
    int("expiration_days", r.expiration().and_then(|e| e.days()));
    int("noncurrent_expiration_days", r.noncurrent_version_expiration().and_then(|e| e.noncurrent_days()));
    int(
        "abort_incomplete_multipart_days",
        r.abort_incomplete_multipart_upload().and_then(|a| a.days_after_initiation()),
    );
    let transitions = r
        .transitions()
        .iter()
        .map(|t| {
            let mut m = Props::new();
            m.insert("days".into(), t.days().map_or(Value::Null, |d| Value::Int(d.into())));
            m.insert("storage_class".into(), Value::str(t.storage_class().map(|c| c.as_str()).unwrap_or_default()));
            Value::Map(m)
        })
        .collect();
    m.insert("transitions".into(), Value::List(transitions));
    Value::Map(m)
}

fn cors_value(r: &CorsRule) -> Value {
    let mut m = Props::new();
    let strs = |l: &[String]| Value::List(l.iter().map(Value::str).collect());
    m.insert("allowed_origins".into(), strs(r.allowed_origins()));
    m.insert("allowed_methods".into(), strs(r.allowed_methods()));
    m.insert("allowed_headers".into(), strs(r.allowed_headers()));
    m.insert("expose_headers".into(), strs(r.expose_headers()));
    if let Some(n) = r.max_age_seconds() {
        m.insert("max_age_seconds".into(), Value::Int(n.into()));
    }
    Value::Map(m)
}

fn live(cx: &Cx, name: &str, created: Option<std::time::SystemTime>, props: Props, tags: Tags) -> Live {
    let mut attrs = Props::new();
    attrs.insert("id".into(), Value::str(name));
    attrs.insert("name".into(), Value::str(name));
    attrs.insert("arn".into(), Value::str(arn(name)));
    attrs.insert("domain_name".into(), Value::str(format!("{name}.s3.amazonaws.com")));
    attrs.insert("regional_domain_name".into(), Value::str(format!("{name}.s3.{}.amazonaws.com", cx.region)));
    super::set_created(&mut attrs, created);
    Live { physical_id: name.to_owned(), props, attrs, tags }
}

/// One bucket as a refresh reads it: ListBuckets by its name, its tags, its configuration.
async fn read_back(cx: &Cx, name: &str) -> Result<Live, AwsError> {
    let (found, tags, props) = tokio::try_join!(list(cx, Some(name)), tags_of(cx, name), config(cx, name))?;
    let created = found.first().and_then(|(_, c)| *c);
    Ok(live(cx, name, created, props, tags))
}

// ---- writing ----

async fn put_tags(cx: &Cx, name: &str, tags: &Tags) -> Result<(), AwsError> {
    let tagging = built(Tagging::builder().set_tag_set(Some(sdk_tags(tags)?)).build())?;
    client(cx).put_bucket_tagging().bucket(name).tagging(tagging).send().await.map(drop).map_err(classify)
}

async fn put_pab(cx: &Cx, name: &str, p: &Props) -> Result<(), AwsError> {
    let pab = normalised_pab(p.get("public_access_block"));
    let on = |f: &str| pab.as_map().and_then(|m| m.get(f)).and_then(Value::as_bool).unwrap_or(true);
    let conf = PublicAccessBlockConfiguration::builder()
        .block_public_acls(on("block_public_acls"))
        .ignore_public_acls(on("ignore_public_acls"))
        .block_public_policy(on("block_public_policy"))
        .restrict_public_buckets(on("restrict_public_buckets"))
        .build();
    client(cx)
        .put_public_access_block()
        .bucket(name)
        .public_access_block_configuration(conf)
        .send()
        .await
        .map(drop)
        .map_err(classify)
}

async fn put_encryption(cx: &Cx, name: &str, p: &Props) -> Result<(), AwsError> {
    let enc = normalised_encryption(p.get("encryption"));
    let enc = enc.as_map().cloned().unwrap_or_default();
    let algorithm = enc.get("algorithm").and_then(Value::as_str).unwrap_or("AES256");
    let by_default = built(
        ServerSideEncryptionByDefault::builder()
            .sse_algorithm(ServerSideEncryption::from(algorithm))
            .set_kms_master_key_id(enc.get("kms_key").and_then(Value::as_str).map(str::to_owned))
            .build(),
    )?;
    let rule = ServerSideEncryptionRule::builder()
        .apply_server_side_encryption_by_default(by_default)
        .bucket_key_enabled(enc.get("bucket_key").and_then(Value::as_bool).unwrap_or(false))
        .build();
    let conf = built(ServerSideEncryptionConfiguration::builder().rules(rule).build())?;
    client(cx)
        .put_bucket_encryption()
        .bucket(name)
        .server_side_encryption_configuration(conf)
        .send()
        .await
        .map(drop)
        .map_err(classify)
}

/// Versioning on, or suspended: S3 has no "off" once a bucket was versioned.
async fn put_versioning(cx: &Cx, name: &str, on: bool) -> Result<(), AwsError> {
    let status = if on { BucketVersioningStatus::Enabled } else { BucketVersioningStatus::Suspended };
    let conf = VersioningConfiguration::builder().status(status).build();
    client(cx)
        .put_bucket_versioning()
        .bucket(name)
        .versioning_configuration(conf)
        .send()
        .await
        .map(drop)
        .map_err(classify)
}

fn ownership(p: &Props) -> ObjectOwnership {
    ObjectOwnership::from(p.get("object_ownership").and_then(Value::as_str).unwrap_or("BucketOwnerEnforced"))
}

async fn put_ownership(cx: &Cx, name: &str, p: &Props) -> Result<(), AwsError> {
    let rule = built(OwnershipControlsRule::builder().object_ownership(ownership(p)).build())?;
    let conf = built(OwnershipControls::builder().rules(rule).build())?;
    client(cx)
        .put_bucket_ownership_controls()
        .bucket(name)
        .ownership_controls(conf)
        .send()
        .await
        .map(drop)
        .map_err(classify)
}

async fn put_policy(cx: &Cx, name: &str, p: &Props) -> Result<(), AwsError> {
    let s3 = client(cx);
    match p.get("policy").filter(|v| !v.is_null()) {
        Some(doc) => {
            let text = serde_json::Value::from(doc).to_string();
            s3.put_bucket_policy().bucket(name).policy(text).send().await.map(drop).map_err(classify)
        }
        None => super::gone_ok(s3.delete_bucket_policy().bucket(name).send().await.map_err(classify)),
    }
}

fn lifecycle_rule(v: &Value) -> Result<LifecycleRule, AwsError> {
    let empty = Props::new();
    let r = v.as_map().unwrap_or(&empty);
    let int = |f: &str| r.get(f).and_then(Value::as_i64).map(|n| n as i32);
    let transitions = r
        .get("transitions")
        .map(Value::as_list)
        .unwrap_or_default()
        .iter()
        .filter_map(Value::as_map)
        .map(|t| {
            Transition::builder()
                .set_days(t.get("days").and_then(Value::as_i64).map(|n| n as i32))
                .set_storage_class(t.get("storage_class").and_then(Value::as_str).map(TransitionStorageClass::from))
                .build()
        })
        .collect::<Vec<_>>();
    let prefix = r.get("prefix").and_then(Value::as_str).unwrap_or_default();
    let enabled = r.get("enabled").and_then(Value::as_bool).unwrap_or(true);
    built(
        LifecycleRule::builder()
            .set_id(r.get("id").and_then(Value::as_str).map(str::to_owned))
            .filter(LifecycleRuleFilter::builder().prefix(prefix).build())
            .status(if enabled { ExpirationStatus::Enabled } else { ExpirationStatus::Disabled })
            .set_expiration(int("expiration_days").map(|d| LifecycleExpiration::builder().days(d).build()))
            .set_noncurrent_version_expiration(
                int("noncurrent_expiration_days")
                    .map(|d| NoncurrentVersionExpiration::builder().noncurrent_days(d).build()),
            )
            .set_abort_incomplete_multipart_upload(
                int("abort_incomplete_multipart_days")
                    .map(|d| AbortIncompleteMultipartUpload::builder().days_after_initiation(d).build()),
            )
            .set_transitions((!transitions.is_empty()).then_some(transitions))
            .build(),
    )
}

async fn put_lifecycle(cx: &Cx, name: &str, p: &Props) -> Result<(), AwsError> {
    let s3 = client(cx);
    let rules = p.get("lifecycle_rules").map(Value::as_list).unwrap_or_default();
    if rules.is_empty() {
        return super::gone_ok(s3.delete_bucket_lifecycle().bucket(name).send().await.map_err(classify));
    }
    let rules = rules.iter().map(lifecycle_rule).collect::<Result<Vec<_>, _>>()?;
    let conf = built(BucketLifecycleConfiguration::builder().set_rules(Some(rules)).build())?;
    s3.put_bucket_lifecycle_configuration()
        .bucket(name)
        .lifecycle_configuration(conf)
        .send()
        .await
        .map(drop)
        .map_err(classify)
}

fn cors_rule(v: &Value) -> Result<CorsRule, AwsError> {
    let empty = Props::new();
    let r = v.as_map().unwrap_or(&empty);
    let strs = |f: &str| r.get(f).map(Value::string_list).filter(|l| !l.is_empty());
    built(
        CorsRule::builder()
            .set_allowed_origins(strs("allowed_origins"))
            .set_allowed_methods(strs("allowed_methods"))
            .set_allowed_headers(strs("allowed_headers"))
            .set_expose_headers(strs("expose_headers"))
            .set_max_age_seconds(r.get("max_age_seconds").and_then(Value::as_i64).map(|n| n as i32))
            .build(),
    )
}

async fn put_cors(cx: &Cx, name: &str, p: &Props) -> Result<(), AwsError> {
    let s3 = client(cx);
    let rules = p.get("cors_rules").map(Value::as_list).unwrap_or_default();
    if rules.is_empty() {
        return super::gone_ok(s3.delete_bucket_cors().bucket(name).send().await.map_err(classify));
    }
    let rules = rules.iter().map(cors_rule).collect::<Result<Vec<_>, _>>()?;
    let conf = built(CorsConfiguration::builder().set_cors_rules(Some(rules)).build())?;
    s3.put_bucket_cors().bucket(name).cors_configuration(conf).send().await.map(drop).map_err(classify)
}

/// Whether the bucket answers HeadBucket (`None`: it does not exist, or not yet).
async fn head(cx: &Cx, name: &str) -> Result<Option<()>, AwsError> {
    match client(cx).head_bucket().bucket(name).send().await {
        Ok(_) => Ok(Some(())),
        Err(e) if e.as_service_error().is_some_and(|s| s.is_not_found()) => Ok(None),
        Err(e) => match classify(e) {
            AwsError::NotFound(_) => Ok(None),
            e => Err(e),
        },
    }
}

/// What keeps a bucket from being deleted, as counted from the first 1,000 entries of
/// ListObjectVersions: (object versions, delete markers, more than that).
async fn contents(cx: &Cx, name: &str) -> Result<(usize, usize, bool), AwsError> {
    let out = client(cx).list_object_versions().bucket(name).max_keys(1000).send().await.map_err(classify)?;
    Ok((out.versions().len(), out.delete_markers().len(), out.is_truncated().unwrap_or(false)))
}

/// Empties the bucket: every object version and delete marker (ListObjectVersions, then
/// DeleteObjects in batches of 1,000, the most one call takes), and every incomplete multipart
/// upload (ListMultipartUploads, AbortMultipartUpload). Returns how many were deleted.
async fn empty(cx: &Cx, name: &str) -> Result<usize, AwsError> {
    let s3 = client(cx);
    let mut deleted = 0;
    let (mut key_marker, mut version_marker): (Option<String>, Option<String>) = (None, None);
    loop {
        let page = s3
            .list_object_versions()
            .bucket(name)
            .max_keys(1000)
            .set_key_marker(key_marker.take())
            .set_version_id_marker(version_marker.take())
            .send()
            .await
            .map_err(classify)?;
        let ids: Vec<ObjectIdentifier> = page
            .versions()
            .iter()
            .map(|v| (v.key(), v.version_id()))
            .chain(page.delete_markers().iter().map(|m| (m.key(), m.version_id())))
            .filter_map(|(k, v)| {
                ObjectIdentifier::builder()
                    .set_key(k.map(str::to_owned))
                    .set_version_id(v.map(str::to_owned))
                    .build()
                    .ok()
            })
            .collect();
        for batch in ids.chunks(1000) {
            let delete = built(Delete::builder().set_objects(Some(batch.to_vec())).quiet(true).build())?;
            let out = s3.delete_objects().bucket(name).delete(delete).send().await.map_err(classify)?;
            if let Some(e) = out.errors().first() {
                return Err(AwsError::Failed(format!(
                    "emptying bucket {name}: {} of {} objects not deleted (first: {} {}: {})",
                    out.errors().len(),
                    batch.len(),
                    e.key().unwrap_or_default(),
                    e.code().unwrap_or_default(),
                    e.message().unwrap_or_default()
                )));
            }
            deleted += batch.len();
        }
        if !page.is_truncated().unwrap_or(false) {
            break;
        }
        key_marker = page.next_key_marker().map(str::to_owned);
        version_marker = page.next_version_id_marker().map(str::to_owned);
        if key_marker.is_none() {
            break;
        }
    }
    let (mut key_marker, mut upload_marker): (Option<String>, Option<String>) = (None, None);
    loop {
        let page = s3
            .list_multipart_uploads()
            .bucket(name)
            .set_key_marker(key_marker.take())
            .set_upload_id_marker(upload_marker.take())
            .send()
            .await
            .map_err(classify)?;
        for u in page.uploads() {
            let (Some(key), Some(id)) = (u.key(), u.upload_id()) else { continue };
            let r = s3.abort_multipart_upload().bucket(name).key(key).upload_id(id).send().await.map_err(classify);
            super::gone_ok(r)?;
        }
        if !page.is_truncated().unwrap_or(false) {
            break;
        }
        key_marker = page.next_key_marker().map(str::to_owned);
        upload_marker = page.next_upload_id_marker().map(str::to_owned);
        if key_marker.is_none() {
            break;
        }
    }
    Ok(deleted)
}

/// The bucket of that name in this account, before creating it, in us-east-1 only: there S3
/// answers a second CreateBucket of a bucket the account owns with 200 (its legacy behaviour)
/// instead of BucketAlreadyOwnedByYou, so the create alone cannot tell an existing bucket from
/// a new one. `Ok(true)`: it exists and carries this resource's ownership tags (taken);
/// `Ok(false)`: no bucket of the account has the name (or another account's: the create says).
async fn existing_in_us_east_1(cx: &Cx, req: &CreateReq<'_>, name: &str) -> Result<bool, AwsError> {
    match tags_of(cx, name).await {
        Ok(have) if super::carries_ownership(&have, req.tags) => Ok(true),
        Ok(_) => Err(taken_here(name, req.id)),
        // NoSuchBucket: free. AccessDenied: another account's (CreateBucket answers
        // BucketAlreadyExists). A redirect: this account's, in another region (CreateBucket
        // answers BucketAlreadyOwnedByYou).
        Err(_) => Ok(false),
    }
}

fn taken_here(name: &str, id: &str) -> AwsError {
    AwsError::AlreadyExists(format!(
        "bucket {name} exists in this account and was not created for {id}: choose another `name`, or `adopt: true`"
    ))
}

impl KindSpec for Bucket {
    fn schema(&self) -> &'static KindSchema {
        &SCHEMA
    }

    /// AWS's rules, before anything is sent: the bucket naming rules (on the default name too),
    /// names unique within the stack (they are global), a public policy under
    /// `block_public_policy`, encryption settings that go together, lifecycle rules S3 refuses
    /// (days, transition order, expiration after transitions) and CORS limits.
    fn check(&self, s: &Subject) -> Vec<Problem> {
        let mut out = Vec::new();
        match s.get("name") {
            None | Some(Expr::Lit(Value::Null)) => {
                let n = default_name(s.stack.name(), s.id);
                for m in name_problems(&n) {
                    out.push(
                        Problem::new("", format!("the default bucket name `{n}` (`<stack>-<id>`) {m}"))
                            .help("give `name`"),
                    );
                }
            }
            Some(Expr::Lit(Value::Str(n))) => {
                for m in name_problems(n) {
                    out.push(Problem::new("name", format!("bucket name `{n}` {m}")));
                }
            }
            _ => {}
        }
        let stack = s.stack.name();
        let name_of = |id: &str, p: &crate::expr::ExprMap| match p.get("name") {
            None | Some(Expr::Lit(Value::Null)) => Some(default_name(stack, id)),
            e => crate::spec::rules::lit_str(e).map(str::to_owned),
        };
        if let Some((other, name)) = crate::spec::rules::earlier_with_same_name(s, "bucket", name_of) {
            out.push(Problem::new(
                "name",
                format!("bucket `{other}` is named `{name}` too; bucket names are unique across all of AWS"),
            ));
        }
        if let Some(Value::Map(enc)) = written(s.get("encryption")) {
            encryption_problems(&enc, &mut out);
        }
        let block_policy = match written(s.get("public_access_block")) {
            Some(Value::Map(m)) => m.get("block_public_policy").and_then(Value::as_bool).unwrap_or(true),
            _ => true,
        };
        if let Some(policy) = written(s.get("policy"))
            && block_policy
            && is_public(&normalised_policy(Some(&policy)))
        {
            out.push(
                Problem::new(
                    "policy",
                    "the policy grants public access (Principal `*` without a condition); with `block_public_policy` on, AWS refuses it",
                )
                .help("narrow the principal or add a condition, or set `public_access_block.block_public_policy: false` (and `restrict_public_buckets: false` for it to take effect)"),
            );
        }
        if let Some(Value::List(rules)) = written(s.get("lifecycle_rules")) {
            lifecycle_problems(&rules, &mut out);
        }
        if let Some(Value::List(rules)) = written(s.get("cors_rules")) {
            cors_problems(&rules, &mut out);
        }
        out
    }

    fn normalise(&self, stack: &str, id: &str, props: &mut Props) {
        if props.get("name").is_none_or(Value::is_null) {
            props.insert("name".into(), Value::str(default_name(stack, id)));
        }
        let enc = normalised_encryption(props.get("encryption"));
        props.insert("encryption".into(), enc);
        let pab = normalised_pab(props.get("public_access_block"));
        props.insert("public_access_block".into(), pab);
        let policy = normalised_policy(props.get("policy"));
        props.insert("policy".into(), policy);
        let lifecycle = normalised_rules(
            props.get("lifecycle_rules"),
            &[("prefix", Value::str("")), ("enabled", Value::Bool(true)), ("transitions", Value::List(vec![]))],
        );
        props.insert("lifecycle_rules".into(), lifecycle);
        let cors = normalised_rules(
            props.get("cors_rules"),
            &[("allowed_headers", Value::List(vec![])), ("expose_headers", Value::List(vec![]))],
        );
        props.insert("cors_rules".into(), cors);
    }

    /// A resend of CreateBucket cannot make a second bucket (the name is the identity): it is
    /// answered BucketAlreadyOwnedByYou (200 in us-east-1), and the create takes the bucket when
    /// it carries this resource's ownership tags, which travel in the create.
    fn create_is_idempotent(&self) -> bool {
        true
    }

    /// Bucket ARNs have no region, account or resource type: `arn:aws:s3:::<name>`.
    fn arn(&self) -> Option<(&'static str, &'static str)> {
        Some(("s3", ""))
    }

    fn refusals(&self) -> Refusals {
        Refusals::Modelled(&[("s3", "DeleteBucket"), ("s3", "CreateBucket")])
    }
}

/// Buckets read at once (each read is seven calls).
const READS_AT_ONCE: usize = 4;

#[async_trait]
impl Kind for Bucket {
    /// S3 has no batch describe of bucket configurations. One paginated ListBuckets for the
    /// stack's region finds the buckets; their tags come from the refresh's Tagging API index
    /// (GetBucketTagging only for recorded buckets the index lacks or disagrees on). Then each
    /// owned bucket (recorded, or tagged with the stack) costs seven reads, made together, a few
    /// buckets at a time: GetBucketVersioning, GetBucketEncryption, GetPublicAccessBlock,
    /// GetBucketOwnershipControls, GetBucketPolicy, GetBucketLifecycleConfiguration and
    /// GetBucketCors. Objects are never read.
    async fn read_many(&self, cx: &Cx, ids: &[String]) -> Result<Vec<Live>, AwsError> {
        let buckets = list(cx, None).await?;
        let every = ids.is_empty() || tagging::has_index(cx).await;
        let candidates: Vec<(String, String)> =
            buckets.iter().filter(|(n, _)| every || ids.contains(n)).map(|(n, _)| (n.clone(), arn(n))).collect();
        let mut tags = tagging::tags_by_id(cx, &candidates, |arns| {
            tagging::each(arns, |a| async move { tags_of(cx, a.trim_start_matches("arn:aws:s3:::")).await })
        })
        .await?;
        let owned: Vec<(String, Option<std::time::SystemTime>, Tags)> = buckets
            .into_iter()
            .filter_map(|(n, created)| {
                let t = tags.remove(&n)?;
                (ids.contains(&n) || t.get(TAG_STACK).map(String::as_str) == Some(cx.stack.as_str()))
                    .then_some((n, created, t))
            })
            .collect();
        let reads = futures_util::stream::iter(owned)
            .map(|(n, created, t)| async move {
                match config(cx, &n).await {
                    Ok(p) => Ok(Some(live(cx, &n, created, p, t))),
                    // Deleted between the listing and the read.
                    Err(e) if has_code(&e, "NoSuchBucket") => Ok(None),
                    Err(e) => Err(e),
                }
            })
            .buffer_unordered(READS_AT_ONCE);
        let mut found: Vec<Live> = reads.try_filter_map(|l| async move { Ok(l) }).try_collect().await?;
        found.sort_by(|a, b| a.physical_id.cmp(&b.physical_id));
        Ok(found)
    }

    /// CreateBucket in the stack's region (a LocationConstraint everywhere but us-east-1, where
    /// S3 refuses one), with the object ownership and the tags; then, once HeadBucket answers,
    /// the tags again (an emulator may ignore them in the create), the public access block
    /// (before the policy it may allow), encryption, versioning, policy, lifecycle and CORS.
    async fn create(&self, cx: &Cx, req: &CreateReq<'_>) -> Result<Live, AwsError> {
        let p = req.props;
        let name = p.get("name").and_then(Value::as_str).map_or_else(|| default_name(&cx.stack, req.id), str::to_owned);
        let s3 = client(cx);
        let mut adopted = cx.region == "us-east-1" && existing_in_us_east_1(cx, req, &name).await?;
        if !adopted {
            let mut conf = CreateBucketConfiguration::builder().set_tags(Some(sdk_tags(req.tags)?));
            if cx.region != "us-east-1" {
                conf = conf.location_constraint(BucketLocationConstraint::from(cx.region.as_str()));
            }
            let sent = s3
                .create_bucket()
                .bucket(&name)
                .create_bucket_configuration(conf.build())
                .object_ownership(ownership(p))
                .send()
                .await;
            match sent {
                Ok(_) => {}
                Err(e) if e.as_service_error().is_some_and(|s| s.is_bucket_already_owned_by_you()) => {
                    // A resend after a lost answer, or a bucket of this account made otherwise.
                    if !super::carries_ownership(&tags_of(cx, &name).await?, req.tags) {
                        return Err(taken_here(&name, req.id));
                    }
                    adopted = true;
                }
                Err(e) if e.as_service_error().is_some_and(|s| s.is_bucket_already_exists()) => {
                    return Err(AwsError::AlreadyExists(format!(
                        "bucket name {name} is taken by another AWS account (bucket names are global): give `{}` another `name`",
                        req.id
                    )));
                }
                Err(e) => return Err(classify(e)),
            }
        }
        let named = name.as_str();
        wait_until(
            &cx.wait,
            &format!("bucket {name}"),
            |m| cx.status(req.id, m),
            || async move {
                Ok(match head(cx, named).await? {
                    Some(()) => Poll::Ready(()),
                    None => Poll::Pending("not visible yet".into()),
                })
            },
        )
        .await?;
        put_tags(cx, &name, req.tags).await?;
        put_pab(cx, &name, p).await?;
        if adopted {
            put_ownership(cx, &name, p).await?;
        }
        put_encryption(cx, &name, p).await?;
        let versioned = p.get("versioning").and_then(Value::as_bool).unwrap_or(false);
        if versioned || adopted {
            put_versioning(cx, &name, versioned).await?;
        }
        let has = |f: &str| p.get(f).is_some_and(|v| !v.is_null() && !matches!(v, Value::List(l) if l.is_empty()));
        if has("policy") || adopted {
            put_policy(cx, &name, p).await?;
        }
        if has("lifecycle_rules") || adopted {
            put_lifecycle(cx, &name, p).await?;
        }
        if has("cors_rules") || adopted {
            put_cors(cx, &name, p).await?;
        }
        read_back(cx, &name).await
    }

    /// Only the configurations that changed. A policy that the new public access block allows
    /// goes after it; one the old block allowed goes before the block closes.
    async fn update(&self, cx: &Cx, req: &UpdateReq<'_>) -> Result<Live, AwsError> {
        let name = req.physical_id;
        let p = req.new;
        let changed = |f: &str| req.changed.iter().any(|c| c == f);
        let opens = normalised_pab(p.get("public_access_block"))
            .as_map()
            .and_then(|m| m.get("block_public_policy"))
            .and_then(Value::as_bool)
            == Some(false);
        if changed("tags") {
            put_tags(cx, name, req.tags).await?;
        }
        if changed("public_access_block") && opens {
            put_pab(cx, name, p).await?;
        }
        if changed("policy") {
            put_policy(cx, name, p).await?;
        }
        if changed("public_access_block") && !opens {
            put_pab(cx, name, p).await?;
        }
        if changed("object_ownership") {
            put_ownership(cx, name, p).await?;
        }
        if changed("encryption") {
            put_encryption(cx, name, p).await?;
        }
        if changed("versioning") {
            put_versioning(cx, name, p.get("versioning").and_then(Value::as_bool).unwrap_or(false)).await?;
        }
        if changed("lifecycle_rules") {
            put_lifecycle(cx, name, p).await?;
        }
        if changed("cors_rules") {
            put_cors(cx, name, p).await?;
        }
        read_back(cx, name).await
    }

    /// DeleteBucket, then wait until HeadBucket no longer finds it. With `force_destroy` (or in
    /// a teardown, which leaves nothing) the bucket is emptied first; without, AWS refuses a
    /// bucket that holds anything (BucketNotEmpty): the error says what holds it and what to do.
    async fn delete(&self, cx: &Cx, req: &DeleteReq<'_>) -> Result<(), AwsError> {
        let name = req.physical_id;
        let force = cx.purge || req.props.get("force_destroy").and_then(Value::as_bool).unwrap_or(false);
        // Something may still write while the bucket is emptied: a few rounds.
        let mut rounds = 0;
        loop {
            rounds += 1;
            if force {
                match empty(cx, name).await {
                    Ok(n) if n > 0 => cx.status(req.id, &format!("deleted {n} object versions and delete markers")),
                    Ok(_) => {}
                    Err(AwsError::NotFound(_)) => return Ok(()),
                    Err(e) => return Err(e),
                }
            }
            match client(cx).delete_bucket().bucket(name).send().await.map_err(classify) {
                Ok(_) => break,
                Err(AwsError::NotFound(_)) => return Ok(()),
                Err(e) if has_code(&e, "BucketNotEmpty") && force && rounds < 3 => continue,
                Err(e) if has_code(&e, "BucketNotEmpty") => {
                    let (versions, markers, more) = contents(cx, name).await.unwrap_or((0, 0, false));
                    let more = if more { " (at least; more not counted)" } else { "" };
                    return Err(AwsError::Blocked(format!(
                        "bucket {name} is not empty: it holds {versions} object version(s) and {markers} delete marker(s){more}; set `force_destroy: true` on `{}` (and apply) to delete them with it, or empty it first (every version: `aws s3api list-object-versions` then `delete-objects`) ({e})",
                        req.id
                    )));
                }
                Err(e) => return Err(e),
            }
        }
        wait_gone(
            cx,
            req.id,
            &format!("bucket {name} to be deleted"),
            || head(cx, name),
            |_| Poll::Pending("still answering".into()),
        )
        .await
    }
}

#[cfg(test)]
mod tests {
    use aws_sdk_s3::operation::create_bucket::{CreateBucketError, CreateBucketOutput};
    use aws_sdk_s3::operation::delete_bucket::{DeleteBucketError, DeleteBucketOutput};
    use aws_sdk_s3::operation::delete_objects::DeleteObjectsOutput;
    use aws_sdk_s3::operation::get_bucket_cors::GetBucketCorsError;
    use aws_sdk_s3::operation::get_bucket_encryption::GetBucketEncryptionError;
    use aws_sdk_s3::operation::get_bucket_lifecycle_configuration::GetBucketLifecycleConfigurationError;
    use aws_sdk_s3::operation::get_bucket_ownership_controls::GetBucketOwnershipControlsError;
    use aws_sdk_s3::operation::get_bucket_policy::{GetBucketPolicyError, GetBucketPolicyOutput};
    use aws_sdk_s3::operation::get_bucket_tagging::{GetBucketTaggingError, GetBucketTaggingOutput};
    use aws_sdk_s3::operation::get_bucket_versioning::GetBucketVersioningOutput;
    use aws_sdk_s3::operation::get_public_access_block::GetPublicAccessBlockError;
    use aws_sdk_s3::operation::head_bucket::{HeadBucketError, HeadBucketOutput};
    use aws_sdk_s3::operation::list_buckets::ListBucketsOutput;
    use aws_sdk_s3::operation::list_multipart_uploads::ListMultipartUploadsOutput;
    use aws_sdk_s3::operation::list_object_versions::ListObjectVersionsOutput;
    use aws_sdk_s3::operation::put_bucket_versioning::PutBucketVersioningOutput;
    use aws_sdk_s3::types::error::{BucketAlreadyExists, BucketAlreadyOwnedByYou, NotFound};
    use aws_sdk_s3::types::{DeleteMarkerEntry, MultipartUpload, ObjectVersion};
    use aws_sdk_s3::Client;
    use aws_smithy_mocks::{Rule, RuleMode, mock, mock_client};
    use aws_smithy_types::error::ErrorMetadata;

    use super::*;
    use crate::kinds::testing::{mocked, owned_tags, quick_waits};

    fn meta(code: &str) -> ErrorMetadata {
        ErrorMetadata::builder().code(code).message("m").build()
    }

    fn s3(rules: &[&Rule]) -> Client {
        mock_client!(aws_sdk_s3, RuleMode::MatchAny, rules)
    }

    fn cx(rules: &[&Rule]) -> Cx {
        mocked(s3(rules)).0
    }

    fn cx_in(region: &str, rules: &[&Rule]) -> Cx {
        let sdk = aws_config::SdkConfig::builder().region(aws_config::Region::new(region.to_owned())).build();
        Cx::new("s", sdk, quick_waits()).with_client(s3(rules))
    }

    fn listed(names: &[&str]) -> Rule {
        let names: Vec<String> = names.iter().map(|n| (*n).to_owned()).collect();
        mock!(Client::list_buckets).then_output(move || {
            ListBucketsOutput::builder()
                .set_buckets(Some(names.iter().map(|n| aws_sdk_s3::types::Bucket::builder().name(n).build()).collect()))
                .build()
        })
    }

    fn tagged(tags: &Tags) -> Rule {
        let set: Vec<Tag> = sdk_tags(tags).unwrap();
        mock!(Client::get_bucket_tagging)
            .then_output(move || GetBucketTaggingOutput::builder().set_tag_set(Some(set.clone())).build().unwrap())
    }

    /// The seven configuration reads of a bucket that has none configured.
    fn nothing_configured() -> Vec<Rule> {
        vec![
            mock!(Client::get_bucket_versioning).then_output(|| GetBucketVersioningOutput::builder().build()),
            mock!(Client::get_bucket_encryption).then_error(|| {
                GetBucketEncryptionError::generic(meta("ServerSideEncryptionConfigurationNotFoundError"))
            }),
            mock!(Client::get_public_access_block)
                .then_error(|| GetPublicAccessBlockError::generic(meta("NoSuchPublicAccessBlockConfiguration"))),
            mock!(Client::get_bucket_ownership_controls)
                .then_error(|| GetBucketOwnershipControlsError::generic(meta("OwnershipControlsNotFoundError"))),
            mock!(Client::get_bucket_policy).then_error(|| GetBucketPolicyError::generic(meta("NoSuchBucketPolicy"))),
            mock!(Client::get_bucket_lifecycle_configuration)
                .then_error(|| GetBucketLifecycleConfigurationError::generic(meta("NoSuchLifecycleConfiguration"))),
            mock!(Client::get_bucket_cors).then_error(|| GetBucketCorsError::generic(meta("NoSuchCORSConfiguration"))),
        ]
    }

    fn with<'a>(rules: &'a [Rule], more: &[&'a Rule]) -> Vec<&'a Rule> {
        rules.iter().chain(more.iter().copied()).collect()
    }

    #[tokio::test]
    async fn not_configured_answers_read_as_absent_not_failure() {
        let (list, tags) = (listed(&["s-b", "someone-elses"]), tagged(&owned_tags("s", "b", "t")));
        let reads = nothing_configured();
        let cx = cx(&with(&reads, &[&list, &tags]));
        let found = Bucket.read_many(&cx, &["s-b".into()]).await.unwrap();
        assert_eq!(found.len(), 1, "{found:?}");
        let b = &found[0];
        assert_eq!(b.physical_id, "s-b");
        let p = &b.props;
        assert_eq!(p["versioning"], Value::Bool(false));
        assert_eq!(p["encryption"], Value::Null);
        assert_eq!(
            p["public_access_block"],
            Value::Map(PAB_FIELDS.iter().map(|f| ((*f).to_owned(), Value::Bool(false))).collect())
        );
        assert_eq!(p["object_ownership"], Value::str("ObjectWriter"));
        assert_eq!(p["policy"], Value::Null);
        assert_eq!(p["lifecycle_rules"], Value::List(vec![]));
        assert_eq!(p["cors_rules"], Value::List(vec![]));
        assert_eq!(b.attrs["arn"], Value::str("arn:aws:s3:::s-b"));
        assert_eq!(b.attrs["regional_domain_name"], Value::str("s-b.s3.us-east-1.amazonaws.com"));
        // Each configuration read once, for the one owned bucket.
        assert!(reads.iter().all(|r| r.num_calls() == 1));
    }

    #[tokio::test]
    async fn a_bucket_deleted_after_the_listing_is_left_out_and_other_errors_fail() {
        let (list, tags) = (listed(&["s-b"]), tagged(&owned_tags("s", "b", "t")));
        let mut reads = nothing_configured();
        reads[4] = mock!(Client::get_bucket_policy).then_error(|| GetBucketPolicyError::generic(meta("NoSuchBucket")));
        let cx1 = cx(&with(&reads, &[&list, &tags]));
        assert_eq!(Bucket.read_many(&cx1, &["s-b".into()]).await.unwrap(), vec![]);

        reads[4] = mock!(Client::get_bucket_policy).then_error(|| GetBucketPolicyError::generic(meta("AccessDenied")));
        let cx2 = cx(&with(&reads, &[&list, &tags]));
        let err = Bucket.read_many(&cx2, &["s-b".into()]).await;
        assert!(matches!(err, Err(ref e) if has_code(e, "AccessDenied")), "{err:?}");
    }

    #[tokio::test]
    async fn a_policy_reads_back_normalised() {
        let (list, tags) = (listed(&["s-b"]), tagged(&owned_tags("s", "b", "t")));
        let mut reads = nothing_configured();
        reads[4] = mock!(Client::get_bucket_policy).then_output(|| {
            GetBucketPolicyOutput::builder()
                .policy(r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::123456789012:root"},"Action":"s3:GetObject","Resource":"arn:aws:s3:::s-b/*"}}"#)
                .build()
        });
        let cx = cx(&with(&reads, &[&list, &tags]));
        let found = Bucket.read_many(&cx, &["s-b".into()]).await.unwrap();
        let stack: serde_json::Value = serde_json::json!({"Version": "2012-10-17", "Statement": [{
            "Effect": "Allow", "Principal": {"AWS": ["arn:aws:iam::123456789012:root"]},
            "Action": ["s3:GetObject"], "Resource": "arn:aws:s3:::s-b/*"}]});
        let mut p = Props::from([("policy".to_owned(), Value::from(&stack))]);
        Bucket.normalise("s", "b", &mut p);
        assert_eq!(found[0].props["policy"], p["policy"]);
    }

    fn version(key: &str, id: &str) -> ObjectVersion {
        ObjectVersion::builder().key(key).version_id(id).build()
    }

    #[tokio::test]
    async fn force_destroy_deletes_every_version_and_marker_in_batches_of_1000() {
        let first =
            mock!(Client::list_object_versions).match_requests(|r| r.key_marker().is_none()).then_output(|| {
                ListObjectVersionsOutput::builder()
                    .set_versions(Some((0..1000).map(|i| version(&format!("k{i:04}"), "v1")).collect()))
                    .is_truncated(true)
                    .next_key_marker("k0999")
                    .next_version_id_marker("v1")
                    .build()
            });
        let second = mock!(Client::list_object_versions)
            .match_requests(|r| r.key_marker() == Some("k0999") && r.version_id_marker() == Some("v1"))
            .then_output(|| {
                ListObjectVersionsOutput::builder()
                    .versions(version("z", "v2"))
                    .delete_markers(DeleteMarkerEntry::builder().key("z").version_id("m1").build())
                    .is_truncated(false)
                    .build()
            });
        let thousand = mock!(Client::delete_objects)
            .match_requests(|r| r.delete().is_some_and(|d| d.objects().len() == 1000 && d.quiet() == Some(true)))
            .then_output(|| DeleteObjectsOutput::builder().build());
        let rest = mock!(Client::delete_objects)
            .match_requests(|r| {
                r.delete().is_some_and(|d| {
                    let o = d.objects();
                    o.len() == 2
                        && o.iter().any(|i| i.version_id() == Some("m1"))
                        && o.iter().any(|i| i.version_id() == Some("v2"))
                })
            })
            .then_output(|| DeleteObjectsOutput::builder().build());
        let uploads = mock!(Client::list_multipart_uploads).then_output(|| {
            ListMultipartUploadsOutput::builder()
                .uploads(MultipartUpload::builder().key("big").upload_id("u1").build())
                .build()
        });
        let abort = mock!(Client::abort_multipart_upload)
            .match_requests(|r| r.key() == Some("big") && r.upload_id() == Some("u1"))
            .then_output(|| {
                aws_sdk_s3::operation::abort_multipart_upload::AbortMultipartUploadOutput::builder().build()
            });
        let delete = mock!(Client::delete_bucket).then_output(|| DeleteBucketOutput::builder().build());
        let gone = mock!(Client::head_bucket).then_error(|| HeadBucketError::NotFound(NotFound::builder().build()));
        // MatchAny takes the first rule that matches: the specific ones first.
        let cx = cx(&[&thousand, &rest, &first, &second, &uploads, &abort, &delete, &gone]);
        let p = Props::from([("force_destroy".to_owned(), Value::Bool(true))]);
        let req = DeleteReq { id: "b", physical_id: "s-b", props: &p, attrs: &Props::new() };
        Bucket.delete(&cx, &req).await.unwrap();
        assert_eq!((thousand.num_calls(), rest.num_calls()), (1, 1));
        assert_eq!((first.num_calls(), second.num_calls()), (1, 1));
        assert_eq!(abort.num_calls(), 1);
        assert_eq!(delete.num_calls(), 1);
    }

    #[tokio::test]
    async fn a_non_empty_bucket_without_force_destroy_is_blocked_saying_what_holds_it() {
        let refused = mock!(Client::delete_bucket).then_error(|| DeleteBucketError::generic(meta("BucketNotEmpty")));
        let holds = mock!(Client::list_object_versions).then_output(|| {
            ListObjectVersionsOutput::builder()
                .versions(version("a", "v1"))
                .versions(version("a", "v2"))
                .delete_markers(DeleteMarkerEntry::builder().key("a").version_id("m1").build())
                .build()
        });
        let never = mock!(Client::delete_objects).then_output(|| DeleteObjectsOutput::builder().build());
        let cx = cx(&[&refused, &holds, &never]);
        let p = Props::from([("force_destroy".to_owned(), Value::Bool(false))]);
        let req = DeleteReq { id: "b", physical_id: "s-b", props: &p, attrs: &Props::new() };
        let err = Bucket.delete(&cx, &req).await;
        let Err(AwsError::Blocked(m)) = &err else { panic!("{err:?}") };
        assert!(m.contains("2 object version(s) and 1 delete marker(s)"), "{m}");
        assert!(m.contains("force_destroy: true") && m.contains("`b`"), "{m}");
        assert_eq!(never.num_calls(), 0, "nothing is deleted without force_destroy");
    }

    #[tokio::test]
    async fn deleting_a_bucket_that_is_gone_is_success() {
        let gone = mock!(Client::delete_bucket).then_error(|| DeleteBucketError::generic(meta("NoSuchBucket")));
        let cx = cx(&[&gone]);
        let req = DeleteReq { id: "b", physical_id: "s-b", props: &Props::new(), attrs: &Props::new() };
        assert_eq!(Bucket.delete(&cx, &req).await, Ok(()));
    }

    fn puts() -> Vec<Rule> {
        use aws_sdk_s3::operation as op;
        vec![
            mock!(Client::put_bucket_tagging)
                .then_output(|| op::put_bucket_tagging::PutBucketTaggingOutput::builder().build()),
            mock!(Client::put_public_access_block)
                .then_output(|| op::put_public_access_block::PutPublicAccessBlockOutput::builder().build()),
            mock!(Client::put_bucket_ownership_controls)
                .then_output(|| op::put_bucket_ownership_controls::PutBucketOwnershipControlsOutput::builder().build()),
            mock!(Client::put_bucket_encryption)
                .then_output(|| op::put_bucket_encryption::PutBucketEncryptionOutput::builder().build()),
            mock!(Client::put_bucket_versioning).then_output(|| PutBucketVersioningOutput::builder().build()),
            mock!(Client::delete_bucket_policy)
                .then_output(|| op::delete_bucket_policy::DeleteBucketPolicyOutput::builder().build()),
            mock!(Client::delete_bucket_lifecycle)
                .then_output(|| op::delete_bucket_lifecycle::DeleteBucketLifecycleOutput::builder().build()),
            mock!(Client::delete_bucket_cors)
                .then_output(|| op::delete_bucket_cors::DeleteBucketCorsOutput::builder().build()),
            mock!(Client::head_bucket).then_output(|| HeadBucketOutput::builder().build()),
        ]
    }

    fn create_props() -> Props {
        let mut p = Props::new();
        Bucket.normalise("s", "b", &mut p);
        p.insert("object_ownership".into(), Value::str("BucketOwnerEnforced"));
        p.insert("versioning".into(), Value::Bool(false));
        p
    }

    #[tokio::test]
    async fn already_owned_by_you_is_taken_when_it_carries_the_ownership_tags() {
        let tags = owned_tags("s", "b", "t");
        let create = mock!(Client::create_bucket)
            .match_requests(|r| {
                r.create_bucket_configuration()
                    .is_some_and(|c| c.location_constraint() == Some(&BucketLocationConstraint::EuWest1))
            })
            .then_error(|| CreateBucketError::BucketAlreadyOwnedByYou(BucketAlreadyOwnedByYou::builder().build()));
        let (list, ours) = (listed(&["s-b"]), tagged(&tags));
        let (reads, puts) = (nothing_configured(), puts());
        let all: Vec<&Rule> = with(&reads, &[&create, &list, &ours]).into_iter().chain(puts.iter()).collect();
        let cx = cx_in("eu-west-1", &all);
        let p = create_props();
        let made = Bucket.create(&cx, &CreateReq { id: "b", props: &p, tags: &tags, token: "t" }).await.unwrap();
        assert_eq!(made.physical_id, "s-b");
        assert_eq!(create.num_calls(), 1);
        // Taken: every configuration is put, so what exists becomes what the stack says.
        assert!(puts.iter().all(|r| r.num_calls() >= 1), "every configuration put");
        assert_eq!(made.attrs["regional_domain_name"], Value::str("s-b.s3.eu-west-1.amazonaws.com"));
    }

    #[tokio::test]
    async fn already_owned_by_you_without_the_tags_is_a_conflict_and_another_accounts_name_is_taken() {
        let create = mock!(Client::create_bucket)
            .then_error(|| CreateBucketError::BucketAlreadyOwnedByYou(BucketAlreadyOwnedByYou::builder().build()));
        let other = tagged(&owned_tags("other", "b", "t"));
        let cx1 = cx_in("eu-west-1", &[&create, &other]);
        let p = create_props();
        let tags = owned_tags("s", "b", "t");
        let err = Bucket.create(&cx1, &CreateReq { id: "b", props: &p, tags: &tags, token: "t" }).await;
        assert!(matches!(err, Err(AwsError::AlreadyExists(ref m)) if m.contains("not created for b")), "{err:?}");

        let taken = mock!(Client::create_bucket)
            .then_error(|| CreateBucketError::BucketAlreadyExists(BucketAlreadyExists::builder().build()));
        let cx2 = cx_in("eu-west-1", &[&taken]);
        let err = Bucket.create(&cx2, &CreateReq { id: "b", props: &p, tags: &tags, token: "t" }).await;
        assert!(matches!(err, Err(AwsError::AlreadyExists(ref m)) if m.contains("another AWS account")), "{err:?}");
    }

    #[tokio::test(start_paused = true)]
    async fn us_east_1_creates_without_a_location_and_waits_until_head_bucket_answers() {
        let tags = owned_tags("s", "b", "t");
        // Before the create: no bucket of that name in the account.
        let tagging = mock!(Client::get_bucket_tagging)
            .sequence()
            .error(|| GetBucketTaggingError::generic(meta("NoSuchBucket")))
            .output({
                let set = sdk_tags(&tags).unwrap();
                move || GetBucketTaggingOutput::builder().set_tag_set(Some(set.clone())).build().unwrap()
            })
            .repeatedly()
            .build();
        let create = mock!(Client::create_bucket)
            .match_requests(|r| {
                r.object_ownership() == Some(&ObjectOwnership::BucketOwnerEnforced)
                    && r.create_bucket_configuration()
                        .is_some_and(|c| c.location_constraint().is_none() && c.tags().len() == 3)
            })
            .then_output(|| CreateBucketOutput::builder().build());
        let head = mock!(Client::head_bucket)
            .sequence()
            .error(|| HeadBucketError::NotFound(NotFound::builder().build()))
            .output(|| HeadBucketOutput::builder().build())
            .repeatedly()
            .build();
        let list = listed(&["s-b"]);
        let (reads, puts) = (nothing_configured(), puts());
        let all: Vec<&Rule> = with(&reads, &[&tagging, &create, &head, &list]).into_iter().chain(puts.iter()).collect();
        let (cx, seen) = mocked(s3(&all));
        let p = create_props();
        Bucket.create(&cx, &CreateReq { id: "b", props: &p, tags: &tags, token: "t" }).await.unwrap();
        assert_eq!(create.num_calls(), 1);
        assert!(seen.lock().unwrap().iter().any(|m| m.contains("not visible yet")));
        // A bucket never versioned is not sent a versioning configuration; nor the ownership
        // controls that went with the create.
        assert_eq!(puts[4].num_calls(), 0);
        assert_eq!(puts[2].num_calls(), 0);
    }

    #[tokio::test]
    async fn us_east_1_refuses_an_existing_bucket_of_the_account_without_the_tags() {
        let untagged =
            mock!(Client::get_bucket_tagging).then_error(|| GetBucketTaggingError::generic(meta("NoSuchTagSet")));
        let create = mock!(Client::create_bucket).then_output(|| CreateBucketOutput::builder().build());
        let cx = cx(&[&untagged, &create]);
        let (p, tags) = (create_props(), owned_tags("s", "b", "t"));
        let err = Bucket.create(&cx, &CreateReq { id: "b", props: &p, tags: &tags, token: "t" }).await;
        assert!(matches!(err, Err(AwsError::AlreadyExists(_))), "{err:?}");
        assert_eq!(create.num_calls(), 0, "S3 would answer 200 and hand over the bucket");
    }

    #[tokio::test]
    async fn versioning_turned_off_is_suspended() {
        let suspend = mock!(Client::put_bucket_versioning)
            .match_requests(|r| {
                r.versioning_configuration().and_then(|v| v.status()) == Some(&BucketVersioningStatus::Suspended)
            })
            .then_output(|| PutBucketVersioningOutput::builder().build());
        let (list, tags) = (listed(&["s-b"]), tagged(&owned_tags("s", "b", "t")));
        let reads = nothing_configured();
        let cx = cx(&with(&reads, &[&suspend, &list, &tags]));
        let mut new = create_props();
        new.insert("versioning".into(), Value::Bool(false));
        let changed = vec!["versioning".to_owned()];
        let t = owned_tags("s", "b", "t");
        let req = UpdateReq {
            id: "b",
            physical_id: "s-b",
            old: &Props::new(),
            new: &new,
            changed: &changed,
            old_tags: &t,
            tags: &t,
        };
        Bucket.update(&cx, &req).await.unwrap();
        assert_eq!(suspend.num_calls(), 1);
    }

    #[test]
    fn names_follow_the_bucket_naming_rules() {
        for ok in ["abc", "my.bucket-1", "a".repeat(63).as_str(), "1bucket", "sthree", "x-s3"] {
            assert_eq!(name_problems(ok), Vec::<String>::new(), "{ok}");
        }
        for (bad, why) in [
            ("ab", "3 to 63"),
            (&"a".repeat(64), "3 to 63"),
            ("My-bucket", "only lower-case"),
            ("my_bucket", "only lower-case"),
            ("-bucket", "begin and end"),
            ("bucket.", "begin and end"),
            ("my..bucket", "adjacent periods"),
            ("192.168.5.4", "IP address"),
            ("xn--bucket", "`xn--`"),
            ("sthree-bucket", "`sthree-`"),
            ("amzn-s3-demo-bucket", "`amzn-s3-demo-`"),
            ("bucket-s3alias", "`-s3alias`"),
            ("bucket--ol-s3", "`--ol-s3`"),
            ("bucket.mrap", "`.mrap`"),
            ("bucket--x-s3", "`--x-s3`"),
            ("bucket--table-s3", "`--table-s3`"),
        ] {
            let found = name_problems(bad);
            assert!(found.len() == 1 && found[0].contains(why), "{bad}: {found:?}");
        }
    }

    #[test]
    fn public_policies_are_told_apart() {
        let doc = |s: serde_json::Value| normalised_policy(Some(&Value::from(&serde_json::json!({"Statement": s}))));
        assert!(is_public(&doc(serde_json::json!({"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject"}))));
        assert!(is_public(&doc(serde_json::json!([{"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "s3:*"}]))));
        assert!(!is_public(&doc(serde_json::json!({"Effect": "Deny", "Principal": "*", "Action": "s3:*"}))));
        assert!(!is_public(&doc(serde_json::json!({"Effect": "Allow", "Principal": "*", "Action": "s3:*",
            "Condition": {"StringEquals": {"aws:SourceVpce": "vpce-1"}}}))));
        assert!(!is_public(&doc(serde_json::json!({"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::1:root"}}))));
    }

    #[test]
    fn normalised_values_fill_aws_defaults() {
        let mut p = Props::from([("name".to_owned(), Value::Null)]);
        Bucket.normalise("Shop", "Web_Assets", &mut p);
        assert_eq!(p["name"], Value::str("shop-web-assets"));
        assert_eq!(p["policy"], Value::Null);
        let enc = p["encryption"].as_map().unwrap();
        assert_eq!((enc["algorithm"].as_str(), enc["bucket_key"].as_bool()), (Some("AES256"), Some(false)));
        assert!(p["public_access_block"].as_map().unwrap().values().all(|v| v == &Value::Bool(true)));
    }
}

#[cfg(test)]
mod rules {
    use crate::kinds::testing::check_rules;

    #[test]
    fn names() {
        check_rules("b: { type: bucket }", &[]);
        check_rules("b: { type: bucket, name: my.assets-1 }", &[]);
        check_rules("b: { type: bucket, name: My-Assets }", &["name | only lower-case"]);
        check_rules("b: { type: bucket, name: assets--x-s3 }", &["`--x-s3`"]);
        check_rules("b: { type: bucket, name: 10.0.0.1 }", &["IP address"]);
        check_rules(
            &format!("{}: {{ type: bucket }}", "b".repeat(62)),
            &["the default bucket name | 64 characters | give `name`"],
        );
        check_rules(
            "a: { type: bucket, name: shared }\nb: { type: bucket, name: shared }",
            &["bucket `a` is named `shared` too"],
        );
    }

    #[test]
    fn encryption() {
        check_rules("b: { type: bucket, encryption: { algorithm: aws:kms, kms_key: alias/k, bucket_key: true } }", &[]);
        check_rules("b: { type: bucket, encryption: { algorithm: aws:kms:dsse } }", &[]);
        check_rules("b: { type: bucket, encryption: { kms_key: alias/k } }", &["`kms_key` is used only with"]);
        check_rules(
            "b: { type: bucket, encryption: { algorithm: aws:kms:dsse, bucket_key: true } }",
            &["S3 Bucket Keys work with `aws:kms` only"],
        );
    }

    #[test]
    fn public_policy_under_block_public_policy() {
        let policy = r#"policy: { Version: "2012-10-17", Statement: [{ Effect: Allow, Principal: "*", Action: "s3:GetObject", Resource: "arn:aws:s3:::x/*" }] }"#;
        check_rules(&format!("b:\n  type: bucket\n  {policy}"), &["policy | grants public access"]);
        check_rules(
            &format!(
                "b:\n  type: bucket\n  public_access_block: {{ block_public_policy: false, restrict_public_buckets: false }}\n  {policy}"
            ),
            &[],
        );
    }

    #[test]
    fn lifecycle() {
        let rules = |r: &str| format!("b:\n  type: bucket\n  versioning: true\n  lifecycle_rules: [{r}]");
        check_rules(
            &rules(
                "{ id: logs, prefix: logs/, expiration_days: 365, noncurrent_expiration_days: 30, abort_incomplete_multipart_days: 7, transitions: [{ days: 30, storage_class: STANDARD_IA }, { days: 90, storage_class: GLACIER }] }",
            ),
            &[],
        );
        check_rules(&rules("{ id: a, transitions: [{ days: 0, storage_class: GLACIER }] }"), &[]);
        check_rules(
            &rules("{ id: a, transitions: [{ days: 10, storage_class: STANDARD_IA }] }"),
            &["only after 30 days in S3 Standard"],
        );
        check_rules(
            &rules("{ id: a, expiration_days: 30, transitions: [{ days: 60, storage_class: GLACIER }] }"),
            &["expire on day 30, not after their transition to GLACIER on day 60"],
        );
        check_rules(
            &rules(
                "{ id: a, transitions: [{ days: 30, storage_class: STANDARD_IA }, { days: 40, storage_class: GLACIER }] }",
            ),
            &["at least 30 days in STANDARD_IA"],
        );
        check_rules(
            &rules(
                "{ id: a, transitions: [{ days: 30, storage_class: GLACIER }, { days: 60, storage_class: STANDARD_IA }] }",
            ),
            &["STANDARD_IA cannot follow GLACIER"],
        );
        check_rules(&rules("{ id: a, prefix: tmp/ }"), &["no action"]);
        check_rules(
            &rules("{ id: a, expiration_days: 1 }, { id: a, expiration_days: 2 }"),
            &["rule id `a` is used by lifecycle_rules.0 too"],
        );
        check_rules(&rules("{ id: a, expiration_days: 0 }"), &["expiration_days must be at least 1"]);
    }

    #[test]
    fn cors() {
        check_rules(
            "b: { type: bucket, cors_rules: [{ allowed_origins: [\"https://*.example.com\"], allowed_methods: [GET, HEAD], max_age_seconds: 3000 }] }",
            &[],
        );
        check_rules(
            "b: { type: bucket, cors_rules: [{ allowed_origins: [\"https://*.*.com\"], allowed_methods: [GET] }] }",
            &["at most one `*`"],
        );
        check_rules(
            "b: { type: bucket, cors_rules: [{ allowed_origins: [\"*\"], allowed_methods: [PATCH] }] }",
            &["PATCH"],
        );
    }
}
