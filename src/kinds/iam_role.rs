use async_trait::async_trait;
use aws_sdk_iam::types::RoleDetail;

use super::iam::{
    INLINE_POLICIES_MAX, Policy, canonical_policy, client, document_rules, fit_name, from_sdk, json_text,
    parse_document, policy_len, policy_name_problem, stack_path as role_path, to_sdk,
};
use super::{CreateReq, DeleteReq, Kind, Live, Selection, Tags, UpdateReq, gone_ok, tag_changes};
use crate::aws::{AwsError, Cx, classify};
use crate::expr::Expr;
use crate::schema::{Attr, Default, KindSchema, Prop, Ty};
use crate::spec::{KindSpec, Problem, Refusals, Subject};
use crate::value::{Props, Value};

pub struct IamRole;

/// IAM's limit on role names.
const NAME_MAX: usize = 64;

static SCHEMA: KindSchema = KindSchema {
    name: "iam_role",
    doc: "An IAM role: who may assume it (trust) and what it may do (managed and inline policies).",
    props: &[
        Prop::new("name", Ty::Str, "The role name; `<stack>-<id>` (cut to IAM's 64 characters) when left out.")
            .aws("iam:CreateRoleRequest.RoleName")
            .replaces(),
        Prop::new(
            "trust",
            Ty::List(&Ty::Str),
            "Services that may assume the role, e.g. [ecs-tasks.amazonaws.com]; shorthand for assume_role_policy.",
        )
        .unordered(),
        Prop::new("assume_role_policy", Ty::Doc, "The full trust policy document, instead of `trust`."),
        Prop::new("managed_policy_arns", Ty::List(&Ty::Str), "ARNs of managed policies attached to the role.")
            .aws("iam:AttachRolePolicyRequest.PolicyArn")
            .default(Default::EmptyList)
            .unordered(),
        Prop::new("policies", Ty::Doc, "Inline policies: policy name -> policy document.").default(Default::EmptyMap),
    ],
    attrs: &[
        Attr::new("id", "The role name."),
        Attr::new("arn", "The role's ARN."),
        Attr::new("name", "The role name."),
    ],
    taggable: true,
};

fn default_name(stack: &str, id: &str) -> String {
    fit_name(stack, id, NAME_MAX)
}

/// `trust: [service, ...]` as the trust policy document it stands for.
fn trust_document(services: &Value) -> Value {
    let statement = Value::Map(crate::value::Props::from([
        ("Effect".to_string(), Value::str("Allow")),
        ("Principal".to_string(), Value::Map(crate::value::Props::from([("Service".to_string(), services.clone())]))),
        ("Action".to_string(), Value::str("sts:AssumeRole")),
    ]));
    Value::Map(crate::value::Props::from([
        ("Version".to_string(), Value::str("2012-10-17")),
        ("Statement".to_string(), Value::List(vec![statement])),
    ]))
}

struct RoleView<'a> {
    name: &'a str,
    arn: &'a str,
    trust: Option<&'a str>,
    managed: Vec<String>,
    inline: Vec<(String, String)>,
    tags: Tags,
}

fn live(r: RoleView<'_>) -> Live {
    let mut props = Props::new();
    props.insert("name".into(), Value::str(r.name));
    if let Some(doc) = r.trust.and_then(parse_document) {
        props.insert("assume_role_policy".into(), doc);
    }
    let mut managed: Vec<Value> = r.managed.into_iter().map(Value::Str).collect();
    managed.sort_by_cached_key(|v| v.to_string());
    props.insert("managed_policy_arns".into(), Value::List(managed));
    let inline = r.inline.iter().filter_map(|(n, d)| Some((n.clone(), parse_document(d)?))).collect();
    props.insert("policies".into(), Value::Map(inline));
    let mut attrs = Props::new();
    attrs.insert("id".into(), Value::str(r.name));
    attrs.insert("arn".into(), Value::str(r.arn));
    attrs.insert("name".into(), Value::str(r.name));
    Live { physical_id: r.name.to_owned(), props, attrs, tags: r.tags }
}

