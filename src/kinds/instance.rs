use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_ec2::types::{
    AttributeValue, BlockDeviceMapping, EbsBlockDevice, Filter, HttpTokensState, IamInstanceProfileSpecification,
    Instance as SdkInstance, InstanceMetadataOptionsRequest, InstanceMetadataOptionsState,
    InstanceNetworkInterfaceSpecification, InstanceStateName, InstanceType, ResourceType, Volume, VolumeType,
};

use super::ec2::{self, client, settle};
use super::{CreateReq, DeleteReq, Kind, Live, UpdateReq};
use crate::aws::{AwsError, Cx, Poll, WaitConfig, all_items, classify, wait_gone, wait_until};
use crate::expr::{Expr, ExprMap};
use crate::schema::{Attr, Default, KindSchema, Prop, Ty};
use crate::spec::network::vpc_of_ref;
use crate::spec::rules::{lit_int, lit_str, ref_target, wrong_kind};
use crate::spec::{KindSpec, Problem, Refusals, Subject};
use crate::value::{Props, Value};

pub struct Instance;

static ROOT_VOLUME: &[Prop] = &[
    Prop::new(
        "size_gb",
        Ty::Int,
        "Size in GiB: at least the image's snapshot (AWS refuses less); gp3 up to 65536, gp2 16384, standard 1024.",
    )
    .aws("ec2:EbsBlockDevice.VolumeSize")
    .required()
    .replaces(),
    Prop::new(
        "type",
        Ty::Enum(&["gp3", "gp2", "standard"]),
        "Volume type. st1 and sc1 cannot boot an instance; io1 and io2 need provisioned IOPS, which rprov does not \
         manage.",
    )
    .aws("ec2:EbsBlockDevice.VolumeType")
    .default(Default::Str("gp3"))
    .replaces(),
    Prop::new(
        "encrypted",
        Ty::Bool,
        "Encrypted at rest. `false` is refused: an account with EBS encryption by default encrypts it anyway (a \
         replacement on every plan), and an unencrypted boot volume is what security baselines flag.",
    )
    .aws("ec2:EbsBlockDevice.Encrypted")
    .default(Default::Bool(true))
    .replaces(),
];

static METADATA: &[Prop] = &[
    Prop::new(
        "http_tokens",
        Ty::Enum(&["required", "optional"]),
        "`required`: IMDSv2 only, every metadata request needs a session token (what blocks SSRF tricks that read \
         instance credentials); `optional` also answers IMDSv1.",
    )
    .aws("ec2:InstanceMetadataOptionsRequest.HttpTokens")
    .default(Default::Str("required")),
    Prop::new(
        "hop_limit",
        Ty::Int,
        "How many network hops the token's answer may travel (1-64): 1 keeps it on the instance; containers \
         behind a bridge need 2.",
    )
    .aws("ec2:InstanceMetadataOptionsRequest.HttpPutResponseHopLimit")
    .default(Default::Int(1)),
];

static SCHEMA: KindSchema = KindSchema {
    name: "instance",
    doc: "One EC2 instance, e.g. a bastion host, launched with a ClientToken (a resent create gets the same \
          instance); IMDSv2 required and an encrypted gp3 root volume by default. `ami`, `user_data`, \
          `associate_public_ip` and `root_volume_kms_key` are launch settings AWS does not report back: they are \
          compared with what was applied, and drift cannot show them.",
    props: &[
        Prop::new(
            "ami",
            Ty::Str,
            "The image: an id (`ami-...`), or `resolve:ssm:PARAMETER[:VERSION]`, AWS's form for an SSM parameter \
             holding one (`resolve:ssm:/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64`), read \
             when the instance is created; the image it got is `image_id`. Compared as written: an image published \
             under the parameter later does not replace the instance. Moving to it is explicit: pin a version, or \
             write the image id.",
        )
        .required()
        .replaces(),
        // Not mapped to RunInstances' InstanceType: the model's enum (1,400 values) refuses types
        // newer than the pinned botocore; `check` tests the syntax instead.
        Prop::new(
            "instance_type",
            Ty::Str,
            "The instance type (`t3.micro`, `m7g.large`). Changed in place by stopping the instance, changing the \
             type and starting it again (AWS changes a stopped instance's type only): its id, private address, root \
             volume and Elastic IP stay, an automatic public address changes. An instance found stopped stays so.",
        )
            .default(Default::Str("t3.micro")),
        Prop::new("subnet", Ty::Str, "The subnet id (subnet-...) the instance's network interface is in.")
            .aws("ec2:InstanceNetworkInterfaceSpecification.SubnetId")
            .required()
            .replaces(),
        Prop::new(
            "security_groups",
            Ty::List(&Ty::Str),
            "Security group ids (sg-...) of the subnet's VPC, at least one (none would mean the VPC's default group).",
        )
        .aws("ec2:InstanceNetworkInterfaceSpecification.Groups")
        .required()
        .unordered(),
        Prop::new("key_name", Ty::Str, "The key pair's name for SSH (a key_pair's `${KEY.name}`).")
            .aws("ec2:RunInstancesRequest.KeyName")
            .replaces(),
        Prop::new(
            "iam_instance_profile",
            Ty::Str,
            "An existing instance profile, by name or ARN (compared by name), whose role the instance acts as.",
        )
        .aws("ec2:IamInstanceProfileSpecification.Name")
        .replaces(),
        Prop::new(
            "user_data",
            Ty::Str,
            "The script or cloud-init document run at first boot, as text (rprov base64-encodes it), at most 16 KB. \
             Compared by digest, never printed or kept in clear: it often carries bootstrap secrets.",
        )
        .replaces()
        .secret(),
        Prop::new("root_volume", Ty::Obj(ROOT_VOLUME), "The root EBS volume, deleted with the instance.")
            .required()
            .replaces(),
        Prop::new(
            "root_volume_kms_key",
            Ty::Str,
            "The KMS key (ARN, id or alias) that encrypts the root volume; the account's default EBS key when left \
             out. Apart from `root_volume` because AWS reports the key's ARN whatever was given, the default key's \
             too.",
        )
        .aws("ec2:EbsBlockDevice.KmsKeyId")
        .replaces(),
        Prop::new("metadata", Ty::Obj(METADATA), "The instance metadata service (IMDS).").default(Default::EmptyMap),
        Prop::new(
            "associate_public_ip",
            Ty::Bool,
            "Give the instance an automatic public address at launch, whatever the subnet's default. A bastion takes \
             an elastic_ip instead: it stays across stops and replacements.",
        )
        .aws("ec2:InstanceNetworkInterfaceSpecification.AssociatePublicIpAddress")
        .default(Default::Bool(false))
        .replaces(),
    ],
    attrs: &[
        Attr::new("id", "The instance id (i-...)."),
        Attr::new("private_ip", "The primary private IPv4 address."),
        Attr::new("public_ip", "The public IPv4 address (an Elastic IP's once associated); empty when it has none."),
        Attr::new("image_id", "The image it was launched from (the SSM parameter's value at the time)."),
        Attr::new("availability_zone", "Its subnet's availability zone."),
    ],
    taggable: true,
};

/// AWS: "User data is limited to 16 KB, in raw form, before it is base64-encoded"
/// (https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/user-data.html).
const USER_DATA_MAX: usize = 16 * 1024;

/// Security groups per network interface: 5 by default, a quota raised to at most 16
/// (https://docs.aws.amazon.com/vpc/latest/userguide/amazon-vpc-limits.html).
const GROUPS_MAX: usize = 16;

/// How long a new instance profile may take to become usable by EC2 (IAM is eventually
/// consistent; Terraform's AWS provider waits as long).
const PROFILE_PROPAGATION: Duration = Duration::from_secs(120);

