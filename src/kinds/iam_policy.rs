use async_trait::async_trait;
use aws_sdk_iam::types::{ManagedPolicyDetail, PolicyVersion};

use super::iam::{
    Policy, canonical_policy, client, details, document_rules, fit_name, from_sdk, json_text, parse_document,
    policy_len, stack_path, to_sdk,
};
use super::{CreateReq, DeleteReq, Kind, Live, Selection, Tags, UpdateReq, gone_ok, tag_changes};
use crate::aws::{AwsError, Cx, classify, tagging};
use crate::expr::Expr;
use crate::schema::{Attr, KindSchema, Prop, Ty};
use crate::spec::{KindSpec, Problem, Refusals, Subject};
use crate::value::{Props, Value};

pub struct IamPolicy;

/// IAM's limit on policy names (AWS: CreatePolicy PolicyName, `[\w+=,.@-]+`, 1 to 128).
const NAME_MAX: usize = 128;

/// "Managed policy size cannot exceed 6,144 characters" (IAM does not count white space; not
/// adjustable). AWS: IAM and STS quotas.
const DOCUMENT_MAX: usize = 6_144;

/// "A managed policy can have up to 5 versions": CreatePolicyVersion answers LimitExceeded on
/// a sixth. AWS: Versioning IAM policies.
const VERSIONS_MAX: usize = 5;

static SCHEMA: KindSchema = KindSchema {
    name: "iam_policy",
    doc: "A customer managed IAM policy: a policy document that roles and users attach by its ARN \
          (`managed_policy_arns`). A changed document becomes a new default version; older versions beyond \
          IAM's five are deleted, oldest first.",
    props: &[
        Prop::new("name", Ty::Str, "The policy name; `<stack>-<id>` (cut to IAM's 128 characters) when left out.")
            .aws("iam:CreatePolicyRequest.PolicyName")
            .replaces(),
        Prop::new(
            "path",
            Ty::Str,
            "The policy's path, part of its ARN; the stack's `/rprov/<stack>/` when left out (how refresh and \
             teardown find the stack's policies).",
        )
        .aws("iam:CreatePolicyRequest.Path")
        .replaces(),
        Prop::new(
            "description",
            Ty::Str,
            "What the policy is for. IAM cannot change it later: a new description replaces the policy.",
        )
        .aws("iam:CreatePolicyRequest.Description")
        .replaces(),
        Prop::new(
            "document",
            Ty::Doc,
            "The policy document (`Version` and `Statement`); compared with IAM's by meaning (statement and action \
             order, single values as one-item lists).",
        )
        .required(),
    ],
    attrs: &[
        Attr::new("id", "The policy's ARN."),
        Attr::new("arn", "The policy's ARN (for `managed_policy_arns`)."),
        Attr::new("name", "The policy name."),
        Attr::new("default_version", "The id of the policy's default version (`v1`, `v2`, ...)."),
    ],
    taggable: true,
};

fn default_name(stack: &str, id: &str) -> String {
    fit_name(stack, id, NAME_MAX)
}

/// The name in a policy ARN (`arn:aws:iam::1:policy/path/name`): ManagedPolicyDetail has none.
fn name_of_arn(arn: &str) -> &str {
    arn.rsplit('/').next().unwrap_or(arn)
}

fn live(
    arn: &str,
    path: Option<&str>,
    description: Option<&str>,
    default_version: Option<&str>,
    document: Option<&str>,
    tags: Tags,
) -> Live {
    let name = name_of_arn(arn);
    let mut props = Props::new();
    props.insert("name".into(), Value::str(name));
    props.insert("path".into(), Value::str(path.unwrap_or("/")));
    if let Some(d) = description.filter(|d| !d.is_empty()) {
        props.insert("description".into(), Value::str(d));
    }
    props.insert("document".into(), document.and_then(parse_document).unwrap_or(Value::Null));
    let mut attrs = Props::new();
    attrs.insert("id".into(), Value::str(arn));
    attrs.insert("arn".into(), Value::str(arn));
    attrs.insert("name".into(), Value::str(name));
    attrs.insert("default_version".into(), default_version.map(Value::str).unwrap_or(Value::Null));
    Live { physical_id: arn.to_owned(), props, attrs, tags }
}

