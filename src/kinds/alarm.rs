use async_trait::async_trait;
use aws_sdk_cloudwatch::Client;
use aws_sdk_cloudwatch::types::{ComparisonOperator, Dimension, MetricAlarm, Statistic, Tag};

use super::{CreateReq, DeleteReq, Kind, Live, Selection, Tags, UpdateReq, tag_changes};
use crate::aws::{AwsError, Cx, classify, tagging};
use crate::schema::{Attr, Default, KindSchema, Prop, Ty};
use crate::spec::rules::{earlier_with_same_name, lit_str};
use crate::spec::{KindSpec, Problem, Refusals, Subject};
use crate::value::{Props, Value};

pub struct Alarm;

static SCHEMA: KindSchema = KindSchema {
    name: "alarm",
    doc: "A CloudWatch metric alarm, e.g. UnHealthyHostCount > 0 on a target group.",
    props: &[
        Prop::new("name", Ty::Str, "The alarm name; `<stack>-<id>` when left out.")
            .aws("cloudwatch:PutMetricAlarmInput.AlarmName")
            .replaces(),
        Prop::new("description", Ty::Str, "What the alarm means.")
            .aws("cloudwatch:PutMetricAlarmInput.AlarmDescription"),
        Prop::new("namespace", Ty::Str, "The metric's namespace, e.g. AWS/ApplicationELB.")
            .aws("cloudwatch:PutMetricAlarmInput.Namespace")
            .required(),
        Prop::new("metric", Ty::Str, "The metric name, e.g. UnHealthyHostCount.")
            .aws("cloudwatch:PutMetricAlarmInput.MetricName")
            .required(),
        Prop::new(
            "statistic",
            Ty::Enum(&["SampleCount", "Average", "Sum", "Minimum", "Maximum"]),
            "How the data points of a period are combined.",
        )
        .aws("cloudwatch:PutMetricAlarmInput.Statistic")
        .default(Default::Str("Average")),
        Prop::new("period", Ty::Int, "Seconds per data point (10, 30 or a multiple of 60).")
            .aws("cloudwatch:PutMetricAlarmInput.Period")
            .default(Default::Int(60)),
        Prop::new("evaluation_periods", Ty::Int, "How many periods are compared with the threshold.")
            .aws("cloudwatch:PutMetricAlarmInput.EvaluationPeriods")
            .default(Default::Int(1)),
        Prop::new("threshold", Ty::Num, "The value compared with.")
            .aws("cloudwatch:PutMetricAlarmInput.Threshold")
            .required(),
        Prop::new(
            "comparison",
            Ty::Enum(&[
                "GreaterThanOrEqualToThreshold",
                "GreaterThanThreshold",
                "LessThanThreshold",
                "LessThanOrEqualToThreshold",
            ]),
            "How the statistic is compared with the threshold.",
        )
        .aws("cloudwatch:PutMetricAlarmInput.ComparisonOperator")
        .default(Default::Str("GreaterThanThreshold")),
        Prop::new(
            "dimensions",
            Ty::StrMap,
            "Metric dimensions, e.g. { TargetGroup: ${tg.arn_suffix}, LoadBalancer: ${alb.arn_suffix} }.",
        )
        .default(Default::EmptyMap),
        Prop::new(
            "treat_missing_data",
            Ty::Enum(&["breaching", "notBreaching", "ignore", "missing"]),
            "How periods without data count.",
        )
        .aws("cloudwatch:PutMetricAlarmInput.TreatMissingData")
        .default(Default::Str("missing")),
        Prop::new("alarm_actions", Ty::List(&Ty::Str), "ARNs notified when the alarm fires (SNS topics, ...).")
            .aws("cloudwatch:PutMetricAlarmInput.AlarmActions")
            .default(Default::EmptyList)
            .unordered(),
    ],
    attrs: &[
        Attr::new("id", "The alarm name."),
        Attr::new("arn", "The alarm's ARN."),
        Attr::new("name", "The alarm name."),
    ],
    taggable: true,
};

