//! The stack's header: `stack:`, `region:`, `allowed_account_ids` / `forbidden_account_ids`,
//! `tags:` and `backend:`.

use super::Diags;
use crate::model::Tags;
use crate::stack::AccountGuard;
use crate::stack::diag::{Span, did_you_mean};
use crate::stack::yaml::{Node, NodeKind, key_text};
use crate::state::S3Location;

const S3_BACKEND_KEYS: &[&str] = &["bucket", "key", "region", "kms_key_id"];

/// What the header says; a value that failed its checks is left out (and reported).
#[derive(Default)]
pub(super) struct Header {
    pub(super) name: Option<String>,
    pub(super) region: Option<String>,
    pub(super) tags: Tags,
    pub(super) backend: Option<S3Location>,
    pub(super) accounts: AccountGuard,
}

impl Header {
    /// Reads a top-level key if it belongs to the header; false if it does not.
    pub(super) fn read(&mut self, d: &mut Diags, key: &str, v: &Node) -> bool {
        match key {
            "stack" => self.name = stack_name(d, v),
            "region" => self.region = region(d, v),
            "allowed_account_ids" => self.accounts.allowed = account_ids(d, v, "allowed_account_ids"),
            "forbidden_account_ids" => self.accounts.forbidden = account_ids(d, v, "forbidden_account_ids"),
            "tags" => self.tags = tags(d, v),
            "backend" => self.backend = backend(d, v),
            _ => return false,
        }
        true
    }

    /// What the keys say together, once all are read: the required ones, and the account lists.
    pub(super) fn check(&self, d: &mut Diags, root: &Node, top: &[(Node, Node)]) {
        if self.name.is_none() && !top.iter().any(|(k, _)| key_text(k) == "stack") {
            d.err(root.span, "missing `stack:` (the stack's name)");
        }
        if self.region.is_none() && !top.iter().any(|(k, _)| key_text(k) == "region") {
            d.err(root.span, "missing `region:` (e.g. us-east-1)");
        }
        if !self.accounts.allowed.is_empty()
            && !self.accounts.forbidden.is_empty()
            && let Some((_, v)) = top.iter().find(|(k, _)| key_text(k) == "forbidden_account_ids")
        {
            d.err(v.span, "`allowed_account_ids` and `forbidden_account_ids` exclude each other: give one").help =
                Some("an allow-list already forbids every account it does not name".into());
        }
    }
}

/// `allowed_account_ids` / `forbidden_account_ids`: twelve-digit AWS account ids.
fn account_ids(d: &mut Diags, v: &Node, what: &str) -> Vec<String> {
    let NodeKind::Seq(items) = &v.kind else {
        let got = v.type_name();
        d.err(v.span, format!("`{what}` must be a list of account ids, found {got}"));
        return vec![];
    };
    let mut out = Vec::new();
    for item in items {
        let text = match &item.kind {
            NodeKind::Str { text } => text.clone(),
            // YAML reads an unquoted id as a number, and drops its leading zeros.
            NodeKind::Int(n) if *n >= 0 => format!("{n:012}"),
            _ => String::new(),
        };
        if text.len() != 12 || !text.bytes().all(|b| b.is_ascii_digit()) {
            d.err(item.span, format!("an entry of `{what}` must be a 12-digit AWS account id"));
            continue;
        }
        if matches!(item.kind, NodeKind::Int(n) if n < 100_000_000_000) {
            d.err(item.span, format!("quote account id {text}: YAML reads it as a number and drops its leading zeros"));
            continue;
        }
        out.push(text);
    }
    out
}

fn stack_name(d: &mut Diags, v: &Node) -> Option<String> {
    let s = d.string(v, "`stack`")?;
    valid_stack_name(d, &s, v.span)
}

/// A stack's name (this stack's, or an imported one's), if it is one.
pub(super) fn valid_stack_name(d: &mut Diags, s: &str, span: Span) -> Option<String> {
    let ok = (1..=63).contains(&s.len())
        && s.starts_with(|c: char| c.is_ascii_lowercase())
        && !s.ends_with('-')
        && s.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    if !ok {
        d.err(span, format!("invalid stack name `{s}`: expected 1-63 lowercase letters, digits and '-', starting with a letter and not ending with '-'"));
        return None;
    }
    Some(s.to_owned())
}

