use async_trait::async_trait;
use aws_sdk_rds::types::DbSubnetGroup as SdkGroup;

use super::rds::{self, client};
use super::{CreateReq, DeleteReq, Kind, Live, UpdateReq, gone_ok};
use crate::aws::{AwsError, Cx, all_items, classify, tagging};
use crate::expr::{Expr, ExprMap};
use crate::schema::{Attr, KindSchema, Prop, Ty};
use crate::spec::network::{Zone, subnet_zone, vpc_of_ref};
use crate::spec::rules::{earlier_with_same_name, lit_str, ref_target, wrong_kind};
use crate::spec::{KindSpec, Problem, Refusals, Subject};
use crate::value::{Props, Value};

pub struct DbSubnetGroup;

static SCHEMA: KindSchema = KindSchema {
    name: "db_subnet_group",
    doc: "An RDS DB subnet group: the subnets (in at least two availability zones) an Aurora cluster's \
          instances are placed in. Deleted after the clusters using it (AWS refuses before).",
    props: &[
        Prop::new(
            "name",
            Ty::Str,
            "Up to 255 letters, digits, spaces, periods, underscores and hyphens, not `default`; AWS keeps it \
             lower-case. Default: `<stack>-<id>`, lower-case.",
        )
        .aws("rds:CreateDBSubnetGroupMessage.DBSubnetGroupName")
        .replaces(),
        Prop::new("description", Ty::Str, "What the group is for. Default: `rprov <stack> <id>`.")
            .aws("rds:CreateDBSubnetGroupMessage.DBSubnetGroupDescription"),
        Prop::new(
            "subnets",
            Ty::List(&Ty::Str),
            "Subnet ids (subnet-...) of one VPC, at least two, in at least two availability zones.",
        )
        .aws("rds:CreateDBSubnetGroupMessage.SubnetIds")
        .required()
        .unordered(),
    ],
    attrs: &[
        Attr::new("id", "The group's name (what a db_cluster's `db_subnet_group` takes)."),
        Attr::new("name", "The group's name."),
        Attr::new("arn", "The group's ARN (arn:aws:rds:REGION:ACCOUNT:subgrp:NAME)."),
        Attr::new("vpc", "The id of the VPC its subnets are in."),
    ],
    taggable: true,
};

fn default_description(stack: &str, id: &str) -> String {
    format!("rprov {stack} {id}")
}

/// The name a group of the stack gets: its `name` (lower-cased, as AWS keeps it), else the
/// default; None while it is known only at apply.
fn name_of(stack: &str, id: &str, props: &ExprMap) -> Option<String> {
    match props.get("name") {
        None | Some(Expr::Lit(Value::Null)) => Some(rds::default_identifier(stack, id)),
        e => lit_str(e).map(str::to_lowercase),
    }
}

/// AWS (CreateDBSubnetGroup): "Must contain no more than 255 letters, numbers, periods,
/// underscores, spaces, or hyphens. Must not be default."
fn name_problem(name: &str) -> Option<String> {
    let n = name.chars().count();
    if n == 0 || n > 255 {
        return Some(format!("the name is {n} characters: AWS takes 1 to 255"));
    }
    if let Some(c) = name.chars().find(|c| !(c.is_ascii_alphanumeric() || matches!(c, ' ' | '.' | '_' | '-'))) {
        return Some(format!("the name holds `{c}`: AWS takes letters, digits, spaces, periods, underscores, hyphens"));
    }
    name.eq_ignore_ascii_case("default").then(|| "`default` is the name of AWS's own subnet group".to_owned())
}

fn live(g: &SdkGroup, tags: super::Tags) -> Live {
    let name = g.db_subnet_group_name().unwrap_or_default().to_owned();
    let mut props = Props::new();
    props.insert("name".into(), Value::str(&name));
    props.insert("description".into(), Value::str(g.db_subnet_group_description().unwrap_or_default()));
    let mut subnets: Vec<Value> = g.subnets().iter().filter_map(|s| s.subnet_identifier()).map(Value::str).collect();
    subnets.sort_by_cached_key(|v| v.to_string());
    props.insert("subnets".into(), Value::List(subnets));
    let mut attrs = Props::new();
    attrs.insert("id".into(), Value::str(&name));
    attrs.insert("name".into(), Value::str(&name));
    attrs.insert("arn".into(), g.db_subnet_group_arn().map(Value::str).unwrap_or(Value::Null));
    attrs.insert("vpc".into(), g.vpc_id().map(Value::str).unwrap_or(Value::Null));
    Live { physical_id: name, props, attrs, tags }
}

