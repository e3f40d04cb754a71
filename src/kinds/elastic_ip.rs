use async_trait::async_trait;
use aws_sdk_ec2::error::ProvideErrorMetadata;
use aws_sdk_ec2::types::{Address, DomainType, ResourceType};

use super::ec2::{self, client, settle};
use super::{CreateReq, DeleteReq, Kind, Live, UpdateReq};
use crate::aws::{AwsError, Cx, classify};
use crate::schema::{Attr, KindSchema, Prop, Ty};
use crate::spec::rules::{named, ref_target, wrong_kind};
use crate::spec::{KindSpec, Problem, Refusals, Subject};
use crate::value::{Props, Value};

pub struct ElasticIp;

static SCHEMA: KindSchema = KindSchema {
    name: "elastic_ip",
    doc: "A static public IPv4 address (VPC domain), e.g. for a NAT gateway (which takes it by its \
          `allocation_id`) or a bastion instance (`instance`).",
    props: &[Prop::new(
        "instance",
        Ty::Str,
        "The instance id (i-...) the address is associated with, at its primary private address. Changed by \
         disassociating, then associating; left out, the address is associated with no instance (a NAT gateway \
         that names it takes it itself).",
    )
    .aws("ec2:AssociateAddressRequest.InstanceId")],
    attrs: &[
        Attr::new("id", "The allocation id (eipalloc-...)."),
        Attr::new("public_ip", "The public IPv4 address."),
        Attr::new(
            "association_id",
            "The association id (eipassoc-...) while associated, with an instance or a NAT gateway's network \
             interface; empty otherwise.",
        ),
    ],
    taggable: true,
};

/// The instance an address is associated with: moto reports an empty `InstanceId` after a
/// disassociation, AWS none.
fn instance_of(a: &Address) -> Option<&str> {
    a.instance_id().filter(|i| !i.is_empty())
}

fn live(a: &Address) -> Live {
    let id = a.allocation_id().unwrap_or_default().to_owned();
    let mut props = Props::new();
    props.insert("instance".into(), instance_of(a).map_or(Value::Null, Value::str));
    let mut attrs = Props::new();
    attrs.insert("id".into(), Value::str(&id));
    attrs.insert("public_ip".into(), Value::str(a.public_ip().unwrap_or_default()));
    attrs.insert("association_id".into(), Value::str(a.association_id().unwrap_or_default()));
    // Tags come from DescribeAddresses itself: moto files EIP tags under another resource type
    // in DescribeTags, and one call per kind is the rule anyway.
    Live { physical_id: id, props, attrs, tags: ec2::from_sdk(a.tags()) }
}

async fn describe_one(cx: &Cx, id: &str) -> Result<Address, AwsError> {
    let out = client(cx).describe_addresses().allocation_ids(id).send().await.map_err(classify)?;
    out.addresses().first().cloned().ok_or_else(|| AwsError::NotFound(id.into()))
}

/// AssociateAddress without reassociation: an address associated elsewhere is refused
/// (Resource.AlreadyAssociated), never taken from what holds it. A resend after a lost answer
/// meets that refusal too, and is then this very association.
async fn associate(cx: &Cx, logical_id: &str, allocation: &str, instance: &str) -> Result<(), AwsError> {
    let sent = settle(cx, logical_id, &format!("address {allocation} and instance {instance}"), || async {
        match client(cx)
            .associate_address()
            .allocation_id(allocation)
            .instance_id(instance)
            .allow_reassociation(false)
            .send()
            .await
        {
            Ok(_) => Ok(None),
            Err(e) if e.code() == Some("Resource.AlreadyAssociated") => Ok(Some(classify(e))),
            Err(e) => Err(classify(e)),
        }
    })
    .await?;
    let Some(refused) = sent else { return Ok(()) };
    let a = describe_one(cx, allocation).await?;
    match instance_of(&a) {
        Some(i) if i == instance => Ok(()),
        Some(other) => Err(AwsError::Invalid(format!("{allocation} is associated with instance {other} ({refused})"))),
        None => Err(AwsError::Invalid(format!(
            "{allocation} is associated with {} ({refused})",
            a.network_interface_id().unwrap_or("another network interface")
        ))),
    }
}

/// Disassociates the address from its instance, if it is associated with one. An address a
/// NAT gateway holds is left alone: the gateway lets go of it when it is deleted.
async fn disassociate(cx: &Cx, a: &Address) -> Result<(), AwsError> {
    let Some(association) = a.association_id().filter(|_| instance_of(a).is_some()) else { return Ok(()) };
    ec2::gone_ok(
        client(cx).disassociate_address().association_id(association).send().await.map(|_| ()).map_err(classify),
    )
}