/// Where an image id comes from, as `ami` writes it.
#[derive(Debug, PartialEq, Eq)]
enum Image<'a> {
    Id(&'a str),
    /// An SSM parameter name, with an optional `:VERSION` or `:LABEL` selector (GetParameter
    /// takes both).
    Parameter(&'a str),
}

const SSM_PREFIX: &str = "resolve:ssm:";

fn is_image_id(text: &str) -> bool {
    text.strip_prefix("ami-")
        .is_some_and(|h| matches!(h.len(), 8 | 17) && h.chars().all(|c| c.is_ascii_digit() || ('a'..='f').contains(&c)))
}

/// `ami` read as AWS's RunInstances reads ImageId: an image id, or `resolve:ssm:NAME` (the
/// form AWS documents for an SSM parameter in place of an image id,
/// https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/finding-an-ami-parameter-store.html).
fn image_of(ami: &str) -> Result<Image<'_>, Problem> {
    if is_image_id(ami) {
        return Ok(Image::Id(ami));
    }
    if let Some(name) = ami.strip_prefix(SSM_PREFIX) {
        let (path, selector) = name.split_once(':').map_or((name, None), |(p, s)| (p, Some(s)));
        let ok_path = !path.is_empty()
            && path.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-' | '/'))
            && (!path.contains('/') || path.starts_with('/'));
        let ok_selector =
            selector.is_none_or(|s| !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-')));
        if ok_path && ok_selector {
            return Ok(Image::Parameter(name));
        }
        return Err(Problem::new("ami", format!("`{name}` is no SSM parameter name"))
            .help("a name of letters, digits, `_.-`, a path starting with `/`, then `:VERSION` if pinned"));
    }
    let help = if ami.starts_with('/') || ami.starts_with("ssm:") {
        format!("an SSM parameter is written `{SSM_PREFIX}{}`", ami.trim_start_matches("ssm:"))
    } else {
        "an image id is `ami-` and 8 or 17 hexadecimal digits".to_owned()
    };
    Err(Problem::new("ami", format!("`{ami}` is neither an image id nor `{SSM_PREFIX}PARAMETER`")).help(help))
}

/// An instance type as EC2 names them: family, a dot, size (`t3.micro`, `m7i-flex.large`,
/// `u-6tb1.112xlarge`, `r7iz.metal-16xl`).
fn is_instance_type(t: &str) -> bool {
    let word = |s: &str| {
        s.starts_with(|c: char| c.is_ascii_alphanumeric())
            && s.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
    };
    t.split_once('.').is_some_and(|(family, size)| family.starts_with(|c: char| c.is_ascii_lowercase()) && word(family) && word(size))
}

/// Sizes EBS allows per root volume type, in GiB
/// (https://docs.aws.amazon.com/ebs/latest/userguide/ebs-volume-types.html).
fn size_range(volume_type: &str) -> (i64, i64) {
    match volume_type {
        "standard" => (1, 1024),
        "gp2" => (1, 16384),
        _ => (1, 65536),
    }
}

/// An instance profile named by ARN (`arn:aws:iam::ACCOUNT:instance-profile/PATH/NAME`), as AWS
/// reports it: by its name, unique in the account.
fn profile_name(text: &str) -> &str {
    match text.split_once(":instance-profile/") {
        Some((_, path)) => path.rsplit('/').next().unwrap_or(path),
        None => text,
    }
}

fn text<'a>(p: &'a Props, name: &str) -> Option<&'a str> {
    p.get(name).and_then(Value::as_str)
}

fn field<'a>(p: &'a Props, obj: &str, name: &str) -> Option<&'a Value> {
    p.get(obj).and_then(Value::as_map).and_then(|m| m.get(name))
}

/// Whether a described instance still exists for rprov: a `shutting-down` or `terminated` one
/// (AWS lists it for about an hour) holds nothing and is not coming back.
fn exists(i: &SdkInstance) -> bool {
    !matches!(state_of(i), Some(InstanceStateName::ShuttingDown | InstanceStateName::Terminated))
}

fn state_of(i: &SdkInstance) -> Option<&InstanceStateName> {
    i.state().and_then(|s| s.name())
}

/// The id of the root volume, from the instance's block devices.
fn root_volume_id(i: &SdkInstance) -> Option<&str> {
    let root = i.root_device_name()?;
    i.block_device_mappings()
        .iter()
        .find(|m| m.device_name() == Some(root))
        .and_then(|m| m.ebs())
        .and_then(|e| e.volume_id())
}

/// The security groups of the primary network interface: what ModifyInstanceAttribute Groups
/// changes, and what an instance launched with a network interface specification reports.
fn groups(i: &SdkInstance) -> Vec<Value> {
    let primary = i.network_interfaces().iter().find(|n| n.attachment().and_then(|a| a.device_index()) == Some(0));
    let listed = primary.map_or(i.security_groups(), |n| n.groups());
    let mut ids: Vec<Value> = listed.iter().filter_map(|g| g.group_id()).map(Value::str).collect();
    // Sorted by text, as the planner sorts unordered lists.
    ids.sort_by_cached_key(Value::to_string);
    ids.dedup();
    ids
}

fn live(i: &SdkInstance, root: Option<&Volume>) -> Live {
    let id = i.instance_id().unwrap_or_default().to_owned();
    let mut props = Props::new();
    props.insert("instance_type".into(), Value::str(i.instance_type().map_or("", |t| t.as_str())));
    props.insert("subnet".into(), Value::str(i.subnet_id().unwrap_or_default()));
    props.insert("security_groups".into(), Value::List(groups(i)));
    // Left out when it has none, as the stack leaves them out.
    if let Some(k) = i.key_name() {
        props.insert("key_name".into(), Value::str(k));
    }
    if let Some(arn) = i.iam_instance_profile().and_then(|p| p.arn()) {
        props.insert("iam_instance_profile".into(), Value::str(profile_name(arn)));
    }
    if let Some(m) = i.metadata_options() {
        let mut md = Props::new();
        md.insert("http_tokens".into(), Value::str(m.http_tokens().map_or("optional", |t| t.as_str())));
        md.insert("hop_limit".into(), Value::Int(m.http_put_response_hop_limit().unwrap_or(1).into()));
        props.insert("metadata".into(), Value::Map(md));
    }
    if let Some(v) = root {
        let mut rv = Props::new();
        rv.insert("size_gb".into(), Value::Int(v.size().unwrap_or_default().into()));
        rv.insert("type".into(), Value::str(v.volume_type().map_or("", |t| t.as_str())));
        rv.insert("encrypted".into(), Value::Bool(v.encrypted().unwrap_or(false)));
        props.insert("root_volume".into(), Value::Map(rv));
    }
    let mut attrs = Props::new();
    attrs.insert("id".into(), Value::str(&id));
    attrs.insert("private_ip".into(), Value::str(i.private_ip_address().unwrap_or_default()));
    attrs.insert("public_ip".into(), Value::str(i.public_ip_address().unwrap_or_default()));
    attrs.insert("image_id".into(), Value::str(i.image_id().unwrap_or_default()));
    attrs.insert(
        "availability_zone".into(),
        Value::str(i.placement().and_then(|p| p.availability_zone()).unwrap_or_default()),
    );
    // The root volume's creation, not LaunchTime: AWS moves LaunchTime at every start.
    super::set_created(&mut attrs, super::sdk_time(root.and_then(|v| v.create_time())));
    Live { physical_id: id, props, attrs, tags: ec2::from_sdk(i.tags()) }
}

async fn describe_one(cx: &Cx, id: &str) -> Result<Option<SdkInstance>, AwsError> {
    let out = client(cx).describe_instances().instance_ids(id).send().await.map_err(classify)?;
    Ok(out.reservations().iter().flat_map(|r| r.instances()).find(|i| i.instance_id() == Some(id)).cloned())
}

/// EC2 filters take at most 200 values.
const FILTER_VALUES: usize = 200;

/// The root volumes of `instances` (size, type and encryption are the volume's, not the
/// instance's), in one filtered describe per 200 instances: one call for a stack's instances.
async fn root_volumes(cx: &Cx, instances: &[&SdkInstance]) -> Result<HashMap<String, Volume>, AwsError> {
    let ids: Vec<String> = instances.iter().filter_map(|i| root_volume_id(i)).map(str::to_owned).collect();
    let mut out = HashMap::new();
    for chunk in ids.chunks(FILTER_VALUES) {
        let filter = Filter::builder().name("volume-id").set_values(Some(chunk.to_vec())).build();
        let volumes = all_items(client(cx).describe_volumes().filters(filter).into_paginator().items().send()).await?;
        out.extend(volumes.into_iter().filter_map(|v| Some((v.volume_id()?.to_owned(), v))));
    }
    Ok(out)
}

async fn read_one(cx: &Cx, id: &str) -> Result<Live, AwsError> {
    let i = describe_one(cx, id).await?.ok_or_else(|| AwsError::NotFound(id.into()))?;
    let volumes = root_volumes(cx, &[&i]).await?;
    Ok(live(&i, root_volume_id(&i).and_then(|v| volumes.get(v))))
}

/// Where a wait for an instance's state goes.
struct Toward {
    target: InstanceStateName,
    /// A new instance that stops on its own (user data that shuts it down, whose default
    /// behaviour is `stop`) is not going to run. Right after StartInstances, `stopped` is only
    /// not yet `pending`.
    stopped_is_final: bool,
}