fn live_from_detail(d: &ManagedPolicyDetail, tags: Tags) -> Live {
    let default = d.default_version_id();
    let document = d
        .policy_version_list()
        .iter()
        .find(|v| v.is_default_version() || v.version_id() == default)
        .and_then(PolicyVersion::document);
    live(d.arn().unwrap_or_default(), d.path(), d.description(), default, document, tags)
}

async fn tags_of(cx: &Cx, arn: String) -> Result<Tags, AwsError> {
    let out = client(cx).list_policy_tags().policy_arn(arn).send().await.map_err(classify)?;
    Ok(from_sdk(out.tags()))
}

/// The policy as IAM reports it now: GetPolicy, its default version, its tags.
async fn read_back(cx: &Cx, arn: &str) -> Result<Live, AwsError> {
    let iam = client(cx);
    let out = iam.get_policy().policy_arn(arn).send().await.map_err(classify)?;
    let p = out.policy().ok_or_else(|| AwsError::NotFound(format!("policy {arn}")))?;
    let version = p.default_version_id().unwrap_or("v1");
    let v = iam.get_policy_version().policy_arn(arn).version_id(version).send().await.map_err(classify)?;
    let document = v.policy_version().and_then(PolicyVersion::document);
    Ok(live(arn, p.path(), p.description(), Some(version), document, tags_of(cx, arn.to_owned()).await?))
}

/// The version number of `v3`, for ordering versions of the same age.
fn version_number(v: &PolicyVersion) -> u64 {
    v.version_id().and_then(|id| id.trim_start_matches('v').parse().ok()).unwrap_or(0)
}

/// The versions to delete so that one more fits within IAM's five: the oldest non-default
/// ones (by creation time, then version number), never the default.
fn prunable(versions: &[PolicyVersion]) -> Vec<String> {
    let excess = (versions.len() + 1).saturating_sub(VERSIONS_MAX);
    let mut old: Vec<&PolicyVersion> = versions.iter().filter(|v| !v.is_default_version()).collect();
    old.sort_by_key(|v| (v.create_date().map(|d| (d.secs(), d.subsec_nanos())), version_number(v)));
    old.into_iter().take(excess).filter_map(|v| v.version_id().map(str::to_owned)).collect()
}

/// Deletes the oldest non-default versions so a new one fits (AWS keeps at most five).
async fn prune(cx: &Cx, arn: &str) -> Result<(), AwsError> {
    let iam = client(cx);
    let out = iam.list_policy_versions().policy_arn(arn).send().await.map_err(classify)?;
    for id in prunable(out.versions()) {
        gone_ok(iam.delete_policy_version().policy_arn(arn).version_id(id).send().await.map_err(classify))?;
    }
    Ok(())
}

/// The document as the policy's new default version, making room first so the update never
/// fails on the five-version limit. A LimitExceeded all the same (a version made by someone
/// else in between) prunes again once.
async fn set_document(cx: &Cx, arn: &str, doc: &Value) -> Result<(), AwsError> {
    let iam = client(cx);
    prune(cx, arn).await?;
    let send =
        || iam.create_policy_version().policy_arn(arn).policy_document(json_text(doc)).set_as_default(true).send();
    match send().await.map_err(classify) {
        Err(AwsError::Invalid(m)) if m.starts_with("LimitExceeded") => {
            prune(cx, arn).await?;
            send().await.map(|_| ()).map_err(classify)
        }
        r => r.map(|_| ()),
    }
}

/// The error for a DeletePolicy IAM refused because the policy is still attached: in use (the
/// stack's own roles and users may be detaching it right now), naming what holds it.
async fn in_use(cx: &Cx, arn: &str, id: &str, aws: String) -> AwsError {
    let listed = client(cx).list_entities_for_policy().policy_arn(arn).send().await;
    let mut holders = Vec::new();
    if let Ok(out) = listed {
        holders.extend(out.policy_users().iter().filter_map(|u| u.user_name()).map(|n| format!("user {n}")));
        holders.extend(out.policy_roles().iter().filter_map(|r| r.role_name()).map(|n| format!("role {n}")));
        holders.extend(out.policy_groups().iter().filter_map(|g| g.group_name()).map(|n| format!("group {n}")));
    }
    let what = if holders.is_empty() { "an identity".to_owned() } else { holders.join(", ") };
    AwsError::InUse(format!(
        "policy {arn} (`{id}`) is still attached to {what}: detach it (remove it from their `managed_policy_arns`) \
         before deleting it ({aws})"
    ))
}