impl KindSpec for ElasticIp {
    fn schema(&self) -> &'static KindSchema {
        &SCHEMA
    }

    /// AWS (AssociateAddress): an address associated with an instance that has one already
    /// takes its place ("the existing address is disassociated from the instance"), so two
    /// addresses of the stack cannot both be an instance's; an address a NAT gateway uses cannot
    /// be associated with an instance too.
    fn check(&self, s: &Subject) -> Vec<Problem> {
        let mut out = Vec::new();
        let Some(e) = s.get("instance").filter(|e| named(Some(e)).is_some()) else { return out };
        out.extend(wrong_kind(s, "instance", e, &["instance"]));
        let mine = named(Some(e));
        let earlier = s
            .stack
            .of_kind("elastic_ip")
            .take_while(|(id, _)| *id != s.id)
            .find(|(_, p)| named(p.get("instance")) == mine)
            .map(|(id, _)| id);
        if let Some(other) = earlier {
            out.push(
                Problem::new(
                    "instance",
                    format!("elastic_ip `{other}` is associated with this instance already: the second would take its place"),
                )
                .help("give the instance one Elastic IP"),
            );
        }
        let nat = s.stack.referrers(s.id).find(|(_, kind, p)| {
            *kind == "nat_gateway" && p.get("allocation_id").and_then(ref_target) == Some(s.id)
        });
        if let Some((gateway, _, _)) = nat {
            out.push(Problem::new(
                "instance",
                format!("NAT gateway `{gateway}` uses this Elastic IP: AWS refuses to associate it with an instance too"),
            ));
        }
        out
    }

    /// No instance written: associated with none (so leaving `instance` out disassociates).
    fn normalise(&self, _stack: &str, _id: &str, props: &mut Props) {
        props.entry("instance".into()).or_insert(Value::Null);
    }

    fn holds(&self) -> &'static [&'static str] {
        &["internet_gateway"]
    }

    fn arn(&self) -> Option<(&'static str, &'static str)> {
        Some(("ec2", "elastic-ip"))
    }

    fn refusals(&self) -> Refusals {
        Refusals::Modelled(&[("ec2", "ReleaseAddress"), ("ec2", "AllocateAddress")])
    }
}

#[async_trait]
impl Kind for ElasticIp {
    async fn read_many(&self, cx: &Cx, _ids: &[String]) -> Result<Vec<Live>, AwsError> {
        // DescribeAddresses is not paginated: one call returns every address of the region.
        let out = client(cx).describe_addresses().send().await.map_err(classify)?;
        Ok(out
            .addresses()
            .iter()
            .filter(|a| a.domain() != Some(&DomainType::Standard) && a.allocation_id().is_some())
            .map(live)
            .collect())
    }

    async fn create(&self, cx: &Cx, req: &CreateReq<'_>) -> Result<Live, AwsError> {
        let out = client(cx)
            .allocate_address()
            .domain(DomainType::Vpc)
            .tag_specifications(ec2::tag_spec(ResourceType::ElasticIp, req.tags))
            .customize()
            .config_override(ec2::no_resend())
            .send()
            .await
            .map_err(crate::aws::classify_unretried)?;
        let id =
            out.allocation_id().ok_or_else(|| AwsError::Failed("AllocateAddress returned no allocation id".into()))?;
        let Some(instance) = req.props.get("instance").and_then(Value::as_str) else {
            let mut props = Props::new();
            props.insert("instance".into(), Value::Null);
            let mut attrs = Props::new();
            attrs.insert("id".into(), Value::str(id));
            attrs.insert("public_ip".into(), Value::str(out.public_ip().unwrap_or_default()));
            attrs.insert("association_id".into(), Value::str(""));
            return Ok(Live { physical_id: id.to_owned(), props, attrs, tags: req.tags.clone() });
        };
        // Allocated and tagged: if the association fails, the next apply finds the address by its
        // tags and associates it as an update.
        associate(cx, req.id, id, instance).await?;
        let mut l = live(&describe_one(cx, id).await?);
        if l.tags.is_empty() {
            l.tags = req.tags.clone();
        }
        Ok(l)
    }

    async fn update(&self, cx: &Cx, req: &UpdateReq<'_>) -> Result<Live, AwsError> {
        if req.changed.iter().any(|c| c == "instance") {
            // From the association AWS has now, not the one recorded: the instance may have been
            // replaced (its termination ended the association) or the address moved by hand.
            let a = describe_one(cx, req.physical_id).await?;
            let want = req.new.get("instance").and_then(Value::as_str);
            if instance_of(&a) != want {
                disassociate(cx, &a).await?;
                if let Some(instance) = want {
                    associate(cx, req.id, req.physical_id, instance).await?;
                }
            }
        }
        if req.changed.iter().any(|c| c == "tags") {
            ec2::retag(cx, req.physical_id, req.old_tags, req.tags).await?;
        }
        Ok(live(&describe_one(cx, req.physical_id).await?))
    }