fn live_from_detail(d: &RoleDetail) -> Live {
    live(RoleView {
        name: d.role_name().unwrap_or_default(),
        arn: d.arn().unwrap_or_default(),
        trust: d.assume_role_policy_document(),
        managed: d.attached_managed_policies().iter().filter_map(|p| p.policy_arn().map(str::to_owned)).collect(),
        inline: d
            .role_policy_list()
            .iter()
            .filter_map(|p| Some((p.policy_name()?.to_owned(), p.policy_document()?.to_owned())))
            .collect(),
        tags: from_sdk(d.tags()),
    })
}

/// The live view after create/update: the role as GetRole reports it (ARN, trust, tags) and
/// the policies just set (IAM has no batched read of them outside GetAccountAuthorizationDetails).
async fn read_back(cx: &Cx, name: &str, props: &Props) -> Result<Live, AwsError> {
    let out = client(cx).get_role().role_name(name).send().await.map_err(classify)?;
    let role = out.role().ok_or_else(|| AwsError::NotFound(name.into()))?;
    let mut l = live(RoleView {
        name: role.role_name(),
        arn: role.arn(),
        trust: role.assume_role_policy_document(),
        managed: props.get("managed_policy_arns").map(Value::string_list).unwrap_or_default(),
        inline: vec![],
        tags: from_sdk(role.tags()),
    });
    if let Some(Value::Map(p)) = props.get("policies") {
        l.props
            .insert("policies".into(), Value::Map(p.iter().map(|(k, v)| (k.clone(), canonical_policy(v))).collect()));
    }
    Ok(l)
}

fn policies(props: &Props) -> crate::value::Props {
    props.get("policies").and_then(Value::as_map).cloned().unwrap_or_default()
}

/// Attaches and puts what `new` has and `old` has not, then detaches and deletes the rest.
async fn converge_policies(cx: &Cx, name: &str, old: &Props, new: &Props) -> Result<(), AwsError> {
    let iam = client(cx);
    let arns = |p: &Props| p.get("managed_policy_arns").map(Value::string_list).unwrap_or_default();
    let (old_arns, new_arns) = (arns(old), arns(new));
    for arn in new_arns.iter().filter(|a| !old_arns.contains(a)) {
        iam.attach_role_policy().role_name(name).policy_arn(arn).send().await.map_err(classify)?;
    }
    let (old_inline, new_inline) = (policies(old), policies(new));
    for (policy, doc) in &new_inline {
        if old_inline.get(policy).map(canonical_policy) != Some(canonical_policy(doc)) {
            iam.put_role_policy()
                .role_name(name)
                .policy_name(policy)
                .policy_document(json_text(doc))
                .send()
                .await
                .map_err(classify)?;
        }
    }
    for arn in old_arns.iter().filter(|a| !new_arns.contains(a)) {
        gone_ok(iam.detach_role_policy().role_name(name).policy_arn(arn).send().await.map_err(classify))?;
    }
    for policy in old_inline.keys().filter(|p| !new_inline.contains_key(*p)) {
        gone_ok(iam.delete_role_policy().role_name(name).policy_name(policy).send().await.map_err(classify))?;
    }
    Ok(())
}

fn role_name(stack: &str, id: &str, props: &Props) -> String {
    props.get("name").and_then(Value::as_str).map_or_else(|| default_name(stack, id), str::to_owned)
}

// ---- what IAM refuses in a role -------------------------------------------------------------

/// "Managed policies attached to an IAM role": 10 by default, at most 20 with an increase.
const MANAGED_POLICIES_MAX: usize = 20;

