"""Seed 003's network kinds (network ACLs, key pairs, VPC endpoints, instances): each AWS rule
moto 5.2.5 lacks, refused as AWS refuses it, and allowed once the cause is gone; and what moto
already does right, pinned."""

from __future__ import annotations

import json

from test_rules import network, refused


def default_acl(ec2, vpc: str) -> str:
    acls = ec2.describe_network_acls(
        Filters=[{"Name": "vpc-id", "Values": [vpc]}, {"Name": "default", "Values": ["true"]}]
    )["NetworkAcls"]
    return acls[0]["NetworkAclId"]


def test_delete_default_network_acl(aws):
    # "You can't delete the default network ACL."
    # https://docs.aws.amazon.com/vpc/latest/userguide/default-network-acl.html
    # moto 5.2.5 deleted it.
    ec2 = aws.client("ec2")
    vpc, [subnet] = network(ec2)
    default = default_acl(ec2, vpc)
    refused(
        lambda: ec2.delete_network_acl(NetworkAclId=default),
        "InvalidParameterValue",
        400,
        f"cannot delete default network ACL {default}",
    )
    # A custom ACL with no subnet goes.
    custom = ec2.create_network_acl(VpcId=vpc)["NetworkAcl"]["NetworkAclId"]
    ec2.delete_network_acl(NetworkAclId=custom)
    assert default_acl(ec2, vpc) == default


def test_delete_associated_network_acl(aws):
    # "You can't delete a network ACL that is associated with a subnet"
    # https://docs.aws.amazon.com/vpc/latest/userguide/delete-network-acl.html
    # moto refuses it itself; pinned here with its text.
    ec2 = aws.client("ec2")
    vpc, [subnet] = network(ec2)
    default = default_acl(ec2, vpc)
    custom = ec2.create_network_acl(VpcId=vpc)["NetworkAcl"]["NetworkAclId"]
    [acl] = ec2.describe_network_acls(NetworkAclIds=[default])["NetworkAcls"]
    association = next(a for a in acl["Associations"] if a["SubnetId"] == subnet)
    moved = ec2.replace_network_acl_association(
        AssociationId=association["NetworkAclAssociationId"], NetworkAclId=custom
    )["NewAssociationId"]
    refused(
        lambda: ec2.delete_network_acl(NetworkAclId=custom),
        "DependencyViolation",
        400,
        f"The network ACL '{custom}' has dependencies and cannot be deleted.",
    )
    # Back to the default ACL, as AWS requires, then the custom ACL goes.
    ec2.replace_network_acl_association(AssociationId=moved, NetworkAclId=default)
    ec2.delete_network_acl(NetworkAclId=custom)


def test_create_network_acl_client_token_is_replayed(aws):
    # ClientToken: https://docs.aws.amazon.com/ec2/latest/devguide/ec2-api-idempotency.html
    # moto 5.2.5 made a second ACL.
    ec2 = aws.client("ec2")
    vpc, _ = network(ec2)
    first = ec2.create_network_acl(VpcId=vpc, ClientToken="acl-token")["NetworkAcl"]["NetworkAclId"]
    again = ec2.create_network_acl(VpcId=vpc, ClientToken="acl-token")["NetworkAcl"]["NetworkAclId"]
    assert again == first
    acls = ec2.describe_network_acls(Filters=[{"Name": "vpc-id", "Values": [vpc]}])["NetworkAcls"]
    assert len(acls) == 2  # the default and the one created


# --- VPC endpoints -----------------------------------------------------------------------

S3 = "com.amazonaws.us-east-1.s3"
FULL_ACCESS = {
    "Version": "2008-10-17",
    "Statement": [{"Effect": "Allow", "Principal": "*", "Action": "*", "Resource": "*"}],
}


def prefix_list(ec2, service: str = S3) -> str:
    [pl] = ec2.describe_prefix_lists(Filters=[{"Name": "prefix-list-name", "Values": [service]}])[
        "PrefixLists"
    ]
    return pl["PrefixListId"]


def endpoint_routes(ec2, *tables: str) -> dict[str, list[tuple[str, str]]]:
    described = ec2.describe_route_tables(RouteTableIds=list(tables))["RouteTables"]
    return {
        t["RouteTableId"]: [
            (r["DestinationPrefixListId"], r["GatewayId"])
            for r in t["Routes"]
            if "DestinationPrefixListId" in r
        ]
        for t in described
    }