    async fn delete(&self, cx: &Cx, req: &DeleteReq<'_>) -> Result<(), AwsError> {
        // ReleaseAddress refuses an address associated with an instance (InvalidIPAddress.InUse):
        // it is disassociated first, by the association DescribeAddresses reports now.
        match describe_one(cx, req.physical_id).await {
            Err(AwsError::NotFound(_)) => return Ok(()),
            Err(e) => return Err(e),
            Ok(a) => disassociate(cx, &a).await?,
        }
        match client(cx).release_address().allocation_id(req.physical_id).send().await {
            Ok(_) => Ok(()),
            // AWS answers AuthFailure, not InvalidIPAddress.InUse, while a NAT gateway holds the
            // address, and for a short while after the gateway reached `deleted` (kops#938,
            // grafiti#89, sno-for-100#9). It also answers AuthFailure for an address released
            // before and since allocated to another account (ReleaseAddress docs). Whether the
            // address is still ours tells the two apart; AuthFailure is not InUse in general
            // (bad credentials), so it is classified here and not in `aws::error`.
            Err(e) if e.code() == Some("AuthFailure") => match describe_one(cx, req.physical_id).await {
                Err(AwsError::NotFound(_)) => Ok(()),
                Err(other) => Err(other),
                Ok(_) => Err(AwsError::InUse(format!(
                    "{}: still held by a NAT gateway or another AWS service ({})",
                    req.physical_id,
                    e.message().unwrap_or("AuthFailure")
                ))),
            },
            // InvalidIPAddress.InUse (associated with an instance or ENI) is InUse, retried by
            // the executor; InvalidAllocationID.NotFound means released already.
            Err(e) => ec2::gone_ok::<()>(Err(classify(e))),
        }
    }
}

#[cfg(test)]
mod tests {
    use aws_sdk_ec2::Client;
    use aws_sdk_ec2::operation::associate_address::{AssociateAddressError, AssociateAddressOutput};
    use aws_sdk_ec2::operation::describe_addresses::DescribeAddressesOutput;
    use aws_sdk_ec2::operation::disassociate_address::DisassociateAddressOutput;
    use aws_sdk_ec2::operation::release_address::ReleaseAddressOutput;
    use aws_smithy_mocks::{RuleMode, mock, mock_client};
    use aws_smithy_types::error::ErrorMetadata;

    use super::*;
    use crate::kinds::Tags;
    use crate::kinds::testing::mocked;

    const ID: &str = "eipalloc-1";

    fn address(instance: Option<&str>, association: Option<&str>) -> Address {
        Address::builder()
            .allocation_id(ID)
            .public_ip("198.51.100.7")
            .domain(DomainType::Vpc)
            .set_instance_id(instance.map(str::to_owned))
            .set_association_id(association.map(str::to_owned))
            .build()
    }

    fn described(a: Address) -> DescribeAddressesOutput {
        DescribeAddressesOutput::builder().addresses(a).build()
    }

    #[test]
    fn no_instance_reads_back_as_none_written() {
        let mut want = Props::new();
        ElasticIp.normalise("s", "eip", &mut want);
        assert_eq!(live(&address(None, None)).props, want);
        // moto after a disassociation; a NAT gateway's address (an association, no instance).
        assert_eq!(live(&address(Some(""), None)).props, want);
        assert_eq!(live(&address(None, Some("eipassoc-nat"))).props, want);
        assert_eq!(live(&address(Some("i-1"), Some("eipassoc-1"))).props["instance"], Value::str("i-1"));
    }

    /// A resend after a lost answer meets its own association: refused as already associated,
    /// with this instance, which is success.
    #[tokio::test(start_paused = true)]
    async fn an_association_already_made_with_the_instance_is_this_one() {
        let associate_rule = mock!(Client::associate_address)
            .match_requests(|r| r.allow_reassociation() == Some(false))
            .then_error(|| {
                AssociateAddressError::generic(ErrorMetadata::builder().code("Resource.AlreadyAssociated").build())
            });
        let describe = mock!(Client::describe_addresses).then_output(|| described(address(Some("i-1"), Some("eipassoc-1"))));
        let (cx, _) = mocked(mock_client!(aws_sdk_ec2, RuleMode::MatchAny, [&associate_rule, &describe]));

        assert_eq!(associate(&cx, "eip", ID, "i-1").await, Ok(()));
        let other = associate(&cx, "eip", ID, "i-2").await.unwrap_err();
        assert!(matches!(&other, AwsError::Invalid(m) if m.starts_with("eipalloc-1 is associated with instance i-1")), "{other:?}");
    }