fn role_rules(s: &Subject, out: &mut Vec<Problem>) {
    let given = |k: &str| !matches!(s.get(k), None | Some(Expr::Lit(Value::Null)));
    // AWS: CreateRole's AssumeRolePolicyDocument is required.
    if !given("trust") && !given("assume_role_policy") {
        out.push(
            Problem::new("", "a role needs `trust` (the services that may assume it) or `assume_role_policy`")
                .help("e.g. `trust: [ecs-tasks.amazonaws.com]`"),
        );
    }
    if let Some(doc) = s.get("assume_role_policy") {
        document_rules(doc, "assume_role_policy", Policy::Trust, out);
    }
    match s.get("policies") {
        Some(Expr::Map(policies)) => {
            for (name, doc) in policies {
                out.extend(policy_name_problem(name));
                document_rules(doc, &format!("policies.{name}"), Policy::Inline, out);
            }
            let total: usize = policies.values().map(policy_len).sum();
            if total > INLINE_POLICIES_MAX {
                out.push(
                    Problem::new("policies", format!("the inline policies come to {total} characters at least; AWS allows a role {INLINE_POLICIES_MAX} in all"))
                        .help("move some into a managed policy (`managed_policy_arns`)"),
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
            format!("{managed} managed policies; AWS attaches at most {MANAGED_POLICIES_MAX} to a role (10 unless the quota is raised)"),
        ));
    }
    // AWS: role names are unique in an account, case aside ("you cannot create roles named both
    // PRODROLE and prodrole"): CreateRole answers EntityAlreadyExists.
    out.extend(super::iam::same_name_problem(s, "iam_role", "role", default_name));
}

impl KindSpec for IamRole {
    fn schema(&self) -> &'static KindSchema {
        &SCHEMA
    }

    /// A trust policy that only lets services assume the role is declared as `trust: [...]`,
    /// the shorthand it is the document of.
    fn imported_props(&self, live: &Live) -> Props {
        let mut p = live.props.clone();
        let services = p
            .get("assume_role_policy")
            .and_then(|d| d.as_map()?.get("Statement")?.as_list().first()?.as_map()?.get("Principal")?.as_map()?.get("Service").cloned());
        let Some(services) = services else { return p };
        let services = match services {
            Value::Str(s) => Value::List(vec![Value::Str(s)]),
            other => other,
        };
        let mut short = p.clone();
        short.remove("assume_role_policy");
        short.insert("trust".into(), services);
        let (mut a, mut b) = (p.clone(), short.clone());
        self.normalise("stack", "role", &mut a);
        self.normalise("stack", "role", &mut b);
        if a == b {
            p = short;
        }
        p
    }

    fn normalise(&self, stack: &str, id: &str, props: &mut Props) {
        if props.get("name").is_none_or(Value::is_null) {
            props.insert("name".into(), Value::str(default_name(stack, id)));
        }
        // `trust` is shorthand: what AWS has, and what is compared, is the document.
        if let Some(services) = props.remove("trust").filter(|v| !v.is_null()) {
            props.entry("assume_role_policy".into()).or_insert_with(|| trust_document(&services));
        }
        if let Some(doc) = props.get_mut("assume_role_policy") {
            *doc = canonical_policy(doc);
        }
        if let Some(Value::Map(p)) = props.get_mut("policies") {
            for doc in p.values_mut() {
                *doc = canonical_policy(doc);
            }
        }
    }

    /// Who may assume the role, the policy documents' grammar and sizes, the policy names, and
    /// the role's name: what CreateRole and PutRolePolicy refuse.
    fn check(&self, s: &Subject) -> Vec<Problem> {
        let mut out = Vec::new();
        role_rules(s, &mut out);
        out
    }

    fn create_is_idempotent(&self) -> bool {
        true
    }

    fn arn(&self) -> Option<(&'static str, &'static str)> {
        Some(("iam", "role"))
    }

    fn refusals(&self) -> Refusals {
        Refusals::Modelled(&[("iam", "CreateRole"), ("iam", "PutRolePolicy")])
    }
}

#[async_trait]
impl Kind for IamRole {
    /// The stack's roles are those under its path `/rprov/<stack>/`, whatever their tags.
    fn selection(&self) -> Selection {
        Selection::Own
    }