def endpoint(ec2, endpoint_id: str) -> dict:
    return ec2.describe_vpc_endpoints(VpcEndpointIds=[endpoint_id])["VpcEndpoints"][0]


def test_prefix_lists_name_the_gateway_services(aws):
    # The route a gateway endpoint adds goes to its service's AWS-managed prefix list
    # (https://docs.aws.amazon.com/vpc/latest/privatelink/gateway-endpoints.html#gateway-endpoint-routing);
    # DescribePrefixLists and DescribeManagedPrefixLists find it by name. moto 5.2.5 does this
    # right (the id is random per reset, never AWS's); pinned.
    ec2 = aws.client("ec2")
    s3 = prefix_list(ec2)
    managed = ec2.describe_managed_prefix_lists(
        Filters=[{"Name": "prefix-list-name", "Values": [S3]}]
    )["PrefixLists"]
    assert s3.startswith("pl-") and [m["PrefixListId"] for m in managed] == [s3]
    assert managed[0]["OwnerId"] == "AWS"
    assert prefix_list(ec2, "com.amazonaws.us-east-1.dynamodb") != s3


def test_create_vpc_endpoint_client_token_is_replayed(aws):
    # ClientToken: https://docs.aws.amazon.com/ec2/latest/devguide/ec2-api-idempotency.html
    # moto 5.2.5 made a second endpoint, which took the first's route.
    ec2 = aws.client("ec2")
    vpc, _ = network(ec2)
    table = ec2.create_route_table(VpcId=vpc)["RouteTable"]["RouteTableId"]
    create = dict(VpcId=vpc, ServiceName=S3, RouteTableIds=[table], ClientToken="vpce-token")
    first = ec2.create_vpc_endpoint(**create)["VpcEndpoint"]["VpcEndpointId"]
    assert ec2.create_vpc_endpoint(**create)["VpcEndpoint"]["VpcEndpointId"] == first
    assert [e["VpcEndpointId"] for e in ec2.describe_vpc_endpoints()["VpcEndpoints"]] == [first]
    assert endpoint_routes(ec2, table) == {table: [(prefix_list(ec2), first)]}


def test_gateway_endpoint_as_described(aws):
    # CreateVpcEndpoint: VpcEndpointType defaults to Gateway; "If this parameter is not
    # specified, we attach a default policy that allows full access to the service"; private
    # DNS is for interface endpoints (gateway endpoints report false).
    # https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_CreateVpcEndpoint.html
    # moto 5.2.5 reported no VpcEndpointType and PrivateDnsEnabled true.
    ec2 = aws.client("ec2")
    vpc, _ = network(ec2)
    tag = [{"ResourceType": "vpc-endpoint", "Tags": [{"Key": "Name", "Value": "s3"}]}]
    made = ec2.create_vpc_endpoint(VpcId=vpc, ServiceName=S3, TagSpecifications=tag)
    e = endpoint(ec2, made["VpcEndpoint"]["VpcEndpointId"])
    assert (e["VpcEndpointType"], e["ServiceName"], e["State"]) == ("Gateway", S3, "available")
    assert e["PrivateDnsEnabled"] is False
    assert json.loads(e["PolicyDocument"]) == FULL_ACCESS
    assert e["Tags"] == [{"Key": "Name", "Value": "s3"}]
    assert (e["SubnetIds"], e["NetworkInterfaceIds"], e["Groups"]) == ([], [], [])


