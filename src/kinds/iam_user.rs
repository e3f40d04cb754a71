use async_trait::async_trait;
use aws_sdk_iam::types::UserDetail;

use super::iam::{
    Policy, canonical_policy, client, details, document_rules, fit_name, from_sdk, json_text, parse_document,
    policy_len, policy_name_problem, stack_path, to_sdk,
};
use super::{CreateReq, DeleteReq, Kind, Live, Selection, Tags, UpdateReq, gone_ok, tag_changes};
use crate::aws::{AwsError, Cx, all_items, classify};
use crate::expr::Expr;
use crate::schema::{Attr, Default, KindSchema, Prop, Ty};
use crate::spec::{KindSpec, Problem, Refusals, Subject};
use crate::value::{Props, Value};

pub struct IamUser;

/// IAM's limit on user names (AWS: CreateUser UserName, `[\w+=,.@-]+`, 1 to 64).
const NAME_MAX: usize = 64;

/// "User policy size cannot exceed 2,048 characters" (aggregate of a user's inline policies;
/// white space not counted). AWS: IAM and STS quotas.
const INLINE_POLICIES_MAX: usize = 2_048;

/// "Managed policies attached to an IAM user": 10 by default, at most 20 with an increase.
const MANAGED_POLICIES_MAX: usize = 20;

static SCHEMA: KindSchema = KindSchema {
    name: "iam_user",
    doc: "An IAM user and its whole permission set: the managed policies attached to it and its inline policies \
          (a policy attached by hand shows as drift on the user). Access keys, passwords and MFA devices are \
          not rprov's: they are made and rotated outside the stack, and keep the user from being deleted unless \
          `force_destroy` is set.",
    props: &[
        Prop::new("name", Ty::Str, "The user name; `<stack>-<id>` (cut to IAM's 64 characters) when left out.")
            .aws("iam:CreateUserRequest.UserName")
            .replaces(),
        Prop::new(
            "path",
            Ty::Str,
            "The user's path, part of its ARN; the stack's `/rprov/<stack>/` when left out (how refresh and \
             teardown find the stack's users).",
        )
        .aws("iam:CreateUserRequest.Path"),
        Prop::new("managed_policy_arns", Ty::List(&Ty::Str), "ARNs of managed policies attached to the user.")
            .aws("iam:AttachUserPolicyRequest.PolicyArn")
            .default(Default::EmptyList)
            .unordered(),
        Prop::new("policies", Ty::Doc, "Inline policies: policy name -> policy document.").default(Default::EmptyMap),
        Prop::new(
            "permissions_boundary",
            Ty::Str,
            "ARN of the managed policy that bounds what the user's policies may grant.",
        )
        .aws("iam:CreateUserRequest.PermissionsBoundary"),
        Prop::new(
            "force_destroy",
            Ty::Bool,
            "Whether deleting the user also deletes what was made for it outside the stack (access keys, login \
             profile, MFA devices, signing certificates, SSH keys) and removes it from its groups. Without it, such \
             a user is not deleted: the error lists what it still has.",
        )
        .default(Default::Bool(false)),
    ],
    attrs: &[
        Attr::new("id", "The user name."),
        Attr::new("name", "The user name."),
        Attr::new("arn", "The user's ARN."),
        Attr::new("unique_id", "The user's stable unique id (`AIDA...`), as policies' `aws:userid` sees it."),
    ],
    taggable: true,
};

fn default_name(stack: &str, id: &str) -> String {
    fit_name(stack, id, NAME_MAX)
}

fn user_name(stack: &str, id: &str, props: &Props) -> String {
    props.get("name").and_then(Value::as_str).map_or_else(|| default_name(stack, id), str::to_owned)
}

struct UserView<'a> {
    name: &'a str,
    path: &'a str,
    arn: &'a str,
    unique_id: &'a str,
    boundary: Option<&'a str>,
    managed: Vec<String>,
    inline: Props,
    tags: Tags,
}