/// One observation of an instance on its way. Shutting down or terminated before it got there is
/// final, with AWS's reason (a KMS key it may not use terminates a new instance at once:
/// `Client.InvalidKMSKey.InvalidState`).
fn on_the_way(to: &Toward, i: Option<SdkInstance>) -> Poll<SdkInstance> {
    let Some(i) = i else { return Poll::Pending("not visible yet".into()) };
    let reason = |i: &SdkInstance| {
        i.state_reason().and_then(|r| r.message().or(r.code())).unwrap_or("AWS gave no reason").to_owned()
    };
    match state_of(&i) {
        Some(s) if *s == to.target => Poll::Ready(i),
        Some(s @ (InstanceStateName::ShuttingDown | InstanceStateName::Terminated)) => {
            Poll::Failed(format!("{}: {}", s.as_str(), reason(&i)))
        }
        Some(InstanceStateName::Stopped) if to.stopped_is_final => Poll::Failed(format!("stopped: {}", reason(&i))),
        Some(s) => Poll::Pending(s.as_str().to_owned()),
        None => Poll::Pending("no state reported".into()),
    }
}

async fn wait_for(cx: &Cx, logical_id: &str, id: &str, to: Toward) -> Result<SdkInstance, AwsError> {
    let to = &to;
    wait_until(
        &cx.wait,
        &format!("instance {id} to be {}", to.target.as_str()),
        |m| cx.status(logical_id, m),
        || async move {
            match describe_one(cx, id).await {
                Ok(i) => Ok(on_the_way(to, i)),
                // A new instance may not be listed yet (eventual consistency).
                Err(AwsError::NotFound(_)) => Ok(on_the_way(to, None)),
                Err(e) => Err(e),
            }
        },
    )
    .await
}

/// The image id `ami` names now: itself, or the SSM parameter's value.
async fn resolve_image(cx: &Cx, ami: &str) -> Result<String, AwsError> {
    let name = match image_of(ami) {
        Ok(Image::Id(id)) => return Ok(id.to_owned()),
        Ok(Image::Parameter(name)) => name,
        Err(p) => return Err(AwsError::Invalid(format!("ami: {}", p.message))),
    };
    let out = match cx.client(aws_sdk_ssm::Client::new).get_parameter().name(name).send().await.map_err(classify) {
        Ok(out) => out,
        Err(AwsError::NotFound(m)) => {
            return Err(AwsError::Invalid(format!("ami: SSM parameter {name} does not exist in {} ({m})", cx.region)));
        }
        Err(e) => return Err(e),
    };
    let value = out.parameter().and_then(|p| p.value()).unwrap_or_default();
    if !is_image_id(value) {
        return Err(AwsError::Invalid(format!("ami: SSM parameter {name} holds `{value}`, not an image id")));
    }
    Ok(value.to_owned())
}

/// The image's root device name: a root volume's settings apply only to a block device mapping
/// of that name, which differs by image (`/dev/xvda`, `/dev/sda1`).
async fn root_device(cx: &Cx, image: &str) -> Result<String, AwsError> {
    let out = match client(cx).describe_images().image_ids(image).send().await.map_err(classify) {
        Ok(out) => out,
        Err(AwsError::NotFound(m)) => {
            return Err(AwsError::Invalid(format!("ami: image {image} does not exist in {} ({m})", cx.region)));
        }
        Err(e) => return Err(e),
    };
    out.images()
        .iter()
        .find(|i| i.image_id() == Some(image))
        .and_then(|i| i.root_device_name())
        .map(str::to_owned)
        .ok_or_else(|| AwsError::Invalid(format!("ami: image {image} is not available in {}", cx.region)))
}

fn run_request(
    cx: &Cx,
    req: &CreateReq<'_>,
    image: &str,
    device: &str,
) -> aws_sdk_ec2::operation::run_instances::builders::RunInstancesFluentBuilder {
    let p = req.props;
    let nic = InstanceNetworkInterfaceSpecification::builder()
        .device_index(0)
        .set_subnet_id(text(p, "subnet").map(str::to_owned))
        .set_groups(Some(p.get("security_groups").map(Value::string_list).unwrap_or_default()))
        // Sent either way: left out, the subnet's MapPublicIpOnLaunch would decide.
        .associate_public_ip_address(p.get("associate_public_ip").and_then(Value::as_bool).unwrap_or(false))
        .delete_on_termination(true)
        .build();
    let ebs = EbsBlockDevice::builder()
        .set_volume_size(field(p, "root_volume", "size_gb").and_then(Value::as_i64).and_then(|n| i32::try_from(n).ok()))
        .volume_type(VolumeType::from(field(p, "root_volume", "type").and_then(Value::as_str).unwrap_or("gp3")))
        .encrypted(field(p, "root_volume", "encrypted").and_then(Value::as_bool).unwrap_or(true))
        .set_kms_key_id(text(p, "root_volume_kms_key").map(str::to_owned))
        .delete_on_termination(true)
        .build();
    let metadata = InstanceMetadataOptionsRequest::builder()
        .http_tokens(HttpTokensState::from(field(p, "metadata", "http_tokens").and_then(Value::as_str).unwrap_or("required")))
        .http_put_response_hop_limit(hop_limit(p))
        .build();
    client(cx)
        .run_instances()
        .image_id(image)
        .instance_type(InstanceType::from(text(p, "instance_type").unwrap_or("t3.micro")))
        .min_count(1)
        .max_count(1)
        // The same token for every resend of this create: AWS answers with the instance the
        // first request launched (https://docs.aws.amazon.com/ec2/latest/devguide/ec2-api-idempotency.html).
        .client_token(req.token)
        .network_interfaces(nic)
        .block_device_mappings(BlockDeviceMapping::builder().device_name(device).ebs(ebs).build())
        .metadata_options(metadata)
        .set_key_name(text(p, "key_name").map(str::to_owned))
        .set_iam_instance_profile(
            text(p, "iam_instance_profile").map(|n| IamInstanceProfileSpecification::builder().name(n).build()),
        )
        .set_user_data(text(p, "user_data").map(|u| aws_smithy_types::base64::encode(u.as_bytes())))
        .tag_specifications(ec2::tag_spec(ResourceType::Instance, req.tags))
        .tag_specifications(ec2::tag_spec(ResourceType::Volume, req.tags))
}

fn hop_limit(p: &Props) -> i32 {
    field(p, "metadata", "hop_limit").and_then(Value::as_i64).and_then(|n| i32::try_from(n).ok()).unwrap_or(1)
}

/// Whether a refused RunInstances is IAM's eventual consistency: an instance profile made
/// moments ago is not yet known to EC2 (InvalidParameterValue "Value (NAME) for parameter
/// iamInstanceProfile.name is invalid. Invalid IAM Instance Profile name").
fn profile_not_ready(e: &AwsError) -> bool {
    matches!(e, AwsError::Invalid(m) if m.starts_with("InvalidParameterValue") && m.contains("iamInstanceProfile"))
}

/// RunInstances, sent again while what it names is not visible yet (a new subnet, group or key
/// pair: NotFound; a new instance profile: IAM's propagation), with the same token each time.
async fn run(
    cx: &Cx,
    req: &CreateReq<'_>,
    op: aws_sdk_ec2::operation::run_instances::builders::RunInstancesFluentBuilder,
) -> Result<String, AwsError> {
    let send = || {
        settle(cx, req.id, "the subnet, security groups and key pair", || {
            let op = op.clone();
            async move { op.send().await.map_err(classify) }
        })
    };
    let sent = match text(req.props, "iam_instance_profile") {
        None => send().await,
        Some(profile) => {
            let last = Mutex::new(None);
            let budget = WaitConfig { timeout: cx.wait.timeout.min(PROFILE_PROPAGATION), ..cx.wait.clone() };
            let waited = wait_until(
                &budget,
                &format!("instance profile {profile} to be usable by EC2"),
                |m| cx.status(req.id, m),
                || async {
                    match send().await {
                        Err(e) if profile_not_ready(&e) => {
                            *last.lock().unwrap_or_else(|p| p.into_inner()) = Some(e);
                            Ok(Poll::Pending("not yet".into()))
                        }
                        r => Ok(Poll::Ready(r)),
                    }
                },
            )
            .await;
            match (waited, last.into_inner().unwrap_or_else(|p| p.into_inner())) {
                (Ok(sent), _) => sent,
                // Still refused when the budget ran out: EC2's own message says what is wrong.
                (Err(AwsError::WaitTimeout { .. }), Some(refused)) => Err(refused),
                (Err(e), _) => Err(e),
            }
        }
    }?;
    sent.instances()
        .first()
        .and_then(|i| i.instance_id())
        .map(str::to_owned)
        .ok_or_else(|| AwsError::Failed("RunInstances returned no instance".into()))
}