fn policy_name(stack: &str, id: &str, props: &Props) -> String {
    props.get("name").and_then(Value::as_str).map_or_else(|| default_name(stack, id), str::to_owned)
}

fn policy_rules(s: &Subject, out: &mut Vec<Problem>) {
    match s.get("document") {
        Some(doc @ Expr::Map(m)) => {
            // Without a Version IAM takes the policy as 2008-10-17, in which policy variables
            // (`${aws:username}`) are plain text. AWS: IAM JSON policy elements: Version.
            if !m.contains_key("Version") {
                out.push(
                    Problem::new("document", "the policy has no `Version`; IAM would read it as 2008-10-17")
                        .help("write Version: \"2012-10-17\" (quoted)"),
                );
            }
            document_rules(doc, "document", Policy::Managed, out);
            let len = policy_len(doc);
            if len > DOCUMENT_MAX {
                out.push(
                    Problem::new(
                        "document",
                        format!(
                            "the policy comes to {len} characters at least (white space aside); AWS allows a managed \
                             policy {DOCUMENT_MAX}"
                        ),
                    )
                    .help("split it into two policies, or use wildcards in actions and resources"),
                );
            }
        }
        Some(doc @ Expr::Lit(_)) => document_rules(doc, "document", Policy::Managed, out),
        _ => {}
    }
    // AWS: "Policy names are not distinguished by case" and unique in an account: CreatePolicy
    // answers EntityAlreadyExists.
    out.extend(super::iam::same_name_problem(s, "iam_policy", "policy", default_name));
}

impl KindSpec for IamPolicy {
    fn schema(&self) -> &'static KindSchema {
        &SCHEMA
    }

    fn normalise(&self, stack: &str, id: &str, props: &mut Props) {
        if props.get("name").is_none_or(Value::is_null) {
            props.insert("name".into(), Value::str(default_name(stack, id)));
        }
        if props.get("path").is_none_or(Value::is_null) {
            props.insert("path".into(), Value::str(stack_path(stack)));
        }
        if props.get("description").and_then(Value::as_str) == Some("") {
            props.remove("description");
        }
        if let Some(doc) = props.get_mut("document") {
            *doc = canonical_policy(doc);
        }
    }

    /// The document's grammar, Version and size, and the name: what CreatePolicy refuses.
    fn check(&self, s: &Subject) -> Vec<Problem> {
        let mut out = Vec::new();
        policy_rules(s, &mut out);
        out
    }

    fn attrs_changed_by_update(&self, changed: &[String]) -> &'static [&'static str] {
        if changed.iter().any(|c| c == "document") { &["default_version"] } else { &[] }
    }

    fn arn(&self) -> Option<(&'static str, &'static str)> {
        Some(("iam", "policy"))
    }

    fn refusals(&self) -> Refusals {
        Refusals::Modelled(&[("iam", "DeletePolicy"), ("iam", "CreatePolicyVersion")])
    }
}

#[async_trait]
impl Kind for IamPolicy {
    /// The stack's policies are those under its path `/rprov/<stack>/`, whatever their tags
    /// (their tags are read only for those: see `read_many`).
    fn selection(&self) -> Selection {
        Selection::Own
    }

    /// The refresh's one GetAccountAuthorizationDetails (shared with iam_role and iam_user:
    /// `iam::details`) gives every customer managed policy with its versions' documents. It
    /// reports no tags of policies, and IAM has no batched tag read: ListPolicyTags is called
    /// for the stack's policies only (under its path, or recorded), one call per policy, run
    /// together.
    async fn read_many(&self, cx: &Cx, ids: &[String]) -> Result<Vec<Live>, AwsError> {
        let details = details(cx).await?;
        let path = stack_path(&cx.stack);
        let mine: Vec<&ManagedPolicyDetail> = details
            .policies
            .iter()
            .filter(|d| d.path() == Some(path.as_str()) || d.arn().is_some_and(|a| ids.iter().any(|i| i == a)))
            .collect();
        let arns: Vec<String> = mine.iter().filter_map(|d| d.arn().map(str::to_owned)).collect();
        let mut tags = tagging::each(arns, |arn| tags_of(cx, arn)).await?;
        Ok(mine
            .into_iter()
            .filter_map(|d| {
                // A policy gone between the two reads is gone.
                let t = tags.remove(d.arn()?)?;
                Some(live_from_detail(d, t))
            })
            .collect())
    }