async fn describe_one(cx: &Cx, name: &str) -> Result<Option<SdkGroup>, AwsError> {
    match client(cx).describe_db_subnet_groups().db_subnet_group_name(name).send().await.map_err(classify) {
        Ok(out) => Ok(out.db_subnet_groups().first().cloned()),
        Err(AwsError::NotFound(_)) => Ok(None),
        Err(e) => Err(e),
    }
}

async fn read_back(cx: &Cx, name: &str) -> Result<Live, AwsError> {
    let g = describe_one(cx, name).await?.ok_or_else(|| AwsError::NotFound(format!("DB subnet group {name}")))?;
    let tags = rds::tags_of(cx, g.db_subnet_group_arn().unwrap_or_default()).await?;
    Ok(live(&g, tags))
}

fn text<'a>(props: &'a Props, name: &str) -> Option<&'a str> {
    props.get(name).and_then(Value::as_str)
}

impl KindSpec for DbSubnetGroup {
    fn schema(&self) -> &'static KindSchema {
        &SCHEMA
    }

    /// AWS (CreateDBSubnetGroup): the name's characters, not `default`, unique in the account
    /// and region (DBSubnetGroupAlreadyExists); "subnets in at least two AZs in the Amazon Web
    /// Services Region" (DBSubnetGroupDoesNotCoverEnoughAZs); subnets of one VPC
    /// (InvalidSubnet).
    fn check(&self, s: &Subject) -> Vec<Problem> {
        let mut out = Vec::new();
        if let Some(m) = s.str("name").and_then(name_problem) {
            out.push(Problem::new("name", m));
        }
        let stack = s.stack.name();
        if let Some((other, name)) = earlier_with_same_name(s, "db_subnet_group", |id, p| name_of(stack, id, p)) {
            out.push(Problem::new(
                "name",
                format!(
                    "db_subnet_group `{other}` is named `{name}` too; AWS keeps subnet group names unique in a region"
                ),
            ));
        }
        let subnets = s.list("subnets");
        for (i, e) in subnets.iter().enumerate() {
            out.extend(wrong_kind(s, &format!("subnets.{i}"), e, &["subnet"]));
        }
        let zones: Vec<Option<Zone>> = subnets.iter().map(|e| subnet_zone(s.stack, e)).collect();
        let mut named: Vec<&str> = zones
            .iter()
            .filter_map(|z| match z {
                Some(Zone::Named(n)) => Some(*n),
                _ => None,
            })
            .collect();
        named.sort_unstable();
        named.dedup();
        if matches!(s.get("subnets"), Some(Expr::List(_))) && subnets.len() < 2 {
            out.push(
                Problem::new("subnets", "a DB subnet group needs at least two subnets, in two availability zones")
                    .help("add a subnet of another availability zone"),
            );
        } else if zones.iter().all(|z| matches!(z, Some(Zone::Named(_)))) && named.len() == 1 {
            out.push(
                Problem::new(
                    "subnets",
                    format!(
                        "the subnets are all in {}: AWS wants a DB subnet group's subnets in at least two availability zones",
                        named[0]
                    ),
                )
                .help("add a subnet of another availability zone"),
            );
        }
        let vpcs: Vec<_> = subnets.iter().map(|e| vpc_of_ref(s.stack, e)).collect();
        if let Some(home) = vpcs.iter().flatten().next().copied() {
            for (i, v) in vpcs.iter().enumerate() {
                if let Some(v) = v.filter(|v| v.differs(home)) {
                    out.push(Problem::new(
                        format!("subnets.{i}"),
                        format!(
                            "subnet `{}` is in {v}, the group's first subnet in {home}: AWS takes the subnets of one VPC",
                            ref_target(&subnets[i]).unwrap_or_default()
                        ),
                    ));
                }
            }
        }
        out
    }

    fn normalise(&self, stack: &str, id: &str, props: &mut Props) {
        let name = match props.get("name").and_then(Value::as_str) {
            Some(n) => n.to_lowercase(),
            None => rds::default_identifier(stack, id),
        };
        props.insert("name".into(), Value::str(name));
        if props.get("description").is_none_or(Value::is_null) {
            props.insert("description".into(), Value::str(default_description(stack, id)));
        }
    }

    fn holds(&self) -> &'static [&'static str] {
        &["subnet"]
    }

    fn arn(&self) -> Option<(&'static str, &'static str)> {
        Some(("rds", "subgrp"))
    }

    fn refusals(&self) -> Refusals {
        Refusals::Modelled(&[("rds", "DeleteDBSubnetGroup")])
    }
}

