use std::path::Path;
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_lambda::primitives::Blob;
use aws_sdk_lambda::types::{
    Architecture, Environment, FunctionCode, FunctionConfiguration, LastUpdateStatus, LoggingConfig, Runtime, State,
    VpcConfig,
};

use super::lambda::{self, Package, client};
use super::{CreateReq, DeleteReq, Kind, Live, Tags, UpdateReq, gone_ok, tag_changes};
use crate::aws::{AwsError, Cx, Poll, WaitConfig, all_items, classify, classify_unretried, tagging, wait_until};
use crate::expr::Expr;
use crate::schema::{Attr, Default, KindSchema, Prop, Ty};
use crate::spec::rules::{default_name_fits, earlier_with_same_name, lit_str, wrong_kind};
use crate::spec::{KindSpec, Problem, Refusals, Subject};
use crate::value::{Props, Value};

pub struct Function;

/// FunctionName: 1 to 64 letters, digits, hyphens, underscores (AWS: CreateFunction).
const NAME_MAX: usize = 64;
/// "The total size of the set [of environment variables] does not exceed 4 KB" (AWS Lambda
/// quotas): the keys and values, as Lambda counts them.
const ENV_MAX: usize = 4096;

/// Deprecated runtimes the API model still lists (its enum, checked by the loader, has the
/// rest), with the runtime AWS points to instead: creating a function with them is blocked
/// (https://docs.aws.amazon.com/lambda/latest/dg/lambda-runtimes.html#runtimes-deprecated).
const DEPRECATED: &[(&str, &str)] = &[
    ("python2.7", "python3.13"),
    ("python3.6", "python3.13"),
    ("python3.7", "python3.13"),
    ("python3.8", "python3.13"),
    ("python3.9", "python3.13"),
    ("nodejs", "nodejs22.x"),
    ("nodejs4.3", "nodejs22.x"),
    ("nodejs4.3-edge", "nodejs22.x"),
    ("nodejs6.10", "nodejs22.x"),
    ("nodejs8.10", "nodejs22.x"),
    ("nodejs10.x", "nodejs22.x"),
    ("nodejs12.x", "nodejs22.x"),
    ("nodejs14.x", "nodejs22.x"),
    ("nodejs16.x", "nodejs22.x"),
    ("nodejs18.x", "nodejs22.x"),
    ("java8", "java21"),
    ("dotnetcore1.0", "dotnet8"),
    ("dotnetcore2.0", "dotnet8"),
    ("dotnetcore2.1", "dotnet8"),
    ("dotnetcore3.1", "dotnet8"),
    ("dotnet6", "dotnet8"),
    ("ruby2.5", "ruby3.3"),
    ("ruby2.7", "ruby3.3"),
    ("go1.x", "provided.al2023"),
    ("provided", "provided.al2023"),
];

/// Environment variable names Lambda sets itself and refuses in a function's environment
/// (https://docs.aws.amazon.com/lambda/latest/dg/configuration-envvars.html#configuration-envvars-runtime).
const RESERVED_ENV: &[&str] = &[
    "_HANDLER",
    "_X_AMZN_TRACE_ID",
    "AWS_DEFAULT_REGION",
    "AWS_REGION",
    "AWS_EXECUTION_ENV",
    "AWS_LAMBDA_FUNCTION_NAME",
    "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
    "AWS_LAMBDA_FUNCTION_VERSION",
    "AWS_LAMBDA_INITIALIZATION_TYPE",
    "AWS_LAMBDA_LOG_GROUP_NAME",
    "AWS_LAMBDA_LOG_STREAM_NAME",
    "AWS_ACCESS_KEY",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_LAMBDA_RUNTIME_API",
    "LAMBDA_TASK_ROOT",
    "LAMBDA_RUNTIME_DIR",
];

static CODE: [Prop; 1] = [Prop::new(
    "path",
    Ty::Str,
    "A directory (every file below it, by its path relative to it) or one file, relative to the stack file: \
     packaged by rprov into a reproducible zip.",
)
.required()];

static VPC: [Prop; 2] = [
    Prop::new("subnets", Ty::List(&Ty::Str), "Subnet ids (subnet-...) the function's network interfaces are in.")
        .aws("lambda:VpcConfig.SubnetIds")
        .unordered(),
    Prop::new("security_groups", Ty::List(&Ty::Str), "Security group ids (sg-...) of those network interfaces.")
        .aws("lambda:VpcConfig.SecurityGroupIds")
        .unordered(),
];