/// Stop, change the type, start again: AWS changes the type of a stopped EBS-backed instance
/// only (ModifyInstanceAttribute; https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/change-instance-type-of-ebs-backed-instance.html).
/// An instance found stopped stays stopped. It is started again even when the change is
/// refused (a type its image or zone does not support), so a failed change never leaves it down.
async fn change_type(cx: &Cx, logical_id: &str, id: &str, instance_type: &str) -> Result<(), AwsError> {
    let ec2 = client(cx);
    let i = describe_one(cx, id).await?.ok_or_else(|| AwsError::NotFound(id.into()))?;
    let was_stopped = state_of(&i) == Some(&InstanceStateName::Stopped);
    if !was_stopped {
        ec2.stop_instances().instance_ids(id).send().await.map_err(classify)?;
        wait_for(cx, logical_id, id, Toward { target: InstanceStateName::Stopped, stopped_is_final: false }).await?;
    }
    let changed = ec2
        .modify_instance_attribute()
        .instance_id(id)
        .instance_type(AttributeValue::builder().value(instance_type).build())
        .send()
        .await
        .map(|_| ())
        .map_err(classify);
    if !was_stopped {
        let started = match ec2.start_instances().instance_ids(id).send().await.map_err(classify) {
            Ok(_) => {
                let to = Toward { target: InstanceStateName::Running, stopped_is_final: false };
                wait_for(cx, logical_id, id, to).await.map(|_| ())
            }
            Err(e) => Err(e),
        };
        if let (Err(refused), Err(e)) = (&changed, &started) {
            cx.status(logical_id, &format!("the type change was refused ({refused}) and the start failed too: {e}"));
        }
        changed?;
        return started;
    }
    changed
}

/// ModifyInstanceMetadataOptions with both settings (moto 5.2.5 resets the tokens setting a
/// request leaves out), then the wait until AWS reports them `applied`: the change is
/// asynchronous, `pending` first.
async fn set_metadata(cx: &Cx, logical_id: &str, id: &str, p: &Props) -> Result<(), AwsError> {
    let tokens = field(p, "metadata", "http_tokens").and_then(Value::as_str).unwrap_or("required");
    client(cx)
        .modify_instance_metadata_options()
        .instance_id(id)
        .http_tokens(HttpTokensState::from(tokens))
        .http_put_response_hop_limit(hop_limit(p))
        .send()
        .await
        .map_err(classify)?;
    wait_until(
        &cx.wait,
        &format!("the metadata options of instance {id}"),
        |m| cx.status(logical_id, m),
        || async move {
            let i = describe_one(cx, id).await?.ok_or_else(|| AwsError::NotFound(id.into()))?;
            Ok(match i.metadata_options().and_then(|m| m.state()) {
                Some(InstanceMetadataOptionsState::Pending) => Poll::Pending("pending".into()),
                _ => Poll::Ready(()),
            })
        },
    )
    .await
}

/// When a key_pair is named by its `id` (key-...) where AWS wants its name.
fn key_problem(s: &Subject, e: &Expr) -> Option<Problem> {
    let Expr::Ref(r) = e else { return None };
    let (kind, _) = s.stack.resource(&r.target)?;
    if kind == "key_pair" && r.attr == "name" {
        return None;
    }
    let p = match kind {
        "key_pair" => Problem::new(
            "key_name",
            format!("`key_name` takes the key pair's name; `${{{}.{}}}` is not it", r.target, r.attr),
        )
        .help(format!("`${{{}.name}}`", r.target)),
        other if r.attr == "id" || r.attr == "arn" || r.attr == "name" => Problem::new(
            "key_name",
            format!("`key_name` refers to `{}`, {}: AWS expects a key pair's name here", r.target, crate::spec::rules::a_kind(other)),
        ),
        _ => return None,
    };
    Some(p)
}

/// Root volume: sizes per type, encryption.
fn root_volume_problems(m: &ExprMap, out: &mut Vec<Problem>) {
    let volume_type = lit_str(m.get("type")).unwrap_or("gp3");
    if let Some(size) = lit_int(m.get("size_gb")) {
        let (low, high) = size_range(volume_type);
        if !(low..=high).contains(&size) {
            out.push(Problem::new(
                "root_volume.size_gb",
                format!("{size} GiB is outside {low}-{high}, what EBS allows of a {volume_type} volume"),
            ));
        }
    }
    if matches!(m.get("encrypted"), Some(Expr::Lit(Value::Bool(false)))) {
        out.push(
            Problem::new(
                "root_volume.encrypted",
                "an unencrypted root volume is refused: where the account encrypts new EBS volumes by default, AWS \
                 encrypts it anyway and every plan would replace the instance",
            )
            .help("leave `encrypted` out (it is true)"),
        );
    }
}

impl KindSpec for Instance {
    /// The image it runs is what it was launched with: `ami` as an image id.
    fn imported_props(&self, live: &Live) -> Props {
        let mut props = live.props.clone();
        if let Some(image) = live.attrs.get("image_id").filter(|v| v.as_str().is_some_and(|s| !s.is_empty())) {
            props.insert("ami".into(), image.clone());
        }
        props
    }

    fn schema(&self) -> &'static KindSchema {
        &SCHEMA
    }

    /// What RunInstances would refuse, or take and then read back otherwise: the image's form,
    /// the type's, the IMDS hop limit (1-64), root volume sizes per type, user data's 16 KB, a
    /// subnet and security groups of one VPC, a key pair by name.
    fn check(&self, s: &Subject) -> Vec<Problem> {
        let mut out = Vec::new();
        if let Some(ami) = s.str("ami") {
            out.extend(image_of(ami).err());
        }
        if let Some(t) = s.str("instance_type")
            && !is_instance_type(t)
        {
            out.push(
                Problem::new("instance_type", format!("`{t}` is no EC2 instance type"))
                    .help("a family, a dot and a size, in lower case: `t3.micro`, `m7g.large`"),
            );
        }
        if let Some(Expr::Map(m)) = s.get("metadata")
            && let Some(n) = lit_int(m.get("hop_limit"))
            && !(1..=64).contains(&n)
        {
            out.push(Problem::new("metadata.hop_limit", format!("hop limit {n} is outside 1-64")));
        }
        if let Some(Expr::Map(m)) = s.get("root_volume") {
            root_volume_problems(m, &mut out);
        }
        if let Some(u) = s.str("user_data")
            && u.len() > USER_DATA_MAX
        {
            out.push(Problem::new(
                "user_data",
                format!("{} bytes of user data; AWS takes at most {USER_DATA_MAX} (16 KB before base64)", u.len()),
            ));
        }
        let subnet = s.get("subnet");
        if let Some(e) = subnet {
            out.extend(wrong_kind(s, "subnet", e, &["subnet"]));
        }
        let home = subnet.and_then(|e| vpc_of_ref(s.stack, e));
        let groups = s.list("security_groups");
        if matches!(s.get("security_groups"), Some(Expr::List(l)) if l.is_empty()) {
            out.push(
                Problem::new("security_groups", "an instance needs at least one security group")
                    .help("none would give it the VPC's default group, which rprov does not manage"),
            );
        }
        if groups.len() > GROUPS_MAX {
            out.push(Problem::new(
                "security_groups",
                format!("{} security groups; AWS allows at most {GROUPS_MAX} per network interface", groups.len()),
            ));
        }
        for (i, e) in groups.iter().enumerate() {
            let path = format!("security_groups.{i}");
            out.extend(wrong_kind(s, &path, e, &["security_group"]));
            if let (Some(home), Some(theirs)) = (home, vpc_of_ref(s.stack, e))
                && theirs.differs(home)
            {
                out.push(Problem::new(
                    path,
                    format!(
                        "security group `{}` is in {theirs}, the instance's subnet in {home}: AWS takes security groups of the subnet's VPC",
                        ref_target(e).unwrap_or_default()
                    ),
                ));
            }
        }
        if let Some(e) = s.get("key_name") {
            out.extend(key_problem(s, e));
        }
        let role = |kind: &str| kind == "iam_role";
        let profile = s.get("iam_instance_profile");
        let names_role = profile.and_then(|e| s.referenced_in(e)).is_some_and(|(_, kind, _)| role(kind))
            || s.str("iam_instance_profile").is_some_and(|t| t.contains(":role/"));
        if names_role {
            out.push(
                Problem::new("iam_instance_profile", "this names an IAM role; EC2 takes an instance profile, which holds one")
                    .help("the instance profile's name or ARN (`arn:aws:iam::ACCOUNT:instance-profile/NAME`)"),
            );
        }
        out
    }

    fn normalise(&self, _stack: &str, _id: &str, props: &mut Props) {
        if let Some(Value::Str(p)) = props.get_mut("iam_instance_profile") {
            *p = profile_name(p).to_owned();
        }
        if let Some(Value::List(groups)) = props.get_mut("security_groups") {
            groups.sort_by_cached_key(Value::to_string);
            groups.dedup();
        }
        let fill = |props: &mut Props, obj: &str, defaults: &[(&str, Value)]| {
            let entry = props.entry(obj.to_owned()).or_insert_with(|| Value::Map(Props::new()));
            if let Value::Map(m) = entry {
                for (k, v) in defaults {
                    if m.get(*k).is_none_or(Value::is_null) {
                        m.insert((*k).to_owned(), v.clone());
                    }
                }
            }
        };
        fill(props, "metadata", &[("http_tokens", Value::str("required")), ("hop_limit", Value::Int(1))]);
        if props.contains_key("root_volume") {
            fill(props, "root_volume", &[("type", Value::str("gp3")), ("encrypted", Value::Bool(true))]);
        }
    }

    /// An image id written out is the image: known before the instance exists.
    fn known_attrs(&self, props: &Props) -> Props {
        let mut out = Props::new();
        if let Some(Image::Id(id)) = text(props, "ami").and_then(|a| image_of(a).ok()) {
            out.insert("image_id".into(), Value::str(id));
        }
        out
    }

    /// A stop and start gives an instance without an Elastic IP a new public address.
    fn attrs_changed_by_update(&self, changed: &[String]) -> &'static [&'static str] {
        if changed.iter().any(|c| c == "instance_type") { &["public_ip"] } else { &[] }
    }

    fn create_is_idempotent(&self) -> bool {
        true
    }

    fn holds(&self) -> &'static [&'static str] {
        &["subnet", "security_group", "key_pair"]
    }

    fn parts(&self) -> &'static [(&'static str, &'static str)] {
        &[("ec2", "volume")]
    }

    fn arn(&self) -> Option<(&'static str, &'static str)> {
        Some(("ec2", "instance"))
    }

    /// Its network interface keeps the subnet and its groups busy until it is terminated, and an
    /// Elastic IP associated with it cannot be released.
    fn refusals(&self) -> Refusals {
        Refusals::Modelled(&[("ec2", "DeleteSubnet"), ("ec2", "DeleteSecurityGroup"), ("ec2", "ReleaseAddress")])
    }
}

