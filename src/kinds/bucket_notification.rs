use async_trait::async_trait;
use aws_sdk_s3::types::{
    Event, EventBridgeConfiguration, FilterRule, FilterRuleName, LambdaFunctionConfiguration, NotificationConfiguration,
    NotificationConfigurationFilter, QueueConfiguration, S3KeyFilter, TopicConfiguration,
};

use super::s3::client;
use super::{CreateReq, DeleteReq, Kind, Live, Selection, UpdateReq};
use crate::aws::{AwsError, Cx, Poll, classify, wait_until};
use crate::expr::{Expr, ExprMap};
use crate::schema::{Attr, Default, KindSchema, Prop, Ty};
use crate::spec::rules::{lit_str, ref_target, wrong_kind};
use crate::spec::{KindSpec, Problem, Refusals, Subject};
use crate::value::{Props, Value};

pub struct BucketNotification;

/// The destinations a notification can have, as the property naming it.
const TARGETS: [&str; 3] = ["function", "queue", "topic"];

static NOTIFICATION: Ty = Ty::Obj(&[
    Prop::new("function", Ty::Str, "A Lambda function's ARN (`${fn.arn}`) to invoke.")
        .aws("s3:LambdaFunctionConfiguration.LambdaFunctionArn"),
    Prop::new("queue", Ty::Str, "An SQS queue's ARN to send the event to.").aws("s3:QueueConfiguration.QueueArn"),
    Prop::new("topic", Ty::Str, "An SNS topic's ARN to publish the event to.").aws("s3:TopicConfiguration.TopicArn"),
    Prop::new(
        "events",
        Ty::List(&Ty::Str),
        "S3 event types, e.g. `s3:ObjectCreated:*`, `s3:ObjectRemoved:Delete`.",
    )
    .required()
    .unordered(),
    Prop::new("prefix", Ty::Str, "Only keys starting with this.").aws("s3:FilterRule.Value"),
    Prop::new("suffix", Ty::Str, "Only keys ending with this.").aws("s3:FilterRule.Value"),
]);

static SCHEMA: KindSchema = KindSchema {
    name: "bucket_notification",
    doc: "A bucket's event notifications: the whole notification configuration of one bucket (S3 keeps exactly \
          one), sending object events to Lambda functions, SQS queues or SNS topics. A kind apart from `bucket` \
          because S3 checks each destination's permission when the configuration is put: a function's \
          `lambda_permission` for `s3.amazonaws.com` names the bucket's ARN, and the notification comes after it. \
          Deleting it removes every notification of the bucket.",
    props: &[
        Prop::new("bucket", Ty::Str, "The bucket's name (`${b.name}`).")
            .aws("s3:PutBucketNotificationConfigurationRequest.Bucket")
            .required()
            .replaces(),
        Prop::new(
            "notifications",
            Ty::List(&NOTIFICATION),
            "One entry per destination and filter: exactly one of `function`, `queue` or `topic`, the events, and \
             optionally a key prefix and suffix.",
        )
        .default(Default::EmptyList)
        .unordered(),
        Prop::new("eventbridge", Ty::Bool, "Also send every event of the bucket to Amazon EventBridge.")
            .default(Default::Bool(false)),
    ],
    attrs: &[Attr::new("id", "The bucket's name.")],
    taggable: false,
};

/// How long S3 may refuse a destination whose permission was just granted: it reads the
/// function's resource policy (or the queue's, the topic's), which takes a moment to be seen.
const VALIDATION_BUDGET: std::time::Duration = std::time::Duration::from_secs(120);

fn text<'a>(m: &'a Props, name: &str) -> Option<&'a str> {
    m.get(name).and_then(Value::as_str)
}

fn entry(target: &str, arn: &str, events: &[Event], filter: Option<&NotificationConfigurationFilter>) -> Value {
    let mut m = Props::new();
    m.insert(target.into(), Value::str(arn));
    let mut ev: Vec<String> = events.iter().map(|e| e.as_str().to_owned()).collect();
    ev.sort();
    ev.dedup();
    m.insert("events".into(), Value::List(ev.into_iter().map(Value::Str).collect()));
    for rule in filter.and_then(|f| f.key()).map(|k| k.filter_rules()).unwrap_or_default() {
        // AWS answers `Prefix`/`Suffix`; the names are case-insensitive on input.
        let name = rule.name().map(|n| n.as_str().to_ascii_lowercase()).unwrap_or_default();
        if matches!(name.as_str(), "prefix" | "suffix") && !rule.value().unwrap_or_default().is_empty() {
            m.insert(name, Value::str(rule.value().unwrap_or_default()));
        }
    }
    Value::Map(m)
}

