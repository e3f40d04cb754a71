use std::collections::HashMap;

use async_trait::async_trait;
use aws_sdk_ecr::Client;
use aws_sdk_ecr::types::{
    EncryptionConfiguration, EncryptionType, ImageScanningConfiguration, ImageTagMutability, Repository, Tag,
};

use super::{CreateReq, DeleteReq, Kind, Live, Tags, UpdateReq, tag_changes};
use crate::aws::{AwsError, Cx, classify, tagging};
use crate::schema::{Attr, Default, KindSchema, Prop, Ty};
use crate::spec::rules::default_name_fits;
use crate::spec::{KindSpec, Problem, Refusals, Subject};
use crate::value::{Props, Value};

pub struct EcrRepository;

static LIFECYCLE: Ty = Ty::Obj(&[
    Prop::new("keep_last", Ty::Int, "Keep this many most recent images; older ones expire."),
    Prop::new("expire_untagged_days", Ty::Int, "Untagged images expire this many days after they were pushed."),
]);

static SCHEMA: KindSchema = KindSchema {
    name: "ecr_repository",
    doc: "An ECR private repository for container images (push them with `container_image`).",
    props: &[
        Prop::new(
            "name",
            Ty::Str,
            "Repository name (lower case; `/` separates namespaces). Default: `<stack>-<id>`, lower-cased.",
        )
        .aws("ecr:CreateRepositoryRequest.repositoryName")
        .replaces(),
        Prop::new(
            "immutable_tags",
            Ty::Bool,
            "Tags cannot be moved to another image once pushed (a release tag always means the same image).",
        )
        .default(Default::Bool(false)),
        Prop::new("scan_on_push", Ty::Bool, "Scan each image for vulnerabilities when it is pushed.")
            .default(Default::Bool(false)),
        Prop::new("encryption", Ty::Enum(&["AES256", "KMS"]), "Encryption at rest: S3-managed keys or KMS.")
            .default(Default::Str("AES256"))
            .replaces(),
        Prop::new("kms_key", Ty::Str, "With `encryption: KMS`: the key (ARN or id); the AWS managed key when left out.")
            .aws("ecr:EncryptionConfiguration.kmsKey")
            .replaces(),
        Prop::new("lifecycle", LIFECYCLE, "Image expiry rules (a lifecycle policy rprov writes from these)."),
        Prop::new(
            "force_delete",
            Ty::Bool,
            "Delete the repository with the images it still holds (for sandboxes). Otherwise AWS refuses to delete a repository that holds images.",
        )
        .default(Default::Bool(false)),
    ],
    attrs: &[
        Attr::new("id", "The repository name."),
        Attr::new("name", "The repository name."),
        Attr::new("arn", "The repository's ARN."),
        Attr::new("url", "The repository URI (`<account>.dkr.ecr.<region>.amazonaws.com/<name>`), for `container_image`."),
        Attr::new("registry_id", "The account id of the registry."),
    ],
    taggable: true,
};

fn client(cx: &Cx) -> Client {
    cx.client(Client::new)
}

fn default_name(stack: &str, id: &str) -> String {
    super::ecs::default_name(stack, id).to_ascii_lowercase()
}

fn live(r: &Repository, lifecycle: Option<Value>, tags: Tags) -> Live {
    let name = r.repository_name().unwrap_or_default().to_owned();
    let mut props = Props::new();
    props.insert("name".into(), Value::str(&name));
    props
        .insert("immutable_tags".into(), Value::Bool(r.image_tag_mutability() == Some(&ImageTagMutability::Immutable)));
    let scan = r.image_scanning_configuration().is_some_and(|c| c.scan_on_push());
    props.insert("scan_on_push".into(), Value::Bool(scan));
    let enc = r.encryption_configuration();
    let kms = enc.is_some_and(|e| matches!(e.encryption_type(), EncryptionType::Kms | EncryptionType::KmsDsse));
    props.insert("encryption".into(), Value::str(if kms { "KMS" } else { "AES256" }));
    if let Some(key) = enc.and_then(|e| e.kms_key()).filter(|_| kms) {
        props.insert("kms_key".into(), Value::str(key));
    }
    if let Some(l) = lifecycle {
        props.insert("lifecycle".into(), l);
    }
    let mut attrs = Props::new();
    attrs.insert("id".into(), Value::str(&name));
    attrs.insert("name".into(), Value::str(&name));
    attrs.insert("arn".into(), Value::str(r.repository_arn().unwrap_or_default()));
    attrs.insert("url".into(), Value::str(r.repository_uri().unwrap_or_default()));
    attrs.insert("registry_id".into(), Value::str(r.registry_id().unwrap_or_default()));
    super::set_created(&mut attrs, super::sdk_time(r.created_at()));
    Live { physical_id: name, props, attrs, tags }
}