fn live(u: UserView<'_>) -> Live {
    let mut props = Props::new();
    props.insert("name".into(), Value::str(u.name));
    props.insert("path".into(), Value::str(u.path));
    let mut managed: Vec<Value> = u.managed.into_iter().map(Value::Str).collect();
    managed.sort_by_cached_key(|v| v.to_string());
    props.insert("managed_policy_arns".into(), Value::List(managed));
    props.insert("policies".into(), Value::Map(u.inline));
    props.insert("permissions_boundary".into(), u.boundary.map(Value::str).unwrap_or(Value::Null));
    let mut attrs = Props::new();
    attrs.insert("id".into(), Value::str(u.name));
    attrs.insert("name".into(), Value::str(u.name));
    attrs.insert("arn".into(), Value::str(u.arn));
    attrs.insert("unique_id".into(), Value::str(u.unique_id));
    Live { physical_id: u.name.to_owned(), props, attrs, tags: u.tags }
}

fn live_from_detail(d: &UserDetail) -> Live {
    live(UserView {
        name: d.user_name().unwrap_or_default(),
        path: d.path().unwrap_or("/"),
        arn: d.arn().unwrap_or_default(),
        unique_id: d.user_id().unwrap_or_default(),
        boundary: d.permissions_boundary().and_then(|b| b.permissions_boundary_arn()),
        managed: d.attached_managed_policies().iter().filter_map(|p| p.policy_arn().map(str::to_owned)).collect(),
        inline: d
            .user_policy_list()
            .iter()
            .filter_map(|p| Some((p.policy_name()?.to_owned(), parse_document(p.policy_document()?)?)))
            .collect(),
        tags: from_sdk(d.tags()),
    })
}

/// The live view after create/update: the user as GetUser reports it (path, ARN, id, boundary,
/// tags) and the policies just set (IAM has no batched read of them outside
/// GetAccountAuthorizationDetails).
async fn read_back(cx: &Cx, name: &str, props: &Props) -> Result<Live, AwsError> {
    let out = client(cx).get_user().user_name(name).send().await.map_err(classify)?;
    let u = out.user().ok_or_else(|| AwsError::NotFound(format!("user {name}")))?;
    Ok(live(UserView {
        name: u.user_name(),
        path: u.path(),
        arn: u.arn(),
        unique_id: u.user_id(),
        boundary: u.permissions_boundary().and_then(|b| b.permissions_boundary_arn()),
        managed: arns(props),
        inline: policies(props).iter().map(|(k, v)| (k.clone(), canonical_policy(v))).collect(),
        tags: from_sdk(u.tags()),
    }))
}

fn arns(p: &Props) -> Vec<String> {
    p.get("managed_policy_arns").map(Value::string_list).unwrap_or_default()
}

fn policies(props: &Props) -> Props {
    props.get("policies").and_then(Value::as_map).cloned().unwrap_or_default()
}

/// Attaches and puts what `new` has and `old` has not, then detaches and deletes the rest.
async fn converge_policies(cx: &Cx, name: &str, old: &Props, new: &Props) -> Result<(), AwsError> {
    let iam = client(cx);
    let (old_arns, new_arns) = (arns(old), arns(new));
    for arn in new_arns.iter().filter(|a| !old_arns.contains(a)) {
        iam.attach_user_policy().user_name(name).policy_arn(arn).send().await.map_err(classify)?;
    }
    let (old_inline, new_inline) = (policies(old), policies(new));
    for (policy, doc) in &new_inline {
        if old_inline.get(policy).map(canonical_policy) != Some(canonical_policy(doc)) {
            iam.put_user_policy()
                .user_name(name)
                .policy_name(policy)
                .policy_document(json_text(doc))
                .send()
                .await
                .map_err(classify)?;
        }
    }
    for arn in old_arns.iter().filter(|a| !new_arns.contains(a)) {
        gone_ok(iam.detach_user_policy().user_name(name).policy_arn(arn).send().await.map_err(classify))?;
    }
    for policy in old_inline.keys().filter(|p| !new_inline.contains_key(*p)) {
        gone_ok(iam.delete_user_policy().user_name(name).policy_name(policy).send().await.map_err(classify))?;
    }
    Ok(())
}

