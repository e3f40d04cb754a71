//! What the IAM kinds (role, user, managed policy) share: the client, the stack's path, tags,
//! policy documents in one canonical shape (the stack's YAML and IAM's URL-encoded JSON compare
//! equal when they mean the same), IAM's policy grammar for `check`, and the one read of a
//! refresh that every IAM kind takes its resources from.

use std::sync::Arc;

use aws_sdk_iam::Client;
use aws_sdk_iam::types::{EntityType, ManagedPolicyDetail, RoleDetail, Tag, UserDetail};

use crate::aws::{AwsError, Cx, classify};
use crate::diag::did_you_mean;
use crate::expr::{Expr, ExprMap};
use crate::kinds::{Tags, without_aws_tags};
use crate::spec::rules::{earlier_with_same_name, lit_str};
use crate::spec::{Problem, Subject};
use crate::value::Value;

pub fn client(cx: &Cx) -> Client {
    cx.client(Client::new)
}

/// Every role, user and managed policy of a stack lives under this path, so the stack's are recognisable without
/// their tags, and teardown finds them by path.
pub fn stack_path(stack: &str) -> String {
    format!("/rprov/{stack}/")
}

/// `<stack>-<id>` cut to `max` characters: the logical id kept whole where possible (it is what
/// tells two resources of a stack apart), the stack name shortened first.
pub fn fit_name(stack: &str, id: &str, max: usize) -> String {
    let name = format!("{stack}-{id}");
    if name.chars().count() <= max {
        return name;
    }
    let id_part: String = id.chars().rev().take(max - 9).collect::<Vec<_>>().into_iter().rev().collect();
    let stack_part: String = stack.chars().take(max - 1 - id_part.chars().count()).collect();
    format!("{stack_part}-{id_part}")
}

// ---- the one IAM read of a refresh ----

/// The account's roles, users and customer managed policies, each with its policies and tags.
#[derive(Debug, Default)]
pub struct Details {
    pub roles: Vec<RoleDetail>,
    pub users: Vec<UserDetail>,
    pub policies: Vec<ManagedPolicyDetail>,
}

/// ONE paginated GetAccountAuthorizationDetails (Filter Role, User, LocalManagedPolicy) per
/// refresh, shared by iam_role, iam_user and iam_policy (`Cx::once`): roles with their trust
/// policy, inline and attached policies and tags; users with their inline and attached
/// policies, groups, permissions boundary and tags; customer managed policies with every
/// version's document. It is the only IAM call that returns policies and tags in bulk: ListRoles
/// and ListUsers leave out tags and policies, ListPolicies the documents (one GetPolicyVersion per
/// policy). Managed policies' tags are not in it (see `iam_policy`).
/// https://docs.aws.amazon.com/IAM/latest/APIReference/API_GetAccountAuthorizationDetails.html
pub async fn details(cx: &Cx) -> Result<Arc<Details>, AwsError> {
    cx.once("iam:account-authorization-details", || async {
        let pages = client(cx)
            .get_account_authorization_details()
            .filter(EntityType::Role)
            .filter(EntityType::User)
            .filter(EntityType::LocalManagedPolicy)
            .into_paginator()
            .send()
            .try_collect()
            .await
            .map_err(classify)?;
        let mut d = Details::default();
        for p in pages {
            d.roles.extend(p.role_detail_list().iter().cloned());
            d.users.extend(p.user_detail_list().iter().cloned());
            d.policies.extend(p.policies().iter().cloned());
        }
        Ok(d)
    })
    .await
}

// ---- tags ----

// ---- AWS <-> Live ----

pub fn to_sdk(tags: &Tags) -> Vec<Tag> {
    tags.iter().filter_map(|(k, v)| Tag::builder().key(k).value(v).build().ok()).collect()
}

pub fn from_sdk(tags: &[Tag]) -> Tags {
    without_aws_tags(tags.iter().map(|t| (t.key(), t.value())))
}

// ---- policy documents: one canonical shape for the stack's YAML and IAM's JSON ----