#[async_trait]
impl Kind for DbSubnetGroup {
    /// One paginated DescribeDBSubnetGroups. Its answer has no tags, and ListTagsForResource
    /// takes one ARN per call, so tags are read only for the groups the state records or that
    /// bear the stack's default prefix (`<stack>-`): from the refresh's Tagging API index where
    /// it agrees with the state (AWS's index lists RDS subnet groups, `rds:subgrp`), else with
    /// ListTagsForResource. Other groups are the stack's only when the index lists them with its
    /// tag (a custom name); the local AWS's index lists no subnet groups, so there groups with
    /// the default prefix are read directly.
    async fn read_many(&self, cx: &Cx, ids: &[String]) -> Result<Vec<Live>, AwsError> {
        let groups = all_items(client(cx).describe_db_subnet_groups().into_paginator().items().send()).await?;
        let prefix = format!("{}-", cx.stack);
        let pair = |g: &SdkGroup| {
            (
                g.db_subnet_group_name().unwrap_or_default().to_owned(),
                g.db_subnet_group_arn().unwrap_or_default().to_owned(),
            )
        };
        let candidate = |g: &&SdkGroup| {
            let name = g.db_subnet_group_name().unwrap_or_default();
            ids.iter().any(|i| i == name) || name.starts_with(&prefix)
        };
        let indexed = tagging::has_index(cx).await;
        let wanted: Vec<(String, String)> = if indexed {
            groups.iter().map(pair).collect()
        } else {
            groups.iter().filter(candidate).map(pair).collect()
        };
        let direct = |arns: Vec<String>| tagging::each(arns, |arn| async move { rds::tags_of(cx, &arn).await });
        let mut tags = tagging::tags_by_id(cx, &wanted, direct).await?;
        if indexed {
            let unlisted: Vec<String> = groups
                .iter()
                .filter(candidate)
                .map(pair)
                .filter(|(n, _)| !tags.contains_key(n))
                .map(|(_, a)| a)
                .collect();
            if !unlisted.is_empty() {
                let mut read = direct(unlisted).await?;
                for g in &groups {
                    if let Some(t) = read.remove(g.db_subnet_group_arn().unwrap_or_default()) {
                        tags.insert(g.db_subnet_group_name().unwrap_or_default().to_owned(), t);
                    }
                }
            }
        }
        Ok(groups
            .iter()
            .filter_map(|g| Some(live(g, tags.remove(g.db_subnet_group_name().unwrap_or_default())?)))
            .collect())
    }

    async fn create(&self, cx: &Cx, req: &CreateReq<'_>) -> Result<Live, AwsError> {
        let name =
            text(req.props, "name").map_or_else(|| rds::default_identifier(&cx.stack, req.id), str::to_lowercase);
        let description =
            text(req.props, "description").map_or_else(|| default_description(&cx.stack, req.id), str::to_owned);
        let sent = client(cx)
            .create_db_subnet_group()
            .db_subnet_group_name(&name)
            .db_subnet_group_description(description)
            .set_subnet_ids(req.props.get("subnets").map(Value::string_list))
            .set_tags(Some(rds::to_sdk(req.tags)))
            .send()
            .await;
        // No idempotency token: a repeat after a lost answer meets DBSubnetGroupAlreadyExists;
        // the group is taken if it carries this resource's ownership tags.
        let existing = || async { Ok(Some(read_back(cx, &name).await?.tags)) };
        let what = format!("DB subnet group {name}");
        super::created_or_ours(cx, req, sent.map_err(classify), &what, "choose another name", existing).await?;
        read_back(cx, &name).await
    }

