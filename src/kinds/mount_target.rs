use std::collections::BTreeSet;

use async_trait::async_trait;
use aws_sdk_efs::types::MountTargetDescription;

use super::efs::{self, client};
use super::{CreateReq, DeleteReq, Kind, Live, Selection, TAG_STACK, UpdateReq, gone_ok};
use crate::aws::{AwsError, Cx, Poll, classify, wait_gone, wait_until};
use crate::schema::{Attr, KindSchema, Prop, Ty};
use crate::spec::rules::{Named, lit_str, named, ref_target, vpc_of};
use crate::spec::{KindSpec, Problem, Refusals, StackView, Subject};
use crate::value::{Props, Value};

pub struct MountTarget;

static SCHEMA: KindSchema = KindSchema {
    name: "mount_target",
    doc: "An EFS mount target: the file system's NFS endpoint (an ENI) in one subnet, one per availability zone.",
    props: &[
        Prop::new("file_system", Ty::Str, "The file system id (fs-...).")
            .aws("efs:CreateMountTargetRequest.FileSystemId")
            .required()
            .replaces(),
        Prop::new("subnet", Ty::Str, "The subnet id (subnet-...) to put the endpoint in.")
            .aws("efs:CreateMountTargetRequest.SubnetId")
            .required()
            .replaces(),
        Prop::new(
            "security_groups",
            Ty::List(&Ty::Str),
            "Security group ids (sg-...) of the endpoint; they must allow NFS (TCP 2049) from the clients.",
        )
        .aws("efs:CreateMountTargetRequest.SecurityGroups")
        .required()
        .unordered(),
    ],
    attrs: &[
        Attr::new("id", "The mount target id (fsmt-...)."),
        Attr::new("ip_address", "The endpoint's IPv4 address in the subnet."),
        Attr::new("network_interface_id", "The ENI that holds the address."),
    ],
    // Mount targets take no tags: ownership is the state and belonging to an owned file system.
    taggable: false,
};

fn live(m: &MountTargetDescription, security_groups: Option<&[String]>) -> Live {
    let id = m.mount_target_id().to_owned();
    let mut props = Props::new();
    props.insert("file_system".into(), Value::str(m.file_system_id()));
    props.insert("subnet".into(), Value::str(m.subnet_id()));
    if let Some(groups) = security_groups {
        props.insert("security_groups".into(), groups_value(groups));
    }
    let mut attrs = Props::new();
    attrs.insert("id".into(), Value::str(&id));
    attrs.insert("ip_address".into(), m.ip_address().map(Value::str).unwrap_or(Value::Null));
    attrs.insert("network_interface_id".into(), m.network_interface_id().map(Value::str).unwrap_or(Value::Null));
    Live { physical_id: id, props, attrs, tags: Default::default() }
}

async fn describe_one(cx: &Cx, id: &str) -> Result<Option<MountTargetDescription>, AwsError> {
    match client(cx).describe_mount_targets().mount_target_id(id).send().await.map_err(classify) {
        Ok(out) => Ok(out.mount_targets().first().cloned()),
        Err(AwsError::NotFound(_)) => Ok(None),
        Err(e) => Err(e),
    }
}

/// A mount target's security groups are its network interface's: one DescribeNetworkInterfaces
/// (filtered by id, so an interface gone meanwhile is no error) answers for all mount targets,
/// where DescribeMountTargetSecurityGroups takes one mount target per call.
async fn interface_groups<'a>(
    cx: &Cx,
    enis: impl Iterator<Item = &'a str>,
) -> Result<std::collections::HashMap<String, Vec<String>>, AwsError> {
    let enis: Vec<String> = enis.map(str::to_owned).collect();
    let mut out = std::collections::HashMap::new();
    // EC2 takes at most 200 values per filter.
    for chunk in enis.chunks(200) {
        let filter =
            aws_sdk_ec2::types::Filter::builder().name("network-interface-id").set_values(Some(chunk.to_vec()));
        let found = crate::aws::all_items(
            super::ec2::client(cx)
                .describe_network_interfaces()
                .filters(filter.build())
                .into_paginator()
                .items()
                .send(),
        )
        .await?;
        for n in found {
            let Some(id) = n.network_interface_id() else { continue };
            let groups = n.groups().iter().filter_map(|g| g.group_id().map(str::to_owned)).collect();
            out.insert(id.to_owned(), groups);
        }
    }
    Ok(out)
}