fn client(cx: &Cx) -> Client {
    cx.client(Client::new)
}

/// Alarms the stack names by default start so; DescribeAlarms filters by this prefix.
fn owned_prefix(stack: &str) -> String {
    format!("{stack}-")
}

fn live(a: &MetricAlarm, tags: Tags) -> Live {
    let name = a.alarm_name().unwrap_or_default().to_owned();
    let mut props = Props::new();
    let mut put = |k: &str, v: Value| {
        props.insert(k.into(), v);
    };
    put("name", Value::str(&name));
    if let Some(d) = a.alarm_description().filter(|d| !d.is_empty()) {
        put("description", Value::str(d));
    }
    put("namespace", Value::str(a.namespace().unwrap_or_default()));
    put("metric", Value::str(a.metric_name().unwrap_or_default()));
    put("statistic", a.statistic().map(|s| Value::str(s.as_str())).unwrap_or(Value::Null));
    put("period", a.period().map(Value::from).unwrap_or(Value::Null));
    put("evaluation_periods", a.evaluation_periods().map(Value::from).unwrap_or(Value::Null));
    put("threshold", a.threshold().map(Value::Num).unwrap_or(Value::Null));
    put("comparison", a.comparison_operator().map(|c| Value::str(c.as_str())).unwrap_or(Value::Null));
    let dims: crate::value::Props = a
        .dimensions()
        .iter()
        .filter_map(|d| Some((d.name()?.to_owned(), Value::str(d.value().unwrap_or_default()))))
        .collect();
    put("dimensions", Value::Map(dims));
    put("treat_missing_data", Value::str(a.treat_missing_data().unwrap_or("missing")));
    let mut actions: Vec<Value> = a.alarm_actions().iter().map(Value::str).collect();
    actions.sort_by_cached_key(|v| v.to_string());
    put("alarm_actions", Value::List(actions));
    let mut attrs = Props::new();
    attrs.insert("id".into(), Value::str(&name));
    attrs.insert("name".into(), Value::str(&name));
    attrs.insert("arn".into(), a.alarm_arn().map(Value::str).unwrap_or(Value::Null));
    Live { physical_id: name, props, attrs, tags }
}

fn to_sdk(tags: &Tags) -> Vec<Tag> {
    tags.iter().map(|(k, v)| Tag::builder().key(k).value(v).build()).collect()
}

async fn tags_of(cx: &Cx, arn: &str) -> Result<Tags, AwsError> {
    let out = client(cx).list_tags_for_resource().resource_arn(arn).send().await.map_err(classify)?;
    Ok(out.tags().iter().filter_map(|t| Some((t.key()?.to_owned(), t.value()?.to_owned()))).collect())
}

async fn describe(cx: &Cx, prefix: Option<&str>, names: Option<Vec<String>>) -> Result<Vec<MetricAlarm>, AwsError> {
    let pages = client(cx)
        .describe_alarms()
        .set_alarm_name_prefix(prefix.map(str::to_owned))
        .set_alarm_names(names)
        .into_paginator()
        .send()
        .try_collect()
        .await
        .map_err(classify)?;
    Ok(pages.iter().flat_map(|p| p.metric_alarms().iter().cloned()).collect())
}

async fn read_back(cx: &Cx, name: &str) -> Result<Live, AwsError> {
    let found = describe(cx, None, Some(vec![name.to_owned()])).await?;
    let a = found.first().ok_or_else(|| AwsError::NotFound(format!("alarm {name}")))?;
    let tags = tags_of(cx, a.alarm_arn().unwrap_or_default()).await?;
    Ok(live(a, tags))
}

