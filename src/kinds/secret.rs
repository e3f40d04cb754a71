use async_trait::async_trait;
use aws_sdk_secretsmanager::Client;
use aws_sdk_secretsmanager::operation::describe_secret::DescribeSecretOutput;
use aws_sdk_secretsmanager::types::{SecretListEntry, Tag};

use super::{CreateReq, DeleteReq, Kind, Live, Tags, UpdateReq, gone_ok, tag_changes, without_aws_tags};
use crate::aws::{AwsError, Cx, Poll, classify, wait_gone};
use crate::expr::{Expr, ExprMap};
use crate::schema::{Attr, Default, KindSchema, Prop, Ty};
use crate::spec::rules::{earlier_with_same_name, lit_str};
use crate::spec::{KindSpec, Problem, Refusals, Subject};
use crate::value::{Props, Value};

pub struct Secret;

/// Secrets Manager's limits on a name (AWS: CreateSecret Name).
const NAME_MAX: usize = 512;
/// GetRandomPassword's PasswordLength: 1 to 4,096.
const LENGTH_MAX: i64 = 4096;

static GENERATE: [Prop; 10] = [
    Prop::new("length", Ty::Int, "How many characters the generated value has (1 to 4,096).").default(Default::Int(32)),
    Prop::new("exclude_characters", Ty::Str, "Characters never used (e.g. `\"@/\\\"` for a database password)."),
    Prop::new("exclude_punctuation", Ty::Bool, "No punctuation: ``!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~``.")
        .default(Default::Bool(false)),
    Prop::new("exclude_numbers", Ty::Bool, "No digits.").default(Default::Bool(false)),
    Prop::new("exclude_uppercase", Ty::Bool, "No upper-case letters.").default(Default::Bool(false)),
    Prop::new("exclude_lowercase", Ty::Bool, "No lower-case letters.").default(Default::Bool(false)),
    Prop::new("include_space", Ty::Bool, "Whether the space character may be used.").default(Default::Bool(false)),
    Prop::new(
        "require_each_included_type",
        Ty::Bool,
        "At least one character of each type not excluded (lower case, upper case, digit, punctuation).",
    )
    .default(Default::Bool(true)),
    Prop::new(
        "template",
        Ty::StrMap,
        "Fixed fields: the secret becomes the JSON object of these fields and `key` = the generated value, e.g. \
         `{username: app}` for the `{\"username\": ..., \"password\": ...}` shape RDS Proxy and applications read \
         database credentials in.",
    ),
    Prop::new("key", Ty::Str, "The field of the generated value when `template` is given.")
        .default(Default::Str("password")),
];

static SCHEMA: KindSchema = KindSchema {
    name: "secret",
    doc: "A Secrets Manager secret: a value given by the stack (a parameter marked secret) or generated when the \
          secret is made, never read back, never printed, recorded as a digest only. Deleted with a recovery \
          window; a secret of this resource still in its window is restored when the stack creates it again.",
    props: &[
        Prop::new("name", Ty::Str, "The secret's name; `<stack>/<id>` when left out.")
            .aws("secretsmanager:CreateSecretRequest.Name")
            .replaces(),
        Prop::new("description", Ty::Str, "What the secret is for.")
            .aws("secretsmanager:CreateSecretRequest.Description"),
        Prop::new(
            "kms_key",
            Ty::Str,
            "The KMS key (ARN, id or alias) that encrypts the value; AWS's managed key `aws/secretsmanager` when \
             left out. Not read back (AWS reports it in another form than written): compared with the recorded value.",
        )
        .aws("secretsmanager:CreateSecretRequest.KmsKeyId"),
        Prop::new(
            "value",
            Ty::Str,
            "The value (or `generate`). Secret: never printed, recorded as a digest only, never read back from AWS.",
        )
        .aws("secretsmanager:CreateSecretRequest.SecretString")
        .secret(),
        Prop::new(
            "generate",
            Ty::Obj(&GENERATE),
            "Instead of `value`: a random value made when the secret is created (and again when these settings \
             change), with GetRandomPassword's rules, sent only to Secrets Manager: never printed, never in state or \
             plans. `{}` for 32 characters of letters, digits and punctuation.",
        ),
        Prop::new(
            "recovery_window_days",
            Ty::Int,
            "Days (7 to 30) a deleted secret can still be restored before AWS deletes it for good.",
        )
        .default(Default::Int(30)),
        Prop::new(
            "force_delete_without_recovery",
            Ty::Bool,
            "Delete at once, without a recovery window (sandboxes): the value is lost immediately.",
        )
        .default(Default::Bool(false)),
    ],
    attrs: &[
        Attr::new("id", "The secret's ARN."),
        Attr::new("arn", "The secret's ARN (for a task definition's `secrets`, an RDS Proxy's auth)."),
        Attr::new("name", "The secret's name."),
    ],
    taggable: true,
};

fn client(cx: &Cx) -> Client {
    cx.client(Client::new)
}

fn default_name(stack: &str, id: &str) -> String {
    format!("{stack}/{id}")
}

fn secret_name(stack: &str, id: &str, props: &Props) -> String {
    props.get("name").and_then(Value::as_str).map_or_else(|| default_name(stack, id), str::to_owned)
}

