//! The one harness of the kind tests: the unit tests beside each kind (over clients mocked with
//! aws-smithy-mocks) and the integration tests in `tests/` (over the local AWS) build their
//! [`Cx`], their properties, their ownership tags and the resources they made with it. Compiled
//! for the unit tests and with the `testing` feature, which the integration tests turn on.

use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex, Once};
use std::time::Duration;

use super::{DeleteReq, Kind, Live, TAG_ID, TAG_STACK, Tags, read_owned};
use crate::aws::{AwsSettings, Cx, WaitConfig, load_sdk_config};
use crate::value::{Props, Value};

/// IAM's URL-encoded policy documents, decoded as the IAM kinds decode them.
pub use super::service::iam::url_decode as iam_url_decode;

/// The progress lines a [`Cx`] reported, each `"{logical id}: {message}"`.
pub type Status = Arc<Mutex<Vec<String>>>;

/// Waits of a unit test, run on tokio's paused clock: a poll every 10 ms, doubling to 40 ms,
/// within 1 s.
pub fn quick_waits() -> WaitConfig {
    WaitConfig { timeout: Duration::from_secs(1), poll: Duration::from_millis(10), max_poll: Duration::from_millis(40) }
}

/// A [`Cx`] of stack `s` in us-east-1 with [`quick_waits`], whose calls go to `client` (made with
/// aws-smithy-mocks' `mock_client!`; another service's with [`Cx::with_client`]), and the
/// progress lines it reports.
pub fn mocked<C: Clone + Send + Sync + 'static>(client: C) -> (Cx, Status) {
    mocked_as("s", quick_waits(), client)
}

/// [`mocked`] for stack `stack`, with `wait`.
pub fn mocked_as<C: Clone + Send + Sync + 'static>(stack: &str, wait: WaitConfig, client: C) -> (Cx, Status) {
    let seen = Status::default();
    let sink = seen.clone();
    let sdk = aws_config::SdkConfig::builder().region(aws_config::Region::new("us-east-1")).build();
    let cx = Cx::new(stack, sdk, wait)
        .with_client(client)
        .with_status(Arc::new(move |id: &str, msg: &str| sink.lock().unwrap().push(format!("{id}: {msg}"))));
    (cx, seen)
}

/// The local AWS's credentials in the environment, set once, before any SDK client of the test
/// reads it (a local AWS started afterwards inherits them).
pub fn credentials() {
    static SET: Once = Once::new();
    // SAFETY: set once, before the test starts SDK clients or reads the environment elsewhere;
    // every test sets the same values.
    SET.call_once(|| unsafe {
        std::env::set_var("AWS_ACCESS_KEY_ID", "testing");
        std::env::set_var("AWS_SECRET_ACCESS_KEY", "testing");
        std::env::set_var("AWS_EC2_METADATA_DISABLED", "true");
    });
}

/// A [`Cx`] of `stack` in us-east-1 against the AWS at `endpoint` (the local AWS), with `wait`.
pub async fn local_cx(stack: &str, endpoint: &str, wait: WaitConfig) -> Cx {
    credentials();
    let settings = AwsSettings { endpoint_url: Some(endpoint.to_owned()), ..AwsSettings::default() };
    Cx::new(stack, load_sdk_config(&settings, "us-east-1").await, wait)
}

/// Properties written as pairs.
pub fn props(pairs: &[(&str, Value)]) -> Props {
    pairs.iter().map(|(k, v)| (k.to_string(), v.clone())).collect()
}

pub fn map(pairs: &[(&str, Value)]) -> Value {
    Value::Map(props(pairs))
}

pub fn list(items: Vec<Value>) -> Value {
    Value::List(items)
}

pub fn strs(items: &[&str]) -> Value {
    Value::List(items.iter().map(|s| Value::str(*s)).collect())
}