/// Security group ids as compared: sorted.
fn groups_value(groups: &[String]) -> Value {
    let mut groups: Vec<Value> = groups.iter().map(Value::str).collect();
    groups.sort_by_cached_key(|v| v.to_string());
    Value::List(groups)
}

/// The security groups of mount targets `(id, network interface)`, by mount target id: from
/// their interfaces in one EC2 call, or from EFS for one whose interface is not reported yet.
/// A mount target gone meanwhile is left out.
async fn groups_of(
    cx: &Cx,
    targets: &[(&str, Option<&str>)],
) -> Result<std::collections::HashMap<String, Vec<String>>, AwsError> {
    let mut by_eni = interface_groups(cx, targets.iter().filter_map(|(_, eni)| *eni)).await?;
    let mut out = std::collections::HashMap::new();
    for (id, eni) in targets {
        let groups = match eni.and_then(|e| by_eni.remove(e)) {
            Some(g) => g,
            None => match security_groups(cx, id).await {
                Ok(g) => g,
                Err(AwsError::NotFound(_)) => continue,
                Err(e) => return Err(e),
            },
        };
        out.insert((*id).to_owned(), groups);
    }
    Ok(out)
}

async fn security_groups(cx: &Cx, id: &str) -> Result<Vec<String>, AwsError> {
    let out = client(cx).describe_mount_target_security_groups().mount_target_id(id).send().await.map_err(classify)?;
    Ok(out.security_groups().to_vec())
}

async fn wait_available(cx: &Cx, logical_id: &str, id: &str) -> Result<MountTargetDescription, AwsError> {
    wait_until(
        &cx.wait,
        &format!("mount target {id}"),
        |m| cx.status(logical_id, m),
        || async move {
            let m = describe_one(cx, id).await?;
            Ok(match efs::creation(m.as_ref().map(|m| m.life_cycle_state())) {
                Poll::Ready(()) => Poll::Ready(m.expect("ready means described")),
                Poll::Pending(s) => Poll::Pending(s),
                Poll::Failed(s) => Poll::Failed(s),
            })
        },
    )
    .await
}

/// After MountTargetConflict (the file system has a mount target in that availability zone):
/// the one in the same subnet is taken when it exists, which is what a repeated create whose
/// first response was lost finds. EFS allows one mount target per zone, so nothing else can
/// own it; one in another subnet of the zone is a real conflict.
async fn adopt(cx: &Cx, file_system: &str, subnet: &str, conflict: AwsError) -> Result<String, AwsError> {
    let all = crate::aws::all_items(
        client(cx).describe_mount_targets().file_system_id(file_system).into_paginator().items().send(),
    )
    .await?;
    all.iter()
        .find(|m| m.subnet_id() == subnet && efs::exists(m.life_cycle_state()))
        .map(|m| m.mount_target_id().to_owned())
        .ok_or(conflict)
}

async fn set_groups(cx: &Cx, id: &str, props: &Props) -> Result<(), AwsError> {
    let groups = props.get("security_groups").map(Value::string_list).unwrap_or_default();
    client(cx)
        .modify_mount_target_security_groups()
        .mount_target_id(id)
        .set_security_groups(Some(groups))
        .send()
        .await
        .map(|_| ())
        .map_err(classify)
}