fn props_of(
    functions: &[LambdaFunctionConfiguration],
    queues: &[QueueConfiguration],
    topics: &[TopicConfiguration],
    eventbridge: bool,
    bucket: &str,
) -> Props {
    let mut l: Vec<Value> = functions
        .iter()
        .map(|c| entry("function", c.lambda_function_arn(), c.events(), c.filter()))
        .chain(queues.iter().map(|c| entry("queue", c.queue_arn(), c.events(), c.filter())))
        .chain(topics.iter().map(|c| entry("topic", c.topic_arn(), c.events(), c.filter())))
        .collect();
    l.sort_by_cached_key(Value::to_string);
    let mut p = Props::new();
    p.insert("bucket".into(), Value::str(bucket));
    p.insert("notifications".into(), Value::List(l));
    p.insert("eventbridge".into(), Value::Bool(eventbridge));
    p
}

fn live_of(bucket: &str, props: Props) -> Live {
    let mut attrs = Props::new();
    attrs.insert("id".into(), Value::str(bucket));
    Live { physical_id: bucket.to_owned(), props, attrs, tags: super::Tags::new() }
}

/// The bucket's configuration; `None` when the bucket is gone.
async fn read_one(cx: &Cx, bucket: &str) -> Result<Option<Live>, AwsError> {
    match client(cx).get_bucket_notification_configuration().bucket(bucket).send().await.map_err(classify) {
        Ok(o) => Ok(Some(live_of(
            bucket,
            props_of(
                o.lambda_function_configurations(),
                o.queue_configurations(),
                o.topic_configurations(),
                o.event_bridge_configuration().is_some(),
                bucket,
            ),
        ))),
        Err(AwsError::NotFound(_)) => Ok(None),
        Err(e) => Err(e),
    }
}

fn filter(m: &Props) -> Result<Option<NotificationConfigurationFilter>, AwsError> {
    let mut rules = Vec::new();
    for (k, name) in [("prefix", FilterRuleName::Prefix), ("suffix", FilterRuleName::Suffix)] {
        if let Some(v) = text(m, k) {
            rules.push(FilterRule::builder().name(name).value(v).build());
        }
    }
    Ok((!rules.is_empty())
        .then(|| NotificationConfigurationFilter::builder().key(S3KeyFilter::builder().set_filter_rules(Some(rules)).build()).build()))
}

fn configuration(props: &Props) -> Result<NotificationConfiguration, AwsError> {
    let invalid = |e: aws_sdk_s3::error::BuildError| AwsError::Invalid(e.to_string());
    let mut b = NotificationConfiguration::builder();
    for v in props.get("notifications").map(Value::as_list).unwrap_or_default() {
        let Some(m) = v.as_map() else { continue };
        let events: Vec<Event> = m.get("events").map(Value::string_list).unwrap_or_default().iter().map(|e| Event::from(e.as_str())).collect();
        let f = filter(m)?;
        if let Some(arn) = text(m, "function") {
            b = b.lambda_function_configurations(
                LambdaFunctionConfiguration::builder().lambda_function_arn(arn).set_events(Some(events)).set_filter(f).build().map_err(invalid)?,
            );
        } else if let Some(arn) = text(m, "queue") {
            b = b.queue_configurations(
                QueueConfiguration::builder().queue_arn(arn).set_events(Some(events)).set_filter(f).build().map_err(invalid)?,
            );
        } else if let Some(arn) = text(m, "topic") {
            b = b.topic_configurations(
                TopicConfiguration::builder().topic_arn(arn).set_events(Some(events)).set_filter(f).build().map_err(invalid)?,
            );
        }
    }
    if props.get("eventbridge").and_then(Value::as_bool) == Some(true) {
        b = b.event_bridge_configuration(EventBridgeConfiguration::builder().build());
    }
    Ok(b.build())
}

/// Whether S3 refused a destination it could not validate: its permission is missing, or
/// granted a moment ago and not seen yet ("Unable to validate the following destination
/// configurations").
fn unvalidated(e: &AwsError) -> bool {
    matches!(e, AwsError::Invalid(m) | AwsError::Failed(m) if m.contains("Unable to validate"))
}