fn to_sdk(tags: &Tags) -> Vec<Tag> {
    tags.iter().map(|(k, v)| Tag::builder().key(k).value(v).build()).collect()
}

fn from_sdk(tags: &[Tag]) -> Tags {
    without_aws_tags(tags.iter().filter_map(|t| Some((t.key()?, t.value().unwrap_or_default()))))
}

/// The value is never read (GetSecretValue would bring it into rprov for nothing): it is
/// compared through the digest recorded in state. The KMS key is not compared either (see the
/// schema).
fn live(arn: &str, name: &str, description: Option<&str>, tags: Tags) -> Live {
    let mut props = Props::new();
    props.insert("name".into(), Value::str(name));
    if let Some(d) = description.filter(|d| !d.is_empty()) {
        props.insert("description".into(), Value::str(d));
    }
    let mut attrs = Props::new();
    attrs.insert("id".into(), Value::str(arn));
    attrs.insert("arn".into(), Value::str(arn));
    attrs.insert("name".into(), Value::str(name));
    Live { physical_id: arn.to_owned(), props, attrs, tags }
}

fn live_from_entry(e: &SecretListEntry) -> Live {
    live(e.arn().unwrap_or_default(), e.name().unwrap_or_default(), e.description(), from_sdk(e.tags()))
}

fn live_from_described(d: &DescribeSecretOutput) -> Live {
    live(d.arn().unwrap_or_default(), d.name().unwrap_or_default(), d.description(), from_sdk(d.tags()))
}

/// DescribeSecret of a name or ARN; a secret scheduled for deletion reads as gone.
async fn describe(cx: &Cx, id: &str) -> Result<Option<DescribeSecretOutput>, AwsError> {
    match client(cx).describe_secret().secret_id(id).send().await.map_err(classify) {
        Ok(d) if d.deleted_date().is_none() => Ok(Some(d)),
        Ok(_) | Err(AwsError::NotFound(_)) => Ok(None),
        Err(e) => Err(e),
    }
}

async fn read_back(cx: &Cx, arn: &str) -> Result<Live, AwsError> {
    let d = describe(cx, arn).await?.ok_or_else(|| AwsError::NotFound(format!("secret {arn}")))?;
    Ok(live_from_described(&d))
}

// ---- generated values ----

const LOWER: &str = "abcdefghijklmnopqrstuvwxyz";
const UPPER: &str = "ABCDEFGHIJKLMNOPQRSTUVWXYZ";
const DIGITS: &str = "0123456789";
/// GetRandomPassword's punctuation: ``! " # $ % & ' ( ) * + , - . / : ; < = > ? @ [ \ ] ^ _ ` { | } ~``.
const PUNCTUATION: &str = "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~";

/// `generate`'s settings, GetRandomPassword's parameters by another name.
#[derive(Debug, Clone, PartialEq)]
struct Generate {
    length: usize,
    exclude_characters: String,
    exclude_punctuation: bool,
    exclude_numbers: bool,
    exclude_uppercase: bool,
    exclude_lowercase: bool,
    include_space: bool,
    require_each_included_type: bool,
    template: Option<Props>,
    key: String,
}

impl Generate {
    fn of(v: &Value) -> Option<Generate> {
        let m = v.as_map()?;
        let flag = |k: &str, d: bool| m.get(k).and_then(Value::as_bool).unwrap_or(d);
        Some(Generate {
            length: m.get("length").and_then(Value::as_i64).map_or(32, |n| n.clamp(1, LENGTH_MAX) as usize),
            exclude_characters: m.get("exclude_characters").and_then(Value::as_str).unwrap_or_default().to_owned(),
            exclude_punctuation: flag("exclude_punctuation", false),
            exclude_numbers: flag("exclude_numbers", false),
            exclude_uppercase: flag("exclude_uppercase", false),
            exclude_lowercase: flag("exclude_lowercase", false),
            include_space: flag("include_space", false),
            require_each_included_type: flag("require_each_included_type", true),
            template: m.get("template").and_then(Value::as_map).cloned(),
            key: m.get("key").and_then(Value::as_str).unwrap_or("password").to_owned(),
        })
    }

    /// The character classes in use, each without the excluded characters; empty ones dropped.
    /// The space is no class of its own for `require_each_included_type` (AWS: "at least one
    /// upper and lowercase letter, one number, and one punctuation").
    fn classes(&self) -> (Vec<Vec<char>>, Vec<char>) {
        let keep = |set: &str| -> Vec<char> { set.chars().filter(|c| !self.exclude_characters.contains(*c)).collect() };
        let mut classes = Vec::new();
        for (excluded, set) in [
            (self.exclude_lowercase, LOWER),
            (self.exclude_uppercase, UPPER),
            (self.exclude_numbers, DIGITS),
            (self.exclude_punctuation, PUNCTUATION),
        ] {
            if !excluded {
                classes.push(keep(set));
            }
        }
        classes.retain(|c| !c.is_empty());
        let mut all: Vec<char> = classes.concat();
        if self.include_space && !self.exclude_characters.contains(' ') {
            all.push(' ');
        }
        (classes, all)
    }
}