/// IAM returns policy documents URL-encoded (RFC 3986); `%XX` is all it uses.
/// https://docs.aws.amazon.com/IAM/latest/APIReference/API_GetRolePolicy.html
pub fn url_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%'
            && i + 2 < b.len()
            && let (Some(h), Some(l)) = ((b[i + 1] as char).to_digit(16), (b[i + 2] as char).to_digit(16))
        {
            out.push((h * 16 + l) as u8);
            i += 3;
            continue;
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// A policy document as IAM returns it, in canonical form; `None` if it is not JSON.
pub fn parse_document(text: &str) -> Option<Value> {
    let text = if text.trim_start().starts_with('{') { text.to_owned() } else { url_decode(text) };
    let json: serde_json::Value = serde_json::from_str(&text).ok()?;
    Some(canonical_policy(&Value::from(&json)))
}

/// Equal policies compare equal: a single statement or a single action/resource/principal
/// string is a one-item list, lists without meaning in their order are sorted and deduplicated,
/// condition values are strings (IAM compares them as such), a bare account id as AWS
/// principal is the account's root ARN (IAM rewrites it so). Keys are ordered by the map.
pub fn canonical_policy(doc: &Value) -> Value {
    let Value::Map(m) = doc else { return doc.clone() };
    let mut out = m.clone();
    if let Some(st) = m.get("Statement") {
        let mut list: Vec<Value> = match st {
            Value::List(l) => l.iter().map(canonical_statement).collect(),
            other => vec![canonical_statement(other)],
        };
        list.sort_by_cached_key(|v| v.to_string());
        out.insert("Statement".into(), Value::List(list));
    }
    Value::Map(out)
}

fn canonical_statement(s: &Value) -> Value {
    let Value::Map(m) = s else { return s.clone() };
    let out = m
        .iter()
        .map(|(k, v)| {
            let v = match k.as_str() {
                "Action" | "NotAction" | "Resource" | "NotResource" => string_set(v),
                "Principal" | "NotPrincipal" => principal(v),
                "Condition" => condition(v),
                _ => v.clone(),
            };
            (k.clone(), v)
        })
        .collect();
    Value::Map(out)
}

fn scalar_text(v: &Value) -> Value {
    match v {
        Value::Bool(b) => Value::str(b.to_string()),
        Value::Int(i) => Value::str(i.to_string()),
        Value::Num(n) => Value::str(n.to_string()),
        other => other.clone(),
    }
}

fn string_set(v: &Value) -> Value {
    let mut items: Vec<Value> = match v {
        Value::List(l) => l.iter().map(scalar_text).collect(),
        other => vec![scalar_text(other)],
    };
    items.sort_by_cached_key(|v| v.to_string());
    items.dedup();
    Value::List(items)
}

fn principal(v: &Value) -> Value {
    let Value::Map(m) = v else { return v.clone() };
    let out = m
        .iter()
        .map(|(k, v)| {
            let mut set = string_set(v);
            if k == "AWS"
                && let Value::List(l) = &mut set
            {
                for p in l.iter_mut() {
                    if let Value::Str(s) = p
                        && s.len() == 12
                        && s.bytes().all(|c| c.is_ascii_digit())
                    {
                        *s = format!("arn:aws:iam::{s}:root");
                    }
                }
                l.sort_by_cached_key(|v| v.to_string());
            }
            (k.clone(), set)
        })
        .collect();
    Value::Map(out)
}

fn condition(v: &Value) -> Value {
    let Value::Map(ops) = v else { return v.clone() };
    let out = ops
        .iter()
        .map(|(op, keys)| {
            let keys = match keys {
                Value::Map(k) => Value::Map(k.iter().map(|(k, v)| (k.clone(), string_set(v))).collect()),
                other => other.clone(),
            };
            (op.clone(), keys)
        })
        .collect();
    Value::Map(out)
}

pub fn json_text(v: &Value) -> String {
    serde_json::Value::from(v).to_string()
}

// ---- IAM's policy grammar ----

/// "Role policy size cannot exceed 10,240 characters" (aggregate of a role's inline policies; IAM
/// does not count white space; not adjustable); users: 2,048. AWS: IAM and STS quotas.
pub const INLINE_POLICIES_MAX: usize = 10_240;

pub const DOCUMENT_KEYS: &[&str] = &["Version", "Id", "Statement"];
pub const STATEMENT_KEYS: &[&str] =
    &["Sid", "Effect", "Principal", "NotPrincipal", "Action", "NotAction", "Resource", "NotResource", "Condition"];

/// What a policy document is for: who may assume a role (trust), or what an identity may do
/// (a role's or user's inline policy, a managed policy).
#[derive(Clone, Copy, PartialEq)]
pub enum Policy {
    Trust,
    Inline,
    Managed,
}

/// The number of characters of a document as IAM counts them (the JSON rprov sends, white
/// space left out), a value known only at apply counted as an empty string: a lower bound.
pub fn policy_len(e: &Expr) -> usize {
    let text = |s: &str| s.chars().filter(|c| !c.is_whitespace()).count() + 2;
    match e {
        Expr::Lit(Value::Str(s)) => text(s),
        Expr::Lit(v) => serde_json::Value::from(v).to_string().chars().filter(|c| !c.is_whitespace()).count(),
        Expr::Ref(_) => 2,
        Expr::Concat(parts) => {
            2 + parts
                .iter()
                .map(|p| match p {
                    Expr::Lit(Value::Str(s)) => text(s) - 2,
                    _ => 0,
                })
                .sum::<usize>()
        }
        Expr::List(items) => 2 + items.len().saturating_sub(1) + items.iter().map(policy_len).sum::<usize>(),
        Expr::Map(m) => {
            2 + m.len().saturating_sub(1) + m.iter().map(|(k, v)| text(k) + 1 + policy_len(v)).sum::<usize>()
        }
    }
}

/// The first character IAM does not take in a policy document: "Any printable ASCII character
/// ... The printable characters in the Basic Latin and Latin-1 Supplement character set
/// (through \u00FF) ... tab, line feed, and carriage return" (AWS: CreateRole
/// AssumeRolePolicyDocument, PutRolePolicy PolicyDocument).
pub fn foreign_char(e: &Expr) -> Option<char> {
    let bad = |s: &str| s.chars().find(|c| !matches!(*c, '\t' | '\n' | '\r' | '\u{20}'..='\u{ff}'));
    match e {
        Expr::Lit(Value::Str(s)) => bad(s),
        Expr::Lit(_) | Expr::Ref(_) => None,
        Expr::Concat(p) | Expr::List(p) => p.iter().find_map(foreign_char),
        Expr::Map(m) => m.iter().find_map(|(k, v)| bad(k).or_else(|| foreign_char(v))),
    }
}

/// IAM's policy grammar, as far as a document written out shows it (AWS: IAM JSON policy
/// element reference; MalformedPolicyDocument answers "Syntax errors in policy.", "Statement IDs
/// (SID) must be alpha-numeric.", "Statement IDs (SID) in a single policy must be unique.",
/// "Policy document should not specify a principal.", "Policy statement must contain
/// resources.", "Has prohibited field Resource", "Missing required field Principal").
pub fn document_rules(doc: &Expr, at: &str, policy: Policy, out: &mut Vec<Problem>) {
    let Expr::Map(m) = doc else {
        if !matches!(doc, Expr::Ref(_) | Expr::Lit(Value::Map(_))) {
            out.push(Problem::new(at, "a policy document is a mapping of `Version` and `Statement`"));
        }
        return;
    };
    for key in m.keys().filter(|k| !DOCUMENT_KEYS.contains(&k.as_str())) {
        let p = Problem::new(
            format!("{at}.{key}"),
            format!("`{key}` is no element of a policy; AWS takes Version, Id and Statement"),
        );
        out.push(match did_you_mean(key, DOCUMENT_KEYS.iter().copied()) {
            Some(h) => p.help(h),
            None => p,
        });
    }
    if let Some(v) = lit_str(m.get("Version")).filter(|v| !["2012-10-17", "2008-10-17"].contains(v)) {
        out.push(
            Problem::new(
                format!("{at}.Version"),
                format!("policy Version `{v}` is not one AWS knows: 2012-10-17 or 2008-10-17"),
            )
            .help("write Version: \"2012-10-17\" (quoted)"),
        );
    }
    if let Some(c) = foreign_char(doc) {
        out.push(Problem::new(
            at,
            format!("the policy contains `{c}`; AWS takes printable Latin-1 characters only in a policy"),
        ));
    }
    let mut sids: Vec<&str> = Vec::new();
    match m.get("Statement") {
        None => out.push(Problem::new(at, "a policy document needs `Statement`")),
        Some(Expr::Map(st)) => statement_rules(st, &format!("{at}.Statement"), policy, &mut sids, out),
        Some(Expr::List(items)) => {
            for (i, item) in items.iter().enumerate() {
                match item {
                    Expr::Map(st) => statement_rules(st, &format!("{at}.Statement.{i}"), policy, &mut sids, out),
                    Expr::Ref(_) => {}
                    _ => out.push(Problem::new(
                        format!("{at}.Statement.{i}"),
                        "a statement is a mapping of Effect, Action, ...",
                    )),
                }
            }
        }
        Some(_) => {}
    }
}

fn statement_rules<'a>(st: &'a ExprMap, at: &str, policy: Policy, sids: &mut Vec<&'a str>, out: &mut Vec<Problem>) {
    let has = |k: &str| st.contains_key(k);
    for key in st.keys().filter(|k| !STATEMENT_KEYS.contains(&k.as_str())) {
        let p = Problem::new(
            format!("{at}.{key}"),
            format!("`{key}` is no element of a policy statement; AWS takes {}", STATEMENT_KEYS.join(", ")),
        );
        out.push(match did_you_mean(key, STATEMENT_KEYS.iter().copied()) {
            Some(h) => p.help(h),
            None => p,
        });
    }
    match st.get("Effect") {
        None => out.push(Problem::new(at, "a statement needs `Effect: Allow` or `Effect: Deny`")),
        Some(e) => {
            if let Some(effect) = lit_str(Some(e)).filter(|e| !["Allow", "Deny"].contains(e)) {
                let p = Problem::new(
                    format!("{at}.Effect"),
                    format!("Effect `{effect}`: AWS takes `Allow` or `Deny`, case as written"),
                );
                out.push(match effect.to_ascii_lowercase().as_str() {
                    "allow" => p.help("did you mean `Allow`?"),
                    "deny" => p.help("did you mean `Deny`?"),
                    _ => p,
                });
            }
        }
    }
    for (one, not) in [("Action", "NotAction"), ("Resource", "NotResource"), ("Principal", "NotPrincipal")] {
        if has(one) && has(not) {
            out.push(Problem::new(format!("{at}.{not}"), format!("give `{one}` or `{not}`, not both")));
        }
    }
    if !has("Action") && !has("NotAction") {
        out.push(Problem::new(at, "a statement needs `Action` (or `NotAction`): what it allows or denies"));
    }
    if let Some(sid) = lit_str(st.get("Sid")) {
        if let Some(c) = sid.chars().find(|c| !c.is_ascii_alphanumeric()) {
            out.push(Problem::new(
                format!("{at}.Sid"),
                format!("Sid `{sid}` contains `{c}`; AWS takes letters and digits only"),
            ));
        } else if sids.contains(&sid) {
            out.push(Problem::new(
                format!("{at}.Sid"),
                format!("Sid `{sid}` is used by an earlier statement; AWS wants Sids unique in a policy"),
            ));
        }
        sids.push(sid);
    }
    match policy {
        Policy::Inline | Policy::Managed => {
            let (what, principal) = if policy == Policy::Inline {
                ("an inline policy", "the role or user is it")
            } else {
                ("a managed policy", "whoever it is attached to is it")
            };
            for key in ["Principal", "NotPrincipal"].into_iter().filter(|k| has(k)) {
                out.push(Problem::new(
                    format!("{at}.{key}"),
                    format!("{what} names no principal ({principal}); AWS refuses `{key}` here"),
                ));
            }
            if !has("Resource") && !has("NotResource") {
                out.push(Problem::new(
                    at,
                    format!("a statement of {what} needs `Resource` (or `NotResource`): what it applies to"),
                ));
            }
        }
        Policy::Trust => {
            if has("Resource") {
                out.push(Problem::new(
                    format!("{at}.Resource"),
                    "a trust policy names no resource (the role is it); AWS refuses `Resource` here",
                ));
            }
            if !has("Principal") && !has("NotPrincipal") {
                out.push(Problem::new(at, "a trust policy statement needs `Principal`: who may assume the role"));
            }
        }
    }
}