/// PutBucketNotificationConfiguration (a whole-document put: sending it again is harmless),
/// again while S3 cannot validate a destination yet, for up to two minutes.
async fn put(cx: &Cx, logical_id: &str, bucket: &str, props: &Props) -> Result<(), AwsError> {
    let config = configuration(props)?;
    let budget = crate::aws::WaitConfig { timeout: cx.wait.timeout.min(VALIDATION_BUDGET), ..cx.wait.clone() };
    let last = std::sync::Mutex::new(None);
    let got = wait_until(
        &budget,
        &format!("S3 to validate the notification destinations of {bucket}"),
        |m| cx.status(logical_id, m),
        || {
            let op = client(cx)
                .put_bucket_notification_configuration()
                .bucket(bucket)
                .notification_configuration(config.clone())
                .skip_destination_validation(false);
            let last = &last;
            async move {
                match op.send().await.map_err(classify) {
                    Ok(_) => Ok(Poll::Ready(())),
                    Err(e) if unvalidated(&e) => {
                        *last.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = Some(e);
                        Ok(Poll::Pending("a destination's permission is not seen yet".into()))
                    }
                    Err(e) => Err(e),
                }
            }
        },
    )
    .await;
    match (got, last.into_inner().unwrap_or_else(std::sync::PoisonError::into_inner)) {
        (Err(AwsError::WaitTimeout { .. }), Some(e)) => Err(AwsError::Invalid(format!(
            "{e}; S3 checks that it may send to each destination: a function needs a `lambda_permission` for principal \
             `s3.amazonaws.com` with this bucket's ARN as `source_arn`"
        ))),
        (got, _) => got,
    }
}

/// Whether two key filters can match one key: each prefix starts the other, or either has
/// none; likewise for suffixes (S3: "Configurations overlap").
fn filters_overlap(a: &ExprMap, b: &ExprMap) -> bool {
    let both = |k: &str, f: fn(&str, &str) -> bool| match (lit_str(a.get(k)), lit_str(b.get(k))) {
        (Some(x), Some(y)) => f(x, y) || f(y, x),
        _ => true,
    };
    both("prefix", |x, y| x.starts_with(y)) && both("suffix", |x, y| x.ends_with(y))
}

/// Whether two event types include each other: `s3:ObjectCreated:*` includes
/// `s3:ObjectCreated:Put`.
fn events_overlap(a: &str, b: &str) -> bool {
    let covers = |w: &str, e: &str| w == e || w.strip_suffix('*').is_some_and(|p| e.starts_with(p));
    covers(a, b) || covers(b, a)
}

fn events_of(m: &ExprMap) -> Vec<&str> {
    match m.get("events") {
        Some(Expr::List(l)) => l.iter().filter_map(|e| lit_str(Some(e))).collect(),
        _ => Vec::new(),
    }
}

/// Whether the stack grants S3 the right to invoke the function `e` refers to.
fn s3_may_invoke(s: &Subject, e: &Expr) -> Option<bool> {
    let function = ref_target(e)?;
    Some(s.stack.of_kind("lambda_permission").any(|(_, p)| {
        p.get("function").and_then(ref_target) == Some(function)
            && lit_str(p.get("principal")) == Some("s3.amazonaws.com")
    }))
}