/// The lifecycle policy document rprov writes for `lifecycle` (AWS requires the rule matching
/// `tagStatus: any` to have the highest priority number).
/// https://docs.aws.amazon.com/AmazonECR/latest/userguide/LifecyclePolicies.html
fn policy_text(lifecycle: &Props) -> Option<String> {
    let mut rules = Vec::new();
    if let Some(days) = lifecycle.get("expire_untagged_days").and_then(Value::as_i64) {
        rules.push(serde_json::json!({
            "rulePriority": rules.len() + 1,
            "description": format!("expire untagged images {days} days after push"),
            "selection": {"tagStatus": "untagged", "countType": "sinceImagePushed", "countUnit": "days", "countNumber": days},
            "action": {"type": "expire"}
        }));
    }
    if let Some(n) = lifecycle.get("keep_last").and_then(Value::as_i64) {
        rules.push(serde_json::json!({
            "rulePriority": rules.len() + 1,
            "description": format!("keep the last {n} images"),
            "selection": {"tagStatus": "any", "countType": "imageCountMoreThan", "countNumber": n},
            "action": {"type": "expire"}
        }));
    }
    (!rules.is_empty()).then(|| serde_json::json!({ "rules": rules }).to_string())
}

/// `lifecycle` as read back from a policy document: the two rule shapes rprov writes. A rule of
/// another shape (written by hand) shows as `other_rules`, so it is drift.
fn lifecycle_of(text: &str) -> Value {
    let doc: serde_json::Value = serde_json::from_str(text).unwrap_or_default();
    let mut out = Props::new();
    let mut other = 0;
    for rule in doc["rules"].as_array().into_iter().flatten() {
        let sel = &rule["selection"];
        let expire = rule["action"]["type"] == "expire";
        match (sel["tagStatus"].as_str(), sel["countType"].as_str(), sel["countNumber"].as_i64()) {
            (Some("untagged"), Some("sinceImagePushed"), Some(n)) if expire && sel["countUnit"] == "days" => {
                out.insert("expire_untagged_days".into(), Value::Int(n));
            }
            (Some("any"), Some("imageCountMoreThan"), Some(n)) if expire => {
                out.insert("keep_last".into(), Value::Int(n));
            }
            _ => other += 1,
        }
    }
    if other > 0 {
        out.insert("other_rules".into(), Value::Int(other));
    }
    Value::Map(out)
}

async fn lifecycle_read(cx: &Cx, name: &str) -> Result<Value, AwsError> {
    match client(cx).get_lifecycle_policy().repository_name(name).send().await.map_err(classify) {
        Ok(out) => Ok(out.lifecycle_policy_text().map(lifecycle_of).unwrap_or(Value::Null)),
        // LifecyclePolicyNotFoundException: none set.
        Err(AwsError::NotFound(m)) if m.contains("LifecyclePolicy") => Ok(Value::Null),
        Err(e) => Err(e),
    }
}

async fn lifecycle_write(cx: &Cx, name: &str, props: &Props) -> Result<(), AwsError> {
    let ecr = client(cx);
    match props.get("lifecycle").and_then(Value::as_map).and_then(policy_text) {
        Some(text) => ecr
            .put_lifecycle_policy()
            .repository_name(name)
            .lifecycle_policy_text(text)
            .send()
            .await
            .map(|_| ())
            .map_err(classify),
        None => super::gone_ok(ecr.delete_lifecycle_policy().repository_name(name).send().await.map_err(classify)),
    }
}

async fn tags_of(cx: &Cx, arn: &str) -> Result<Tags, AwsError> {
    let out = client(cx).list_tags_for_resource().resource_arn(arn).send().await.map_err(classify)?;
    Ok(crate::model::without_aws_tags(out.tags().iter().map(|t| (t.key(), t.value()))))
}

fn sdk_tags(tags: &Tags) -> Result<Vec<Tag>, AwsError> {
    tags.iter()
        .map(|(k, v)| Tag::builder().key(k).value(v).build())
        .collect::<Result<_, _>>()
        .map_err(|e| AwsError::Invalid(e.to_string()))
}