/// The availability zone (as written) and VPC of the stack's subnet a value refers to.
fn subnet_facts<'s>(stack: &'s dyn StackView, e: Option<&crate::expr::Expr>) -> (Option<&'s str>, Option<Named<'s>>) {
    match e.and_then(ref_target).and_then(|id| stack.resource(id)) {
        Some(("subnet", props)) => (lit_str(props.get("az")), named(props.get("vpc"))),
        _ => (None, None),
    }
}

/// AWS (CreateMountTarget): "you can create mount targets for a file system in only one VPC,
/// and there can be only one mount target per Availability Zone": the subnet of another must
/// "belong to the same VPC as the subnets of the existing mount targets" and "not be in the
/// same Availability Zone" (MountTargetConflict); its security groups "must be for the same
/// VPC as the subnet specified". Each conflict is reported on the later mount target.
fn placement_rules(s: &Subject, out: &mut Vec<Problem>) {
    let Some(fs) = named(s.get("file_system")) else { return };
    let subnet = named(s.get("subnet"));
    let (az, vpc) = subnet_facts(s.stack, s.get("subnet"));
    let (mut zone_reported, mut vpc_reported) = (false, false);
    for (other, kind, props) in s.stack.resources().into_iter().take_while(|(id, _, _)| *id != s.id) {
        if kind != "mount_target" || named(props.get("file_system")) != Some(fs) {
            continue;
        }
        let (their_az, their_vpc) = subnet_facts(s.stack, props.get("subnet"));
        if !zone_reported && subnet.is_some() && named(props.get("subnet")) == subnet {
            zone_reported = true;
            out.push(Problem::new(
                "subnet",
                format!("mount target `{other}` of file system {fs} is in this subnet already; AWS allows one mount target per availability zone"),
            ));
        } else if let (false, Some(az), Some(theirs)) = (zone_reported, az, their_az)
            && az == theirs
        {
            zone_reported = true;
            out.push(
                Problem::new(
                    "subnet",
                    format!("mount target `{other}` of file system {fs} is in {az} already; AWS allows one mount target per availability zone"),
                )
                .help("one mount target per zone serves every subnet of that zone"),
            );
        }
        if let (false, Some(vpc), Some(theirs)) = (vpc_reported, vpc, their_vpc)
            && vpc.differs(&theirs)
        {
            vpc_reported = true;
            out.push(Problem::new(
                "subnet",
                format!("mount target `{other}` of file system {fs} is in VPC {theirs}, this one in {vpc}; AWS keeps a file system's mount targets in one VPC"),
            ));
        }
    }
    let Some(vpc) = vpc else { return };
    for (i, e) in s.list("security_groups").iter().enumerate() {
        if let (Some(id), Some(theirs)) = (ref_target(e), vpc_of(s.stack, e))
            && theirs.differs(&vpc)
        {
            out.push(Problem::new(
                format!("security_groups.{i}"),
                format!("security group `{id}` is of VPC {theirs}, the mount target's subnet of {vpc}; AWS wants them in one VPC"),
            ));
        }
    }
}

impl KindSpec for MountTarget {
    fn schema(&self) -> &'static KindSchema {
        &SCHEMA
    }

    fn check(&self, s: &Subject) -> Vec<Problem> {
        let mut out = Vec::new();
        placement_rules(s, &mut out);
        out
    }

    fn create_is_idempotent(&self) -> bool {
        true
    }

    /// A mount target exists for its file system.
    fn owner(&self, live: &Live) -> Option<String> {
        live.props.get("file_system").and_then(Value::as_str).map(str::to_owned)
    }

    fn holds(&self) -> &'static [&'static str] {
        &["file_system", "subnet", "security_group"]
    }

    fn refusals(&self) -> Refusals {
        Refusals::Modelled(&[("elasticfilesystem", "CreateMountTarget"), ("elasticfilesystem", "DescribeMountTargets")])
    }
}

#[async_trait]
impl Kind for MountTarget {
    /// Mount targets carry no tags: the stack's are those of its file systems.
    fn selection(&self) -> Selection {
        Selection::Own
    }

