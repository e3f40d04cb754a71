use async_trait::async_trait;

use super::lambda::client;
use super::{CreateReq, DeleteReq, Kind, Live, Selection, Tags, UpdateReq, gone_ok};
use crate::aws::{AwsError, Cx, classify};
use crate::schema::{Attr, Default, KindSchema, Prop, Ty};
use crate::spec::rules::wrong_kind;
use crate::spec::{KindSpec, Problem, Refusals, Subject};
use crate::value::{Props, Value};

pub struct LambdaPermission;

static SCHEMA: KindSchema = KindSchema {
    name: "lambda_permission",
    doc: "A statement of a Lambda function's resource policy: who may invoke it (API Gateway for an HTTP API's \
          integration, S3 for a bucket's notifications). AWS has no update of a statement: a change replaces it.",
    props: &[
        Prop::new("function", Ty::Str, "The function's name or ARN (`${fn.name}`).")
            .aws("lambda:AddPermissionRequest.FunctionName")
            .required()
            .replaces(),
        Prop::new("statement_id", Ty::Str, "The statement's id in the function's policy. Default: the logical id.")
            .aws("lambda:AddPermissionRequest.StatementId")
            .replaces(),
        Prop::new("action", Ty::Str, "What is allowed.")
            .aws("lambda:AddPermissionRequest.Action")
            .default(Default::Str("lambda:InvokeFunction"))
            .replaces(),
        Prop::new(
            "principal",
            Ty::Str,
            "Who: a service (`apigateway.amazonaws.com`, `s3.amazonaws.com`, `events.amazonaws.com`) or an account id.",
        )
        .aws("lambda:AddPermissionRequest.Principal")
        .required()
        .replaces(),
        Prop::new(
            "source_arn",
            Ty::Str,
            "Only on behalf of this resource (an API's `execute-api` ARN pattern, a bucket's ARN): without it any \
             resource of that service in any account may invoke the function.",
        )
        .aws("lambda:AddPermissionRequest.SourceArn")
        .replaces(),
        Prop::new(
            "source_account",
            Ty::Str,
            "Only on behalf of resources of this account (for S3, whose bucket ARNs name no account).",
        )
        .aws("lambda:AddPermissionRequest.SourceAccount")
        .replaces(),
    ],
    attrs: &[Attr::new("id", "`<function>/<statement id>`."), Attr::new("statement_id", "The statement's id.")],
    taggable: false,
};

fn text<'a>(props: &'a Props, name: &str) -> Option<&'a str> {
    props.get(name).and_then(Value::as_str)
}

fn physical_id(function: &str, sid: &str) -> String {
    format!("{function}/{sid}")
}

/// `(function, statement id)` of a physical id: a statement id holds no `/`.
fn split(pid: &str) -> Option<(&str, &str)> {
    pid.rsplit_once('/')
}

/// The statement `sid` of a resource policy (GetPolicy's JSON), as the kind's properties.
fn statement(policy: &serde_json::Value, function: &str, sid: &str) -> Option<Live> {
    let st = policy.get("Statement")?.as_array()?.iter().find(|s| s.get("Sid").and_then(|v| v.as_str()) == Some(sid))?;
    let principal = match st.get("Principal") {
        Some(serde_json::Value::String(p)) => p.clone(),
        Some(p) => p
            .get("Service")
            .or_else(|| p.get("AWS"))
            .and_then(|v| v.as_str())
            .map(|p| {
                // AWS shows an account principal as its root ARN.
                p.strip_prefix("arn:aws:iam::").and_then(|r| r.strip_suffix(":root")).unwrap_or(p).to_owned()
            })
            .unwrap_or_default(),
        None => String::new(),
    };
    let condition = |op: &str, key: &str| {
        st.get("Condition")?.get(op)?.as_object()?.iter().find(|(k, _)| k.eq_ignore_ascii_case(key)).and_then(|(_, v)| v.as_str().map(str::to_owned))
    };
    let action = match st.get("Action") {
        Some(serde_json::Value::String(a)) => a.clone(),
        Some(serde_json::Value::Array(a)) => a.first().and_then(|v| v.as_str()).unwrap_or_default().to_owned(),
        _ => String::new(),
    };
    let mut props = Props::new();
    props.insert("function".into(), Value::str(function));
    props.insert("statement_id".into(), Value::str(sid));
    props.insert("action".into(), Value::str(action));
    props.insert("principal".into(), Value::str(principal));
    props.insert(
        "source_arn".into(),
        condition("ArnLike", "AWS:SourceArn").or_else(|| condition("ArnEquals", "AWS:SourceArn")).map(Value::str).unwrap_or(Value::Null),
    );
    props.insert(
        "source_account".into(),
        condition("StringEquals", "AWS:SourceAccount").map(Value::str).unwrap_or(Value::Null),
    );
    let pid = physical_id(function, sid);
    let mut attrs = Props::new();
    attrs.insert("id".into(), Value::str(&pid));
    attrs.insert("statement_id".into(), Value::str(sid));
    Some(Live { physical_id: pid, props, attrs, tags: Tags::new() })
}

