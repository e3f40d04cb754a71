"""The portal network's EC2 rules (seed 003: network ACLs, VPC endpoints, instances) that moto
5.2.5 lacks, and the moto patches for it. Importing this module adds its checks to
`rules.RULES`; `patch_moto()` (called by strict_moto.py) fixes moto's models in both modes.

Measured on moto 5.2.5 (boto3, us-east-1) before these rules and patches:
- DeleteNetworkAcl of a VPC's default network ACL succeeded and left the VPC's subnets
  associated with an ACL that no longer existed; DeleteNetworkAcl of an ACL still associated
  with a subnet is refused by moto itself (400 `DependencyViolation` "The network ACL 'acl-…'
  has dependencies and cannot be deleted.").
- VPC endpoints: a gateway endpoint created without `VpcEndpointType` had none (AWS: `Gateway`)
  and reported `PrivateDnsEnabled: true`; ModifyVpcEndpoint Add/RemoveRouteTableIds changed
  `RouteTableIds` but no route; DeleteVpcEndpoints then answered 500 (no type) or 400
  `InvalidRoute.NotFound` (a route never added), and without a modify left the routes of the
  tables the endpoint had left. A second gateway endpoint of a service took over the first's
  route in a shared table. An interface endpoint's network interfaces had addresses outside
  their subnets and the VPC's default group (not the endpoint's), were not requester-managed,
  and did not follow Add/RemoveSubnetIds or the groups; ModifyVpcEndpoint ignored
  `PrivateDnsEnabled`; private DNS was accepted in a VPC without DNS hostnames.
- Instances: an instance's primary interface had `DeleteOnTermination: false` (AWS: true), so
  TerminateInstances kept it, with its Elastic IP association, holding the subnet and groups
  for good; ModifyInstanceAttribute `Groups` left the old groups on the interface;
  ModifyInstanceMetadataOptions dropped every option not sent; the instance type of a running
  instance was changed; an unknown AMI or key pair was accepted; `ImageId` `resolve:ssm:…` was
  kept as given. A disassociated Elastic IP answered `InstanceId` and `NetworkInterfaceId` "".
"""

from __future__ import annotations

import copy
import re
from collections.abc import Callable
from typing import Any

from datatier import _groups_in_vpc
from rules import RULES, Context, Refusal, Rule


def delete_network_acl(ctx: Context) -> Refusal | None:
    # "You can't delete the default network ACL"
    # (https://docs.aws.amazon.com/vpc/latest/userguide/default-network-acl.html); the API
    # answers 400 InvalidParameterValue "cannot delete default network ACL acl-…".
    acl_id = ctx.params.get("NetworkAclId", "")
    acl = ctx.ec2.network_acls.get(acl_id)
    if acl is not None and str(acl.default).lower() == "true":
        return Refusal(400, "InvalidParameterValue", f"cannot delete default network ACL {acl_id}")
    return None


# ---------------------------------------------------------------------------------------
# VPC endpoints. https://docs.aws.amazon.com/vpc/latest/privatelink/gateway-endpoints.html,
# https://docs.aws.amazon.com/vpc/latest/privatelink/create-interface-endpoint.html
# ---------------------------------------------------------------------------------------


def _listed(params: dict[str, Any], name: str) -> list[str]:
    """The members of an EC2 query list (`RouteTableId.1`, `RouteTableId.2`, …)."""
    pattern = re.compile(rf"{name}\.\d+")
    return [str(v) for k, v in params.items() if pattern.fullmatch(k)]


def _true(value: Any) -> bool:
    return str(value).lower() == "true"


def _private_dns(ctx: Context, vpc_id: str, enabled: Any) -> Refusal | None:
    # "To use private DNS, you must enable DNS hostnames and DNS resolution for your VPC"
    # (create-interface-endpoint.html); the answer as AWS sends it (400 InvalidParameter, seen
    # in users' Terraform logs). PrivateDnsEnabled defaults to true; a new VPC has DNS
    # hostnames off. moto 5.2.5 accepted it.
    vpc = ctx.ec2.vpcs.get(vpc_id)
    if vpc is None or not _true(enabled):
        return None
    if _true(vpc.enable_dns_support) and _true(vpc.enable_dns_hostnames):
        return None
    return Refusal(
        400,
        "InvalidParameter",
        "Enabling private DNS requires both enableDnsSupport and enableDnsHostnames VPC "
        f"attributes set to true for {vpc_id}",
    )