    /// DescribeMountTargets needs a file system id or a mount target id in every call, and
    /// mount targets carry no tags: one paginated DescribeFileSystems finds the stack's file
    /// systems (`rprov:stack` tag), then one DescribeMountTargets per such file system, plus one
    /// per recorded mount target not found that way (its file system belongs to someone
    /// else). Security groups are read from the recorded mount targets' network interfaces in
    /// one EC2 call (see `interface_groups`); the others (adoption candidates) leave them to the
    /// recorded value.
    async fn read_many(&self, cx: &Cx, ids: &[String]) -> Result<Vec<Live>, AwsError> {
        let efs = client(cx);
        let systems = efs::file_systems(cx).await?;
        let owned = systems.iter().filter(|f| {
            efs::exists(f.life_cycle_state()) && f.tags().iter().any(|t| t.key() == TAG_STACK && t.value() == cx.stack)
        });
        let mut found: Vec<MountTargetDescription> = Vec::new();
        for f in owned {
            let targets = efs
                .describe_mount_targets()
                .file_system_id(f.file_system_id())
                .into_paginator()
                .items()
                .send()
                .try_collect()
                .await;
            match targets.map_err(classify) {
                Ok(t) => found.extend(t),
                // Deleted between the two calls.
                Err(AwsError::NotFound(_)) => {}
                Err(e) => return Err(e),
            }
        }
        let seen: BTreeSet<String> = found.iter().map(|m| m.mount_target_id().to_owned()).collect();
        for id in ids.iter().filter(|i| !seen.contains(*i)) {
            found.extend(describe_one(cx, id).await?);
        }
        let recorded: Vec<&MountTargetDescription> = found
            .iter()
            .filter(|m| efs::exists(m.life_cycle_state()) && ids.iter().any(|i| i == m.mount_target_id()))
            .collect();
        let targets: Vec<(&str, Option<&str>)> =
            recorded.iter().map(|m| (m.mount_target_id(), m.network_interface_id())).collect();
        let mut groups = groups_of(cx, &targets).await?;
        let mut out = Vec::new();
        for m in found.iter().filter(|m| efs::exists(m.life_cycle_state())) {
            let groups = if ids.iter().any(|i| i == m.mount_target_id()) {
                // Gone between the two reads: left out.
                let Some(g) = groups.remove(m.mount_target_id()) else { continue };
                Some(g)
            } else {
                None
            };
            out.push(live(m, groups.as_deref()));
        }
        Ok(out)
    }