    /// One paginated GetAccountAuthorizationDetails returns every role with its
    /// trust policy, inline policy documents, attached managed policies and tags. ListRoles
    /// would be cheaper per page but leaves out tags (and the policies need two more calls per
    /// role): https://docs.aws.amazon.com/IAM/latest/APIReference/API_ListRoles.html
    /// Kept: roles named in `ids`, and roles under the stack's path `/rprov/<stack>/`.
    /// The read is shared with iam_user and iam_policy: one call for the three kinds per refresh
    /// (`iam::details`).
    async fn read_many(&self, cx: &Cx, ids: &[String]) -> Result<Vec<Live>, AwsError> {
        let details = super::iam::details(cx).await?;
        let path = role_path(&cx.stack);
        Ok(details
            .roles
            .iter()
            .filter(|d| d.path() == Some(path.as_str()) || d.role_name().is_some_and(|n| ids.iter().any(|i| i == n)))
            .map(live_from_detail)
            .collect())
    }

    async fn create(&self, cx: &Cx, req: &CreateReq<'_>) -> Result<Live, AwsError> {
        let name = role_name(&cx.stack, req.id, req.props);
        let trust = req
            .props
            .get("assume_role_policy")
            .filter(|v| !v.is_null())
            .ok_or_else(|| AwsError::Invalid(format!("{}: give `trust` or `assume_role_policy`", req.id)))?;
        let iam = client(cx);
        // No idempotency token: a repeat after a lost response answers EntityAlreadyExists, and
        // the role is taken when it carries this resource's ownership tags.
        let sent = iam
            .create_role()
            .role_name(&name)
            .path(role_path(&cx.stack))
            .assume_role_policy_document(json_text(trust))
            .set_tags(Some(to_sdk(req.tags)))
            .send()
            .await
            .map_err(classify);
        let old = match sent {
            Ok(_) => Props::new(),
            Err(AwsError::AlreadyExists(m)) => {
                let out = iam.get_role().role_name(&name).send().await.map_err(classify)?;
                let tags = from_sdk(out.role().map(|r| r.tags()).unwrap_or_default());
                let ours = super::carries_ownership(&tags, req.tags);
                if !ours {
                    return Err(AwsError::AlreadyExists(format!(
                        "role {name} exists and was not created for {}: choose another name ({m})",
                        req.id
                    )));
                }
                iam.update_assume_role_policy()
                    .role_name(&name)
                    .policy_document(json_text(trust))
                    .send()
                    .await
                    .map_err(classify)?;
                Props::new()
            }
            Err(e) => return Err(e),
        };
        converge_policies(cx, &name, &old, req.props).await?;
        read_back(cx, &name, req.props).await
    }

    async fn update(&self, cx: &Cx, req: &UpdateReq<'_>) -> Result<Live, AwsError> {
        let iam = client(cx);
        let changed = |n: &str| req.changed.iter().any(|c| c == n);
        if changed("assume_role_policy")
            && let Some(doc) = req.new.get("assume_role_policy")
        {
            iam.update_assume_role_policy()
                .role_name(req.physical_id)
                .policy_document(json_text(doc))
                .send()
                .await
                .map_err(classify)?;
        }
        if changed("managed_policy_arns") || changed("policies") {
            converge_policies(cx, req.physical_id, req.old, req.new).await?;
        }
        if changed("tags") {
            let (stale, _) = tag_changes(req.old_tags, req.tags);
            if !stale.is_empty() {
                iam.untag_role().role_name(req.physical_id).set_tag_keys(Some(stale)).send().await.map_err(classify)?;
            }
            if !req.tags.is_empty() {
                iam.tag_role()
                    .role_name(req.physical_id)
                    .set_tags(Some(to_sdk(req.tags)))
                    .send()
                    .await
                    .map_err(classify)?;
            }
        }
        read_back(cx, req.physical_id, req.new).await
    }