/// PutMetricAlarm creates or replaces the whole alarm: create and update are the same call.
async fn put(cx: &Cx, name: &str, props: &Props, tags: Option<&Tags>) -> Result<(), AwsError> {
    let text = |k: &str| props.get(k).and_then(Value::as_str);
    let int = |k: &str| props.get(k).and_then(Value::as_i64).map(|i| i as i32);
    let dims: Vec<Dimension> = props
        .get("dimensions")
        .and_then(Value::as_map)
        .map(|m| {
            m.iter().map(|(k, v)| Dimension::builder().name(k).value(v.as_str().unwrap_or_default()).build()).collect()
        })
        .unwrap_or_default();
    client(cx)
        .put_metric_alarm()
        .alarm_name(name)
        .set_alarm_description(text("description").map(str::to_owned))
        .set_namespace(text("namespace").map(str::to_owned))
        .set_metric_name(text("metric").map(str::to_owned))
        .statistic(Statistic::from(text("statistic").unwrap_or("Average")))
        .period(int("period").unwrap_or(60))
        .evaluation_periods(int("evaluation_periods").unwrap_or(1))
        .set_threshold(props.get("threshold").and_then(Value::as_f64))
        .comparison_operator(ComparisonOperator::from(text("comparison").unwrap_or("GreaterThanThreshold")))
        .set_dimensions(Some(dims))
        .treat_missing_data(text("treat_missing_data").unwrap_or("missing"))
        .set_alarm_actions(Some(props.get("alarm_actions").map(Value::string_list).unwrap_or_default()))
        // Tags given here apply on create only; an update goes through TagResource.
        .set_tags(tags.map(to_sdk))
        .send()
        .await
        .map(|_| ())
        .map_err(classify)
}

fn alarm_name(stack: &str, id: &str, props: &Props) -> String {
    props.get("name").and_then(Value::as_str).map_or_else(|| format!("{}{id}", owned_prefix(stack)), str::to_owned)
}

/// AWS (PutMetricAlarm Period): "Valid values are 10, 20, 30, and any multiple of 60".
fn period_problem(period: i64) -> Option<Problem> {
    if period < 1 || matches!(period, 10 | 20 | 30) || period % 60 == 0 {
        return None;
    }
    let near = if period < 45 {
        [10, 20, 30].into_iter().min_by_key(|p| (p - period).abs()).unwrap_or(60)
    } else {
        (period + 30) / 60 * 60
    };
    Some(
        Problem::new("period", format!("period {period} is not one AWS allows: 10, 20, 30 or a multiple of 60"))
            .help(format!("did you mean {near}?")),
    )
}

/// AWS (PutMetricAlarm Period): "Period multiplied by EvaluationPeriods can't be more than
/// 604,800 seconds. For alarms with a period of less than one hour (3,600 seconds), the total
/// evaluation period can't be longer than one day (86,400 seconds)."
fn evaluation_problem(period: i64, periods: i64) -> Option<Problem> {
    if period < 1 || periods < 1 {
        return None;
    }
    let (max, span) =
        if period < 3600 { (86_400, "one day, with periods under an hour") } else { (604_800, "seven days") };
    let total = period.saturating_mul(periods);
    (total > max).then(|| {
        Problem::new(
            "evaluation_periods",
            format!("{periods} periods of {period} s span {total} s; AWS allows at most {max} s ({span})"),
        )
        .help(format!("at most {} evaluation periods of {period} s", max / period))
    })
}

impl KindSpec for Alarm {
    fn schema(&self) -> &'static KindSchema {
        &SCHEMA
    }

    /// The period and how long the alarm looks back, and its name: "This name must be unique
    /// within the Region" (AWS: PutMetricAlarm, which replaces an alarm of the name).
    fn check(&self, s: &Subject) -> Vec<Problem> {
        let mut out = Vec::new();
        if let Some(period) = s.int("period") {
            out.extend(period_problem(period));
            if let Some(periods) = s.int("evaluation_periods") {
                out.extend(evaluation_problem(period, periods));
            }
        }
        let stack = s.stack.name();
        let name_of = |id: &str, p: &crate::expr::ExprMap| match p.get("name") {
            None | Some(crate::expr::Expr::Lit(Value::Null)) => Some(format!("{}{id}", owned_prefix(stack))),
            e => lit_str(e).map(str::to_owned),
        };
        if let Some((other, name)) = earlier_with_same_name(s, "alarm", name_of) {
            out.push(Problem::new(
                "name",
                format!("alarm `{other}` is named `{name}` too; AWS keeps alarm names unique in a region (the second would replace the first)"),
            ));
        }
        out
    }

    fn normalise(&self, stack: &str, id: &str, props: &mut Props) {
        let name = alarm_name(stack, id, props);
        props.insert("name".into(), Value::str(name));
        if props.get("description").and_then(Value::as_str) == Some("") {
            props.remove("description");
        }
    }

    /// PutMetricAlarm is an upsert: sending it again is harmless.
    fn create_is_idempotent(&self) -> bool {
        true
    }

    fn holds(&self) -> &'static [&'static str] {
        &["target_group", "load_balancer"]
    }

    fn arn(&self) -> Option<(&'static str, &'static str)> {
        Some(("cloudwatch", "alarm"))
    }

    fn refusals(&self) -> Refusals {
        Refusals::Modelled(&[("monitoring", "PutMetricAlarm")])
    }
}

