use async_trait::async_trait;
use aws_sdk_elasticache::types::CacheSubnetGroup as Group;

use super::service::elasticache::{self, client, default_name, name_problem, no_resend, refusal, tags_of};
use super::{CreateReq, DeleteReq, Kind, Live, UpdateReq};
use crate::aws::{AwsError, Cx, Poll, all_items, classify, classify_unretried, tagging, wait_gone};
use crate::schema::{Attr, KindSchema, Prop, Ty};
use crate::spec::network::vpc_of_ref;
use crate::spec::rules::wrong_kind;
use crate::spec::{KindSpec, Problem, Refusals, Subject};
use crate::value::{Props, Value};

pub struct CacheSubnetGroup;

/// AWS (CreateCacheSubnetGroup): "no more than 255 alphanumeric characters or hyphens".
const NAME_MAX: usize = 255;

static SCHEMA: KindSchema = KindSchema {
    name: "cache_subnet_group",
    doc: "An ElastiCache subnet group: the subnets of one VPC that cache nodes (a `cache_replication_group`) are placed in.",
    props: &[
        Prop::new(
            "name",
            Ty::Str,
            "Subnet group name: up to 255 letters, digits or hyphens, a letter first, no `--`, no hyphen at the end; AWS keeps it in lower case. Default: `<stack>-<id>`, lower-cased.",
        )
        .aws("elasticache:CreateCacheSubnetGroupMessage.CacheSubnetGroupName")
        .replaces(),
        Prop::new("description", Ty::Str, "Description. Default: `rprov <stack> <id>`.")
            .aws("elasticache:CreateCacheSubnetGroupMessage.CacheSubnetGroupDescription"),
        Prop::new(
            "subnets",
            Ty::List(&Ty::Str),
            "Subnet ids (subnet-...), all of one VPC; several zones let a replication group place replicas apart.",
        )
        .aws("elasticache:CreateCacheSubnetGroupMessage.SubnetIds")
        .required()
        .unordered(),
    ],
    attrs: &[
        Attr::new("id", "The subnet group name (what `cache_replication_group.subnet_group` takes)."),
        Attr::new("name", "The subnet group name."),
        Attr::new("arn", "The subnet group's ARN."),
        Attr::new("vpc", "The VPC of its subnets."),
    ],
    taggable: true,
};

fn default_description(stack: &str, id: &str) -> String {
    format!("rprov {stack} {id}")
}

fn live(g: &Group, tags: crate::kinds::Tags) -> Live {
    let name = g.cache_subnet_group_name().unwrap_or_default().to_owned();
    let mut subnets: Vec<Value> = g.subnets().iter().filter_map(|s| s.subnet_identifier()).map(Value::str).collect();
    subnets.sort_by_cached_key(|v| v.to_string());
    let mut props = Props::new();
    props.insert("name".into(), Value::str(&name));
    props.insert("description".into(), Value::str(g.cache_subnet_group_description().unwrap_or_default()));
    props.insert("subnets".into(), Value::List(subnets));
    let mut attrs = Props::new();
    attrs.insert("id".into(), Value::str(&name));
    attrs.insert("name".into(), Value::str(&name));
    attrs.insert("arn".into(), Value::str(g.arn().unwrap_or_default()));
    attrs.insert("vpc".into(), g.vpc_id().map(Value::str).unwrap_or(Value::Null));
    Live { physical_id: name, props, attrs, tags }
}

/// One subnet group by name; `None` when there is none.
async fn describe_one(cx: &Cx, name: &str) -> Result<Option<Group>, AwsError> {
    match client(cx).describe_cache_subnet_groups().cache_subnet_group_name(name).send().await.map_err(classify) {
        Ok(out) => Ok(out.cache_subnet_groups().first().cloned()),
        Err(AwsError::NotFound(_)) => Ok(None),
        Err(e) => Err(e),
    }
}