/// IAM's inline policy names: `[\w+=,.@-]`, 1 to 128 characters (AWS: PutRolePolicy PolicyName).
pub fn policy_name_problem(name: &str) -> Option<Problem> {
    let allowed = |c: char| c.is_ascii_alphanumeric() || "_+=,.@-".contains(c);
    let len = name.chars().count();
    let message = match name.chars().find(|c| !allowed(*c)) {
        Some(c) => format!("policy name `{name}` contains `{c}`; AWS takes letters, digits and _+=,.@- only"),
        None if !(1..=128).contains(&len) => format!("policy name `{name}` is {len} characters; AWS takes 1 to 128"),
        None => return None,
    };
    Some(Problem::new(format!("policies.{name}"), message))
}

/// IAM names (roles, users, managed policies) are unique in an account, case aside: a second
/// Create answers EntityAlreadyExists. The problem when an earlier `kind` resource of the stack
/// has this one's name; `default_name` gives the name of a resource that leaves it out, `noun`
/// names the entity in the message.
pub fn same_name_problem(
    s: &Subject,
    kind: &str,
    noun: &str,
    default_name: impl Fn(&str, &str) -> String,
) -> Option<Problem> {
    let stack = s.stack.name();
    let name_of = |id: &str, p: &ExprMap| {
        match p.get("name") {
            None | Some(Expr::Lit(Value::Null)) => Some(default_name(stack, id)),
            e => lit_str(e).map(str::to_owned),
        }
        .map(|n| n.to_lowercase())
    };
    let (other, name) = earlier_with_same_name(s, kind, name_of)?;
    Some(Problem::new(
        "name",
        format!(
            "{noun} `{other}` is named `{name}` too (IAM ignores case); AWS keeps {noun} names unique in an account"
        ),
    ))
}