static SCHEMA: KindSchema = KindSchema {
    name: "function",
    doc: "A Lambda function from local code: `code.path` is packaged by rprov into a reproducible zip (sorted \
          entries, fixed timestamps and permissions), so the same files always give the same `code_sha256`, and a \
          plan shows a new hash exactly when a file changed. Updates go through UpdateFunctionConfiguration and \
          UpdateFunctionCode, each waited on until Lambda reports it done. A function in a VPC leaves network \
          interfaces in its subnets for a while after it is deleted: the delete waits until Lambda has released \
          them, so the subnets and security groups can be deleted after it.",
    props: &[
        Prop::new(
            "name",
            Ty::Str,
            "The function's name (up to 64 letters, digits, hyphens, underscores). Default: `<stack>-<id>`.",
        )
        .aws("lambda:CreateFunctionRequest.FunctionName")
        .replaces(),
        Prop::new("code", Ty::Obj(&CODE), "Where the function's code is.").required(),
        Prop::new(
            "code_sha256",
            Ty::Str,
            "Computed, never written: the base64 SHA-256 of the package, as Lambda reports it (`CodeSha256`).",
        ),
        Prop::new("runtime", Ty::Str, "The runtime (`python3.13`, `nodejs22.x`, ...): one AWS still creates functions with.")
            .aws("lambda:CreateFunctionRequest.Runtime")
            .required(),
        Prop::new(
            "handler",
            Ty::Str,
            "What Lambda calls: `file.function` (Python, Node.js, Ruby: `upload_url.handler` is `handler` in \
             `upload_url.py`), `Package.Class::method` (Java, .NET); anything for `provided.*`.",
        )
        .aws("lambda:CreateFunctionRequest.Handler")
        .required(),
        Prop::new("role", Ty::Str, "The execution role's ARN (an `iam_role` Lambda may assume).")
            .aws("lambda:CreateFunctionRequest.Role")
            .required(),
        Prop::new("description", Ty::Str, "What the function does.")
            .aws("lambda:CreateFunctionRequest.Description")
            .default(Default::Str("")),
        Prop::new("memory", Ty::Int, "Memory in MB, 128 to 10,240 (CPU grows with it).")
            .aws("lambda:CreateFunctionRequest.MemorySize")
            .default(Default::Int(128)),
        Prop::new("timeout", Ty::Int, "Seconds an invocation may run, 1 to 900.")
            .aws("lambda:CreateFunctionRequest.Timeout")
            .default(Default::Int(3)),
        Prop::new(
            "environment",
            Ty::StrMap,
            "Environment variables (4 KB in all). Values may use secret params: the variable is then shown as \
             `(sensitive)` and recorded as a digest; Lambda itself stores it (encrypted with its KMS key).",
        )
        .default(Default::EmptyMap),
        Prop::new(
            "vpc",
            Ty::Obj(&VPC),
            "Runs the function in a VPC: its subnets and security groups (both, or leave `vpc` out).",
        ),
        Prop::new(
            "log_group",
            Ty::Str,
            "The CloudWatch log group's name the function logs to (a `log_group`'s `name`). Default: \
             `/aws/lambda/<function name>`.",
        )
        .aws("lambda:LoggingConfig.LogGroup"),
        Prop::new(
            "architecture",
            Ty::Enum(&["x86_64", "arm64"]),
            "The instruction set (AWS's `Architectures` holds exactly one).",
        )
        .default(Default::Str("x86_64")),
    ],
    attrs: &[
        Attr::new("id", "The function's name."),
        Attr::new("name", "The function's name."),
        Attr::new("arn", "The function's ARN (for a `lambda_permission`, an API integration, a bucket notification)."),
        Attr::new(
            "invoke_arn",
            "The ARN API Gateway invokes it by (`arn:aws:apigateway:REGION:lambda:path/2015-03-31/functions/ARN/invocations`).",
        ),
        Attr::new("code_sha256", "The base64 SHA-256 of the deployed package."),
        Attr::new("version", "`$LATEST`."),
        Attr::new("log_group", "The name of the log group it logs to."),
    ],
    taggable: true,
};

fn default_name(stack: &str, id: &str) -> String {
    super::iam::fit_name(stack, id, NAME_MAX)
}

fn text<'a>(props: &'a Props, name: &str) -> Option<&'a str> {
    props.get(name).and_then(Value::as_str)
}

fn name_of(cx: &Cx, id: &str, props: &Props) -> String {
    text(props, "name").map_or_else(|| default_name(&cx.stack, id), str::to_owned)
}

fn default_log_group(name: &str) -> String {
    format!("/aws/lambda/{name}")
}

fn invoke_arn(region: &str, arn: &str) -> String {
    format!("arn:aws:apigateway:{region}:lambda:path/2015-03-31/functions/{arn}/invocations")
}

fn region_of(arn: &str) -> &str {
    arn.split(':').nth(3).unwrap_or_default()
}

fn live(f: &FunctionConfiguration, tags: Tags) -> Live {
    let name = f.function_name().unwrap_or_default().to_owned();
    let arn = f.function_arn().unwrap_or_default();
    let mut props = Props::new();
    props.insert("name".into(), Value::str(&name));
    props.insert("code_sha256".into(), f.code_sha256().map(Value::str).unwrap_or(Value::Null));
    props.insert("runtime".into(), f.runtime().map(|r| Value::str(r.as_str())).unwrap_or(Value::Null));
    props.insert("handler".into(), f.handler().map(Value::str).unwrap_or(Value::Null));
    props.insert("role".into(), f.role().map(Value::str).unwrap_or(Value::Null));
    props.insert("description".into(), Value::str(f.description().unwrap_or_default()));
    props.insert("memory".into(), f.memory_size().map(|m| Value::Int(m.into())).unwrap_or(Value::Null));
    props.insert("timeout".into(), f.timeout().map(|t| Value::Int(t.into())).unwrap_or(Value::Null));
    let env: Props = f
        .environment()
        .and_then(|e| e.variables())
        .into_iter()
        .flatten()
        .map(|(k, v)| (k.clone(), Value::str(v)))
        .collect();
    props.insert("environment".into(), Value::Map(env));
    if let Some(v) = f.vpc_config().filter(|v| !v.subnet_ids().is_empty()) {
        let sorted = |ids: &[String]| {
            let mut l: Vec<Value> = ids.iter().map(Value::str).collect();
            l.sort_by_cached_key(|v| v.to_string());
            Value::List(l)
        };
        let mut vpc = Props::new();
        vpc.insert("subnets".into(), sorted(v.subnet_ids()));
        vpc.insert("security_groups".into(), sorted(v.security_group_ids()));
        props.insert("vpc".into(), Value::Map(vpc));
    }
    let log_group = f
        .logging_config()
        .and_then(|l| l.log_group())
        .map_or_else(|| default_log_group(&name), str::to_owned);
    props.insert("log_group".into(), Value::str(&log_group));
    let arch = f.architectures().first().map_or("x86_64", |a| a.as_str());
    props.insert("architecture".into(), Value::str(arch));
    let mut attrs = Props::new();
    attrs.insert("id".into(), Value::str(&name));
    attrs.insert("name".into(), Value::str(&name));
    attrs.insert("arn".into(), Value::str(arn));
    attrs.insert("invoke_arn".into(), Value::str(invoke_arn(region_of(arn), arn)));
    attrs.insert("code_sha256".into(), props["code_sha256"].clone());
    attrs.insert("version".into(), Value::str(f.version().unwrap_or("$LATEST")));
    attrs.insert("log_group".into(), Value::str(log_group));
    Live { physical_id: name, props, attrs, tags }
}

/// GetFunction: the configuration and the tags; None when there is no such function.
async fn get(cx: &Cx, name: &str) -> Result<Option<(FunctionConfiguration, Tags)>, AwsError> {
    match client(cx).get_function().function_name(name).send().await.map_err(classify) {
        Ok(out) => Ok(out.configuration().cloned().map(|c| (c, lambda::from_sdk(out.tags())))),
        Err(AwsError::NotFound(_)) => Ok(None),
        Err(e) => Err(e),
    }
}

async fn read_back(cx: &Cx, name: &str) -> Result<Live, AwsError> {
    let (f, tags) = get(cx, name).await?.ok_or_else(|| AwsError::NotFound(format!("function {name}")))?;
    Ok(live(&f, tags))
}