async fn read_back(cx: &Cx, name: &str) -> Result<Live, AwsError> {
    let g = describe_one(cx, name).await?.ok_or_else(|| AwsError::NotFound(format!("cache subnet group {name}")))?;
    let tags = tags_of(cx, g.arn().unwrap_or_default()).await?;
    Ok(live(&g, tags))
}

fn name_of(stack: &str, id: &str, props: &Props) -> String {
    props.get("name").and_then(Value::as_str).map_or_else(|| default_name(stack, id), str::to_ascii_lowercase)
}

impl KindSpec for CacheSubnetGroup {
    fn schema(&self) -> &'static KindSchema {
        &SCHEMA
    }

    /// AWS (CreateCacheSubnetGroup): the name rule (written or the default's), at least one
    /// subnet, all subnets of one VPC ("InvalidSubnet" otherwise).
    fn check(&self, s: &Subject) -> Vec<Problem> {
        let mut out = Vec::new();
        match s.get("name") {
            None | Some(crate::expr::Expr::Lit(Value::Null)) => {
                let n = default_name(s.stack.name(), s.id);
                if let Some(why) = name_problem(&n, NAME_MAX) {
                    out.push(
                        Problem::new("", format!("the default subnet group name `{n}` (`<stack>-<id>`) {why}"))
                            .help("give `name`, or change the resource id"),
                    );
                }
            }
            _ => {
                if let Some(n) = s.str("name")
                    && let Some(why) = name_problem(n, NAME_MAX)
                {
                    out.push(Problem::new("name", format!("subnet group name `{n}` {why}")));
                }
            }
        }
        let subnets = s.list("subnets");
        if matches!(s.get("subnets"), Some(crate::expr::Expr::List(l)) if l.is_empty()) {
            out.push(Problem::new("subnets", "a cache subnet group needs at least one subnet"));
        }
        for (i, e) in subnets.iter().enumerate() {
            out.extend(wrong_kind(s, &format!("subnets.{i}"), e, &["subnet"]));
        }
        let vpcs: Vec<_> = subnets.iter().filter_map(|e| vpc_of_ref(s.stack, e)).collect();
        if let Some(other) = vpcs.iter().find(|v| v.differs(vpcs[0])) {
            out.push(
                Problem::new("subnets", format!("the subnets are in {} and {other}", vpcs[0]))
                    .help("AWS: the subnets of a cache subnet group are all of one VPC"),
            );
        }
        out
    }

    fn normalise(&self, stack: &str, id: &str, props: &mut Props) {
        let name = name_of(stack, id, props);
        props.insert("name".into(), Value::str(name));
        if props.get("description").is_none_or(Value::is_null) {
            props.insert("description".into(), Value::str(default_description(stack, id)));
        }
    }

    fn arn(&self) -> Option<(&'static str, &'static str)> {
        Some(("elasticache", "subnetgroup"))
    }

    /// The cache nodes' network interfaces sit in its subnets while it is used.
    fn holds(&self) -> &'static [&'static str] {
        &["subnet"]
    }

    fn refusals(&self) -> Refusals {
        Refusals::Modelled(&[("elasticache", "DeleteCacheSubnetGroup"), ("elasticache", "CreateCacheSubnetGroup")])
    }
}

#[async_trait]
impl Kind for CacheSubnetGroup {
    /// One paginated DescribeCacheSubnetGroups for the region. It reports no tags, and
    /// ElastiCache has no batch tag read: tags come from the refresh's Tagging API index, and
    /// one ListTagsForResource per group only where the index lacks a recorded group or
    /// disagrees with the state (or per group without an index).
    async fn read_many(&self, cx: &Cx, ids: &[String]) -> Result<Vec<Live>, AwsError> {
        let groups = all_items(client(cx).describe_cache_subnet_groups().into_paginator().items().send()).await?;
        let every = ids.is_empty() || tagging::has_index(cx).await;
        let candidates: Vec<(String, String)> = groups
            .iter()
            .filter_map(|g| Some((g.cache_subnet_group_name()?.to_owned(), g.arn()?.to_owned())))
            .filter(|(name, _)| every || ids.contains(name))
            .collect();
        let mut tags = tagging::tags_by_id(cx, &candidates, |arns| {
            tagging::each(arns, |arn| async move { tags_of(cx, &arn).await })
        })
        .await?;
        Ok(groups
            .iter()
            .filter_map(|g| {
                let t = tags.remove(g.cache_subnet_group_name()?)?;
                Some(live(g, t))
            })
            .collect())
    }