#[async_trait]
impl Kind for Alarm {
    /// Tags are read for recorded alarms only: the others are the stack's by their name prefix,
    /// and carry no tags here.
    fn selection(&self) -> Selection {
        Selection::Own
    }

    /// One paginated DescribeAlarms by the stack's name prefix `<stack>-`, plus one by name
    /// for recorded alarms outside it (AlarmNames and AlarmNamePrefix cannot be combined).
    /// DescribeAlarms reports no tags and ListTagsForResource takes one alarm per call: tags
    /// are read for the recorded alarms (`ids`) only; the others are owned by the prefix and
    /// reported without tags.
    async fn read_many(&self, cx: &Cx, ids: &[String]) -> Result<Vec<Live>, AwsError> {
        let prefix = owned_prefix(&cx.stack);
        let mut found = describe(cx, Some(&prefix), None).await?;
        let outside: Vec<String> = ids.iter().filter(|i| !i.starts_with(&prefix)).cloned().collect();
        // DescribeAlarms takes at most 100 names.
        for chunk in outside.chunks(100) {
            found.extend(describe(cx, None, Some(chunk.to_vec())).await?);
        }
        let recorded: Vec<(String, String)> = found
            .iter()
            .filter(|a| ids.iter().any(|i| Some(i.as_str()) == a.alarm_name()))
            .map(|a| (a.alarm_name().unwrap_or_default().to_owned(), a.alarm_arn().unwrap_or_default().to_owned()))
            .collect();
        let mut tags = tagging::tags_by_id(cx, &recorded, |arns| {
            tagging::each(arns, |arn| async move { tags_of(cx, &arn).await })
        })
        .await?;
        let mut out = Vec::new();
        for a in &found {
            let name = a.alarm_name().unwrap_or_default();
            let tags = if ids.iter().any(|i| i == name) {
                // Absent: deleted between the list and the tag read.
                let Some(tags) = tags.remove(name) else { continue };
                tags
            } else {
                Tags::new()
            };
            out.push(live(a, tags));
        }
        Ok(out)
    }

    async fn create(&self, cx: &Cx, req: &CreateReq<'_>) -> Result<Live, AwsError> {
        let name = alarm_name(&cx.stack, req.id, req.props);
        put(cx, &name, req.props, Some(req.tags)).await?;
        read_back(cx, &name).await
    }

    async fn update(&self, cx: &Cx, req: &UpdateReq<'_>) -> Result<Live, AwsError> {
        if req.changed.iter().any(|c| c != "tags") {
            put(cx, req.physical_id, req.new, None).await?;
        }
        if req.changed.iter().any(|c| c == "tags") {
            let arn = req.old.get("arn").and_then(Value::as_str).map(str::to_owned);
            let arn = match arn {
                Some(a) => a,
                None => {
                    let found = describe(cx, None, Some(vec![req.physical_id.to_owned()])).await?;
                    found.first().and_then(|a| a.alarm_arn()).unwrap_or_default().to_owned()
                }
            };
            let cw = client(cx);
            let (stale, _) = tag_changes(req.old_tags, req.tags);
            if !stale.is_empty() {
                cw.untag_resource().resource_arn(&arn).set_tag_keys(Some(stale)).send().await.map_err(classify)?;
            }
            cw.tag_resource().resource_arn(&arn).set_tags(Some(to_sdk(req.tags))).send().await.map_err(classify)?;
        }
        read_back(cx, req.physical_id).await
    }