/// The function's resource policy; None when it has none or is gone.
async fn policy(cx: &Cx, function: &str) -> Result<Option<serde_json::Value>, AwsError> {
    match client(cx).get_policy().function_name(function).send().await.map_err(classify) {
        Ok(out) => Ok(out.policy().and_then(|p| serde_json::from_str(p).ok())),
        Err(AwsError::NotFound(_)) => Ok(None),
        Err(e) => Err(e),
    }
}

async fn read_one(cx: &Cx, function: &str, sid: &str) -> Result<Option<Live>, AwsError> {
    Ok(policy(cx, function).await?.and_then(|p| statement(&p, function, sid)))
}

fn sid_of(id: &str, props: &Props) -> String {
    text(props, "statement_id").map_or_else(|| id.to_owned(), str::to_owned)
}

/// What is compared of a statement: everything but the ids.
fn same_content(a: &Props, b: &Props) -> bool {
    ["action", "principal", "source_arn", "source_account"]
        .iter()
        .all(|k| a.get(*k).filter(|v| !v.is_null()) == b.get(*k).filter(|v| !v.is_null()))
}

impl KindSpec for LambdaPermission {
    fn schema(&self) -> &'static KindSchema {
        &SCHEMA
    }

    fn normalise(&self, _stack: &str, id: &str, props: &mut Props) {
        if props.get("statement_id").is_none_or(Value::is_null) {
            props.insert("statement_id".into(), Value::str(id));
        }
    }

    /// The function a `function` of the stack; the default statement id (the logical id) of
    /// Lambda's characters (`[a-zA-Z0-9-_]`, 1 to 100; a written one and the action are checked
    /// by the API model's patterns); S3 without `source_account` (AWS's own advice: a bucket ARN
    /// names no account).
    fn check(&self, s: &Subject) -> Vec<Problem> {
        let mut out = Vec::new();
        if let Some(e) = s.get("function") {
            out.extend(wrong_kind(s, "function", e, &["function"]));
        }
        let sid = s.str("statement_id").map_or_else(|| s.id.to_owned(), str::to_owned);
        if sid.is_empty() || sid.len() > 100 || !sid.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_') {
            out.push(Problem::new(
                "statement_id",
                format!("statement id `{sid}`: Lambda takes 1 to 100 letters, digits, hyphens, underscores"),
            ));
        }
        if s.str("principal") == Some("s3.amazonaws.com") && s.get("source_account").is_none() {
            out.push(
                Problem::new("source_account", "S3 may invoke the function on behalf of any account's bucket of that name")
                    .help("add `source_account` (a bucket ARN names no account)"),
            );
        }
        out
    }

    /// The function: a statement carries no tags and lives inside the function's policy.
    fn owner(&self, live: &Live) -> Option<String> {
        split(&live.physical_id).map(|(f, _)| f.to_owned())
    }

    fn holds(&self) -> &'static [&'static str] {
        &[]
    }

    fn refusals(&self) -> Refusals {
        Refusals::Modelled(&[("lambda", "AddPermission")])
    }
}

#[async_trait]
impl Kind for LambdaPermission {
    /// One GetPolicy per function the state records statements of: AWS has no listing of
    /// resource policies, and ListFunctions leaves them out. Only the statements asked for are
    /// returned.
    async fn read_many(&self, cx: &Cx, ids: &[String]) -> Result<Vec<Live>, AwsError> {
        let mut functions: Vec<&str> = ids.iter().filter_map(|i| split(i).map(|(f, _)| f)).collect();
        functions.sort_unstable();
        functions.dedup();
        let reads = functions.into_iter().map(|f| async move { (f, policy(cx, f).await) });
        let mut out = Vec::new();
        for (f, p) in futures_util::future::join_all(reads).await {
            let Some(p) = p? else { continue };
            for id in ids.iter().filter(|i| split(i).is_some_and(|(g, _)| g == f)) {
                out.extend(split(id).and_then(|(_, sid)| statement(&p, f, sid)));
            }
        }
        Ok(out)
    }

    /// Statements carry no tags: picked by the ids the state records.
    fn selection(&self) -> Selection {
        Selection::Own
    }