#[async_trait]
impl Kind for Instance {
    async fn read_many(&self, cx: &Cx, _ids: &[String]) -> Result<Vec<Live>, AwsError> {
        let reservations =
            all_items(client(cx).describe_instances().into_paginator().items().send()).await?;
        let instances: Vec<&SdkInstance> =
            reservations.iter().flat_map(|r| r.instances()).filter(|i| exists(i)).collect();
        if instances.is_empty() {
            return Ok(Vec::new());
        }
        let volumes = root_volumes(cx, &instances).await?;
        Ok(instances.iter().map(|i| live(i, root_volume_id(i).and_then(|v| volumes.get(v)))).collect())
    }

    async fn create(&self, cx: &Cx, req: &CreateReq<'_>) -> Result<Live, AwsError> {
        let image = resolve_image(cx, text(req.props, "ami").unwrap_or_default()).await?;
        let device = root_device(cx, &image).await?;
        let id = run(cx, req, run_request(cx, req, &image, &device)).await?;
        wait_for(cx, req.id, &id, Toward { target: InstanceStateName::Running, stopped_is_final: true }).await?;
        let mut l = read_one(cx, &id).await?;
        if l.tags.is_empty() {
            l.tags = req.tags.clone();
        }
        Ok(l)
    }

    async fn update(&self, cx: &Cx, req: &UpdateReq<'_>) -> Result<Live, AwsError> {
        let changed = |name: &str| req.changed.iter().any(|c| c == name);
        let id = req.physical_id;
        if changed("tags") {
            ec2::retag(cx, id, req.old_tags, req.tags).await?;
            // The root volume was tagged with the instance: it keeps carrying the same tags.
            let i = describe_one(cx, id).await?.ok_or_else(|| AwsError::NotFound(id.into()))?;
            if let Some(volume) = root_volume_id(&i) {
                ec2::retag(cx, volume, req.old_tags, req.tags).await?;
            }
        }
        if changed("security_groups") {
            client(cx)
                .modify_instance_attribute()
                .instance_id(id)
                .set_groups(Some(req.new.get("security_groups").map(Value::string_list).unwrap_or_default()))
                .send()
                .await
                .map_err(classify)?;
        }
        if changed("metadata") {
            set_metadata(cx, req.id, id, req.new).await?;
        }
        // Last: it stops the instance for a while.
        if changed("instance_type") {
            change_type(cx, req.id, id, text(req.new, "instance_type").unwrap_or("t3.micro")).await?;
        }
        read_one(cx, id).await
    }