async fn set_boundary(cx: &Cx, name: &str, boundary: Option<&str>) -> Result<(), AwsError> {
    let iam = client(cx);
    match boundary {
        Some(arn) => iam
            .put_user_permissions_boundary()
            .user_name(name)
            .permissions_boundary(arn)
            .send()
            .await
            .map(|_| ())
            .map_err(classify),
        None => gone_ok(iam.delete_user_permissions_boundary().user_name(name).send().await.map_err(classify)),
    }
}

fn boundary(p: &Props) -> Option<&str> {
    p.get("permissions_boundary").and_then(Value::as_str)
}

// ---- what keeps IAM from deleting a user ----

/// What was made for the user outside the stack and keeps IAM from deleting it (DeleteUser
/// answers DeleteConflict): "you must delete the items attached to the user manually ...
/// password, access keys, signing certificate, SSH public key, Git credentials, MFA device,
/// inline policies, attached managed policies, group memberships" (AWS: Deleting an IAM user).
/// The policies are the user's own properties, removed by rprov in any case. Service-specific
/// (Git) credentials are not listed here (the local AWS lacks the call): IAM's refusal names
/// them.
#[derive(Debug, Default, PartialEq)]
struct Belongings {
    access_keys: Vec<String>,
    login_profile: bool,
    mfa_devices: Vec<String>,
    signing_certificates: Vec<String>,
    ssh_keys: Vec<String>,
    groups: Vec<String>,
}

impl Belongings {
    fn is_empty(&self) -> bool {
        *self == Belongings::default()
    }

    fn describe(&self) -> String {
        let mut parts = Vec::new();
        let list = |what: &str, items: &[String]| format!("{what} {}", items.join(", "));
        if !self.access_keys.is_empty() {
            parts.push(list("access keys", &self.access_keys));
        }
        if self.login_profile {
            parts.push("a console password (login profile)".to_owned());
        }
        if !self.mfa_devices.is_empty() {
            parts.push(list("MFA devices", &self.mfa_devices));
        }
        if !self.signing_certificates.is_empty() {
            parts.push(list("signing certificates", &self.signing_certificates));
        }
        if !self.ssh_keys.is_empty() {
            parts.push(list("SSH public keys", &self.ssh_keys));
        }
        if !self.groups.is_empty() {
            parts.push(list("membership of groups", &self.groups));
        }
        parts.join("; ")
    }
}

/// What the user has besides its policies; `None` when the user is gone.
async fn belongings(cx: &Cx, name: &str) -> Result<Option<Belongings>, AwsError> {
    let iam = client(cx);
    let keys = all_items(iam.list_access_keys().user_name(name).into_paginator().items().send()).await;
    let keys = match keys {
        Ok(k) => k,
        Err(AwsError::NotFound(_)) => return Ok(None),
        Err(e) => return Err(e),
    };
    let login_profile = match iam.get_login_profile().user_name(name).send().await.map_err(classify) {
        Ok(_) => true,
        Err(AwsError::NotFound(_)) => false,
        Err(e) => return Err(e),
    };
    let mfa = all_items(iam.list_mfa_devices().user_name(name).into_paginator().items().send()).await?;
    let certs = all_items(iam.list_signing_certificates().user_name(name).into_paginator().items().send()).await?;
    let ssh = all_items(iam.list_ssh_public_keys().user_name(name).into_paginator().items().send()).await?;
    let groups = all_items(iam.list_groups_for_user().user_name(name).into_paginator().items().send()).await?;
    Ok(Some(Belongings {
        access_keys: keys.iter().filter_map(|k| k.access_key_id().map(str::to_owned)).collect(),
        login_profile,
        mfa_devices: mfa.iter().map(|d| d.serial_number().to_owned()).collect(),
        signing_certificates: certs.iter().map(|c| c.certificate_id().to_owned()).collect(),
        ssh_keys: ssh.iter().map(|k| k.ssh_public_key_id().to_owned()).collect(),
        groups: groups.iter().map(|g| g.group_name().to_owned()).collect(),
    }))
}

