use async_trait::async_trait;
use aws_sdk_ecs::types::{Cluster, ClusterField, ClusterSetting, ClusterSettingName};

use super::ecs::{self, client};
use super::{CreateReq, DeleteReq, Kind, Live, UpdateReq};
use crate::aws::{AwsError, Cx, classify};
use crate::schema::{Attr, Default, KindSchema, Prop, Ty};
use crate::spec::{KindSpec, Problem, Refusals, Subject};
use crate::value::{Props, Value};

pub struct EcsCluster;

static SCHEMA: KindSchema = KindSchema {
    name: "ecs_cluster",
    doc: "An ECS cluster: the namespace Fargate services and tasks run in.",
    props: &[
        Prop::new("name", Ty::Str, "Cluster name, unique in the region. Default: `<stack>-<id>`.")
            .aws("ecs:CreateClusterRequest.clusterName")
            .replaces(),
        Prop::new("container_insights", Ty::Bool, "CloudWatch Container Insights metrics for the cluster.")
            .default(Default::Bool(false)),
    ],
    attrs: &[
        Attr::new("id", "The cluster ARN."),
        Attr::new("arn", "The cluster ARN."),
        Attr::new("name", "The cluster name."),
    ],
    taggable: true,
};

/// DescribeClusters takes at most 100 clusters per call.
/// https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_DescribeClusters.html
const DESCRIBE_BATCH: usize = 100;

fn insights_on(c: &Cluster) -> bool {
    // `enhanced` is Container Insights with more metrics: still on.
    c.settings()
        .iter()
        .any(|s| s.name() == Some(&ClusterSettingName::ContainerInsights) && s.value().is_some_and(|v| v != "disabled"))
}

fn live(c: &Cluster) -> Live {
    let arn = c.cluster_arn().unwrap_or_default().to_owned();
    let name = c.cluster_name().unwrap_or_default();
    let mut props = Props::new();
    props.insert("name".into(), Value::str(name));
    props.insert("container_insights".into(), insights_on(c).into());
    let mut attrs = Props::new();
    attrs.insert("id".into(), Value::str(&arn));
    attrs.insert("arn".into(), Value::str(&arn));
    attrs.insert("name".into(), Value::str(name));
    Live { physical_id: arn, props, attrs, tags: ecs::from_sdk(c.tags()) }
}

fn insights(on: bool) -> ClusterSetting {
    ClusterSetting::builder()
        .name(ClusterSettingName::ContainerInsights)
        .value(if on { "enabled" } else { "disabled" })
        .build()
}

async fn describe(cx: &Cx, arns: &[String]) -> Result<Vec<Cluster>, AwsError> {
    let mut out = vec![];
    for chunk in arns.chunks(DESCRIBE_BATCH) {
        let page = client(cx)
            .describe_clusters()
            .set_clusters(Some(chunk.to_vec()))
            .include(ClusterField::Tags)
            .include(ClusterField::Settings)
            .send()
            .await
            .map_err(classify)?;
        out.extend(page.clusters().iter().filter(|c| c.status() != Some("INACTIVE")).cloned());
    }
    Ok(out)
}

async fn describe_one(cx: &Cx, arn: &str) -> Result<Cluster, AwsError> {
    describe(cx, &[arn.to_owned()]).await?.into_iter().next().ok_or_else(|| AwsError::NotFound(arn.into()))
}

impl KindSpec for EcsCluster {
    fn schema(&self) -> &'static KindSchema {
        &SCHEMA
    }

    /// The name AWS allows. (A second cluster of a name is no error: CreateCluster answers
    /// with the existing one.)
    fn check(&self, s: &Subject) -> Vec<Problem> {
        s.str("name").and_then(|n| ecs::name_problem("name", "cluster name", n)).into_iter().collect()
    }

    fn normalise(&self, stack: &str, id: &str, props: &mut Props) {
        ecs::default_name_into(props, "name", stack, id);
    }

    fn create_is_idempotent(&self) -> bool {
        true
    }

    fn arn(&self) -> Option<(&'static str, &'static str)> {
        Some(("ecs", "cluster"))
    }

    fn refusals(&self) -> Refusals {
        Refusals::Modelled(&[("ecs", "DeleteCluster"), ("ecs", "CreateCluster")])
    }
}

#[async_trait]
impl Kind for EcsCluster {
    /// ListClusters (paginated) then DescribeClusters with tags, 100 clusters per call: ECS has
    /// no filter by tag, so every cluster of the region is described and the stack's are kept
    /// (in `ids`, or tagged `rprov:stack`).
    async fn read_many(&self, cx: &Cx, ids: &[String]) -> Result<Vec<Live>, AwsError> {
        let mut arns: Vec<String> = ecs::list_clusters(cx).await?.to_vec();
        for id in ids {
            if !arns.contains(id) {
                arns.push(id.clone());
            }
        }
        let clusters = describe(cx, &arns).await?;
        Ok(clusters.iter().map(live).collect())
    }

    async fn create(&self, cx: &Cx, req: &CreateReq<'_>) -> Result<Live, AwsError> {
        let name = ecs::str_prop(req.props, "name").unwrap_or_default();
        let on = ecs::bool_prop(req.props, "container_insights").unwrap_or(false);
        // CreateCluster is idempotent by name: a repeated call for an ACTIVE cluster returns it.
        // https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_CreateCluster.html
        let out = client(cx)
            .create_cluster()
            .cluster_name(name)
            .settings(insights(on))
            .set_tags(Some(ecs::to_sdk(req.tags)))
            .send()
            .await
            .map_err(classify)?;
        let cluster = out.cluster().ok_or_else(|| AwsError::Failed("CreateCluster returned no cluster".into()))?;
        let mut l = live(cluster);
        if l.tags.is_empty() {
            l.tags = req.tags.clone();
        }
        Ok(l)
    }

    async fn update(&self, cx: &Cx, req: &UpdateReq<'_>) -> Result<Live, AwsError> {
        if ecs::changed(req.changed, "container_insights") {
            let on = ecs::bool_prop(req.new, "container_insights").unwrap_or(false);
            // UpdateCluster takes the same settings as UpdateClusterSettings (which moto lacks).
            client(cx)
                .update_cluster()
                .cluster(req.physical_id)
                .settings(insights(on))
                .send()
                .await
                .map_err(classify)?;
        }
        if ecs::changed(req.changed, "tags") {
            ecs::retag(cx, req.physical_id, req.old_tags, req.tags).await?;
        }
        Ok(live(&describe_one(cx, req.physical_id).await?))
    }

    async fn delete(&self, cx: &Cx, req: &DeleteReq<'_>) -> Result<(), AwsError> {
        // ClusterContainsServicesException/-TasksException come back as InUse: the executor
        // retries while the services drain. ClusterNotFoundException: already gone.
        super::gone_ok(client(cx).delete_cluster().cluster(req.physical_id).send().await.map_err(classify))
    }
}

#[cfg(test)]
mod tests {
    use crate::kinds::testing::check_rules;

    #[test]
    fn names() {
        check_rules("c: { type: ecs_cluster, name: Prod_web-1 }", &[]);
        check_rules("c: { type: ecs_cluster }", &[]);
        check_rules(
            "c: { type: ecs_cluster, name: prod/web }",
            &["4:33: cluster name `prod/web` contains `/` | did you mean `prod-web`?"],
        );
        let long = "x".repeat(256);
        check_rules(
            &format!("c: {{ type: ecs_cluster, name: {long} }}"),
            &["is 256 characters; AWS allows at most 255"],
        );
    }
}