def _route_taken(
    ctx: Context, prefix_list: str | None, tables: list[str], own: Callable[[str], bool]
) -> Refusal | None:
    # A route table has one route per destination: a second gateway endpoint of a service in a
    # table is refused, "route table rtb-… already has a route with destination-prefix-list-id
    # pl-…" (400 InvalidParameter, as AWS answers it in users' Terraform and CloudFormation
    # logs). moto 5.2.5 made the endpoint and gave it the first one's route. Routes of `own`
    # endpoints do not count (the endpoint modified; the one a resent create's token made).
    for table_id in tables:
        table = ctx.ec2.route_tables.get(table_id)
        for route in table.routes if table is not None else []:
            taken = getattr(route.destination_prefix_list, "id", None) == prefix_list
            if prefix_list and taken and not own(getattr(route.gateway, "id", "")):
                return Refusal(
                    400,
                    "InvalidParameter",
                    f"route table {table_id} already has a route with destination-prefix-list-id "
                    f"{prefix_list}",
                )
    return None


def create_vpc_endpoint(ctx: Context) -> Refusal | None:
    ec2, params = ctx.ec2, ctx.params
    kind = params.get("VpcEndpointType", "Gateway")
    if kind == "Interface":
        return _private_dns(ctx, params.get("VpcId", ""), params.get("PrivateDnsEnabled", "true"))
    if kind != "Gateway":
        return None
    service = params.get("ServiceName")
    prefix_list = next(
        (p.id for p in ec2.managed_prefix_lists.values() if p.prefix_list_name == service), None
    )
    token = params.get("ClientToken")

    def resent(endpoint_id: str) -> bool:
        endpoint = ec2.vpc_end_points.get(endpoint_id)
        return bool(token) and endpoint is not None and endpoint.client_token == token

    return _route_taken(ctx, prefix_list, _listed(params, "RouteTableId"), resent)


def modify_vpc_endpoint(ctx: Context) -> Refusal | None:
    endpoint = ctx.ec2.vpc_end_points.get(ctx.params.get("VpcEndpointId", ""))
    if endpoint is None:
        return None
    if endpoint.vpc_endpoint_type == "Interface":
        return _private_dns(ctx, endpoint.vpc_id, ctx.params.get("PrivateDnsEnabled"))
    tables = _listed(ctx.params, "AddRouteTableId")
    prefix_list = endpoint.destination_prefix_list_id
    return _route_taken(ctx, prefix_list, tables, lambda by: by == endpoint.id)


def _endpoint_routes(ec2: Any, endpoint: Any, tables: list[str], add: bool) -> None:
    """A gateway endpoint's route (its service's prefix list, `GatewayId` the endpoint) is in
    each of its route tables, and only there."""
    for table_id in tables:
        table = ec2.route_tables.get(table_id)
        if table is None or not endpoint.destination_prefix_list_id:
            continue
        if add:
            ec2.create_route(
                table_id,
                None,
                gateway_id=endpoint.id,
                destination_prefix_list_id=endpoint.destination_prefix_list_id,
            )
            continue
        for key, route in list(table._routes.items()):
            if getattr(route.gateway, "id", None) == endpoint.id:
                del table._routes[key]


def _endpoint_interfaces(ec2: Any, endpoint: Any) -> None:
    """An interface endpoint has one requester-managed network interface per subnet
    (description "VPC Endpoint Interface vpce-…", type `vpc_endpoint`) with the endpoint's
    groups, the VPC's default group when none is given; none once it is deleted."""
    live = endpoint.state != "deleted"
    if live:
        endpoint.security_group_ids = _groups_in_vpc(
            ec2, endpoint.security_group_ids, endpoint.vpc_id
        )
    groups = [ec2.get_security_group_from_id(g) for g in endpoint.security_group_ids]
    kept = []
    for eni_id in endpoint.network_interface_ids:
        eni = ec2.enis.get(eni_id)
        if eni is not None and live and eni.subnet.id in endpoint.subnet_ids:
            eni._group_set = [g for g in groups if g is not None]
            kept.append(eni)
        elif eni is not None:
            ec2.enis.pop(eni_id)
    placed = {e.subnet.id for e in kept}
    for subnet_id in [s for s in endpoint.subnet_ids if s not in placed and live]:
        eni = ec2.create_network_interface(
            ec2.get_subnet(subnet_id),
            None,
            group_ids=list(endpoint.security_group_ids),
            description=f"VPC Endpoint Interface {endpoint.id}",
        )
        eni.requester_managed, eni.interface_type, eni.status = True, "vpc_endpoint", "in-use"
        kept.append(eni)
    endpoint.network_interface_ids = [e.id for e in kept]