async fn describe(cx: &Cx, names: Option<&[String]>) -> Result<Vec<Repository>, AwsError> {
    let op = client(cx).describe_repositories().set_repository_names(names.map(<[String]>::to_vec));
    match crate::aws::all_items(op.into_paginator().items().send()).await {
        Err(AwsError::NotFound(_)) if names.is_some() => Ok(vec![]),
        r => r,
    }
}

async fn read_back(cx: &Cx, name: &str, lifecycle: bool) -> Result<Live, AwsError> {
    let repos = describe(cx, Some(&[name.to_owned()])).await?;
    let r = repos.first().ok_or_else(|| AwsError::NotFound(format!("ECR repository {name}")))?;
    let tags = tags_of(cx, r.repository_arn().unwrap_or_default()).await?;
    let lc = if lifecycle { Some(lifecycle_read(cx, name).await?) } else { None };
    Ok(live(r, lc, tags))
}

impl KindSpec for EcrRepository {
    fn schema(&self) -> &'static KindSchema {
        &SCHEMA
    }

    /// AWS (CreateRepository): names are 2-256 characters of lower-case letters, digits and
    /// `._-/` (the model's pattern checks a written name); a KMS key only with KMS encryption;
    /// lifecycle counts of at least 1.
    fn check(&self, s: &Subject) -> Vec<Problem> {
        let mut out: Vec<Problem> = default_name_fits(s, "name", 256, "CreateRepository").into_iter().collect();
        if s.str("name").is_none() && s.get("name").is_none() {
            let n = default_name(s.stack.name(), s.id);
            if n.starts_with(['-', '_', '.']) || n.ends_with(['-', '_', '.']) {
                out.push(
                    Problem::new(
                        "",
                        format!("the default repository name `{n}` must start and end with a letter or digit"),
                    )
                    .help("give `name`"),
                );
            }
        }
        if s.get("kms_key").is_some() && s.str("encryption") != Some("KMS") {
            out.push(Problem::new("kms_key", "`kms_key` is used only with `encryption: KMS`"));
        }
        if let Some(crate::expr::Expr::Map(lc)) = s.get("lifecycle") {
            for field in ["keep_last", "expire_untagged_days"] {
                let n = match lc.get(field) {
                    Some(crate::expr::Expr::Lit(v)) => v.as_i64(),
                    _ => None,
                };
                if let Some(n) = n.filter(|n| *n < 1) {
                    out.push(Problem::new("lifecycle", format!("lifecycle {field} must be at least 1 (is {n})")));
                }
            }
        }
        out
    }

    fn normalise(&self, stack: &str, id: &str, props: &mut Props) {
        if props.get("name").is_none_or(Value::is_null) {
            props.insert("name".into(), Value::str(default_name(stack, id)));
        }
        // Removing the lifecycle from the stack deletes the policy.
        props.entry("lifecycle".into()).or_insert(Value::Null);
    }

    fn create_is_idempotent(&self) -> bool {
        true
    }

    fn arn(&self) -> Option<(&'static str, &'static str)> {
        Some(("ecr", "repository"))
    }

    fn refusals(&self) -> Refusals {
        Refusals::Modelled(&[("ecr", "DeleteRepository"), ("ecr", "CreateRepository")])
    }
}