    async fn create(&self, cx: &Cx, req: &CreateReq<'_>) -> Result<Live, AwsError> {
        let name = policy_name(&cx.stack, req.id, req.props);
        let path = req.props.get("path").and_then(Value::as_str).map_or_else(|| stack_path(&cx.stack), str::to_owned);
        let doc = req
            .props
            .get("document")
            .filter(|v| !v.is_null())
            .ok_or_else(|| AwsError::Invalid(format!("{}: give the policy's `document`", req.id)))?;
        let iam = client(cx);
        // No idempotency token: a repeat after a lost response answers EntityAlreadyExists, and
        // the policy is taken when it carries this resource's ownership tags.
        let sent = iam
            .create_policy()
            .policy_name(&name)
            .path(&path)
            .policy_document(json_text(doc))
            .set_description(req.props.get("description").and_then(Value::as_str).map(str::to_owned))
            .set_tags(Some(to_sdk(req.tags)))
            .send()
            .await
            .map_err(classify);
        let arn = match sent {
            Ok(out) => out
                .policy()
                .and_then(|p| p.arn())
                .ok_or_else(|| AwsError::Failed(format!("CreatePolicy of {name} returned no ARN")))?
                .to_owned(),
            Err(AwsError::AlreadyExists(m)) => {
                let listed = crate::aws::all_items(
                    iam.list_policies()
                        .scope(aws_sdk_iam::types::PolicyScopeType::Local)
                        .path_prefix(&path)
                        .into_paginator()
                        .items()
                        .send(),
                )
                .await?;
                let found = listed.iter().find(|p| p.policy_name() == Some(name.as_str())).and_then(|p| p.arn());
                let arn = found.ok_or_else(|| {
                    AwsError::AlreadyExists(format!(
                        "policy {name} exists with another path than {path}: choose another name ({m})"
                    ))
                })?;
                let tags = tags_of(cx, arn.to_owned()).await?;
                if !super::carries_ownership(&tags, req.tags) {
                    return Err(AwsError::AlreadyExists(format!(
                        "policy {arn} exists and was not created for {}: choose another name ({m})",
                        req.id
                    )));
                }
                // Ours, from a create whose answer was lost: its document is brought in line.
                let current = read_back(cx, arn).await?;
                if current.props.get("document") != Some(&canonical_policy(doc)) {
                    set_document(cx, arn, doc).await?;
                }
                arn.to_owned()
            }
            Err(e) => return Err(e),
        };
        read_back(cx, &arn).await
    }

    async fn update(&self, cx: &Cx, req: &UpdateReq<'_>) -> Result<Live, AwsError> {
        let iam = client(cx);
        let arn = req.physical_id;
        let changed = |n: &str| req.changed.iter().any(|c| c == n);
        if changed("document")
            && let Some(doc) = req.new.get("document")
        {
            set_document(cx, arn, doc).await?;
        }
        if changed("tags") {
            let (stale, _) = tag_changes(req.old_tags, req.tags);
            if !stale.is_empty() {
                iam.untag_policy().policy_arn(arn).set_tag_keys(Some(stale)).send().await.map_err(classify)?;
            }
            if !req.tags.is_empty() {
                iam.tag_policy().policy_arn(arn).set_tags(Some(to_sdk(req.tags))).send().await.map_err(classify)?;
            }
        }
        read_back(cx, arn).await
    }

    /// DeletePolicy refuses a policy with versions besides the default (DeleteConflict): those go
    /// first. Still attached to a role, user or group, it is refused too, reported as in use with
    /// what holds it.
    async fn delete(&self, cx: &Cx, req: &DeleteReq<'_>) -> Result<(), AwsError> {
        let iam = client(cx);
        let arn = req.physical_id;
        let versions = match iam.list_policy_versions().policy_arn(arn).send().await.map_err(classify) {
            Ok(out) => out.versions().to_vec(),
            Err(AwsError::NotFound(_)) => return Ok(()),
            Err(e) => return Err(e),
        };
        for v in versions.iter().filter(|v| !v.is_default_version()) {
            let Some(id) = v.version_id() else { continue };
            gone_ok(iam.delete_policy_version().policy_arn(arn).version_id(id).send().await.map_err(classify))?;
        }
        match iam.delete_policy().policy_arn(arn).send().await.map_err(classify) {
            Err(AwsError::InUse(m)) => Err(in_use(cx, arn, req.id, m).await),
            r => gone_ok(r),
        }
    }
}