def vpc_endpoints() -> None:
    """Gateway endpoints: type `Gateway` by default, `PrivateDnsEnabled` false, routes that
    follow ModifyVpcEndpoint and go with DeleteVpcEndpoints. Interface endpoints: their network
    interfaces (above), and ModifyVpcEndpoint's `PrivateDnsEnabled` kept."""
    from moto.ec2.models import EC2Backend
    from moto.ec2.responses.vpcs import VPCs

    create, modify, modify_call = (
        EC2Backend.create_vpc_endpoint,
        EC2Backend.modify_vpc_endpoint,
        VPCs.modify_vpc_endpoint,
    )

    def create_vpc_endpoint(self: Any, **kw: Any) -> Any:
        kw["endpoint_type"] = kw.get("endpoint_type") or "Gateway"
        interface = kw["endpoint_type"] == "Interface"
        kw["private_dns_enabled"] = interface and kw.get("private_dns_enabled") is not False
        endpoint = create(self, **kw)
        if interface:
            # moto's interfaces have addresses from outside their subnets: made anew.
            for eni_id in endpoint.network_interface_ids:
                self.enis.pop(eni_id, None)
            endpoint.network_interface_ids = []
            _endpoint_interfaces(self, endpoint)
        return endpoint

    def modify_vpc_endpoint(self: Any, **kw: Any) -> None:
        endpoint = self.get_vpc_end_point(kw["vpc_id"])
        before = list(endpoint.route_table_ids)
        modify(self, **kw)
        after = endpoint.route_table_ids
        _endpoint_routes(self, endpoint, [t for t in before if t not in after], add=False)
        _endpoint_routes(self, endpoint, [t for t in after if t not in before], add=True)
        if endpoint.vpc_endpoint_type == "Interface":
            _endpoint_interfaces(self, endpoint)

    def delete_vpc_endpoints(self: Any, vpce_ids: list[str] | None = None) -> None:
        for endpoint in [self.vpc_end_points.get(i) for i in vpce_ids or []]:
            if endpoint is not None and endpoint.state != "deleted":
                _endpoint_routes(self, endpoint, endpoint.route_table_ids, add=False)
                endpoint.state = "deleted"
                _endpoint_interfaces(self, endpoint)

    def modify_vpc_endpoint_call(self: Any) -> Any:
        result = modify_call(self)
        enabled = self._get_bool_param("PrivateDnsEnabled")
        endpoint = self.ec2_backend.get_vpc_end_point(self._get_param("VpcEndpointId"))
        if enabled is not None and endpoint.vpc_endpoint_type == "Interface":
            endpoint.private_dns_enabled = enabled
        return result

    EC2Backend.create_vpc_endpoint = create_vpc_endpoint  # type: ignore[method-assign]
    EC2Backend.modify_vpc_endpoint = modify_vpc_endpoint  # type: ignore[method-assign]
    EC2Backend.delete_vpc_endpoints = delete_vpc_endpoints  # type: ignore[method-assign]
    VPCs.modify_vpc_endpoint = modify_vpc_endpoint_call  # type: ignore[method-assign]


# ---------------------------------------------------------------------------------------
# Instances
# ---------------------------------------------------------------------------------------


def _instance(ctx: Context) -> Any:
    try:
        return ctx.ec2.get_instance(ctx.params.get("InstanceId", ""))
    except Exception:
        return None