def test_gateway_endpoint_routes_follow_its_route_tables(aws):
    # ModifyVpcEndpoint AddRouteTableIds / RemoveRouteTableIds add and remove the endpoint's
    # route (destination: the service's prefix list, target: the endpoint), and deleting the
    # endpoint removes its routes
    # (https://docs.aws.amazon.com/vpc/latest/privatelink/gateway-endpoints.html#gateway-endpoint-routing).
    # moto 5.2.5 changed RouteTableIds only, then DeleteVpcEndpoints failed with
    # InvalidRoute.NotFound (500 for an endpoint created without VpcEndpointType).
    ec2 = aws.client("ec2")
    vpc, _ = network(ec2)
    one, two = (ec2.create_route_table(VpcId=vpc)["RouteTable"]["RouteTableId"] for _ in "12")
    made = ec2.create_vpc_endpoint(VpcId=vpc, ServiceName=S3, RouteTableIds=[one])
    vpce, s3 = made["VpcEndpoint"]["VpcEndpointId"], prefix_list(ec2)
    assert endpoint_routes(ec2, one, two) == {one: [(s3, vpce)], two: []}
    ec2.modify_vpc_endpoint(VpcEndpointId=vpce, AddRouteTableIds=[two], RemoveRouteTableIds=[one])
    assert endpoint(ec2, vpce)["RouteTableIds"] == [two]
    assert endpoint_routes(ec2, one, two) == {one: [], two: [(s3, vpce)]}
    ec2.modify_vpc_endpoint(VpcEndpointId=vpce, AddRouteTableIds=[one])
    assert sorted(endpoint(ec2, vpce)["RouteTableIds"]) == sorted([one, two])
    assert endpoint_routes(ec2, one, two) == {one: [(s3, vpce)], two: [(s3, vpce)]}
    assert ec2.delete_vpc_endpoints(VpcEndpointIds=[vpce])["Unsuccessful"] == []
    assert endpoint_routes(ec2, one, two) == {one: [], two: []}
    assert endpoint(ec2, vpce)["State"] == "deleted"


def test_second_gateway_endpoint_of_a_service_in_a_route_table(aws):
    # A route table holds one route per destination; AWS answers a second gateway endpoint of
    # the service in it (create, or ModifyVpcEndpoint AddRouteTableIds) with 400
    # InvalidParameter "route table rtb-… already has a route with destination-prefix-list-id
    # pl-…" (as AWS sends it, in users' Terraform and CloudFormation logs). moto 5.2.5 made it
    # and moved the route to the second endpoint.
    ec2 = aws.client("ec2")
    vpc, _ = network(ec2)
    one, two = (ec2.create_route_table(VpcId=vpc)["RouteTable"]["RouteTableId"] for _ in "12")
    first = ec2.create_vpc_endpoint(VpcId=vpc, ServiceName=S3, RouteTableIds=[one])
    s3 = prefix_list(ec2)
    message = f"route table {one} already has a route with destination-prefix-list-id {s3}"
    refused(
        lambda: ec2.create_vpc_endpoint(VpcId=vpc, ServiceName=S3, RouteTableIds=[one]),
        "InvalidParameter",
        400,
        message,
    )
    second = ec2.create_vpc_endpoint(VpcId=vpc, ServiceName=S3, RouteTableIds=[two])
    vpce = second["VpcEndpoint"]["VpcEndpointId"]
    refused(
        lambda: ec2.modify_vpc_endpoint(VpcEndpointId=vpce, AddRouteTableIds=[one]),
        "InvalidParameter",
        400,
        message,
    )
    # Another service's endpoint shares the table.
    ec2.create_vpc_endpoint(
        VpcId=vpc, ServiceName="com.amazonaws.us-east-1.dynamodb", RouteTableIds=[one]
    )
    assert endpoint_routes(ec2, one)[one][0][1] == first["VpcEndpoint"]["VpcEndpointId"]


