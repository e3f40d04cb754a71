"""The portal network's EC2 rules (seed 003: network ACLs) that moto 5.2.5 lacks. Importing
this module adds its checks to `rules.RULES`.

Measured on moto 5.2.5 (boto3, us-east-1) before these rules: DeleteNetworkAcl of a VPC's
default network ACL succeeded and left the VPC's subnets associated with an ACL that no longer
existed; DeleteNetworkAcl of an ACL still associated with a subnet is refused by moto itself
(400 `DependencyViolation` "The network ACL 'acl-…' has dependencies and cannot be deleted.").
"""

from __future__ import annotations

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


RULES.update({(r.service, r.operation): r for r in [Rule("ec2", "DeleteNetworkAcl", delete_network_acl)]})