/// Deletes what `b` lists (`force_destroy`): keys, password, MFA devices (deactivated, and a
/// virtual one deleted: it was the user's), certificates, SSH keys; leaves the groups.
async fn remove_belongings(cx: &Cx, name: &str, b: &Belongings) -> Result<(), AwsError> {
    let iam = client(cx);
    for k in &b.access_keys {
        gone_ok(iam.delete_access_key().user_name(name).access_key_id(k).send().await.map_err(classify))?;
    }
    if b.login_profile {
        gone_ok(iam.delete_login_profile().user_name(name).send().await.map_err(classify))?;
    }
    for d in &b.mfa_devices {
        gone_ok(iam.deactivate_mfa_device().user_name(name).serial_number(d).send().await.map_err(classify))?;
        // A virtual device's serial number is its ARN (`arn:aws:iam::1:mfa/name`); hardware
        // devices are not IAM's to delete.
        if d.starts_with("arn:") {
            gone_ok(iam.delete_virtual_mfa_device().serial_number(d).send().await.map_err(classify))?;
        }
    }
    for c in &b.signing_certificates {
        gone_ok(iam.delete_signing_certificate().user_name(name).certificate_id(c).send().await.map_err(classify))?;
    }
    for k in &b.ssh_keys {
        gone_ok(iam.delete_ssh_public_key().user_name(name).ssh_public_key_id(k).send().await.map_err(classify))?;
    }
    for g in &b.groups {
        gone_ok(iam.remove_user_from_group().user_name(name).group_name(g).send().await.map_err(classify))?;
    }
    Ok(())
}

fn blocked(name: &str, id: &str, what: &str, aws: Option<&str>) -> AwsError {
    let why = aws.map(|m| format!(" ({m})")).unwrap_or_default();
    AwsError::Blocked(format!(
        "IAM user {name} (`{id}`) still has {what}, made outside the stack: delete them first, or set \
         `force_destroy: true` on `{id}` to delete them with the user{why}"
    ))
}

// ---- what IAM refuses in a user ----

fn user_rules(s: &Subject, out: &mut Vec<Problem>) {
    match s.get("policies") {
        Some(Expr::Map(policies)) => {
            for (name, doc) in policies {
                out.extend(policy_name_problem(name));
                document_rules(doc, &format!("policies.{name}"), Policy::Inline, out);
            }
            let total: usize = policies.values().map(policy_len).sum();
            if total > INLINE_POLICIES_MAX {
                out.push(
                    Problem::new(
                        "policies",
                        format!(
                            "the inline policies come to {total} characters at least; AWS allows a user \
                             {INLINE_POLICIES_MAX} in all"
                        ),
                    )
                    .help("move some into an iam_policy and list its ARN in `managed_policy_arns`"),
                );
            }
        }
        None | Some(Expr::Lit(Value::Map(_) | Value::Null)) | Some(Expr::Ref(_)) => {}
        Some(_) => out.push(Problem::new("policies", "`policies` maps each inline policy's name to its document")),
    }
    let managed = s.list("managed_policy_arns").len();
    if managed > MANAGED_POLICIES_MAX {
        out.push(Problem::new(
            "managed_policy_arns",
            format!(
                "{managed} managed policies; AWS attaches at most {MANAGED_POLICIES_MAX} to a user (10 unless the \
                 quota is raised)"
            ),
        ));
    }
    // AWS: user names are unique in an account, case aside: CreateUser answers
    // EntityAlreadyExists.
    out.extend(super::iam::same_name_problem(s, "iam_user", "user", default_name));
}