    async fn create(&self, cx: &Cx, req: &CreateReq<'_>) -> Result<Live, AwsError> {
        let name = name_of(&cx.stack, req.id, req.props);
        let description = req
            .props
            .get("description")
            .and_then(Value::as_str)
            .map_or_else(|| default_description(&cx.stack, req.id), str::to_owned);
        let sent = client(cx)
            .create_cache_subnet_group()
            .cache_subnet_group_name(&name)
            .cache_subnet_group_description(description)
            .set_subnet_ids(Some(req.props.get("subnets").map(Value::string_list).unwrap_or_default()))
            .set_tags(Some(elasticache::to_sdk(req.tags)))
            .customize()
            .config_override(no_resend())
            .send()
            .await;
        // No idempotency token: a resend after a lost answer meets CacheSubnetGroupAlreadyExists;
        // the group is taken only if it carries this resource's ownership tags.
        let existing = || async { Ok(Some(read_back(cx, &name).await?.tags)) };
        let what = format!("cache subnet group {name}");
        super::created_or_ours(cx, req, sent.map_err(classify_unretried), &what, "choose another name, or `adopt: true`", existing).await?;
        read_back(cx, &name).await
    }

    async fn update(&self, cx: &Cx, req: &UpdateReq<'_>) -> Result<Live, AwsError> {
        let changed = |p: &str| req.changed.iter().any(|c| c == p);
        if changed("description") || changed("subnets") {
            client(cx)
                .modify_cache_subnet_group()
                .cache_subnet_group_name(req.physical_id)
                .set_cache_subnet_group_description(
                    req.new.get("description").and_then(Value::as_str).map(str::to_owned),
                )
                .set_subnet_ids(Some(req.new.get("subnets").map(Value::string_list).unwrap_or_default()))
                .send()
                .await
                .map_err(classify)?;
        }
        if changed("tags") {
            let g = describe_one(cx, req.physical_id)
                .await?
                .ok_or_else(|| AwsError::NotFound(format!("cache subnet group {}", req.physical_id)))?;
            elasticache::retag(cx, g.arn().unwrap_or_default(), req.old_tags, req.tags).await?;
        }
        read_back(cx, req.physical_id).await
    }

    /// DeleteCacheSubnetGroup. AWS refuses while a cache cluster or replication group uses it
    /// (CacheSubnetGroupInUse): in use, retried by the executor (a replication group deleted
    /// just before still holds it until it is gone).
    async fn delete(&self, cx: &Cx, req: &DeleteReq<'_>) -> Result<(), AwsError> {
        let sent = client(cx).delete_cache_subnet_group().cache_subnet_group_name(req.physical_id).send().await;
        let in_use = |m| {
            AwsError::InUse(format!(
                "cache subnet group {} is still used by a cache cluster or replication group ({m})",
                req.physical_id
            ))
        };
        match sent.map_err(|e| refusal(classify(e), "CacheSubnetGroupInUse", in_use)) {
            Err(AwsError::NotFound(_)) => return Ok(()),
            r => r.map(|_| ())?,
        }
        let what = format!("deletion of cache subnet group {}", req.physical_id);
        wait_gone(cx, req.id, &what, || describe_one(cx, req.physical_id), |_: &Group| Poll::Pending("listed".into()))
            .await
    }
}

