use std::collections::{BTreeSet, HashMap};

use async_trait::async_trait;
use aws_sdk_ssm::Client;
use aws_sdk_ssm::types::{ParameterMetadata, ParameterStringFilter, ParameterType, ResourceTypeForTagging, Tag};

use super::{CreateReq, DeleteReq, Kind, Live, TAG_STACK, Tags, UpdateReq, tag_changes};
use crate::aws::{AwsError, Cx, classify, tagging};
use crate::schema::{Attr, Default, KindSchema, Prop, Ty};
use crate::spec::{KindSpec, Problem, Refusals, Subject};
use crate::value::{Props, Value};

pub struct SsmParameter;

static SCHEMA: KindSchema = KindSchema {
    name: "ssm_parameter",
    doc: "An SSM Parameter Store parameter, a SecureString by default (e.g. a password for a task's secrets).",
    props: &[
        Prop::new("name", Ty::Str, "The parameter name; `/rprov/<stack>/<id>` when left out.")
            .aws("ssm:PutParameterRequest.Name")
            .replaces(),
        Prop::new("type", Ty::Enum(&["SecureString", "String", "StringList"]), "The parameter type.")
            .aws("ssm:PutParameterRequest.Type")
            .default(Default::Str("SecureString"))
            .replaces(),
        Prop::new(
            "value",
            Ty::Str,
            "The value (or `generate: true`). Secret: never printed, recorded as a digest only, never read back \
             from AWS.",
        )
        .aws("ssm:PutParameterRequest.Value")
        .secret(),
        Prop::new(
            "generate",
            Ty::Bool,
            "Instead of `value`: a random 32-character value made when the parameter is created (and again when \
             this is turned on), sent only to SSM: never printed, never in state or plans. Read it with \
             `aws ssm get-parameter --with-decryption`.",
        )
        .default(Default::Bool(false)),
        Prop::new("description", Ty::Str, "What the parameter is for.").aws("ssm:PutParameterRequest.Description"),
    ],
    attrs: &[
        Attr::new("id", "The parameter name."),
        Attr::new("name", "The parameter name."),
        Attr::new("arn", "The parameter's ARN (for a task definition's `secrets`)."),
    ],
    taggable: true,
};

/// DescribeParameters takes at most 50 names in one `Name` filter.
const NAMES_PER_CALL: usize = 50;

fn client(cx: &Cx) -> Client {
    cx.client(Client::new)
}

fn default_name(stack: &str, id: &str) -> String {
    format!("/rprov/{stack}/{id}")
}

fn to_sdk(tags: &Tags) -> Vec<Tag> {
    tags.iter().filter_map(|(k, v)| Tag::builder().key(k).value(v).build().ok()).collect()
}

fn filter(key: &str, values: Vec<String>) -> Option<ParameterStringFilter> {
    ParameterStringFilter::builder().key(key).option("Equals").set_values(Some(values)).build().ok()
}