impl KindSpec for IamUser {
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
        if let Some(Value::Map(p)) = props.get_mut("policies") {
            for doc in p.values_mut() {
                *doc = canonical_policy(doc);
            }
        }
    }

    /// The inline policies' grammar and total size, the number of managed policies, the name.
    fn check(&self, s: &Subject) -> Vec<Problem> {
        let mut out = Vec::new();
        user_rules(s, &mut out);
        out
    }

    fn attrs_changed_by_update(&self, changed: &[String]) -> &'static [&'static str] {
        if changed.iter().any(|c| c == "path") { &["arn"] } else { &[] }
    }

    fn arn(&self) -> Option<(&'static str, &'static str)> {
        Some(("iam", "user"))
    }

    fn refusals(&self) -> Refusals {
        Refusals::Modelled(&[("iam", "DeleteUser")])
    }
}

#[async_trait]
impl Kind for IamUser {
    /// The stack's users are those under its path `/rprov/<stack>/`, whatever their tags.
    fn selection(&self) -> Selection {
        Selection::Own
    }

    /// The refresh's one GetAccountAuthorizationDetails, shared with iam_role and iam_policy
    /// (`iam::details`): every user with its attached and inline policies and tags. Kept: users
    /// named in `ids`, and users under the stack's path.
    async fn read_many(&self, cx: &Cx, ids: &[String]) -> Result<Vec<Live>, AwsError> {
        let details = details(cx).await?;
        let path = stack_path(&cx.stack);
        Ok(details
            .users
            .iter()
            .filter(|d| d.path() == Some(path.as_str()) || d.user_name().is_some_and(|n| ids.iter().any(|i| i == n)))
            .map(live_from_detail)
            .collect())
    }

    async fn create(&self, cx: &Cx, req: &CreateReq<'_>) -> Result<Live, AwsError> {
        let name = user_name(&cx.stack, req.id, req.props);
        let path = req.props.get("path").and_then(Value::as_str).map_or_else(|| stack_path(&cx.stack), str::to_owned);
        let iam = client(cx);
        // No idempotency token: a repeat after a lost response answers EntityAlreadyExists, and
        // the user is taken when it carries this resource's ownership tags.
        let sent = iam
            .create_user()
            .user_name(&name)
            .path(&path)
            .set_permissions_boundary(boundary(req.props).map(str::to_owned))
            .set_tags(Some(to_sdk(req.tags)))
            .send()
            .await
            .map_err(classify);
        let existing = || async {
            let out = iam.get_user().user_name(&name).send().await.map_err(classify)?;
            Ok(Some(from_sdk(out.user().map(|u| u.tags()).unwrap_or_default())))
        };
        super::created_or_ours(cx, req, sent, &format!("user {name}"), "choose another name", existing).await?;
        converge_policies(cx, &name, &Props::new(), req.props).await?;
        read_back(cx, &name, req.props).await
    }

    async fn update(&self, cx: &Cx, req: &UpdateReq<'_>) -> Result<Live, AwsError> {
        let iam = client(cx);
        let name = req.physical_id;
        let changed = |n: &str| req.changed.iter().any(|c| c == n);
        if changed("path")
            && let Some(path) = req.new.get("path").and_then(Value::as_str)
        {
            iam.update_user().user_name(name).new_path(path).send().await.map_err(classify)?;
        }
        if changed("permissions_boundary") {
            set_boundary(cx, name, boundary(req.new)).await?;
        }
        if changed("managed_policy_arns") || changed("policies") {
            converge_policies(cx, name, req.old, req.new).await?;
        }
        if changed("tags") {
            let (stale, _) = tag_changes(req.old_tags, req.tags);
            if !stale.is_empty() {
                iam.untag_user().user_name(name).set_tag_keys(Some(stale)).send().await.map_err(classify)?;
            }
            if !req.tags.is_empty() {
                iam.tag_user().user_name(name).set_tags(Some(to_sdk(req.tags))).send().await.map_err(classify)?;
            }
        }
        read_back(cx, name, req.new).await
    }