    /// IAM refuses to delete a role with attached or inline policies (DeleteConflict): what
    /// AWS has attached now (not what was recorded) is removed first.
    async fn delete(&self, cx: &Cx, req: &DeleteReq<'_>) -> Result<(), AwsError> {
        let iam = client(cx);
        let name = req.physical_id;
        let gone = |r: Result<(), AwsError>| match r {
            Err(AwsError::NotFound(_)) => Ok(()),
            other => other,
        };
        let attached =
            crate::aws::all_items(iam.list_attached_role_policies().role_name(name).into_paginator().items().send())
                .await;
        let attached = match attached {
            Ok(a) => a,
            Err(AwsError::NotFound(_)) => return Ok(()),
            Err(e) => return Err(e),
        };
        for p in attached.iter().filter_map(|p| p.policy_arn()) {
            gone(iam.detach_role_policy().role_name(name).policy_arn(p).send().await.map(|_| ()).map_err(classify))?;
        }
        let inline = iam.list_role_policies().role_name(name).into_paginator().items().send().try_collect().await;
        for p in inline.map_err(classify)? {
            gone(iam.delete_role_policy().role_name(name).policy_name(p).send().await.map(|_| ()).map_err(classify))?;
        }
        gone(iam.delete_role().role_name(name).send().await.map(|_| ()).map_err(classify))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kinds::iam::url_decode;

    fn json(text: &str) -> Value {
        Value::from(&serde_json::from_str::<serde_json::Value>(text).unwrap())
    }

    /// The stack's document (YAML-shaped values) after `normalise` equals IAM's text.
    #[track_caller]
    fn check(stack: Value, aws: &str) {
        let mut props = Props::from([("assume_role_policy".to_string(), stack)]);
        IamRole.normalise("s", "r", &mut props);
        assert_eq!(Some(props["assume_role_policy"].clone()), parse_document(aws), "stack vs {aws}");
    }

    #[test]
    fn equal_documents_compare_equal() {
        let base = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":["ecs-tasks.amazonaws.com"]},"Action":["sts:AssumeRole"]}]}"#;
        // Single statement object, single strings, other key order.
        check(
            json(
                r#"{"Statement":{"Action":"sts:AssumeRole","Principal":{"Service":"ecs-tasks.amazonaws.com"},"Effect":"Allow"},"Version":"2012-10-17"}"#,
            ),
            base,
        );
        // URL-encoded, as IAM returns it, with whitespace.
        check(
            json(base),
            "%7B%22Version%22%3A%20%222012-10-17%22%2C%20%22Statement%22%3A%20%5B%7B%22Effect%22%3A%20%22Allow%22%2C%20%22Principal%22%3A%20%7B%22Service%22%3A%20%22ecs-tasks.amazonaws.com%22%7D%2C%20%22Action%22%3A%20%22sts%3AAssumeRole%22%7D%5D%7D",
        );
        // Action lists in another order, duplicates; statements in another order.
        check(
            json(
                r#"{"Version":"2012-10-17","Statement":[
                    {"Effect":"Allow","Action":["s3:PutObject","s3:GetObject","s3:GetObject"],"Resource":"arn:aws:s3:::b/*"},
                    {"Effect":"Deny","Action":"s3:DeleteObject","Resource":["arn:aws:s3:::b/*"]}]}"#,
            ),
            r#"{"Version":"2012-10-17","Statement":[
                {"Effect":"Deny","Action":["s3:DeleteObject"],"Resource":"arn:aws:s3:::b/*"},
                {"Resource":["arn:aws:s3:::b/*"],"Effect":"Allow","Action":["s3:GetObject","s3:PutObject"]}]}"#,
        );
        // Condition values: booleans and numbers as IAM compares them; an account id principal.
        check(
            json(
                r#"{"Statement":[{"Effect":"Allow","Principal":{"AWS":"123456789012"},"Action":"sts:AssumeRole",
                   "Condition":{"Bool":{"aws:SecureTransport":true},"NumericLessThan":{"aws:MultiFactorAuthAge":3600}}}]}"#,
            ),
            r#"{"Statement":[{"Effect":"Allow","Principal":{"AWS":["arn:aws:iam::123456789012:root"]},"Action":"sts:AssumeRole",
               "Condition":{"Bool":{"aws:SecureTransport":"true"},"NumericLessThan":{"aws:MultiFactorAuthAge":["3600"]}}}]}"#,
        );
        // "*" principal stays a string.
        check(
            json(r#"{"Statement":[{"Effect":"Allow","Principal":"*","Action":"sts:AssumeRole"}]}"#),
            r#"{"Statement":[{"Effect":"Allow","Principal":"*","Action":["sts:AssumeRole"]}]}"#,
        );
    }

    /// IAM's text of `a` and of `b` read as the same policy.
    #[track_caller]
    fn same(a: &str, b: &str) {
        assert_eq!(parse_document(a), parse_document(b), "\n{a}\n{b}");
        assert!(parse_document(a).is_some());
    }

    #[track_caller]
    fn differ(a: &str, b: &str) {
        assert_ne!(parse_document(a), parse_document(b), "\n{a}\n{b}");
    }

    #[test]
    fn more_equal_shapes() {
        // Several principal types, each a string or a list in any order.
        same(
            r#"{"Statement":[{"Effect":"Allow","Principal":{"Service":["b.amazonaws.com","a.amazonaws.com"],"AWS":"arn:aws:iam::111122223333:role/x"},"Action":"sts:AssumeRole"}]}"#,
            r#"{"Statement":[{"Action":["sts:AssumeRole"],"Principal":{"AWS":["arn:aws:iam::111122223333:role/x"],"Service":["a.amazonaws.com","b.amazonaws.com"]},"Effect":"Allow"}]}"#,
        );
        // NotAction / NotResource are sets too; a Sid stays.
        same(
            r#"{"Statement":[{"Sid":"DenyRest","Effect":"Deny","NotAction":["s3:*","iam:*"],"NotResource":"arn:aws:s3:::b"}]}"#,
            r#"{"Statement":[{"Sid":"DenyRest","Effect":"Deny","NotAction":["iam:*","s3:*"],"NotResource":["arn:aws:s3:::b"]}]}"#,
        );
        // Conditions: operators and keys in any order, values as a string or a list in any order.
        same(
            r#"{"Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"*","Condition":{"StringLike":{"s3:prefix":["b/*","a/*"]},"IpAddress":{"aws:SourceIp":"10.0.0.0/8"}}}]}"#,
            r#"{"Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"*","Condition":{"IpAddress":{"aws:SourceIp":["10.0.0.0/8"]},"StringLike":{"s3:prefix":["a/*","b/*"]}}}]}"#,
        );
        // Whitespace and newlines, URL-encoded with UTF-8.
        same(
            "%7B%0A%20%20%22Statement%22%3A%20%5B%7B%22Sid%22%3A%20%22caf%C3%A9%22%2C%20%22Effect%22%3A%20%22Allow%22%2C%20%22Action%22%3A%20%22s3%3AGetObject%22%2C%20%22Resource%22%3A%20%22%2A%22%7D%5D%0A%7D",
            r#"{"Statement":[{"Sid":"café","Effect":"Allow","Action":["s3:GetObject"],"Resource":["*"]}]}"#,
        );
    }

    #[test]
    fn meaningful_differences_survive() {
        let base = r#"{"Statement":[{"Effect":"Allow","Action":["s3:GetObject"],"Resource":["*"]}]}"#;
        // Another resource, an extra action, a condition, a second statement, a Sid, a version.
        differ(base, r#"{"Statement":[{"Effect":"Allow","Action":["s3:GetObject"],"Resource":["arn:aws:s3:::b/*"]}]}"#);
        differ(base, r#"{"Statement":[{"Effect":"Allow","Action":["s3:GetObject","s3:PutObject"],"Resource":["*"]}]}"#);
        differ(
            base,
            r#"{"Statement":[{"Effect":"Allow","Action":["s3:GetObject"],"Resource":["*"],"Condition":{"Bool":{"aws:SecureTransport":"true"}}}]}"#,
        );
        differ(
            base,
            r#"{"Statement":[{"Effect":"Allow","Action":["s3:GetObject"],"Resource":["*"]},{"Effect":"Deny","Action":["s3:GetObject"],"Resource":["*"]}]}"#,
        );
        differ(base, r#"{"Statement":[{"Sid":"x","Effect":"Allow","Action":["s3:GetObject"],"Resource":["*"]}]}"#);
        differ(
            base,
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["s3:GetObject"],"Resource":["*"]}]}"#,
        );
        // Action vs NotAction.
        differ(base, r#"{"Statement":[{"Effect":"Allow","NotAction":["s3:GetObject"],"Resource":["*"]}]}"#);
    }

    #[test]
    fn unknown_values_survive_normalise() {
        let mut props = Props::from([(
            "policies".to_string(),
            Value::Map(crate::value::Props::from([(
                "secrets".to_string(),
                Value::Map(crate::value::Props::from([(
                    "Statement".to_string(),
                    Value::Map(crate::value::Props::from([
                        ("Effect".to_string(), Value::str("Allow")),
                        ("Action".to_string(), Value::str("ssm:GetParameters")),
                        ("Resource".to_string(), Value::Unknown),
                    ])),
                )])),
            )])),
        )]);
        IamRole.normalise("s", "r", &mut props);
        assert!(props["policies"].has_unknown());
    }

    #[test]
    fn different_documents_stay_different() {
        let a = parse_document(r#"{"Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"*"}]}"#);
        let b = parse_document(r#"{"Statement":[{"Effect":"Deny","Action":"s3:GetObject","Resource":"*"}]}"#);
        let c = parse_document(r#"{"Statement":[{"Effect":"Allow","Action":"s3:PutObject","Resource":"*"}]}"#);
        assert_ne!(a, b);
        assert_ne!(a, c);
        assert_eq!(parse_document("not json"), None);
    }

    #[test]
    fn trust_shorthand_is_the_document_aws_reports() {
        let mut props = Props::from([(
            "trust".to_string(),
            Value::List(vec![Value::str("ecs-tasks.amazonaws.com"), Value::str("ecs.amazonaws.com")]),
        )]);
        IamRole.normalise("shop", "task", &mut props);
        assert!(!props.contains_key("trust"));
        assert_eq!(props["name"], Value::str("shop-task"));
        let aws = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":["ecs.amazonaws.com","ecs-tasks.amazonaws.com"]},"Action":"sts:AssumeRole"}]}"#;
        assert_eq!(Some(props["assume_role_policy"].clone()), parse_document(aws));
    }

    #[test]
    fn inline_policies_are_normalised_too() {
        let mut props = Props::from([(
            "policies".to_string(),
            Value::Map(crate::value::Props::from([(
                "logs".to_string(),
                json(
                    r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"logs:PutLogEvents","Resource":"*"}}"#,
                ),
            )])),
        )]);
        IamRole.normalise("s", "r", &mut props);
        let aws = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["logs:PutLogEvents"],"Resource":["*"]}]}"#;
        assert_eq!(props["policies"].as_map().unwrap()["logs"], parse_document(aws).unwrap());
    }

    #[test]
    fn long_default_names_fit_iams_limit() {
        assert_eq!(default_name("shop", "task"), "shop-task");
        let stack = "a-very-long-stack-name-that-goes-on-and-on-and-on";
        let n = default_name(stack, "execution_role_for_the_upload_service");
        assert!(n.len() <= NAME_MAX, "{n}");
        assert!(n.ends_with("execution_role_for_the_upload_service"), "{n}");
        assert!(n.starts_with("a-very"), "{n}");
    }

    #[test]
    fn url_decoding_leaves_plain_text_alone() {
        assert_eq!(url_decode("a%20b%2Fc+d%"), "a b/c+d%");
    }
}