/// The package `props` name, checked against the hash the plan showed: the files changed
/// between plan and apply when they differ.
fn package_for(cx: &Cx, id: &str, props: &Props) -> Result<Package, AwsError> {
    let path = props
        .get("code")
        .and_then(Value::as_map)
        .and_then(|c| c.get("path"))
        .and_then(Value::as_str)
        .ok_or_else(|| AwsError::Invalid(format!("{id}: `code.path` is missing")))?;
    let pkg = lambda::package(&cx.base.join(path)).map_err(|e| AwsError::Invalid(format!("{id}: code: {e}")))?;
    if let Some(planned) = text(props, "code_sha256").filter(|p| *p != pkg.sha256) {
        return Err(AwsError::Invalid(format!(
            "{id}: the files of `code` changed since the plan (planned package {planned}, now {}): plan again",
            pkg.sha256
        )));
    }
    if pkg.zip.len() > lambda::DIRECT_UPLOAD_MAX {
        return Err(AwsError::Invalid(format!(
            "{id}: the package is {} bytes; Lambda takes at most {} in the request",
            pkg.zip.len(),
            lambda::DIRECT_UPLOAD_MAX
        )));
    }
    Ok(pkg)
}

fn environment(props: &Props) -> Environment {
    let vars = props
        .get("environment")
        .and_then(Value::as_map)
        .map(|m| m.iter().filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_owned()))).collect());
    Environment::builder().set_variables(vars).build()
}

/// The VPC settings to send: none given is the empty configuration (which takes a function
/// out of its VPC on update).
fn vpc_config(props: &Props) -> VpcConfig {
    let vpc = props.get("vpc").and_then(Value::as_map);
    let ids = |k: &str| vpc.and_then(|m| m.get(k)).map(Value::string_list).unwrap_or_default();
    VpcConfig::builder().set_subnet_ids(Some(ids("subnets"))).set_security_group_ids(Some(ids("security_groups"))).build()
}

fn subnets(props: &Props) -> Vec<String> {
    props.get("vpc").and_then(Value::as_map).and_then(|m| m.get("subnets")).map(Value::string_list).unwrap_or_default()
}

fn logging(props: &Props) -> Option<LoggingConfig> {
    text(props, "log_group").map(|g| LoggingConfig::builder().log_group(g).build())
}

fn architecture(props: &Props) -> Architecture {
    Architecture::from(text(props, "architecture").unwrap_or("x86_64"))
}

/// Whether a refused CreateFunction is IAM's eventual consistency: a role created moments ago
/// is not yet assumable by Lambda everywhere (AWS: InvalidParameterValueException "The role
/// defined for the function cannot be assumed by Lambda.").
fn role_not_ready(e: &AwsError) -> bool {
    matches!(e, AwsError::Invalid(m) if m.starts_with("InvalidParameterValueException") && m.contains("cannot be assumed by Lambda"))
}

/// How long a new role may take to become assumable: IAM documents "a few seconds" typically,
/// and tools wait up to two minutes.
const ROLE_PROPAGATION: Duration = Duration::from_secs(120);

/// "Already exists" from CreateFunction: ResourceConflictException "Function already exist: NAME".
fn exists(e: AwsError) -> AwsError {
    match e {
        AwsError::Invalid(m) if m.starts_with("ResourceConflictException") && m.contains("already exist") => {
            AwsError::AlreadyExists(m)
        }
        e => e,
    }
}

async fn send_create(cx: &Cx, req: &CreateReq<'_>, name: &str, pkg: &Package) -> Result<(), AwsError> {
    let p = req.props;
    client(cx)
        .create_function()
        .function_name(name)
        .runtime(Runtime::from(text(p, "runtime").unwrap_or_default()))
        .handler(text(p, "handler").unwrap_or_default())
        .role(text(p, "role").unwrap_or_default())
        .description(text(p, "description").unwrap_or_default())
        .set_memory_size(p.get("memory").and_then(Value::as_i64).map(|m| m as i32))
        .set_timeout(p.get("timeout").and_then(Value::as_i64).map(|t| t as i32))
        .environment(environment(p))
        .set_vpc_config(p.get("vpc").is_some_and(|v| !v.is_null()).then(|| vpc_config(p)))
        .set_logging_config(logging(p))
        .architectures(architecture(p))
        .code(FunctionCode::builder().zip_file(Blob::new(pkg.zip.clone())).build())
        .set_tags(Some(lambda::to_sdk(req.tags)))
        .customize()
        .config_override(aws_sdk_lambda::config::Builder::default().retry_classifier(crate::aws::LookupBeforeResend))
        .send()
        .await
        .map(|_| ())
        .map_err(classify_unretried)
        .map_err(exists)
}

/// The budget of the wait for a new role: the context's, at most [`ROLE_PROPAGATION`].
fn role_wait(cx: &Cx) -> WaitConfig {
    WaitConfig { timeout: cx.wait.timeout.min(ROLE_PROPAGATION), ..cx.wait }
}

/// CreateFunction, sent again while the role is not yet assumable (bounded, with progress).
async fn create_retrying_role(cx: &Cx, req: &CreateReq<'_>, name: &str, pkg: &Package) -> Result<(), AwsError> {
    let last = std::sync::Mutex::new(None);
    let waited = wait_until(
        &role_wait(cx),
        &format!("role {} to be assumable by Lambda", text(req.props, "role").unwrap_or_default()),
        |m| cx.status(req.id, m),
        || async {
            match send_create(cx, req, name, pkg).await {
                Err(e) if role_not_ready(&e) => {
                    *last.lock().unwrap_or_else(|p| p.into_inner()) = Some(e);
                    Ok(Poll::Pending("not yet".into()))
                }
                r => Ok(Poll::Ready(r)),
            }
        },
    )
    .await;
    let last = last.into_inner().unwrap_or_else(|p| p.into_inner());
    match (waited, last) {
        (Ok(sent), _) => sent,
        // Still refused when the budget ran out: Lambda's own message says what is wrong.
        (Err(AwsError::WaitTimeout { .. }), Some(refused)) => Err(refused),
        (Err(e), _) => Err(e),
    }
}

