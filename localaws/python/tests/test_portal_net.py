"""Seed 003's network kinds (network ACLs, key pairs, VPC endpoints, instances): each AWS rule
moto 5.2.5 lacks, refused as AWS refuses it, and allowed once the cause is gone; and what moto
already does right, pinned."""

from __future__ import annotations

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