/// A uniformly random index below `n`, from the operating system's generator (rejection
/// sampling: values beyond the largest multiple of `n` would bias the choice).
fn below(n: usize) -> Result<usize, AwsError> {
    let n32 = u32::try_from(n).map_err(|_| AwsError::Failed("alphabet too large".into()))?;
    let limit = u32::MAX - u32::MAX % n32;
    loop {
        let mut b = [0u8; 4];
        getrandom::fill(&mut b).map_err(|e| AwsError::Failed(format!("no random numbers to generate a value: {e}")))?;
        let r = u32::from_le_bytes(b);
        if r < limit {
            return Ok((r % n32) as usize);
        }
    }
}

/// A random password with GetRandomPassword's rules, made here from the operating system's
/// generator rather than by calling GetRandomPassword: the value then exists only in this
/// process and in the one CreateSecret/PutSecretValue that stores it (not in a second API
/// answer), needs no `secretsmanager:GetRandomPassword` permission, and its rules are
/// unit-tested without AWS. One character of each required class is placed first, the rest
/// drawn from all classes, then the whole is shuffled (Fisher-Yates) so the required ones sit
/// anywhere.
fn password(g: &Generate) -> Result<String, AwsError> {
    let (classes, all) = g.classes();
    if all.is_empty() {
        return Err(AwsError::Invalid("`generate` excludes every character".into()));
    }
    if g.require_each_included_type && classes.len() > g.length {
        return Err(AwsError::Invalid(format!(
            "`generate` needs {} character types in {} characters",
            classes.len(),
            g.length
        )));
    }
    let mut out: Vec<char> = Vec::with_capacity(g.length);
    if g.require_each_included_type {
        for c in &classes {
            out.push(c[below(c.len())?]);
        }
    }
    while out.len() < g.length {
        out.push(all[below(all.len())?]);
    }
    for i in (1..out.len()).rev() {
        out.swap(i, below(i + 1)?);
    }
    Ok(out.into_iter().collect())
}

/// What is stored: the given value, or a generated one (as `template` + {key: value} where a
/// template is given, the JSON object database clients and RDS Proxy read).
fn secret_value(props: &Props) -> Result<String, AwsError> {
    if let Some(g) = props.get("generate").and_then(Generate::of) {
        let pw = password(&g)?;
        return Ok(match &g.template {
            None => pw,
            Some(t) => {
                let mut obj: serde_json::Map<String, serde_json::Value> =
                    t.iter().map(|(k, v)| (k.clone(), serde_json::Value::from(v))).collect();
                obj.insert(g.key.clone(), serde_json::Value::String(pw));
                serde_json::Value::Object(obj).to_string()
            }
        });
    }
    props
        .get("value")
        .and_then(Value::as_str)
        .map(str::to_owned)
        .ok_or_else(|| AwsError::Invalid("a secret needs `value` or `generate`".into()))
}

fn generates(props: &Props) -> bool {
    props.get("generate").is_some_and(|g| !g.is_null())
}

/// "Do not end your secret name with a hyphen followed by six characters. If you do so, you risk
/// confusion and unexpected results when searching for a secret by partial ARN" (AWS: CreateSecret
/// Name): Secrets Manager appends `-` and six random characters to form the ARN.
fn looks_like_arn_suffix(name: &str) -> bool {
    let chars: Vec<char> = name.chars().collect();
    chars.len() >= 7 && chars[chars.len() - 7] == '-'
}

// ---- what Secrets Manager refuses ----

fn name_problem(name: &str) -> Option<Problem> {
    let allowed = |c: char| c.is_ascii_alphanumeric() || "/_+=.@-".contains(c);
    let len = name.chars().count();
    let message = if let Some(c) = name.chars().find(|c| !allowed(*c)) {
        let m = format!("secret name `{name}` contains `{c}`; AWS takes letters, digits and /_+=.@- only");
        return Some(if name.starts_with("arn:") {
            Problem::new("name", m).help("give the secret's name, not its ARN")
        } else {
            Problem::new("name", m)
        });
    } else if !(1..=NAME_MAX).contains(&len) {
        format!("secret name is {len} characters; AWS takes 1 to {NAME_MAX}")
    } else {
        return None;
    };
    Some(Problem::new("name", message))
}

fn generate_rules(g: &ExprMap, out: &mut Vec<Problem>) {
    let flag = |k: &str, d: bool| match g.get(k) {
        Some(Expr::Lit(Value::Bool(b))) => *b,
        _ => d,
    };
    let length = crate::spec::rules::lit_int(g.get("length")).unwrap_or(32);
    if !(1..=LENGTH_MAX).contains(&length) {
        out.push(Problem::new(
            "generate.length",
            format!("a generated value of {length} characters; AWS generates 1 to {LENGTH_MAX}"),
        ));
        return;
    }
    let settings = Generate {
        length: length as usize,
        exclude_characters: lit_str(g.get("exclude_characters")).unwrap_or_default().to_owned(),
        exclude_punctuation: flag("exclude_punctuation", false),
        exclude_numbers: flag("exclude_numbers", false),
        exclude_uppercase: flag("exclude_uppercase", false),
        exclude_lowercase: flag("exclude_lowercase", false),
        include_space: flag("include_space", false),
        require_each_included_type: flag("require_each_included_type", true),
        template: None,
        key: String::new(),
    };
    let (classes, all) = settings.classes();
    if all.is_empty() {
        out.push(Problem::new("generate", "`generate` excludes every character: nothing is left to draw from"));
    } else if settings.require_each_included_type && classes.len() > settings.length {
        out.push(
            Problem::new(
                "generate.length",
                format!("{} characters cannot hold one of each of the {} character types used", length, classes.len()),
            )
            .help("make it longer, exclude types, or set `require_each_included_type: false`"),
        );
    }
    if let (Some(Expr::Map(t)), key) = (g.get("template"), lit_str(g.get("key")).unwrap_or("password"))
        && t.contains_key(key)
    {
        out.push(Problem::new(
            format!("generate.template.{key}"),
            format!("the template sets `{key}`, the field the generated value goes in"),
        ));
    }
}