def test_interface_endpoint_holds_its_subnets_and_groups(aws):
    # An interface endpoint has a requester-managed network interface in each of its subnets,
    # with its security groups (https://docs.aws.amazon.com/vpc/latest/privatelink/create-interface-endpoint.html):
    # DeleteSubnet and DeleteSecurityGroup answer 400 DependencyViolation while it exists
    # (gruntwork-io/cloud-nuke#285). ModifyVpcEndpoint's subnets, groups and PrivateDnsEnabled
    # show in DescribeVpcEndpoints. moto 5.2.5 gave the interfaces the VPC's default group and
    # addresses outside their subnets, kept them through subnet changes, and ignored
    # PrivateDnsEnabled.
    ec2 = aws.client("ec2")
    vpc, [a, b] = network(ec2, 2)
    ec2.modify_vpc_attribute(VpcId=vpc, EnableDnsHostnames={"Value": True})
    sg1, sg2 = (
        ec2.create_security_group(GroupName=n, Description=n, VpcId=vpc)["GroupId"] for n in "xy"
    )
    made = ec2.create_vpc_endpoint(
        VpcId=vpc,
        VpcEndpointType="Interface",
        ServiceName="com.amazonaws.us-east-1.ssm",
        SubnetIds=[a],
        SecurityGroupIds=[sg1],
    )["VpcEndpoint"]
    vpce = made["VpcEndpointId"]
    assert made["PrivateDnsEnabled"] is True and made["VpcEndpointType"] == "Interface"

    def interfaces():
        e = endpoint(ec2, vpce)
        enis = ec2.describe_network_interfaces(NetworkInterfaceIds=e["NetworkInterfaceIds"])
        return e, {
            i["SubnetId"]: [g["GroupId"] for g in i["Groups"]] for i in enis["NetworkInterfaces"]
        }

    e, enis = interfaces()
    assert enis == {a: [sg1]} and e["SubnetIds"] == [a]
    [eni] = ec2.describe_network_interfaces(NetworkInterfaceIds=e["NetworkInterfaceIds"])[
        "NetworkInterfaces"
    ]
    assert eni["RequesterManaged"] and eni["InterfaceType"] == "vpc_endpoint"
    assert eni["Description"] == f"VPC Endpoint Interface {vpce}"
    assert eni["PrivateIpAddress"].startswith("10.0.0.")
    refused(lambda: ec2.delete_subnet(SubnetId=a), "DependencyViolation", 400)
    refused(lambda: ec2.delete_security_group(GroupId=sg1), "DependencyViolation", 400)

    ec2.modify_vpc_endpoint(
        VpcEndpointId=vpce,
        AddSubnetIds=[b],
        RemoveSubnetIds=[a],
        AddSecurityGroupIds=[sg2],
        RemoveSecurityGroupIds=[sg1],
        PrivateDnsEnabled=False,
    )
    e, enis = interfaces()
    assert enis == {b: [sg2]} and e["SubnetIds"] == [b]
    assert [g["GroupId"] for g in e["Groups"]] == [sg2] and e["PrivateDnsEnabled"] is False
    ec2.delete_subnet(SubnetId=a)
    ec2.delete_security_group(GroupId=sg1)
    refused(lambda: ec2.delete_subnet(SubnetId=b), "DependencyViolation", 400)

    ec2.delete_vpc_endpoints(VpcEndpointIds=[vpce])
    assert endpoint(ec2, vpce)["NetworkInterfaceIds"] == []
    ec2.delete_subnet(SubnetId=b)
    ec2.delete_security_group(GroupId=sg2)


def test_interface_endpoint_without_groups_takes_the_default_group(aws):
    # "If you do not specify a security group, we associate the default security group for
    # the VPC" (create-interface-endpoint.html). moto 5.2.5 reported no group.
    ec2 = aws.client("ec2")
    vpc, [subnet] = network(ec2)
    made = ec2.create_vpc_endpoint(
        VpcId=vpc,
        VpcEndpointType="Interface",
        ServiceName="com.amazonaws.us-east-1.ssm",
        SubnetIds=[subnet],
        PrivateDnsEnabled=False,
    )["VpcEndpoint"]
    assert [g["GroupName"] for g in made["Groups"]] == ["default"]


def test_interface_endpoint_private_dns_needs_the_vpcs_dns_attributes(aws):
    # Private DNS needs the VPC's DNS resolution and DNS hostnames on
    # (create-interface-endpoint.html); PrivateDnsEnabled defaults to true. AWS answers 400
    # InvalidParameter "Enabling private DNS requires both enableDnsSupport and
    # enableDnsHostnames VPC attributes set to true for vpc-…" (as AWS sends it). A new VPC
    # has DNS hostnames off. moto 5.2.5 accepted it.
    ec2 = aws.client("ec2")
    vpc, [subnet] = network(ec2)
    message = (
        "Enabling private DNS requires both enableDnsSupport and enableDnsHostnames VPC "
        f"attributes set to true for {vpc}"
    )
    create = dict(
        VpcId=vpc,
        VpcEndpointType="Interface",
        ServiceName="com.amazonaws.us-east-1.ssm",
        SubnetIds=[subnet],
    )
    refused(lambda: ec2.create_vpc_endpoint(**create), "InvalidParameter", 400, message)
    vpce = ec2.create_vpc_endpoint(**create, PrivateDnsEnabled=False)["VpcEndpoint"]
    refused(
        lambda: ec2.modify_vpc_endpoint(
            VpcEndpointId=vpce["VpcEndpointId"], PrivateDnsEnabled=True
        ),
        "InvalidParameter",
        400,
        message,
    )
    ec2.modify_vpc_attribute(VpcId=vpc, EnableDnsHostnames={"Value": True})
    ec2.modify_vpc_endpoint(VpcEndpointId=vpce["VpcEndpointId"], PrivateDnsEnabled=True)
    assert endpoint(ec2, vpce["VpcEndpointId"])["PrivateDnsEnabled"] is True