def run_instances(ctx: Context) -> Refusal | None:
    # An AMI or key pair the region does not have: 400 InvalidAMIID.NotFound "The image id
    # '[ami-…]' does not exist", 400 InvalidKeyPair.NotFound "The key pair '…' does not exist"
    # (https://docs.aws.amazon.com/AWSEC2/latest/APIReference/errors-overview.html; texts as
    # AWS sends them). A `resolve:ssm:` image is the parameter's value.
    ec2, image = ctx.ec2, str(ctx.params.get("ImageId", ""))
    if image.startswith("resolve:ssm:"):
        image = _ssm_value(ctx.account, ctx.region, image) or ""
    if image and image not in ec2.amis:
        return Refusal(400, "InvalidAMIID.NotFound", f"The image id '[{image}]' does not exist")
    key = ctx.params.get("KeyName")
    if key and key not in ec2.key_pairs:
        return Refusal(400, "InvalidKeyPair.NotFound", f"The key pair '{key}' does not exist")
    return None


def modify_instance_attribute(ctx: Context) -> Refusal | None:
    # "You must stop your instance before you can change its instance type"
    # (https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/change-instance-type-of-ebs-backed-instance.html),
    # and before changing its user data
    # (https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/user-data.html): 400
    # IncorrectInstanceState "The instance 'i-…' is not in the 'stopped' state." (as the AWS
    # CLI prints it). moto 5.2.5 changed a running instance's type.
    params = ctx.params
    changes = {params.get("Attribute")} | {k.split(".")[0] for k in params if k.endswith(".Value")}
    instance = _instance(ctx)
    if instance is None or not changes & {"instanceType", "userData", "InstanceType", "UserData"}:
        return None
    if instance._state.name != "stopped":
        return Refusal(
            400,
            "IncorrectInstanceState",
            f"The instance '{instance.id}' is not in the 'stopped' state.",
        )
    return None


def _ssm_value(account: str, region: str, image: str) -> str | None:
    from moto.ssm.models import ssm_backends

    parameter = ssm_backends[account][region].get_parameter(image[len("resolve:ssm:") :])
    return parameter.value if parameter is not None else None


def instances() -> None:
    """A primary interface made at launch is deleted with its instance unless the request says
    otherwise (`DeleteOnTermination` true by default, as AWS reports it), its Elastic IP
    disassociated first; terminating a terminated instance changes nothing. Groups set by
    ModifyInstanceAttribute are the primary interface's groups. ModifyInstanceMetadataOptions
    keeps the options not sent. `ImageId` `resolve:ssm:NAME` launches the parameter's AMI
    (https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/finding-an-ami-parameter-store.html).
    A disassociated address answers no `InstanceId` / `NetworkInterfaceId`."""
    from moto.ec2.models import EC2Backend
    from moto.ec2.models.elastic_ip_addresses import ElasticAddress
    from moto.ec2.models.instances import Instance

    prep_nics, terminate = Instance.prep_nics, Instance.terminate
    run, set_groups = EC2Backend.run_instances, EC2Backend.modify_instance_security_groups
    set_options = EC2Backend.modify_instance_metadata_options

    def prep(self: Any, nic_spec: list[dict[str, Any]], *args: Any, **kw: Any) -> None:
        asked = {int(n.get("DeviceIndex", 0)): n for n in nic_spec}
        prep_nics(self, nic_spec, *args, **kw)
        for index, eni in self.nics.items():
            spec = asked.get(index, {})
            if not spec.get("NetworkInterfaceId"):
                eni.delete_on_termination = _true(spec.get("DeleteOnTermination", True))

    def terminate_(self: Any) -> Any:
        if self._state.name == "terminated":
            return copy.copy(self._state)
        backend = self.ec2_backend
        for address in backend.addresses:
            eni = address.eni
            if eni is not None and eni.instance is self and eni.delete_on_termination:
                backend.disassociate_address(address=address.public_ip)
        return terminate(self)

    def run_instances_(self: Any, image_id: str, *args: Any, **kw: Any) -> Any:
        if str(image_id).startswith("resolve:ssm:"):
            image_id = _ssm_value(self.account_id, self.region_name, image_id) or image_id
        return run(self, image_id, *args, **kw)

    def modify_instance_security_groups(self: Any, instance_id: str, group_ids: list[str]) -> Any:
        instance = set_groups(self, instance_id, group_ids)
        if 0 in instance.nics:
            instance.nics[0]._group_set = list(instance.security_groups)
        return instance

    def modify_instance_metadata_options(self: Any, instance_id: str, **kw: Any) -> Any:
        old = self.get_instance(instance_id).metadata_options
        kept = {
            "http_tokens": old.http_tokens,
            "hop_limit": old.http_put_response_hop_limit,
            "http_endpoint": old.http_endpoint,
            "http_protocol": old.http_protocol_ipv6,
            "metadata_tags": old.instance_metadata_tags,
        }
        sent = {k: v for k, v in kw.items() if v is not None}
        return set_options(self, instance_id, **{**kept, **sent})

    Instance.prep_nics = prep  # type: ignore[method-assign]
    Instance.terminate = terminate_  # type: ignore[method-assign]
    EC2Backend.run_instances = run_instances_  # type: ignore[method-assign]
    EC2Backend.modify_instance_security_groups = modify_instance_security_groups  # type: ignore[method-assign]
    EC2Backend.modify_instance_metadata_options = modify_instance_metadata_options  # type: ignore[method-assign]
    ElasticAddress.instance_id = property(lambda a: a.instance.id if a.instance else None)  # type: ignore[assignment,method-assign]
    ElasticAddress.network_interface_id = property(lambda a: a.eni.id if a.eni else None)  # type: ignore[assignment,method-assign]


