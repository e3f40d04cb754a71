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


def _parsed(ctx: Context, service: str, operation: str) -> dict[str, Any]:
    """The call's parameters as moto's own parser reads them from the botocore model (lists
    of `member.N`, booleans, integers, structures): the shapes moto stores."""
    from moto.core.parse import QueryParser, XFormedDict
    from moto.core.utils import get_service_model

    model = get_service_model(service).operation_model(operation)
    # RDS reads its parameters into XFormedDicts (its stored proxy `Auth` entries are those).
    map_type = XFormedDict if service == "rds" else dict
    return QueryParser(model, map_type=map_type).parse({"values": ctx.params})


def _answer(service: str, operation: str, result: dict[str, Any]) -> Replayed:
    """An awsQuery answer for an operation moto lacks, rendered by moto's own serializer from
    the botocore model (`<OperationResponse><OperationResult>…`), so it has the shape moto
    gives the same objects elsewhere (DescribeDBProxies, DescribeCacheSubnetGroups)."""
    from moto.core.serialize import SerializationContext, XFormedAttributePicker
    from moto.core.serialize import get_serializer_class
    from moto.core.utils import get_service_model

    model = get_service_model(service).operation_model(operation)
    serializer = get_serializer_class(service, "query")(
        operation_model=model,
        context=SerializationContext(request_id()),
        value_picker=XFormedAttributePicker(),
    )
    out = serializer.serialize(result)
    body = out["body"]
    return Replayed(body.encode() if isinstance(body, str) else body, "text/xml")


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


def _unknown_subnets(ec2: Any, subnet_ids: list[str]) -> Refusal | None:
    # What RDS and ElastiCache answer for subnet ids the region does not have: 400
    # InvalidParameterValue "Some input subnets in :[subnet-…, subnet-…] are invalid." (every id
    # given, as sent), seen from CreateDBSubnetGroup (brianz/serverless-design-patterns#16,
    # aws-samples/aws-cdk-examples#824) and CreateCacheSubnetGroup
    # (openedx-unsupported/configuration#313). The models' InvalidSubnet is for other cases.
    if any(_subnet(ec2, s) is None for s in subnet_ids):
        return Refusal(
            400,
            "InvalidParameterValue",
            f"Some input subnets in :[{', '.join(subnet_ids)}] are invalid.",
        )
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


def _proxy_not_found(name: str) -> Refusal:
    return Refusal(
        404,
        "DBProxyNotFoundFault",
        f"The specified proxy name {name} doesn't correspond to a proxy owned by your Amazon "
        "Web Services account in the specified Amazon Web Services Region.",
    )


def delete_db_proxy(ctx: Context) -> Refusal | None:
    # https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_DeleteDBProxy.html
    # DBProxyNotFoundFault (404): what a delete sent again meets. moto answers 500 (KeyError).
    name = str(ctx.params.get("DBProxyName", ""))
    if name not in ctx.rds.db_proxies:
        return _proxy_not_found(name)
    return None


def modify_db_subnet_group(ctx: Context) -> Refusal | None:
    # https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_ModifyDBSubnetGroup.html
    # The refusals; the change itself is moto's, with `rds_modify_db_subnet_group_keeps_it`
    # (moto 5.2.5 popped the group from its store and answered with it).
    # - unknown group: DBSubnetGroupNotFoundFault (404), moto's text (its DescribeDBSubnetGroups);
    # - no subnets: InvalidSubnet "Subnet IDs are required." (AWS's text for CreateDBSubnetGroup,
    #   terraform-aws-modules/terraform-aws-rds#327);
    # - unknown subnets: InvalidParameterValue (`_unknown_subnets`);
    # - subnets of two VPCs: InvalidSubnet, moto's text (its CreateDBProxy; the model's words);
    # - subnets of another VPC than the group's: InvalidParameterValue "The new Subnets are not in
    #   the same Vpc as the existing subnet group" (AWS's text,
    #   aws-samples/aws-apprunner-terraform#9);
    # - one Availability Zone: DBSubnetGroupDoesNotCoverEnoughAZs, AWS's text
    #   (terraform-aws-modules/terraform-aws-vpc#821).
    name = str(ctx.params.get("DBSubnetGroupName", ""))
    group = _db_subnet_group(ctx, name)
    if group is None:
        return Refusal(404, "DBSubnetGroupNotFoundFault", f"Subnet Group {name} not found.")
    subnet_ids = [str(s) for s in _parsed(ctx, "rds", "ModifyDBSubnetGroup").get("SubnetIds") or []]
    if not subnet_ids:
        return Refusal(400, "InvalidSubnet", "Subnet IDs are required.")
    unknown = _unknown_subnets(ctx.ec2, subnet_ids)
    if unknown is not None:
        return unknown
    subnets = [_subnet(ctx.ec2, s) for s in subnet_ids]
    for subnet in subnets[1:]:
        if subnet.vpc_id != subnets[0].vpc_id:
            return Refusal(
                400,
                "InvalidSubnet",
                f"The requested subnet {subnet.id} is invalid, or multiple subnets were requested "
                "that are not all in a common VPC.",
            )
    if group._subnets and subnets[0].vpc_id != group._subnets[0].vpc_id:
        return Refusal(
            400,
            "InvalidParameterValue",
            "The new Subnets are not in the same Vpc as the existing subnet group",
        )
    zones = sorted({s.availability_zone for s in subnets})
    if len(zones) < 2:
        return Refusal(
            400,
            "DBSubnetGroupDoesNotCoverEnoughAZs",
            "The DB subnet group doesn't meet Availability Zone (AZ) coverage requirement. "
            f"Current AZ coverage: {', '.join(zones)}. Add subnets to cover at least 2 AZs.",
        )
    return None