#[cfg(test)]
mod tests {
    use aws_sdk_elasticache::Client;
    use aws_sdk_elasticache::operation::create_cache_subnet_group::CreateCacheSubnetGroupError;
    use aws_sdk_elasticache::operation::delete_cache_subnet_group::{
        DeleteCacheSubnetGroupError, DeleteCacheSubnetGroupOutput,
    };
    use aws_sdk_elasticache::operation::describe_cache_subnet_groups::{
        DescribeCacheSubnetGroupsError, DescribeCacheSubnetGroupsOutput,
    };
    use aws_sdk_elasticache::operation::list_tags_for_resource::ListTagsForResourceOutput;
    use aws_sdk_elasticache::types::{Subnet, Tag};
    use aws_smithy_mocks::{Rule, RuleMode, mock, mock_client};
    use aws_smithy_types::error::ErrorMetadata;

    use super::*;
    use crate::kinds::testing::{Status, mocked, owned_tags};

    fn meta(code: &str) -> ErrorMetadata {
        ErrorMetadata::builder().code(code).message("m").build()
    }

    fn cx(rules: &[&Rule]) -> (Cx, Status) {
        mocked(mock_client!(aws_sdk_elasticache, RuleMode::MatchAny, rules))
    }

    fn group() -> Group {
        Group::builder()
            .cache_subnet_group_name("s-cache")
            .cache_subnet_group_description("rprov s cache")
            .vpc_id("vpc-1")
            .subnets(Subnet::builder().subnet_identifier("subnet-b").build())
            .subnets(Subnet::builder().subnet_identifier("subnet-a").build())
            .arn("arn:aws:elasticache:us-east-1:123456789012:subnetgroup:s-cache")
            .build()
    }

    fn described() -> Rule {
        mock!(Client::describe_cache_subnet_groups)
            .then_output(|| DescribeCacheSubnetGroupsOutput::builder().cache_subnet_groups(group()).build())
    }

    fn tagged(tags: crate::kinds::Tags) -> Rule {
        mock!(Client::list_tags_for_resource).then_output(move || {
            ListTagsForResourceOutput::builder()
                .set_tag_list(Some(tags.iter().map(|(k, v)| Tag::builder().key(k).value(v).build()).collect()))
                .build()
        })
    }

    fn delete_req<'a>(p: &'a Props) -> DeleteReq<'a> {
        DeleteReq { id: "cache", physical_id: "s-cache", props: p, attrs: p }
    }

    #[tokio::test(start_paused = true)]
    async fn a_group_in_use_is_refused_as_in_use_and_not_found_is_gone() {
        let busy = mock!(Client::delete_cache_subnet_group)
            .then_error(|| DeleteCacheSubnetGroupError::generic(meta("CacheSubnetGroupInUse")));
        let (cx1, _) = cx(&[&busy]);
        let p = Props::new();
        let got = CacheSubnetGroup.delete(&cx1, &delete_req(&p)).await;
        assert!(matches!(&got, Err(AwsError::InUse(m)) if m.contains("s-cache")), "{got:?}");

        let gone = mock!(Client::delete_cache_subnet_group).then_error(|| {
            DeleteCacheSubnetGroupError::CacheSubnetGroupNotFoundFault(
                aws_sdk_elasticache::types::error::CacheSubnetGroupNotFoundFault::builder()
                    .meta(meta("CacheSubnetGroupNotFoundFault"))
                    .build(),
            )
        });
        let (cx2, _) = cx(&[&gone]);
        assert_eq!(CacheSubnetGroup.delete(&cx2, &delete_req(&p)).await, Ok(()));

        let ok =
            mock!(Client::delete_cache_subnet_group).then_output(|| DeleteCacheSubnetGroupOutput::builder().build());
        let after = mock!(Client::describe_cache_subnet_groups)
            .sequence()
            .output(|| DescribeCacheSubnetGroupsOutput::builder().cache_subnet_groups(group()).build())
            .error(|| DescribeCacheSubnetGroupsError::generic(meta("CacheSubnetGroupNotFoundFault")))
            .build();
        let (cx3, _) = cx(&[&ok, &after]);
        assert_eq!(CacheSubnetGroup.delete(&cx3, &delete_req(&p)).await, Ok(()));
        assert_eq!(after.num_calls(), 2);
    }

    #[tokio::test]
    async fn an_existing_group_is_taken_only_with_this_resources_ownership_tags() {
        let exists = mock!(Client::create_cache_subnet_group)
            .then_error(|| CreateCacheSubnetGroupError::generic(meta("CacheSubnetGroupAlreadyExists")));
        let mut p = crate::kinds::testing::props(&[("subnets", crate::kinds::testing::strs(&["subnet-a"]))]);
        CacheSubnetGroup.normalise("s", "cache", &mut p);
        let mine = owned_tags("s", "cache", "t");
        let req = CreateReq { id: "cache", props: &p, tags: &mine, token: "t" };

        let (d, t) = (described(), tagged(mine.clone()));
        let (cx1, _) = cx(&[&exists, &d, &t]);
        let l = CacheSubnetGroup.create(&cx1, &req).await.unwrap();
        assert_eq!(l.physical_id, "s-cache");
        assert_eq!(l.props["subnets"], crate::kinds::testing::strs(&["subnet-a", "subnet-b"]));
        assert_eq!(l.attrs["vpc"], Value::str("vpc-1"));

        let (d, t) = (described(), tagged(owned_tags("s", "other", "t")));
        let (cx2, _) = cx(&[&exists, &d, &t]);
        let got = CacheSubnetGroup.create(&cx2, &req).await;
        assert!(matches!(&got, Err(AwsError::AlreadyExists(m)) if m.contains("not created for cache")), "{got:?}");
    }

    #[test]
    fn defaults() {
        let mut p = Props::new();
        CacheSubnetGroup.normalise("Shop", "Redis_Net", &mut p);
        assert_eq!(p["name"], Value::str("shop-redis-net"));
        assert_eq!(p["description"], Value::str("rprov Shop Redis_Net"));
        let mut p = crate::kinds::testing::props(&[("name", Value::str("My-Group"))]);
        CacheSubnetGroup.normalise("s", "g", &mut p);
        assert_eq!(p["name"], Value::str("my-group"), "AWS keeps names in lower case");
    }
}