    /// AddPermission. It has no idempotency token: a resend after a lost answer meets
    /// ResourceConflictException ("The statement id (...) provided already exists"); the
    /// statement is taken when it says what this one says, otherwise refused.
    async fn create(&self, cx: &Cx, req: &CreateReq<'_>) -> Result<Live, AwsError> {
        let p = req.props;
        let function = text(p, "function").unwrap_or_default();
        let sid = sid_of(req.id, p);
        let sent = client(cx)
            .add_permission()
            .function_name(function)
            .statement_id(&sid)
            .action(text(p, "action").unwrap_or("lambda:InvokeFunction"))
            .principal(text(p, "principal").unwrap_or_default())
            .set_source_arn(text(p, "source_arn").map(str::to_owned))
            .set_source_account(text(p, "source_account").map(str::to_owned))
            .send()
            .await
            .map_err(classify);
        match sent {
            Ok(_) => {}
            Err(AwsError::Invalid(m)) if m.starts_with("ResourceConflictException") => {
                match read_one(cx, function, &sid).await? {
                    Some(l) if same_content(&l.props, p) => {
                        cx.status(req.id, "the statement was added by an earlier attempt: taking it");
                    }
                    _ => {
                        return Err(AwsError::AlreadyExists(format!(
                            "statement {sid} exists in the policy of {function} and says something else: give \
                             another `statement_id`, or remove it (aws lambda remove-permission) ({m})"
                        )));
                    }
                }
            }
            Err(e) => return Err(e),
        }
        read_one(cx, function, &sid).await?.ok_or_else(|| AwsError::NotFound(format!("statement {sid} of {function}")))
    }

    /// Never called: every property replaces the statement.
    async fn update(&self, cx: &Cx, req: &UpdateReq<'_>) -> Result<Live, AwsError> {
        let (f, sid) = split(req.physical_id).unwrap_or_default();
        read_one(cx, f, sid).await?.ok_or_else(|| AwsError::NotFound(req.physical_id.to_owned()))
    }

    /// RemovePermission; a statement or function already gone is deleted.
    async fn delete(&self, cx: &Cx, req: &DeleteReq<'_>) -> Result<(), AwsError> {
        let Some((f, sid)) = split(req.physical_id) else { return Ok(()) };
        gone_ok(client(cx).remove_permission().function_name(f).statement_id(sid).send().await.map_err(classify))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kinds::testing::check_rules;

    #[test]
    fn a_statement_is_read_from_the_policy_as_written() {
        let policy = serde_json::json!({"Version": "2012-10-17", "Statement": [
            {"Sid": "other", "Effect": "Allow", "Principal": {"Service": "s3.amazonaws.com"}, "Action": "lambda:InvokeFunction"},
            {"Sid": "api", "Effect": "Allow", "Principal": {"Service": "apigateway.amazonaws.com"},
             "Action": "lambda:InvokeFunction", "Resource": "arn:aws:lambda:us-east-1:1:function:f",
             "Condition": {"ArnLike": {"AWS:SourceArn": "arn:aws:execute-api:us-east-1:1:abc/*"}}},
            {"Sid": "acct", "Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::111122223333:root"},
             "Action": "lambda:InvokeFunction",
             "Condition": {"StringEquals": {"AWS:SourceAccount": "111122223333"}}}
        ]});
        let l = statement(&policy, "f", "api").unwrap();
        assert_eq!(l.physical_id, "f/api");
        assert_eq!(l.props["principal"], Value::str("apigateway.amazonaws.com"));
        assert_eq!(l.props["source_arn"], Value::str("arn:aws:execute-api:us-east-1:1:abc/*"));
        assert_eq!(l.props["source_account"], Value::Null);
        let a = statement(&policy, "f", "acct").unwrap();
        assert_eq!(a.props["principal"], Value::str("111122223333"));
        assert_eq!(a.props["source_account"], Value::str("111122223333"));
        assert!(statement(&policy, "f", "missing").is_none());
        assert_eq!(LambdaPermission.owner(&l).as_deref(), Some("f"));
    }

    #[test]
    fn rules() {
        let f = "f: { type: function, code: { path: src }, runtime: python3.13, handler: a.h, role: \"arn:aws:iam::123456789012:role/r\" }\n";
        check_rules(&format!("{f}p: {{ type: lambda_permission, function: \"${{f.name}}\", principal: apigateway.amazonaws.com }}"), &[]);
        check_rules(
            &format!("{f}p: {{ type: lambda_permission, function: \"${{f.name}}\", principal: s3.amazonaws.com }}"),
            &["S3 may invoke"],
        );
        check_rules(
            &format!("{f}p: {{ type: lambda_permission, function: \"${{f.name}}\", principal: x, statement_id: \"a b\" }}"),
            &["AddPermission StatementId must match the pattern"],
        );
        check_rules(
            &format!("{f}p: {{ type: lambda_permission, function: \"${{f.name}}\", principal: x, action: \"s3:GetObject\" }}"),
            &["AddPermission Action must match the pattern"],
        );
    }
}