/// One observation of a function being created or updated: `State` Pending -> Active after a
/// create, `LastUpdateStatus` InProgress -> Successful after an update; Failed with Lambda's
/// reason.
fn settled(f: &FunctionConfiguration) -> Poll<()> {
    match f.state() {
        Some(State::Failed) => {
            return Poll::Failed(format!("Failed: {}", f.state_reason().unwrap_or("no reason given")));
        }
        Some(State::Pending) => return Poll::Pending("Pending".into()),
        _ => {}
    }
    match f.last_update_status() {
        Some(LastUpdateStatus::InProgress) => Poll::Pending("update InProgress".into()),
        Some(LastUpdateStatus::Failed) => Poll::Failed(format!(
            "update Failed: {}",
            f.last_update_status_reason().unwrap_or("no reason given")
        )),
        _ => Poll::Ready(()),
    }
}

/// Waits until the function is Active and its last update done, as AWS requires before the
/// next update (otherwise ResourceConflictException "An update is in progress").
async fn wait_settled(cx: &Cx, id: &str, name: &str) -> Result<(), AwsError> {
    wait_until(
        &cx.wait,
        &format!("function {name} to be ready"),
        |m| cx.status(id, m),
        || async {
            let f = client(cx).get_function_configuration().function_name(name).send().await.map_err(classify)?;
            let c = FunctionConfiguration::builder()
                .set_state(f.state().cloned())
                .set_state_reason(f.state_reason().map(str::to_owned))
                .set_last_update_status(f.last_update_status().cloned())
                .set_last_update_status_reason(f.last_update_status_reason().map(str::to_owned))
                .build();
            Ok(settled(&c))
        },
    )
    .await
}

/// The description AWS gives the network interfaces Lambda makes in a VPC for a function:
/// "AWS Lambda VPC ENI-<function name>-<uuid>".
fn eni_description(name: &str) -> String {
    format!("AWS Lambda VPC ENI-{name}")
}

/// After a VPC function is deleted, Lambda keeps its network interfaces (Hyperplane ENIs) for
/// up to tens of minutes; while they exist DeleteSubnet and DeleteSecurityGroup are refused.
/// Polls DescribeNetworkInterfaces (its subnets, description `AWS Lambda VPC ENI-<name>*`)
/// until none is left. Budget: three times the context's (45 minutes by default).
async fn wait_enis_released(cx: &Cx, id: &str, name: &str, subnets: Vec<String>) -> Result<(), AwsError> {
    if subnets.is_empty() {
        return Ok(());
    }
    let ec2 = super::ec2::client(cx);
    let description = format!("{}*", eni_description(name));
    let budget = WaitConfig { timeout: cx.wait.timeout * 3, ..cx.wait };
    wait_until(
        &budget,
        "Lambda's network interfaces to be released",
        |m| cx.status(id, m),
        || async {
            let out = ec2
                .describe_network_interfaces()
                .filters(aws_sdk_ec2::types::Filter::builder().name("subnet-id").set_values(Some(subnets.clone())).build())
                .filters(aws_sdk_ec2::types::Filter::builder().name("description").values(&description).build())
                .send()
                .await
                .map_err(classify)?;
            // The filter is applied here too: an emulator may ignore it.
            let held = out
                .network_interfaces()
                .iter()
                .filter(|n| n.description().is_some_and(|d| d.starts_with(&eni_description(name))))
                .count();
            Ok(if held == 0 { Poll::Ready(()) } else { Poll::Pending(format!("{held} in use")) })
        },
    )
    .await
}

// ---- what Lambda refuses ----

fn env_problems(s: &Subject, out: &mut Vec<Problem>) {
    let Some(Expr::Map(env)) = s.get("environment") else { return };
    let mut size = 0;
    for (k, v) in env.iter() {
        let ok = k.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
            && k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
            && k.len() >= 2;
        if !ok {
            out.push(Problem::new(
                format!("environment.{k}"),
                format!("`{k}`: Lambda takes variable names of a letter and then letters, digits, underscores"),
            ));
        }
        if RESERVED_ENV.contains(&k.as_str()) {
            out.push(Problem::new(format!("environment.{k}"), format!("`{k}` is set by Lambda itself (reserved)")));
        }
        size += k.len() + lit_str(Some(v)).map_or(0, str::len);
    }
    if size > ENV_MAX {
        out.push(Problem::new(
            "environment",
            format!("the environment is {size} bytes; Lambda takes at most 4 KB (4,096 bytes) of names and values"),
        ));
    }
}

fn handler_problem(runtime: &str, handler: &str) -> Option<String> {
    let dotted = ["python", "nodejs", "ruby"].iter().any(|p| runtime.starts_with(p));
    let classy = ["java", "dotnet"].iter().any(|p| runtime.starts_with(p));
    if handler.chars().any(char::is_whitespace) {
        return Some(format!("the handler `{handler}` holds white space"));
    }
    if dotted && !handler.split_once('.').is_some_and(|(f, m)| !f.is_empty() && !m.is_empty()) {
        return Some(format!("the handler `{handler}` is not `file.function` (e.g. `index.handler`) as {runtime} wants"));
    }
    if classy && !handler.contains("::") && runtime.starts_with("dotnet") {
        return Some(format!("the handler `{handler}` is not `Assembly::Namespace.Class::Method` as {runtime} wants"));
    }
    None
}

