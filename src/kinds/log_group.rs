use std::collections::HashMap;

use async_trait::async_trait;
use aws_sdk_cloudwatchlogs::Client;
use aws_sdk_cloudwatchlogs::types::LogGroup as SdkLogGroup;

use super::{CreateReq, DeleteReq, Kind, Live, Selection, Tags, UpdateReq, tag_changes};
use crate::aws::{AwsError, Cx, classify, tagging};
use crate::schema::{Attr, KindSchema, Prop, Ty};
use crate::spec::rules::{earlier_with_same_name, lit_str};
use crate::spec::{KindSpec, Problem, Refusals, Subject};
use crate::value::{Props, Value};

pub struct LogGroup;

static SCHEMA: KindSchema = KindSchema {
    name: "log_group",
    doc: "A CloudWatch Logs log group (e.g. for a container's awslogs driver).",
    props: &[
        Prop::new("name", Ty::Str, "The log group name; `/rprov/<stack>/<id>` when left out.")
            .aws("logs:CreateLogGroupRequest.logGroupName")
            .replaces(),
        Prop::new(
            "retention_days",
            Ty::Int,
            "Days to keep events (1, 3, 5, 7, 14, 30, 60, 90, ... 3653); kept forever when left out.",
        )
        .aws("logs:PutRetentionPolicyRequest.retentionInDays"),
    ],
    attrs: &[
        Attr::new("id", "The log group name."),
        Attr::new("name", "The log group name."),
        Attr::new("arn", "The log group's ARN (without the `:*` DescribeLogGroups appends)."),
    ],
    taggable: true,
};

fn client(cx: &Cx) -> Client {
    cx.client(Client::new)
}

/// Names the stack chooses for its log groups start so: the ownership rprov can see without
/// a tag read.
/// The retention periods PutRetentionPolicy takes, in days.
const RETENTION_DAYS: &[i64] =
    &[1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653];

fn owned_prefix(stack: &str) -> String {
    format!("/rprov/{stack}/")
}

fn arn_of(g: &SdkLogGroup) -> String {
    g.log_group_arn()
        .map(str::to_owned)
        .unwrap_or_else(|| g.arn().unwrap_or_default().trim_end_matches(":*").to_owned())
}

fn live(g: &SdkLogGroup, tags: Tags) -> Live {
    let name = g.log_group_name().unwrap_or_default().to_owned();
    let mut props = Props::new();
    props.insert("name".into(), Value::str(&name));
    if let Some(days) = g.retention_in_days() {
        props.insert("retention_days".into(), Value::Int(days.into()));
    }
    let mut attrs = Props::new();
    attrs.insert("id".into(), Value::str(&name));
    attrs.insert("name".into(), Value::str(&name));
    attrs.insert("arn".into(), Value::str(arn_of(g)));
    let created = g.creation_time().and_then(|ms| u64::try_from(ms).ok());
    super::set_created(&mut attrs, created.map(|ms| std::time::UNIX_EPOCH + std::time::Duration::from_millis(ms)));
    Live { physical_id: name, props, attrs, tags }
}

async fn tags_of(cx: &Cx, arn: &str) -> Result<Tags, AwsError> {
    let out = client(cx).list_tags_for_resource().resource_arn(arn).send().await.map_err(classify)?;
    Ok(out.tags().map(|t| t.iter().map(|(k, v)| (k.clone(), v.clone())).collect()).unwrap_or_default())
}

async fn describe_one(cx: &Cx, name: &str) -> Result<Option<SdkLogGroup>, AwsError> {
    let groups = crate::aws::all_items(
        client(cx).describe_log_groups().log_group_name_prefix(name).into_paginator().items().send(),
    )
    .await?;
    Ok(groups.into_iter().find(|g| g.log_group_name() == Some(name)))
}

async fn set_retention(cx: &Cx, name: &str, props: &Props) -> Result<(), AwsError> {
    let logs = client(cx);
    match props.get("retention_days").and_then(Value::as_i64) {
        Some(days) => logs
            .put_retention_policy()
            .log_group_name(name)
            .retention_in_days(days as i32)
            .send()
            .await
            .map(|_| ())
            .map_err(classify),
        None => logs.delete_retention_policy().log_group_name(name).send().await.map(|_| ()).map_err(classify),
    }
}

async fn read_back(cx: &Cx, name: &str) -> Result<Live, AwsError> {
    let g = describe_one(cx, name).await?.ok_or_else(|| AwsError::NotFound(format!("log group {name}")))?;
    let tags = tags_of(cx, &arn_of(&g)).await?;
    Ok(live(&g, tags))
}