    /// Moving to another instance: the current association (read from AWS) goes first.
    #[tokio::test(start_paused = true)]
    async fn update_moves_the_address_by_disassociating_first() {
        let describe = mock!(Client::describe_addresses)
            .sequence()
            .output(|| described(address(Some("i-old"), Some("eipassoc-old"))))
            .output(|| described(address(Some("i-new"), Some("eipassoc-new"))))
            .build();
        let disassociate_rule = mock!(Client::disassociate_address)
            .match_requests(|r| r.association_id() == Some("eipassoc-old"))
            .then_output(|| DisassociateAddressOutput::builder().build());
        let associate_rule = mock!(Client::associate_address)
            .match_requests(|r| r.instance_id() == Some("i-new") && r.allow_reassociation() == Some(false))
            .then_output(|| AssociateAddressOutput::builder().association_id("eipassoc-new").build());
        let (cx, _) =
            mocked(mock_client!(aws_sdk_ec2, RuleMode::MatchAny, [&describe, &disassociate_rule, &associate_rule]));
        let old = Props::from([("instance".to_string(), Value::str("i-old"))]);
        let new = Props::from([("instance".to_string(), Value::str("i-new"))]);
        let tags = Tags::new();
        let changed = ["instance".to_string()];
        let req = UpdateReq {
            id: "eip",
            physical_id: ID,
            old: &old,
            new: &new,
            changed: &changed,
            old_tags: &tags,
            tags: &tags,
        };

        let l = ElasticIp.update(&cx, &req).await.unwrap();

        assert_eq!(l.props["instance"], Value::str("i-new"));
        assert_eq!(l.attrs["association_id"], Value::str("eipassoc-new"));
        assert_eq!((disassociate_rule.num_calls(), associate_rule.num_calls()), (1, 1));
    }

    #[tokio::test(start_paused = true)]
    async fn delete_disassociates_from_the_instance_then_releases() {
        let describe = mock!(Client::describe_addresses).then_output(|| described(address(Some("i-1"), Some("eipassoc-1"))));
        let disassociate_rule = mock!(Client::disassociate_address)
            .match_requests(|r| r.association_id() == Some("eipassoc-1"))
            .then_output(|| DisassociateAddressOutput::builder().build());
        let release = mock!(Client::release_address).then_output(|| ReleaseAddressOutput::builder().build());
        let (cx, _) =
            mocked(mock_client!(aws_sdk_ec2, RuleMode::Sequential, [&describe, &disassociate_rule, &release]));
        let none = Props::new();

        ElasticIp.delete(&cx, &DeleteReq { id: "eip", physical_id: ID, props: &none, attrs: &none }).await.unwrap();

        assert_eq!((disassociate_rule.num_calls(), release.num_calls()), (1, 1));
    }

    /// A NAT gateway's address: its association is the gateway's, never undone here.
    #[tokio::test(start_paused = true)]
    async fn delete_leaves_a_nat_gateways_association_alone() {
        let describe =
            mock!(Client::describe_addresses).then_output(|| described(address(None, Some("eipassoc-nat"))));
        let release = mock!(Client::release_address).then_output(|| ReleaseAddressOutput::builder().build());
        let (cx, _) = mocked(mock_client!(aws_sdk_ec2, RuleMode::Sequential, [&describe, &release]));
        let none = Props::new();

        ElasticIp.delete(&cx, &DeleteReq { id: "eip", physical_id: ID, props: &none, attrs: &none }).await.unwrap();

        assert_eq!(release.num_calls(), 1);
    }
}

#[cfg(test)]
mod rule_tests {
    use crate::kinds::testing::check_rules;

    const NET: &str = "vpc: { type: vpc, cidr: 10.0.0.0/16 }
a: { type: subnet, vpc: '${vpc.id}', cidr: 10.0.0.0/24 }
sg: { type: security_group, vpc: '${vpc.id}' }
b: { type: instance, ami: ami-12345678, subnet: '${a.id}', security_groups: ['${sg.id}'], root_volume: { size_gb: 8 } }
";

    #[test]
    fn one_address_per_instance_and_not_a_nat_gateways() {
        check_rules(&format!("{NET}ip: {{ type: elastic_ip, instance: '${{b.id}}' }}"), &[]);
        check_rules(
            &format!("{NET}ip: {{ type: elastic_ip, instance: '${{b.id}}' }}\nip2: {{ type: elastic_ip, instance: '${{b.id}}' }}"),
            &["elastic_ip `ip` is associated with this instance already"],
        );
        check_rules(
            &format!("{NET}ip: {{ type: elastic_ip, instance: '${{b.id}}' }}\nnat: {{ type: nat_gateway, subnet: '${{a.id}}', allocation_id: '${{ip.id}}' }}"),
            &["NAT gateway `nat` uses this Elastic IP"],
        );
        check_rules(
            &format!("{NET}ip: {{ type: elastic_ip, instance: '${{a.id}}' }}"),
            &["`instance` refers to `a`, a subnet: AWS expects the id of an instance here"],
        );
    }
}