#[async_trait]
impl Kind for EcrRepository {
    /// One paginated DescribeRepositories for the region (ECR has no filter by tag). Tags come
    /// from the refresh's Tagging API index, or one ListTagsForResource per repository where
    /// the index lacks it (the local AWS's index lists no repositories). The lifecycle policy is
    /// read for the repositories in `ids` only (GetLifecyclePolicy takes one repository).
    async fn read_many(&self, cx: &Cx, ids: &[String]) -> Result<Vec<Live>, AwsError> {
        let repos = describe(cx, None).await?;
        let every = ids.is_empty() || tagging::has_index(cx).await;
        let candidates: Vec<(String, String)> = repos
            .iter()
            .filter(|r| every || ids.iter().any(|i| Some(i.as_str()) == r.repository_name()))
            .map(|r| {
                (r.repository_name().unwrap_or_default().to_owned(), r.repository_arn().unwrap_or_default().to_owned())
            })
            .collect();
        let mut tags = tagging::tags_by_id(cx, &candidates, |arns| {
            tagging::each(arns, |arn| async move { tags_of(cx, &arn).await })
        })
        .await?;
        let recorded: Vec<&Repository> =
            repos.iter().filter(|r| ids.iter().any(|i| Some(i.as_str()) == r.repository_name())).collect();
        let policies = futures_util::future::join_all(recorded.iter().map(|r| async move {
            let name = r.repository_name().unwrap_or_default();
            (name.to_owned(), lifecycle_read(cx, name).await)
        }))
        .await;
        let mut lifecycles = HashMap::new();
        for (name, p) in policies {
            match p {
                Ok(v) => {
                    lifecycles.insert(name, v);
                }
                Err(AwsError::NotFound(_)) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(repos
            .iter()
            .filter_map(|r| {
                let name = r.repository_name()?;
                let t = tags.remove(name)?;
                Some(live(r, lifecycles.remove(name), t))
            })
            .collect())
    }

    /// The lifecycle of repositories read without it (imported): GetLifecyclePolicy, one each.
    async fn read_unreported(&self, cx: &Cx, live: &mut [Live]) -> Result<(), AwsError> {
        for l in live.iter_mut().filter(|l| !l.props.contains_key("lifecycle")) {
            match lifecycle_read(cx, &l.physical_id).await {
                Ok(v) => {
                    l.props.insert("lifecycle".into(), v);
                }
                Err(AwsError::NotFound(_)) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    async fn create(&self, cx: &Cx, req: &CreateReq<'_>) -> Result<Live, AwsError> {
        let p = req.props;
        let name = p.get("name").and_then(Value::as_str).map_or_else(|| default_name(&cx.stack, req.id), str::to_owned);
        let kms = p.get("encryption").and_then(Value::as_str) == Some("KMS");
        let enc = EncryptionConfiguration::builder()
            .encryption_type(if kms { EncryptionType::Kms } else { EncryptionType::Aes256 })
            .set_kms_key(p.get("kms_key").and_then(Value::as_str).filter(|_| kms).map(str::to_owned))
            .build()
            .map_err(|e| AwsError::Invalid(e.to_string()))?;
        let sent = client(cx)
            .create_repository()
            .repository_name(&name)
            .image_tag_mutability(mutability(p))
            .image_scanning_configuration(scanning(p))
            .encryption_configuration(enc)
            .set_tags(Some(sdk_tags(req.tags)?))
            .send()
            .await;
        // No idempotency token: a repeat after a lost answer meets RepositoryAlreadyExists, and
        // the repository is taken if it carries this resource's ownership tags.
        let existing = || async { Ok(Some(read_back(cx, &name, false).await?.tags)) };
        let what = format!("ECR repository {name}");
        super::created_or_ours(cx, req, sent.map_err(classify), &what, "choose another name, or `adopt: true`", existing).await?;
        if p.get("lifecycle").is_some_and(|v| !v.is_null()) {
            lifecycle_write(cx, &name, p).await?;
        }
        read_back(cx, &name, true).await
    }

    async fn update(&self, cx: &Cx, req: &UpdateReq<'_>) -> Result<Live, AwsError> {
        let ecr = client(cx);
        let name = req.physical_id;
        let changed = |p: &str| req.changed.iter().any(|c| c == p);
        if changed("immutable_tags") {
            ecr.put_image_tag_mutability()
                .repository_name(name)
                .image_tag_mutability(mutability(req.new))
                .send()
                .await
                .map_err(classify)?;
        }
        if changed("scan_on_push") {
            ecr.put_image_scanning_configuration()
                .repository_name(name)
                .image_scanning_configuration(scanning(req.new))
                .send()
                .await
                .map_err(classify)?;
        }
        if changed("lifecycle") {
            lifecycle_write(cx, name, req.new).await?;
        }
        if changed("tags") {
            // One describe for the ARN (read_back would read the tags too).
            let repos = describe(cx, Some(&[name.to_owned()])).await?;
            let arn = repos
                .first()
                .and_then(Repository::repository_arn)
                .ok_or_else(|| AwsError::NotFound(format!("ECR repository {name}")))?
                .to_owned();
            let (stale, _) = tag_changes(req.old_tags, req.tags);
            if !stale.is_empty() {
                ecr.untag_resource().resource_arn(&arn).set_tag_keys(Some(stale)).send().await.map_err(classify)?;
            }
            ecr.tag_resource().resource_arn(&arn).set_tags(Some(sdk_tags(req.tags)?)).send().await.map_err(classify)?;
        }
        read_back(cx, name, true).await
    }

    /// DeleteRepository; with `force_delete` (or in a teardown, which leaves nothing) the images
    /// go with it. Without, AWS refuses a repository that holds images: the error says how
    /// many and what to do.
    async fn delete(&self, cx: &Cx, req: &DeleteReq<'_>) -> Result<(), AwsError> {
        let force = cx.purge || req.props.get("force_delete").and_then(Value::as_bool).unwrap_or(false);
        let sent = client(cx).delete_repository().repository_name(req.physical_id).force(force).send().await;
        match sent.map_err(classify) {
            Err(AwsError::Invalid(m)) if m.starts_with("RepositoryNotEmptyException") => {
                let images = client(cx)
                    .list_images()
                    .repository_name(req.physical_id)
                    .send()
                    .await
                    .map(|o| o.image_ids().len())
                    .unwrap_or(0);
                Err(AwsError::Blocked(format!(
                    "ECR repository {} still holds {images} image(s) that are not this stack's current ones; set `force_delete: true` on `{}` (and apply) to delete them with it, or delete them first ({m})",
                    req.physical_id, req.id
                )))
            }
            r => super::gone_ok(r),
        }
    }
}

fn mutability(p: &Props) -> ImageTagMutability {
    if p.get("immutable_tags").and_then(Value::as_bool).unwrap_or(false) {
        ImageTagMutability::Immutable
    } else {
        ImageTagMutability::Mutable
    }
}

fn scanning(p: &Props) -> ImageScanningConfiguration {
    ImageScanningConfiguration::builder()
        .scan_on_push(p.get("scan_on_push").and_then(Value::as_bool).unwrap_or(false))
        .build()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(pairs: &[(&str, i64)]) -> Props {
        pairs.iter().map(|(k, v)| ((*k).to_owned(), Value::Int(*v))).collect()
    }

    #[test]
    fn lifecycle_round_trips_through_the_policy_document() {
        for lc in [
            map(&[("keep_last", 10)]),
            map(&[("expire_untagged_days", 7)]),
            map(&[("keep_last", 3), ("expire_untagged_days", 1)]),
        ] {
            let text = policy_text(&lc).unwrap();
            assert_eq!(lifecycle_of(&text), Value::Map(lc.clone()), "{text}");
        }
        assert_eq!(policy_text(&Props::new()), None);
        // The `any` rule comes last: AWS wants it at the highest priority number.
        let text = policy_text(&map(&[("keep_last", 3), ("expire_untagged_days", 1)])).unwrap();
        let doc: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(doc["rules"][1]["selection"]["tagStatus"], "any");
        assert_eq!(doc["rules"][1]["rulePriority"], 2);
    }

    #[test]
    fn a_hand_written_rule_is_drift() {
        let text = r#"{"rules":[{"rulePriority":1,"selection":{"tagStatus":"tagged","tagPrefixList":["v"],"countType":"imageCountMoreThan","countNumber":5},"action":{"type":"expire"}}]}"#;
        assert_eq!(lifecycle_of(text), Value::Map(map(&[("other_rules", 1)])));
    }

    #[test]
    fn default_names_are_lower_case() {
        let mut p = Props::new();
        EcrRepository.normalise("Shop", "Web_App", &mut p);
        assert_eq!(p["name"], Value::str("shop-web-app"));
        assert_eq!(p["lifecycle"], Value::Null);
    }
}

#[cfg(test)]
mod rules {
    use crate::kinds::testing::check_rules;

    #[test]
    fn names_keys_and_counts() {
        check_rules("repo: { type: ecr_repository }", &[]);
        check_rules("repo: { type: ecr_repository, name: team/app }", &[]);
        check_rules("repo: { type: ecr_repository, name: Team/App }", &["name"]);
        check_rules(
            "repo: { type: ecr_repository, kms_key: alias/x }",
            &["`kms_key` is used only with `encryption: KMS`"],
        );
        check_rules("repo: { type: ecr_repository, encryption: KMS, kms_key: alias/x }", &[]);
        check_rules(
            "repo: { type: ecr_repository, lifecycle: { keep_last: 0 } }",
            &["lifecycle keep_last must be at least 1"],
        );
    }
}