fn secret_rules(s: &Subject, out: &mut Vec<Problem>) {
    let given = |k: &str| !matches!(s.get(k), None | Some(Expr::Lit(Value::Null)));
    match (given("value"), given("generate")) {
        (true, true) => out.push(Problem::new("generate", "give `value` or `generate`, not both")),
        (false, false) => out.push(
            Problem::new("value", "missing `value` (or `generate` for a random one)")
                .help("e.g. `value: ${params.db_password}` (a secret parameter) or `generate: {}`"),
        ),
        _ => {}
    }
    if let Some(name) = s.str("name") {
        out.extend(name_problem(name));
    }
    if let Some(Expr::Map(g)) = s.get("generate") {
        generate_rules(g, out);
    }
    if let Some(days) = s.int("recovery_window_days").filter(|d| !(7..=30).contains(d)) {
        out.push(Problem::new(
            "recovery_window_days",
            format!("a recovery window of {days} days; AWS takes 7 to 30 (or `force_delete_without_recovery`)"),
        ));
    }
    // AWS: a secret's name is unique in a region: CreateSecret answers ResourceExistsException.
    let stack = s.stack.name();
    let name_of = |id: &str, p: &ExprMap| match p.get("name") {
        None | Some(Expr::Lit(Value::Null)) => Some(default_name(stack, id)),
        e => lit_str(e).map(str::to_owned),
    };
    if let Some((other, name)) = earlier_with_same_name(s, "secret", name_of) {
        out.push(Problem::new(
            "name",
            format!("secret `{other}` is named `{name}` too; AWS keeps secret names unique in a region"),
        ));
    }
}

impl KindSpec for Secret {
    fn schema(&self) -> &'static KindSchema {
        &SCHEMA
    }

    fn normalise(&self, stack: &str, id: &str, props: &mut Props) {
        if props.get("name").is_none_or(Value::is_null) {
            props.insert("name".into(), Value::str(default_name(stack, id)));
        }
        if props.get("description").and_then(Value::as_str) == Some("") {
            props.remove("description");
        }
    }

    /// `value` or `generate`, the name's characters and length, what a generated value can be,
    /// the recovery window, a name used twice.
    fn check(&self, s: &Subject) -> Vec<Problem> {
        let mut out = Vec::new();
        secret_rules(s, &mut out);
        out
    }

    /// CreateSecret takes a ClientRequestToken: a resend with the same value is answered as the
    /// first; one with another value (a value generated again) is refused, and `create` then
    /// takes the secret its first request made, by its ownership tags.
    fn create_is_idempotent(&self) -> bool {
        true
    }

    fn arn(&self) -> Option<(&'static str, &'static str)> {
        Some(("secretsmanager", "secret"))
    }

    fn refusals(&self) -> Refusals {
        Refusals::Modelled(&[("secretsmanager", "CreateSecret"), ("secretsmanager", "DeleteSecret")])
    }
}

/// How a refused CreateSecret is taken up.
#[derive(Debug, PartialEq)]
enum Refused {
    /// The name exists: a resend of this create (its value already stored), or a conflict.
    Exists,
    /// The name belongs to a secret in its recovery window.
    ScheduledForDeletion,
    Other,
}

fn refused(e: &AwsError) -> Refused {
    match e {
        AwsError::Invalid(m) | AwsError::AlreadyExists(m) if m.starts_with("ResourceExistsException") => {
            Refused::Exists
        }
        AwsError::Invalid(m) if m.starts_with("InvalidRequestException") && m.contains("scheduled for deletion") => {
            Refused::ScheduledForDeletion
        }
        _ => Refused::Other,
    }
}

/// A secret already deleted: DeleteSecret on it again answers InvalidRequestException ("...
/// because it was marked for deletion"; the local AWS: "...currently marked deleted") or, once
/// gone for good, ResourceNotFoundException.
fn already_deleted(r: Result<(), AwsError>) -> Result<(), AwsError> {
    match r {
        Err(AwsError::Invalid(m)) if m.contains("for deletion") || m.contains("marked deleted") => Ok(()),
        r => gone_ok(r),
    }
}

async fn put_value(cx: &Cx, arn: &str, props: &Props) -> Result<(), AwsError> {
    client(cx)
        .put_secret_value()
        .secret_id(arn)
        .secret_string(secret_value(props)?)
        .send()
        .await
        .map(|_| ())
        .map_err(classify)
}