    /// What was made for the user outside the stack is looked at first, so a refused delete
    /// leaves the user as it was: with `force_destroy` (or in a teardown) it is deleted, else
    /// the delete is refused, naming it. Then every policy AWS has on the user now (not what was
    /// recorded: the policies are the user's own properties) is detached or deleted, and the user
    /// deleted.
    async fn delete(&self, cx: &Cx, req: &DeleteReq<'_>) -> Result<(), AwsError> {
        let iam = client(cx);
        let name = req.physical_id;
        let force = cx.purge || req.props.get("force_destroy").and_then(Value::as_bool).unwrap_or(false);
        let Some(b) = belongings(cx, name).await? else { return Ok(()) };
        if !b.is_empty() {
            if !force {
                return Err(blocked(name, req.id, &b.describe(), None));
            }
            remove_belongings(cx, name, &b).await?;
        }
        let attached = all_items(iam.list_attached_user_policies().user_name(name).into_paginator().items().send());
        let attached = match attached.await {
            Ok(a) => a,
            Err(AwsError::NotFound(_)) => return Ok(()),
            Err(e) => return Err(e),
        };
        for p in attached.iter().filter_map(|p| p.policy_arn()) {
            gone_ok(iam.detach_user_policy().user_name(name).policy_arn(p).send().await.map_err(classify))?;
        }
        let inline = all_items(iam.list_user_policies().user_name(name).into_paginator().items().send()).await;
        for p in gone_or(inline)? {
            gone_ok(iam.delete_user_policy().user_name(name).policy_name(p).send().await.map_err(classify))?;
        }
        match iam.delete_user().user_name(name).send().await.map_err(classify) {
            // Something made in between, or not listed above (Git credentials).
            Err(AwsError::InUse(m)) => {
                let what = match belongings(cx, name).await {
                    Ok(Some(b)) if !b.is_empty() => b.describe(),
                    _ => "credentials or memberships".to_owned(),
                };
                Err(blocked(name, req.id, &what, Some(&m)))
            }
            r => gone_ok(r),
        }
    }
}