#[cfg(test)]
mod rules {
    use crate::kinds::testing::check_rules;

    fn role(body: &str) -> String {
        format!("r:\n  type: iam_role\n{}", body.lines().map(|l| format!("  {l}\n")).collect::<String>())
    }

    const TRUST: &str = "trust: [ecs-tasks.amazonaws.com]\n";

    fn inline(statement: &str) -> String {
        role(&format!("{TRUST}policies:\n  p:\n    Version: \"2012-10-17\"\n    Statement:\n      - {statement}"))
    }

    #[test]
    fn someone_may_assume_it() {
        check_rules(&role(TRUST), &[]);
        check_rules(&role("managed_policy_arns: []"), &["4:3: a role needs `trust`"]);
        let trust = |statement: &str| {
            role(&format!("assume_role_policy:\n  Version: \"2012-10-17\"\n  Statement:\n    - {statement}"))
        };
        check_rules(
            &trust("{ Effect: Allow, Principal: { Service: ecs-tasks.amazonaws.com }, Action: \"sts:AssumeRole\" }"),
            &[],
        );
        check_rules(
            &trust("{ Effect: Allow, Action: \"sts:AssumeRole\", Resource: \"*\" }"),
            &["a trust policy statement needs `Principal`", "a trust policy names no resource"],
        );
    }