# --- Instances ---------------------------------------------------------------------------

AL2023 = "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64"


def bastion(aws, **extra):
    """A bastion as rprov's `instance` kind launches it: AMI from the public SSM parameter,
    IMDSv2 only, encrypted root volume, key pair, subnet and group."""
    ec2 = aws.client("ec2")
    vpc, [subnet] = network(ec2)
    group = ec2.create_security_group(GroupName="bastion", Description="b", VpcId=vpc)["GroupId"]
    ec2.create_key_pair(KeyName="ops")
    image = aws.client("ssm").get_parameter(Name=AL2023)["Parameter"]["Value"]
    launch = dict(
        ImageId=image,
        InstanceType="t3.micro",
        MinCount=1,
        MaxCount=1,
        KeyName="ops",
        SubnetId=subnet,
        SecurityGroupIds=[group],
        MetadataOptions={"HttpTokens": "required", "HttpEndpoint": "enabled"},
        BlockDeviceMappings=[
            {
                "DeviceName": "/dev/xvda",
                "Ebs": {"VolumeSize": 8, "VolumeType": "gp3", "Encrypted": True},
            }
        ],
        **extra,
    )
    [instance] = ec2.run_instances(**launch)["Instances"]
    return ec2, instance, subnet, group, launch


def described(ec2, instance_id: str) -> dict:
    return ec2.describe_instances(InstanceIds=[instance_id])["Reservations"][0]["Instances"][0]


def test_run_instances_client_token_is_replayed(aws):
    # ClientToken: https://docs.aws.amazon.com/ec2/latest/devguide/ec2-api-idempotency.html
    # moto 5.2.5 launched a second instance.
    ec2, instance, _, _, launch = bastion(aws, ClientToken="bastion-token")
    [again] = ec2.run_instances(**launch)["Instances"]
    assert again["InstanceId"] == instance["InstanceId"]
    reservations = ec2.describe_instances()["Reservations"]
    assert [i["InstanceId"] for r in reservations for i in r["Instances"]] == [again["InstanceId"]]


def test_bastion_as_described(aws):
    # What the instance kind reads back (DescribeInstances, DescribeVolumes) and changes in
    # place. ModifyInstanceMetadataOptions changes only the options sent
    # (https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_ModifyInstanceMetadataOptions.html);
    # ModifyInstanceAttribute Groups replaces the instance's (its primary interface's) groups
    # (https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_ModifyInstanceAttribute.html).
    # moto 5.2.5 dropped the options not sent and kept the old group on the interface (which
    # then still held it).
    ec2, instance, _, group, _ = bastion(aws)
    i = described(ec2, instance["InstanceId"])
    assert i["MetadataOptions"]["HttpTokens"] == "required" and i["KeyName"] == "ops"
    assert [g["GroupId"] for g in i["SecurityGroups"]] == [group]
    assert i["NetworkInterfaces"][0]["Attachment"]["DeleteOnTermination"] is True
    [root] = i["BlockDeviceMappings"]
    [volume] = ec2.describe_volumes(VolumeIds=[root["Ebs"]["VolumeId"]])["Volumes"]
    assert (volume["Encrypted"], volume["VolumeType"], volume["Size"]) == (True, "gp3", 8)

    ec2.modify_instance_metadata_options(InstanceId=i["InstanceId"], HttpPutResponseHopLimit=2)
    options = described(ec2, i["InstanceId"])["MetadataOptions"]
    assert (options["HttpTokens"], options["HttpPutResponseHopLimit"]) == ("required", 2)
    assert options["HttpEndpoint"] == "enabled"

    vpc = i["VpcId"]
    other = ec2.create_security_group(GroupName="other", Description="o", VpcId=vpc)["GroupId"]
    ec2.modify_instance_attribute(InstanceId=i["InstanceId"], Groups=[other])
    i = described(ec2, i["InstanceId"])
    assert [g["GroupId"] for g in i["SecurityGroups"]] == [other]
    assert [g["GroupId"] for g in i["NetworkInterfaces"][0]["Groups"]] == [other]
    ec2.delete_security_group(GroupId=group)