impl KindSpec for BucketNotification {
    fn schema(&self) -> &'static KindSchema {
        &SCHEMA
    }

    /// S3's rules (PutBucketNotificationConfiguration): one destination per entry; event
    /// types of S3's list; entries with a common event type must not have overlapping key
    /// filters ("Configurations overlap"); S3 must be allowed to invoke a function.
    fn check(&self, s: &Subject) -> Vec<Problem> {
        let mut out = Vec::new();
        if let Some(e) = s.get("bucket") {
            out.extend(wrong_kind(s, "bucket", e, &["bucket"]));
        }
        let entries: Vec<&ExprMap> =
            s.list("notifications").iter().filter_map(|e| if let Expr::Map(m) = e { Some(m) } else { None }).collect();
        for (i, m) in entries.iter().enumerate() {
            let path = format!("notifications.{i}");
            let given: Vec<&str> = TARGETS.into_iter().filter(|t| m.contains_key(*t)).collect();
            if given.len() != 1 {
                out.push(Problem::new(&path, "give exactly one of `function`, `queue` or `topic`"));
            }
            for ev in events_of(m) {
                if !ev.starts_with("s3:") {
                    out.push(
                        Problem::new(format!("{path}.events"), format!("`{ev}` is no S3 event type"))
                            .help("e.g. s3:ObjectCreated:*, s3:ObjectRemoved:*, s3:ObjectRestore:Completed"),
                    );
                }
            }
            if let Some(f) = m.get("function") {
                out.extend(wrong_kind(s, &format!("{path}.function"), f, &["function"]));
                if s3_may_invoke(s, f) == Some(false) {
                    out.push(
                        Problem::new(
                            format!("{path}.function"),
                            format!(
                                "S3 may not invoke `{}`: no `lambda_permission` of the stack grants it to s3.amazonaws.com, and S3 refuses the configuration",
                                ref_target(f).unwrap_or_default()
                            ),
                        )
                        .help("add a lambda_permission with principal s3.amazonaws.com and the bucket's ARN as source_arn"),
                    );
                }
            }
            for (j, other) in entries[..i].iter().enumerate() {
                let shared = events_of(m).into_iter().find(|a| events_of(other).iter().any(|b| events_overlap(a, b)));
                if let Some(ev) = shared
                    && filters_overlap(m, other)
                {
                    out.push(Problem::new(
                        &path,
                        format!(
                            "entry {} and entry {} both take `{ev}` for overlapping keys; S3 refuses overlapping configurations",
                            j + 1,
                            i + 1
                        ),
                    ).help("give them prefixes or suffixes that no key can match both of"));
                }
            }
        }
        out
    }

    fn normalise(&self, _stack: &str, _id: &str, props: &mut Props) {
        if let Some(Value::List(l)) = props.get_mut("notifications") {
            for v in l.iter_mut() {
                if let Value::Map(m) = v {
                    m.retain(|_, x| !x.is_null() && x.as_str() != Some(""));
                    if let Some(Value::List(ev)) = m.get_mut("events") {
                        ev.sort_by_key(|v| v.as_str().map_or_else(|| v.to_string(), str::to_owned));
                        ev.dedup();
                    }
                }
            }
            l.sort_by_cached_key(Value::to_string);
        }
    }

    fn create_is_idempotent(&self) -> bool {
        true
    }

    fn owner(&self, live: &Live) -> Option<String> {
        Some(live.physical_id.clone())
    }

    fn holds(&self) -> &'static [&'static str] {
        &[]
    }

    fn refusals(&self) -> Refusals {
        Refusals::Modelled(&[("s3", "PutBucketNotificationConfiguration")])
    }
}

#[async_trait]
impl Kind for BucketNotification {
    /// One GetBucketNotificationConfiguration per bucket the state records: S3 has no listing
    /// of bucket configuration.
    async fn read_many(&self, cx: &Cx, ids: &[String]) -> Result<Vec<Live>, AwsError> {
        let reads = ids.iter().map(|b| read_one(cx, b));
        let found = futures_util::future::try_join_all(reads).await?;
        Ok(found.into_iter().flatten().collect())
    }

    /// A configuration carries no tags: picked by the buckets the state records.
    fn selection(&self) -> Selection {
        Selection::Own
    }

    async fn create(&self, cx: &Cx, req: &CreateReq<'_>) -> Result<Live, AwsError> {
        let bucket = text(req.props, "bucket").unwrap_or_default();
        put(cx, req.id, bucket, req.props).await?;
        read_one(cx, bucket).await?.ok_or_else(|| AwsError::NotFound(format!("bucket {bucket}")))
    }

    async fn update(&self, cx: &Cx, req: &UpdateReq<'_>) -> Result<Live, AwsError> {
        put(cx, req.id, req.physical_id, req.new).await?;
        read_one(cx, req.physical_id).await?.ok_or_else(|| AwsError::NotFound(format!("bucket {}", req.physical_id)))
    }

    /// An empty configuration: the bucket sends nothing any more. A bucket already gone is done.
    async fn delete(&self, cx: &Cx, req: &DeleteReq<'_>) -> Result<(), AwsError> {
        let sent = client(cx)
            .put_bucket_notification_configuration()
            .bucket(req.physical_id)
            .notification_configuration(NotificationConfiguration::builder().build())
            .send()
            .await;
        super::gone_ok(sent.map_err(classify))
    }
}

#[cfg(test)]
mod tests {
    use aws_sdk_s3::Client;
    use aws_sdk_s3::operation::put_bucket_notification_configuration::{
        PutBucketNotificationConfigurationError, PutBucketNotificationConfigurationOutput,
    };
    use aws_smithy_mocks::{RuleMode, mock, mock_client};
    use aws_smithy_types::error::ErrorMetadata;

    use super::*;
    use crate::kinds::testing::mocked;