async fn set_tags(cx: &Cx, arn: &str, old: &Tags, new: &Tags) -> Result<(), AwsError> {
    let sm = client(cx);
    let (stale, _) = tag_changes(old, new);
    if !stale.is_empty() {
        sm.untag_resource().secret_id(arn).set_tag_keys(Some(stale)).send().await.map_err(classify)?;
    }
    if !new.is_empty() {
        sm.tag_resource().secret_id(arn).set_tags(Some(to_sdk(new))).send().await.map_err(classify)?;
    }
    Ok(())
}

/// The existing secret named `name` (`scheduled`: in its recovery window) when it carries this
/// resource's ownership tags; otherwise the error naming the conflict.
async fn ours(cx: &Cx, name: &str, req: &CreateReq<'_>, aws: &str) -> Result<DescribeSecretOutput, AwsError> {
    let d = client(cx).describe_secret().secret_id(name).send().await.map_err(classify)?;
    if super::carries_ownership(&from_sdk(d.tags()), req.tags) {
        return Ok(d);
    }
    let what = if d.deleted_date().is_some() { "is scheduled for deletion" } else { "exists" };
    Err(AwsError::AlreadyExists(format!(
        "secret {name} {what} and was not created for {}: choose another name{} ({aws})",
        req.id,
        if d.deleted_date().is_some() {
            ", or restore it (aws secretsmanager restore-secret) or delete it for good (delete-secret \
             --force-delete-without-recovery)"
        } else {
            ""
        }
    )))
}

/// Takes up this resource's existing secret `d` (see [`ours`]): restored if it is scheduled for
/// deletion, with the stack's value then (a new one if generated); otherwise (a resend after a
/// lost answer) a given value is stored again, and a generated one is left as the first request
/// stored it: sending a second generated value would replace one a client may have read. Its
/// description, key and tags are then the stack's.
async fn take_up(cx: &Cx, d: DescribeSecretOutput, req: &CreateReq<'_>) -> Result<Live, AwsError> {
    let sm = client(cx);
    let arn = d.arn().unwrap_or_default().to_owned();
    if d.deleted_date().is_some() {
        sm.restore_secret().secret_id(&arn).send().await.map_err(classify)?;
        put_value(cx, &arn, req.props).await?;
    } else if !generates(req.props) {
        put_value(cx, &arn, req.props).await?;
    }
    let text = |k: &str| req.props.get(k).and_then(Value::as_str).map(str::to_owned);
    sm.update_secret()
        .secret_id(&arn)
        .description(text("description").unwrap_or_default())
        .set_kms_key_id(text("kms_key"))
        .send()
        .await
        .map_err(classify)?;
    set_tags(cx, &arn, &from_sdk(d.tags()), req.tags).await?;
    read_back(cx, &arn).await
}

#[async_trait]
impl Kind for Secret {
    /// ONE paginated ListSecrets, unfiltered (100 per page): a filter by the stack's tag would
    /// miss a recorded secret whose tags were edited by hand, and ListSecrets cannot OR a tag
    /// filter with names; it returns each secret's tags, so the stack's are picked by
    /// `kinds::owned`. Secrets in their recovery window are not listed (no
    /// IncludePlannedDeletion): for rprov they are gone, and a second one read here with
    /// DeletedDate set would be left out too.
    async fn read_many(&self, cx: &Cx, _ids: &[String]) -> Result<Vec<Live>, AwsError> {
        let pages =
            client(cx).list_secrets().max_results(100).into_paginator().send().try_collect().await.map_err(classify)?;
        Ok(pages
            .iter()
            .flat_map(|p| p.secret_list())
            .filter(|e| e.deleted_date().is_none())
            .map(live_from_entry)
            .collect())
    }

    async fn create(&self, cx: &Cx, req: &CreateReq<'_>) -> Result<Live, AwsError> {
        let name = secret_name(&cx.stack, req.id, req.props);
        if looks_like_arn_suffix(&name) {
            tracing::warn!(
                "{}: secret name `{name}` ends in a hyphen and six characters, like the suffix Secrets Manager adds \
                 to ARNs: looking it up by partial ARN may find the wrong secret",
                req.id
            );
        }
        let text = |k: &str| req.props.get(k).and_then(Value::as_str).map(str::to_owned);
        let sent = client(cx)
            .create_secret()
            .name(&name)
            // The same token on every resend of this create: with the same value AWS answers as
            // the first time.
            .client_request_token(req.token)
            .set_description(text("description"))
            .set_kms_key_id(text("kms_key"))
            .secret_string(secret_value(req.props)?)
            .set_tags(Some(to_sdk(req.tags)))
            .send()
            .await
            .map_err(classify);
        let err = match sent {
            Ok(out) => {
                let arn =
                    out.arn().ok_or_else(|| AwsError::Failed(format!("CreateSecret of {name} returned no ARN")))?;
                // A resend answered as the first create (same token, same value) of a secret
                // deleted since: it is taken up like a name scheduled for deletion.
                let d = client(cx).describe_secret().secret_id(arn).send().await.map_err(classify)?;
                if d.deleted_date().is_none() {
                    return Ok(live_from_described(&d));
                }
                return take_up(cx, d, req).await;
            }
            Err(e) => e,
        };
        match refused(&err) {
            // A name scheduled for deletion (a destroy and an apply again within the recovery
            // window), or a resend after a lost answer: this resource's secret is taken up.
            Refused::Exists | Refused::ScheduledForDeletion => {
                take_up(cx, ours(cx, &name, req, &err.to_string()).await?, req).await
            }
            Refused::Other => Err(err),
        }
    }