def test_terminated_instance_lets_go_of_its_interface_and_address(aws):
    # Terminating deletes the primary network interface (DeleteOnTermination is true for an
    # interface made at launch) and so disassociates its Elastic IP
    # (https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/terminating-instances.html,
    # https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/elastic-ip-addresses-eip.html):
    # the subnet and group can go. moto 5.2.5 kept both, so the strict rules refused
    # DeleteSubnet and DeleteSecurityGroup for good.
    ec2, instance, subnet, group, _ = bastion(aws)
    allocation = ec2.allocate_address(Domain="vpc")["AllocationId"]
    association = ec2.associate_address(InstanceId=instance["InstanceId"], AllocationId=allocation)
    [address] = ec2.describe_addresses(AllocationIds=[allocation])["Addresses"]
    assert address["InstanceId"] == instance["InstanceId"]
    assert address["AssociationId"] == association["AssociationId"]
    refused(lambda: ec2.delete_subnet(SubnetId=subnet), "DependencyViolation", 400)

    ec2.terminate_instances(InstanceIds=[instance["InstanceId"]])
    [address] = ec2.describe_addresses(AllocationIds=[allocation])["Addresses"]
    assert {"InstanceId", "AssociationId", "NetworkInterfaceId"} & set(address) == set()
    assert described(ec2, instance["InstanceId"])["State"]["Name"] == "terminated"
    # Terminating again changes nothing.
    ec2.terminate_instances(InstanceIds=[instance["InstanceId"]])
    ec2.delete_subnet(SubnetId=subnet)
    ec2.delete_security_group(GroupId=group)
    ec2.release_address(AllocationId=allocation)


def test_disassociate_address_by_association_id(aws):
    # AssociateAddress with InstanceId, DisassociateAddress by AssociationId: moto does it;
    # pinned, with the unassociated address answering no InstanceId (moto 5.2.5: "").
    ec2, instance, _, _, _ = bastion(aws)
    allocation = ec2.allocate_address(Domain="vpc")["AllocationId"]
    association = ec2.associate_address(InstanceId=instance["InstanceId"], AllocationId=allocation)
    ec2.disassociate_address(AssociationId=association["AssociationId"])
    [address] = ec2.describe_addresses(AllocationIds=[allocation])["Addresses"]
    assert {"InstanceId", "AssociationId", "NetworkInterfaceId"} & set(address) == set()


def test_instance_type_changes_on_a_stopped_instance(aws):
    # "You must stop your instance before you can change its instance type"
    # (https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/change-instance-type-of-ebs-backed-instance.html),
    # or its user data (https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/user-data.html):
    # 400 IncorrectInstanceState "The instance 'i-…' is not in the 'stopped' state." (as the
    # AWS CLI prints it). moto 5.2.5 changed a running instance's type.
    ec2, instance, _, _, _ = bastion(aws)
    instance_id = instance["InstanceId"]
    message = f"The instance '{instance_id}' is not in the 'stopped' state."
    refused(
        lambda: ec2.modify_instance_attribute(
            InstanceId=instance_id, InstanceType={"Value": "t3.small"}
        ),
        "IncorrectInstanceState",
        400,
        message,
    )
    refused(
        lambda: ec2.modify_instance_attribute(
            InstanceId=instance_id, Attribute="instanceType", Value="t3.small"
        ),
        "IncorrectInstanceState",
        400,
        message,
    )
    refused(
        lambda: ec2.modify_instance_attribute(
            InstanceId=instance_id, UserData={"Value": b"#!/bin/sh"}
        ),
        "IncorrectInstanceState",
        400,
        message,
    )
    ec2.stop_instances(InstanceIds=[instance_id])
    ec2.modify_instance_attribute(InstanceId=instance_id, InstanceType={"Value": "t3.small"})
    ec2.start_instances(InstanceIds=[instance_id])
    assert described(ec2, instance_id)["InstanceType"] == "t3.small"