fn gone_or<T>(r: Result<Vec<T>, AwsError>) -> Result<Vec<T>, AwsError> {
    match r {
        Err(AwsError::NotFound(_)) => Ok(Vec::new()),
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use aws_sdk_iam::Client;
    use aws_sdk_iam::operation::delete_access_key::DeleteAccessKeyOutput;
    use aws_sdk_iam::operation::delete_user::{DeleteUserError, DeleteUserOutput};
    use aws_sdk_iam::operation::get_login_profile::GetLoginProfileError;
    use aws_sdk_iam::operation::list_access_keys::{ListAccessKeysError, ListAccessKeysOutput};
    use aws_sdk_iam::operation::list_attached_user_policies::ListAttachedUserPoliciesOutput;
    use aws_sdk_iam::operation::list_groups_for_user::ListGroupsForUserOutput;
    use aws_sdk_iam::operation::list_mfa_devices::ListMfaDevicesOutput;
    use aws_sdk_iam::operation::list_signing_certificates::ListSigningCertificatesOutput;
    use aws_sdk_iam::operation::list_ssh_public_keys::ListSshPublicKeysOutput;
    use aws_sdk_iam::operation::list_user_policies::ListUserPoliciesOutput;
    use aws_sdk_iam::types::{AccessKeyMetadata, Group};
    use aws_smithy_mocks::{Rule, RuleMode, mock, mock_client};
    use aws_smithy_types::DateTime;
    use aws_smithy_types::error::ErrorMetadata;

    use super::*;
    use crate::kinds::testing::mocked;

    fn cx(rules: &[&Rule]) -> Cx {
        mocked(mock_client!(aws_sdk_iam, RuleMode::MatchAny, rules)).0
    }

    /// The reads of a user's belongings: one access key, one group, nothing else.
    fn listed() -> Vec<Rule> {
        vec![
            mock!(Client::list_access_keys).then_output(|| {
                ListAccessKeysOutput::builder()
                    .access_key_metadata(AccessKeyMetadata::builder().access_key_id("AKIAOUTOFBAND").build())
                    .build()
                    .unwrap()
            }),
            mock!(Client::get_login_profile)
                .then_error(|| GetLoginProfileError::generic(ErrorMetadata::builder().code("NoSuchEntity").build())),
            mock!(Client::list_mfa_devices)
                .then_output(|| ListMfaDevicesOutput::builder().set_mfa_devices(Some(vec![])).build().unwrap()),
            mock!(Client::list_signing_certificates).then_output(|| {
                ListSigningCertificatesOutput::builder().set_certificates(Some(vec![])).build().unwrap()
            }),
            mock!(Client::list_ssh_public_keys).then_output(|| ListSshPublicKeysOutput::builder().build()),
            mock!(Client::list_groups_for_user).then_output(|| {
                ListGroupsForUserOutput::builder()
                    .groups(
                        Group::builder()
                            .group_name("admins")
                            .path("/")
                            .group_id("G")
                            .arn("arn:aws:iam::1:group/admins")
                            .create_date(DateTime::from_secs(0))
                            .build()
                            .unwrap(),
                    )
                    .build()
                    .unwrap()
            }),
        ]
    }

    fn req<'a>(props: &'a Props, attrs: &'a Props) -> DeleteReq<'a> {
        DeleteReq { id: "deploy", physical_id: "s-deploy", props, attrs }
    }

    #[tokio::test]
    async fn a_user_with_keys_made_outside_is_not_deleted_without_force_destroy() {
        let rules = listed();
        let delete = mock!(Client::delete_user).then_output(|| DeleteUserOutput::builder().build());
        let mut all: Vec<&Rule> = rules.iter().collect();
        all.push(&delete);
        let cx = cx(&all);
        let (p, a) = (Props::new(), Props::new());
        let err = IamUser.delete(&cx, &req(&p, &a)).await.unwrap_err();
        let AwsError::Blocked(m) = &err else { panic!("{err:?}") };
        assert!(m.contains("access keys AKIAOUTOFBAND") && m.contains("membership of groups admins"), "{m}");
        assert!(m.contains("force_destroy: true"), "{m}");
        assert_eq!(delete.num_calls(), 0, "nothing is touched before the refusal");
    }

    #[tokio::test]
    async fn force_destroy_deletes_the_keys_and_leaves_the_groups_first() {
        let rules = listed();
        let key = mock!(Client::delete_access_key)
            .match_requests(|r| r.access_key_id() == Some("AKIAOUTOFBAND"))
            .then_output(|| DeleteAccessKeyOutput::builder().build());
        let leave =
            mock!(Client::remove_user_from_group).match_requests(|r| r.group_name() == Some("admins")).then_output(
                || aws_sdk_iam::operation::remove_user_from_group::RemoveUserFromGroupOutput::builder().build(),
            );
        let attached = mock!(Client::list_attached_user_policies)
            .then_output(|| ListAttachedUserPoliciesOutput::builder().build());
        let inline = mock!(Client::list_user_policies)
            .then_output(|| ListUserPoliciesOutput::builder().set_policy_names(Some(vec![])).build().unwrap());
        let delete = mock!(Client::delete_user).then_output(|| DeleteUserOutput::builder().build());
        let mut all: Vec<&Rule> = rules.iter().collect();
        all.extend([&key, &leave, &attached, &inline, &delete]);
        let cx = cx(&all);
        let p = Props::from([("force_destroy".to_string(), Value::Bool(true))]);
        let a = Props::new();
        IamUser.delete(&cx, &req(&p, &a)).await.unwrap();
        assert_eq!((key.num_calls(), leave.num_calls(), delete.num_calls()), (1, 1, 1));
    }

    #[tokio::test]
    async fn a_delete_conflict_is_blocked_and_a_gone_user_is_deleted() {
        let gone = mock!(Client::list_access_keys)
            .then_error(|| ListAccessKeysError::generic(ErrorMetadata::builder().code("NoSuchEntity").build()));
        let cx1 = cx(&[&gone]);
        let (p, a) = (Props::new(), Props::new());
        assert_eq!(IamUser.delete(&cx1, &req(&p, &a)).await, Ok(()));

        let empty = [
            mock!(Client::list_access_keys)
                .then_output(|| ListAccessKeysOutput::builder().set_access_key_metadata(Some(vec![])).build().unwrap()),
            mock!(Client::get_login_profile)
                .then_error(|| GetLoginProfileError::generic(ErrorMetadata::builder().code("NoSuchEntity").build())),
            mock!(Client::list_mfa_devices)
                .then_output(|| ListMfaDevicesOutput::builder().set_mfa_devices(Some(vec![])).build().unwrap()),
            mock!(Client::list_signing_certificates).then_output(|| {
                ListSigningCertificatesOutput::builder().set_certificates(Some(vec![])).build().unwrap()
            }),
            mock!(Client::list_ssh_public_keys).then_output(|| ListSshPublicKeysOutput::builder().build()),
            mock!(Client::list_groups_for_user)
                .then_output(|| ListGroupsForUserOutput::builder().set_groups(Some(vec![])).build().unwrap()),
            mock!(Client::list_attached_user_policies)
                .then_output(|| ListAttachedUserPoliciesOutput::builder().build()),
            mock!(Client::list_user_policies)
                .then_output(|| ListUserPoliciesOutput::builder().set_policy_names(Some(vec![])).build().unwrap()),
        ];
        let refused = mock!(Client::delete_user).then_error(|| {
            DeleteUserError::generic(
                ErrorMetadata::builder()
                    .code("DeleteConflict")
                    .message("Cannot delete entity, must remove service specific credentials first.")
                    .build(),
            )
        });
        let mut all: Vec<&Rule> = empty.iter().collect();
        all.push(&refused);
        let cx2 = cx(&all);
        let err = IamUser.delete(&cx2, &req(&p, &a)).await.unwrap_err();
        let AwsError::Blocked(m) = &err else { panic!("{err:?}") };
        assert!(m.contains("credentials or memberships") && m.contains("service specific credentials"), "{m}");
    }

    #[test]
    fn names_and_paths_default_under_the_stack() {
        let mut p = Props::new();
        IamUser.normalise("shop", "deploy", &mut p);
        assert_eq!(p["name"], Value::str("shop-deploy"));
        assert_eq!(p["path"], Value::str("/rprov/shop/"));
    }
}

#[cfg(test)]
mod rules {
    use crate::kinds::testing::check_rules;

    #[test]
    fn policies_names_and_counts() {
        let doc = "{ Version: \"2012-10-17\", Statement: { Effect: Allow, Action: \"s3:*\", Resource: \"*\" } }";
        check_rules(&format!("u: {{ type: iam_user, policies: {{ s3: {doc} }} }}"), &[]);
        check_rules(
            "u: { type: iam_user, policies: { s3: { Version: \"2012-10-17\", Statement: { Effect: Allow, Action: \"s3:*\" } } } }",
            &["a statement of an inline policy needs `Resource`"],
        );
        let big = format!(
            "{{ Version: \"2012-10-17\", Statement: {{ Effect: Allow, Action: \"s3:*\", Resource: \"arn:aws:s3:::{}\" }} }}",
            "b".repeat(2100)
        );
        check_rules(&format!("u: {{ type: iam_user, policies: {{ a: {big} }} }}"), &["AWS allows a user 2048 in all"]);
        let arns = (0..21).map(|i| format!("arn:aws:iam::aws:policy/P{i}")).collect::<Vec<_>>().join(", ");
        check_rules(&format!("u: {{ type: iam_user, managed_policy_arns: [{arns}] }}"), &["21 managed policies"]);
        check_rules(
            "u: { type: iam_user, name: Deploy }\nv: { type: iam_user, name: deploy }",
            &["user `u` is named `deploy` too"],
        );
    }
}