    async fn update(&self, cx: &Cx, req: &UpdateReq<'_>) -> Result<Live, AwsError> {
        let arn = req.physical_id;
        let changed = |n: &str| req.changed.iter().any(|c| c == n);
        if changed("value") || changed("generate") {
            put_value(cx, arn, req.new).await?;
        }
        if changed("description") || changed("kms_key") {
            let text = |k: &str| req.new.get(k).and_then(Value::as_str).map(str::to_owned);
            client(cx)
                .update_secret()
                .secret_id(arn)
                .description(text("description").unwrap_or_default())
                .set_kms_key_id(text("kms_key"))
                .send()
                .await
                .map_err(classify)?;
        }
        if changed("tags") {
            set_tags(cx, arn, req.old_tags, req.tags).await?;
        }
        read_back(cx, arn).await
    }

    /// DeleteSecret with the recovery window (or none, with `force_delete_without_recovery`),
    /// then waits until DescribeSecret shows it deleted (DeletedDate) or no longer finds it.
    async fn delete(&self, cx: &Cx, req: &DeleteReq<'_>) -> Result<(), AwsError> {
        let force = req.props.get("force_delete_without_recovery").and_then(Value::as_bool).unwrap_or(false);
        let days = req.props.get("recovery_window_days").and_then(Value::as_i64).unwrap_or(30);
        let sm = client(cx);
        let mut call = sm.delete_secret().secret_id(req.physical_id);
        call = if force { call.force_delete_without_recovery(true) } else { call.recovery_window_in_days(days) };
        already_deleted(call.send().await.map(|_| ()).map_err(classify))?;
        wait_gone(
            cx,
            req.id,
            &format!("secret {} to be deleted", req.physical_id),
            || describe(cx, req.physical_id),
            |_| Poll::Pending("listed".into()),
        )
        .await
    }
}

#[cfg(test)]
mod tests {
    use aws_sdk_secretsmanager::operation::create_secret::CreateSecretError;
    use aws_sdk_secretsmanager::operation::delete_secret::DeleteSecretOutput;
    use aws_sdk_secretsmanager::operation::put_secret_value::PutSecretValueOutput;
    use aws_sdk_secretsmanager::operation::restore_secret::RestoreSecretOutput;
    use aws_sdk_secretsmanager::operation::tag_resource::TagResourceOutput;
    use aws_sdk_secretsmanager::operation::update_secret::UpdateSecretOutput;
    use aws_smithy_mocks::{Rule, RuleMode, mock, mock_client};
    use aws_smithy_types::DateTime;
    use aws_smithy_types::error::ErrorMetadata;

    use super::*;
    use crate::kinds::testing::{Status, map, mocked, owned_tags};

    const ARN: &str = "arn:aws:secretsmanager:us-east-1:123456789012:secret:s/db-AbCdEf";

    fn cx(rules: &[&Rule]) -> (Cx, Status) {
        mocked(mock_client!(aws_sdk_secretsmanager, RuleMode::MatchAny, rules))
    }

    fn settings(pairs: &[(&str, Value)]) -> Generate {
        let p = crate::plan::compared_props(&Secret, "s", "db", &Props::from([("generate".to_string(), map(pairs))]));
        Generate::of(&p["generate"]).unwrap()
    }

    #[test]
    fn generated_values_follow_get_random_passwords_rules() {
        let d = settings(&[]);
        assert_eq!((d.length, d.require_each_included_type, d.key.as_str()), (32, true, "password"));
        for _ in 0..200 {
            let v = password(&d).unwrap();
            assert_eq!(v.chars().count(), 32);
            for class in [LOWER, UPPER, DIGITS, PUNCTUATION] {
                assert!(v.chars().any(|c| class.contains(c)), "{v} lacks one of {class}");
            }
            assert!(!v.contains(' '));
        }
        // Exclusions: no punctuation, no `0O1lI`, four characters holding three types each time.
        let g = settings(&[
            ("length", Value::Int(4)),
            ("exclude_punctuation", Value::Bool(true)),
            ("exclude_characters", Value::str("0O1lI")),
        ]);
        for _ in 0..500 {
            let v = password(&g).unwrap();
            assert_eq!(v.len(), 4);
            assert!(v.chars().all(|c| c.is_ascii_alphanumeric() && !"0O1lI".contains(c)), "{v}");
            assert!(v.chars().any(|c| c.is_ascii_lowercase()), "{v}");
            assert!(v.chars().any(|c| c.is_ascii_uppercase()), "{v}");
            assert!(v.chars().any(|c| c.is_ascii_digit()), "{v}");
        }
        let digits = settings(&[
            ("length", Value::Int(64)),
            ("exclude_punctuation", Value::Bool(true)),
            ("exclude_uppercase", Value::Bool(true)),
            ("exclude_lowercase", Value::Bool(true)),
            ("include_space", Value::Bool(true)),
        ]);
        let v = password(&digits).unwrap();
        assert!(v.chars().all(|c| c.is_ascii_digit() || c == ' '), "{v}");
        // Without the rule, one class may be missing; too short a length for the rule fails.
        let short = settings(&[("length", Value::Int(3))]);
        assert!(matches!(password(&short), Err(AwsError::Invalid(_))));
        let free = settings(&[("length", Value::Int(3)), ("require_each_included_type", Value::Bool(false))]);
        assert_eq!(password(&free).unwrap().chars().count(), 3);
        assert_ne!(password(&d).unwrap(), password(&d).unwrap());
    }