impl KindSpec for Function {
    fn schema(&self) -> &'static KindSchema {
        &SCHEMA
    }

    fn normalise(&self, stack: &str, id: &str, props: &mut Props) {
        let name = text(props, "name").map_or_else(|| default_name(stack, id), str::to_owned);
        if props.get("log_group").is_none_or(Value::is_null) {
            props.insert("log_group".into(), Value::str(default_log_group(&name)));
        }
        props.insert("name".into(), Value::str(name));
        if props.get("vpc").and_then(Value::as_map).is_some_and(|m| {
            m.get("subnets").is_none_or(|s| s.as_list().is_empty())
        }) {
            props.remove("vpc");
        }
    }

    /// Lambda's rules before sending: the runtime not deprecated, memory 128 to 10,240 MB,
    /// timeout 1 to 900 s, the handler's form for the runtime, environment names, reserved names
    /// and 4 KB, subnets and security groups together, the role an `iam_role`, a name used twice,
    /// the default name's length, `code_sha256` not written.
    fn check(&self, s: &Subject) -> Vec<Problem> {
        let mut out = Vec::new();
        let runtime = s.str("runtime");
        if let Some(r) = runtime
            && let Some((_, instead)) = DEPRECATED.iter().find(|(d, _)| *d == r)
        {
            out.push(
                Problem::new("runtime", format!("runtime `{r}` is deprecated: AWS no longer creates functions with it"))
                    .help(format!("use `{instead}`")),
            );
        }
        if let (Some(r), Some(h)) = (runtime, s.str("handler"))
            && let Some(m) = handler_problem(r, h)
        {
            out.push(Problem::new("handler", m));
        }
        if let Some(m) = s.int("memory").filter(|m| !(128..=10240).contains(m)) {
            out.push(Problem::new("memory", format!("{m} MB; Lambda takes 128 to 10,240")));
        }
        if let Some(t) = s.int("timeout").filter(|t| !(1..=900).contains(t)) {
            out.push(Problem::new("timeout", format!("{t} s; Lambda takes 1 to 900 (15 minutes)")));
        }
        env_problems(s, &mut out);
        if let Some(Expr::Map(vpc)) = s.get("vpc") {
            let count = |k: &str| match vpc.get(k) {
                Some(Expr::List(l)) => Some(l.len()),
                None => Some(0),
                _ => None,
            };
            match (count("subnets"), count("security_groups")) {
                (Some(0), Some(n)) if n > 0 => {
                    out.push(Problem::new("vpc.subnets", "security groups without subnets: give both, or neither"))
                }
                (Some(n), Some(0)) if n > 0 => out.push(
                    Problem::new("vpc.security_groups", "subnets without security groups: Lambda needs at least one")
                        .help("add a `security_group` of the subnets' VPC"),
                ),
                _ => {}
            }
            if let Some(Expr::List(l)) = vpc.get("subnets") {
                for (i, e) in l.iter().enumerate() {
                    out.extend(wrong_kind(s, &format!("vpc.subnets.{i}"), e, &["subnet"]));
                }
            }
            if let Some(Expr::List(l)) = vpc.get("security_groups") {
                for (i, e) in l.iter().enumerate() {
                    out.extend(wrong_kind(s, &format!("vpc.security_groups.{i}"), e, &["security_group"]));
                }
            }
        }
        if let Some(e) = s.get("role") {
            out.extend(wrong_kind(s, "role", e, &["iam_role"]));
        }
        if s.get("code_sha256").is_some() {
            out.push(Problem::new("code_sha256", "`code_sha256` is computed by rprov from `code`; leave it out"));
        }
        out.extend(default_name_fits(s, "name", NAME_MAX, "CreateFunction FunctionName"));
        let stack = s.stack.name();
        let name_of = |id: &str, p: &crate::expr::ExprMap| match p.get("name") {
            None | Some(Expr::Lit(Value::Null)) => Some(default_name(stack, id)),
            e => lit_str(e).map(str::to_owned),
        };
        if let Some((other, name)) = earlier_with_same_name(s, "function", name_of) {
            out.push(Problem::new(
                "name",
                format!("function `{other}` is named `{name}` too; AWS keeps function names unique in a region"),
            ));
        }
        out
    }

    fn known_attrs(&self, props: &Props) -> Props {
        let mut out = Props::new();
        if let Some(h) = text(props, "code_sha256") {
            out.insert("code_sha256".into(), Value::str(h));
        }
        out
    }

    fn attrs_changed_by_update(&self, changed: &[String]) -> &'static [&'static str] {
        if changed.iter().any(|c| c == "code_sha256") { &["code_sha256"] } else { &[] }
    }

    fn holds(&self) -> &'static [&'static str] {
        &["subnet", "security_group"]
    }

    fn arn(&self) -> Option<(&'static str, &'static str)> {
        Some(("lambda", "function"))
    }

    fn refusals(&self) -> Refusals {
        Refusals::Modelled(&[("ec2", "DeleteSubnet"), ("ec2", "DeleteSecurityGroup")])
    }
}

async fn set_tags(cx: &Cx, arn: &str, old: &Tags, new: &Tags) -> Result<(), AwsError> {
    let (stale, _) = tag_changes(old, new);
    if !stale.is_empty() {
        client(cx).untag_resource().resource(arn).set_tag_keys(Some(stale)).send().await.map_err(classify)?;
    }
    if !new.is_empty() {
        client(cx).tag_resource().resource(arn).set_tags(Some(lambda::to_sdk(new))).send().await.map_err(classify)?;
    }
    Ok(())
}

#[async_trait]
impl Kind for Function {
    /// The package of `code.path`, built now (it is small: a function's sources), so the plan
    /// shows its hash: unchanged files, unchanged hash, no update.
    fn local(&self, base: &Path, written: &Props, _recorded: Option<&Props>) -> Result<Props, (&'static str, String)> {
        let mut out = Props::new();
        let path = written.get("code").and_then(Value::as_map).and_then(|c| c.get("path")).and_then(Value::as_str);
        if let Some(path) = path {
            let pkg = lambda::package(&base.join(path)).map_err(|e| ("code", e))?;
            out.insert("code_sha256".into(), Value::str(pkg.sha256));
        }
        Ok(out)
    }

    /// ONE paginated ListFunctions (50 per page): each function's configuration with its
    /// `CodeSha256`, environment and VPC settings, but without tags. Tags come from the
    /// refresh's Tagging API index where it agrees with the state (it lists Lambda functions),
    /// otherwise from one ListTags per function the state records or that bears the stack's
    /// default prefix `<stack>-`: AWS's only per-function read here.
    async fn read_many(&self, cx: &Cx, ids: &[String]) -> Result<Vec<Live>, AwsError> {
        let fns = all_items(client(cx).list_functions().max_items(50).into_paginator().items().send()).await?;
        let prefix = format!("{}-", cx.stack);
        let pair = |f: &FunctionConfiguration| {
            (f.function_name().unwrap_or_default().to_owned(), f.function_arn().unwrap_or_default().to_owned())
        };
        let candidate = |f: &&FunctionConfiguration| {
            let name = f.function_name().unwrap_or_default();
            ids.iter().any(|i| i == name) || name.starts_with(&prefix)
        };
        let wanted: Vec<(String, String)> = if tagging::has_index(cx).await {
            fns.iter().map(pair).collect()
        } else {
            fns.iter().filter(candidate).map(pair).collect()
        };
        let direct = |arns: Vec<String>| {
            tagging::each(arns, |arn| async move {
                let out = client(cx).list_tags().resource(&arn).send().await.map_err(classify)?;
                Ok(lambda::from_sdk(out.tags()))
            })
        };
        let mut tags = tagging::tags_by_id(cx, &wanted, direct).await?;
        Ok(fns.iter().filter_map(|f| Some(live(f, tags.remove(f.function_name().unwrap_or_default())?))).collect())
    }