#[cfg(test)]
mod rules {
    use crate::kinds::testing::check_rules;

    const NET: &str = "vpc: { type: vpc, cidr: 10.0.0.0/16 }
other: { type: vpc, cidr: 10.1.0.0/16 }
a: { type: subnet, vpc: \"${vpc.id}\", cidr: 10.0.0.0/24 }
b: { type: subnet, vpc: \"${vpc.id}\", cidr: 10.0.1.0/24 }
c: { type: subnet, vpc: \"${other.id}\", cidr: 10.1.0.0/24 }
";

    #[test]
    fn names_subnets_and_vpcs() {
        check_rules(&format!("{NET}g: {{ type: cache_subnet_group, subnets: [\"${{a.id}}\", \"${{b.id}}\"] }}"), &[]);
        check_rules("g: { type: cache_subnet_group, name: Cache-Net, subnets: [subnet-1] }", &[]);
        check_rules(
            "g: { type: cache_subnet_group, name: cache--net, subnets: [subnet-1] }",
            &["name | subnet group name `cache--net` must not contain two hyphens in a row"],
        );
        check_rules(
            "g: { type: cache_subnet_group, name: 9net, subnets: [subnet-1] }",
            &["subnet group name `9net` must start with a letter"],
        );
        check_rules(
            "net_: { type: cache_subnet_group, subnets: [subnet-1] }",
            &["the default subnet group name `s-net-` (`<stack>-<id>`) must not end with a hyphen | give `name`"],
        );
        check_rules(
            "g: { type: cache_subnet_group, subnets: [] }",
            &["a cache subnet group needs at least one subnet"],
        );
        check_rules(
            &format!("{NET}g: {{ type: cache_subnet_group, subnets: [\"${{a.id}}\", \"${{c.id}}\"] }}"),
            &["the subnets are in VPC `vpc` and VPC `other` | one VPC"],
        );
        check_rules(
            &format!("{NET}g: {{ type: cache_subnet_group, subnets: [\"${{vpc.id}}\"] }}"),
            &["`subnets.0` refers to `vpc`, a vpc: AWS expects the id of a subnet here"],
        );
    }
}