#[cfg(test)]
mod tests {
    use aws_sdk_iam::Client;
    use aws_sdk_iam::operation::create_policy_version::{CreatePolicyVersionError, CreatePolicyVersionOutput};
    use aws_sdk_iam::operation::delete_policy::{DeletePolicyError, DeletePolicyOutput};
    use aws_sdk_iam::operation::delete_policy_version::DeletePolicyVersionOutput;
    use aws_sdk_iam::operation::get_policy::GetPolicyOutput;
    use aws_sdk_iam::operation::get_policy_version::GetPolicyVersionOutput;
    use aws_sdk_iam::operation::list_entities_for_policy::ListEntitiesForPolicyOutput;
    use aws_sdk_iam::operation::list_policy_tags::ListPolicyTagsOutput;
    use aws_sdk_iam::operation::list_policy_versions::{ListPolicyVersionsError, ListPolicyVersionsOutput};
    use aws_sdk_iam::types::{PolicyRole, PolicyUser};
    use aws_smithy_mocks::{Rule, RuleMode, mock, mock_client};
    use aws_smithy_types::DateTime;
    use aws_smithy_types::error::ErrorMetadata;

    use super::*;
    use crate::kinds::testing::mocked;

    const ARN: &str = "arn:aws:iam::123456789012:policy/rprov/s/s-read";
    const DOC: &str =
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"*"}]}"#;

    fn cx(rules: &[&Rule]) -> Cx {
        mocked(mock_client!(aws_sdk_iam, RuleMode::MatchAny, rules)).0
    }

    fn version(id: &str, created: i64, default: bool) -> PolicyVersion {
        PolicyVersion::builder()
            .version_id(id)
            .create_date(DateTime::from_secs(created))
            .is_default_version(default)
            .document("%7B%7D")
            .build()
    }

    /// Five versions made at these times (v3 the default): a sixth needs the oldest
    /// non-default one gone. v5 is older than v4 (clocks), v1 and v2 share a second.
    fn five() -> Vec<PolicyVersion> {
        vec![
            version("v1", 100, false),
            version("v2", 100, false),
            version("v3", 300, true),
            version("v4", 500, false),
            version("v5", 400, false),
        ]
    }

    #[test]
    fn pruning_takes_the_oldest_non_default_versions() {
        assert_eq!(prunable(&five()), vec!["v1"]);
        // Already over (versions made outside rprov while the limit was raised, say): as many
        // as it takes, oldest first, never the default.
        let mut six = five();
        six.push(version("v6", 50, false));
        assert_eq!(prunable(&six), vec!["v6", "v1"]);
        let mut defaults_oldest = five();
        defaults_oldest[2] = version("v3", 1, true);
        assert_eq!(prunable(&defaults_oldest), vec!["v1"]);
        assert!(prunable(&five()[..4]).is_empty(), "four versions leave room for a fifth");
    }

    fn read_back_rules() -> (Rule, Rule, Rule) {
        let get = mock!(Client::get_policy).then_output(|| {
            GetPolicyOutput::builder()
                .policy(
                    aws_sdk_iam::types::Policy::builder()
                        .arn(ARN)
                        .path("/rprov/s/")
                        .policy_name("s-read")
                        .default_version_id("v6")
                        .build(),
                )
                .build()
        });
        let version = mock!(Client::get_policy_version).then_output(|| {
            GetPolicyVersionOutput::builder()
                .policy_version(
                    PolicyVersion::builder().version_id("v6").document(DOC).is_default_version(true).build(),
                )
                .build()
        });
        let tags = mock!(Client::list_policy_tags)
            .then_output(|| ListPolicyTagsOutput::builder().set_tags(Some(vec![])).build().unwrap());
        (get, version, tags)
    }

    #[tokio::test]
    async fn a_new_document_prunes_the_oldest_version_first_and_becomes_the_default() {
        let list = mock!(Client::list_policy_versions)
            .then_output(|| ListPolicyVersionsOutput::builder().set_versions(Some(five())).build());
        let prune = mock!(Client::delete_policy_version)
            .match_requests(|r| r.policy_arn() == Some(ARN) && r.version_id() == Some("v1"))
            .then_output(|| DeletePolicyVersionOutput::builder().build());
        let create = mock!(Client::create_policy_version)
            .match_requests(|r| r.set_as_default() == Some(true))
            .then_output(|| CreatePolicyVersionOutput::builder().build());
        let (get, version, tags) = read_back_rules();
        let cx = cx(&[&list, &prune, &create, &get, &version, &tags]);
        let doc = parse_document(DOC).unwrap();
        let (old, new) = (Props::new(), Props::from([("document".to_string(), doc.clone())]));
        let changed = vec!["document".to_string()];
        let req = UpdateReq {
            id: "read",
            physical_id: ARN,
            old: &old,
            new: &new,
            changed: &changed,
            old_tags: &Tags::new(),
            tags: &Tags::new(),
        };
        let live = IamPolicy.update(&cx, &req).await.unwrap();
        assert_eq!((prune.num_calls(), create.num_calls()), (1, 1));
        assert_eq!(live.props["document"], doc);
        assert_eq!(live.attrs["default_version"], Value::str("v6"));
    }

    #[tokio::test]
    async fn a_version_made_in_between_is_pruned_and_the_version_sent_again() {
        let list = mock!(Client::list_policy_versions)
            .sequence()
            .output(|| ListPolicyVersionsOutput::builder().set_versions(Some(five()[..4].to_vec())).build())
            .output(|| ListPolicyVersionsOutput::builder().set_versions(Some(five())).build())
            .build();
        let prune = mock!(Client::delete_policy_version)
            .match_requests(|r| r.version_id() == Some("v1"))
            .then_output(|| DeletePolicyVersionOutput::builder().build());
        let create = mock!(Client::create_policy_version)
            .sequence()
            .error(|| {
                CreatePolicyVersionError::generic(
                    ErrorMetadata::builder()
                        .code("LimitExceeded")
                        .message("A managed policy can have up to 5 versions.")
                        .build(),
                )
            })
            .output(|| CreatePolicyVersionOutput::builder().build())
            .build();
        let cx = cx(&[&list, &prune, &create]);
        set_document(&cx, ARN, &parse_document(DOC).unwrap()).await.unwrap();
        assert_eq!((list.num_calls(), prune.num_calls(), create.num_calls()), (2, 1, 2));
    }

    fn conflict() -> DeletePolicyError {
        DeletePolicyError::generic(
            ErrorMetadata::builder()
                .code("DeleteConflict")
                .message("Cannot delete a policy attached to entities.")
                .build(),
        )
    }

    #[tokio::test]
    async fn an_attached_policy_is_in_use_naming_what_holds_it() {
        let list = mock!(Client::list_policy_versions).then_output(|| {
            ListPolicyVersionsOutput::builder()
                .versions(version("v1", 1, false))
                .versions(version("v2", 2, true))
                .build()
        });
        let old = mock!(Client::delete_policy_version)
            .match_requests(|r| r.version_id() == Some("v1"))
            .then_output(|| DeletePolicyVersionOutput::builder().build());
        let delete = mock!(Client::delete_policy).then_error(conflict);
        let entities = mock!(Client::list_entities_for_policy).then_output(|| {
            ListEntitiesForPolicyOutput::builder()
                .policy_users(PolicyUser::builder().user_name("deploy").build())
                .policy_roles(PolicyRole::builder().role_name("app").build())
                .build()
        });
        let cx = cx(&[&list, &old, &delete, &entities]);
        let (p, a) = (Props::new(), Props::new());
        let err = IamPolicy.delete(&cx, &DeleteReq { id: "read", physical_id: ARN, props: &p, attrs: &a }).await;
        let Err(AwsError::InUse(m)) = err else { panic!("{err:?}") };
        assert!(m.contains("still attached to user deploy, role app") && m.contains("DeleteConflict"), "{m}");
        assert_eq!(old.num_calls(), 1, "non-default versions go first");
    }

    #[tokio::test]
    async fn deleting_a_policy_that_is_gone_is_success() {
        let list = mock!(Client::list_policy_versions)
            .then_error(|| ListPolicyVersionsError::generic(ErrorMetadata::builder().code("NoSuchEntity").build()));
        let cx = cx(&[&list]);
        let (p, a) = (Props::new(), Props::new());
        let done = IamPolicy.delete(&cx, &DeleteReq { id: "read", physical_id: ARN, props: &p, attrs: &a }).await;
        assert_eq!(done, Ok(()));
        let versions = mock!(Client::list_policy_versions)
            .then_output(|| ListPolicyVersionsOutput::builder().versions(version("v1", 1, true)).build());
        let delete = mock!(Client::delete_policy)
            .then_error(|| DeletePolicyError::generic(ErrorMetadata::builder().code("NoSuchEntity").build()));
        let cx2 = self::cx(&[&versions, &delete]);
        let done = IamPolicy.delete(&cx2, &DeleteReq { id: "read", physical_id: ARN, props: &p, attrs: &a }).await;
        assert_eq!(done, Ok(()));
        let _ = DeletePolicyOutput::builder().build();
    }

    #[test]
    fn names_paths_and_documents_normalise_to_what_iam_reports() {
        let mut p = Props::from([(
            "document".to_string(),
            Value::from(
                &serde_json::from_str::<serde_json::Value>(
                    r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:GetObject","Resource":"*"}}"#,
                )
                .unwrap(),
            ),
        )]);
        IamPolicy.normalise("shop", "read", &mut p);
        assert_eq!(p["name"], Value::str("shop-read"));
        assert_eq!(p["path"], Value::str("/rprov/shop/"));
        let aws = "%7B%22Version%22%3A%222012-10-17%22%2C%22Statement%22%3A%5B%7B%22Effect%22%3A%22Allow%22%2C%22Action%22%3A%5B%22s3%3AGetObject%22%5D%2C%22Resource%22%3A%22%2A%22%7D%5D%7D";
        let l = live(ARN, Some("/rprov/shop/"), None, Some("v1"), Some(aws), Tags::new());
        assert_eq!(l.props["document"], p["document"]);
        assert_eq!(l.attrs["name"], Value::str("s-read"));
        assert_eq!(default_name(&"s".repeat(200), "read").len(), NAME_MAX);
    }
}