def modify_db_proxy(ctx: Context) -> Refusal | Replayed | None:
    # https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_ModifyDBProxy.html
    # moto 5.2.5 has no ModifyDBProxy (500): the local AWS changes moto's proxy object and
    # answers with it through moto's serializer (the DBProxy shape of DescribeDBProxies). Auth
    # and SecurityGroups replace the lists; the proxy's network interfaces take the new groups.
    # Unknown proxy: DBProxyNotFoundFault (404), as DeleteDBProxy; NewDBProxyName in use:
    # DBProxyAlreadyExistsFault (400, the model's code; the text is ours, after moto's create).
    rds = ctx.rds
    name = str(ctx.params.get("DBProxyName", ""))
    proxy = rds.db_proxies.get(name)
    if proxy is None:
        return _proxy_not_found(name)
    params = _parsed(ctx, "rds", "ModifyDBProxy")
    new_name = params.get("NewDBProxyName")
    if new_name and new_name != name and new_name in rds.db_proxies:
        return Refusal(
            400,
            "DBProxyAlreadyExistsFault",
            f"Cannot modify the DBProxy because a DBProxy with the identifier {new_name} "
            "already exists.",
        )
    if "Auth" in params:
        proxy.auth = list(params["Auth"])
    if "DefaultAuthScheme" in params:
        proxy.default_auth_scheme = params["DefaultAuthScheme"]
    if "RequireTLS" in params:
        proxy.require_tls = bool(params["RequireTLS"])
    if "IdleClientTimeout" in params:
        # Clamped to 1..28800 seconds, as moto's CreateDBProxy does.
        proxy.idle_client_timeout = min(max(int(params["IdleClientTimeout"]), 1), 28800)
    if "DebugLogging" in params:
        proxy.debug_logging = bool(params["DebugLogging"])
    if "RoleArn" in params:
        proxy.role_arn = params["RoleArn"]
    ec2 = ctx.ec2
    owned = [e for e in ec2.enis.values() if getattr(e, OWNER, None) == ("rds-proxy", name)]
    if "SecurityGroups" in params:
        # None given: the VPC's default group, as CreateDBProxy.
        groups = [str(g) for g in params["SecurityGroups"] or []]
        proxy.vpc_security_group_ids = groups or _groups_in_vpc(ec2, [], proxy.vpc_id)
        for eni in owned:
            ec2.modify_network_interface_attribute(
                eni.id, _groups_in_vpc(ec2, proxy.vpc_security_group_ids, eni.subnet.vpc_id)
            )
    if new_name and new_name != name:
        rds.db_proxies.pop(name)
        proxy.db_proxy_name = new_name
        rds.db_proxies[new_name] = proxy
        for target_group in proxy.proxy_target_groups.values():
            target_group.db_proxy_name = new_name
        for eni in owned:
            setattr(eni, OWNER, ("rds-proxy", new_name))
            eni.description = f"Network interface for DBProxy {new_name}"
    from moto.core.utils import utcnow

    proxy.updated_date = utcnow()
    return _answer("rds", "ModifyDBProxy", {"DBProxy": proxy})


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