    #[test]
    fn inline_policy_grammar() {
        check_rules(&inline("{ Sid: Read1, Effect: Allow, Action: [\"s3:GetObject\"], Resource: \"*\" }"), &[]);
        check_rules(
            &inline("{ Effect: allow, Action: \"s3:GetObject\", Resource: \"*\" }"),
            &["Effect `allow`: AWS takes `Allow` or `Deny` | did you mean `Allow`?"],
        );
        check_rules(
            &inline("{ Effect: Allow, Actions: \"s3:GetObject\", Resource: \"*\" }"),
            &["a statement needs `Action`", "`Actions` is no element of a policy statement | did you mean `Action`?"],
        );
        check_rules(&inline("{ Effect: Allow, Action: \"s3:GetObject\" }"), &["needs `Resource` (or `NotResource`)"]);
        check_rules(
            &inline("{ Effect: Allow, Principal: \"*\", Action: \"s3:GetObject\", Resource: \"*\" }"),
            &["an inline policy names no principal"],
        );
        check_rules(
            &inline("{ Sid: read-all, Effect: Allow, Action: \"s3:*\", Resource: \"*\" }"),
            &["Sid `read-all` contains `-`"],
        );
        check_rules(
            &inline(
                "{ Sid: A, Effect: Allow, Action: \"s3:*\", Resource: \"*\" }\n      - { Sid: A, Effect: Deny, Action: \"s3:*\", Resource: \"*\" }",
            ),
            &["Sid `A` is used by an earlier statement"],
        );
        check_rules(
            &inline("{ Effect: Allow, Action: \"s3:*\", NotAction: \"s3:Get*\", Resource: \"*\" }"),
            &["give `Action` or `NotAction`, not both"],
        );
        check_rules(
            &inline("{ Effect: Allow, Action: \"s3:*\", Resource: \"arn:aws:s3:::b€\" }"),
            &["the policy contains `€`"],
        );
        check_rules(
            &role(&format!(
                "{TRUST}policies:\n  p:\n    Version: \"2012-10-18\"\n    Statement: {{ Effect: Allow, Action: \"s3:*\", Resource: \"*\" }}"
            )),
            &["policy Version `2012-10-18` is not one AWS knows"],
        );
    }