    async fn create(&self, cx: &Cx, req: &CreateReq<'_>) -> Result<Live, AwsError> {
        let name = name_of(cx, req.id, req.props);
        let pkg = package_for(cx, req.id, req.props)?;
        cx.status(req.id, &format!("uploading {} files ({} bytes, {})", pkg.files, pkg.zip.len(), pkg.sha256));
        let sent = create_retrying_role(cx, req, &name, &pkg).await;
        // No idempotency token: a repeat after a lost answer meets "Function already exist";
        // the function is taken if it carries this resource's ownership tags.
        let existing = || async { Ok(get(cx, &name).await?.map(|(_, t)| t)) };
        let what = format!("function {name}");
        super::created_or_ours(cx, req, sent, &what, "choose another name", existing).await?;
        wait_settled(cx, req.id, &name).await?;
        read_back(cx, &name).await
    }

    /// Configuration first (UpdateFunctionConfiguration, waited until Successful), then code and
    /// architecture (UpdateFunctionCode, waited too), then tags: Lambda refuses an update while
    /// the previous one is in progress.
    async fn update(&self, cx: &Cx, req: &UpdateReq<'_>) -> Result<Live, AwsError> {
        let name = req.physical_id;
        let changed = |n: &str| req.changed.iter().any(|c| c == n);
        let p = req.new;
        const CONFIG: &[&str] =
            &["runtime", "handler", "role", "description", "memory", "timeout", "environment", "vpc", "log_group"];
        if CONFIG.iter().any(|c| changed(c)) {
            wait_settled(cx, req.id, name).await?;
            client(cx)
                .update_function_configuration()
                .function_name(name)
                .runtime(Runtime::from(text(p, "runtime").unwrap_or_default()))
                .handler(text(p, "handler").unwrap_or_default())
                .role(text(p, "role").unwrap_or_default())
                .description(text(p, "description").unwrap_or_default())
                .set_memory_size(p.get("memory").and_then(Value::as_i64).map(|m| m as i32))
                .set_timeout(p.get("timeout").and_then(Value::as_i64).map(|t| t as i32))
                .environment(environment(p))
                .vpc_config(vpc_config(p))
                .set_logging_config(logging(p))
                .send()
                .await
                .map_err(classify)?;
            wait_settled(cx, req.id, name).await?;
            // Leaving a VPC (or subnets): Lambda's interfaces in the old subnets go later.
            let old = subnets(req.old);
            let gone: Vec<String> = old.into_iter().filter(|s| !subnets(p).contains(s)).collect();
            if !gone.is_empty() {
                wait_enis_released(cx, req.id, name, gone).await?;
            }
        }
        if changed("code_sha256") || changed("architecture") || changed("code") {
            let pkg = package_for(cx, req.id, p)?;
            let live_hash = read_back(cx, name).await?.props.get("code_sha256").cloned();
            if changed("architecture") || live_hash.as_ref().and_then(Value::as_str) != Some(pkg.sha256.as_str()) {
                wait_settled(cx, req.id, name).await?;
                cx.status(req.id, &format!("uploading {} files ({} bytes, {})", pkg.files, pkg.zip.len(), pkg.sha256));
                client(cx)
                    .update_function_code()
                    .function_name(name)
                    .zip_file(Blob::new(pkg.zip))
                    .architectures(architecture(p))
                    .send()
                    .await
                    .map_err(classify)?;
                wait_settled(cx, req.id, name).await?;
            }
        }
        if changed("tags") {
            let arn = read_back(cx, name).await?.attrs.get("arn").and_then(Value::as_str).unwrap_or_default().to_owned();
            set_tags(cx, &arn, req.old_tags, req.tags).await?;
        }
        read_back(cx, name).await
    }

    /// DeleteFunction (a function already gone is deleted), then, for a function in a VPC,
    /// waits until Lambda has released its network interfaces, which hold the subnets and
    /// security groups (see [`wait_enis_released`]).
    async fn delete(&self, cx: &Cx, req: &DeleteReq<'_>) -> Result<(), AwsError> {
        let name = req.physical_id;
        gone_ok(client(cx).delete_function().function_name(name).send().await.map_err(classify))?;
        wait_enis_released(cx, req.id, name, subnets(req.props)).await
    }
}

#[cfg(test)]
mod tests {
    use aws_sdk_ec2::operation::describe_network_interfaces::DescribeNetworkInterfacesOutput;
    use aws_sdk_ec2::types::NetworkInterface;
    use aws_sdk_lambda::operation::create_function::{CreateFunctionError, CreateFunctionOutput};
    use aws_sdk_lambda::operation::delete_function::DeleteFunctionOutput;
    use aws_sdk_lambda::operation::get_function::GetFunctionOutput;
    use aws_sdk_lambda::operation::get_function_configuration::GetFunctionConfigurationOutput;
    use aws_sdk_lambda::operation::update_function_code::UpdateFunctionCodeOutput;
    use aws_sdk_lambda::operation::update_function_configuration::UpdateFunctionConfigurationOutput;
    use aws_smithy_mocks::{Rule, RuleMode, mock, mock_client};
    use aws_smithy_types::error::ErrorMetadata;

    use super::*;
    use crate::kinds::testing::{Status, map, mocked, owned_tags, strs};

    const ARN: &str = "arn:aws:lambda:us-east-1:123456789012:function:s-up";

    fn cx(rules: &[&Rule]) -> (Cx, Status) {
        mocked(mock_client!(aws_sdk_lambda, RuleMode::MatchAny, rules))
    }

    fn code_dir() -> tempfile::TempDir {
        let d = tempfile::tempdir().unwrap();
        std::fs::write(d.path().join("app.py"), "def handler(e, c):\n    return 1\n").unwrap();
        d
    }

    fn props(dir: &Path, extra: &[(&str, Value)]) -> Props {
        let mut given: Props = [
            ("code".to_string(), map(&[("path", Value::str(dir.to_str().unwrap()))])),
            ("runtime".to_string(), Value::str("python3.13")),
            ("handler".to_string(), Value::str("app.handler")),
            ("role".to_string(), Value::str("arn:aws:iam::123456789012:role/r")),
        ]
        .into_iter()
        .collect();
        for (k, v) in extra {
            given.insert((*k).to_owned(), v.clone());
        }
        crate::plan::compared_props(&Function, "s", "up", &given)
    }