def modify_cache_subnet_group(ctx: Context) -> Refusal | Replayed:
    # https://docs.aws.amazon.com/AmazonElastiCache/latest/APIReference/API_ModifyCacheSubnetGroup.html
    # Changes the description and/or the subnets (SubnetIds, when given, replace them). moto has
    # no ModifyCacheSubnetGroup (it answers 500): the local AWS makes the group again in moto's
    # backend with the same name, ARN and tags, and answers with it through moto's serializer
    # (ModifyCacheSubnetGroupResult/CacheSubnetGroup). Unknown group:
    # CacheSubnetGroupNotFoundFault (400 in the model), moto's text, as DeleteCacheSubnetGroup;
    # unknown subnets: InvalidParameterValue (`_unknown_subnets`); subnets of two VPCs:
    # InvalidSubnet "Subnets subnet-… and subnet-… are not in the same VPC." (AWS's answer to
    # CreateCacheSubnetGroup, floci-io/floci#2401, checked against AWS there).
    from moto.elasticache.models import CacheSubnetGroup

    backend = ctx.elasticache
    name = str(ctx.params.get("CacheSubnetGroupName", ""))
    group = backend.cache_subnet_groups.get(name)
    if group is None:
        return Refusal(400, "CacheSubnetGroupNotFoundFault", f"CacheSubnetGroup {name} not found.")
    params = _parsed(ctx, "elasticache", "ModifyCacheSubnetGroup")
    subnet_ids = [str(s) for s in params.get("SubnetIds") or []]
    if subnet_ids:
        unknown = _unknown_subnets(ctx.ec2, subnet_ids)
        if unknown is not None:
            return unknown
        subnets = [_subnet(ctx.ec2, s) for s in subnet_ids]
        for subnet in subnets[1:]:
            if subnet.vpc_id != subnets[0].vpc_id:
                return Refusal(
                    400,
                    "InvalidSubnet",
                    f"Subnets {subnets[0].id} and {subnet.id} are not in the same VPC.",
                )
    else:
        subnet_ids = list(group.subnet_ids)
    description = params.get("CacheSubnetGroupDescription")
    if description is None:
        description = group.cache_subnet_group_description
    changed = CacheSubnetGroup(
        account_id=ctx.account,
        region_name=ctx.region,
        cache_subnet_group_name=name,
        cache_subnet_group_description=description,
        subnet_ids=subnet_ids,
        tags=group.tags,
    )
    backend.cache_subnet_groups[name] = changed
    return _answer("elasticache", "ModifyCacheSubnetGroup", {"CacheSubnetGroup": changed})


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


def rds_modify_db_subnet_group_keeps_it() -> None:
    """moto 5.2.5's `modify_db_subnet_group` takes the group out of its store
    (`self.subnet_groups.pop(name)`, meant as a lookup) and never puts it back: ModifyDBSubnetGroup
    answered with the changed group, which DescribeDBSubnetGroups no longer listed (and an
    unknown name was a 500, the pop's KeyError). The group is changed where it is, so its name,
    ARN and tags stay; its VPC follows its subnets; names match without regard to case, as AWS
    keeps them lower-case."""
    from moto.rds.exceptions import DBSubnetGroupNotFoundError
    from moto.rds.models import RDSBackend

    def modify_db_subnet_group(
        self: Any, subnet_name: str, description: str | None, subnets: list[Any]
    ) -> Any:
        group = _get_ci(self.subnet_groups, subnet_name)
        if group is None:
            raise DBSubnetGroupNotFoundError(subnet_name)
        group.subnets = subnets
        if subnets:
            group.vpc_id = subnets[0].vpc_id
        if description is not None:
            group.description = description
        return group

    RDSBackend.modify_db_subnet_group = modify_db_subnet_group  # type: ignore[method-assign]


def elasticache_subnet_zones() -> None:
    """moto keeps a cache subnet group's subnet zone as a string where the model has a
    structure, so its answers carried an empty `<SubnetAvailabilityZone/>`; AWS sends
    `<SubnetAvailabilityZone><Name>us-east-1a</Name></SubnetAvailabilityZone>`."""
    from moto.elasticache.models import CacheSubnetGroup

    original = CacheSubnetGroup.__init__

    def init(self: Any, *args: Any, **kw: Any) -> None:
        original(self, *args, **kw)
        for subnet in self.subnets:
            zone = subnet.get("subnet_availability_zone")
            if isinstance(zone, str):
                subnet["subnet_availability_zone"] = {"Name": zone}

    CacheSubnetGroup.__init__ = init  # type: ignore[method-assign]


def patch_moto() -> None:
    elasticache_num_cache_clusters()
    elasticache_subnet_zones()
    rds_cluster_backups_go_with_it()
    rds_modify_db_subnet_group_keeps_it()
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
            Rule("rds", "ModifyDBSubnetGroup", modify_db_subnet_group),
            Rule("rds", "ModifyDBProxy", modify_db_proxy),
            Rule("elasticache", "DeleteCacheSubnetGroup", delete_cache_subnet_group),
            Rule("elasticache", "ModifyCacheSubnetGroup", modify_cache_subnet_group),
            Rule("iam", "DeletePolicy", delete_policy),
            Rule("iam", "DeleteUser", delete_user),
            Rule("secretsmanager", "CreateSecret", create_secret),
            Rule("secretsmanager", "DeleteSecret", delete_secret),
        ]
    }
)