fn region(d: &mut Diags, v: &Node) -> Option<String> {
    let s = d.string(v, "`region`")?;
    let parts: Vec<&str> = s.split('-').collect();
    let ok = parts.len() >= 3
        && parts[0].len() == 2
        && parts.iter().all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit()))
        && parts.last().is_some_and(|p| p.bytes().all(|b| b.is_ascii_digit()));
    if !ok {
        d.err(v.span, format!("invalid region `{s}`: expected a region name like us-east-1"));
        return None;
    }
    if !crate::spec::regions::is_region(&s) {
        let help = did_you_mean(&s, crate::spec::regions::names()).unwrap_or_else(|| {
            format!("regions rprov knows: {}", crate::spec::regions::names().collect::<Vec<_>>().join(", "))
        });
        d.err(v.span, format!("unknown region `{s}`: AWS has no region of that name")).help = Some(help);
        return None;
    }
    Some(s)
}

/// `backend: { s3: { bucket, key, region?, kms_key_id? } }`.
fn backend(d: &mut Diags, v: &Node) -> Option<S3Location> {
    let entries = d.mapping(v, "`backend`")?;
    let mut out = None;
    for (k, val) in entries {
        match key_text(k).as_str() {
            "s3" => out = s3_backend(d, val),
            other => {
                d.err(
                    k.span,
                    format!("unknown state backend `{other}`; expected: s3 (the local file is the default)"),
                )
                .help = did_you_mean(other, ["s3"]);
            }
        }
    }
    if entries.is_empty() {
        d.err(v.span, "`backend` is empty; expected `s3: { bucket, key }`");
    }
    out
}

fn s3_backend(d: &mut Diags, v: &Node) -> Option<S3Location> {
    let entries = d.mapping(v, "`backend.s3`")?;
    let (mut bucket, mut key, mut region, mut kms_key_id) = (None, None, None, None);
    let mut ok = true;
    for (k, val) in entries {
        match key_text(k).as_str() {
            "bucket" => match d.string(val, "`backend.s3.bucket`") {
                Some(b) => match crate::state::bucket_problem(&b) {
                    Some(problem) => {
                        d.err(val.span, problem);
                        ok = false;
                    }
                    None => bucket = Some(b),
                },
                None => ok = false,
            },
            "key" => match d.string(val, "`backend.s3.key`") {
                Some(t) if t.is_empty() || t.starts_with('/') => {
                    d.err(val.span, format!("invalid key `{t}`: expected an object key like `rprov/network.json`, or a prefix ending in `/` (`rprov/`), not starting with `/`"));
                    ok = false;
                }
                Some(t) => key = Some(t),
                None => ok = false,
            },
            "region" => {
                region = self::region(d, val);
                ok &= region.is_some();
            }
            "kms_key_id" => {
                kms_key_id = d.string(val, "`backend.s3.kms_key_id`");
                ok &= kms_key_id.is_some();
            }
            other => {
                d.err(
                    k.span,
                    format!("unknown key `{other}` in `backend.s3`; expected one of: {}", S3_BACKEND_KEYS.join(", ")),
                )
                .help = did_you_mean(other, S3_BACKEND_KEYS.iter().copied());
                ok = false;
            }
        }
    }
    for (name, missing) in [("bucket", bucket.is_none()), ("key", key.is_none())] {
        if missing && !entries.iter().any(|(k, _)| key_text(k) == name) {
            d.err(v.span, format!("`backend.s3` needs `{name}`"));
            ok = false;
        }
    }
    Some(S3Location { bucket: bucket?, key: key?, region, kms_key_id }).filter(|_| ok)
}

fn tags(d: &mut Diags, v: &Node) -> Tags {
    let mut out = Tags::new();
    let Some(entries) = d.mapping(v, "`tags`") else { return out };
    for (k, val) in entries {
        let key = key_text(k);
        if reserved_tag_key(&key) {
            d.err(k.span, format!("tag key `{key}` is reserved (`rprov:` and `aws:` prefixes)"));
            continue;
        }
        match scalar_text(val) {
            Some(t) => {
                out.insert(key, t);
            }
            None => {
                let got = val.type_name();
                d.err(val.span, format!("tag `{key}` must be a string, found {got}"));
            }
        }
    }
    out
}

/// `rprov:` and `aws:` tag keys are reserved, on the stack and on every resource.
fn reserved_tag_key(key: &str) -> bool {
    key.starts_with("rprov:") || key.starts_with("aws:")
}

/// A resource's `tags` may not use a reserved key either (their values are checked by type).
pub(super) fn check_tag_keys(d: &mut Diags, v: &Node) {
    if let NodeKind::Map(entries) = &v.kind {
        for (k, _) in entries {
            let key = key_text(k);
            if reserved_tag_key(&key) {
                d.err(k.span, format!("tag key `{key}` is reserved (`rprov:` and `aws:` prefixes)"));
            }
        }
    }
}

fn scalar_text(n: &Node) -> Option<String> {
    match &n.kind {
        NodeKind::Str { text, .. } => Some(text.clone()),
        NodeKind::Int(i) => Some(i.to_string()),
        NodeKind::Num(f) => Some(f.to_string()),
        NodeKind::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}