    /// The mount targets of the given file systems (their security groups are read with
    /// `read_unreported`, for the imported ones only).
    async fn read_of(&self, cx: &Cx, owners: &[String]) -> Result<Vec<Live>, AwsError> {
        let mut out = Vec::new();
        for fs in owners {
            let targets = client(cx).describe_mount_targets().file_system_id(fs).into_paginator().items().send();
            match targets.try_collect().await.map_err(classify) {
                Ok(t) => out.extend(t.iter().filter(|m| efs::exists(m.life_cycle_state())).map(|m| live(m, None))),
                Err(AwsError::NotFound(_)) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(out)
    }

    /// The security groups of mount targets read without them (not recorded: imported), from
    /// their network interfaces in one EC2 call.
    async fn read_unreported(&self, cx: &Cx, live: &mut [Live]) -> Result<(), AwsError> {
        let targets: Vec<(&str, Option<&str>)> = live
            .iter()
            .filter(|l| !l.props.contains_key("security_groups"))
            .map(|l| (l.physical_id.as_str(), l.attrs.get("network_interface_id").and_then(Value::as_str)))
            .collect();
        let mut groups = groups_of(cx, &targets).await?;
        for l in live.iter_mut() {
            if let Some(g) = groups.remove(&l.physical_id) {
                l.props.insert("security_groups".into(), groups_value(&g));
            }
        }
        Ok(())
    }

    async fn create(&self, cx: &Cx, req: &CreateReq<'_>) -> Result<Live, AwsError> {
        let text = |k: &str| req.props.get(k).and_then(Value::as_str).unwrap_or_default();
        let (file_system, subnet) = (text("file_system"), text("subnet"));
        let groups = req.props.get("security_groups").map(Value::string_list).unwrap_or_default();
        // No idempotency token; a repeat after a lost response answers MountTargetConflict and
        // `adopt` takes the mount target the first call made.
        let sent = client(cx)
            .create_mount_target()
            .file_system_id(file_system)
            .subnet_id(subnet)
            .set_security_groups(Some(groups.clone()))
            .send()
            .await;
        let id = match sent {
            Ok(out) => out.mount_target_id().to_owned(),
            Err(e) => match classify(e) {
                AwsError::Invalid(m) if m.starts_with("MountTargetConflict") => {
                    let id = adopt(cx, file_system, subnet, AwsError::AlreadyExists(m)).await?;
                    wait_available(cx, req.id, &id).await?;
                    set_groups(cx, &id, req.props).await?;
                    id
                }
                other => return Err(other),
            },
        };
        let m = wait_available(cx, req.id, &id).await?;
        Ok(live(&m, Some(&groups)))
    }

    async fn update(&self, cx: &Cx, req: &UpdateReq<'_>) -> Result<Live, AwsError> {
        // Only the security groups change in place.
        if req.changed.iter().any(|c| c == "security_groups") {
            set_groups(cx, req.physical_id, req.new).await?;
        }
        let m = wait_available(cx, req.id, req.physical_id).await?;
        let groups = security_groups(cx, req.physical_id).await?;
        Ok(live(&m, Some(&groups)))
    }

    async fn delete(&self, cx: &Cx, req: &DeleteReq<'_>) -> Result<(), AwsError> {
        gone_ok(client(cx).delete_mount_target().mount_target_id(req.physical_id).send().await.map_err(classify))?;
        // The mount target's ENI keeps its subnet and security groups busy (DependencyViolation)
        // and its file system undeletable (FileSystemInUse) until it is gone.
        let what = format!("deletion of mount target {}", req.physical_id);
        let deletion = |m: &MountTargetDescription| efs::deletion(Some(m.life_cycle_state()));
        wait_gone(cx, req.id, &what, || describe_one(cx, req.physical_id), deletion).await
    }
}

#[cfg(test)]
mod tests {

    use aws_sdk_efs::Client;
    use aws_sdk_efs::operation::create_mount_target::{CreateMountTargetError, CreateMountTargetOutput};
    use aws_sdk_efs::operation::delete_mount_target::DeleteMountTargetOutput;
    use aws_sdk_efs::operation::describe_mount_targets::{DescribeMountTargetsError, DescribeMountTargetsOutput};
    use aws_sdk_efs::operation::modify_mount_target_security_groups::ModifyMountTargetSecurityGroupsOutput;
    use aws_sdk_efs::types::LifeCycleState;
    use aws_smithy_mocks::{Rule, RuleMode, mock, mock_client};
    use aws_smithy_types::error::ErrorMetadata;

    use super::*;
    use crate::kinds::Tags;
    use crate::kinds::testing::mocked;

    const ID: &str = "fsmt-0123456789abcdef0";

    fn meta(code: &str) -> ErrorMetadata {
        ErrorMetadata::builder().code(code).message("m").build()
    }

    fn target(state: LifeCycleState) -> MountTargetDescription {
        MountTargetDescription::builder()
            .mount_target_id(ID)
            .file_system_id("fs-1")
            .subnet_id("subnet-1")
            .life_cycle_state(state)
            .ip_address("10.0.10.7")
            .network_interface_id("eni-1")
            .build()
            .unwrap()
    }

    fn described(state: LifeCycleState) -> DescribeMountTargetsOutput {
        DescribeMountTargetsOutput::builder().mount_targets(target(state)).build()
    }

    fn not_found() -> DescribeMountTargetsError {
        DescribeMountTargetsError::generic(meta("MountTargetNotFound"))
    }

    fn cx(rules: &[&Rule]) -> Cx {
        mocked(mock_client!(aws_sdk_efs, RuleMode::MatchAny, rules)).0
    }

    fn props() -> Props {
        Props::from([
            ("file_system".to_string(), Value::str("fs-1")),
            ("subnet".to_string(), Value::str("subnet-1")),
            ("security_groups".to_string(), Value::List(vec![Value::str("sg-1")])),
        ])
    }

    fn create_ok() -> Rule {
        mock!(Client::create_mount_target).then_output(|| {
            let t = target(LifeCycleState::Creating);
            CreateMountTargetOutput::builder()
                .mount_target_id(t.mount_target_id())
                .file_system_id(t.file_system_id())
                .subnet_id(t.subnet_id())
                .life_cycle_state(LifeCycleState::Creating)
                .build()
                .unwrap()
        })
    }

    #[tokio::test(start_paused = true)]
    async fn create_waits_from_creating_to_available() {
        let create = create_ok();
        let describe = mock!(Client::describe_mount_targets)
            .sequence()
            .output(|| described(LifeCycleState::Creating))
            .times(3)
            .output(|| described(LifeCycleState::Available))
            .build();
        let cx = cx(&[&create, &describe]);
        let (p, tags) = (props(), Tags::new());
        let l = MountTarget.create(&cx, &CreateReq { id: "mt", props: &p, tags: &tags, token: "t" }).await.unwrap();
        assert_eq!(describe.num_calls(), 4);
        assert_eq!(l.props, p);
        assert_eq!(l.attrs["ip_address"], Value::str("10.0.10.7"));
    }

    #[tokio::test(start_paused = true)]
    async fn create_fails_on_error_state_and_times_out_while_creating() {
        let create = create_ok();
        let describe = mock!(Client::describe_mount_targets).then_output(|| described(LifeCycleState::Error));
        let cx1 = cx(&[&create, &describe]);
        let (p, tags) = (props(), Tags::new());
        let req = CreateReq { id: "mt", props: &p, tags: &tags, token: "t" };
        assert!(matches!(MountTarget.create(&cx1, &req).await, Err(AwsError::Failed(_))));

        let create = create_ok();
        let describe = mock!(Client::describe_mount_targets).then_output(|| described(LifeCycleState::Creating));
        let cx2 = cx(&[&create, &describe]);
        assert!(matches!(MountTarget.create(&cx2, &req).await, Err(AwsError::WaitTimeout { .. })));
    }

    #[tokio::test(start_paused = true)]
    async fn a_repeated_create_adopts_the_mount_target_in_the_same_subnet() {
        let create = mock!(Client::create_mount_target)
            .then_error(|| CreateMountTargetError::generic(meta("MountTargetConflict")));
        let describe = mock!(Client::describe_mount_targets).then_output(|| described(LifeCycleState::Available));
        let modify = mock!(Client::modify_mount_target_security_groups)
            .match_requests(|r| r.security_groups() == ["sg-1"])
            .then_output(|| ModifyMountTargetSecurityGroupsOutput::builder().build());
        let cx = cx(&[&create, &describe, &modify]);
        let (p, tags) = (props(), Tags::new());
        let l = MountTarget.create(&cx, &CreateReq { id: "mt", props: &p, tags: &tags, token: "t" }).await.unwrap();
        assert_eq!(l.physical_id, ID);
        assert_eq!(modify.num_calls(), 1);
    }

    #[tokio::test(start_paused = true)]
    async fn delete_waits_until_the_mount_target_is_gone() {
        let delete = mock!(Client::delete_mount_target).then_output(|| DeleteMountTargetOutput::builder().build());
        let describe = mock!(Client::describe_mount_targets)
            .sequence()
            .output(|| described(LifeCycleState::Deleting))
            .times(2)
            .output(|| described(LifeCycleState::Deleted))
            .build();
        let cx1 = cx(&[&delete, &describe]);
        let req = DeleteReq { id: "mt", physical_id: ID, props: &Props::new(), attrs: &Props::new() };
        MountTarget.delete(&cx1, &req).await.unwrap();
        assert_eq!(describe.num_calls(), 3);

        // Already gone: the delete and the wait both see NotFound.
        let delete = mock!(Client::delete_mount_target).then_error(|| {
            aws_sdk_efs::operation::delete_mount_target::DeleteMountTargetError::generic(meta("MountTargetNotFound"))
        });
        let describe = mock!(Client::describe_mount_targets).then_error(not_found);
        let cx2 = cx(&[&delete, &describe]);
        MountTarget.delete(&cx2, &req).await.unwrap();

        // Never gone within the budget.
        let delete = mock!(Client::delete_mount_target).then_output(|| DeleteMountTargetOutput::builder().build());
        let describe = mock!(Client::describe_mount_targets).then_output(|| described(LifeCycleState::Deleting));
        let cx3 = cx(&[&delete, &describe]);
        assert!(matches!(MountTarget.delete(&cx3, &req).await, Err(AwsError::WaitTimeout { .. })));
    }
}

#[cfg(test)]
mod rules {
    use crate::kinds::testing::check_rules;

    const BASE: &str = r#"vpc: { type: vpc, cidr: 10.0.0.0/16 }
other: { type: vpc, cidr: 10.1.0.0/16 }
a1: { type: subnet, vpc: "${vpc.id}", cidr: 10.0.0.0/24, az: us-east-1a }
a2: { type: subnet, vpc: "${vpc.id}", cidr: 10.0.1.0/24, az: us-east-1a }
b: { type: subnet, vpc: "${vpc.id}", cidr: 10.0.2.0/24, az: us-east-1b }
c: { type: subnet, vpc: "${other.id}", cidr: 10.1.0.0/24, az: us-east-1c }
sg: { type: security_group, vpc: "${vpc.id}" }
sg_other: { type: security_group, vpc: "${other.id}" }
fs: { type: file_system }
fs2: { type: file_system }
"#;

    fn targets(list: &[(&str, &str, &str)]) -> String {
        let mut s = BASE.to_owned();
        for (id, fs, subnet) in list {
            s += &format!(
                "{id}: {{ type: mount_target, file_system: \"${{{fs}.id}}\", subnet: \"${{{subnet}.id}}\", security_groups: [\"${{sg.id}}\"] }}\n"
            );
        }
        s
    }

    #[test]
    fn one_per_zone_in_one_vpc() {
        check_rules(&targets(&[("m1", "fs", "a1"), ("m2", "fs", "b"), ("m3", "fs2", "a2")]), &[]);
        check_rules(
            &targets(&[("m1", "fs", "a1"), ("m2", "fs", "a1")]),
            &["mount target `m1` of file system `fs` is in this subnet already"],
        );
        check_rules(
            &targets(&[("m1", "fs", "a1"), ("m2", "fs", "a2")]),
            &[
                "15:62: mount target `m1` of file system `fs` is in us-east-1a already; AWS allows one mount target per availability zone",
            ],
        );
        check_rules(
            &targets(&[("m1", "fs", "a1"), ("m2", "fs", "c")]),
            &[
                "is in VPC `vpc`, this one in `other`",
                "security group `sg` is of VPC `vpc`, the mount target's subnet of `other`",
            ],
        );
        // Subnets written out as ids: AWS's to check.
        check_rules(
            "m1: { type: mount_target, file_system: fs-0123456789abcdef0, subnet: subnet-0123456789abcdef0, security_groups: [sg-0123456789abcdef0] }\nm2: { type: mount_target, file_system: fs-0123456789abcdef0, subnet: subnet-0123456789abcdef1, security_groups: [sg-0123456789abcdef0] }",
            &[],
        );
    }
}