    fn config(state: State, update: Option<LastUpdateStatus>, reason: Option<&str>) -> GetFunctionConfigurationOutput {
        GetFunctionConfigurationOutput::builder()
            .function_name("s-up")
            .state(state)
            .set_last_update_status(update)
            .set_last_update_status_reason(reason.map(str::to_owned))
            .set_state_reason(reason.map(str::to_owned))
            .build()
    }

    fn got(tags: &Tags) -> GetFunctionOutput {
        GetFunctionOutput::builder()
            .configuration(
                FunctionConfiguration::builder()
                    .function_name("s-up")
                    .function_arn(ARN)
                    .runtime(Runtime::Python313)
                    .code_sha256("h")
                    .build(),
            )
            .set_tags(Some(lambda::to_sdk(tags)))
            .build()
    }

    #[tokio::test(start_paused = true)]
    async fn create_retries_while_the_new_role_is_not_assumable_then_waits_until_active() {
        let dir = code_dir();
        let tags = owned_tags("s", "up", "t");
        let create = mock!(aws_sdk_lambda::Client::create_function)
            .sequence()
            .error(|| {
                CreateFunctionError::generic(
                    ErrorMetadata::builder()
                        .code("InvalidParameterValueException")
                        .message("The role defined for the function cannot be assumed by Lambda.")
                        .build(),
                )
            })
            .times(2)
            .output(|| CreateFunctionOutput::builder().function_name("s-up").build())
            .build();
        let state = mock!(aws_sdk_lambda::Client::get_function_configuration)
            .sequence()
            .output(|| config(State::Pending, None, None))
            .output(|| config(State::Active, Some(LastUpdateStatus::Successful), None))
            .build();
        let get = mock!(aws_sdk_lambda::Client::get_function).then_output({
            let tags = tags.clone();
            move || got(&tags)
        });
        let (cx, seen) = cx(&[&create, &state, &get]);
        let p = props(dir.path(), &[]);
        let live = Function.create(&cx, &CreateReq { id: "up", props: &p, tags: &tags, token: "t" }).await.unwrap();
        assert_eq!((create.num_calls(), state.num_calls()), (3, 2));
        assert_eq!(live.attrs["arn"], Value::str(ARN));
        let seen = seen.lock().unwrap().join("\n");
        assert!(seen.contains("to be assumable by Lambda"), "{seen}");
        assert!(seen.contains("(now Pending)"), "{seen}");
    }

    #[tokio::test(start_paused = true)]
    async fn a_role_that_never_becomes_assumable_fails_with_lambdas_message_in_bounded_time() {
        let dir = code_dir();
        let create = mock!(aws_sdk_lambda::Client::create_function).then_error(|| {
            CreateFunctionError::generic(
                ErrorMetadata::builder()
                    .code("InvalidParameterValueException")
                    .message("The role defined for the function cannot be assumed by Lambda.")
                    .build(),
            )
        });
        let (cx, _) = cx(&[&create]);
        let (p, tags) = (props(dir.path(), &[]), owned_tags("s", "up", "t"));
        let start = tokio::time::Instant::now();
        let err = Function.create(&cx, &CreateReq { id: "up", props: &p, tags: &tags, token: "t" }).await.unwrap_err();
        assert!(matches!(&err, AwsError::Invalid(m) if m.contains("cannot be assumed")), "{err:?}");
        assert!(start.elapsed() <= ROLE_PROPAGATION, "{:?}", start.elapsed());
        assert!(create.num_calls() > 3);
    }

    #[tokio::test(start_paused = true)]
    async fn a_failed_update_surfaces_lambdas_reason() {
        let dir = code_dir();
        let state = mock!(aws_sdk_lambda::Client::get_function_configuration)
            .sequence()
            .output(|| config(State::Active, Some(LastUpdateStatus::Successful), None))
            .output(|| config(State::Active, Some(LastUpdateStatus::InProgress), None))
            .output(|| config(State::Active, Some(LastUpdateStatus::Failed), Some("subnet has no free addresses")))
            .build();
        let update = mock!(aws_sdk_lambda::Client::update_function_configuration)
            .match_requests(|r| r.memory_size() == Some(512))
            .then_output(|| UpdateFunctionConfigurationOutput::builder().build());
        let (cx, _) = cx(&[&state, &update]);
        let old = props(dir.path(), &[]);
        let new = props(dir.path(), &[("memory", Value::Int(512))]);
        let t = Tags::new();
        let req = UpdateReq {
            id: "up",
            physical_id: "s-up",
            old: &old,
            new: &new,
            changed: &["memory".to_string()],
            old_tags: &t,
            tags: &t,
        };
        let err = Function.update(&cx, &req).await.unwrap_err();
        assert!(matches!(&err, AwsError::Failed(m) if m.contains("subnet has no free addresses")), "{err:?}");
        assert_eq!(update.num_calls(), 1);
    }

    #[tokio::test(start_paused = true)]
    async fn a_code_change_waits_for_the_configuration_update_before_uploading() {
        let dir = code_dir();
        let old = props(dir.path(), &[]);
        std::fs::write(dir.path().join("app.py"), "def handler(e, c):\n    return 2\n").unwrap();
        let mut new = props(dir.path(), &[("timeout", Value::Int(30))]);
        let pkg = lambda::package(dir.path()).unwrap();
        new.insert("code_sha256".into(), Value::str(&pkg.sha256));
        let state = mock!(aws_sdk_lambda::Client::get_function_configuration)
            .sequence()
            .output(|| config(State::Active, Some(LastUpdateStatus::Successful), None))
            .output(|| config(State::Active, Some(LastUpdateStatus::InProgress), None))
            .output(|| config(State::Active, Some(LastUpdateStatus::Successful), None))
            .times(10)
            .build();
        let conf = mock!(aws_sdk_lambda::Client::update_function_configuration)
            .then_output(|| UpdateFunctionConfigurationOutput::builder().build());
        let code = mock!(aws_sdk_lambda::Client::update_function_code)
            .match_requests(|r| r.zip_file().is_some())
            .then_output(|| UpdateFunctionCodeOutput::builder().build());
        let get = mock!(aws_sdk_lambda::Client::get_function).then_output(|| got(&Tags::new()));
        let (cx, _) = cx(&[&state, &conf, &code, &get]);
        let t = Tags::new();
        let changed = ["timeout".to_string(), "code_sha256".to_string()];
        let req =
            UpdateReq { id: "up", physical_id: "s-up", old: &old, new: &new, changed: &changed, old_tags: &t, tags: &t };
        Function.update(&cx, &req).await.unwrap();
        assert_eq!((conf.num_calls(), code.num_calls()), (1, 1));
        // Ready before the configuration update, after it (InProgress, then Successful), before
        // and after the code update.
        assert_eq!(state.num_calls(), 5);
    }