    async fn delete(&self, cx: &Cx, req: &DeleteReq<'_>) -> Result<(), AwsError> {
        // DeleteAlarms succeeds for names that do not exist (ResourceNotFound on some partitions).
        super::gone_ok(client(cx).delete_alarms().alarm_names(req.physical_id).send().await.map_err(classify))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stack_values_and_aws_meet_in_one_shape() {
        let mut p = Props::from([
            ("namespace".to_string(), Value::str("AWS/ApplicationELB")),
            ("metric".to_string(), Value::str("UnHealthyHostCount")),
            ("statistic".to_string(), Value::str("Maximum")),
            ("period".to_string(), Value::Int(60)),
            ("evaluation_periods".to_string(), Value::Int(2)),
            ("threshold".to_string(), Value::Int(0)),
            ("comparison".to_string(), Value::str("GreaterThanThreshold")),
            (
                "dimensions".to_string(),
                Value::Map(crate::value::Props::from([("TargetGroup".to_string(), Value::str("targetgroup/tg/1"))])),
            ),
            ("treat_missing_data".to_string(), Value::str("notBreaching")),
            ("alarm_actions".to_string(), Value::List(vec![])),
        ]);
        Alarm.normalise("shop", "unhealthy", &mut p);
        let a = MetricAlarm::builder()
            .alarm_name("shop-unhealthy")
            .namespace("AWS/ApplicationELB")
            .metric_name("UnHealthyHostCount")
            .statistic(Statistic::Maximum)
            .period(60)
            .evaluation_periods(2)
            .threshold(0.0)
            .comparison_operator(ComparisonOperator::GreaterThanThreshold)
            .dimensions(Dimension::builder().name("TargetGroup").value("targetgroup/tg/1").build())
            .treat_missing_data("notBreaching")
            .build();
        let l = live(&a, Tags::new());
        assert_eq!(l.props.len(), p.len());
        for (k, v) in &p {
            assert!(l.props[k].same(v), "{k}: {} vs {v}", l.props[k]);
        }
    }
}

#[cfg(test)]
mod rules {
    use crate::kinds::testing::check_rules;

    fn alarm(fields: &str) -> String {
        format!("a: {{ type: alarm, namespace: AWS/ECS, metric: CPUUtilization, threshold: 80, {fields} }}")
    }

    #[test]
    fn periods() {
        for p in [10, 20, 30, 60, 300, 3600] {
            check_rules(&alarm(&format!("period: {p}")), &[]);
        }
        check_rules(
            &alarm("period: 45"),
            &["4:88: period 45 is not one AWS allows: 10, 20, 30 or a multiple of 60 | did you mean 60?"],
        );
        check_rules(&alarm("period: 25"), &["did you mean 20?"]);
        check_rules(&alarm("period: 100"), &["did you mean 120?"]);
    }

    #[test]
    fn how_far_back() {
        check_rules(&alarm("period: 60, evaluation_periods: 1440"), &[]);
        check_rules(&alarm("period: 3600, evaluation_periods: 168"), &[]);
        check_rules(
            &alarm("period: 60, evaluation_periods: 1441"),
            &[
                "1441 periods of 60 s span 86460 s; AWS allows at most 86400 s (one day, with periods under an hour) | at most 1440",
            ],
        );
        check_rules(&alarm("period: 3600, evaluation_periods: 169"), &["at most 604800 s (seven days)"]);
    }

    #[test]
    fn names() {
        let two =
            format!("{}\nb: {{ type: alarm, namespace: N, metric: M, threshold: 1, name: s-a }}", alarm("period: 60"));
        check_rules(&two, &["alarm `a` is named `s-a` too"]);
    }
}