def tagging_lists_the_portal_types() -> None:
    """The Tagging API lists Elastic IPs, network ACLs, VPC endpoints and key pairs on AWS
    (`ec2:elastic-ip`, `ec2:network-acl`, `ec2:vpc-endpoint`, `ec2:key-pair`; supported
    resource types of GetResources). moto 5.2.5's EC2 backend leaves them out, so a search by
    tag (teardown's discovery, `rprov import --tag`) missed them here only. A deleted endpoint
    (moto keeps it as `deleted`) is not listed."""
    from moto.ec2.models import EC2Backend
    from moto.core.resource_tagging import TaggedResource

    original = EC2Backend.iter_tagged_resources

    def iter_tagged_resources(self: Any) -> Any:
        yield from original(self)
        extra = {
            "ec2:elastic-ip": (a for a in self.addresses if a.allocation_id),
            "ec2:network-acl": self.network_acls.values(),
            "ec2:vpc-endpoint": (e for e in self.vpc_end_points.values() if e.state != "deleted"),
            "ec2:key-pair": self.key_pairs.values(),
        }
        for resource_type, resources in extra.items():
            type_part = resource_type.split(":", 1)[1]
            for resource in resources:
                yield TaggedResource(
                    arn=f"arn:{self.partition}:ec2:{self.region_name}:{self.account_id}:{type_part}/{resource.id}",
                    tags=dict(self.tags.get(resource.id, {})),
                    resource_type=resource_type,
                )

    EC2Backend.iter_tagged_resources = iter_tagged_resources  # type: ignore[method-assign]


def nat_gateway_interfaces() -> None:
    """moto makes a NAT gateway's network interface a plain `interface` without description;
    AWS reports it as `nat_gateway`, requester-managed, "Interface for NAT Gateway nat-…"."""
    from moto.ec2.models.nat_gateways import NatGateway

    init = NatGateway.__init__

    def __init__(self: Any, *args: Any, **kw: Any) -> None:
        init(self, *args, **kw)
        self._eni.interface_type = "nat_gateway"
        self._eni.description = f"Interface for NAT Gateway {self.id}"
        self._eni.requester_managed = True

    NatGateway.__init__ = __init__  # type: ignore[method-assign]


def patch_moto() -> None:
    vpc_endpoints()
    instances()
    tagging_lists_the_portal_types()
    nat_gateway_interfaces()


RULES.update(
    {
        (r.service, r.operation): r
        for r in [
            Rule("ec2", "DeleteNetworkAcl", delete_network_acl),
            Rule("ec2", "CreateVpcEndpoint", create_vpc_endpoint),
            Rule("ec2", "ModifyVpcEndpoint", modify_vpc_endpoint),
            Rule("ec2", "RunInstances", run_instances),
            Rule("ec2", "ModifyInstanceAttribute", modify_instance_attribute),
        ]
    }
)
