"""The data tier's AWS rules (RDS, ElastiCache, IAM, S3, Secrets Manager) that moto 5.2.5
lacks, the network interfaces AWS puts in a VPC for DB instances, cache nodes and DB proxies,
and the moto patches for these services. Importing this module adds its checks to
`rules.RULES`; the hooks after a successful call are in `AFTER`.

RDS and ElastiCache are awsQuery (XML, `http://rds.amazonaws.com/doc/2014-10-31/`,
`http://elasticache.amazonaws.com/doc/2015-02-02/`), IAM awsQuery, S3 REST XML, Secrets
Manager awsJson1.1: `wire.error_body` renders each refusal in its protocol. Codes and HTTP
statuses are those of the botocore models' error shapes.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from rules import RULES, Context, Refusal, Replayed, Rule
from wire import request_id

ELASTICACHE_XMLNS = "http://elasticache.amazonaws.com/doc/2015-02-02/"


def _true(value: Any) -> bool:
    return str(value).lower() == "true"


def _get_ci(mapping: Any, key: str) -> Any:
    """RDS identifiers are case-insensitive (AWS stores them lowercase)."""
    if key in mapping:
        return mapping[key]
    lowered = key.lower()
    return next((v for k, v in mapping.items() if str(k).lower() == lowered), None)


# ---------------------------------------------------------------------------------------
# Requester-managed network interfaces: AWS places one in the VPC for each DB instance, each
# cache node and each subnet of a DB proxy, with the resource's security groups; they hold
# the subnet and the groups (DeleteSubnet / DeleteSecurityGroup: DependencyViolation) until
# the resource is gone. moto creates none. The owner is kept on moto's ENI object, so moto's
# reset forgets both together.
# ---------------------------------------------------------------------------------------

OWNER = "_localaws_owner"


def _subnet(ec2: Any, subnet_id: str) -> Any:
    try:
        return ec2.get_subnet(subnet_id)
    except Exception:
        return None


def _groups_in_vpc(ec2: Any, group_ids: list[str] | None, vpc_id: str) -> list[str]:
    ids = [g for g in group_ids or [] if g in ec2.groups.get(vpc_id, {})]
    if not ids:
        default = ec2.get_default_security_group(vpc_id)
        ids = [default.id] if default is not None else []
    return ids


def add_enis(
    ctx: Context,
    owner: tuple[str, str],
    subnets: list[Any],
    group_ids: list[str] | None,
    description: str,
) -> None:
    ec2 = ctx.ec2
    for subnet in subnets:
        if subnet is None:
            continue
        eni = ec2.create_network_interface(
            subnet,
            None,
            group_ids=_groups_in_vpc(ec2, group_ids, subnet.vpc_id),
            description=description,
        )
        eni.requester_managed = True
        setattr(eni, OWNER, owner)


def remove_enis(ec2: Any, owner: tuple[str, str]) -> None:
    for eni_id, eni in list(ec2.enis.items()):
        if getattr(eni, OWNER, None) == owner:
            ec2.enis.pop(eni_id, None)


def _pick_subnet(subnets: list[Any], zone: str | None, index: int = 0) -> Any:
    if not subnets:
        return None
    for subnet in subnets:
        if zone and subnet.availability_zone == zone:
            return subnet
    return subnets[index % len(subnets)]


# --- RDS ---------------------------------------------------------------------------------


def _db_subnet_group(ctx: Context, name: str | None) -> Any:
    return _get_ci(ctx.rds.subnet_groups, name) if name else None


def _attr(obj: Any, name: str) -> Any:
    # moto's clustered instances raise NotImplementedError for what only clusters have, and
    # `db_subnet_group_name` is write-only (it keeps `_db_subnet_group_name`).
    try:
        return getattr(obj, name, None)
    except NotImplementedError:
        return None


def _own_subnet_group_name(instance: Any) -> str:
    return str(_attr(instance, "_db_subnet_group_name") or "")


def _instance_subnet_group_name(ctx: Context, instance: Any) -> str | None:
    name = _own_subnet_group_name(instance)
    cluster_id = _attr(instance, "db_cluster_identifier")
    if not name and cluster_id:
        cluster = _get_ci(ctx.rds.clusters, cluster_id)
        name = _attr(cluster, "db_subnet_group_name") if cluster else None
    return name


def db_instance_created(ctx: Context) -> None:
    ident = str(ctx.params.get("DBInstanceIdentifier", ""))
    instance = _get_ci(ctx.rds.databases, ident)
    group = _db_subnet_group(ctx, _instance_subnet_group_name(ctx, instance)) if instance else None
    if group is None:
        return
    subnet = _pick_subnet(list(group._subnets), _attr(instance, "availability_zone"))
    groups = list(_attr(instance, "vpc_security_group_ids") or [])
    add_enis(ctx, ("rds-instance", ident.lower()), [subnet], groups, "RDSNetworkInterface")


def db_instance_deleted(ctx: Context) -> None:
    ident = str(ctx.params.get("DBInstanceIdentifier", "")).lower()
    remove_enis(ctx.ec2, ("rds-instance", ident))


def db_proxy_created(ctx: Context) -> None:
    name = str(ctx.params.get("DBProxyName", ""))
    proxy = ctx.rds.db_proxies.get(name)
    if proxy is None:
        return
    subnets = [_subnet(ctx.ec2, s) for s in proxy.vpc_subnet_ids]
    add_enis(
        ctx,
        ("rds-proxy", name),
        subnets,
        list(proxy.vpc_security_group_ids),
        f"Network interface for DBProxy {name}",
    )


def db_proxy_deleted(ctx: Context) -> None:
    remove_enis(ctx.ec2, ("rds-proxy", str(ctx.params.get("DBProxyName", ""))))


# --- ElastiCache -------------------------------------------------------------------------


def _cache_subnets(ctx: Context, name: str | None) -> list[Any]:
    group = ctx.elasticache.cache_subnet_groups.get(name) if name else None
    if group is None:
        return []
    return [s for s in (_subnet(ctx.ec2, sid) for sid in group.subnet_ids) if s is not None]


def replication_group_created(ctx: Context) -> None:
    rg_id = str(ctx.params.get("ReplicationGroupId", ""))
    rg = ctx.elasticache.replication_groups.get(rg_id)
    subnets = _cache_subnets(ctx, getattr(rg, "cache_subnet_group_name", None)) if rg else []
    if not subnets:
        return
    groups = list(rg.security_group_ids or [])
    index = 0
    for node_group in rg.node_groups:
        for member in node_group["node_group_members"]:
            # The node's Availability Zone (moto: us-east-1a for a primary, us-east-1b for a
            # replica, unless preferred ones are given), else the next subnet of the group.
            subnet = _pick_subnet(subnets, member.get("preferred_availability_zone"), index)
            cluster_id = member["cache_cluster_id"]
            add_enis(ctx, ("cache-node", rg_id), [subnet], groups, f"ElastiCache {cluster_id}")
            index += 1


def cache_cluster_created(ctx: Context) -> None:
    cluster_id = str(ctx.params.get("CacheClusterId", ""))
    cluster = ctx.elasticache.cache_clusters.get(cluster_id)
    subnets = _cache_subnets(ctx, getattr(cluster, "cache_subnet_group_name", None))
    if cluster is None or not subnets:
        return
    nodes = int(getattr(cluster, "num_cache_nodes", 1) or 1)
    for index in range(nodes):
        subnet = _pick_subnet(subnets, cluster.preferred_availability_zone, index)
        add_enis(
            ctx,
            ("cache-cluster", cluster_id),
            [subnet],
            list(cluster.security_group_ids or []),
            f"ElastiCache {cluster_id}",
        )


def cache_cluster_deleted(ctx: Context) -> None:
    remove_enis(ctx.ec2, ("cache-cluster", str(ctx.params.get("CacheClusterId", ""))))


def finish_replication_group_deletion(account: str, region: str, rg_id: str) -> None:
    """AWS removes a replication group (and its nodes' ENIs) when its deletion ends; moto
    leaves it `deleting` forever, holding its subnet group for good."""
    from moto.ec2.models import ec2_backends
    from moto.elasticache.models import elasticache_backends

    backend = elasticache_backends[account][region]
    rg = backend.replication_groups.get(rg_id)
    if rg is not None and rg.status == "deleting":
        backend.replication_groups.pop(rg_id, None)
        try:
            backend.tagging_service.delete_all_tags_for_resource(rg.arn)
        except Exception:
            pass
    remove_enis(ec2_backends[account][region], ("cache-node", rg_id))


# Hooks after a successful call (strict mode), by (service, operation).
AFTER: dict[tuple[str, str], Callable[[Context], None]] = {
    ("rds", "CreateDBInstance"): db_instance_created,
    ("rds", "DeleteDBInstance"): db_instance_deleted,
    ("rds", "CreateDBProxy"): db_proxy_created,
    ("rds", "DeleteDBProxy"): db_proxy_deleted,
    ("elasticache", "CreateReplicationGroup"): replication_group_created,
    ("elasticache", "CreateCacheCluster"): cache_cluster_created,
    ("elasticache", "DeleteCacheCluster"): cache_cluster_deleted,
}


# ---------------------------------------------------------------------------------------
# RDS. Error codes and statuses: botocore's rds model (InvalidDBSubnetGroupStateFault 400,
# DBClusterAlreadyExistsFault 400, DBProxyNotFoundFault 404).
# ---------------------------------------------------------------------------------------


def delete_db_subnet_group(ctx: Context) -> Refusal | None:
    # https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_DeleteDBSubnetGroup.html
    # "The specified database subnet group must not be associated with any DB instances."
    # Text as AWS sends it: "Cannot delete the subnet group 'x' because at least one database
    # instance: db is still using it." (CloudFormation and SDK logs), "... database cluster:
    # ..." for an Aurora cluster. moto deletes the group. A DB proxy names subnets, not a
    # subnet group, so it never holds one.
    name = str(ctx.params.get("DBSubnetGroupName", ""))
    if _db_subnet_group(ctx, name) is None:
        return None
    lowered = name.lower()
    for instance in ctx.rds.databases.values():
        if _own_subnet_group_name(instance).lower() == lowered:
            return Refusal(
                400,
                "InvalidDBSubnetGroupStateFault",
                f"Cannot delete the subnet group '{lowered}' because at least one database "
                f"instance: {instance.db_instance_identifier} is still using it.",
            )
    for cluster in ctx.rds.clusters.values():
        if (getattr(cluster, "db_subnet_group_name", None) or "").lower() == lowered:
            return Refusal(
                400,
                "InvalidDBSubnetGroupStateFault",
                f"Cannot delete the subnet group '{lowered}' because at least one database "
                f"cluster: {cluster.db_cluster_identifier} is still using it.",
            )
    return None


def create_db_subnet_group(ctx: Context) -> Refusal | None:
    # DBSubnetGroupAlreadyExists (400); text as AWS sends it ("The DB subnet group already
    # exists", Terraform logs). moto replaces the group.
    if _db_subnet_group(ctx, str(ctx.params.get("DBSubnetGroupName", ""))) is not None:
        return Refusal(400, "DBSubnetGroupAlreadyExists", "The DB subnet group already exists")
    return None


def create_db_cluster(ctx: Context) -> Refusal | None:
    # DBClusterAlreadyExistsFault (400), "DB Cluster already exists" as AWS sends it (Terraform
    # and Pulumi logs). moto replaces the existing cluster, then fails on its automated snapshot
    # (DBClusterSnapshotAlreadyExistsFault) within the same minute.
    if _get_ci(ctx.rds.clusters, str(ctx.params.get("DBClusterIdentifier", ""))) is not None:
        return Refusal(400, "DBClusterAlreadyExistsFault", "DB Cluster already exists")
    return None


def _final_snapshot(ctx: Context, exists: bool) -> Refusal | None:
    # https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_DeleteDBCluster.html
    # "If SkipFinalSnapshot is disabled, you must specify a value for the
    # FinalDBSnapshotIdentifier parameter", and both together "results in an error". Text as
    # AWS sends it for DeleteDBInstance ("InvalidParameterCombination: FinalDBSnapshotIdentifier
    # is required unless SkipFinalSnapshot is specified.") and for DeleteDBCluster with both
    # ("You cannot specify both FinalDBSnapshotIdentifier and SkipFinalSnapshot",
    # crossplane-contrib/provider-aws#1423). moto accepts both.
    if not exists:
        return None
    skip = _true(ctx.params.get("SkipFinalSnapshot", "false"))
    final = ctx.params.get("FinalDBSnapshotIdentifier")
    if skip and final:
        return Refusal(
            400,
            "InvalidParameterCombination",
            "You cannot specify both FinalDBSnapshotIdentifier and SkipFinalSnapshot",
        )
    if not skip and not final:
        return Refusal(
            400,
            "InvalidParameterCombination",
            "FinalDBSnapshotIdentifier is required unless SkipFinalSnapshot is specified.",
        )
    return None


def delete_db_cluster(ctx: Context) -> Refusal | None:
    cluster = _get_ci(ctx.rds.clusters, str(ctx.params.get("DBClusterIdentifier", "")))
    return _final_snapshot(ctx, cluster is not None)


def delete_db_instance(ctx: Context) -> Refusal | None:
    # An Aurora cluster's instance has no snapshot of its own (the cluster has): only a
    # standalone instance needs SkipFinalSnapshot or FinalDBSnapshotIdentifier.
    instance = _get_ci(ctx.rds.databases, str(ctx.params.get("DBInstanceIdentifier", "")))
    standalone = instance is not None and not _attr(instance, "db_cluster_identifier")
    return _final_snapshot(ctx, standalone)


def delete_db_proxy(ctx: Context) -> Refusal | None:
    # https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_DeleteDBProxy.html
    # DBProxyNotFoundFault (404): what a delete sent again meets. moto answers 500 (KeyError).
    name = str(ctx.params.get("DBProxyName", ""))
    if name not in ctx.rds.db_proxies:
        return Refusal(
            404,
            "DBProxyNotFoundFault",
            f"The specified proxy name {name} doesn't correspond to a proxy owned by your Amazon "
            "Web Services account in the specified Amazon Web Services Region.",
        )
    return None


# ---------------------------------------------------------------------------------------
# ElastiCache
# ---------------------------------------------------------------------------------------


def delete_cache_subnet_group(ctx: Context) -> Refusal | Replayed | None:
    # https://docs.aws.amazon.com/AmazonElastiCache/latest/APIReference/API_DeleteCacheSubnetGroup.html
    # "You cannot delete a default cache subnet group or one that is associated with any
    # clusters." CacheSubnetGroupInUse (400), CacheSubnetGroupNotFoundFault (400). moto has no
    # DeleteCacheSubnetGroup (it answers 500): the local AWS removes the group from moto's
    # backend and answers as AWS does.
    backend = ctx.elasticache
    name = str(ctx.params.get("CacheSubnetGroupName", ""))
    group = backend.cache_subnet_groups.get(name)
    if group is None:
        return Refusal(400, "CacheSubnetGroupNotFoundFault", f"CacheSubnetGroup {name} not found.")
    used = any(
        getattr(rg, "cache_subnet_group_name", None) == name
        for rg in backend.replication_groups.values()
    ) or any(
        getattr(c, "cache_subnet_group_name", None) == name for c in backend.cache_clusters.values()
    )
    if used:
        return Refusal(
            400,
            "CacheSubnetGroupInUse",
            f"Cache subnet group {name} is currently in use by a cache cluster.",
        )
    backend.cache_subnet_groups.pop(name, None)
    try:
        backend.tagging_service.delete_all_tags_for_resource(group.arn)
    except Exception:
        pass
    body = (
        f'<DeleteCacheSubnetGroupResponse xmlns="{ELASTICACHE_XMLNS}"><ResponseMetadata>'
        f"<RequestId>{request_id()}</RequestId></ResponseMetadata>"
        "</DeleteCacheSubnetGroupResponse>"
    )
    return Replayed(body.encode(), "text/xml")


# ---------------------------------------------------------------------------------------
# IAM. DeleteConflict and LimitExceeded are 409 (botocore's iam model).
# ---------------------------------------------------------------------------------------


def delete_policy(ctx: Context) -> Refusal | None:
    # https://docs.aws.amazon.com/IAM/latest/APIReference/API_DeletePolicy.html: "Before you
    # can delete a managed policy, you must first detach the policy from all users, groups, and
    # roles that it is attached to. In addition, you must delete all the policy's versions."
    # Texts as AWS sends them (CloudFormation DELETE_FAILED, SDK logs). moto deletes the policy
    # and leaves its attachments dangling.
    policy = ctx.iam.managed_policies.get(str(ctx.params.get("PolicyArn", "")))
    if policy is None:
        return None
    if policy.attachment_count > 0:
        return Refusal(409, "DeleteConflict", "Cannot delete a policy attached to entities.")
    if len(policy.versions) > 1:
        return Refusal(
            409,
            "DeleteConflict",
            "This policy has more than one version. Before you delete a policy, you must delete "
            "the policy's versions.",
        )
    return None


def delete_user(ctx: Context) -> Refusal | None:
    # https://docs.aws.amazon.com/IAM/latest/APIReference/API_DeleteUser.html: "you must delete
    # the items attached to the user manually": password (login profile), access keys, signing
    # certificates, SSH public keys, MFA devices, inline policies, attached managed policies,
    # group memberships. moto refuses only the two policy cases.
    iam = ctx.iam
    user = iam.users.get(str(ctx.params.get("UserName", "")))
    if user is None:
        return None
    in_group = any(user in group.users for group in iam.groups.values())
    for holds, what in (
        (user.password, "must delete login profile first."),
        (user.access_keys, "must delete access keys first."),
        (user.signing_certificates, "must delete signing certificates first."),
        (user.ssh_public_keys, "must delete SSH public keys first."),
        (user.mfa_devices, "must delete MFA device first."),
        (user.policies, "must delete policies first."),
        (user.managed_policies, "must detach all policies first."),
        (in_group, "must remove users from group first."),
    ):
        if holds:
            return Refusal(409, "DeleteConflict", f"Cannot delete entity, {what}")
    return None


# ---------------------------------------------------------------------------------------
# Secrets Manager (awsJson1.1; InvalidRequestException, InvalidParameterException: 400)
# ---------------------------------------------------------------------------------------


def _secret(ctx: Context, secret_id: str) -> Any:
    backend = ctx.secretsmanager
    if not secret_id or not backend._is_valid_identifier(secret_id):
        return None
    return backend.secrets[secret_id]


def create_secret(ctx: Context) -> Refusal | None:
    # https://docs.aws.amazon.com/secretsmanager/latest/apireference/API_CreateSecret.html
    # InvalidRequestException: "You tried to create a secret with a name that is already
    # scheduled for deletion"; text as AWS sends it. moto answers ResourceExistsException.
    secret = _secret(ctx, str(ctx.params.get("Name", "")))
    if secret is not None and secret.is_deleted():
        return Refusal(
            400,
            "InvalidRequestException",
            "You can't create this secret because a secret with this name is already scheduled "
            "for deletion.",
        )
    return None


def delete_secret(ctx: Context) -> Refusal | None:
    # https://docs.aws.amazon.com/secretsmanager/latest/apireference/API_DeleteSecret.html
    # moto enforces these three, but its messages start with a copy of the CLI's "An error
    # occurred (...) when calling the DeleteSecret operation: " and carry a run of spaces; these
    # are AWS's messages.
    window = ctx.params.get("RecoveryWindowInDays")
    force = bool(ctx.params.get("ForceDeleteWithoutRecovery"))
    if window is not None and not 7 <= int(window) <= 30:
        return Refusal(
            400,
            "InvalidParameterException",
            "The RecoveryWindowInDays value must be between 7 and 30 days (inclusive).",
        )
    if window and force:
        return Refusal(
            400,
            "InvalidParameterException",
            "You can't use ForceDeleteWithoutRecovery in conjunction with RecoveryWindowInDays.",
        )
    secret = _secret(ctx, str(ctx.params.get("SecretId", "")))
    if secret is not None and not force and secret.is_deleted():
        return Refusal(
            400,
            "InvalidRequestException",
            "You tried to perform the operation on a secret that's currently marked deleted.",
        )
    return None


# ---------------------------------------------------------------------------------------
# moto patches (both modes, as the ECR ones)
# ---------------------------------------------------------------------------------------


def elasticache_num_cache_clusters() -> None:
    """CreateReplicationGroup with NumCacheClusters=N (cluster mode disabled) makes a primary
    and N-1 replicas on AWS; moto reads only ReplicasPerNodeGroup and makes one member."""
    from moto.elasticache.models import ReplicationGroup

    original = ReplicationGroup._set_node_members_clusters_disabled

    def members(self: Any, *args: Any, **kw: Any) -> None:
        count = kw.get("num_cache_clusters") or 1
        if not kw.get("replicas_per_node_group") and count > 1:
            kw["replicas_per_node_group"] = count - 1
        original(self, *args, **kw)

    ReplicationGroup._set_node_members_clusters_disabled = members  # type: ignore[method-assign]


def s3_new_bucket_defaults() -> None:
    """Since April 2023 every new bucket has S3 Block Public Access on (all four settings) and,
    since January 2023, default encryption SSE-S3 (AES256, bucket key off)
    (https://docs.aws.amazon.com/AmazonS3/latest/userguide/create-bucket-overview.html,
    https://docs.aws.amazon.com/AmazonS3/latest/userguide/default-encryption-faq.html).
    moto makes buckets with neither: GetPublicAccessBlock answered
    NoSuchPublicAccessBlockConfiguration and GetBucketEncryption
    ServerSideEncryptionConfigurationNotFoundError."""
    from moto.s3.models import PublicAccessBlock, S3Backend

    original = S3Backend.create_bucket

    def create_bucket(self: Any, bucket_name: str, region_name: str, *args: Any, **kw: Any):
        bucket = original(self, bucket_name, region_name, *args, **kw)
        bucket.public_access_block = PublicAccessBlock("true", "true", "true", "true")
        bucket.encryption = {
            "Rule": {
                "ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"},
                "BucketKeyEnabled": "false",
            }
        }
        return bucket

    S3Backend.create_bucket = create_bucket  # type: ignore[method-assign]


def rds_cluster_backups_go_with_it() -> None:
    """https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_DeleteDBCluster.html:
    "When you delete a DB cluster, all automated backups for that DB cluster are deleted".
    moto keeps the automated snapshot (`rds:<id>-<minute>`), so creating the cluster again in
    the same minute (a replacement) failed with DBClusterSnapshotAlreadyExistsFault."""
    from moto.rds.models import RDSBackend

    original = RDSBackend.delete_db_cluster

    def delete_db_cluster(self: Any, cluster_identifier: str, *args: Any, **kw: Any):
        cluster = original(self, cluster_identifier, *args, **kw)
        for snapshot_id, snapshot in list(self.cluster_snapshots.items()):
            if snapshot.snapshot_type == "automated" and (
                snapshot.cluster.db_cluster_identifier == cluster.db_cluster_identifier
            ):
                del self.cluster_snapshots[snapshot_id]
        return cluster

    RDSBackend.delete_db_cluster = delete_db_cluster  # type: ignore[method-assign]


def s3_versioning_answer() -> None:
    """GetBucketVersioning answers a `VersioningConfiguration` root element on AWS, empty when
    the bucket was never versioned
    (https://docs.aws.amazon.com/AmazonS3/latest/API/API_GetBucketVersioning.html: "If the
    versioning state has never been set on a bucket, then no versioning state is returned").
    moto 5.2.5 answers `<GetBucketVersioningResponse>` (with or without a Status), a root
    element the Rust SDK refuses to read (the call fails with an unhandled error)."""
    from moto.s3.responses import S3Response

    def get_bucket_versioning(self: Any) -> Any:
        status = self.backend.get_bucket_versioning(self.bucket_name)
        inner = f"<Status>{status}</Status>" if status else ""
        body = (
            '<?xml version="1.0" encoding="UTF-8"?>\n'
            f'<VersioningConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/">{inner}</VersioningConfiguration>'
        )
        return 200, {"Content-Type": "application/xml"}, body

    S3Response.get_bucket_versioning = get_bucket_versioning  # type: ignore[method-assign]


def patch_moto() -> None:
    elasticache_num_cache_clusters()
    rds_cluster_backups_go_with_it()
    s3_new_bucket_defaults()
    s3_versioning_answer()


RULES.update(
    {
        (r.service, r.operation): r
        for r in [
            Rule("rds", "DeleteDBSubnetGroup", delete_db_subnet_group),
            Rule("rds", "CreateDBSubnetGroup", create_db_subnet_group),
            Rule("rds", "CreateDBCluster", create_db_cluster),
            Rule("rds", "DeleteDBCluster", delete_db_cluster),
            Rule("rds", "DeleteDBInstance", delete_db_instance),
            Rule("rds", "DeleteDBProxy", delete_db_proxy),
            Rule("elasticache", "DeleteCacheSubnetGroup", delete_cache_subnet_group),
            Rule("iam", "DeletePolicy", delete_policy),
            Rule("iam", "DeleteUser", delete_user),
            Rule("secretsmanager", "CreateSecret", create_secret),
            Rule("secretsmanager", "DeleteSecret", delete_secret),
        ]
    }
)