    async fn update(&self, cx: &Cx, req: &UpdateReq<'_>) -> Result<Live, AwsError> {
        let changed = |n: &str| req.changed.iter().any(|c| c == n);
        if changed("description") || changed("subnets") {
            // ModifyDBSubnetGroup takes the whole subnet list every time.
            client(cx)
                .modify_db_subnet_group()
                .db_subnet_group_name(req.physical_id)
                .set_db_subnet_group_description(text(req.new, "description").map(str::to_owned))
                .set_subnet_ids(req.new.get("subnets").map(Value::string_list))
                .send()
                .await
                .map_err(classify)?;
        }
        if changed("tags") {
            let arn = describe_one(cx, req.physical_id)
                .await?
                .and_then(|g| g.db_subnet_group_arn().map(str::to_owned))
                .ok_or_else(|| AwsError::NotFound(format!("DB subnet group {}", req.physical_id)))?;
            rds::retag(cx, &arn, req.old_tags, req.tags).await?;
        }
        read_back(cx, req.physical_id).await
    }

    /// DeleteDBSubnetGroup is synchronous. While a cluster or instance uses the group AWS answers
    /// InvalidDBSubnetGroupStateFault: in use, retried by the executor.
    async fn delete(&self, cx: &Cx, req: &DeleteReq<'_>) -> Result<(), AwsError> {
        gone_ok(
            client(cx).delete_db_subnet_group().db_subnet_group_name(req.physical_id).send().await.map_err(classify),
        )
    }
}

#[cfg(test)]
mod tests {
    use aws_sdk_rds::Client;
    use aws_sdk_rds::operation::create_db_subnet_group::CreateDBSubnetGroupError;
    use aws_sdk_rds::operation::delete_db_subnet_group::{DeleteDBSubnetGroupError, DeleteDbSubnetGroupOutput};
    use aws_sdk_rds::operation::describe_db_subnet_groups::DescribeDbSubnetGroupsOutput;
    use aws_sdk_rds::operation::list_tags_for_resource::ListTagsForResourceOutput;
    use aws_smithy_mocks::{Rule, RuleMode, mock, mock_client};
    use aws_smithy_types::error::ErrorMetadata;

    use super::*;
    use crate::kinds::testing::{mocked, owned_tags};

    fn meta(code: &str) -> ErrorMetadata {
        ErrorMetadata::builder().code(code).message("m").build()
    }

    fn cx(rules: &[&Rule]) -> Cx {
        mocked(mock_client!(aws_sdk_rds, RuleMode::MatchAny, rules)).0
    }

    fn group() -> SdkGroup {
        SdkGroup::builder()
            .db_subnet_group_name("s-db")
            .db_subnet_group_description("rprov s db")
            .db_subnet_group_arn("arn:aws:rds:us-east-1:123456789012:subgrp:s-db")
            .vpc_id("vpc-1")
            .build()
    }

    fn tagged(tags: &crate::kinds::Tags) -> Rule {
        let list = rds::to_sdk(tags);
        mock!(Client::list_tags_for_resource)
            .then_output(move || ListTagsForResourceOutput::builder().set_tag_list(Some(list.clone())).build())
    }

    #[tokio::test]
    async fn a_group_in_use_is_in_use_and_a_gone_one_deleted() {
        let busy = mock!(Client::delete_db_subnet_group)
            .then_error(|| DeleteDBSubnetGroupError::generic(meta("InvalidDBSubnetGroupStateFault")));
        let req = DeleteReq { id: "db", physical_id: "s-db", props: &Props::new(), attrs: &Props::new() };
        assert!(matches!(DbSubnetGroup.delete(&cx(&[&busy]), &req).await, Err(AwsError::InUse(_))));
        let gone = mock!(Client::delete_db_subnet_group)
            .then_error(|| DeleteDBSubnetGroupError::generic(meta("DBSubnetGroupNotFoundFault")));
        assert_eq!(DbSubnetGroup.delete(&cx(&[&gone]), &req).await, Ok(()));
        let ok = mock!(Client::delete_db_subnet_group).then_output(|| DeleteDbSubnetGroupOutput::builder().build());
        assert_eq!(DbSubnetGroup.delete(&cx(&[&ok]), &req).await, Ok(()));
    }