    #[tokio::test]
    async fn a_package_changed_since_the_plan_is_refused() {
        let dir = code_dir();
        let mut p = props(dir.path(), &[]);
        p.insert("code_sha256".into(), Value::str("planned"));
        let (cx, _) = cx(&[]);
        let err = package_for(&cx, "up", &p).unwrap_err();
        assert!(matches!(&err, AwsError::Invalid(m) if m.contains("changed since the plan")), "{err:?}");
    }

    fn enis(n: usize) -> DescribeNetworkInterfacesOutput {
        DescribeNetworkInterfacesOutput::builder()
            .set_network_interfaces(Some(
                (0..n)
                    .map(|i| {
                        NetworkInterface::builder()
                            .network_interface_id(format!("eni-{i}"))
                            .description(format!("AWS Lambda VPC ENI-s-up-{i}"))
                            .requester_managed(true)
                            .build()
                    })
                    .collect(),
            ))
            .build()
    }

    #[tokio::test(start_paused = true)]
    async fn delete_waits_for_lambdas_network_interfaces_with_progress() {
        let delete = mock!(aws_sdk_lambda::Client::delete_function).then_output(|| DeleteFunctionOutput::builder().build());
        let describe = mock!(aws_sdk_ec2::Client::describe_network_interfaces)
            .match_requests(|r| r.filters().iter().any(|f| f.name() == Some("description")))
            .sequence()
            .output(|| enis(2))
            .output(|| enis(1))
            .output(|| enis(0))
            .build();
        let ec2 = mock_client!(aws_sdk_ec2, RuleMode::MatchAny, &[&describe]);
        let (cx, seen) = mocked(mock_client!(aws_sdk_lambda, RuleMode::MatchAny, &[&delete]));
        let cx = cx.with_client(ec2);
        let p = crate::plan::compared_props(
            &Function,
            "s",
            "up",
            &Props::from([("vpc".to_string(), map(&[("subnets", strs(&["subnet-1"])), ("security_groups", strs(&["sg-1"]))]))]),
        );
        let a = Props::new();
        Function.delete(&cx, &DeleteReq { id: "up", physical_id: "s-up", props: &p, attrs: &a }).await.unwrap();
        assert_eq!(describe.num_calls(), 3);
        let seen = seen.lock().unwrap().join("\n");
        assert!(seen.contains("waiting for Lambda's network interfaces to be released (now 2 in use)"), "{seen}");
        assert!(seen.contains("(now 1 in use)"), "{seen}");

        // Outside a VPC, and a function already gone: no wait.
        let gone = mock!(aws_sdk_lambda::Client::delete_function).then_error(|| {
            aws_sdk_lambda::operation::delete_function::DeleteFunctionError::generic(
                ErrorMetadata::builder().code("ResourceNotFoundException").build(),
            )
        });
        let (cx, _) = self::cx(&[&gone]);
        let p = Props::new();
        assert_eq!(Function.delete(&cx, &DeleteReq { id: "up", physical_id: "s-up", props: &p, attrs: &a }).await, Ok(()));
    }

    #[test]
    fn the_plan_carries_the_code_hash_and_defaults() {
        let dir = code_dir();
        let written = Props::from([("code".to_string(), map(&[("path", Value::str("."))]))]);
        let local = Function.local(dir.path(), &written, None).unwrap();
        assert_eq!(local["code_sha256"], Value::str(lambda::package(dir.path()).unwrap().sha256));
        let p = props(dir.path(), &[]);
        assert_eq!(p["log_group"], Value::str("/aws/lambda/s-up"));
        assert_eq!((p["memory"].clone(), p["timeout"].clone()), (Value::Int(128), Value::Int(3)));
        let err = Function.local(dir.path(), &Props::from([("code".to_string(), map(&[("path", Value::str("nope"))]))]), None);
        assert!(matches!(err, Err(("code", m)) if m.contains("nope")));
    }
}

#[cfg(test)]
mod rules {
    use crate::kinds::testing::check_rules;

    const OK: &str = "f: { type: function, code: { path: src }, runtime: python3.13, handler: app.handler, role: \"arn:aws:iam::123456789012:role/r\"";

    fn f(extra: &str) -> String {
        format!("{OK}{extra} }}")
    }

    #[test]
    fn lambdas_rules_before_sending() {
        check_rules(&f(""), &[]);
        check_rules(&f(", memory: 20000"), &["20000 MB; Lambda takes 128 to 10,240"]);
        check_rules(&f(", timeout: 901"), &["901 s; Lambda takes 1 to 900"]);
        check_rules(
            "f: { type: function, code: { path: src }, runtime: python3.8, handler: app.handler, role: \"arn:aws:iam::123456789012:role/r\" }",
            &["runtime `python3.8` is deprecated | use `python3.13`"],
        );
        check_rules("f: { type: function, code: { path: src }, runtime: cobol, handler: a.b, role: \"arn:aws:iam::123456789012:role/r\" }", &["CreateFunction Runtime must be one of"]);
        check_rules(
            "f: { type: function, code: { path: src }, runtime: python3.13, handler: handler, role: \"arn:aws:iam::123456789012:role/r\" }",
            &["is not `file.function`"],
        );
        check_rules(&f(", environment: { AWS_REGION: x }"), &["`AWS_REGION` is set by Lambda itself"]);
        check_rules(&f(", environment: { 1X: x }"), &["Lambda takes variable names"]);
        let big = "x".repeat(4100);
        check_rules(&f(&format!(", environment: {{ BIG: {big} }}")), &["Lambda takes at most 4 KB"]);
        check_rules(&f(", vpc: { subnets: [subnet-1] }"), &["subnets without security groups"]);
        check_rules(&f(", code_sha256: abc"), &["computed by rprov"]);
    }
}