    fn unvalidated() -> PutBucketNotificationConfigurationError {
        PutBucketNotificationConfigurationError::generic(
            ErrorMetadata::builder()
                .code("InvalidArgument")
                .message("Unable to validate the following destination configurations")
                .build(),
        )
    }

    fn props() -> Props {
        let entry = Value::Map(Props::from([
            ("function".to_string(), Value::str("arn:aws:lambda:us-east-1:123456789012:function:scan")),
            ("events".to_string(), Value::List(vec![Value::str("s3:ObjectCreated:*")])),
        ]));
        Props::from([("notifications".to_string(), Value::List(vec![entry]))])
    }

    /// A permission granted a moment ago: S3 cannot validate it yet, then can.
    #[tokio::test(start_paused = true)]
    async fn the_put_is_sent_again_while_s3_cannot_validate_a_destination() {
        let put = mock!(Client::put_bucket_notification_configuration)
            .sequence()
            .error(unvalidated)
            .times(2)
            .output(|| PutBucketNotificationConfigurationOutput::builder().build())
            .build();
        let (cx, seen) = mocked(mock_client!(aws_sdk_s3, RuleMode::Sequential, [&put]));

        put_with(&cx, &props()).await.unwrap();

        assert_eq!(put.num_calls(), 3);
        assert!(seen.lock().unwrap().iter().any(|l| l.contains("a destination's permission is not seen yet")));
    }

    /// Never validated: refused, naming what the stack lacks.
    #[tokio::test(start_paused = true)]
    async fn a_destination_never_validated_names_the_missing_permission() {
        let put = mock!(Client::put_bucket_notification_configuration).then_error(unvalidated);
        let (cx, _) = mocked(mock_client!(aws_sdk_s3, RuleMode::MatchAny, [&put]));

        let got = put_with(&cx, &props()).await;

        assert!(matches!(&got, Err(AwsError::Invalid(m)) if m.contains("lambda_permission")), "{got:?}");
        assert!(put.num_calls() > 1);
    }

    async fn put_with(cx: &Cx, p: &Props) -> Result<(), AwsError> {
        put(cx, "notify", "uploads", p).await
    }
}

#[cfg(test)]
mod rule_tests {
    use crate::spec::rules::testing::{problems, valid};

    const BASE: &str = "  b: { type: bucket }
  role: { type: iam_role, assume_role_policy: { Version: '2012-10-17', Statement: [] } }
  f: { type: function, code: { path: fn }, runtime: python3.12, handler: app.handler, role: '${role.arn}' }
";

    #[test]
    fn one_destination_with_permission_and_no_overlap() {
        valid(&format!(
            "{BASE}  p: {{ type: lambda_permission, function: '${{f.name}}', principal: s3.amazonaws.com, source_arn: '${{b.arn}}', source_account: '123456789012' }}
  n: {{ type: bucket_notification, bucket: '${{b.name}}', notifications: [{{ function: '${{f.arn}}', events: ['s3:ObjectCreated:*'], prefix: uploads/ }}, {{ function: '${{f.arn}}', events: ['s3:ObjectCreated:Put'], prefix: other/ }}] }}"
        ));
        let p = problems(&format!(
            "{BASE}  n: {{ type: bucket_notification, bucket: '${{b.name}}', notifications: [{{ function: '${{f.arn}}', events: ['s3:ObjectCreated:*'], prefix: up }}, {{ function: '${{f.arn}}', queue: 'arn:aws:sqs:us-east-1:1:q', events: ['ObjectCreated:Put'], prefix: uploads/ }}] }}"
        ));
        for want in [
            "S3 may not invoke `f`",
            "give exactly one of `function`, `queue` or `topic`",
            "`ObjectCreated:Put` is no S3 event type",
        ] {
            assert!(p.iter().any(|m| m.contains(want)), "{want}: {p:?}");
        }
        let p = problems(&format!(
            "{BASE}  p: {{ type: lambda_permission, function: '${{f.name}}', principal: s3.amazonaws.com, source_account: '123456789012' }}
  n: {{ type: bucket_notification, bucket: '${{b.name}}', notifications: [{{ function: '${{f.arn}}', events: ['s3:ObjectCreated:*'], prefix: up }}, {{ function: '${{f.arn}}', events: ['s3:ObjectCreated:Put'], prefix: uploads/ }}] }}"
        ));
        assert_eq!(p.len(), 1, "{p:?}");
        assert!(p[0].contains("entry 1 and entry 2 both take `s3:ObjectCreated:Put`"), "{p:?}");
    }
}