impl KindSpec for LogGroup {
    fn schema(&self) -> &'static KindSchema {
        &SCHEMA
    }

    /// Retention periods and names. AWS (PutRetentionPolicy): "Possible values are: 1, 3, 5,
    /// 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288,
    /// and 3653"; (CreateLogGroup) "Log group names can't start with the string aws/" and are
    /// unique in a region (ResourceAlreadyExistsException).
    fn check(&self, s: &Subject) -> Vec<Problem> {
        let mut out = Vec::new();
        if let Some(days) = s.int("retention_days").filter(|d| !RETENTION_DAYS.contains(d)) {
            let list = RETENTION_DAYS.iter().map(i64::to_string).collect::<Vec<_>>().join(", ");
            let near = RETENTION_DAYS.iter().copied().min_by_key(|d| (d - days).abs()).unwrap_or(1);
            out.push(
                Problem::new("retention_days", format!("retention_days {days} is not one AWS allows: {list}"))
                    .help(format!("did you mean {near}? (leave it out to keep events forever)")),
            );
        }
        if let Some(name) = s.str("name").filter(|n| n.starts_with("aws/")) {
            out.push(Problem::new("name", format!("log group name `{name}` starts with `aws/`, which AWS reserves")));
        }
        let stack = s.stack.name();
        let name_of = |id: &str, p: &crate::expr::ExprMap| match p.get("name") {
            None | Some(crate::expr::Expr::Lit(Value::Null)) => Some(format!("{}{id}", owned_prefix(stack))),
            e => lit_str(e).map(str::to_owned),
        };
        if let Some((other, name)) = earlier_with_same_name(s, "log_group", name_of) {
            out.push(Problem::new(
                "name",
                format!("log group `{other}` is named `{name}` too; AWS keeps log group names unique in a region"),
            ));
        }
        out
    }

    fn normalise(&self, stack: &str, id: &str, props: &mut Props) {
        if props.get("name").is_none_or(Value::is_null) {
            props.insert("name".into(), Value::str(format!("{}{id}", owned_prefix(stack))));
        }
        // Removing retention from the stack must delete the policy (see FileSystem::normalise).
        props.entry("retention_days".into()).or_insert(Value::Null);
    }

    fn create_is_idempotent(&self) -> bool {
        true
    }

    fn arn(&self) -> Option<(&'static str, &'static str)> {
        Some(("logs", "log-group"))
    }

    fn refusals(&self) -> Refusals {
        Refusals::Modelled(&[("logs", "CreateLogGroup"), ("logs", "PutRetentionPolicy")])
    }
}

#[async_trait]
impl Kind for LogGroup {
    /// Tags are read for recorded groups only: the others are the stack's by their name prefix,
    /// and carry no tags here.
    fn selection(&self) -> Selection {
        Selection::Own
    }

    /// One paginated DescribeLogGroups: by the stack's name prefix when every recorded group
    /// carries it, else over all groups. DescribeLogGroups reports no tags and
    /// ListTagsForResource takes one group per call, so tags are read only for the groups in
    /// `ids` (recorded in state); others are owned by their name prefix and reported without
    /// tags (adoption after a crash happens in `create`, which meets ResourceAlreadyExists).
    async fn read_many(&self, cx: &Cx, ids: &[String]) -> Result<Vec<Live>, AwsError> {
        let prefix = owned_prefix(&cx.stack);
        let mut op = client(cx).describe_log_groups();
        if ids.iter().all(|i| i.starts_with(&prefix)) {
            op = op.log_group_name_prefix(&prefix);
        }
        let groups = crate::aws::all_items(op.into_paginator().items().send()).await?;
        let recorded: Vec<(String, String)> = groups
            .iter()
            .filter(|g| ids.iter().any(|i| Some(i.as_str()) == g.log_group_name()))
            .map(|g| (g.log_group_name().unwrap_or_default().to_owned(), arn_of(g)))
            .collect();
        let mut tags = tagging::tags_by_id(cx, &recorded, |arns| {
            tagging::each(arns, |arn| async move { tags_of(cx, &arn).await })
        })
        .await?;
        let mut out = Vec::new();
        for g in groups {
            let name = g.log_group_name().unwrap_or_default();
            if ids.iter().any(|i| i == name) {
                // Absent: deleted between the list and the tag read.
                let Some(tags) = tags.remove(name) else { continue };
                out.push(live(&g, tags));
            } else if name.starts_with(&prefix) {
                out.push(live(&g, Tags::new()));
            }
        }
        Ok(out)
    }