/// The value is never read back (GetParameter with decryption would bring the secret into
/// rprov for nothing): it is compared through the digest recorded in state.
fn live(m: &ParameterMetadata, tags: Tags) -> Live {
    let name = m.name().unwrap_or_default().to_owned();
    let mut props = Props::new();
    props.insert("name".into(), Value::str(&name));
    props.insert("type".into(), Value::str(m.r#type().map_or("String", |t| t.as_str())));
    if let Some(d) = m.description().filter(|d| !d.is_empty()) {
        props.insert("description".into(), Value::str(d));
    }
    let mut attrs = Props::new();
    attrs.insert("id".into(), Value::str(&name));
    attrs.insert("name".into(), Value::str(&name));
    attrs.insert("arn".into(), m.arn().map(Value::str).unwrap_or(Value::Null));
    Live { physical_id: name, props, attrs, tags }
}

async fn tags_of(cx: &Cx, name: &str) -> Result<Tags, AwsError> {
    let out = client(cx)
        .list_tags_for_resource()
        .resource_type(ResourceTypeForTagging::Parameter)
        .resource_id(name)
        .send()
        .await
        .map_err(classify)?;
    Ok(out.tag_list().iter().map(|t| (t.key().to_owned(), t.value().to_owned())).collect())
}

async fn describe(cx: &Cx, f: Option<ParameterStringFilter>) -> Result<Vec<ParameterMetadata>, AwsError> {
    let pages = client(cx)
        .describe_parameters()
        .set_parameter_filters(f.map(|f| vec![f]))
        .into_paginator()
        .send()
        .try_collect()
        .await
        .map_err(classify)?;
    Ok(pages.iter().flat_map(|p| p.parameters().iter().cloned()).collect())
}

/// DescribeParameters reports each parameter's ARN on AWS; the local AWS (moto 5.2) leaves it
/// out. Only then are the ARNs taken from GetParameters (10 names per call), without decryption.
async fn fill_arns(cx: &Cx, found: &mut [ParameterMetadata]) -> Result<(), AwsError> {
    let missing: Vec<String> =
        found.iter().filter(|m| m.arn().is_none()).filter_map(|m| m.name().map(str::to_owned)).collect();
    for chunk in missing.chunks(10) {
        let out = client(cx)
            .get_parameters()
            .set_names(Some(chunk.to_vec()))
            .with_decryption(false)
            .send()
            .await
            .map_err(classify)?;
        for p in out.parameters() {
            if let Some(m) = found.iter_mut().find(|m| m.name() == p.name()) {
                m.arn = p.arn().map(str::to_owned);
            }
        }
    }
    Ok(())
}

async fn read_back(cx: &Cx, name: &str) -> Result<Live, AwsError> {
    let mut found = describe(cx, filter("Name", vec![name.to_owned()])).await?;
    fill_arns(cx, &mut found).await?;
    let m = found.first().ok_or_else(|| AwsError::NotFound(format!("parameter {name}")))?;
    Ok(live(m, tags_of(cx, name).await?))
}

/// Length of a generated value: 32 characters of 62 give 190 bits.
const GENERATED_LEN: usize = 32;

/// A random value for `generate: true`, from the operating system's generator.
fn generated() -> Result<String, AwsError> {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let mut out = String::with_capacity(GENERATED_LEN);
    while out.len() < GENERATED_LEN {
        let mut bytes = [0u8; 64];
        getrandom::fill(&mut bytes)
            .map_err(|e| AwsError::Failed(format!("no random numbers to generate a value: {e}")))?;
        // Rejection sampling: bytes beyond the largest multiple of 62 would bias the choice.
        for b in bytes.into_iter().filter(|b| usize::from(*b) < 256 / ALPHABET.len() * ALPHABET.len()) {
            if out.len() < GENERATED_LEN {
                out.push(char::from(ALPHABET[usize::from(b) % ALPHABET.len()]));
            }
        }
    }
    Ok(out)
}

fn generates(props: &Props) -> bool {
    props.get("generate").and_then(Value::as_bool) == Some(true)
}

/// Puts the parameter: the given value, or with `generate`, a new random one when `fresh`
/// (created, or generation just turned on); otherwise (only the description changed) the value
/// is not sent at all.
async fn put(cx: &Cx, name: &str, props: &Props, overwrite: bool, tags: Option<&Tags>) -> Result<(), AwsError> {
    let text = |k: &str| props.get(k).and_then(Value::as_str);
    let value = if generates(props) { generated()? } else { text("value").unwrap_or_default().to_owned() };
    client(cx)
        .put_parameter()
        .name(name)
        .value(value)
        .r#type(ParameterType::from(text("type").unwrap_or("SecureString")))
        .set_description(text("description").map(str::to_owned))
        .overwrite(overwrite)
        // Tags are refused together with Overwrite.
        .set_tags(tags.map(to_sdk))
        .send()
        .await
        .map(|_| ())
        .map_err(classify)
}

// ---- what PutParameter refuses ---------------------------------------------------------------

/// "The maximum length for a parameter name that you specify is 1011 characters. This count of
/// 1011 characters includes the characters in the ARN that precede the name you specify"
/// (AWS: PutParameter Name).
const NAME_WITH_ARN_MAX: usize = 1011;
/// "Parameter hierarchies are limited to a maximum depth of fifteen levels."
const DEPTH_MAX: usize = 15;
/// "Standard parameters have a value limit of 4 KB. Advanced parameters have a value limit of 8
/// KB." rprov sends no tier, so the account's default tier decides (an account may default to
/// Advanced or Intelligent-Tiering): only what no tier takes is refused.
const VALUE_MAX: usize = 8192;

/// AWS (PutParameter Name): "Parameter names can include only the following symbols and
/// letters: a-zA-Z0-9_.-", "/" between levels, "For parameters in a hierarchy, you must include
/// a leading forward slash character", "A parameter name can't be prefixed with "aws" or "ssm"
/// (case-insensitive)" (with or without the leading slash), at most fifteen levels, and its
/// length with the ARN's beginning.
fn name_problem(name: &str, region: &str) -> Option<Problem> {
    let p = |m: String| Some(Problem::new("name", m));
    if let Some(c) = name.chars().find(|c| !(c.is_ascii_alphanumeric() || "_.-/".contains(*c))) {
        let message = format!(
            "parameter name `{name}` contains `{c}`; AWS takes letters, digits, `_`, `.`, `-`, and `/` between levels"
        );
        return if name.starts_with("arn:") {
            p(message).map(|p| p.help("give the parameter's name, not its ARN"))
        } else {
            p(message)
        };
    }
    if name.contains('/') && !name.starts_with('/') {
        return p(format!("parameter name `{name}` has levels but no leading `/`; AWS wants `/` first"))
            .map(|p| p.help(format!("did you mean `/{name}`?")));
    }
    let bare = name.strip_prefix('/').unwrap_or(name);
    let lower = bare.to_ascii_lowercase();
    if lower.starts_with("aws") || lower.starts_with("ssm") {
        return p(format!(
            "parameter name `{name}` starts with `{}`: AWS reserves names beginning with aws or ssm, in any case",
            &bare[..3]
        ));
    }
    let depth = bare.split('/').count();
    if depth > DEPTH_MAX {
        return p(format!("parameter name `{name}` has {depth} levels; AWS allows at most {DEPTH_MAX}"));
    }
    let arn = format!("arn:aws:ssm:{region}:123456789012:parameter/").len();
    let len = bare.chars().count();
    (arn + len > NAME_WITH_ARN_MAX).then(|| {
        Problem::new(
            "name",
            format!(
                "parameter name is {len} characters; with its ARN's beginning ({arn}) AWS allows {NAME_WITH_ARN_MAX}"
            ),
        )
    })
}

/// The value, never shown (it may be a secret). AWS (PutParameter Value): at least one
/// character, at most 8 KB (the advanced tier's limit), and "You can't include values wrapped
/// in double brackets {{}} or {{ssm:parameter-name}} in a parameter value."
fn value_problem(value: &str) -> Option<Problem> {
    let len = value.chars().count();
    let message = if value.is_empty() {
        "`value` is empty; AWS wants at least one character".to_owned()
    } else if len > VALUE_MAX {
        format!("`value` is {len} characters; AWS takes at most {VALUE_MAX} (4096 in the standard tier)")
    } else if value.find("{{").is_some_and(|open| value[open..].contains("}}")) {
        "`value` contains `{{...}}`; AWS refuses values that nest another parameter".to_owned()
    } else {
        return None;
    };
    Some(Problem::new("value", message))
}

impl KindSpec for SsmParameter {
    fn schema(&self) -> &'static KindSchema {
        &SCHEMA
    }

    /// An imported parameter keeps the value it has: rprov never reads it, so it is declared
    /// as `generate: true` (made only at create, which an adopted parameter never sees again).
    fn imported_props(&self, live: &Live) -> Props {
        let mut p = live.props.clone();
        p.insert("generate".into(), Value::Bool(true));
        p
    }

    fn normalise(&self, stack: &str, id: &str, props: &mut Props) {
        if props.get("name").is_none_or(Value::is_null) {
            props.insert("name".into(), Value::str(default_name(stack, id)));
        }
        if props.get("description").and_then(Value::as_str) == Some("") {
            props.remove("description");
        }
    }

    fn create_is_idempotent(&self) -> bool {
        true
    }

    fn check(&self, s: &Subject) -> Vec<Problem> {
        let mut out = match (s.get("value").is_some(), s.bool("generate") == Some(true)) {
            (true, true) => vec![Problem::new("generate", "give `value` or `generate: true`, not both")],
            (false, false) => vec![Problem::new("value", "missing `value` (or `generate: true` for a random one)")],
            _ => vec![],
        };
        if let (Some(name), Some(region)) = (s.str("name"), s.stack.region()) {
            out.extend(name_problem(name, region));
        }
        out.extend(s.str("value").and_then(value_problem));
        // AWS: "A parameter name must be unique within an Amazon Web Services Region"; a second
        // PutParameter of the name without Overwrite answers ParameterAlreadyExists.
        let stack = s.stack.name();
        let name_of = |id: &str, p: &crate::expr::ExprMap| match p.get("name") {
            None | Some(crate::expr::Expr::Lit(Value::Null)) => Some(default_name(stack, id)),
            e => crate::spec::rules::lit_str(e).map(str::to_owned),
        };
        if let Some((other, name)) = crate::spec::rules::earlier_with_same_name(s, "ssm_parameter", name_of) {
            out.push(Problem::new(
                "name",
                format!("parameter `{other}` is named `{name}` too; AWS keeps parameter names unique in a region"),
            ));
        }
        out
    }

    fn arn(&self) -> Option<(&'static str, &'static str)> {
        Some(("ssm", "parameter"))
    }

    fn refusals(&self) -> Refusals {
        Refusals::Modelled(&[("ssm", "PutParameter")])
    }
}

#[async_trait]
impl Kind for SsmParameter {
    /// One paginated DescribeParameters filtered by the tag `rprov:stack`, plus one filtered by
    /// name (50 per call) for recorded parameters it did not return (their tags changed by
    /// hand). DescribeParameters reports no tags and ListTagsForResource takes one parameter
    /// per call: the tags come from the refresh's Tagging API index where it agrees with the
    /// state, else from the parameter itself — for the unrecorded ones too, so a parameter of
    /// another deployment of the stack (another lineage) is told apart from an unmanaged one.
    async fn read_many(&self, cx: &Cx, ids: &[String]) -> Result<Vec<Live>, AwsError> {
        let mut found = describe(cx, filter(&format!("tag:{TAG_STACK}"), vec![cx.stack.clone()])).await?;
        let seen: BTreeSet<String> = found.iter().filter_map(|m| m.name().map(str::to_owned)).collect();
        let missing: Vec<String> = ids.iter().filter(|i| !seen.contains(*i)).cloned().collect();
        for chunk in missing.chunks(NAMES_PER_CALL) {
            found.extend(describe(cx, filter("Name", chunk.to_vec())).await?);
        }
        fill_arns(cx, &mut found).await?;
        // SSM's tag read takes a name, the Tagging API an ARN: carry both.
        let recorded: Vec<(String, String)> = found
            .iter()
            .map(|m| (m.name().unwrap_or_default().to_owned(), m.arn().unwrap_or_default().to_owned()))
            .collect();
        let by_arn: HashMap<&str, &str> = recorded.iter().map(|(n, a)| (a.as_str(), n.as_str())).collect();
        let mut tags = tagging::tags_by_id(cx, &recorded, |arns| {
            tagging::each(arns, |arn| {
                let name = by_arn.get(arn.as_str()).copied().unwrap_or_default().to_owned();
                async move { tags_of(cx, &name).await }
            })
        })
        .await?;
        let mut out = Vec::new();
        for m in &found {
            // Absent: deleted between the list and the tag read, or (in a refresh) neither
            // recorded nor indexed with the stack's tag.
            let Some(tags) = tags.remove(m.name().unwrap_or_default()) else { continue };
            out.push(live(m, tags));
        }
        Ok(out)
    }

    async fn create(&self, cx: &Cx, req: &CreateReq<'_>) -> Result<Live, AwsError> {
        let name = req
            .props
            .get("name")
            .and_then(Value::as_str)
            .map_or_else(|| default_name(&cx.stack, req.id), str::to_owned);
        // No idempotency token: a repeat after a lost response answers ParameterAlreadyExists;
        // the parameter is then overwritten if it carries this resource's ownership tags.
        match put(cx, &name, req.props, false, Some(req.tags)).await {
            Ok(()) => {}
            Err(AwsError::AlreadyExists(m)) => {
                let have = tags_of(cx, &name).await?;
                let ours = super::carries_ownership(&have, req.tags);
                if !ours {
                    return Err(AwsError::AlreadyExists(format!(
                        "parameter {name} exists and was not created for {}: choose another name ({m})",
                        req.id
                    )));
                }
                put(cx, &name, req.props, true, None).await?;
            }
            Err(e) => return Err(e),
        }
        read_back(cx, &name).await
    }

    async fn update(&self, cx: &Cx, req: &UpdateReq<'_>) -> Result<Live, AwsError> {
        let changed = |n: &str| req.changed.iter().any(|c| c == n);
        if changed("value") || changed("generate") {
            put(cx, req.physical_id, req.new, true, None).await?;
        } else if changed("description") {
            // PutParameter always takes the value, and rprov never reads a generated one back:
            // changing only the description would mean a new value (a password rotated by a
            // comment change). Refused, saying what to do.
            if generates(req.new) {
                return Err(AwsError::Invalid(format!(
                    "the description of {} cannot change on its own while its value is generated (PutParameter needs the value, which rprov never reads): recreate it, or set `value`",
                    req.physical_id
                )));
            }
            put(cx, req.physical_id, req.new, true, None).await?;
        }
        if req.changed.iter().any(|c| c == "tags") {
            let ssm = client(cx);
            let (stale, _) = tag_changes(req.old_tags, req.tags);
            if !stale.is_empty() {
                ssm.remove_tags_from_resource()
                    .resource_type(ResourceTypeForTagging::Parameter)
                    .resource_id(req.physical_id)
                    .set_tag_keys(Some(stale))
                    .send()
                    .await
                    .map_err(classify)?;
            }
            ssm.add_tags_to_resource()
                .resource_type(ResourceTypeForTagging::Parameter)
                .resource_id(req.physical_id)
                .set_tags(Some(to_sdk(req.tags)))
                .send()
                .await
                .map_err(classify)?;
        }
        read_back(cx, req.physical_id).await
    }

    async fn delete(&self, cx: &Cx, req: &DeleteReq<'_>) -> Result<(), AwsError> {
        // ParameterNotFound: gone already.
        super::gone_ok(client(cx).delete_parameter().name(req.physical_id).send().await.map_err(classify))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_values_are_long_random_and_of_the_alphabet() {
        let (a, b) = (generated().unwrap(), generated().unwrap());
        assert_eq!(a.len(), GENERATED_LEN);
        assert!(a.bytes().all(|c| c.is_ascii_alphanumeric()), "{a}");
        assert_ne!(a, b);
    }

    #[test]
    fn the_value_is_never_reported_and_names_default_under_the_stack() {
        let m = ParameterMetadata::builder()
            .name("/rprov/s/pw")
            .r#type(ParameterType::SecureString)
            .arn("arn:aws:ssm:us-east-1:1:parameter/rprov/s/pw")
            .build();
        let l = live(&m, Tags::new());
        assert!(!l.props.contains_key("value"));
        let mut p =
            Props::from([("value".to_string(), Value::str("hunter2")), ("description".to_string(), Value::str(""))]);
        SsmParameter.normalise("s", "pw", &mut p);
        assert_eq!(p["name"], l.props["name"]);
        assert!(!p.contains_key("description"));
    }
}

#[cfg(test)]
mod rules {
    use crate::kinds::testing::check_rules;

    fn param(fields: &str) -> String {
        format!("p: {{ type: ssm_parameter, {fields} }}")
    }

    #[test]
    fn names() {
        for ok in ["/app/db/password", "app.password", "/a/b/c/d/e/f/g/h/i/j/k/l/m/n/o", "/Awful/x"] {
            check_rules(&param(&format!("name: \"{ok}\", generate: true")), &[]);
        }
        let no =
            |name: &str, expect: &str| check_rules(&param(&format!("name: \"{name}\", generate: true")), &[expect]);
        no("/app/db password", "contains ` `");
        no("arn:aws:ssm:us-east-1:1:parameter/x", "contains `:` | give the parameter's name, not its ARN");
        no("app/password", "has levels but no leading `/` | did you mean `/app/password`?");
        no("/aws/reference/x", "starts with `aws`: AWS reserves");
        no("SSM-param", "starts with `SSM`");
        no("/a/b/c/d/e/f/g/h/i/j/k/l/m/n/o/p", "has 16 levels; AWS allows at most 15");
        no(
            &format!("/{}", "x".repeat(967)),
            "parameter name is 967 characters; with its ARN's beginning (45) AWS allows 1011",
        );
        check_rules(&param(&format!("name: \"/{}\", generate: true", "x".repeat(966))), &[]);
    }

    #[test]
    fn values_are_checked_and_never_shown() {
        check_rules(&param("value: hunter2"), &[]);
        check_rules(&param("value: \"\""), &["4:36: `value` is empty"]);
        check_rules(&param("value: \"{{ssm:other}}\""), &["`value` contains `{{...}}`"]);
        let long = "z".repeat(8193);
        let found = crate::kinds::testing::problems(&param(&format!("value: {long}")));
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(
            found[0].contains("`value` is 8193 characters; AWS takes at most 8192") && !found[0].contains("zzz"),
            "{found:?}"
        );
        check_rules(&param(&format!("value: {}", "z".repeat(8192))), &[]);
    }

    #[test]
    fn one_name_once() {
        check_rules(
            "a: { type: ssm_parameter, generate: true }\nb: { type: ssm_parameter, generate: true, name: /rprov/s/a }",
            &["parameter `a` is named `/rprov/s/a` too"],
        );
    }
}