#[cfg(test)]
mod rules {
    use crate::kinds::testing::check_rules;

    fn policy(document: &str) -> String {
        format!("p: {{ type: iam_policy, document: {document} }}")
    }

    #[test]
    fn documents() {
        check_rules(
            &policy("{ Version: \"2012-10-17\", Statement: [{ Effect: Allow, Action: \"s3:*\", Resource: \"*\" }] }"),
            &[],
        );
        check_rules(
            &policy("{ Statement: [{ Effect: Allow, Action: \"s3:*\", Resource: \"*\" }] }"),
            &["the policy has no `Version`"],
        );
        check_rules(
            &policy("{ Version: \"2012-10-17\", Statement: [{ Effect: Allow, Resource: \"*\" }] }"),
            &["a statement needs `Action` (or `NotAction`)"],
        );
        check_rules(
            &policy("{ Version: \"2012-10-17\", Statement: [{ Action: \"s3:*\", Resource: \"*\" }] }"),
            &["a statement needs `Effect: Allow` or `Effect: Deny`"],
        );
        check_rules(
            &policy("{ Version: \"2012-10-17\", Statement: [{ Effect: Allow, Action: \"s3:*\" }] }"),
            &["a statement of a managed policy needs `Resource`"],
        );
        check_rules(
            &policy(
                "{ Version: \"2012-10-17\", Statement: [{ Effect: Allow, Principal: \"*\", Action: \"s3:*\", Resource: \"*\" }] }",
            ),
            &["a managed policy names no principal"],
        );
        let big = format!(
            "{{ Version: \"2012-10-17\", Statement: [{{ Effect: Allow, Action: \"s3:*\", Resource: \"arn:aws:s3:::{}\" }}] }}",
            "b".repeat(6100)
        );
        check_rules(&policy(&big), &["characters at least (white space aside); AWS allows a managed policy 6144"]);
    }

    #[test]
    fn names() {
        let doc = "{ Version: \"2012-10-17\", Statement: [{ Effect: Allow, Action: \"s3:*\", Resource: \"*\" }] }";
        check_rules(&format!("p: {{ type: iam_policy, name: \"read+write=all.@,-_1\", document: {doc} }}"), &[]);
        check_rules(
            &format!(
                "p: {{ type: iam_policy, name: Read, document: {doc} }}\nq: {{ type: iam_policy, name: read, document: {doc} }}"
            ),
            &["policy `p` is named `read` too (IAM ignores case)"],
        );
    }
}