    async fn delete(&self, cx: &Cx, req: &DeleteReq<'_>) -> Result<(), AwsError> {
        let id = req.physical_id;
        // A terminated instance answers TerminateInstances with its state again; one AWS no
        // longer lists answers InvalidInstanceID.NotFound: gone.
        match client(cx).terminate_instances().instance_ids(id).send().await.map_err(classify) {
            Err(AwsError::NotFound(_)) => return Ok(()),
            other => other?,
        };
        // Its network interface and root volume hold the subnet, groups and Elastic IP until
        // `terminated`.
        wait_gone(cx, req.id, &format!("termination of instance {id}"), || describe_one(cx, id), |i| {
            match state_of(i) {
                None | Some(InstanceStateName::Terminated) => Poll::Ready(()),
                Some(s) => Poll::Pending(s.as_str().to_owned()),
            }
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use aws_sdk_ec2::Client;
    use aws_sdk_ec2::operation::describe_images::DescribeImagesOutput;
    use aws_sdk_ec2::operation::describe_instances::{DescribeInstancesError, DescribeInstancesOutput};
    use aws_sdk_ec2::operation::describe_volumes::DescribeVolumesOutput;
    use aws_sdk_ec2::operation::modify_instance_attribute::{ModifyInstanceAttributeError, ModifyInstanceAttributeOutput};
    use aws_sdk_ec2::operation::run_instances::{RunInstancesError, RunInstancesOutput};
    use aws_sdk_ec2::operation::start_instances::StartInstancesOutput;
    use aws_sdk_ec2::operation::stop_instances::StopInstancesOutput;
    use aws_sdk_ec2::operation::terminate_instances::{TerminateInstancesError, TerminateInstancesOutput};
    use aws_sdk_ec2::types::{
        EbsInstanceBlockDevice, GroupIdentifier, IamInstanceProfile, Image as SdkImage, InstanceBlockDeviceMapping,
        InstanceMetadataOptionsResponse, InstanceNetworkInterface, InstanceNetworkInterfaceAttachment, InstanceState,
        Placement, Reservation, StateReason,
    };
    use aws_sdk_ssm::operation::get_parameter::GetParameterOutput;
    use aws_sdk_ssm::types::Parameter;
    use aws_smithy_mocks::{Rule, RuleMode, mock, mock_client};
    use aws_smithy_types::error::ErrorMetadata;

    use super::*;
    use crate::kinds::Tags;
    use crate::kinds::testing::{Status, map, mocked, props, strs};

    const ID: &str = "i-0123456789abcdef0";
    const IMAGE: &str = "ami-0d27e0fb3bac4d724";
    const PARAMETER: &str = "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64";
    const VOLUME: &str = "vol-1";

    fn instance(state: InstanceStateName) -> aws_sdk_ec2::types::builders::InstanceBuilder {
        let eni = InstanceNetworkInterface::builder()
            .attachment(InstanceNetworkInterfaceAttachment::builder().device_index(0).build())
            .groups(GroupIdentifier::builder().group_id("sg-b").build())
            .groups(GroupIdentifier::builder().group_id("sg-a").build())
            .build();
        SdkInstance::builder()
            .instance_id(ID)
            .image_id(IMAGE)
            .instance_type(InstanceType::T3Micro)
            .subnet_id("subnet-1")
            .key_name("bastion")
            .iam_instance_profile(IamInstanceProfile::builder().arn("arn:aws:iam::1:instance-profile/ops/bastion").build())
            .private_ip_address("10.0.0.4")
            .placement(Placement::builder().availability_zone("us-east-1a").build())
            .state(InstanceState::builder().name(state).build())
            .network_interfaces(eni)
            .root_device_name("/dev/xvda")
            .block_device_mappings(
                InstanceBlockDeviceMapping::builder()
                    .device_name("/dev/xvda")
                    .ebs(EbsInstanceBlockDevice::builder().volume_id(VOLUME).build())
                    .build(),
            )
            .metadata_options(
                InstanceMetadataOptionsResponse::builder()
                    .state(InstanceMetadataOptionsState::Applied)
                    .http_tokens(HttpTokensState::Required)
                    .http_put_response_hop_limit(1)
                    .build(),
            )
    }

    fn described(i: SdkInstance) -> DescribeInstancesOutput {
        DescribeInstancesOutput::builder().reservations(Reservation::builder().instances(i).build()).build()
    }

    fn volume() -> Volume {
        Volume::builder().volume_id(VOLUME).size(10).volume_type(VolumeType::Gp3).encrypted(true).build()
    }

    fn volumes_rule() -> Rule {
        mock!(Client::describe_volumes).then_output(|| DescribeVolumesOutput::builder().volumes(volume()).build())
    }

    fn images_rule() -> Rule {
        mock!(Client::describe_images).match_requests(|r| r.image_ids() == [IMAGE]).then_output(|| {
            DescribeImagesOutput::builder()
                .images(SdkImage::builder().image_id(IMAGE).root_device_name("/dev/xvda").build())
                .build()
        })
    }

    fn given() -> Props {
        let mut p = props(&[
            ("ami", Value::str(format!("resolve:ssm:{PARAMETER}"))),
            ("subnet", Value::str("subnet-1")),
            ("security_groups", strs(&["sg-a", "sg-b"])),
            ("key_name", Value::str("bastion")),
            ("iam_instance_profile", Value::str("arn:aws:iam::1:instance-profile/ops/bastion")),
            ("user_data", Value::str("#!/bin/sh\necho hi\n")),
            ("root_volume", map(&[("size_gb", Value::Int(10))])),
        ]);
        p = crate::plan::compared_props(&Instance, "s", "bastion", &p);
        p
    }

    /// What read_many does not report: launch settings, compared with what was applied.
    const NOT_READ_BACK: &[&str] = &["ami", "user_data", "associate_public_ip", "root_volume_kms_key"];

    #[test]
    fn live_shape_equals_the_normalised_stack_shape() {
        let want = given();
        let l = live(&instance(InstanceStateName::Running).build(), Some(&volume()));
        let mut read_back = want.clone();
        read_back.retain(|k, _| !NOT_READ_BACK.contains(&k.as_str()));
        assert_eq!(l.props, read_back);
        assert_eq!(want["iam_instance_profile"], Value::str("bastion"), "an ARN is compared by name");
        assert_eq!(l.attrs["public_ip"], Value::str(""), "no public address: empty");
        assert_eq!(l.attrs["image_id"], Value::str(IMAGE));
        assert_eq!(want["metadata"], map(&[("http_tokens", "required".into()), ("hop_limit", Value::Int(1))]));
    }

    #[test]
    fn image_forms() {
        assert_eq!(image_of("ami-0d27e0fb3bac4d724"), Ok(Image::Id("ami-0d27e0fb3bac4d724")));
        assert_eq!(image_of("ami-12345678"), Ok(Image::Id("ami-12345678")));
        assert_eq!(image_of(&format!("resolve:ssm:{PARAMETER}")), Ok(Image::Parameter(PARAMETER)));
        assert_eq!(image_of("resolve:ssm:/golden/web:12"), Ok(Image::Parameter("/golden/web:12")));
        assert_eq!(image_of("resolve:ssm:golden-ami"), Ok(Image::Parameter("golden-ami")));
        for bad in ["ami-123", "ami-XYZ45678", PARAMETER, "ssm:/x", "resolve:ssm:", "resolve:ssm:a/b", "resolve:ssm:/x:"] {
            assert!(image_of(bad).is_err(), "{bad}");
        }
        assert_eq!(
            Instance.known_attrs(&props(&[("ami", "ami-12345678".into())])),
            props(&[("image_id", "ami-12345678".into())])
        );
        assert!(Instance.known_attrs(&props(&[("ami", format!("resolve:ssm:{PARAMETER}").into())])).is_empty());
    }

    #[test]
    fn instance_types_by_syntax() {
        for ok in ["t3.micro", "m7i-flex.large", "u-6tb1.112xlarge", "r7iz.metal-16xl", "mac2-m2pro.metal"] {
            assert!(is_instance_type(ok), "{ok}");
        }
        for bad in ["T3.micro", "t3", "t3.", ".micro", "t3 micro", "t3.micro.x", "-t3.micro"] {
            assert!(!is_instance_type(bad), "{bad}");
        }
    }

    fn cx(ec2: Client, ssm: Option<aws_sdk_ssm::Client>) -> (Cx, Status) {
        let (cx, seen) = mocked(ec2);
        match ssm {
            Some(ssm) => (cx.with_client(ssm), seen),
            None => (cx, seen),
        }
    }

    fn ssm_rule() -> Rule {
        mock!(aws_sdk_ssm::Client::get_parameter).match_requests(|r| r.name() == Some(PARAMETER)).then_output(|| {
            GetParameterOutput::builder().parameter(Parameter::builder().name(PARAMETER).value(IMAGE).build()).build()
        })
    }

    fn run_output() -> RunInstancesOutput {
        RunInstancesOutput::builder().instances(instance(InstanceStateName::Pending).build()).build()
    }

    /// The create resolves the parameter, sends the root volume under the image's root device,
    /// IMDSv2, the network interface without a public address, user data in base64 and tags on
    /// the instance and its volume; then waits through `pending`.
    #[tokio::test(start_paused = true)]
    async fn create_resolves_the_image_and_waits_until_running() {
        let ssm = ssm_rule();
        let run = mock!(Client::run_instances)
            .match_requests(|r| {
                let nic = &r.network_interfaces()[0];
                let bdm = &r.block_device_mappings()[0];
                let ebs = bdm.ebs().unwrap();
                r.image_id() == Some(IMAGE)
                    && r.client_token() == Some("token-1")
                    && r.min_count() == Some(1)
                    && r.max_count() == Some(1)
                    && r.instance_type() == Some(&InstanceType::T3Micro)
                    && nic.associate_public_ip_address() == Some(false)
                    && nic.groups() == ["sg-a", "sg-b"]
                    && bdm.device_name() == Some("/dev/xvda")
                    && ebs.encrypted() == Some(true)
                    && ebs.volume_type() == Some(&VolumeType::Gp3)
                    && ebs.volume_size() == Some(10)
                    && r.metadata_options().and_then(|m| m.http_tokens()) == Some(&HttpTokensState::Required)
                    && r.user_data() == Some("IyEvYmluL3NoCmVjaG8gaGkK")
                    && r.iam_instance_profile().and_then(|p| p.name()) == Some("bastion")
                    && r.tag_specifications().iter().map(|t| t.resource_type().cloned()).collect::<Vec<_>>()
                        == [Some(ResourceType::Instance), Some(ResourceType::Volume)]
            })
            .then_output(run_output);
        let describe = mock!(Client::describe_instances)
            .sequence()
            .error(|| {
                DescribeInstancesError::generic(ErrorMetadata::builder().code("InvalidInstanceID.NotFound").build())
            })
            .output(|| described(instance(InstanceStateName::Pending).build()))
            .output(|| described(instance(InstanceStateName::Running).build()))
            .repeatedly()
            .build();
        let ec2 = mock_client!(aws_sdk_ec2, RuleMode::MatchAny, [&images_rule(), &run, &describe, &volumes_rule()]);
        let (cx, seen) = cx(ec2, Some(mock_client!(aws_sdk_ssm, [&ssm])));
        let (p, tags) = (given(), Tags::new());

        let l = Instance.create(&cx, &CreateReq { id: "bastion", props: &p, tags: &tags, token: "token-1" }).await.unwrap();

        assert_eq!(run.num_calls(), 1);
        assert_eq!(l.physical_id, ID);
        assert_eq!(l.attrs["image_id"], Value::str(IMAGE));
        assert_eq!(
            *seen.lock().unwrap(),
            [
                format!("bastion: waiting for instance {ID} to be running (now not visible yet)"),
                format!("bastion: waiting for instance {ID} to be running (now pending)"),
            ]
        );
    }

    /// The executor's resend of a create that got no usable answer carries the same ClientToken
    /// and the same parameters, so AWS answers with the instance the first request launched (the
    /// SDK's own resends repeat the serialized request, token included).
    #[tokio::test(start_paused = true)]
    async fn a_resent_create_carries_the_same_token_and_gets_the_same_instance() {
        let sent = std::sync::Arc::new(Mutex::new(Vec::new()));
        let seen = sent.clone();
        let run = mock!(Client::run_instances)
            .match_requests(move |r| {
                seen.lock().unwrap().push(r.clone());
                true
            })
            .sequence()
            .error(|| RunInstancesError::generic(ErrorMetadata::builder().code("InternalError").build()))
            .output(run_output)
            .build();
        let describe =
            mock!(Client::describe_instances).then_output(|| described(instance(InstanceStateName::Running).build()));
        let ec2 = mock_client!(aws_sdk_ec2, RuleMode::MatchAny, [&images_rule(), &run, &describe, &volumes_rule()]);
        let (cx, _) = cx(ec2, None);
        let p = props(&[("ami", IMAGE.into()), ("subnet", "subnet-1".into()), ("security_groups", strs(&["sg-a"]))]);
        let p = crate::plan::compared_props(&Instance, "s", "bastion", &p);
        let tags = Tags::new();
        let req = CreateReq { id: "bastion", props: &p, tags: &tags, token: "token-1" };

        let first = Instance.create(&cx, &req).await;
        let second = Instance.create(&cx, &req).await.unwrap();

        assert!(matches!(first, Err(AwsError::Transient(_))), "{first:?}");
        assert_eq!(second.physical_id, ID);
        let sent = sent.lock().unwrap();
        assert_eq!(sent.len(), 2);
        assert_eq!(sent[0], sent[1], "the resend is the same request, token included");
        assert_eq!(sent[0].client_token(), Some("token-1"));
    }

    #[tokio::test(start_paused = true)]
    async fn a_new_instance_profile_is_waited_for() {
        let run = mock!(Client::run_instances)
            .sequence()
            .error(|| {
                RunInstancesError::generic(
                    ErrorMetadata::builder()
                        .code("InvalidParameterValue")
                        .message("Value (bastion) for parameter iamInstanceProfile.name is invalid. Invalid IAM Instance Profile name")
                        .build(),
                )
            })
            .times(2)
            .output(run_output)
            .build();
        let describe =
            mock!(Client::describe_instances).then_output(|| described(instance(InstanceStateName::Running).build()));
        let ec2 = mock_client!(aws_sdk_ec2, RuleMode::MatchAny, [&images_rule(), &run, &describe, &volumes_rule()]);
        let (cx, seen) = cx(ec2, Some(mock_client!(aws_sdk_ssm, [&ssm_rule()])));
        let (p, tags) = (given(), Tags::new());

        let l = Instance.create(&cx, &CreateReq { id: "bastion", props: &p, tags: &tags, token: "t" }).await.unwrap();

        assert_eq!(run.num_calls(), 3);
        assert_eq!(l.physical_id, ID);
        assert_eq!(seen.lock().unwrap()[0], "bastion: waiting for instance profile bastion to be usable by EC2 (now not yet)");
    }

    #[tokio::test(start_paused = true)]
    async fn an_instance_terminated_at_launch_fails_the_create_with_awss_reason() {
        let describe = mock!(Client::describe_instances).then_output(|| {
            described(
                instance(InstanceStateName::Terminated)
                    .state_reason(
                        StateReason::builder()
                            .code("Client.InvalidKMSKey.InvalidState")
                            .message("Client.InvalidKMSKey.InvalidState: The KMS key provided is in an incorrect state")
                            .build(),
                    )
                    .build(),
            )
        });
        let run = mock!(Client::run_instances).then_output(run_output);
        let ec2 = mock_client!(aws_sdk_ec2, RuleMode::MatchAny, [&images_rule(), &run, &describe]);
        let (cx, _) = cx(ec2, Some(mock_client!(aws_sdk_ssm, [&ssm_rule()])));
        let (p, tags) = (given(), Tags::new());

        let err = Instance.create(&cx, &CreateReq { id: "bastion", props: &p, tags: &tags, token: "t" }).await.unwrap_err();

        assert_eq!(
            err,
            AwsError::Failed(format!(
                "instance {ID} to be running: terminated: Client.InvalidKMSKey.InvalidState: The KMS key provided is in an incorrect state"
            ))
        );
    }

    /// User data that shuts the instance down stops it (the default shutdown behaviour): it is
    /// not going to run, and the create says so instead of waiting out its budget.
    #[tokio::test(start_paused = true)]
    async fn an_instance_that_stops_at_launch_fails_the_create() {
        let describe = mock!(Client::describe_instances).then_output(|| {
            described(
                instance(InstanceStateName::Stopped)
                    .state_reason(StateReason::builder().code("Client.InstanceInitiatedShutdown").build())
                    .build(),
            )
        });
        let run = mock!(Client::run_instances).then_output(run_output);
        let ec2 = mock_client!(aws_sdk_ec2, RuleMode::MatchAny, [&images_rule(), &run, &describe]);
        let (cx, _) = cx(ec2, Some(mock_client!(aws_sdk_ssm, [&ssm_rule()])));
        let (p, tags) = (given(), Tags::new());

        let err = Instance.create(&cx, &CreateReq { id: "bastion", props: &p, tags: &tags, token: "t" }).await.unwrap_err();

        assert_eq!(
            err,
            AwsError::Failed(format!("instance {ID} to be running: stopped: Client.InstanceInitiatedShutdown"))
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_parameter_that_holds_no_image_id_is_refused() {
        let ssm = mock!(aws_sdk_ssm::Client::get_parameter).then_output(|| {
            GetParameterOutput::builder().parameter(Parameter::builder().name(PARAMETER).value("latest").build()).build()
        });
        let (cx, _) = cx(mock_client!(aws_sdk_ec2, RuleMode::MatchAny, [&images_rule()]), Some(mock_client!(aws_sdk_ssm, [&ssm])));
        let (p, tags) = (given(), Tags::new());

        let err = Instance.create(&cx, &CreateReq { id: "bastion", props: &p, tags: &tags, token: "t" }).await.unwrap_err();

        assert_eq!(err, AwsError::Invalid(format!("ami: SSM parameter {PARAMETER} holds `latest`, not an image id")));
    }

    /// A type change: stop, wait `stopped`, modify, start, wait `running`.
    #[tokio::test(start_paused = true)]
    async fn a_type_change_stops_modifies_and_starts() {
        let stop = mock!(Client::stop_instances).then_output(|| StopInstancesOutput::builder().build());
        let modify = mock!(Client::modify_instance_attribute)
            .match_requests(|r| r.instance_type().and_then(|t| t.value()) == Some("t3.small"))
            .then_output(|| ModifyInstanceAttributeOutput::builder().build());
        let start = mock!(Client::start_instances).then_output(|| StartInstancesOutput::builder().build());
        let describe = mock!(Client::describe_instances)
            .sequence()
            .output(|| described(instance(InstanceStateName::Running).build()))
            .output(|| described(instance(InstanceStateName::Stopping).build()))
            .output(|| described(instance(InstanceStateName::Stopped).build()))
            .output(|| described(instance(InstanceStateName::Pending).build()))
            .output(|| described(instance(InstanceStateName::Running).build()))
            .repeatedly()
            .build();
        let ec2 = mock_client!(aws_sdk_ec2, RuleMode::MatchAny, [&stop, &modify, &start, &describe]);
        let (cx, seen) = cx(ec2, None);

        change_type(&cx, "bastion", ID, "t3.small").await.unwrap();

        assert_eq!((stop.num_calls(), modify.num_calls(), start.num_calls()), (1, 1, 1));
        assert_eq!(
            *seen.lock().unwrap(),
            [
                format!("bastion: waiting for instance {ID} to be stopped (now stopping)"),
                format!("bastion: waiting for instance {ID} to be running (now pending)"),
            ]
        );
    }

    /// A type AWS refuses for this instance: it is started again, and the refusal is the error.
    #[tokio::test(start_paused = true)]
    async fn a_refused_type_change_starts_the_instance_again() {
        let stop = mock!(Client::stop_instances).then_output(|| StopInstancesOutput::builder().build());
        let modify = mock!(Client::modify_instance_attribute).then_error(|| {
            ModifyInstanceAttributeError::generic(
                ErrorMetadata::builder()
                    .code("InvalidInstanceAttributeValue")
                    .message("The instance configuration for this AWS Marketplace product is not supported.")
                    .build(),
            )
        });
        let start = mock!(Client::start_instances).then_output(|| StartInstancesOutput::builder().build());
        let describe = mock!(Client::describe_instances)
            .sequence()
            .output(|| described(instance(InstanceStateName::Running).build()))
            .output(|| described(instance(InstanceStateName::Stopped).build()))
            .output(|| described(instance(InstanceStateName::Running).build()))
            .build();
        let ec2 = mock_client!(aws_sdk_ec2, RuleMode::MatchAny, [&stop, &modify, &start, &describe]);
        let (cx, _) = cx(ec2, None);

        let err = change_type(&cx, "bastion", ID, "c7g.large").await.unwrap_err();

        assert!(matches!(&err, AwsError::Invalid(m) if m.starts_with("InvalidInstanceAttributeValue")), "{err:?}");
        assert_eq!(start.num_calls(), 1);
    }

    #[tokio::test(start_paused = true)]
    async fn delete_waits_through_shutting_down_until_terminated() {
        let terminate = mock!(Client::terminate_instances)
            .match_requests(|r| r.instance_ids() == [ID])
            .then_output(|| TerminateInstancesOutput::builder().build());
        let describe = mock!(Client::describe_instances)
            .sequence()
            .output(|| described(instance(InstanceStateName::ShuttingDown).build()))
            .times(2)
            .output(|| described(instance(InstanceStateName::Terminated).build()))
            .build();
        let ec2 = mock_client!(aws_sdk_ec2, RuleMode::MatchAny, [&terminate, &describe]);
        let (cx, seen) = cx(ec2, None);
        let none = Props::new();

        Instance.delete(&cx, &DeleteReq { id: "bastion", physical_id: ID, props: &none, attrs: &none }).await.unwrap();

        assert_eq!(describe.num_calls(), 3);
        assert_eq!(*seen.lock().unwrap(), [format!("bastion: waiting for termination of instance {ID} (now shutting-down)")]);
    }

    #[tokio::test(start_paused = true)]
    async fn delete_of_an_instance_already_gone_is_done() {
        let terminate = mock!(Client::terminate_instances).then_error(|| {
            TerminateInstancesError::generic(ErrorMetadata::builder().code("InvalidInstanceID.NotFound").build())
        });
        let describe = mock!(Client::describe_instances).then_output(|| DescribeInstancesOutput::builder().build());
        let (cx, _) = cx(mock_client!(aws_sdk_ec2, RuleMode::MatchAny, [&terminate, &describe]), None);
        let none = Props::new();

        let got = Instance.delete(&cx, &DeleteReq { id: "bastion", physical_id: ID, props: &none, attrs: &none }).await;

        assert_eq!(got, Ok(()));
        assert_eq!(describe.num_calls(), 0);
    }

    #[test]
    fn read_leaves_out_shutting_down_and_terminated_instances() {
        for (state, want) in [
            (InstanceStateName::Pending, true),
            (InstanceStateName::Running, true),
            (InstanceStateName::Stopped, true),
            (InstanceStateName::ShuttingDown, false),
            (InstanceStateName::Terminated, false),
        ] {
            assert_eq!(exists(&instance(state.clone()).build()), want, "{state:?}");
        }
    }
}

#[cfg(test)]
mod rule_tests {
    use crate::kinds::testing::check_rules;

    const NET: &str = "vpc: { type: vpc, cidr: 10.0.0.0/16 }
a: { type: subnet, vpc: '${vpc.id}', cidr: 10.0.0.0/24 }
sg: { type: security_group, vpc: '${vpc.id}' }
other: { type: vpc, cidr: 10.1.0.0/16 }
osg: { type: security_group, vpc: '${other.id}' }
key: { type: key_pair, public_key: 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOEHwmVXgMOiDA15NBvOau33Ox19BHta3IgYGbDpn+IF' }
role: { type: iam_role, trust: [ec2.amazonaws.com] }
";

    /// The bastion of seed 003 with `fields` added.
    fn bastion(fields: &str) -> String {
        format!(
            "{NET}b: {{ type: instance, ami: 'resolve:ssm:/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64', subnet: '${{a.id}}', security_groups: ['${{sg.id}}'], key_name: '${{key.name}}', root_volume: {{ size_gb: 8 }}{fields} }}"
        )
    }

    #[test]
    fn a_bastion_is_valid() {
        check_rules(&bastion(""), &[]);
        check_rules(
            &bastion(", instance_type: m7i-flex.large, metadata: { hop_limit: 2, http_tokens: optional }, user_data: \"#!/bin/sh\\n\"")
                .replace("size_gb: 8", "size_gb: 30, type: gp2"),
            &[],
        );
    }

    #[test]
    fn image_and_type_forms() {
        let with = |ami: &str| bastion("").replace(
            "'resolve:ssm:/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64'",
            ami,
        );
        check_rules(&with("ami-0d27e0fb3bac4d724"), &[]);
        check_rules(
            &with("/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64"),
            &["is neither an image id nor `resolve:ssm:PARAMETER` | `resolve:ssm:/aws/service/"],
        );
        check_rules(&with("ssm:/golden"), &["is neither | `resolve:ssm:/golden`"]);
        check_rules(&with("ami-123"), &["is neither | 8 or 17 hexadecimal digits"]);
        check_rules(&with("'resolve:ssm:golden/web'"), &["`golden/web` is no SSM parameter name"]);
        check_rules(&bastion(", instance_type: T3.Micro"), &["`T3.Micro` is no EC2 instance type | `t3.micro`"]);
    }

    #[test]
    fn imds_limits() {
        check_rules(&bastion(", metadata: { hop_limit: 65 }"), &["hop limit 65 is outside 1-64"]);
        check_rules(&bastion(", metadata: { hop_limit: 0 }"), &["hop limit 0 is outside 1-64"]);
        check_rules(&bastion(", metadata: { http_tokens: v2 }"), &["required, optional"]);
    }

    #[test]
    fn root_volume_limits() {
        let with = |rv: &str| bastion("").replace("root_volume: { size_gb: 8 }", rv);
        check_rules(&with("root_volume: { size_gb: 65536 }"), &[]);
        check_rules(&with("root_volume: { size_gb: 65537 }"), &["65537 GiB is outside 1-65536, what EBS allows of a gp3 volume"]);
        check_rules(&with("root_volume: { size_gb: 2048, type: standard }"), &["outside 1-1024 | standard"]);
        check_rules(&with("root_volume: { size_gb: 8, type: st1 }"), &["gp3, gp2, standard"]);
        check_rules(&with("root_volume: { size_gb: 8, encrypted: false }"), &["an unencrypted root volume is refused"]);
        check_rules(&with("root_volume: { type: gp3 }"), &["size_gb"]);
    }

    #[test]
    fn user_data_up_to_16_kb() {
        check_rules(&bastion(&format!(", user_data: '{}'", "x".repeat(16 * 1024))), &[]);
        check_rules(
            &bastion(&format!(", user_data: '{}'", "x".repeat(16 * 1024 + 1))),
            &["16385 bytes of user data; AWS takes at most 16384"],
        );
    }

    #[test]
    fn network_of_one_vpc() {
        check_rules(
            &bastion("").replace("security_groups: ['${sg.id}']", "security_groups: ['${sg.id}', '${osg.id}']"),
            &["security group `osg` is in VPC `other`, the instance's subnet in VPC `vpc`"],
        );
        check_rules(
            &bastion("").replace("security_groups: ['${sg.id}']", "security_groups: []"),
            &["at least one security group"],
        );
        check_rules(
            &bastion("").replace("subnet: '${a.id}'", "subnet: '${vpc.id}'"),
            &["`subnet` refers to `vpc`, a vpc: AWS expects the id of a subnet here"],
        );
    }

    #[test]
    fn key_pairs_by_name_and_profiles_not_roles() {
        check_rules(
            &bastion("").replace("key_name: '${key.name}'", "key_name: '${key.id}'"),
            &["`key_name` takes the key pair's name; `${key.id}` is not it | `${key.name}`"],
        );
        check_rules(&bastion(", iam_instance_profile: bastion-profile"), &[]);
        check_rules(
            &bastion(", iam_instance_profile: '${role.arn}'"),
            &["this names an IAM role; EC2 takes an instance profile"],
        );
    }
}