    #[test]
    fn a_template_makes_the_credentials_object() {
        let p = Props::from([(
            "generate".to_string(),
            map(&[
                ("template", map(&[("username", Value::str("app")), ("engine", Value::str("postgres"))])),
                ("exclude_characters", Value::str("\"@/\\")),
            ]),
        )]);
        let p = crate::plan::compared_props(&Secret, "s", "db", &p);
        let v: serde_json::Value = serde_json::from_str(&secret_value(&p).unwrap()).unwrap();
        assert_eq!(v["username"], "app");
        assert_eq!(v["engine"], "postgres");
        let pw = v["password"].as_str().unwrap();
        assert_eq!(pw.len(), 32);
        assert!(!pw.contains(['"', '@', '/', '\\']), "{pw}");
    }

    fn req_props() -> Props {
        crate::plan::compared_props(&Secret, "s", "db", &Props::from([("value".to_string(), Value::str("hunter2"))]))
    }

    fn scheduled() -> CreateSecretError {
        CreateSecretError::generic(
            ErrorMetadata::builder()
                .code("InvalidRequestException")
                .message(
                    "You can't create this secret because a secret with this name is already scheduled for deletion.",
                )
                .build(),
        )
    }

    fn described(tags: &Tags, deleted: bool, description: Option<&str>) -> DescribeSecretOutput {
        let mut d = DescribeSecretOutput::builder().arn(ARN).name("s/db").set_tags(Some(to_sdk(tags)));
        if deleted {
            d = d.deleted_date(DateTime::from_secs(1));
        }
        d.set_description(description.map(str::to_owned)).build()
    }

    #[tokio::test]
    async fn a_secret_of_this_resource_scheduled_for_deletion_is_restored_with_the_new_value() {
        let tags = owned_tags("s", "db", "data");
        let create = mock!(aws_sdk_secretsmanager::Client::create_secret).then_error(scheduled);
        let describe = mock!(aws_sdk_secretsmanager::Client::describe_secret)
            .sequence()
            .output({
                let tags = tags.clone();
                move || described(&tags, true, None)
            })
            .output({
                let tags = tags.clone();
                move || described(&tags, false, None)
            })
            .build();
        let restore = mock!(aws_sdk_secretsmanager::Client::restore_secret)
            .match_requests(|r| r.secret_id() == Some(ARN))
            .then_output(|| RestoreSecretOutput::builder().arn(ARN).build());
        let put = mock!(aws_sdk_secretsmanager::Client::put_secret_value)
            .match_requests(|r| r.secret_string() == Some("hunter2"))
            .then_output(|| PutSecretValueOutput::builder().build());
        let update =
            mock!(aws_sdk_secretsmanager::Client::update_secret).then_output(|| UpdateSecretOutput::builder().build());
        let tag =
            mock!(aws_sdk_secretsmanager::Client::tag_resource).then_output(|| TagResourceOutput::builder().build());
        let (cx, _) = cx(&[&create, &describe, &restore, &put, &update, &tag]);
        let p = req_props();
        let live = Secret.create(&cx, &CreateReq { id: "db", props: &p, tags: &tags, token: "t" }).await.unwrap();
        assert_eq!((restore.num_calls(), put.num_calls()), (1, 1));
        assert_eq!(live.physical_id, ARN);
        assert!(!format!("{live:?}").contains("hunter2"));
    }

    #[tokio::test]
    async fn a_name_scheduled_for_deletion_by_someone_else_is_a_clear_conflict() {
        let create = mock!(aws_sdk_secretsmanager::Client::create_secret).then_error(scheduled);
        let describe = mock!(aws_sdk_secretsmanager::Client::describe_secret)
            .then_output(|| described(&owned_tags("other", "db", "x"), true, None));
        let restore = mock!(aws_sdk_secretsmanager::Client::restore_secret)
            .then_output(|| RestoreSecretOutput::builder().build());
        let (cx, _) = cx(&[&create, &describe, &restore]);
        let (p, tags) = (req_props(), owned_tags("s", "db", "data"));
        let err = Secret.create(&cx, &CreateReq { id: "db", props: &p, tags: &tags, token: "t" }).await.unwrap_err();
        let AwsError::AlreadyExists(m) = &err else { panic!("{err:?}") };
        assert!(m.contains("s/db is scheduled for deletion and was not created for db"), "{m}");
        assert!(m.contains("restore-secret") && !m.contains("hunter2"), "{m}");
        assert_eq!(restore.num_calls(), 0);
    }