/// What `validate` reports for `resources` (the YAML under `resources:`, written from column
/// one) in a stack `s` in us-east-1: `LINE:COL: message (help: ...)` per problem, in the order
/// reported.
pub fn problems(resources: &str) -> Vec<String> {
    let body: String = resources.lines().map(|l| format!("  {l}\n")).collect();
    let text = format!("stack: s\nregion: us-east-1\nresources:\n{body}");
    match crate::stack::load_str(&super::KINDS, crate::stack::Source::new("t.yaml", text), &Default::default()) {
        Ok(_) => vec![],
        Err((_, found)) => found
            .iter()
            .map(|d| {
                let mut s = format!("{}:{}: {}", d.span.line, d.span.col, d.message);
                if let Some(h) = &d.help {
                    s += &format!(" (help: {h})");
                }
                s
            })
            .collect(),
    }
}

/// The kinds' rules on `resources` report one problem per `expect`, in order, each containing
/// the expectation's substrings (separated by ` | `); `&[]`: the stack is valid.
#[track_caller]
pub fn check_rules(resources: &str, expect: &[&str]) {
    let found = problems(resources);
    let ok = found.len() == expect.len()
        && found.iter().zip(expect).all(|(f, e)| e.split(" | ").all(|part| f.contains(part)));
    assert!(ok, "expected {expect:#?}\nreported {found:#?}\nfor\n{resources}");
}

/// The tags a create of `id` in `stack` sends: its ownership tags and `team=<team>`.
pub fn owned_tags(stack: &str, id: &str, team: &str) -> Tags {
    Tags::from([
        (TAG_STACK.to_string(), stack.to_string()),
        (TAG_ID.to_string(), id.to_string()),
        ("team".to_string(), team.to_string()),
    ])
}

/// One resource a test made: its kind, logical id, what AWS has of it, and what was applied
/// (the planner compares what AWS cannot report with that).
pub struct Res {
    pub kind: &'static dyn Kind,
    pub id: &'static str,
    pub live: Live,
    pub applied: Props,
}

impl Res {
    pub fn pid(&self) -> &str {
        &self.live.physical_id
    }

    pub fn attr(&self, name: &str) -> Value {
        self.live.attrs.get(name).cloned().unwrap_or_else(|| panic!("{} has no attribute {name}", self.id))
    }

    pub fn delete_req(&self) -> DeleteReq<'_> {
        DeleteReq { id: self.id, physical_id: self.pid(), props: &self.applied, attrs: &self.live.attrs }
    }
}

/// The `rprov` binary `bin` (the test's `CARGO_BIN_EXE_rprov`) to run in `dir` against the AWS at
/// `endpoint`: with the local AWS's credentials, no colour, no profile or region from the
/// environment, no input.
pub fn rprov_command(bin: &str, endpoint: &str, dir: &Path) -> Command {
    let mut c = Command::new(bin);
    c.current_dir(dir)
        .env("AWS_ENDPOINT_URL", endpoint)
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("NO_COLOR", "1")
        .env_remove("AWS_PROFILE")
        .env_remove("AWS_REGION")
        .stdin(Stdio::null());
    c
}

/// The resource `physical_id` of kind `k`, if the stack of `cx` owns it or `ids` name it (as a
/// refresh reads it: [`read_owned`]).
pub async fn read(cx: &Cx, k: &dyn Kind, ids: &[String], physical_id: &str) -> Option<Live> {
    let all = read_owned(k, cx, ids).await.unwrap_or_else(|e| panic!("{} read_many: {e}", k.schema().name));
    all.into_iter().find(|l| l.physical_id == physical_id)
}

/// The round trip every kind integration test makes against the local AWS, for one stack:
/// create with ownership tags and find it again with `read_many`, props equal to the stack's
/// normalised values (a second plan would show no diff); update in place and read back; delete,
/// gone, and a second delete is success.
pub struct RoundTrip {
    pub stack: &'static str,
    /// The `team` tag of the stack's resources.
    pub team: &'static str,
}

impl RoundTrip {
    /// A context on the local AWS at `endpoint`, with waits short enough for a test.
    pub async fn cx(&self, endpoint: &str) -> Cx {
        let wait = WaitConfig {
            timeout: Duration::from_secs(30),
            poll: Duration::from_millis(50),
            max_poll: Duration::from_millis(500),
        };
        local_cx(self.stack, endpoint, wait).await
    }