    async fn create(&self, cx: &Cx, req: &CreateReq<'_>) -> Result<Live, AwsError> {
        let name = req
            .props
            .get("name")
            .and_then(Value::as_str)
            .map_or_else(|| format!("{}{}", owned_prefix(&cx.stack), req.id), str::to_owned);
        let tags: HashMap<String, String> = req.tags.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
        // No idempotency token: a repeat after a lost response answers
        // ResourceAlreadyExistsException, and the group is taken if it carries our tags.
        let sent = client(cx).create_log_group().log_group_name(&name).set_tags(Some(tags)).send().await;
        match sent.map_err(classify) {
            Ok(_) => {}
            Err(AwsError::AlreadyExists(m)) => {
                let g = describe_one(cx, &name).await?.ok_or_else(|| AwsError::AlreadyExists(m.clone()))?;
                let have = tags_of(cx, &arn_of(&g)).await?;
                let ours = super::carries_ownership(&have, req.tags);
                if !ours {
                    return Err(AwsError::AlreadyExists(format!(
                        "log group {name} exists and was not created for {}: choose another name ({m})",
                        req.id
                    )));
                }
            }
            Err(e) => return Err(e),
        }
        if req.props.get("retention_days").is_some_and(|v| !v.is_null()) {
            set_retention(cx, &name, req.props).await?;
        }
        read_back(cx, &name).await
    }

    async fn update(&self, cx: &Cx, req: &UpdateReq<'_>) -> Result<Live, AwsError> {
        if req.changed.iter().any(|c| c == "retention_days") {
            set_retention(cx, req.physical_id, req.new).await?;
        }
        if req.changed.iter().any(|c| c == "tags") {
            let g =
                describe_one(cx, req.physical_id).await?.ok_or_else(|| AwsError::NotFound(req.physical_id.into()))?;
            let arn = arn_of(&g);
            let logs = client(cx);
            let (stale, _) = tag_changes(req.old_tags, req.tags);
            if !stale.is_empty() {
                logs.untag_resource().resource_arn(&arn).set_tag_keys(Some(stale)).send().await.map_err(classify)?;
            }
            let tags: HashMap<String, String> = req.tags.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
            logs.tag_resource().resource_arn(&arn).set_tags(Some(tags)).send().await.map_err(classify)?;
        }
        read_back(cx, req.physical_id).await
    }

    async fn delete(&self, cx: &Cx, req: &DeleteReq<'_>) -> Result<(), AwsError> {
        super::gone_ok(client(cx).delete_log_group().log_group_name(req.physical_id).send().await.map_err(classify))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_name_is_under_the_owned_prefix_and_retention_removal_is_seen() {
        let mut p = Props::new();
        LogGroup.normalise("shop", "app_logs", &mut p);
        assert_eq!(p["name"], Value::str("/rprov/shop/app_logs"));
        assert_eq!(p["retention_days"], Value::Null);
        let g = SdkLogGroup::builder()
            .log_group_name("/ecs/x")
            .arn("arn:aws:logs:us-east-1:1:log-group:/ecs/x:*")
            .retention_in_days(14)
            .build();
        let l = live(&g, Tags::new());
        assert_eq!(l.attrs["arn"], Value::str("arn:aws:logs:us-east-1:1:log-group:/ecs/x"));
        assert_eq!(l.props["retention_days"], Value::Int(14));
    }
}

#[cfg(test)]
mod rules {
    use crate::kinds::testing::check_rules;

    #[test]
    fn retention_periods() {
        for days in [1, 7, 14, 400, 3653] {
            check_rules(&format!("logs: {{ type: log_group, retention_days: {days} }}"), &[]);
        }
        check_rules(
            "logs: { type: log_group, retention_days: 8 }",
            &["4:44: retention_days 8 is not one AWS allows: 1, 3, 5, 7, 14, 30, | did you mean 7?"],
        );
        check_rules("logs: { type: log_group, retention_days: 10000 }", &["did you mean 3653?"]);
    }

    #[test]
    fn names() {
        check_rules("logs: { type: log_group, name: /aws/lambda/f }", &[]);
        check_rules("logs: { type: log_group, name: aws/app }", &["log group name `aws/app` starts with `aws/`"]);
        check_rules(
            "a: { type: log_group, name: /app }\nb: { type: log_group, name: /app }",
            &["5:31: log group `a` is named `/app` too"],
        );
        // A name written as another's default.
        check_rules(
            "a: { type: log_group }\nb: { type: log_group, name: /rprov/s/a }",
            &["log group `a` is named `/rprov/s/a` too"],
        );
    }
}