    #[tokio::test]
    async fn a_resend_with_another_generated_value_takes_the_first_without_a_second_value() {
        let tags = owned_tags("s", "db", "data");
        let create = mock!(aws_sdk_secretsmanager::Client::create_secret).then_error(|| {
            CreateSecretError::generic(
                ErrorMetadata::builder()
                    .code("ResourceExistsException")
                    .message("The operation failed because the secret s/db already exists.")
                    .build(),
            )
        });
        let describe = mock!(aws_sdk_secretsmanager::Client::describe_secret).then_output({
            let tags = tags.clone();
            move || described(&tags, false, None)
        });
        let put = mock!(aws_sdk_secretsmanager::Client::put_secret_value)
            .then_output(|| PutSecretValueOutput::builder().build());
        let update =
            mock!(aws_sdk_secretsmanager::Client::update_secret).then_output(|| UpdateSecretOutput::builder().build());
        let tag =
            mock!(aws_sdk_secretsmanager::Client::tag_resource).then_output(|| TagResourceOutput::builder().build());
        let (cx, _) = cx(&[&create, &describe, &put, &update, &tag]);
        let p = crate::plan::compared_props(&Secret, "s", "db", &Props::from([("generate".to_string(), map(&[]))]));
        let live = Secret.create(&cx, &CreateReq { id: "db", props: &p, tags: &tags, token: "t" }).await.unwrap();
        assert_eq!(live.physical_id, ARN);
        assert_eq!(put.num_calls(), 0, "the first request's value stays");
    }

    #[tokio::test(start_paused = true)]
    async fn delete_waits_until_the_secret_is_scheduled_and_a_gone_one_is_deleted() {
        let delete = mock!(aws_sdk_secretsmanager::Client::delete_secret)
            .match_requests(|r| r.recovery_window_in_days() == Some(7) && r.force_delete_without_recovery().is_none())
            .then_output(|| DeleteSecretOutput::builder().build());
        let tags = Tags::new();
        let describe = mock!(aws_sdk_secretsmanager::Client::describe_secret)
            .sequence()
            .output({
                let tags = tags.clone();
                move || described(&tags, false, None)
            })
            .output(move || described(&tags, true, None))
            .build();
        let (cx, seen) = cx(&[&delete, &describe]);
        let p = Props::from([("recovery_window_days".to_string(), Value::Int(7))]);
        let a = Props::new();
        Secret.delete(&cx, &DeleteReq { id: "db", physical_id: ARN, props: &p, attrs: &a }).await.unwrap();
        assert_eq!(describe.num_calls(), 2);
        assert_eq!(seen.lock().unwrap().len(), 1);

        let gone = mock!(aws_sdk_secretsmanager::Client::delete_secret).then_error(|| {
            aws_sdk_secretsmanager::operation::delete_secret::DeleteSecretError::generic(
                ErrorMetadata::builder().code("ResourceNotFoundException").build(),
            )
        });
        let absent = mock!(aws_sdk_secretsmanager::Client::describe_secret).then_error(|| {
            aws_sdk_secretsmanager::operation::describe_secret::DescribeSecretError::generic(
                ErrorMetadata::builder().code("ResourceNotFoundException").build(),
            )
        });
        let (cx, _) = self::cx(&[&gone, &absent]);
        let p = Props::from([("force_delete_without_recovery".to_string(), Value::Bool(true))]);
        assert_eq!(Secret.delete(&cx, &DeleteReq { id: "db", physical_id: ARN, props: &p, attrs: &a }).await, Ok(()));
    }

    #[test]
    fn names_that_look_like_an_arn_suffix() {
        assert!(looks_like_arn_suffix("app/db-AbCdEf"));
        assert!(!looks_like_arn_suffix("app/db-AbCdE"));
        assert!(!looks_like_arn_suffix("app/database"));
    }
}

#[cfg(test)]
mod rules {
    use crate::kinds::testing::check_rules;

    #[test]
    fn value_or_generate_and_names() {
        check_rules("s: { type: secret, value: hunter2 }", &[]);
        check_rules("s: { type: secret, generate: {} }", &[]);
        check_rules("s: { type: secret }", &["missing `value` (or `generate`"]);
        check_rules("s: { type: secret, value: x, generate: {} }", &["give `value` or `generate`, not both"]);
        check_rules("s: { type: secret, name: \"app/db password\", value: x }", &["contains ` `"]);
        check_rules(
            "s: { type: secret, name: \"arn:aws:secretsmanager:us-east-1:1:secret:x\", value: x }",
            &["contains `:` | give the secret's name, not its ARN"],
        );
        check_rules(
            "a: { type: secret, value: x }\nb: { type: secret, name: s/a, value: y }",
            &["secret `a` is named `s/a` too"],
        );
        check_rules("s: { type: secret, value: x, recovery_window_days: 3 }", &["AWS takes 7 to 30"]);
    }

    #[test]
    fn what_can_be_generated() {
        check_rules("s: { type: secret, generate: { length: 0 } }", &["AWS generates 1 to 4096"]);
        check_rules("s: { type: secret, generate: { length: 3 } }", &["3 characters cannot hold one of each of the 4"]);
        check_rules("s: { type: secret, generate: { length: 3, require_each_included_type: false } }", &[]);
        check_rules(
            "s: { type: secret, generate: { exclude_punctuation: true, exclude_numbers: true, exclude_uppercase: true, exclude_lowercase: true } }",
            &["excludes every character"],
        );
        check_rules(
            "s: { type: secret, generate: { template: { username: app, password: x } } }",
            &["the template sets `password`"],
        );
        check_rules("s: { type: secret, generate: { template: { username: app } } }", &[]);
    }
}