    #[test]
    fn names_sizes_and_counts() {
        let doc = "{ Version: \"2012-10-17\", Statement: { Effect: Allow, Action: \"s3:*\", Resource: \"*\" } }";
        check_rules(&role(&format!("{TRUST}policies: {{ \"read+write=all.@,-_1\": {doc} }}")), &[]);
        check_rules(
            &role(&format!("{TRUST}policies: {{ \"read all\": {doc} }}")),
            &["policy name `read all` contains ` `"],
        );
        let big = format!(
            "{{ Version: \"2012-10-17\", Statement: {{ Effect: Allow, Action: \"s3:*\", Resource: \"arn:aws:s3:::{}\" }} }}",
            "b".repeat(5200)
        );
        check_rules(&role(&format!("{TRUST}policies: {{ a: {big}, b: {big} }}")), &["the inline policies come to"]);
        let arns = (0..21).map(|i| format!("arn:aws:iam::aws:policy/P{i}")).collect::<Vec<_>>().join(", ");
        check_rules(
            &role(&format!("{TRUST}managed_policy_arns: [{arns}]")),
            &["21 managed policies; AWS attaches at most 20"],
        );
        check_rules(
            &format!(
                "{}{}",
                role(&format!("name: App\n{TRUST}")),
                "q: { type: iam_role, name: app, trust: [ecs-tasks.amazonaws.com] }"
            ),
            &["role `r` is named `app` too (IAM ignores case)"],
        );
    }
}