    pub fn tags(&self, id: &str) -> Tags {
        owned_tags(self.stack, id, self.team)
    }

    /// The stack's values as the planner compares them: schema defaults, then `normalise`.
    pub fn desired(&self, k: &dyn Kind, id: &str, given: &Props) -> Props {
        crate::plan::compared_props(k, self.stack, id, given)
    }

    /// Creates through the trait and checks that a second plan would find no difference.
    pub async fn create(&self, cx: &Cx, kind_name: &str, id: &'static str, given: &[(&str, Value)]) -> Res {
        let k = crate::kinds::kind(kind_name).unwrap_or_else(|| panic!("{kind_name} is registered"));
        let want = self.desired(k, id, &props(given));
        let token = format!("{id}-token");
        let tags = self.tags(id);
        let made = k
            .create(cx, &crate::kinds::CreateReq { id, props: &want, tags: &tags, token: &token })
            .await
            .unwrap_or_else(|e| panic!("create {id}: {e}"));
        let found = read(cx, k, &[], &made.physical_id).await.unwrap_or_else(|| panic!("read_many finds {id}"));
        assert_eq!(compared(&found, &want), want, "{id}: live props differ from the stack's (perpetual diff)");
        assert_eq!(found.tags, tags, "{id}: tags");
        assert_eq!(made.props, found.props, "{id}: create returns what read_many reads");
        assert_eq!(made.attrs, found.attrs, "{id}: attributes");
        Res { kind: k, id, live: found, applied: want }
    }

    /// Updates in place to `given` (and `tags`, when given) and checks the result reads back
    /// as the new values.
    pub async fn update(&self, cx: &Cx, res: &mut Res, given: &[(&str, Value)], tags: Option<Tags>) {
        let new = self.desired(res.kind, res.id, &props(given));
        let old_tags = res.live.tags.clone();
        let tags = tags.unwrap_or_else(|| old_tags.clone());
        let mut changed: Vec<String> =
            new.iter().filter(|(k, v)| res.live.props.get(*k) != Some(v)).map(|(k, _)| k.clone()).collect();
        if tags != old_tags {
            changed.push("tags".into());
        }
        assert!(!changed.is_empty(), "{}: update test changes nothing", res.id);
        let req = crate::kinds::UpdateReq {
            id: res.id,
            physical_id: &res.live.physical_id,
            old: &res.live.props,
            new: &new,
            changed: &changed,
            old_tags: &old_tags,
            tags: &tags,
        };
        let out = res.kind.update(cx, &req).await.unwrap_or_else(|e| panic!("update {} ({changed:?}): {e}", res.id));
        let found = read(cx, res.kind, &[], res.pid())
            .await
            .unwrap_or_else(|| panic!("read_many finds {} after update", res.id));
        assert_eq!(compared(&found, &new), new, "{}: props after update", res.id);
        assert_eq!(found.tags, tags, "{}: tags after update", res.id);
        assert_eq!(out.props, found.props, "{}: update returns what read_many reads", res.id);
        res.live = found;
        res.applied = new;
    }

    /// Deletes, checks it is gone, and that deleting again is still success.
    pub async fn delete(&self, cx: &Cx, res: &Res) {
        let req = DeleteReq { id: res.id, physical_id: res.pid(), props: &res.live.props, attrs: &res.live.attrs };
        res.kind.delete(cx, &req).await.unwrap_or_else(|e| panic!("delete {}: {e}", res.id));
        assert!(read(cx, res.kind, &[], res.pid()).await.is_none(), "{} still listed after delete", res.id);
        assert_eq!(res.kind.delete(cx, &req).await, Ok(()), "{}: a second delete is success", res.id);
    }
}

/// What the planner compares: the live value of every property the stack gives a value (an
/// optional property left out, like a subnet's `az`, is AWS's to choose).
pub fn compared(live: &Live, want: &Props) -> Props {
    live.props.iter().filter(|(k, _)| want.contains_key(*k)).map(|(k, v)| (k.clone(), v.clone())).collect()
}