def test_run_instances_with_an_unknown_image_or_key_pair(aws):
    # 400 InvalidAMIID.NotFound "The image id '[ami-…]' does not exist", 400
    # InvalidKeyPair.NotFound "The key pair '…' does not exist" (texts as AWS sends them);
    # moto 5.2.5 launched both. `resolve:ssm:NAME` launches the AMI the parameter names
    # (https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/finding-an-ami-parameter-store.html);
    # moto 5.2.5 kept the string as the instance's ImageId.
    ec2 = aws.client("ec2")
    ec2.create_key_pair(KeyName="ops")
    launch = dict(InstanceType="t3.micro", MinCount=1, MaxCount=1)
    refused(
        lambda: ec2.run_instances(ImageId="ami-12345678", **launch),
        "InvalidAMIID.NotFound",
        400,
        "The image id '[ami-12345678]' does not exist",
    )
    image = aws.client("ssm").get_parameter(Name=AL2023)["Parameter"]["Value"]
    assert ec2.describe_images(ImageIds=[image])["Images"][0]["Architecture"] == "x86_64"
    refused(
        lambda: ec2.run_instances(ImageId=image, KeyName="missing", **launch),
        "InvalidKeyPair.NotFound",
        400,
        "The key pair 'missing' does not exist",
    )
    [instance] = ec2.run_instances(ImageId=f"resolve:ssm:{AL2023}", KeyName="ops", **launch)[
        "Instances"
    ]
    assert instance["ImageId"] == image


def test_tagging_api_lists_addresses_acls_endpoints_and_key_pairs(aws):
    # GetResources lists ec2:elastic-ip, ec2:network-acl, ec2:vpc-endpoint and ec2:key-pair on
    # AWS; moto 5.2.5 listed none of them.
    ec2 = aws.client("ec2")
    vpc, _ = network(ec2)
    tag = {"Key": "rprov:stack", "Value": "listed"}

    def spec(kind: str) -> list:
        return [{"ResourceType": kind, "Tags": [tag]}]

    eip = ec2.allocate_address(Domain="vpc", TagSpecifications=spec("elastic-ip"))["AllocationId"]
    acl = ec2.create_network_acl(VpcId=vpc, TagSpecifications=spec("network-acl"))["NetworkAcl"][
        "NetworkAclId"
    ]
    table = ec2.create_route_table(VpcId=vpc)["RouteTable"]["RouteTableId"]
    endpoint = ec2.create_vpc_endpoint(
        VpcId=vpc,
        ServiceName="com.amazonaws.us-east-1.s3",
        RouteTableIds=[table],
        TagSpecifications=spec("vpc-endpoint"),
    )["VpcEndpoint"]["VpcEndpointId"]
    key = ec2.create_key_pair(KeyName="k", TagSpecifications=spec("key-pair"))["KeyPairId"]

    def listed() -> set:
        out = aws.client("resourcegroupstaggingapi").get_resources(
            TagFilters=[{"Key": "rprov:stack", "Values": ["listed"]}]
        )
        return {m["ResourceARN"].rsplit("/", 1)[-1] for m in out["ResourceTagMappingList"]}

    assert {eip, acl, endpoint, key} <= listed()
    ec2.delete_vpc_endpoints(VpcEndpointIds=[endpoint])
    assert endpoint not in listed(), "a deleted endpoint is not listed"


def test_a_nat_gateways_interface_is_reported_as_its(aws):
    # https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_NetworkInterface.html
    # (InterfaceType nat_gateway; RequesterManaged: made by a service); moto 5.2.5 reported a
    # plain `interface` without description
    ec2 = aws.client("ec2")
    vpc, [subnet] = network(ec2)
    allocation = ec2.allocate_address(Domain="vpc")["AllocationId"]
    nat = ec2.create_nat_gateway(SubnetId=subnet, AllocationId=allocation)["NatGateway"]["NatGatewayId"]
    [eni] = ec2.describe_network_interfaces(Filters=[{"Name": "vpc-id", "Values": [vpc]}])[
        "NetworkInterfaces"
    ]
    assert eni["InterfaceType"] == "nat_gateway"
    assert eni["RequesterManaged"] is True
    assert eni["Description"] == f"Interface for NAT Gateway {nat}"