    #[tokio::test]
    async fn a_repeated_create_takes_the_group_only_with_its_ownership_tags() {
        let exists = || {
            mock!(Client::create_db_subnet_group)
                .then_error(|| CreateDBSubnetGroupError::generic(meta("DBSubnetGroupAlreadyExists")))
        };
        let describe = || {
            mock!(Client::describe_db_subnet_groups)
                .then_output(|| DescribeDbSubnetGroupsOutput::builder().db_subnet_groups(group()).build())
        };
        let mut p = Props::from([("subnets".to_string(), Value::List(vec![]))]);
        DbSubnetGroup.normalise("s", "db", &mut p);
        let tags = owned_tags("s", "db", "t");
        let req = CreateReq { id: "db", props: &p, tags: &tags, token: "t" };

        let (create, desc, ours) = (exists(), describe(), tagged(&tags));
        let l = DbSubnetGroup.create(&cx(&[&create, &desc, &ours]), &req).await.unwrap();
        assert_eq!(l.physical_id, "s-db");
        assert_eq!(l.attrs["vpc"], Value::str("vpc-1"));

        let (create, desc, theirs) = (exists(), describe(), tagged(&owned_tags("other", "db", "t")));
        let err = DbSubnetGroup.create(&cx(&[&create, &desc, &theirs]), &req).await;
        assert!(matches!(err, Err(AwsError::AlreadyExists(ref m)) if m.contains("not created for db")), "{err:?}");
    }
}

#[cfg(test)]
mod rules {
    use crate::kinds::testing::check_rules;

    const NET: &str = "vpc: { type: vpc, cidr: 10.0.0.0/16 }
a: { type: subnet, vpc: \"${vpc.id}\", cidr: 10.0.0.0/24, az: us-east-1a }
b: { type: subnet, vpc: \"${vpc.id}\", cidr: 10.0.1.0/24, az: us-east-1b }
c: { type: subnet, vpc: \"${vpc.id}\", cidr: 10.0.2.0/24, az: us-east-1a }
";

    #[test]
    fn subnets_in_two_zones_and_names() {
        check_rules(&format!("{NET}g: {{ type: db_subnet_group, subnets: [\"${{a.id}}\", \"${{b.id}}\"] }}"), &[]);
        check_rules(
            &format!("{NET}g: {{ type: db_subnet_group, subnets: [\"${{a.id}}\", \"${{c.id}}\"] }}"),
            &["8: | the subnets are all in us-east-1a | at least two availability zones"],
        );
        check_rules(
            &format!("{NET}g: {{ type: db_subnet_group, subnets: [\"${{a.id}}\"] }}"),
            &["at least two subnets"],
        );
        check_rules(
            &format!("{NET}g: {{ type: db_subnet_group, subnets: [\"${{a.id}}\", \"${{vpc.id}}\"] }}"),
            &["`subnets.1` refers to `vpc`"],
        );
        check_rules(
            &format!("{NET}g: {{ type: db_subnet_group, name: default, subnets: [\"${{a.id}}\", \"${{b.id}}\"] }}"),
            &["`default` is the name of AWS's own subnet group"],
        );
        check_rules(
            &format!("{NET}g: {{ type: db_subnet_group, name: \"a/b\", subnets: [\"${{a.id}}\", \"${{b.id}}\"] }}"),
            &["holds `/`"],
        );
        check_rules(
            &format!(
                "{NET}g: {{ type: db_subnet_group, name: Same, subnets: [\"${{a.id}}\", \"${{b.id}}\"] }}
h: {{ type: db_subnet_group, name: same, subnets: [\"${{a.id}}\", \"${{b.id}}\"] }}"
            ),
            &["db_subnet_group `g` is named `same` too"],
        );
    }
}
